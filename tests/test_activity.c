/*
 * test_activity.c - who works on a run (cairn_run_activity): idle,
 * active with a verified holder, abandoned; notes that are malformed or
 * name another process are never verified, and cairn_run_interrupt()
 * signals only a verified holder; cairn_hook_run() and its environment.
 */
#include "testutil.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static volatile sig_atomic_t terms;

static void on_term(int sig)
{
    (void)sig;
    terms++;
}

static const char plan_json[] =
    "{\"cairn_plan\":1,\"plan_id\":\"p\",\"run_id\":\"a-1\",\"operations\":["
    "{\"id\":\"pf\",\"kind\":\"preflight\",\"run\":[\"true\"]},"
    "{\"id\":\"t\",\"kind\":\"task\",\"run\":[\"true\"]}]}";

typedef struct fx {
    char *root, *dir, *lock;
    cairn_journal *w; /* writer: takes the run lock */
    cairn_journal *r; /* reader: looks */
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));
    char detail[256], run[CAIRN_MAX_ID + 1];
    cairn_plan *plan = NULL;
    f->root = tu_mkdtemp();
    f->dir = tu_path(f->root, "j");
    f->lock = tu_path(f->dir, "locks/run-1.lock");
    assert_int_equal(cairn_journal_open(f->dir, CAIRN_OPEN_CREATE, &f->w,
                                        detail, sizeof(detail)),
                     CAIRN_OK);
    assert_int_equal(cairn_plan_parse(plan_json, strlen(plan_json), &plan,
                                      detail, sizeof(detail)),
                     CAIRN_OK);
    assert_int_equal(cairn_run_create(f->w, plan, NULL, run, sizeof(run)),
                     CAIRN_OK);
    cairn_plan_free(plan);
    assert_int_equal(cairn_journal_open(f->dir, CAIRN_OPEN_READONLY, &f->r,
                                        detail, sizeof(detail)),
                     CAIRN_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    cairn_journal_close(f->r);
    cairn_journal_close(f->w);
    free(f->lock);
    free(f->dir);
    tu_rmtree(f->root);
    free(f);
    return 0;
}

static void activity(fx *f, cairn_run_holder *h)
{
    cairn_summary *s = NULL;
    assert_int_equal(cairn_status(f->r, "a-1", &s), CAIRN_OK);
    assert_int_equal(cairn_run_activity(f->r, s, h), CAIRN_OK);
    cairn_summary_free(s);
}

static void put_note(fx *f, const char *text)
{
    tu_write_file(f->lock, text, strlen(text));
}

/* A note for this host and boot naming @p pid with start time @p start. */
static void own_note(char *out, size_t cap, unsigned pid, const char *start)
{
    char host[256], boot[64] = "";
    size_t len = 0;
    char *text = tu_read_file("/proc/sys/kernel/random/boot_id", &len);
    size_t n = 0;
    for (size_t i = 0; i < len && n < 32; i++) {
        if (text[i] != '-' && text[i] != '\n') {
            boot[n++] = text[i];
        }
    }
    free(text);
    assert_int_equal(gethostname(host, sizeof(host)), 0);
    snprintf(out, cap, "pid=%u start=%s boot=%s host=%s since_ns=1\n", pid,
             start, boot, host);
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(cairn_activity_name(CAIRN_ACTIVITY_IDLE), "idle");
    assert_string_equal(cairn_activity_name(CAIRN_ACTIVITY_ACTIVE), "active");
    assert_string_equal(cairn_activity_name(CAIRN_ACTIVITY_ABANDONED),
                        "abandoned");
    assert_string_equal(cairn_activity_name(CAIRN_ACTIVITY_ENDED), "ended");
    assert_string_equal(cairn_activity_name((cairn_activity)0), "unknown");
    assert_string_equal(cairn_next_action_name(CAIRN_NEXT_WAIT_RUNNER),
                        "wait-runner");
}

static void test_idle_active_released(void **state)
{
    fx *f = *state;
    cairn_run_holder h;
    activity(f, &h);
    assert_int_equal(h.activity, CAIRN_ACTIVITY_IDLE);
    assert_int_equal(h.has_holder, 0);
    assert_int_equal(cairn_run_lock(f->w, "a-1"), CAIRN_OK);
    activity(f, &h);
    assert_int_equal(h.activity, CAIRN_ACTIVITY_ACTIVE);
    assert_int_equal(h.has_holder, 1);
    assert_int_equal(h.verified, 1);
    assert_int_equal(h.pid, (uint32_t)getpid());
    assert_string_equal(h.detail, "");
    /* Stop the verified holder: ourselves. */
    signal(SIGTERM, on_term);
    terms = 0;
    assert_int_equal(cairn_run_interrupt(f->r, "a-1", &h), CAIRN_OK);
    assert_int_equal(h.activity, CAIRN_ACTIVITY_ACTIVE);
    assert_int_equal(h.verified, 1);
    assert_int_equal(terms, 1);
    cairn_run_unlock(f->w, "a-1");
    /* Released: an empty note, nobody named. */
    size_t len = 99;
    free(tu_read_file(f->lock, &len));
    assert_int_equal(len, 0);
    activity(f, &h);
    assert_int_equal(h.activity, CAIRN_ACTIVITY_IDLE);
    assert_int_equal(cairn_run_interrupt(f->r, "a-1", &h), CAIRN_OK);
    assert_int_not_equal(h.activity, CAIRN_ACTIVITY_ACTIVE);
    assert_int_equal(terms, 1);
    signal(SIGTERM, SIG_DFL);
}

static void test_forged_notes_never_verified(void **state)
{
    fx *f = *state;
    cairn_run_holder h;
    char note[512];
    static const char *const malformed[] = {
        "",
        "garbage\n",
        "pid=0 start=1 boot=00000000000000000000000000000000 host=x "
        "since_ns=1\n",
        "pid=99999999999 start=1 boot=00000000000000000000000000000000 "
        "host=x since_ns=1\n",
        "pid=1 start=1 boot=0000 host=x since_ns=1\n",
        "pid=1 start=1 boot=00000000000000000000000000000000 host=x "
        "since_ns=1\nextra\n",
        "pid=1 start=1 boot=00000000000000000000000000000000 host=x "
        "since_ns=1",
    };
    signal(SIGTERM, on_term);
    terms = 0;
    assert_int_equal(cairn_run_lock(f->w, "a-1"), CAIRN_OK);
    for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
        put_note(f, malformed[i]);
        activity(f, &h);
        assert_int_equal(h.activity, CAIRN_ACTIVITY_ACTIVE);
        assert_int_equal(h.verified, 0);
        assert_non_null(strstr(h.detail, "malformed"));
        assert_int_equal(cairn_run_interrupt(f->r, "a-1", &h), CAIRN_ELOCKED);
    }
    /* Well-formed, but naming init (which does not hold the lock), or us
     * with another start time, or another host. */
    own_note(note, sizeof(note), 1, "1");
    put_note(f, note);
    activity(f, &h);
    assert_int_equal(h.verified, 0);
    assert_int_equal(h.pid, 1);
    assert_int_equal(cairn_run_interrupt(f->r, "a-1", &h), CAIRN_ELOCKED);
    own_note(note, sizeof(note), (unsigned)getpid(), "1");
    put_note(f, note);
    activity(f, &h);
    assert_int_equal(h.verified, 0);
    assert_non_null(strstr(h.detail, "is not the process"));
    assert_int_equal(cairn_run_interrupt(f->r, "a-1", &h), CAIRN_ELOCKED);
    snprintf(note, sizeof(note),
             "pid=%u start=1 boot=00000000000000000000000000000000 "
             "host=elsewhere since_ns=1\n",
             (unsigned)getpid());
    put_note(f, note);
    activity(f, &h);
    assert_int_equal(h.verified, 0);
    assert_string_equal(h.host, "elsewhere");
    assert_non_null(strstr(h.detail, "names host elsewhere"));
    assert_int_equal(cairn_run_interrupt(f->r, "a-1", &h), CAIRN_ELOCKED);
    assert_int_equal(terms, 0);
    cairn_run_unlock(f->w, "a-1");
    signal(SIGTERM, SIG_DFL);
}

static void test_abandoned_note(void **state)
{
    fx *f = *state;
    cairn_run_holder h;
    char note[512];
    /* A note left behind by a writer that is gone (our pid, another start
     * time: a reused pid), nobody holding the run. */
    assert_int_equal(cairn_run_lock(f->w, "a-1"), CAIRN_OK);
    cairn_run_unlock(f->w, "a-1");
    own_note(note, sizeof(note), (unsigned)getpid(), "1");
    put_note(f, note);
    activity(f, &h);
    assert_int_equal(h.activity, CAIRN_ACTIVITY_ABANDONED);
    assert_int_equal(h.has_holder, 1);
    assert_non_null(strstr(h.detail, "died holding the run"));
    /* A malformed leftover names nobody: idle. */
    put_note(f, "junk\n");
    activity(f, &h);
    assert_int_equal(h.activity, CAIRN_ACTIVITY_IDLE);
    assert_int_equal(cairn_run_activity(NULL, NULL, &h), CAIRN_EINVAL);
    assert_int_equal(cairn_run_interrupt(f->r, "nope", &h), CAIRN_ENORUN);
}

static void test_hook_run(void **state)
{
    fx *f = *state;
    cairn_summary *s = NULL;
    cairn_hook_info info;
    char detail[256], cmd[1024];
    char *out = tu_path(f->root, "hook.out");
    assert_int_equal(cairn_status(f->r, "a-1", &s), CAIRN_OK);
    memset(&info, 0, sizeof(info));
    info.transition = "claim";
    info.actor = "alice";
    info.has_op = 1;
    info.seq = 1;
    info.event_json = "{\"x\":1}";
    snprintf(cmd, sizeof(cmd),
             "echo \"$CAIRN_TRANSITION $CAIRN_ACTOR $CAIRN_OP_SEQ $CAIRN_OP_ID "
             "$CAIRN_RUN_ID $CAIRN_EVENT_JSON ${CAIRN_SECRET-unset}\" > '%s'",
             out);
    setenv("CAIRN_SECRET", "leak", 1);
    assert_int_equal(
        cairn_hook_run(f->r, cmd, s, &info, detail, sizeof(detail)), CAIRN_OK);
    unsetenv("CAIRN_SECRET");
    size_t len = 0;
    char *text = tu_read_file(out, &len);
    assert_string_equal(text, "claim alice 1 t a-1 {\"x\":1} unset\n");
    free(text);
    assert_int_equal(cairn_hook_run(f->r, "echo no >&2; exit 3", s, &info,
                                    detail, sizeof(detail)),
                     CAIRN_ECHILD);
    assert_string_equal(detail, "exit status 3: no\n");
    assert_int_equal(cairn_hook_run(f->r, "", s, &info, detail, sizeof(detail)),
                     CAIRN_EINVAL);
    assert_int_equal(
        cairn_hook_run(f->r, "true", s, NULL, detail, sizeof(detail)),
        CAIRN_EINVAL);
    cairn_summary_free(s);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test_setup_teardown(test_idle_active_released, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_forged_notes_never_verified, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_abandoned_note, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hook_run, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
