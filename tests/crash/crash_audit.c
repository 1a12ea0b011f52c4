/*
 * crash_audit.c - the audit of section 5.1 (I2, I4, I5 here; I1 and I3
 * against the ack log in crash_check.c), run in a forked child so that an
 * LMDB abort() on a damaged file is a verdict, never a crash of the suite.
 *
 * The child writes its findings to a pipe as text:
 *   S <ok> <opened> <open seconds>
 *   W <why>
 *   H <size> <root>     the signed head (format 2; size 0: none)
 *   R <run id> <n>      followed by n lines "<64 hex> <position>" (leaf
 *                       hash and position of each record)
 */
#include "crash.h"

#include <errno.h>
#include <sodium.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct audit {
    cr_ctx *c;
    cairn_journal *j;
    unsigned flags;
    char *const *verify;
    int ok;
    char why[768];
    FILE *out; /* memory stream of R blocks */
    uint64_t runs;            /* runs listed */
    uint64_t n, cap;          /* every record: position and leaf hash */
    uint64_t *pos;
    uint8_t (*hash)[CAIRN_HASH_BYTES];
} audit;

static void fail(audit *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void fail(audit *a, const char *fmt, ...)
{
    if (!a->ok) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->why, sizeof(a->why), fmt, ap);
    va_end(ap);
    a->ok = 0;
}

typedef struct walk {
    audit *a;
    const char *run;
    uint64_t n;
    uint8_t (*hash)[CAIRN_HASH_BYTES];
    uint64_t *pos;
    size_t cap;
    int bad;
} walk;

static int walk_fn(void *ctx, const cairn_record_view *v)
{
    walk *w = ctx;
    if (v->seq != w->n) {
        fail(w->a, "run %s: record seq %llu where %llu was due", w->run,
             (unsigned long long)v->seq, (unsigned long long)w->n);
        w->bad = 1;
        return 1;
    }
    if (w->n > 0 && memcmp(v->prev, w->hash[w->n - 1], CAIRN_HASH_BYTES) != 0) {
        fail(w->a, "run %s: seq %llu: prev is not the hash of seq %llu", w->run,
             (unsigned long long)v->seq, (unsigned long long)(w->n - 1));
        w->bad = 1;
        return 1;
    }
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 64;
        void *nh = realloc(w->hash, cap * CAIRN_HASH_BYTES);
        if (nh != NULL) {
            w->hash = nh;
        }
        void *np = realloc(w->pos, cap * sizeof(*w->pos));
        if (np != NULL) {
            w->pos = np;
        }
        if (nh == NULL || np == NULL) {
            w->bad = 1;
            return 1;
        }
        w->cap = cap;
    }
    w->pos[w->n] = v->position;
    memcpy(w->hash[w->n++], v->hash, CAIRN_HASH_BYTES);
    return 0;
}

/* Keep the run's records for the head check (every record of the
 * journal, by position). */
static void keep_leaves(audit *a, const walk *w)
{
    if (a->n + w->n > a->cap) {
        uint64_t cap = (a->n + w->n) * 2;
        void *np = realloc(a->pos, cap * sizeof(*a->pos));
        if (np != NULL) {
            a->pos = np;
        }
        void *nh = realloc(a->hash, cap * CAIRN_HASH_BYTES);
        if (nh != NULL) {
            a->hash = nh;
        }
        if (np == NULL || nh == NULL) {
            fail(a, "out of memory keeping the leaves");
            return;
        }
        a->cap = cap;
    }
    memcpy(a->pos + a->n, w->pos, w->n * sizeof(*a->pos));
    memcpy(a->hash[a->n], w->hash, w->n * CAIRN_HASH_BYTES);
    a->n += w->n;
}

static int wants_verify(const audit *a, const char *run)
{
    if ((a->flags & CR_AUDIT_QUICK) == 0) {
        return 1;
    }
    for (size_t i = 0; a->verify != NULL && a->verify[i] != NULL; i++) {
        if (strcmp(a->verify[i], run) == 0) {
            return 1;
        }
    }
    return 0;
}

static void check_signed(audit *a, const char *run)
{
    cairn_verify_report rep;
    cairn_err err = cairn_verify_run(a->j, run, a->c->pk, &rep);
    if (err != CAIRN_OK) {
        fail(a, "run %s: cairn_verify_run: %s: %s", run, cairn_errname(err),
             cairn_journal_errdetail(a->j));
    } else if (rep.verdict != CAIRN_VERDICT_VERIFIED) {
        fail(a, "run %s: verdict %s at seq %llu (%s): %s", run,
             cairn_verdict_name(rep.verdict), (unsigned long long)rep.bad_seq,
             rep.bad_field, rep.reason);
    } else if (rep.head_sealed != rep.checkpoints || rep.signatures_ok != 0 ||
               !rep.journal_head.signature_ok) {
        /* format 2: the signed head is every checkpoint's signature
         * (docs/FORMAT.md section 25), and it verified */
        fail(a,
             "run %s: %llu checkpoints, %llu sealed by the head, %llu "
             "signed on their own, head signature %s",
             run, (unsigned long long)rep.checkpoints,
             (unsigned long long)rep.head_sealed,
             (unsigned long long)rep.signatures_ok,
             rep.journal_head.signature_ok ? "verified" : "not verified");
    }
}

static void check_summary(audit *a, const char *run, const walk *w)
{
    cairn_summary *s = NULL;
    cairn_err err = cairn_status(a->j, run, &s);
    if (err != CAIRN_OK) {
        fail(a, "run %s: cairn_status: %s: %s", run, cairn_errname(err),
             cairn_journal_errdetail(a->j));
        return;
    }
    if (s->records != w->n) {
        fail(a, "run %s: summary says %llu records, the chain has %llu", run,
             (unsigned long long)s->records, (unsigned long long)w->n);
    } else if (w->n > 0 &&
               memcmp(s->head, w->hash[w->n - 1], CAIRN_HASH_BYTES) != 0) {
        fail(a, "run %s: summary head is not the last record's hash", run);
    }
    cairn_summary_free(s);
}

static int run_fn(void *ctx, const char *run)
{
    audit *a = ctx;
    walk w = {a, run, 0, NULL, NULL, 0, 0};
    a->runs++;
    cairn_err err = cairn_record_each(a->j, run, 0, walk_fn, &w);
    if (err != CAIRN_OK) {
        fail(a, "run %s: cairn_record_each: %s: %s", run, cairn_errname(err),
             cairn_journal_errdetail(a->j));
    }
    if (err == CAIRN_OK && !w.bad) {
        check_summary(a, run, &w);
        err = cairn_replay_check(a->j, run);
        if (err != CAIRN_OK) {
            fail(a, "run %s: cairn_replay_check: %s: %s", run,
                 cairn_errname(err), cairn_journal_errdetail(a->j));
        }
        if (wants_verify(a, run)) {
            check_signed(a, run);
        }
        keep_leaves(a, &w);
    }
    fprintf(a->out, "R %s %llu\n", run, (unsigned long long)w.n);
    for (uint64_t i = 0; i < w.n; i++) {
        for (size_t k = 0; k < CAIRN_HASH_BYTES; k++) {
            fprintf(a->out, "%02x", w.hash[i][k]);
        }
        fprintf(a->out, " %llu\n", (unsigned long long)w.pos[i]);
    }
    free(w.hash);
    free(w.pos);
    return 0;
}

typedef struct all_ctx {
    audit *a;
    uint64_t runs;
} all_ctx;

static int all_fn(void *ctx, const cairn_verify_report *rep)
{
    all_ctx *x = ctx;
    x->runs++;
    if (rep->verdict != CAIRN_VERDICT_VERIFIED) {
        fail(x->a, "cairn_verify_all: run %s: %s at seq %llu (%s): %s",
             rep->run_id, cairn_verdict_name(rep->verdict),
             (unsigned long long)rep->bad_seq, rep->bad_field, rep->reason);
    }
    return 0;
}

/* What `cairn verify --all --key` runs: every run and the directory
 * (the head's signature under the pinned key included). */
static void check_all(audit *a)
{
    cairn_verify_report dir;
    all_ctx x = {a, 0};
    cairn_err err = cairn_verify_all(a->j, a->c->pk, 1, all_fn, &x, &dir);
    if (err != CAIRN_OK) {
        fail(a, "cairn_verify_all: %s: %s", cairn_errname(err),
             cairn_journal_errdetail(a->j));
    } else if (dir.verdict != CAIRN_VERDICT_VERIFIED) {
        fail(a, "cairn_verify_all: directory: %s (%s): %s",
             cairn_verdict_name(dir.verdict), dir.bad_field, dir.reason);
    } else if (x.runs != a->runs) {
        fail(a, "cairn_verify_all: %llu runs reported, %llu listed",
             (unsigned long long)x.runs, (unsigned long long)a->runs);
    }
}

static void audit_body(audit *a, const char *dir, double *open_s, int *opened,
                       uint64_t *head_size, uint8_t *head_root)
{
    char detail[512] = "";
    double t0 = cr_now();
    cairn_err err = cairn_journal_open(dir, CAIRN_OPEN_READONLY, &a->j, detail,
                                       sizeof(detail));
    *open_s = cr_now() - t0;
    if (err != CAIRN_OK) {
        fail(a, "cairn_journal_open: %s: %s", cairn_errname(err), detail);
        return;
    }
    *opened = 1;
    err = cairn_run_each(a->j, run_fn, a);
    if (err != CAIRN_OK) {
        fail(a, "cairn_run_each: %s: %s", cairn_errname(err),
             cairn_journal_errdetail(a->j));
    }
    cairn_verify_report rep;
    err = cairn_verify_directory(a->j, &rep);
    if (err != CAIRN_OK) {
        fail(a, "cairn_verify_directory: %s", cairn_errname(err));
    } else if (rep.verdict != CAIRN_VERDICT_VERIFIED) {
        fail(a, "cairn_verify_directory: %s: %s",
             cairn_verdict_name(rep.verdict), rep.reason);
    }
    char why[768] = "";
    if (a->ok && cr_head_audit(a->j, a->c->pk, a->pos,
                               (const uint8_t(*)[CAIRN_HASH_BYTES])a->hash,
                               a->n, a->runs, head_size, head_root, why,
                               sizeof(why)) != 0) {
        fail(a, "%s", why);
    }
    if (a->ok && (a->flags & CR_AUDIT_QUICK) == 0) {
        check_all(a);
    }
    cairn_journal_checkpoint cp;
    uint64_t head_runs = 0;
    uint8_t state_root[CAIRN_HASH_BYTES];
    crypto_hash_sha256(state_root, (const unsigned char *)"", 0);
    if (a->ok && *head_size > 0) {
        err = cairn_journal_checkpoint_get(a->j, a->c->pk, &cp, detail,
                                           sizeof(detail));
        if (err != CAIRN_OK) {
            fail(a, "head: cairn_journal_checkpoint_get: %s: %s",
                 cairn_errname(err), detail);
        }
        head_runs = cp.runs;
        memcpy(state_root, cp.state_root, CAIRN_HASH_BYTES);
    }
    cairn_journal_close(a->j);
    /* The per-operation layout from the raw databases (crash_rows.c),
     * after the handle is closed: one LMDB environment per process. */
    if (a->ok &&
        cr_rows_audit(dir, head_runs, state_root, why, sizeof(why)) != 0) {
        fail(a, "%s", why);
    }
}

static void audit_child(cr_ctx *c, const char *dir, unsigned flags,
                        char *const *verify, int fd)
{
    audit a = {c, NULL, flags, verify, 1, "", NULL, 0, 0, 0, NULL, NULL};
    char *runs = NULL;
    size_t runs_len = 0;
    double open_s = 0;
    int opened = 0;
    uint64_t head_size = 0;
    uint8_t head_root[CAIRN_HASH_BYTES] = {0};
    a.out = open_memstream(&runs, &runs_len);
    if (a.out == NULL) {
        _exit(3);
    }
    audit_body(&a, dir, &open_s, &opened, &head_size, head_root);
    fclose(a.out);
    free(a.pos);
    free(a.hash);
    FILE *f = fdopen(fd, "w");
    if (f == NULL) {
        _exit(3);
    }
    for (char *p = a.why; *p != '\0'; p++) {
        *p = *p == '\n' ? ' ' : *p;
    }
    fprintf(f, "S %d %d %.6f\nW %s\nH %llu ", a.ok, opened, open_s, a.why,
            (unsigned long long)head_size);
    for (size_t k = 0; k < CAIRN_HASH_BYTES; k++) {
        fprintf(f, "%02x", head_root[k]);
    }
    fputc('\n', f);
    fwrite(runs, 1, runs_len, f);
    free(runs);
    _exit(fclose(f) == 0 ? 0 : 3);
}

static char *read_all(int fd, size_t *len)
{
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap + 1);
    for (;;) {
        if (buf == NULL) {
            return NULL;
        }
        if (n == cap) {
            cap *= 2;
            char *nb = realloc(buf, cap + 1);
            if (nb == NULL) {
                free(buf);
                return NULL;
            }
            buf = nb;
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            break;
        }
        n += (size_t)r;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

static int unhex(const char *s, uint8_t *out)
{
    for (size_t i = 0; i < CAIRN_HASH_BYTES; i++) {
        unsigned v;
        if (sscanf(s + 2 * i, "%2x", &v) != 1) {
            return -1;
        }
        out[i] = (uint8_t)v;
    }
    return 0;
}

static int parse_run(cr_snap *s, char **save, const char *line)
{
    char id[CAIRN_MAX_ID + 1];
    unsigned long long n;
    if (sscanf(line, "R %128s %llu", id, &n) != 2 || n > (1u << 26)) {
        return -1;
    }
    cr_snap_run *runs = realloc(s->runs, (s->n_runs + 1) * sizeof(*runs));
    if (runs == NULL) {
        return -1;
    }
    s->runs = runs;
    cr_snap_run *r = &runs[s->n_runs++];
    memset(r, 0, sizeof(*r));
    snprintf(r->id, sizeof(r->id), "%s", id);
    r->hash = calloc(n > 0 ? n : 1, CAIRN_HASH_BYTES);
    r->pos = calloc(n > 0 ? n : 1, sizeof(*r->pos));
    if (r->hash == NULL || r->pos == NULL) {
        return -1;
    }
    for (uint64_t i = 0; i < n; i++) {
        char *h = strtok_r(NULL, "\n", save);
        unsigned long long p;
        if (h == NULL || unhex(h, r->hash[i]) != 0 ||
            sscanf(h + 2 * CAIRN_HASH_BYTES, " %llu", &p) != 1) {
            return -1;
        }
        r->pos[i] = p;
    }
    r->n = n;
    return 0;
}

static void parse_snap(char *text, cr_snap *s)
{
    char *save = NULL;
    int ok = 0, opened = 0;
    char *line = strtok_r(text, "\n", &save);
    if (line == NULL ||
        sscanf(line, "S %d %d %lf", &ok, &opened, &s->open_s) != 3) {
        snprintf(s->why, sizeof(s->why), "audit child sent no result");
        return;
    }
    s->opened = opened;
    line = strtok_r(NULL, "\n", &save);
    if (line != NULL && strncmp(line, "W ", 2) == 0) {
        snprintf(s->why, sizeof(s->why), "%s", line + 2);
        line = strtok_r(NULL, "\n", &save);
    }
    unsigned long long hs = 0;
    char root[80];
    if (line != NULL && sscanf(line, "H %llu %79s", &hs, root) == 2 &&
        unhex(root, s->head_root) == 0) {
        s->head_size = hs;
        line = strtok_r(NULL, "\n", &save);
    }
    for (; line != NULL; line = strtok_r(NULL, "\n", &save)) {
        if (parse_run(s, &save, line) != 0) {
            snprintf(s->why, sizeof(s->why), "audit result garbled");
            return;
        }
    }
    s->ok = ok;
}

int cr_audit(cr_ctx *c, const char *dir, unsigned flags, char *const *verify,
             cr_snap *out)
{
    int p[2];
    char path[4200];
    struct stat sb;
    memset(out, 0, sizeof(*out));
    snprintf(path, sizeof(path), "%s/data.mdb", dir);
    out->absent = stat(path, &sb) != 0 && errno == ENOENT;
    fflush(stdout);
    fflush(stderr);
    if (pipe(p) != 0) {
        snprintf(out->why, sizeof(out->why), "pipe: %s", strerror(errno));
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(out->why, sizeof(out->why), "fork: %s", strerror(errno));
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (pid == 0) {
        close(p[0]);
        audit_child(c, dir, flags, verify, p[1]);
    }
    close(p[1]);
    size_t len = 0;
    char *text = read_all(p[0], &len);
    close(p[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFSIGNALED(status) || !WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
        text == NULL) {
        char st[64];
        cr_status_text(status, st, sizeof(st));
        out->crashed = WIFSIGNALED(status);
        snprintf(out->why, sizeof(out->why), "audit child ended: %s", st);
        free(text);
        return 0;
    }
    parse_snap(text, out);
    free(text);
    return 0;
}

void cr_snap_free(cr_snap *snap)
{
    for (size_t i = 0; i < snap->n_runs; i++) {
        free(snap->runs[i].hash);
        free(snap->runs[i].pos);
    }
    free(snap->runs);
    memset(snap, 0, sizeof(*snap));
}

const cr_snap_run *cr_snap_find(const cr_snap *snap, const char *id)
{
    for (size_t i = 0; i < snap->n_runs; i++) {
        if (strcmp(snap->runs[i].id, id) == 0) {
            return &snap->runs[i];
        }
    }
    return NULL;
}
