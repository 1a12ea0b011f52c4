/*
 * log.c - cairn log RUN [-f] [--since T] [--type T] [--op OP] [--actor A]:
 * the records of a run, one per line.
 */
#include "cli.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#define FOLLOW_POLL_NS 200000000L

enum { OPT_SINCE = CLI_OPT_FIRST_LOCAL, OPT_TYPE, OPT_OP, OPT_ACTOR };

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
    unsigned types;         /* bit (1 << type) of --type; 0: all */
    const char *op;         /* --op SEQ or ID, or NULL */
    const char *actor;      /* --actor, or NULL */
} log_state;

/* --type T[,T...]: bits of the record types named. */
static unsigned parse_types(cli_ctx *ctx, const char *arg)
{
    unsigned bits = 0;
    const char *p = arg;

    for (;;) {
        size_t len = strcspn(p, ",");
        unsigned t, found = 0;
        for (t = CAIRN_REC_CREATE; t <= CAIRN_REC_RELEASE; t++) {
            const char *name = cairn_record_type_name((cairn_record_type)t);
            if (strlen(name) == len && strncmp(name, p, len) == 0) {
                found = t;
            }
        }
        if (found == 0) {
            cli_usage_error(ctx,
                            "--type: unknown record type '%.*s' (one of "
                            "create, accept-preflight, claim, receipt, retry, "
                            "resolve, cancel, timeout, hold, release)",
                            (int)len, p);
        }
        bits |= 1u << found;
        if (p[len] == '\0') {
            return bits;
        }
        p += len + 1;
    }
}

/* Does record @p r concern the operation --op names (sequence or id)? */
static int is_op(const log_state *st, const cairn_record_view *r)
{
    char seq[16];
    const char *id;

    if (r->type != CAIRN_REC_CLAIM && r->type != CAIRN_REC_RECEIPT &&
        r->type != CAIRN_REC_RETRY && r->type != CAIRN_REC_RESOLVE) {
        return 0;
    }
    snprintf(seq, sizeof(seq), "%u", r->op);
    id = cli_op_id(st->s, r->op);
    return strcmp(seq, st->op) == 0 || (id != NULL && strcmp(id, st->op) == 0);
}

/* Does @p op name an operation of the run (sequence or id)? */
static int names_op(const cairn_summary *s, const char *op)
{
    size_t i;

    for (i = 0; i < s->n_ops; i++) {
        char seq[16];
        snprintf(seq, sizeof(seq), "%u", s->ops[i].seq);
        if (strcmp(seq, op) == 0 || strcmp(s->ops[i].id, op) == 0) {
            return 1;
        }
    }
    return 0;
}

static int wanted(const log_state *st, const cairn_record_view *r)
{
    if (st->types != 0 && (st->types & (1u << (unsigned)r->type)) == 0) {
        return 0;
    }
    if (st->op != NULL && !is_op(st, r)) {
        return 0;
    }
    return st->actor == NULL || strcmp(r->actor, st->actor) == 0;
}

static int each_record(void *arg, const cairn_record_view *r)
{
    log_state *st = arg;

    st->next_seq = r->seq + 1;
    if (r->wall_ns < st->since_ns || !wanted(st, r)) {
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
        {"type", required_argument, NULL, OPT_TYPE},
        {"op", required_argument, NULL, OPT_OP},
        {"actor", required_argument, NULL, OPT_ACTOR},
        {0}};
    log_state st = {ctx, NULL, 0, 0, 0, NULL, NULL};
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
        } else if (c == OPT_TYPE) {
            st.types |= parse_types(ctx, optarg);
        } else if (c == OPT_OP) {
            if (optarg[0] == '\0') {
                cli_usage_error(ctx, "--op: empty operation");
            }
            st.op = optarg;
        } else if (c == OPT_ACTOR) {
            st.actor = optarg;
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
    if (st.op != NULL && !names_op(s, st.op)) {
        cairn_summary_free(s);
        cli_usage_error(ctx, "--op: run %s has no operation '%s'", run, st.op);
    }
    print_from(ctx, run, &st);
    if (do_follow) {
        follow(ctx, run, &st);
    }
    cairn_summary_free(s);
    return CLI_EXIT_OK;
}
