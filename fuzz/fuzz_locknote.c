/*
 * fuzz_locknote.c - libFuzzer target for the run lock's holder note
 * (locks/run-N.lock, written by lib/base/lock.c), which lives in a journal
 * directory that may be hostile.
 * Target: cairn__holder_note_parse (lib/journal/holder.c) on a NUL-
 * terminated copy of the input (exactly size + 1 bytes, so a read past
 * the NUL is a sanitizer report), and cairn__run_lock_describe
 * (lib/base/lock.c) on the input escaped as cairn__lock_text does.
 * Invariants: an accepted note is one line starting "pid=" and ending
 * "\n", with pid 1..INT32_MAX and a host of printable ASCII without spaces
 * of at most CAIRN_MAX_HOST bytes; written back in the writer's format it
 * parses to the same fields.  The description is NUL-terminated within
 * its buffer, for every buffer size.
 */
#include "base/jdir.h"
#include "base/sys.h"
#include "journal/journal.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_note(const char *text, const cairn__holder_note *n)
{
    size_t len = strlen(text);
    size_t hlen = strlen(n->host);
    if (n->pid == 0 || n->pid > INT32_MAX || strncmp(text, "pid=", 4) != 0 ||
        len == 0 || text[len - 1] != '\n' || hlen > CAIRN_MAX_HOST) {
        abort();
    }
    for (size_t i = 0; i < hlen; i++) {
        if (n->host[i] <= ' ' || n->host[i] >= 0x7f) {
            abort();
        }
    }
    char boot_hex[2 * CAIRN_BOOT_ID_BYTES + 1], again[600];
    cairn__hex(n->boot, sizeof(n->boot), boot_hex);
    int w = snprintf(again, sizeof(again),
                     "pid=%u start=%llu boot=%s host=%s since_ns=%llu\n",
                     n->pid, (unsigned long long)n->start, boot_hex, n->host,
                     (unsigned long long)n->since);
    cairn__holder_note m;
    if (w <= 0 || (size_t)w >= sizeof(again) ||
        cairn__holder_note_parse(again, &m) != 0 || m.pid != n->pid ||
        m.start != n->start || m.since != n->since ||
        memcmp(m.boot, n->boot, sizeof(m.boot)) != 0 ||
        strcmp(m.host, n->host) != 0) {
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
    cairn__holder_note n;
    if (cairn__holder_note_parse(text, &n) == 0) {
        check_note(text, &n);
    }

    /* As cairn__lock_text() shows it: newlines as spaces, escaped. */
    for (size_t i = 0; i < size; i++) {
        text[i] = text[i] == '\n' ? ' ' : text[i];
    }
    char escaped[1024], out[600];
    cairn__escape_text(text, size, escaped, sizeof(escaped));
    size_t cap = size > 0 ? 1 + data[0] % sizeof(out) : sizeof(out);
    memset(out, 'x', sizeof(out));
    cairn__run_lock_describe(escaped, out, cap);
    if (memchr(out, '\0', cap) == NULL) {
        abort();
    }
    free(text);
    return 0;
}
