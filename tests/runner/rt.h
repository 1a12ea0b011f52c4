/*
 * rt.h - helpers shared by test_runner.c and test_runner_crash.c: a
 * journal in a temporary directory, a test operation script (op.sh,
 * written into that directory), plans with @S (the script) and @D (the
 * directory) placeholders, an event recorder, and journal inspection.
 * Include after testutil.h.
 */
#ifndef CAIRN_TEST_RT_H
#define CAIRN_TEST_RT_H

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MS 1000000ull

/*
 * op.sh DIR NAME ACTION [ARGS]: one test operation.  A run that "takes
 * effect" appends its attempt number to DIR/effects-NAME.
 */
static const char op_script[] =
    "#!/bin/sh\n"
    "d=$1; n=$2; a=$3; shift 3\n"
    "effect() { echo \"${CAIRN_ATTEMPT:-?}\" >> \"$d/effects-$n\"; }\n"
    "case $a in\n"
    "ok) effect ;;\n"
    "out) effect; for kv in \"$@\"; do echo \"$kv\" >> \"$CAIRN_OUTPUT\";"
    " done ;;\n"
    "fail) effect; exit \"$1\" ;;\n"
    "flaky) c=$(( $(cat \"$d/count-$n\" 2>/dev/null || echo 0) + 1 ))\n"
    "    echo $c > \"$d/count-$n\"\n"
    "    if [ \"$c\" -le \"$1\" ]; then exit \"$2\"; fi; effect ;;\n"
    "env) env > \"$d/env-$n\"; stat -c %a \"$CAIRN_OUTPUT\" > \"$d/mode-$n\"\n"
    "    echo \"$CAIRN_OUTPUT\" > \"$d/outpath-$n\"; effect ;;\n"
    "slow) echo $$ > \"$d/pid-$n\"; touch \"$d/started-$n\"; sleep \"$1\";"
    " effect ;;\n"
    "probe) if [ -n \"$1\" ]; then exit \"$1\"; fi\n"
    "    test -s \"$d/effects-$n\" ;;\n"
    "probe-out) for kv in \"$@\"; do echo \"$kv\" >> "
    "\"$CAIRN_OUTPUT\"; done ;;\n"
    "grandchild) sleep 30 & echo $! > \"$d/gc-$n\"; wait ;;\n"
    "escape) setsid sh -c 'echo $$ > \"$1\"; exec sleep 30' sh \\\n"
    "        \"$d/escaped-$n\" &\n"
    "    while [ ! -s \"$d/escaped-$n\" ]; do sleep 0.01; done; effect ;;\n"
    "hang) echo $$ > \"$d/pid-$n\"; sleep 30 & echo $! > \"$d/gc-$n\";"
    " touch \"$d/started-$n\"; wait ;;\n"
    "big) head -c 5000000 /dev/zero | tr '\\000' a\n"
    "    head -c 3000000 /dev/zero | tr '\\000' b >&2; effect ;;\n"
    "nul) printf 'a\\000b\\\\c\\001'; effect ;;\n"
    "badout) printf 'k=v\\nnoequals\\n' > \"$CAIRN_OUTPUT\"; effect ;;\n"
    "*) echo \"op.sh: unknown action $a\" >&2; exit 99 ;;\n"
    "esac\n";

typedef struct rt_event {
    cairn_run_event_type type;
    uint32_t seq, attempt;
    int has_outcome;
    cairn_outcome outcome;
    cairn_error_class cls;
    cairn_claim_kind claim;
    uint64_t wait_ns;
    char reason[600];
    cairn_run_state state; /* state-change */
} rt_event;

#define RT_MAX_EVENTS 256

typedef struct rt {
    char *dir;    /* temporary directory */
    char *jdir;   /* journal directory inside it */
    char *script; /* op.sh */
    cairn_journal *j;
    char run[CAIRN_MAX_ID + 1];
    rt_event ev[RT_MAX_EVENTS];
    size_t n_ev;
    /* Crash tests: raise SIGKILL at this event (type 0: never) about op
     * kill_seq (UINT32_MAX: any). */
    cairn_run_event_type kill_type;
    uint32_t kill_seq;
} rt;

static inline void rt_on_event(void *ctx, const cairn_run_event *e)
{
    rt *t = ctx;
    if (t->kill_type != 0 && e->type == t->kill_type &&
        (t->kill_seq == UINT32_MAX || (e->has_op && e->seq == t->kill_seq))) {
        raise(SIGKILL);
    }
    if (t->n_ev >= RT_MAX_EVENTS) {
        return;
    }
    rt_event *r = &t->ev[t->n_ev++];
    memset(r, 0, sizeof(*r));
    r->type = e->type;
    r->seq = e->seq;
    r->attempt = e->attempt;
    r->has_outcome = e->has_outcome;
    r->outcome = e->outcome;
    r->cls = e->error_class;
    r->claim = e->claim_kind;
    r->wait_ns = e->wait_ns;
    snprintf(r->reason, sizeof(r->reason), "%s", e->reason);
    if (e->summary != NULL) {
        r->state = e->summary->state;
    }
}

static inline void rt_open(rt *t)
{
    char detail[256] = "";
    cairn_err err = cairn_journal_open(t->jdir, CAIRN_OPEN_CREATE, &t->j,
                                       detail, sizeof(detail));
    if (err != CAIRN_OK) {
        print_error("open: %s\n", detail);
    }
    assert_int_equal(err, CAIRN_OK);
}

static inline void rt_close(rt *t)
{
    cairn_journal_close(t->j);
    t->j = NULL;
}

static inline int rt_setup(void **state)
{
    rt *t = calloc(1, sizeof(*t));
    assert_non_null(t);
    t->dir = tu_mkdtemp();
    t->jdir = tu_path(t->dir, "journal");
    t->script = tu_path(t->dir, "op.sh");
    tu_write_file(t->script, op_script, strlen(op_script));
    assert_int_equal(chmod(t->script, 0755), 0);
    rt_open(t);
    *state = t;
    return 0;
}

static inline int rt_teardown(void **state)
{
    rt *t = *state;
    rt_close(t);
    tu_rmtree(t->dir);
    free(t->jdir);
    free(t->script);
    free(t);
    return 0;
}

/* Runner options that record events into @p t. */
static inline cairn_runner_opts rt_opts(rt *t)
{
    cairn_runner_opts o;
    memset(&o, 0, sizeof(o));
    o.on_event = rt_on_event;
    o.event_ctx = t;
    o.kill_grace_ns = 200 * MS;
    return o;
}

/* The plan text with @S and @D replaced (malloc'd). */
static inline char *rt_expand(const rt *t, const char *tmpl)
{
    size_t cap = strlen(tmpl) * 2 + 16 * 4096, n = 0;
    char *out = malloc(cap);
    assert_non_null(out);
    for (const char *p = tmpl; *p != '\0'; p++) {
        const char *sub = NULL;
        if (p[0] == '@' && p[1] == 'S') {
            sub = t->script;
        } else if (p[0] == '@' && p[1] == 'D') {
            sub = t->dir;
        }
        if (sub != NULL) {
            size_t l = strlen(sub);
            assert_true(n + l + 1 < cap);
            memcpy(out + n, sub, l);
            n += l;
            p++;
        } else {
            assert_true(n + 2 < cap);
            out[n++] = *p;
        }
    }
    out[n] = '\0';
    return out;
}

static inline cairn_plan *rt_plan(const rt *t, const char *tmpl)
{
    char *json = rt_expand(t, tmpl);
    char detail[512] = "";
    cairn_plan *plan = NULL;
    cairn_err err =
        cairn_plan_parse(json, strlen(json), &plan, detail, sizeof(detail));
    if (err != CAIRN_OK) {
        print_error("plan: %s\n%s\n", detail, json);
    }
    assert_int_equal(err, CAIRN_OK);
    free(json);
    return plan;
}

/* Create and run @p tmpl; the run id goes to t->run. */
static inline cairn_err rt_run(rt *t, const char *tmpl,
                               const cairn_runner_opts *o)
{
    cairn_plan *plan = rt_plan(t, tmpl);
    cairn_err err = cairn_run_plan(t->j, plan, o, t->run, sizeof(t->run));
    cairn_plan_free(plan);
    return err;
}

/* The summary (caller frees), after checking that replay agrees. */
static inline cairn_summary *rt_status(rt *t)
{
    cairn_summary *s = NULL;
    assert_int_equal(cairn_status(t->j, t->run, &s), CAIRN_OK);
    assert_int_equal(cairn_replay_check(t->j, t->run), CAIRN_OK);
    return s;
}

static inline void rt_assert_state(rt *t, cairn_run_state state,
                                   cairn_next_action next)
{
    cairn_summary *s = rt_status(t);
    if (s->state != state || s->next_action != next) {
        print_error("state %s next %s, want %s next %s\n",
                    cairn_run_state_name(s->state),
                    cairn_next_action_name(s->next_action),
                    cairn_run_state_name(state), cairn_next_action_name(next));
    }
    assert_int_equal(s->state, state);
    assert_int_equal(s->next_action, next);
    cairn_summary_free(s);
}

static inline cairn_op_state rt_op_state(rt *t, uint32_t seq, uint32_t *attempt)
{
    cairn_summary *s = rt_status(t);
    assert_true(seq < s->n_ops);
    cairn_op_state st = s->ops[seq].state;
    if (attempt != NULL) {
        *attempt = s->ops[seq].attempt;
    }
    cairn_summary_free(s);
    return st;
}

/* Lines in DIR/<prefix>-<name> (0 when absent). */
static inline int rt_lines(const rt *t, const char *prefix, const char *name)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s-%s", t->dir, prefix, name);
    FILE *f = fopen(path, "r");
    int n = 0, c;
    if (f == NULL) {
        return 0;
    }
    while ((c = fgetc(f)) != EOF) {
        n += c == '\n';
    }
    fclose(f);
    return n;
}

static inline int rt_effects(const rt *t, const char *name)
{
    return rt_lines(t, "effects", name);
}

static inline int rt_exists(const rt *t, const char *prefix, const char *name)
{
    char path[4096];
    struct stat st;
    snprintf(path, sizeof(path), "%s/%s-%s", t->dir, prefix, name);
    return stat(path, &st) == 0;
}

/* The integer in DIR/<prefix>-<name>, waiting up to 5 s for it. */
static inline long rt_wait_number(const rt *t, const char *prefix,
                                  const char *name)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s-%s", t->dir, prefix, name);
    for (int i = 0; i < 500; i++) {
        FILE *f = fopen(path, "r");
        long v = 0;
        if (f != NULL) {
            int got = fscanf(f, "%ld", &v);
            fclose(f);
            if (got == 1 && v > 0) {
                return v;
            }
        }
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    fail_msg("no number in %s", path);
    return -1;
}

/* Is @p pid gone (or a zombie: it holds nothing any more)?  Zombies
 * that are our children (adopted as a subreaper) are reaped first. */
static inline int rt_gone(pid_t pid)
{
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
    if (kill(pid, 0) != 0 && errno == ESRCH) {
        return 1;
    }
    char path[64], buf[512];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return 1;
    }
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');
    return p != NULL && p[1] == ' ' && p[2] == 'Z';
}

/* Wait (up to 5 s) until process @p pid no longer exists. */
static inline void rt_wait_gone(pid_t pid)
{
    for (int i = 0; i < 500; i++) {
        if (rt_gone(pid)) {
            return;
        }
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    fail_msg("process %d still exists", (int)pid);
}

/* Wait (up to 5 s) until process group @p pgid is empty (needs the
 * caller to be the members' reaper, or a reaping init). */
static inline void rt_wait_group_gone(pid_t pgid)
{
    for (int i = 0; i < 500; i++) {
        while (waitpid(-1, NULL, WNOHANG) > 0) {
        }
        if (kill(-pgid, 0) != 0 && errno == ESRCH) {
            return;
        }
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    fail_msg("process group %d still exists", (int)pgid);
}

/* $CAIRN_OUTPUT files present in <journal>/tmp. */
static inline int rt_output_files(const rt *t)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/tmp", t->jdir);
    DIR *d = opendir(path);
    int n = 0;
    if (d == NULL) {
        return 0;
    }
    const struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        n += strstr(e->d_name, ".out-") != NULL;
    }
    closedir(d);
    return n;
}

static inline size_t rt_count_events(const rt *t, cairn_run_event_type type)
{
    size_t n = 0;
    for (size_t i = 0; i < t->n_ev; i++) {
        n += t->ev[i].type == type;
    }
    return n;
}

static const rt_event *rt_find_event(const rt *t, cairn_run_event_type type,
                                     uint32_t seq)
{
    for (size_t i = 0; i < t->n_ev; i++) {
        if (t->ev[i].type == type && t->ev[i].seq == seq) {
            return &t->ev[i];
        }
    }
    return NULL;
}

/* The last record of type @p type about op @p seq, flattened. */
typedef struct rt_rec {
    int found;
    uint64_t seq;
    uint32_t attempt;
    cairn_claim_kind claim_kind;
    cairn_outcome outcome;
    cairn_error_class cls;
    char reason[1024];
    char pairs[16384]; /* "o:k=v\n" outputs and "e:k=v\n" evidence */
    uint32_t op;
    cairn_record_type type;
    size_t count; /* records of that type about that op */
} rt_rec;

static inline int rt_rec_fn(void *ctx, const cairn_record_view *r)
{
    rt_rec *out = ctx;
    if (r->type != out->type || r->op != out->op) {
        return 0;
    }
    out->found = 1;
    out->count++;
    out->seq = r->seq;
    out->attempt = r->attempt;
    out->claim_kind = r->claim_kind;
    out->outcome = r->outcome;
    out->cls = r->error_class;
    snprintf(out->reason, sizeof(out->reason), "%s", r->reason);
    size_t used = 0;
    out->pairs[0] = '\0';
    for (size_t i = 0; i < r->n_outputs; i++) {
        used += (size_t)snprintf(out->pairs + used, sizeof(out->pairs) - used,
                                 "o:%s=%.200s\n", r->outputs[i].key,
                                 r->outputs[i].value);
    }
    for (size_t i = 0; i < r->n_evidence && used < sizeof(out->pairs); i++) {
        used += (size_t)snprintf(out->pairs + used, sizeof(out->pairs) - used,
                                 "e:%s=%.3000s\n", r->evidence[i].key,
                                 r->evidence[i].value);
    }
    return 0;
}

static inline void rt_record(rt *t, cairn_record_type type, uint32_t op,
                             rt_rec *out)
{
    memset(out, 0, sizeof(*out));
    out->type = type;
    out->op = op;
    assert_int_equal(cairn_record_each(t->j, t->run, 0, rt_rec_fn, out),
                     CAIRN_OK);
}

/* The pair "k=v" (prefix o: or e:) is in @p rec. */
static inline int rt_has_pair(const rt_rec *rec, const char *pair)
{
    return strstr(rec->pairs, pair) != NULL;
}

/* 0 check (preflight), 1 stop-db, 2 snap (requires artifact, digest),
 * 3 start-db, 4 xfer, 5 tidy (cleanup) */
__attribute__((unused)) static const char happy_plan[] =
    "{\"cairn_plan\":1,\"plan_id\":\"happy\",\"run_id\":\"happy-1\","
    "\"operations\":["
    "{\"id\":\"check\",\"kind\":\"preflight\",\"run\":[\"@S\",\"@D\","
    "\"check\",\"env\"]},"
    "{\"id\":\"stop-db\",\"kind\":\"stop\",\"target\":\"db\","
    "\"run\":[\"@S\",\"@D\",\"stop\",\"ok\"]},"
    "{\"id\":\"snap\",\"kind\":\"snapshot\",\"target\":\"db\","
    "\"requires\":[\"artifact\",\"digest\"],"
    "\"run\":[\"@S\",\"@D\",\"snap\",\"out\",\"artifact=/b/db.tar\","
    "\"digest=abc\",\"extra=x=y\"]},"
    "{\"id\":\"start-db\",\"kind\":\"start\",\"target\":\"db\","
    "\"run\":[\"@S\",\"@D\",\"start\",\"ok\"]},"
    "{\"id\":\"xfer\",\"kind\":\"transfer\","
    "\"run\":[\"@S\",\"@D\",\"xfer\",\"ok\"]},"
    "{\"id\":\"tidy\",\"kind\":\"cleanup\","
    "\"run\":[\"@S\",\"@D\",\"tidy\",\"ok\"]}]}";

/* 0 stop-db, 1 snap (exit 3: terminal), 2 start-db, 3 xfer, 4 tidy */
__attribute__((unused)) static const char terminal_plan[] =
    "{\"cairn_plan\":1,\"plan_id\":\"term\",\"run_id\":\"term-1\","
    "\"operations\":["
    "{\"id\":\"stop-db\",\"kind\":\"stop\",\"target\":\"db\","
    "\"run\":[\"@S\",\"@D\",\"stop\",\"ok\"]},"
    "{\"id\":\"snap\",\"kind\":\"snapshot\",\"target\":\"db\","
    "\"run\":[\"@S\",\"@D\",\"snap\",\"fail\",\"3\"],"
    "\"retry\":{\"attempts\":3,\"exit_codes\":[75]}},"
    "{\"id\":\"start-db\",\"kind\":\"start\",\"target\":\"db\","
    "\"run\":[\"@S\",\"@D\",\"start\",\"%s\",\"1\"]},"
    "{\"id\":\"xfer\",\"kind\":\"transfer\","
    "\"run\":[\"@S\",\"@D\",\"xfer\",\"ok\"]},"
    "{\"id\":\"tidy\",\"kind\":\"cleanup\","
    "\"run\":[\"@S\",\"@D\",\"tidy\",\"ok\"]}]}";

static inline void run_terminal(rt *t, const char *start_action,
                                const char *hook)
{
    char plan[4096];
    snprintf(plan, sizeof(plan), terminal_plan, start_action);
    cairn_runner_opts o = rt_opts(t);
    o.hook = hook;
    assert_int_equal(rt_run(t, plan, &o), CAIRN_EFAILED);
    assert_non_null(strstr(cairn_journal_errdetail(t->j),
                           "operation 1 (snap) failed: exit status 3"));
    /* Terminal: one attempt only, no retry. */
    assert_int_equal(rt_effects(t, "snap"), 1);
    assert_int_equal(rt_effects(t, "xfer"), 0);
    assert_int_equal(rt_effects(t, "start"), 1);
    assert_int_equal(rt_effects(t, "tidy"), 1);
    rt_rec claim;
    rt_record(t, CAIRN_REC_CLAIM, 2, &claim);
    assert_int_equal(claim.claim_kind, CAIRN_CLAIM_CONTAINMENT);
    rt_record(t, CAIRN_REC_CLAIM, 4, &claim);
    assert_int_equal(claim.claim_kind, CAIRN_CLAIM_CLEANUP);
    rt_rec rec;
    rt_record(t, CAIRN_REC_RECEIPT, 1, &rec);
    assert_int_equal(rec.cls, CAIRN_CLASS_TERMINAL);
    assert_string_equal(rec.reason, "exit status 3");
    assert_true(rt_has_pair(&rec, "e:exit_code=3\n"));
    assert_non_null(rt_find_event(t, CAIRN_EVENT_CONTAINMENT, 2));
    assert_non_null(rt_find_event(t, CAIRN_EVENT_CLEANUP, 4));
    assert_int_equal(rt_op_state(t, 3, NULL), CAIRN_OP_READY);
}

/* ---- runners in a child process ------------------------------------- */

/* Signals counted by a child runner (test process state). */
__attribute__((unused)) static volatile sig_atomic_t child_interrupts;

static inline void on_child_signal(int sig)
{
    (void)sig;
    child_interrupts++;
}

typedef struct child_spec {
    const char *tmpl;   /* run this plan ... */
    const char *resume; /* ... or resume this run */
    uint64_t shutdown_ns;
    int catch_term; /* count SIGTERM for the runner */
} child_spec;

/* Fork a runner (the parent's journal is closed around the fork).  The
 * child exits with the runner's cairn_err, or dies by a signal. */
static inline pid_t child_start(rt *t, const child_spec *c)
{
    rt_close(t);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        cairn_journal *j = NULL;
        if (cairn_journal_open(t->jdir, CAIRN_OPEN_CREATE, &j, NULL, 0)) {
            _exit(100);
        }
        t->j = j;
        cairn_runner_opts o = rt_opts(t);
        o.shutdown_timeout_ns = c->shutdown_ns;
        if (c->catch_term) {
            struct sigaction sa;
            memset(&sa, 0, sizeof(sa));
            sa.sa_handler = on_child_signal;
            sigaction(SIGTERM, &sa, NULL);
            o.interrupts = &child_interrupts;
        }
        cairn_err err;
        if (c->resume != NULL) {
            err = cairn_run_resume(j, c->resume, &o);
        } else {
            char run[CAIRN_MAX_ID + 1];
            cairn_plan *plan = rt_plan(t, c->tmpl);
            err = cairn_run_plan(j, plan, &o, run, sizeof(run));
        }
        _exit((int)err);
    }
    return pid;
}

static inline int child_wait(rt *t, pid_t pid)
{
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    rt_open(t);
    return status;
}

#endif
