/*
 * cli_runs.c - finding runs: the run ids of the journal, `latest` and
 * unique-prefix run ids, and the run filter of list and stats.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

/* Candidates named when a prefix is ambiguous. */
#define MAX_NAMED 8

static int collect(void *arg, const char *run_id)
{
    cli_run_ids *ids = arg;
    char *copy;

    if (ids->n == ids->cap) {
        size_t cap = ids->cap == 0 ? 64 : ids->cap * 2;
        char **v = cap > SIZE_MAX / sizeof(*v)
                       ? NULL
                       : realloc(ids->v, cap * sizeof(*v));
        if (v == NULL) {
            cli_die_nomem();
        }
        ids->v = v;
        ids->cap = cap;
    }
    copy = strdup(run_id);
    if (copy == NULL) {
        cli_die_nomem();
    }
    ids->v[ids->n++] = copy;
    return 0;
}

void cli_run_ids_get(cli_ctx *ctx, cli_run_ids *ids)
{
    cairn_err err;

    memset(ids, 0, sizeof(*ids));
    err = cairn_run_each(ctx->journal, collect, ids);
    if (err != CAIRN_OK) {
        cli_run_ids_free(ids);
        cli_die_run(ctx, err, NULL);
    }
}

void cli_run_ids_free(cli_run_ids *ids)
{
    size_t i;

    for (i = 0; i < ids->n; i++) {
        free(ids->v[i]);
    }
    free(ids->v);
    memset(ids, 0, sizeof(*ids));
}

/* What the run ids say about the argument. */
typedef struct resolve_state {
    const char *arg;
    size_t arg_len;
    int exact;
    size_t n_runs;
    char last[CAIRN_MAX_ID + 1];  /* the run created last */
    char match[CAIRN_MAX_ID + 1]; /* the first prefix match */
    size_t n_matches;
    char named[MAX_NAMED][CAIRN_MAX_ID + 1];
} resolve_state;

static int resolve_one(void *arg, const char *run_id)
{
    resolve_state *st = arg;

    st->n_runs++;
    snprintf(st->last, sizeof(st->last), "%s", run_id);
    if (strcmp(run_id, st->arg) == 0) {
        st->exact = 1;
        return 0;
    }
    if (strncmp(run_id, st->arg, st->arg_len) == 0) {
        if (st->n_matches < MAX_NAMED) {
            snprintf(st->named[st->n_matches], CAIRN_MAX_ID + 1, "%s", run_id);
        }
        st->n_matches++;
    }
    return 0;
}

static void die_ambiguous(const cli_ctx *ctx, const resolve_state *st)
{
    char list[MAX_NAMED * (CAIRN_MAX_ID + 2) + 16] = "";
    size_t i, n = st->n_matches < MAX_NAMED ? st->n_matches : MAX_NAMED;

    for (i = 0; i < n; i++) {
        size_t used = strlen(list);
        snprintf(list + used, sizeof(list) - used, "%s%s", i > 0 ? ", " : "",
                 st->named[i]);
    }
    cli_die(CLI_EXIT_USAGE,
            "%s: run id prefix '%s' is ambiguous: %zu runs match: %s%s",
            ctx->cmd->name, st->arg, st->n_matches, list,
            st->n_matches > n ? ", ..." : "");
}

void cli_resolve_run(cli_ctx *ctx)
{
    resolve_state *st;
    cairn_err err;

    if (!ctx->run_pending || ctx->journal == NULL) {
        return;
    }
    ctx->run_pending = 0;
    st = calloc(1, sizeof(*st));
    if (st == NULL) {
        cli_die_nomem();
    }
    st->arg = ctx->run;
    st->arg_len = strlen(ctx->run);
    err = cairn_run_each(ctx->journal, resolve_one, st);
    if (err != CAIRN_OK) {
        free(st);
        cli_die_run(ctx, err, NULL);
    }
    if (st->exact) {
        free(st);
        return;
    }
    if (strcmp(ctx->run, "latest") == 0) {
        if (st->n_runs == 0) {
            free(st);
            cli_die(CLI_EXIT_USAGE, "%s latest: the journal has no runs",
                    ctx->cmd->name);
        }
        snprintf(ctx->run, sizeof(ctx->run), "%s", st->last);
    } else if (st->n_matches == 1) {
        snprintf(ctx->run, sizeof(ctx->run), "%s", st->named[0]);
    } else if (st->n_matches > 1) {
        die_ambiguous(ctx, st);
    }
    free(st);
}

/* ---------------------------------------------------------------- */
/* The filter.                                                        */

static void push(const char ***v, size_t *n, const char *value)
{
    const char **grown = realloc((void *)*v, (*n + 1) * sizeof(**v));

    if (grown == NULL) {
        cli_die_nomem();
    }
    grown[(*n)++] = value;
    *v = grown;
}

/* The run state named @p word, or 0. */
static unsigned state_of(const char *word, size_t len)
{
    unsigned st;

    for (st = CAIRN_RUN_AWAITING_PREFLIGHT; st <= CAIRN_RUN_CANCELLED; st++) {
        const char *name = cairn_run_state_name((cairn_run_state)st);
        if (strlen(name) == len && strncmp(name, word, len) == 0) {
            return st;
        }
    }
    return 0;
}

/* --state S[,S...] */
static void add_states(cli_ctx *ctx, cli_run_filter *f, const char *arg)
{
    const char *p = arg;

    for (;;) {
        size_t len = strcspn(p, ",");
        unsigned st = state_of(p, len);
        if (st == 0) {
            cli_usage_error(ctx,
                            "--state: unknown run state '%.*s' (one of "
                            "awaiting-preflight, running, completed, failed, "
                            "needs-attention, timed-out, cancelled)",
                            (int)len, p);
        }
        f->states |= 1u << st;
        if (p[len] == '\0') {
            return;
        }
        p += len + 1;
    }
}

static void add_time(cli_ctx *ctx, const char *opt, const char *arg,
                     uint64_t *ns, int *have)
{
    if (cli_parse_since(arg, cli_now_ns(), ns) != 0) {
        cli_usage_error(ctx,
                        "%s: '%s' is neither an ISO 8601 UTC time "
                        "(2026-11-24T10:00:00Z) nor a duration ago (7d, 2h)",
                        opt, arg);
    }
    *have = 1;
}

int cli_filter_option(cli_ctx *ctx, cli_run_filter *f, int c, const char *arg)
{
    switch (c) {
    case CLI_OPT_FILTER_STATE:
        add_states(ctx, f, arg);
        return 1;
    case CLI_OPT_FILTER_PLAN:
        if (arg[0] == '\0') {
            cli_usage_error(ctx, "--plan: empty plan id");
        }
        push(&f->plans, &f->n_plans, arg);
        return 1;
    case CLI_OPT_FILTER_TARGET:
        if (arg[0] == '\0') {
            cli_usage_error(ctx, "--target: empty target");
        }
        push(&f->targets, &f->n_targets, arg);
        return 1;
    case CLI_OPT_FILTER_SINCE:
        add_time(ctx, "--since", arg, &f->since_ns, &f->have_since);
        return 1;
    case CLI_OPT_FILTER_UNTIL:
        add_time(ctx, "--until", arg, &f->until_ns, &f->have_until);
        return 1;
    case CLI_OPT_FILTER_ATTENTION:
        f->attention = 1;
        return 1;
    case CLI_OPT_FILTER_HELD:
        f->held = 1;
        return 1;
    default:
        return 0;
    }
}

void cli_filter_check(cli_ctx *ctx, const cli_run_filter *f)
{
    if (f->have_since && f->have_until && f->since_ns > f->until_ns) {
        cli_usage_error(ctx, "--since is later than --until");
    }
}

int cli_run_needs_attention(const cairn_summary *s)
{
    return s->state == CAIRN_RUN_NEEDS_ATTENTION ||
           s->state == CAIRN_RUN_FAILED || s->n_in_doubt > 0 ||
           s->restart_required;
}

static int any_equal(const char *const *v, size_t n, const char *s)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (strcmp(v[i], s) == 0) {
            return 1;
        }
    }
    return 0;
}

static int has_target(const cli_run_filter *f, const cairn_summary *s)
{
    size_t i;

    for (i = 0; i < s->n_ops; i++) {
        if (s->ops[i].target[0] != '\0' &&
            any_equal(f->targets, f->n_targets, s->ops[i].target)) {
            return 1;
        }
    }
    return 0;
}

int cli_filter_match(const cli_run_filter *f, const cairn_summary *s)
{
    if (f->states != 0 && (f->states & (1u << (unsigned)s->state)) == 0) {
        return 0;
    }
    if (f->n_plans > 0 && !any_equal(f->plans, f->n_plans, s->plan_id)) {
        return 0;
    }
    if (f->n_targets > 0 && !has_target(f, s)) {
        return 0;
    }
    if (f->have_since && s->created_ns < f->since_ns) {
        return 0;
    }
    if (f->have_until && s->created_ns > f->until_ns) {
        return 0;
    }
    if (f->attention && !cli_run_needs_attention(s)) {
        return 0;
    }
    if (f->held && !cairn_hold_active(s, cli_now_ns())) {
        return 0;
    }
    return 1;
}

void cli_filter_free(cli_run_filter *f)
{
    free((void *)f->plans);
    free((void *)f->targets);
    memset(f, 0, sizeof(*f));
}
