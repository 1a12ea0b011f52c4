/*
 * crash_plog.c - scenario 3's write log (format in shim.c): recording and
 * loading it, the images built from it, and the check of a crash state
 * that holds no published journal (crash_pl.h).
 */
#include "crash_pl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Every record of the raw log into log->e (unfiltered). */
static int parse_raw(pl_log *log, size_t len)
{
    size_t cap = 0;
    for (size_t p = 0; p + 16 <= len;) {
        uint32_t n;
        uint64_t off;
        memcpy(&n, log->raw + p + 4, 4);
        memcpy(&off, log->raw + p + 8, 8);
        if (n > len - p - 16) {
            return PL_UNREADABLE;
        }
        if (log->n == cap) {
            cap = cap ? cap * 2 : 1024;
            pl_entry *ne = realloc(log->e, cap * sizeof(*ne));
            if (ne == NULL) {
                return PL_UNREADABLE;
            }
            log->e = ne;
        }
        log->e[log->n++] = (pl_entry){(char)log->raw[p], log->raw[p + 1], off,
                                      n, log->raw + p + 16};
        p += 16 + n;
    }
    return 0;
}

/* Whether entry @p e stays in the replayed log of file @p fno. */
static int keep(const pl_entry *e, unsigned fno, int control, int before_pub)
{
    switch (e->type) {
    case 'W':
    case 'D':
        return e->fno == fno;
    case 'B':
        /* A library that linked before it fsynced: no barrier counts
         * before the publication. */
        return e->fno == fno &&
               !(control == CR_PL_LINK_BEFORE_SYNC && before_pub);
    case 'S':
        return control != CR_PL_DIR_UNSYNCED; /* no directory fsync */
    case 'A':
    case 'P':
        return 1;
    default:
        return 0;
    }
}

/* Keep the published file's entries; find the publication and the
 * directory fsync after it. */
static void filter(pl_log *log, unsigned fno, int control)
{
    size_t out = 0;
    int before_pub = 1;
    log->pub = -1;
    for (size_t i = 0; i < log->n; i++) {
        pl_entry e = log->e[i];
        if (!keep(&e, fno, control, before_pub)) {
            continue;
        }
        if (e.type == 'P') {
            log->n_pub++;
            if (!before_pub) {
                continue;
            }
            before_pub = 0;
            log->pub = (long)out;
        }
        log->e[out++] = e;
    }
    log->n = out;
    log->dirsync = log->n;
    for (size_t i = (size_t)log->pub + 1; i < log->n; i++) {
        if (log->e[i].type == 'S') {
            log->dirsync = i;
            break;
        }
    }
    if (control == CR_PL_LINK_BEFORE_SYNC) {
        log->pub = -1;    /* as if the file had been created in place, */
        log->dirsync = 0; /* its entry durable from the start */
    }
}

int pl_load(const char *path, int control, pl_log *log)
{
    size_t len = 0;
    memset(log, 0, sizeof(*log));
    log->raw = (uint8_t *)cr_slurp(path, &len);
    if (log->raw == NULL || parse_raw(log, len) != 0) {
        return PL_UNREADABLE;
    }
    const pl_entry *p = NULL;
    for (size_t i = 0; i < log->n && p == NULL; i++) {
        p = log->e[i].type == 'P' ? &log->e[i] : NULL;
    }
    if (p == NULL) {
        return PL_UNPUBLISHED;
    }
    snprintf(log->from, sizeof(log->from), "%.*s",
             (int)(p->len < sizeof(log->from) ? p->len : 0),
             (const char *)p->data);
    filter(log, p->fno, control);
    log->last_barrier = malloc((log->n + 1) * sizeof(long));
    if (log->last_barrier == NULL) {
        return PL_UNREADABLE;
    }
    long b = -1;
    for (size_t c = 0; c <= log->n; c++) {
        log->last_barrier[c] = b;
        if (c < log->n && log->e[c].type == 'B') {
            b = (long)c;
        }
    }
    return 0;
}

void pl_free(pl_log *log)
{
    free(log->raw);
    free(log->e);
    free(log->last_barrier);
    memset(log, 0, sizeof(*log));
}

int pl_img_apply(pl_image *img, uint64_t off, const uint8_t *data, size_t len)
{
    size_t end = (size_t)off + len;
    if (end > img->cap) {
        size_t cap = img->cap ? img->cap : 65536;
        while (cap < end) {
            cap *= 2;
        }
        uint8_t *nb = realloc(img->buf, cap);
        if (nb == NULL) {
            return -1;
        }
        memset(nb + img->cap, 0, cap - img->cap);
        img->buf = nb;
        img->cap = cap;
    }
    memcpy(img->buf + off, data, len);
    img->size = end > img->size ? end : img->size;
    return 0;
}

int pl_img_copy(pl_image *dst, const pl_image *src)
{
    size_t old = dst->size;
    dst->size = 0;
    if (src->size > 0 && pl_img_apply(dst, 0, src->buf, src->size) != 0) {
        return -1;
    }
    dst->size = src->size;
    if (old > src->size) {
        memset(dst->buf + src->size, 0, old - src->size);
    }
    return 0;
}

int pl_img_write(const pl_image *img, const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        return -1;
    }
    int rc = img->size > 0 ? cr_write_all(fd, img->buf, img->size) : 0;
    return close(fd) == 0 ? rc : -1;
}

int pl_place_leftover(const char *dir, const char *from, const pl_image *img)
{
    char path[4700];
    if (from[0] == '\0' || from[0] == '/' || strstr(from, "..") != NULL ||
        snprintf(path, sizeof(path), "%s/%s", dir, from) >= (int)sizeof(path)) {
        return 0; /* not inside DIR: nothing of it is in the directory */
    }
    for (char *p = path + strlen(dir) + 1; (p = strchr(p, '/')) != NULL; p++) {
        *p = '\0';
        int rc = mkdir(path, 0700);
        *p = '/';
        if (rc != 0 && errno != EEXIST) {
            return -1;
        }
    }
    return pl_img_write(img, path);
}

/* In a child: cairn_journal_open(CAIRN_OPEN_CREATE); the error and its
 * detail into @p why; the cairn_err, or -1 when the child died. */
static int create_child(const char *dir, char *why, size_t len)
{
    int p[2];
    if (pipe(p) != 0) {
        snprintf(why, len, "pipe: %s", strerror(errno));
        return -1;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        cairn_journal *j = NULL;
        char detail[512] = "";
        close(p[0]);
        cairn_err err = cairn_journal_open(dir, CAIRN_OPEN_CREATE, &j, detail,
                                           sizeof(detail));
        cairn_journal_close(j);
        dprintf(p[1], "%d %s", (int)err, detail);
        _exit(0);
    }
    close(p[1]);
    char buf[640] = "";
    ssize_t r = read(p[0], buf, sizeof(buf) - 1);
    close(p[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    buf[r > 0 ? r : 0] = '\0';
    int err = -1;
    int used = 0;
    if (r <= 0 || sscanf(buf, "%d %n", &err, &used) != 1) {
        char text[64];
        cr_status_text(st, text, sizeof(text));
        snprintf(why, len, "the opening process died (%s)", text);
        return -1;
    }
    snprintf(why, len, "%s: %s", cairn_errname((cairn_err)err), buf + used);
    return err;
}

void pl_fresh_create(cr_ctx *c, const char *dir, const char *from,
                     const pl_image *img, int leftover, cr_snap *out)
{
    char why[640];
    memset(out, 0, sizeof(*out));
    cr_rmtree(dir);
    if (mkdir(dir, 0755) != 0 || (leftover && from[0] != '\0' &&
                                  pl_place_leftover(dir, from, img) != 0)) {
        snprintf(out->why, sizeof(out->why), "cannot prepare %s: %s", dir,
                 strerror(errno));
        return;
    }
    if (create_child(dir, why, sizeof(why)) != CAIRN_OK) {
        snprintf(out->why, sizeof(out->why),
                 "CAIRN_OPEN_CREATE on a directory with no journal%s: %s",
                 leftover ? " (and the unpublished file left over)" : "", why);
        return;
    }
    cr_audit(c, dir, 0, NULL, out);
    if (out->ok && out->n_runs > 0) {
        out->ok = 0;
        snprintf(out->why, sizeof(out->why),
                 "the journal created anew is not empty: it holds run %s",
                 out->runs[0].id);
    }
}

int pl_record(cr_ctx *c, uint64_t seed, char *dir, size_t dlen, char *wlog,
              size_t wlen)
{
    char ack[4200];
    cr_argv env;
    cr_mkdir_fresh(c, "power", dir, dlen);
    snprintf(ack, sizeof(ack), "%s.ack", dir);
    snprintf(wlog, wlen, "%s.wlog", dir);
    cr_argv_init(&env);
    cr_argv_add(&env, "LD_PRELOAD=%s", c->shim);
    cr_argv_add(&env, "CRASH_SHIM_DIR=%s", dir);
    cr_argv_add(&env, "CRASH_SHIM_MODE=log");
    cr_argv_add(&env, "CRASH_SHIM_LOG=%s", wlog);
    cr_argv_add(&env, "CRASH_SHIM_ACK=%s", ack);
    int status = cr_run_workload(c, "sweep", dir, ack, seed, 30, env.v, NULL);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        cr_violation(c, "seed %llu: the logged workload failed (0x%x)",
                     (unsigned long long)seed, (unsigned)status);
        return -1;
    }
    /* The journal as the workload left it must pass too. */
    cr_snap snap;
    cr_log log;
    cr_audit(c, dir, 0, NULL, &snap);
    cr_log_load(ack, &log);
    unsigned v = cr_check_acks(c, &snap, &log, "logged workload");
    cr_snap_free(&snap);
    cr_log_free(&log);
    return v == 0 ? 0 : -1;
}
