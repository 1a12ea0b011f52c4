/*
 * cancel.c - cairn cancel RUN [--reason R] [--timed-out] [--timeout DUR]:
 * end a run.  A run held by a live runner is stopped first: its runner
 * (only when the kernel confirms it holds the run: cairn_run_interrupt)
 * gets SIGTERM, stops as on any SIGTERM (its operation finished or
 * stopped and journaled, containment done), and the cancel is recorded
 * once it has let go of the run.
 */
#include "cli.h"

#include <errno.h>
#include <time.h>

enum { OPT_REASON = CLI_OPT_FIRST_LOCAL, OPT_TIMED_OUT, OPT_TIMEOUT };

/* How long to wait for a runner to stop, unless --timeout says. */
#define CANCEL_TIMEOUT_NS (120ull * 1000000000ull)
/* A primitive (claim, complete ...) holds a run only for a moment: how
 * long to let it finish before signalling anything. */
#define CANCEL_SETTLE_NS (500ull * 1000000ull)
#define CANCEL_POLL_NS (50ull * 1000000ull)

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void nap(uint64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000ull),
                          (long)(ns % 1000000000ull)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Try the cancel until it is not refused for the lock, or @p until
 * (monotonic) passes. */
static cairn_err cancel_until(cli_ctx *ctx, const char *run, int timed_out,
                              const cairn_actor_info *who, uint64_t until)
{
    for (;;) {
        cairn_err err = cairn_cancel(ctx->journal, run, timed_out, who);
        if (err != CAIRN_ELOCKED || mono_ns() >= until) {
            return err;
        }
        nap(CANCEL_POLL_NS);
    }
}

/* The run is held: stop its verified holder, wait, then cancel. */
static int cancel_live(cli_ctx *ctx, const char *run, int timed_out,
                       const cairn_actor_info *who, uint64_t timeout_ns)
{
    char wait[32];
    cairn_run_holder h;
    cairn_err err =
        cancel_until(ctx, run, timed_out, who, mono_ns() + CANCEL_SETTLE_NS);
    if (err != CAIRN_ELOCKED) {
        if (err != CAIRN_OK) {
            cli_die_run(ctx, err, run);
        }
        cli_hook_fire(ctx, run, 0, 0);
        return CLI_EXIT_OK;
    }
    err = cairn_run_interrupt(ctx->journal, run, &h);
    if (err == CAIRN_ELOCKED) {
        cli_die(cairn_exit_code(err),
                "cancel %s: %s: held by a process cairn will not signal: %s; "
                "stop it yourself, then cancel again",
                run, cairn_strerror(err), h.detail);
    }
    if (err != CAIRN_OK) {
        cli_die_run(ctx, err, run);
    }
    if (timeout_ns % 1000000000ull != 0) {
        snprintf(wait, sizeof(wait), "%llums",
                 (unsigned long long)(timeout_ns / 1000000ull));
    } else {
        snprintf(wait, sizeof(wait), "%llus",
                 (unsigned long long)(timeout_ns / 1000000000ull));
    }
    if (h.activity == CAIRN_ACTIVITY_ACTIVE) {
        fprintf(stderr,
                "cairn: cancel %s: asked its runner (pid %u on %s) to stop; "
                "waiting up to %s\n",
                run, h.pid, h.host, wait);
    }
    err = cancel_until(ctx, run, timed_out, who, mono_ns() + timeout_ns);
    if (err == CAIRN_ELOCKED) {
        cli_die(cairn_exit_code(err),
                "cancel %s: its runner (pid %u) did not let go of the run "
                "within %s (it may still be finishing its operation or its "
                "containment); nothing recorded: see `cairn status %s`, "
                "then cancel again (--timeout gives it longer)",
                run, h.pid, wait, run);
    }
    if (err == CAIRN_EFINISHED && h.activity == CAIRN_ACTIVITY_ACTIVE) {
        /* It ended the run itself (stopped targets: a cancel, then its
         * containment). */
        fprintf(stderr, "cairn: cancel %s: its runner ended the run\n", run);
        cli_hook_fire(ctx, run, 0, 0);
        return CLI_EXIT_OK;
    }
    if (err != CAIRN_OK) {
        cli_die_run(ctx, err, run);
    }
    if (h.activity == CAIRN_ACTIVITY_ACTIVE) {
        fprintf(stderr, "cairn: cancel %s: its runner stopped; run cancelled\n",
                run);
    }
    cli_hook_fire(ctx, run, 0, 0);
    return CLI_EXIT_OK;
}

int cmd_cancel(cli_ctx *ctx, int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_LONG_COMMON,
        CLI_LONG_WRITE,
        CLI_LONG_REMEMBER,
        CLI_LONG_HOOK,
        {"reason", required_argument, NULL, OPT_REASON},
        {"timed-out", no_argument, NULL, OPT_TIMED_OUT},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {0}};
    cairn_actor_info who = {NULL, NULL};
    uint64_t timeout_ns = CANCEL_TIMEOUT_NS;
    int timed_out = 0;
    const char *run;
    cairn_err err;
    int c;

    cli_getopt_reset();
    while ((c = getopt_long(argc, argv, CLI_SHORT_COMMON, longopts, NULL)) !=
           -1) {
        if (cli_common_option(ctx, c, optarg, argv)) {
            continue;
        }
        if (c == OPT_REASON) {
            who.reason = optarg;
        } else if (c == OPT_TIMED_OUT) {
            timed_out = 1;
        } else if (c == OPT_TIMEOUT &&
                   (cli_parse_duration(optarg, &timeout_ns) != 0 ||
                    timeout_ns == 0)) {
            cli_usage_error(ctx,
                            "--timeout: '%s' is not a duration (30s, 2m, "
                            "500ms)",
                            optarg);
        }
    }
    run = cli_one_arg(ctx, argc, argv, "RUN");
    cli_open(ctx);
    who.actor = cli_actor(ctx);
    err = cairn_cancel(ctx->journal, run, timed_out, &who);
    if (err == CAIRN_ELOCKED) {
        return cancel_live(ctx, run, timed_out, &who, timeout_ns);
    }
    if (err != CAIRN_OK) {
        cli_die_run(ctx, err, run);
    }
    cli_hook_fire(ctx, run, 0, 0);
    return CLI_EXIT_OK;
}
