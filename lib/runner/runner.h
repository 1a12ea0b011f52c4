/*
 * runner.h - private to lib/runner*.c: the thin runner's state and the
 * pieces it is made of (runner.c drives a run; runner_op.c runs one
 * operation with its retries; runner_cmd.c spawns one command and turns
 * its result into evidence and a verdict; runner_doubt.c settles in-doubt
 * operations; runner_lock.c is the command-lifetime lock; runner_event.c
 * reports events, state changes, hooks and dry runs).
 */
#ifndef CAIRN_RUNNER_H
#define CAIRN_RUNNER_H

#include "base/common.h"
#include "runner/exec.h"
#include "format/outputs.h"
#include "plan/plan.h"

#define RUNNER_TAIL_MAX 2048u        /* bytes of each stream in a receipt */
#define RUNNER_OUTPUT_MAX (1u << 20) /* largest $CAIRN_OUTPUT file read */
#define RUNNER_SHUTDOWN_DEFAULT 30000000000ull
#define RUNNER_GRACE_DEFAULT 5000000000ull
#define RUNNER_HOOK_TIMEOUT_DEFAULT 30000000000ull
#define RUNNER_HEARTBEAT_DEFAULT 10000000000ull
#define RUNNER_ACTOR_DEFAULT "cairn-runner"
#define RUNNER_PATH_MAX 4096
#define RUNNER_DAEMONS_MAX 64 /* processes of daemon ops remembered */
#define RUNNER_ENV_MAX 700    /* entries of a command's environment */

/** Why the runner stops driving the run (besides journal errors). */
typedef enum runner_stop {
    RUNNER_GO = 0,           /* keep going */
    RUNNER_STOP_TERMINAL,    /* terminal failure: containment, cleanup */
    RUNNER_STOP_EXHAUSTED,   /* retryable failure, attempts used up */
    RUNNER_STOP_DEADLINE,    /* the run deadline passed */
    RUNNER_STOP_INTERRUPTED, /* a signal */
    RUNNER_STOP_ATTENTION    /* an operator must decide (in doubt ...) */
} runner_stop;

typedef struct cairn_runner {
    cairn_journal *j;
    cairn_runner_opts opts; /* defaults filled in */
    const cairn_plan *plan;
    cairn_plan *owned_plan; /* resume: parsed from the CREATE record */
    char run_id[CAIRN_MAX_ID + 1];
    uint64_t run_num;
    uint64_t created_ns; /* wall clock: the deadline counts from here */
    uint64_t start_mono; /* this call's start (event elapsed time) */
    uint32_t steps;      /* operations run in this call */
    int had_lock;        /* the handle held the run lock before the call */
    cairn_actor_info who;
    int seen; /* a state was observed: last_* valid */
    cairn_run_state last_state;
    cairn_stopped_reason last_reason;
    cairn_next_action last_next;
    int last_restart;     /* restart_required of the last state-change */
    size_t last_in_doubt; /* in-doubt count of the last state-change */
    char cmd_lock[RUNNER_PATH_MAX]; /* <dir>/locks/run-<n>.cmd */
    char jdir[RUNNER_PATH_MAX];     /* the journal directory, absolute */
    int tmp_fd;                     /* <dir>/tmp, checked private; -1 */
    runner_stop halt;     /* why this call ended the run (containment) */
    char out_name[2][64]; /* the running command's stdout/stderr files */
    /* What a dead runner's command left (read from the lock note when
     * the run is taken): its operation, attempt, output files. */
    int orphan;
    uint32_t orphan_seq, orphan_attempt;
    char orphan_name[2][64];
    pid_t daemons[RUNNER_DAEMONS_MAX]; /* left by daemon operations */
    size_t n_daemons;
    char why[CAIRN_MAX_TEXT]; /* last failure, for the detail */
    /* The plan's previous runs (CAIRN_PREV_* of commands), read from the
     * journal once, before this call's first command. */
    int have_prev;
    cairn_watermark prev;
} cairn_runner;

/** What one command did, as the runner records it. */
typedef struct runner_result {
    cairn_err exec_err; /* cairn__exec_run's answer */
    char detail[512];   /* its detail when not CAIRN_OK */
    cairn_exec_result res;
    int deadline_capped;  /* the timeout was the run deadline */
    cairn_kvlist outputs; /* exit 0: parsed $CAIRN_OUTPUT */
    int output_bad;       /* $CAIRN_OUTPUT unreadable or unparsable */
    char output_detail[512];
    cairn_kvlist evidence;
} runner_result;

/** A command to run for an operation (the op's run or its probe). */
typedef struct runner_cmd {
    const cairn_plan_op *op;
    uint32_t seq;
    uint32_t attempt;
    int probe;           /* run the probe, not the command */
    uint64_t timeout_ns; /* effective (0: none) */
    int deadline_capped;
    int lock_fd;       /* command-lifetime lock to inherit */
    int ready;         /* run the readiness check, not the command */
    uint64_t since_ns; /* wall clock when the command started */
} runner_cmd;

/* runner.c */
/** Defaults filled in, clocks started. */
CAIRN_INTERNAL void cairn__runner_init(cairn_runner *r, cairn_journal *j,
                                       const cairn_runner_opts *opts);
/** CAIRN_EPLAN unless every operation has a command. */
CAIRN_INTERNAL cairn_err cairn__runner_check_commands(cairn_runner *r);
/** Take the run: writer lock (held until cairn__runner_release), no
 *  command tree of a dead runner alive, no live claimer.  *out: the
 *  summary. */
CAIRN_INTERNAL cairn_err cairn__runner_take(cairn_runner *r,
                                            cairn_summary **out);
/** Release the writer lock unless the caller held it before. */
CAIRN_INTERNAL void cairn__runner_release(cairn_runner *r);
/** Drive the taken run until it ends or must stop.  @p ended_before: the
 *  run had already ended when this call began (CAIRN_EFINISHED). */
CAIRN_INTERNAL cairn_err cairn__runner_drive(cairn_runner *r, int ended_before);

/** What @p stop means: *go_on, or the call's result (a stopped event is
 *  emitted and the detail set). */
CAIRN_INTERNAL cairn_err cairn__runner_after(cairn_runner *r, runner_stop stop,
                                             int *go_on);

/* runner_cmd.c */
/** Spawn @p cmd and collect everything into @p out (zeroed first).
 *  Returns CAIRN_OK when the result is in @p out, whether the command ran
 *  or not (see out->exec_err); CAIRN_ENOMEM/CAIRN_EIO for the runner's own
 *  failures before the spawn. */
CAIRN_INTERNAL cairn_err cairn__runner_exec(cairn_runner *r,
                                            const runner_cmd *cmd,
                                            runner_result *out);
CAIRN_INTERNAL void cairn__runner_result_free(runner_result *res);
/** True when @p cmd is a daemon operation's own command (not its probe
 *  or readiness check): no lifetime lock, no group sweep. */
CAIRN_INTERNAL int cairn__runner_cmd_daemon(const runner_cmd *cmd);
/** A command's environment: at most RUNNER_ENV_MAX malloc'd entries. */
typedef struct runner_env {
    char *v[RUNNER_ENV_MAX + 1]; /* NULL-terminated */
    size_t n;
} runner_env;
/** The clean environment: PATH HOME USER LOGNAME LANG LC_ALL TZ TMPDIR
 *  when set.  On failure @p env is empty. */
CAIRN_INTERNAL cairn_err cairn__runner_env_init(runner_env *env);
/** Append "key=<formatted value>" (CAIRN_ENOMEM, or CAIRN_EINVAL when
 *  full). */
CAIRN_INTERNAL cairn_err cairn__runner_env_add(runner_env *env, const char *key,
                                               const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
CAIRN_INTERNAL void cairn__runner_env_free(runner_env *env);
/**
 * Parse the @p len bytes of an env_file (KEY=VALUE lines; blank lines and
 * lines starting with '#' skipped; no quoting or expansion) into @p env,
 * later names replacing earlier ones.  @p buf is modified.  On failure
 * @p why names the line, never a value.  Fuzzed: fuzz/fuzz_env_file.c.
 * @return CAIRN_OK; CAIRN_EINVAL (a NUL byte, no '=', a bad name, too
 *         many variables, @p env full); CAIRN_ENOMEM.
 */
CAIRN_INTERNAL cairn_err cairn__env_file_parse(char *buf, size_t len,
                                               runner_env *env, char *why,
                                               size_t why_len);
/** The first output @p op requires that @p outputs lacks or that breaks
 *  its rule (type, pattern), or NULL; @p why then says which and how
 *  ("required output \"digest\" is missing", "... is empty (type
 *  nonempty)", ...). */
CAIRN_INTERNAL const char *
cairn__runner_output_problem(const cairn_plan_op *op,
                             const cairn_kvlist *outputs, char *why,
                             size_t why_len);
/** Add "key=value" (formatted) to @p list. */
CAIRN_INTERNAL cairn_err cairn__kv_addf(cairn_kvlist *list, const char *key,
                                        const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* runner_daemon.c */
/** Find what daemon command @p leader left (its group or session, new
 *  processes adopted by the runner, their descendants), remember them,
 *  and add "daemon_pids" ("pid/pgid/comm ..." or "none") to @p evidence. */
CAIRN_INTERNAL cairn_err cairn__runner_daemon_record(cairn_runner *r,
                                                     pid_t leader,
                                                     cairn_kvlist *evidence);
/** Reap the runner's zombie children (adopted daemons that exited).  Call
 *  only between commands. */
CAIRN_INTERNAL void cairn__runner_reap_adopted(cairn_runner *r);
/** Run @p start's readiness check until it exits 0 (*ready = 1) or its
 *  timeout passes or a signal comes (*ready = 0, @p why says so).  Errors
 *  are the runner's own (CAIRN_ENOMEM, CAIRN_EIO). */
CAIRN_INTERNAL cairn_err cairn__runner_ready(cairn_runner *r,
                                             const runner_cmd *start,
                                             int *ready, char *why,
                                             size_t why_len);

/* runner_settings.c */
/** Apply the plan's then @p op's env settings to @p env.  CAIRN_EIO /
 *  CAIRN_EINVAL with @p detail ("env_file <path>: line N: ...", never a
 *  value) when an env_file cannot be used; CAIRN_ENOMEM. */
CAIRN_INTERNAL cairn_err cairn__runner_settings_env(const cairn_runner *r,
                                                    const cairn_plan_op *op,
                                                    runner_env *env,
                                                    char *detail,
                                                    size_t detail_len);
/** The working directory of @p op's commands (NULL: inherit); may be
 *  built in @p buf. */
CAIRN_INTERNAL const char *cairn__runner_cwd(const cairn_runner *r,
                                             const cairn_plan_op *op, char *buf,
                                             size_t cap);

/* runner_op.c */
/** Claim and run operation @p seq (kind NORMAL with retries, or
 *  CONTAINMENT/CLEANUP with one attempt).  *stop says how it ended. */
CAIRN_INTERNAL cairn_err cairn__runner_op(cairn_runner *r, uint32_t seq,
                                          cairn_claim_kind kind,
                                          runner_stop *stop);
/** Nonzero once a signal was counted. */
CAIRN_INTERNAL int cairn__runner_interrupted(const cairn_runner *r);
/** Nonzero once a second signal was counted (stop at once). */
CAIRN_INTERNAL int cairn__runner_interrupted_hard(const cairn_runner *r);
/** ns left before the run deadline; UINT64_MAX without a deadline. */
CAIRN_INTERNAL uint64_t cairn__runner_deadline_left(const cairn_runner *r);

/* runner_doubt.c */
/** Settle every in-doubt operation of @p s (resume). */
CAIRN_INTERNAL cairn_err cairn__runner_settle(cairn_runner *r,
                                              const cairn_summary *s,
                                              runner_stop *stop);

/* runner_lock.c */
/** Take the command-lifetime lock without waiting: *fd_out on CAIRN_OK;
 *  CAIRN_ELOCKED (journal detail names the holders); CAIRN_EIO. */
CAIRN_INTERNAL cairn_err cairn__runner_lock_cmd(cairn_runner *r, int *fd_out);
/** Write what the lock protects (op, attempt, runner pid, cmd->since_ns)
 *  into it, and with @p pr (NULL at the start) the heartbeat: bytes of
 *  output and when the last came. */
CAIRN_INTERNAL void cairn__runner_lock_note(const cairn_runner *r, int fd,
                                            const runner_cmd *cmd,
                                            const cairn_exec_progress *pr);
/** Create a fresh output file "run-<n>.<kind>-<random>" in tmp/ (name
 *  into @p name, descriptor into *fd_out); CAIRN_EIO with errno. */
CAIRN_INTERNAL cairn_err cairn__runner_tmp_file(cairn_runner *r,
                                                const char *kind, char *name,
                                                size_t cap, int *fd_out);
/** Remove tmp/@p name (a bare name; "" does nothing). */
CAIRN_INTERNAL void cairn__runner_tmp_unlink(cairn_runner *r, const char *name);
/** Add orphan_stdout_bytes/_tail and orphan_stderr_bytes/_tail for what
 *  the command of (@p seq, @p attempt) printed after its runner died. */
CAIRN_INTERNAL cairn_err cairn__runner_orphan_evidence(cairn_runner *r,
                                                       uint32_t seq,
                                                       uint32_t attempt,
                                                       cairn_kvlist *ev);
/** Read the lock note a dead runner left (call with the command lock
 *  free, before anything overwrites it). */
CAIRN_INTERNAL void cairn__runner_orphan_read(cairn_runner *r);
/** Remove the orphan's output files. */
CAIRN_INTERNAL void cairn__runner_orphan_done(cairn_runner *r);
CAIRN_INTERNAL void cairn__runner_unlock_cmd(int fd);
/** Open (create 0700 if absent) <journal>/tmp into r->tmp_fd: never
 *  through a symlink, and only when it is ours with no group or other
 *  access (CAIRN_ECORRUPT otherwise, naming it); CAIRN_EIO. */
CAIRN_INTERNAL cairn_err cairn__runner_tmp_open(cairn_runner *r);
CAIRN_INTERNAL void cairn__runner_tmp_close(cairn_runner *r);
/** Create a fresh, empty, mode-0600 $CAIRN_OUTPUT file of the run in the
 *  private tmp/ (its absolute name into @p path, its descriptor into
 *  *fd_out); CAIRN_EIO with errno set. */
CAIRN_INTERNAL cairn_err cairn__runner_output_file(cairn_runner *r, char *path,
                                                   size_t cap, int *fd_out);
/** Remove the output file @p path (relative to tmp/) and close @p fd. */
CAIRN_INTERNAL void cairn__runner_output_done(cairn_runner *r, const char *path,
                                              int fd);
/** Remove the run's $CAIRN_OUTPUT files left by a killed runner (call
 *  only with the run taken and its command lock free). */
CAIRN_INTERNAL void cairn__runner_sweep_outputs(cairn_runner *r);

/* runner_event.c */
/** Send @p ev (run id, total and elapsed filled in here). */
CAIRN_INTERNAL void cairn__runner_emit(cairn_runner *r, cairn_run_event *ev);
/** An event about operation @p seq. */
CAIRN_INTERNAL void cairn__runner_op_event(const cairn_runner *r,
                                           cairn_run_event *ev,
                                           cairn_run_event_type type,
                                           uint32_t seq);
/** Run @p hook with @p s and @p info in its environment (hook.c;
 *  cairn_hook_run() says which variables); @p jdir the journal directory,
 *  absolute; @p grace_ns SIGTERM -> SIGKILL (0: 5 s).  CAIRN_ECHILD
 *  with @p detail when it failed. */
CAIRN_INTERNAL cairn_err cairn__hook_exec(const char *hook, const char *jdir,
                                          const cairn_summary *s,
                                          const cairn_hook_info *info,
                                          uint64_t grace_ns, char *detail,
                                          size_t detail_len);
/** Re-read the summary; emit state-change and run the hook when the
 *  state moved.  *out (optional) receives the summary. */
CAIRN_INTERNAL cairn_err cairn__runner_observe(cairn_runner *r,
                                               cairn_summary **out);
/** Emit a dry-run event per operation. */
CAIRN_INTERNAL void cairn__runner_dry_run(cairn_runner *r);
/** Set the journal detail and emit a stopped event; returns @p err. */
CAIRN_INTERNAL cairn_err cairn__runner_stopped(cairn_runner *r, cairn_err err,
                                               const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/** "1.42s", "500ms", "2m3s" ... */
CAIRN_INTERNAL void cairn__runner_fmt_ns(uint64_t ns, char *out,
                                         size_t out_len);

#endif
