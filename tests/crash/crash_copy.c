/*
 * crash_copy.c - scenario 9: copies of a journal taken while a writer
 * appends.  mdb_copy and mdb_copy -c must give a copy that audits clean,
 * holds every record acknowledged before the copy started, and is a
 * prefix of the final journal.  A raw copy of data.mdb (the negative
 * control) may be damaged; what its audit says must be true: a copy that
 * audits clean must be an exact prefix, anything else must be reported.
 */
#include "crash.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

enum { K_MDB, K_MDBC, K_RAW };

typedef struct copy_rec {
    int kind;
    int backwards;
    char dir[4096];
    char ack[4200]; /* the ack log as it was when the copy started */
    cr_snap snap;
} copy_rec;

/* A file-level copy while the file changes: 16 KiB at a time with a
 * pause between reads (a busy `cp`), front to back or back to front. */
static int slow_copy(const char *from, const char *to, int backwards)
{
    int in = open(from, O_RDONLY | O_CLOEXEC);
    int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    off_t size = cr_file_size(from);
    int rc = in < 0 || out < 0 || size < 0 ? -1 : 0;
    char buf[16384];
    off_t chunks = (size + (off_t)sizeof(buf) - 1) / (off_t)sizeof(buf);
    for (off_t i = 0; rc == 0 && i < chunks; i++) {
        off_t at = (backwards ? chunks - 1 - i : i) * (off_t)sizeof(buf);
        ssize_t r = pread(in, buf, sizeof(buf), at);
        if (r < 0 || (r > 0 && pwrite(out, buf, (size_t)r, at) != r)) {
            rc = -1;
        }
        usleep(300);
    }
    if (in >= 0) {
        close(in);
    }
    if (out >= 0 && close(out) != 0) {
        rc = -1;
    }
    return rc;
}

static int take_copy(cr_ctx *c, int kind, const char *src, copy_rec *r)
{
    char from[4200], to[4200];
    cr_mkdir_fresh(c, "copy", r->dir, sizeof(r->dir));
    if (kind == K_RAW) {
        snprintf(from, sizeof(from), "%s/data.mdb", src);
        snprintf(to, sizeof(to), "%s/data.mdb", r->dir);
        return slow_copy(from, to, r->backwards);
    }
    cr_argv argv;
    cr_argv_init(&argv);
    cr_argv_add(&argv, "/usr/bin/mdb_copy");
    if (kind == K_MDBC) {
        cr_argv_add(&argv, "-c");
    }
    cr_argv_add(&argv, "%s", src);
    cr_argv_add(&argv, "%s", r->dir);
    int st = cr_spawn(argv.v, NULL, 60.0, 0);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* Is every run of @p copy an exact prefix of the same run in @p fin? */
static int is_prefix(const cr_snap *copy, const cr_snap *fin, char *why,
                     size_t len)
{
    for (size_t i = 0; i < copy->n_runs; i++) {
        const cr_snap_run *a = &copy->runs[i];
        const cr_snap_run *b = cr_snap_find(fin, a->id);
        if (b == NULL || b->n < a->n) {
            snprintf(why, len, "run %s: %llu records, the journal has %llu",
                     a->id, (unsigned long long)a->n,
                     (unsigned long long)(b ? b->n : 0));
            return 0;
        }
        for (uint64_t k = 0; k < a->n; k++) {
            if (memcmp(a->hash[k], b->hash[k], CAIRN_HASH_BYTES) != 0) {
                snprintf(why, len, "run %s: seq %llu differs", a->id,
                         (unsigned long long)k);
                return 0;
            }
        }
    }
    return 1;
}

static void prefix_of_file(const char *from, const char *to, off_t n)
{
    size_t len = 0;
    char *text = cr_slurp(from, &len);
    FILE *f = fopen(to, "w");
    if (text != NULL && f != NULL) {
        fwrite(text, 1, n >= 0 && (size_t)n < len ? (size_t)n : len, f);
    }
    if (f != NULL) {
        fclose(f);
    }
    free(text);
}

/* `cairn verify --all` on a damaged copy must not say VERIFIED nor die
 * (it verifies in a child process): exit 3, 4 or 6. */
static unsigned cli_verdict(cr_ctx *c, const copy_rec *r)
{
    if (!c->cli_verify) {
        return 0;
    }
    cr_argv argv;
    cr_cli_verify_argv(c, r->dir, &argv);
    int st = cr_spawn(argv.v, NULL, 60.0, CR_STD_NULL);
    int code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    if (code == 3 || code == 4 || code == 6) {
        return 0;
    }
    char text[64];
    cr_status_text(st, text, sizeof(text));
    cr_violation(c,
                 "cairn verify --all on the damaged copy %s: %s (want "
                 "exit 3, 4 or 6); the audit found: %s",
                 r->dir, text, r->snap.why);
    return 1;
}

/* detected[0]: LMDB crashed the audit, [1]: did not open, [2]: opened
 * but a check failed. */
static unsigned judge_copy(cr_ctx *c, copy_rec *r, const cr_snap *fin,
                           unsigned detected[3])
{
    static const char *const names[] = {"mdb_copy", "mdb_copy -c", "cp"};
    char why[512], where[128];
    snprintf(where, sizeof(where), "%s into %s", names[r->kind], r->dir);
    if (r->kind == K_RAW && !r->snap.ok) {
        detected[r->snap.crashed ? 0 : !r->snap.opened ? 1 : 2]++;
        if (getenv("CRASH_VERBOSE") != NULL) {
            cr_note(c, "raw copy damage: %s", r->snap.why);
        }
        return cli_verdict(c, r);
    }
    if (!r->snap.ok) {
        cr_violation(c, "%s: the copy does not audit: %s", where, r->snap.why);
        return 1;
    }
    if (!is_prefix(&r->snap, fin, why, sizeof(why))) {
        cr_violation(c, "%s: %s, yet it audits clean: %s", where,
                     r->kind == K_RAW ? "silently wrong copy" : "not a prefix",
                     why);
        return 1;
    }
    if (r->kind == K_RAW) {
        return 0; /* a raw copy may be an older snapshot */
    }
    cr_log log;
    cr_log_load(r->ack, &log);
    log.skip_i3 = 1; /* the log was cut when the copy began */
    unsigned v = cr_check_acks(c, &r->snap, &log, where);
    cr_log_free(&log);
    return v;
}

#define PER_BATCH 20

/* One live journal, PER_BATCH copies of it, then the verdicts.  The
 * copies' audits are kept until the writer stops, to compare with the
 * final journal; the copies themselves are removed as soon as judged. */
static void batch(cr_ctx *c, uint64_t *rng, unsigned detected[3], unsigned *raw)
{
    char dir[4096], ack[4200];
    copy_rec *recs = calloc(PER_BATCH, sizeof(*recs));
    unsigned bad = 0;
    cr_mkdir_fresh(c, "live", dir, sizeof(dir));
    snprintf(ack, sizeof(ack), "%s.ack", dir);
    fflush(stdout);
    pid_t w = fork();
    if (w == 0) {
        cr_writer_loop(c, dir, ack, cr_rand(rng), 0);
    }
    /* Copy only once the writer's open returned ("A - 0 -" in its log; the
     * "I - 0" before it is written before the open), so the journal
     * exists: a fixed head start (it was 100 ms) is not enough on a loaded
     * machine, where mdb_copy then found no data.mdb.  Bounded at 120 s. */
    int opened = 0;
    for (unsigned t = 0; !opened && t < 12000; t++) {
        size_t len = 0;
        char *log = cr_slurp(ack, &len);
        opened = log != NULL && strstr(log, "A - 0 -\n") != NULL;
        free(log);
        if (!opened) {
            usleep(10000);
        }
    }
    if (!opened) {
        cr_violation(c, "the writer did not open the journal within 120 s");
        bad++;
    }
    for (unsigned i = 0; recs != NULL && i < PER_BATCH; i++) {
        copy_rec *r = &recs[i];
        r->kind = i % 4 == 0 ? K_MDB : i % 4 == 1 ? K_MDBC : K_RAW;
        *raw += r->kind == K_RAW;
        r->backwards = i % 4 == 3;
        snprintf(r->ack, sizeof(r->ack), "%s.copy-ack-%u", dir, i);
        prefix_of_file(ack, r->ack, cr_file_size(ack));
        if (take_copy(c, r->kind, dir, r) != 0) {
            cr_violation(c, "copy %u (kind %d) failed", i, r->kind);
            bad++;
        }
        cr_audit(c, r->dir, 0, NULL, &r->snap);
        usleep((useconds_t)(5000 + cr_below(rng, 20000)));
    }
    kill(w, SIGKILL);
    waitpid(w, NULL, 0);
    cr_snap fin;
    bad += cr_audit_log(c, dir, ack, "the live journal");
    cr_audit(c, dir, 0, NULL, &fin);
    for (unsigned i = 0; recs != NULL && i < PER_BATCH; i++) {
        unsigned v = judge_copy(c, &recs[i], &fin, detected);
        bad += v;
        cr_cleanup_dir(c, recs[i].dir, v > 0);
        cr_snap_free(&recs[i].snap);
        c->cur->iterations++;
    }
    cr_snap_free(&fin);
    free(recs);
    cr_cleanup_dir(c, dir, bad > 0);
}

void cr_scen_copy(cr_ctx *c)
{
    uint64_t batches = cr_scaled(c, 2, 2);
    unsigned detected[3] = {0, 0, 0}, raw = 0;
    uint64_t rng = c->seed ^ 0x636f7079u;
    for (uint64_t b = 0; b < batches; b++) {
        batch(c, &rng, detected, &raw);
    }
    snprintf(c->cur->note, sizeof(c->cur->note),
             "%llu mdb_copy(-c) copies: clean prefixes; raw cp: %u of %u "
             "damaged, all detected (%u LMDB crash, %u unopenable, %u by "
             "the audit), the rest exact prefixes",
             (unsigned long long)(c->cur->iterations - raw),
             detected[0] + detected[1] + detected[2], raw, detected[0],
             detected[1], detected[2]);
}
