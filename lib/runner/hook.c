/*
 * hook.c - run a hook (/bin/sh -c HOOK) with a run's summary in its
 * environment: the runner's hook on each run state change, and
 * cairn_hook_run() for a caller that made a transition itself (the CLI's
 * primitives).  The hook command always comes from the caller.
 */
#include "runner/runner.h"

#include "base/sys.h"
#include "journal/journal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HOOK_JSON_MAX 65536

/* "a,b,c" of the restart targets, or of the in-doubt sequences. */
static char *join_summary(const cairn_summary *s, int targets)
{
    size_t n = targets ? s->n_restart_targets : s->n_in_doubt;
    size_t cap = 1, used = 0;
    for (size_t i = 0; i < n; i++) {
        cap += (targets ? strlen(s->restart_targets[i]) : 10) + 1;
    }
    char *out = malloc(cap);
    if (out == NULL) {
        return NULL;
    }
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (targets) {
            cairn__fmt(out + used, cap - used, "%s%s", i ? "," : "",
                       s->restart_targets[i]);
        } else {
            cairn__fmt(out + used, cap - used, "%s%u", i ? "," : "",
                       s->in_doubt[i]);
        }
        used += strlen(out + used);
    }
    return out;
}

static cairn_err hook_env(const char *jdir, const cairn_summary *s,
                          const cairn_hook_info *info, runner_env *env)
{
    char *targets = join_summary(s, 1), *doubt = join_summary(s, 0);
    cairn_err err = targets != NULL && doubt != NULL
                        ? cairn__runner_env_init(env)
                        : CAIRN_ENOMEM;
#define ADD(k, ...)                                                            \
    if (err == CAIRN_OK) {                                                     \
        err = cairn__runner_env_add(env, k, __VA_ARGS__);                      \
    }
    ADD("CAIRN_RUN_ID", "%s", s->run_id);
    ADD("CAIRN_RUN_STATE", "%s", cairn_run_state_name(s->state));
    ADD("CAIRN_STOPPED_REASON", "%s",
        cairn_stopped_reason_name(s->stopped_reason));
    ADD("CAIRN_NEXT_ACTION", "%s", cairn_next_action_name(s->next_action));
    ADD("CAIRN_RESTART_REQUIRED", "%d", s->restart_required ? 1 : 0);
    ADD("CAIRN_RESTART_TARGETS", "%s", targets);
    ADD("CAIRN_IN_DOUBT", "%s", doubt);
    ADD("CAIRN_JOURNAL", "%s", jdir);
    ADD("CAIRN_TRANSITION", "%s",
        info->transition != NULL ? info->transition : "");
    if (info->actor != NULL) {
        ADD("CAIRN_ACTOR", "%s", info->actor);
    }
    const cairn_op_view *op =
        info->has_op ? cairn_summary_op(s, info->seq) : NULL;
    if (op != NULL) {
        ADD("CAIRN_OP_SEQ", "%u", info->seq);
        ADD("CAIRN_OP_ID", "%s", op->id);
    }
    if (info->event_json != NULL && strlen(info->event_json) <= HOOK_JSON_MAX) {
        ADD("CAIRN_EVENT_JSON", "%s", info->event_json);
    }
#undef ADD
    free(targets);
    free(doubt);
    return err;
}

cairn_err cairn__hook_exec(const char *hook, const char *jdir,
                           const cairn_summary *s, const cairn_hook_info *info,
                           uint64_t grace_ns, char *detail, size_t detail_len)
{
    char sh[] = "/bin/sh", dash_c[] = "-c";
    char *copy = strdup(hook);
    char *argv[] = {sh, dash_c, copy, NULL};
    runner_env env;
    env.n = 0;
    env.v[0] = NULL;
    cairn__clear(detail, detail_len);
    if (copy == NULL || hook_env(jdir, s, info, &env) != CAIRN_OK) {
        free(copy);
        cairn__runner_env_free(&env);
        cairn__fmt(detail, detail_len, "out of memory");
        return CAIRN_ENOMEM;
    }
    cairn_exec_spec spec = {
        .argv = argv,
        .envp = env.v,
        .timeout_ns = info->timeout_ns != 0 ? info->timeout_ns
                                            : RUNNER_HOOK_TIMEOUT_DEFAULT,
        .grace_ns = grace_ns,
        .tail_max = 512,
        .keep_fd = -1,
        .interrupts = info->interrupts,
        .shutdown_ns = info->shutdown_ns != 0 ? info->shutdown_ns
                                              : RUNNER_HOOK_TIMEOUT_DEFAULT};
    cairn_exec_result res;
    char why[512];
    cairn_err err = cairn__exec_run(&spec, &res, why, sizeof(why));
    if (err != CAIRN_OK) {
        cairn__fmt(detail, detail_len, "%s: %s", cairn_strerror(err), why);
        err = err == CAIRN_ENOMEM ? err : CAIRN_ECHILD;
    } else if (res.timed_out) {
        cairn__fmt(detail, detail_len, "timed out");
        err = CAIRN_ECHILD;
    } else if (res.signaled) {
        cairn__fmt(detail, detail_len, "killed by signal %d", res.term_signal);
        err = CAIRN_ECHILD;
    } else if (res.exit_code != 0) {
        const char *tail = res.err.tail != NULL ? res.err.tail : "";
        cairn__fmt(detail, detail_len, "exit status %d%s%.200s", res.exit_code,
                   tail[0] != '\0' ? ": " : "", tail);
        err = CAIRN_ECHILD;
    }
    cairn__exec_result_free(&res);
    cairn__runner_env_free(&env);
    free(copy);
    return err;
}

cairn_err cairn_hook_run(cairn_journal *journal, const char *hook,
                         const cairn_summary *summary,
                         const cairn_hook_info *info, char *detail,
                         size_t detail_len)
{
    cairn__clear(detail, detail_len);
    if (journal == NULL || hook == NULL || hook[0] == '\0' || summary == NULL ||
        info == NULL) {
        return CAIRN_EINVAL;
    }
    char jdir[RUNNER_PATH_MAX];
    char *here = journal->dir[0] == '/' ? NULL : getcwd(NULL, 0);
    cairn__fmt(jdir, sizeof(jdir), "%s%s%s", here != NULL ? here : "",
               here != NULL ? "/" : "", journal->dir);
    free(here);
    return cairn__hook_exec(hook, jdir, summary, info, 0, detail, detail_len);
}
