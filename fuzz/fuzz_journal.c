/*
 * fuzz_journal.c - stateful libFuzzer target for the journal.
 * Target: the transitions of include/cairn.h (cairn_claim normal,
 * containment and cleanup, cairn_receipt_record, cairn_retry,
 * cairn_resolve, cairn_accept_preflight, cairn_cancel) and reopening, on a
 * fresh journal directory per input, checked against the reference model
 * of tests/model.c.
 * Input: byte 0 picks one of four plans; then each step is one opcode byte
 * and up to five parameter bytes (missing bytes read as 0), at most
 * MAX_STEPS steps.  The journal lives in /dev/shm when it is writable
 * (fast fsync), with a 1 MiB map (cairn_journal_opts.map_size).  Known
 * deviations of the library from docs/DESIGN.md (tests/model.h, M_COMPAT_*)
 * are probed once and mirrored by the model, so a fix needs no change here.
 * Invariants, after every step (abort() on violation): the call returned
 * exactly the model's cairn_err; a rejected call wrote nothing (record
 * count and head unchanged); cairn_status() equals the model;
 * cairn_replay_check() == CAIRN_OK (materialised state equals replay).
 */
#include "cairn.h"

/* The replay build compiles this file alone (with fuzz/replay.c). */
#include "../tests/model.c"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_STEPS 160

typedef struct plan_op {
    const char *id;
    cairn_kind kind;
    const char *target;
    unsigned requires;
} plan_op;

/* 1: artifact, 2: digest, 4: size (m_keys). */
static const plan_op plan0[] = {
    {"check-space", CAIRN_KIND_PREFLIGHT, NULL, 0},
    {"check-auth", CAIRN_KIND_PREFLIGHT, NULL, 1},
    {"stop-db", CAIRN_KIND_STOP, "db", 0},
    {"snap-db", CAIRN_KIND_SNAPSHOT, "db", 3},
    {"start-db", CAIRN_KIND_START, "db", 0},
    {"transfer", CAIRN_KIND_TRANSFER, NULL, 4},
    {"tidy", CAIRN_KIND_CLEANUP, NULL, 0},
};
static const plan_op plan1[] = {
    {"stop-a", CAIRN_KIND_STOP, "db", 0},
    {"start-a", CAIRN_KIND_START, "db", 0},
    {"stop-b", CAIRN_KIND_STOP, "db", 0},
    {"start-b", CAIRN_KIND_START, "db", 0},
    {"work", CAIRN_KIND_TASK, NULL, 2},
    {"tidy", CAIRN_KIND_CLEANUP, NULL, 0},
};
static const plan_op plan2[] = {
    {"check", CAIRN_KIND_PREFLIGHT, NULL, 0},
    {"stop-web", CAIRN_KIND_STOP, "web", 0},
    {"stop-db", CAIRN_KIND_STOP, "db", 0},
    {"tidy-early", CAIRN_KIND_CLEANUP, NULL, 0},
    {"dump", CAIRN_KIND_SNAPSHOT, "db", 5},
    {"start-db", CAIRN_KIND_START, "db", 0},
    {"start-web", CAIRN_KIND_START, "web", 0},
    {"verify", CAIRN_KIND_VERIFY, "db", 0},
    {"tidy", CAIRN_KIND_CLEANUP, NULL, 0},
};
static const plan_op plan3[] = {
    {"only-check", CAIRN_KIND_PREFLIGHT, NULL, 0},
    {"restore", CAIRN_KIND_RESTORE, NULL, 7},
};

static const struct {
    const plan_op *ops;
    size_t n;
} plans[] = {{plan0, sizeof(plan0) / sizeof(plan0[0])},
             {plan1, sizeof(plan1) / sizeof(plan1[0])},
             {plan2, sizeof(plan2) / sizeof(plan2[0])},
             {plan3, sizeof(plan3) / sizeof(plan3[0])}};

typedef struct fz {
    const uint8_t *data;
    size_t size, pos;
    char dir[256];
    cairn_journal *j;
    m_run m;
    uint32_t pid;
} fz;

static uint8_t byte(fz *f)
{
    return f->pos < f->size ? f->data[f->pos++] : 0;
}

static void die(const fz *f, const char *what, cairn_err got, cairn_err want)
{
    fprintf(stderr, "fuzz_journal: %s: got %s, expected %s (%s)\n", what,
            cairn_errname(got), cairn_errname(want),
            f->j ? cairn_journal_errdetail(f->j) : "");
    abort();
}

static void expect(const fz *f, const char *what, cairn_err got, cairn_err want)
{
#ifdef FUZZ_JOURNAL_TRACE /* -DFUZZ_JOURNAL_TRACE: print every step */
    fprintf(stderr, "%s -> %s\n", what, cairn_errname(got));
#endif
    if (got != want) {
        die(f, what, got, want);
    }
}

static cairn_summary *status(fz *f)
{
    cairn_summary *s = NULL;
    char why[256];
    expect(f, "status", cairn_status(f->j, f->m.run_id, &s), CAIRN_OK);
    expect(f, "replay", cairn_replay_check(f->j, f->m.run_id), CAIRN_OK);
    if (m_compare(&f->m, s, why, sizeof(why)) != 0) {
        fprintf(stderr, "fuzz_journal: summary differs: %s\n", why);
        abort();
    }
    return s;
}

static int rm_entry(const char *path, const struct stat *st, int type,
                    struct FTW *ftw)
{
    (void)st;
    (void)type;
    (void)ftw;
    return remove(path);
}

/* Every journal of this target has a 1 MiB map (growth is exercised). */
static cairn_err open_small(const char *dir, unsigned flags, cairn_journal **j)
{
    cairn_journal_opts o = CAIRN_JOURNAL_OPTS_INIT;
    o.flags = flags;
    o.map_size = 1u << 20;
    return cairn_journal_open_opts(dir, &o, j, NULL, 0);
}

static void make_dir(char *dir, size_t cap)
{
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(dir, cap, "%s/cairn-fuzz-XXXXXX", base);
    if (mkdtemp(dir) == NULL) {
        abort();
    }
}

/* Which known deviations (tests/model.h) the library still shows: probed
 * once, so that the model mirrors them until they are fixed. */
static unsigned compat_bits(void)
{
    static int done;
    static unsigned bits;
    if (!done) {
        char dir[256];
        cairn_journal *j = NULL;
        make_dir(dir, sizeof(dir));
        if (open_small(dir, CAIRN_OPEN_CREATE, &j) != CAIRN_OK) {
            abort();
        }
        bits = m_detect_compat(j);
        cairn_journal_close(j);
        nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
        done = 1;
    }
    return bits;
}

/* ---- steps --------------------------------------------------------------- */

static void do_claim(fz *f, cairn_claim_kind kind, int pick)
{
    uint8_t a = byte(f), b = byte(f);
    int64_t op = pick && (a & 1) ? -1 : (int64_t)(a >> 1) % (f->m.n_ops + 1);
    int dead = b & 1;
    cairn_holder h = {f->pid, 1}; /* this pid, another start: gone */
    uint32_t seq;
    cairn_err want = m_claim(&f->m, op, kind, dead, f->pid, &seq);
    cairn_claim_result r;
    cairn_err got =
        cairn_claim(f->j, f->m.run_id, op, kind, dead ? &h : NULL, NULL, &r);
    expect(f, "claim", got, want);
    if (got == CAIRN_OK &&
        (r.seq != seq || r.attempt != f->m.ops[seq].attempt ||
         strcmp(r.id, f->m.ops[seq].id) != 0)) {
        die(f, "claim result", got, want);
    }
}

static void gen_receipt(fz *f, cairn_outcome outcome, m_receipt *r)
{
    uint8_t a = byte(f), b = byte(f), c = byte(f), d = byte(f);
    memset(r, 0, sizeof(*r));
    r->seq = (uint32_t)(a & 0x7f) % (f->m.n_ops + 1);
    for (uint32_t i = 0; (a & 0x80) && i < f->m.n_ops; i++) {
        if (f->m.ops[i].state == CAIRN_OP_PENDING) {
            r->seq = i; /* the first pending op */
            break;
        }
    }
    uint32_t cur = r->seq < f->m.n_ops ? f->m.ops[r->seq].attempt : 0;
    r->attempt = (b & 3) == 0 ? 0 : (b & 3) == 1 ? cur : cur + (b >> 2) % 3;
    r->op_id = (c & 7) < 5 ? 0 : (c & 7) < 7 ? 1 : 2;
    r->outcome = (c & 0xf8) == 0xf8 ? (cairn_outcome)3 : outcome;
    r->error_class = (cairn_error_class)(d % 3);
    r->has_reason = (d & 4) == 0;
    r->outputs = (d >> 3) & 0xf;
    r->bad_kv = (d >> 7) & (b >> 7);
}

static void do_outcome(fz *f, cairn_outcome outcome, int resolve)
{
    m_receipt mr;
    gen_receipt(f, outcome, &mr);
    cairn_kv out[M_N_KEYS + 1];
    size_t n = 0;
    for (unsigned k = 0; k < M_N_KEYS; k++) {
        if (mr.outputs & (1u << k)) {
            out[n++] = (cairn_kv){m_keys[k], "v"};
        }
    }
    if (mr.bad_kv) {
        out[n++] = (cairn_kv){"bad", NULL};
    }
    const char *id = mr.op_id == 2 ? "other" : NULL;
    if (mr.op_id == 1) {
        id = mr.seq < f->m.n_ops ? f->m.ops[mr.seq].id : "x";
    }
    cairn_receipt r = {.seq = mr.seq,
                       .attempt = mr.attempt,
                       .op_id = id,
                       .outcome = mr.outcome,
                       .error_class = mr.error_class,
                       .reason = mr.has_reason ? "r" : NULL,
                       .outputs = out,
                       .n_outputs = n};
    cairn_err want = m_outcome(&f->m, &mr, resolve);
    cairn_err got = resolve ? cairn_resolve(f->j, f->m.run_id, &r, NULL)
                            : cairn_receipt_record(f->j, f->m.run_id, &r, NULL);
    expect(f, resolve ? "resolve" : "receipt", got, want);
}

static void do_retry(fz *f)
{
    uint8_t a = byte(f);
    uint32_t op = (uint32_t)(a >> 1) % (f->m.n_ops + 1);
    cairn_actor_info who = {"fuzz", (a & 1) ? "" : "again"};
    cairn_err want = m_retry(&f->m, op, !(a & 1));
    expect(f, "retry", cairn_retry(f->j, f->m.run_id, op, &who), want);
}

static void do_accept(fz *f)
{
    const char *id = byte(f) & 1 ? "pf-B" : "pf-A";
    cairn_err want = m_accept(&f->m, id);
    expect(f, "accept", cairn_accept_preflight(f->j, f->m.run_id, id, NULL),
           want);
}

static void do_cancel(fz *f)
{
    int timed_out = byte(f) & 1;
    cairn_err want = m_cancel(&f->m, timed_out);
    expect(f, "cancel", cairn_cancel(f->j, f->m.run_id, timed_out, NULL), want);
}

static void open_journal(fz *f, unsigned flags)
{
    if (open_small(f->dir, flags, &f->j) != CAIRN_OK) {
        abort();
    }
}

/* Close and reopen; read-only first when asked: it reads the same and
 * refuses to write. */
static void do_reopen(fz *f)
{
    int ro = byte(f) & 1;
    cairn_journal_close(f->j);
    f->j = NULL;
    if (ro) {
        open_journal(f, CAIRN_OPEN_READONLY);
        cairn_summary_free(status(f));
        expect(f, "read-only cancel", cairn_cancel(f->j, f->m.run_id, 0, NULL),
               CAIRN_EINVAL);
        cairn_journal_close(f->j);
    }
    open_journal(f, 0);
}

static void step(fz *f, uint8_t code)
{
    switch (code % 13) {
    case 0:
        do_claim(f, CAIRN_CLAIM_NORMAL, 1);
        break;
    case 1:
        do_claim(f, CAIRN_CLAIM_NORMAL, 0);
        break;
    case 2:
        do_claim(f, CAIRN_CLAIM_CONTAINMENT, 1);
        break;
    case 3:
        do_claim(f, CAIRN_CLAIM_CLEANUP, 1);
        break;
    case 4:
        do_outcome(f, CAIRN_OUTCOME_COMPLETED, 0);
        break;
    case 5:
        do_outcome(f, CAIRN_OUTCOME_FAILED, 0);
        break;
    case 6:
        do_outcome(f, CAIRN_OUTCOME_SKIPPED, 0);
        break;
    case 7:
        do_retry(f);
        break;
    case 8:
        do_outcome(f, (cairn_outcome)(4 + byte(f) % 3), 1);
        break;
    case 9:
        do_accept(f);
        break;
    case 10:
        do_cancel(f);
        break;
    case 11:
        do_reopen(f);
        break;
    default:
        expect(f, "unknown run", cairn_cancel(f->j, "nope", 0, NULL),
               CAIRN_ENORUN);
        break;
    }
}

/* ---- one input ----------------------------------------------------------- */

static void create_run(fz *f, uint8_t which)
{
    char json[4096], run[CAIRN_MAX_ID + 1];
    size_t idx = which % (sizeof(plans) / sizeof(plans[0]));
    m_init(&f->m, "fz-run", "fz");
    f->m.compat = compat_bits();
    for (size_t i = 0; i < plans[idx].n; i++) {
        const plan_op *op = &plans[idx].ops[i];
        m_add_op(&f->m, op->id, op->kind, op->target, op->requires);
    }
    cairn_plan *plan = NULL;
    if (m_plan_json(&f->m, json, sizeof(json)) != 0 ||
        cairn_plan_parse(json, strlen(json), &plan, NULL, 0) != CAIRN_OK ||
        cairn_run_create(f->j, plan, NULL, run, sizeof(run)) != CAIRN_OK) {
        abort();
    }
    cairn_plan_free(plan);
}

/* The record count and head may only move on a successful call. */
static void check_delta(const fz *f, const cairn_summary *a,
                        const cairn_summary *b, uint64_t model_before)
{
    int wrote = f->m.records != model_before;
    if (b->records != a->records + (wrote ? 1u : 0u) ||
        wrote != (memcmp(a->head, b->head, CAIRN_HASH_BYTES) != 0)) {
        fprintf(stderr, "fuzz_journal: records %llu -> %llu, model wrote %d\n",
                (unsigned long long)a->records, (unsigned long long)b->records,
                wrote);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz f;
    memset(&f, 0, sizeof(f));
    f.data = data;
    f.size = size;
    f.pid = (uint32_t)getpid();
    make_dir(f.dir, sizeof(f.dir));
    open_journal(&f, CAIRN_OPEN_CREATE);
    create_run(&f, byte(&f));
    cairn_summary *before = status(&f);
    for (int n = 0; n < MAX_STEPS && f.pos < f.size; n++) {
        uint64_t records = f.m.records;
        step(&f, byte(&f));
        cairn_summary *after = status(&f);
        check_delta(&f, before, after, records);
        cairn_summary_free(before);
        before = after;
    }
    cairn_summary_free(before);
    cairn_journal_close(f.j);
    nftw(f.dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    return 0;
}
