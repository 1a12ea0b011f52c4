/*
 * log.c - cairn log RUN [-f] [--since T]: the records of a run, one per line.
 */
#include "cli.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#define FOLLOW_POLL_NS 200000000L

enum { OPT_SINCE = CLI_OPT_FIRST_LOCAL };

/* Set by SIGINT/SIGTERM while following (CLI only). */
static volatile sig_atomic_t stop_following;

static void on_stop(int sig)
{
    (void)sig;
    stop_following = 1;
}

typedef struct log_state {
    const cli_ctx *ctx;
    const cairn_summary *s; /* names operations */
    uint64_t since_ns;      /* 0: everything */
    uint64_t next_seq;      /* first record not printed yet */
} log_state;

static int each_record(void *arg, const cairn_record_view *r)
{
    log_state *st = arg;

    st->next_seq = r->seq + 1;
    if (r->wall_ns < st->since_ns) {
        return 0;
    }
    if (st->ctx->format == CLI_JSON) {
        cli_jprint(cli_json_record(r, st->s));
    } else {
        cli_text_record(stdout, r, st->s);
    }
    return 0;
}

static void print_from(cli_ctx *ctx, const char *run, log_state *st)
{
    cairn_err err =
        cairn_record_each(ctx->journal, run, st->next_seq, each_record, st);

    if (err != CAIRN_OK) {
        cli_die_run(ctx, err, run);
    }
    if (fflush(stdout) != 0) {
        cli_die(CLI_EXIT_ERROR, "stdout: %s", strerror(errno));
    }
}

/* Poll for new records until SIGINT or SIGTERM; then exit 0. */
static void follow(cli_ctx *ctx, const char *run, log_state *st)
{
    struct sigaction sa;
    struct timespec pause = {0, FOLLOW_POLL_NS};

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    while (!stop_following) {
        if (nanosleep(&pause, NULL) != 0 && errno != EINTR) {
            break;
        }
        if (stop_following) {
            break;
        }
        print_from(ctx, run, st);
    }
}

int cmd_log(cli_ctx *ctx, int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_LONG_COMMON,
        {"follow", no_argument, NULL, 'f'},
        {"since", required_argument, NULL, OPT_SINCE},
        {0}};
    log_state st = {ctx, NULL, 0, 0};
    cairn_summary *s = NULL;
    int do_follow = 0;
    const char *run;
    cairn_err err;
    int c;

    cli_getopt_reset();
    while ((c = getopt_long(argc, argv, CLI_SHORT_COMMON "f", longopts,
                            NULL)) != -1) {
        if (cli_common_option(ctx, c, optarg, argv)) {
            continue;
        }
        if (c == 'f') {
            do_follow = 1;
        } else if (c == OPT_SINCE &&
                   cli_parse_since(optarg, cli_now_ns(), &st.since_ns) != 0) {
            cli_usage_error(ctx,
                            "--since: '%s' is neither an RFC 3339 time "
                            "(2026-11-24T10:00:00Z) nor a duration (10m, 2h)",
                            optarg);
        }
    }
    run = cli_one_arg(ctx, argc, argv, "RUN");
    cli_open(ctx);
    /* The summary names operations (the plan is immutable). */
    err = cairn_status(ctx->journal, run, &s);
    if (err != CAIRN_OK) {
        cli_die_run(ctx, err, run);
    }
    st.s = s;
    print_from(ctx, run, &st);
    if (do_follow) {
        follow(ctx, run, &st);
    }
    cairn_summary_free(s);
    return CLI_EXIT_OK;
}
