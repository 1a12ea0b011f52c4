/*
 * runner_orphan.c - what a command printed after its runner died.  Its
 * stdout and stderr are files in the runner's private tmp/ whose names
 * the runner keeps in the command-lifetime lock's note; when the run is
 * taken again (the command tree is gone by then) the note names them,
 * and when the in-doubt operation is settled their sizes and tails go
 * into the decision's evidence; then they are removed.
 */
#include "runner/runner.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Copy "key=<value>\n" of @p text into @p out (a bare file name). */
static void note_field(const char *text, const char *key, char *out, size_t cap)
{
    const char *p = strstr(text, key);
    cairn__clear(out, cap);
    if (p == NULL) {
        return;
    }
    p += strlen(key);
    size_t n = strcspn(p, "\n");
    if (n == 0 || n >= cap || memchr(p, '/', n) != NULL) {
        return;
    }
    memcpy(out, p, n);
    out[n] = '\0';
}

int cairn__runner_orphan_parse(const char *text, uint32_t *seq,
                               uint32_t *attempt, char *out_name,
                               char *err_name)
{
    const char *op = strstr(text, "\nop=");
    const char *at = strstr(text, "\nattempt=");
    *seq = *attempt = 0;
    out_name[0] = err_name[0] = '\0';
    if (op == NULL || at == NULL) {
        return 0;
    }
    *seq = (uint32_t)strtoul(op + 4, NULL, 10);
    *attempt = (uint32_t)strtoul(at + 9, NULL, 10);
    note_field(text, "\nstdout_file=", out_name, CAIRN__ORPHAN_NAME_MAX);
    note_field(text, "\nstderr_file=", err_name, CAIRN__ORPHAN_NAME_MAX);
    return out_name[0] != '\0';
}

void cairn__runner_orphan_read(cairn_runner *r)
{
    char *text = NULL;
    size_t len = 0;
    r->orphan = 0;
    r->orphan_name[0][0] = r->orphan_name[1][0] = '\0';
    if (cairn__read_file(r->cmd_lock, 4096, &text, &len, NULL, 0) != CAIRN_OK) {
        return;
    }
    r->orphan =
        cairn__runner_orphan_parse(text, &r->orphan_seq, &r->orphan_attempt,
                                   r->orphan_name[0], r->orphan_name[1]);
    free(text);
}

/* Size and last RUNNER_TAIL_MAX bytes of tmp/@p name (NUL bytes shown as
 * '?'); -1 when it cannot be read as a regular file of ours. */
static int tail_of(const cairn_runner *r, const char *name, uint64_t *size,
                   char *tail, size_t cap)
{
    int fd =
        openat(r->tmp_fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    if (fd < 0) {
        return -1;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
        close(fd);
        return -1;
    }
    *size = (uint64_t)st.st_size;
    size_t want = *size < cap - 1 ? (size_t)*size : cap - 1;
    ssize_t n = pread(fd, tail, want, (off_t)(*size - want));
    close(fd);
    if (n < 0) {
        return -1;
    }
    for (ssize_t i = 0; i < n; i++) {
        if (tail[i] == '\0') {
            tail[i] = '?';
        }
    }
    tail[n] = '\0';
    return 0;
}

cairn_err cairn__runner_orphan_evidence(cairn_runner *r, uint32_t seq,
                                        uint32_t attempt, cairn_kvlist *ev)
{
    static const char *const streams[2] = {"stdout", "stderr"};
    if (!r->orphan || r->orphan_seq != seq || r->orphan_attempt != attempt) {
        return CAIRN_OK;
    }
    cairn_err err = CAIRN_OK;
    for (int i = 0; i < 2 && err == CAIRN_OK; i++) {
        char tail[RUNNER_TAIL_MAX + 1], key[48];
        uint64_t size = 0;
        if (tail_of(r, r->orphan_name[i], &size, tail, sizeof(tail)) != 0) {
            continue;
        }
        cairn__fmt(key, sizeof(key), "orphan_%s_bytes", streams[i]);
        err = cairn__kv_addf(ev, key, "%llu", (unsigned long long)size);
        cairn__fmt(key, sizeof(key), "orphan_%s_tail", streams[i]);
        if (err == CAIRN_OK) {
            err = cairn__kv_addf(ev, key, "%s", tail);
        }
    }
    return err;
}

void cairn__runner_orphan_done(cairn_runner *r)
{
    if (r->orphan) {
        cairn__runner_tmp_unlink(r, r->orphan_name[0]);
        cairn__runner_tmp_unlink(r, r->orphan_name[1]);
    }
    r->orphan = 0;
    r->orphan_name[0][0] = r->orphan_name[1][0] = '\0';
}
