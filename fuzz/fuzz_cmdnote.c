/*
 * fuzz_cmdnote.c - libFuzzer target for the note of a command-lifetime
 * lock (locks/run-N.cmd, written by lib/runner/runner_lock.c), which a
 * resumed run reads to find what an orphaned command printed.
 * Target: cairn__runner_orphan_parse (lib/runner/runner_orphan.c) on a
 * NUL-terminated copy of the input (exactly size + 1 bytes).
 * Invariants: each name is NUL-terminated within CAIRN__ORPHAN_NAME_MAX,
 * holds no '/' and no newline (a bare name in the runner's tmp/: the
 * runner opens and unlinks it there); an orphan is reported only with a
 * stdout name, and only when the note has "\nop=" and "\nattempt=";
 * without them seq and attempt are 0 and the names empty.
 */
#include "runner/runner.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_name(const char *name)
{
    const char *end = memchr(name, '\0', CAIRN__ORPHAN_NAME_MAX);
    if (end == NULL || strchr(name, '/') != NULL ||
        strchr(name, '\n') != NULL) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (text == NULL) {
        return 0;
    }
    if (size > 0) {
        memcpy(text, data, size);
    }
    text[size] = '\0';
    uint32_t seq = 1, attempt = 1;
    char names[2][CAIRN__ORPHAN_NAME_MAX];
    memset(names, 'x', sizeof(names));
    int orphan =
        cairn__runner_orphan_parse(text, &seq, &attempt, names[0], names[1]);
    check_name(names[0]);
    check_name(names[1]);
    int fields =
        strstr(text, "\nop=") != NULL && strstr(text, "\nattempt=") != NULL;
    if ((orphan != 0 && orphan != 1) || (orphan && names[0][0] == '\0') ||
        (orphan && !fields) ||
        (!fields && (seq != 0 || attempt != 0 || names[0][0] != '\0' ||
                     names[1][0] != '\0'))) {
        abort();
    }
    free(text);
    return 0;
}
