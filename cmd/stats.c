/*
 * stats.c - cairn stats: runs by state, attempt durations by operation
 * kind, failure and retry rates, in-doubt operations, journal size and
 * growth; per plan and for the whole journal.
 *
 * Built from the public API one run at a time (cairn_status, then
 * cairn_record_each): what stays in memory is the run ids, the counters
 * per plan, and one 8-byte duration per finished attempt (twice: per plan
 * and overall) for the exact quantiles.
 */
#include "stats.h"

#include <stdlib.h>
#include <string.h>

#define NS_PER_DAY (86400ull * 1000000000ull)

enum { OPT_PROM = CLI_OPT_FIRST_LOCAL };

static void add_duration(stats_durations *d, uint64_t ns)
{
    if (d->n == d->cap) {
        size_t cap = d->cap == 0 ? 64 : d->cap * 2;
        uint64_t *v = cap > SIZE_MAX / sizeof(*v)
                          ? NULL
                          : realloc(d->v, cap * sizeof(*v));
        if (v == NULL) {
            cli_die_nomem();
        }
        d->v = v;
        d->cap = cap;
    }
    d->v[d->n++] = ns;
    d->sum_ns += ns;
    d->max_ns = ns > d->max_ns ? ns : d->max_ns;
    d->sorted = 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

uint64_t stats_quantile(stats_durations *d, double q)
{
    size_t rank;

    if (d->n == 0) {
        return 0;
    }
    if (!d->sorted) {
        qsort(d->v, d->n, sizeof(*d->v), cmp_u64);
        d->sorted = 1;
    }
    rank = (size_t)(q * (double)d->n + 0.999999999);
    rank = rank == 0 ? 1 : rank > d->n ? d->n : rank;
    return d->v[rank - 1];
}

double stats_ratio(uint64_t num, uint64_t den)
{
    return den == 0 ? 0.0 : (double)num / (double)den;
}

uint64_t stats_journal_bytes(const stats *st)
{
    return st->info.pages_used * st->info.page_size;
}

double stats_per_day(const stats *st, uint64_t amount)
{
    uint64_t age =
        st->now_ns > st->info.created_ns ? st->now_ns - st->info.created_ns : 0;
    if (age < 1000000000ull) {
        age = 1000000000ull; /* at least a second */
    }
    return (double)amount * (double)NS_PER_DAY / (double)age;
}

static stats_agg *plan_agg(stats *st, const char *plan)
{
    size_t i;

    for (i = 0; i < st->n_plans; i++) {
        if (strcmp(st->plans[i].plan, plan) == 0) {
            return &st->plans[i];
        }
    }
    if (st->n_plans == st->cap_plans) {
        size_t cap = st->cap_plans == 0 ? 8 : st->cap_plans * 2;
        stats_agg *v = realloc(st->plans, cap * sizeof(*v));
        if (v == NULL) {
            cli_die_nomem();
        }
        st->plans = v;
        st->cap_plans = cap;
    }
    memset(&st->plans[st->n_plans], 0, sizeof(st->plans[0]));
    snprintf(st->plans[st->n_plans].plan, CAIRN_MAX_ID + 1, "%s", plan);
    return &st->plans[st->n_plans++];
}

/* The walk over one run's records. */
typedef struct run_walk {
    stats *st;
    stats_agg *plan;
    const cairn_summary *s;
    uint64_t *claim_ns; /* by op sequence: start of the open attempt */
} run_walk;

static void outcome(run_walk *w, const cairn_record_view *r)
{
    w->plan->outcomes++;
    w->st->all.outcomes++;
    if (r->outcome == CAIRN_OUTCOME_FAILED) {
        w->plan->failures++;
        w->st->all.failures++;
    }
    if (r->type == CAIRN_REC_RECEIPT && w->claim_ns[r->op] != 0 &&
        r->wall_ns >= w->claim_ns[r->op]) {
        unsigned kind = (unsigned)w->s->ops[r->op].kind;
        uint64_t ns = r->wall_ns - w->claim_ns[r->op];
        if (kind < STATS_KINDS) {
            add_duration(&w->plan->kinds[kind], ns);
            add_duration(&w->st->all.kinds[kind], ns);
        }
    }
    w->claim_ns[r->op] = 0;
}

static int each_record(void *arg, const cairn_record_view *r)
{
    run_walk *w = arg;
    stats *st = w->st;

    w->plan->records++;
    st->all.records++;
    w->plan->record_bytes += r->encoded_len;
    st->all.record_bytes += r->encoded_len;
    if (r->wall_ns + NS_PER_DAY >= st->now_ns) {
        st->day_records++;
        st->day_bytes += r->encoded_len;
    }
    switch (r->type) {
    case CAIRN_REC_CLAIM:
        if (r->op < w->s->n_ops) {
            w->plan->claims++;
            st->all.claims++;
            if (r->attempt > 1) {
                w->plan->retries++;
                st->all.retries++;
            }
            w->claim_ns[r->op] = r->wall_ns;
        }
        break;
    case CAIRN_REC_RECEIPT:
    case CAIRN_REC_RESOLVE:
        if (r->op < w->s->n_ops) {
            outcome(w, r);
        }
        break;
    case CAIRN_REC_CREATE:
    case CAIRN_REC_ACCEPT:
    case CAIRN_REC_RETRY:
    case CAIRN_REC_CANCEL:
    case CAIRN_REC_TIMEOUT:
    case CAIRN_REC_PRUNE:
    case CAIRN_REC_HOLD:
    case CAIRN_REC_RELEASE:
    case CAIRN_REC_ROTATE:
        break;
    }
    return 0;
}

static void count_run(stats_agg *a, const cairn_summary *s)
{
    a->runs++;
    if ((unsigned)s->state < STATS_STATES) {
        a->states[s->state]++;
    }
    a->in_doubt_ops += s->n_in_doubt;
    a->in_doubt_runs += s->n_in_doubt > 0;
    a->held_runs += cairn_hold_active(s, cli_now_ns()) != 0;
    if (s->state == CAIRN_RUN_COMPLETED &&
        s->updated_ns > a->last_completed_ns) {
        a->last_completed_ns = s->updated_ns;
    }
}

/* Add one run; returns 0, or the exit code of a failure (reported). */
static int add_run(cli_ctx *ctx, stats *st, const cli_run_filter *f,
                   const char *run)
{
    cairn_summary *s = NULL;
    run_walk w;
    cairn_err err = cairn_status(ctx->journal, run, &s);

    if (err == CAIRN_OK && !cli_filter_match(f, s)) {
        cairn_summary_free(s);
        return CLI_EXIT_OK;
    }
    if (err == CAIRN_OK) {
        w.st = st;
        w.s = s;
        w.plan = plan_agg(st, s->plan_id);
        w.claim_ns = calloc(s->n_ops + 1, sizeof(*w.claim_ns));
        if (w.claim_ns == NULL) {
            cli_die_nomem();
        }
        count_run(w.plan, s);
        count_run(&st->all, s);
        err = cairn_record_each(ctx->journal, run, 0, each_record, &w);
        free(w.claim_ns);
    }
    cairn_summary_free(s);
    if (err != CAIRN_OK) {
        fprintf(stderr, "cairn: stats: run %s: %s: %s\n", run,
                cairn_strerror(err), cairn_journal_errdetail(ctx->journal));
        return cairn_exit_code(err);
    }
    return CLI_EXIT_OK;
}

/* ---------------------------------------------------------------- */
/* Text and JSON.                                                     */

static void put_duration(uint64_t ns)
{
    printf("  %10.3fs", (double)ns / 1e9);
}

static void text_agg(stats_agg *a)
{
    unsigned k, i;

    printf("  runs        %llu:", (unsigned long long)a->runs);
    for (i = 1; i < STATS_STATES; i++) {
        if (a->states[i] > 0) {
            printf(" %s %llu", cairn_run_state_name((cairn_run_state)i),
                   (unsigned long long)a->states[i]);
        }
    }
    printf("\n  attempts    %llu, retries %llu (%.1f%%), outcomes %llu, "
           "failures %llu (%.1f%%)\n",
           (unsigned long long)a->claims, (unsigned long long)a->retries,
           100.0 * stats_ratio(a->retries, a->claims),
           (unsigned long long)a->outcomes, (unsigned long long)a->failures,
           100.0 * stats_ratio(a->failures, a->outcomes));
    printf("  in doubt    %llu operation%s in %llu run%s\n",
           (unsigned long long)a->in_doubt_ops, a->in_doubt_ops == 1 ? "" : "s",
           (unsigned long long)a->in_doubt_runs,
           a->in_doubt_runs == 1 ? "" : "s");
    printf("  held        %llu run%s\n", (unsigned long long)a->held_runs,
           a->held_runs == 1 ? "" : "s");
    printf("  records     %llu (%llu bytes)\n", (unsigned long long)a->records,
           (unsigned long long)a->record_bytes);
    printf("  %-10s  %8s  %11s  %11s  %11s\n", "kind", "attempts", "p50", "p95",
           "max");
    for (k = 1; k < STATS_KINDS; k++) {
        stats_durations *d = &a->kinds[k];
        if (d->n == 0) {
            continue;
        }
        printf("  %-10s  %8zu", cairn_kind_name((cairn_kind)k), d->n);
        put_duration(stats_quantile(d, 0.5));
        put_duration(stats_quantile(d, 0.95));
        put_duration(d->max_ns);
        putchar('\n');
    }
}

static void print_text(const cli_ctx *ctx, stats *st)
{
    char created[40];
    size_t i;

    cli_time(st->info.created_ns, created, sizeof(created));
    printf("journal     %s (created %s)\n", ctx->journal_dir, created);
    printf("size        %llu bytes in use, %llu records, %llu runs\n",
           (unsigned long long)stats_journal_bytes(st),
           (unsigned long long)st->info.records,
           (unsigned long long)st->info.runs);
    printf("growth      %.0f bytes/day, %.1f records/day over its life; "
           "last 24 h: %llu records, %llu bytes\n",
           stats_per_day(st, stats_journal_bytes(st)),
           stats_per_day(st, st->info.records),
           (unsigned long long)st->day_records,
           (unsigned long long)st->day_bytes);
    printf("\nall plans\n");
    text_agg(&st->all);
    for (i = 0; i < st->n_plans; i++) {
        printf("\nplan ");
        cli_put_escaped(stdout, st->plans[i].plan);
        putchar('\n');
        text_agg(&st->plans[i]);
    }
}

static json_t *json_agg(stats_agg *a)
{
    json_t *o = json_object(), *states = json_object(), *kinds = json_object();
    unsigned i;

    if (o == NULL || states == NULL || kinds == NULL) {
        cli_die_nomem();
    }
    cli_jset(o, "runs", cli_ju64(a->runs));
    for (i = 1; i < STATS_STATES; i++) {
        cli_jset(states, cairn_run_state_name((cairn_run_state)i),
                 cli_ju64(a->states[i]));
    }
    cli_jset(o, "states", states);
    cli_jset(o, "attempts", cli_ju64(a->claims));
    cli_jset(o, "retries", cli_ju64(a->retries));
    cli_jset(o, "retry_rate", json_real(stats_ratio(a->retries, a->claims)));
    cli_jset(o, "outcomes", cli_ju64(a->outcomes));
    cli_jset(o, "failures", cli_ju64(a->failures));
    cli_jset(o, "failure_rate",
             json_real(stats_ratio(a->failures, a->outcomes)));
    cli_jset(o, "in_doubt_ops", cli_ju64(a->in_doubt_ops));
    cli_jset(o, "in_doubt_runs", cli_ju64(a->in_doubt_runs));
    cli_jset(o, "held_runs", cli_ju64(a->held_runs));
    cli_jset(o, "records", cli_ju64(a->records));
    cli_jset(o, "record_bytes", cli_ju64(a->record_bytes));
    cli_jset(o, "last_completed", cli_jtime(a->last_completed_ns));
    for (i = 1; i < STATS_KINDS; i++) {
        stats_durations *d = &a->kinds[i];
        json_t *k;
        if (d->n == 0) {
            continue;
        }
        if ((k = json_object()) == NULL) {
            cli_die_nomem();
        }
        cli_jset(k, "count", cli_ju64(d->n));
        cli_jset(k, "p50_ns", cli_ju64(stats_quantile(d, 0.5)));
        cli_jset(k, "p95_ns", cli_ju64(stats_quantile(d, 0.95)));
        cli_jset(k, "max_ns", cli_ju64(d->max_ns));
        cli_jset(k, "sum_ns", cli_ju64(d->sum_ns));
        cli_jset(kinds, cairn_kind_name((cairn_kind)i), k);
    }
    cli_jset(o, "kinds", kinds);
    return o;
}

static void print_json(const cli_ctx *ctx, stats *st)
{
    json_t *o = json_object(), *j = json_object(), *plans = json_object();
    size_t i;

    if (o == NULL || j == NULL || plans == NULL) {
        cli_die_nomem();
    }
    cli_jset(j, "dir", cli_jstr(ctx->journal_dir));
    cli_jset(j, "created", cli_jtime(st->info.created_ns));
    cli_jset(j, "runs", cli_ju64(st->info.runs));
    cli_jset(j, "records", cli_ju64(st->info.records));
    cli_jset(j, "bytes", cli_ju64(stats_journal_bytes(st)));
    cli_jset(j, "bytes_per_day",
             json_real(stats_per_day(st, stats_journal_bytes(st))));
    cli_jset(j, "records_per_day",
             json_real(stats_per_day(st, st->info.records)));
    cli_jset(j, "last_day_records", cli_ju64(st->day_records));
    cli_jset(j, "last_day_bytes", cli_ju64(st->day_bytes));
    cli_jset(o, "journal", j);
    cli_jset(o, "all", json_agg(&st->all));
    for (i = 0; i < st->n_plans; i++) {
        cli_jset(plans, st->plans[i].plan, json_agg(&st->plans[i]));
    }
    cli_jset(o, "plans", plans);
    cli_jprint(o);
}

static int by_plan(const void *a, const void *b)
{
    return strcmp(((const stats_agg *)a)->plan, ((const stats_agg *)b)->plan);
}

static void free_agg(stats_agg *a)
{
    unsigned k;

    for (k = 0; k < STATS_KINDS; k++) {
        free(a->kinds[k].v);
    }
}

static int collect(cli_ctx *ctx, stats *st, const cli_run_filter *f)
{
    cli_run_ids ids;
    cairn_err err;
    size_t i;
    int rc = CLI_EXIT_OK;

    err = cairn_journal_info_get(ctx->journal, &st->info);
    if (err != CAIRN_OK) {
        cli_die_run(ctx, err, NULL);
    }
    st->now_ns = cli_now_ns();
    cli_run_ids_get(ctx, &ids);
    for (i = 0; i < ids.n; i++) {
        int one = add_run(ctx, st, f, ids.v[i]);
        rc = rc == CLI_EXIT_OK ? one : rc;
    }
    cli_run_ids_free(&ids);
    if (st->n_plans > 1) {
        qsort(st->plans, st->n_plans, sizeof(*st->plans), by_plan);
    }
    return rc;
}

int cmd_stats(cli_ctx *ctx, int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_LONG_COMMON,
        CLI_LONG_FILTER,
        {"prom", required_argument, NULL, OPT_PROM},
        {0}};
    const char *prom = NULL;
    cli_run_filter f;
    stats st;
    size_t i;
    int c, rc;

    memset(&f, 0, sizeof(f));
    memset(&st, 0, sizeof(st));
    cli_getopt_reset();
    while ((c = getopt_long(argc, argv, CLI_SHORT_COMMON, longopts, NULL)) !=
           -1) {
        if (cli_common_option(ctx, c, optarg, argv) ||
            cli_filter_option(ctx, &f, c, optarg)) {
            continue;
        }
        if (c == OPT_PROM) {
            if (optarg[0] == '\0') {
                cli_usage_error(ctx, "--prom: empty file name");
            }
            prom = optarg;
        }
    }
    cli_no_args(ctx, argc, argv);
    cli_filter_check(ctx, &f);
    cli_open(ctx);
    rc = collect(ctx, &st, &f);
    if (prom != NULL) {
        stats_write_prom(ctx, &st, prom);
    } else if (ctx->format == CLI_JSON) {
        print_json(ctx, &st);
    } else {
        print_text(ctx, &st);
    }
    free_agg(&st.all);
    for (i = 0; i < st.n_plans; i++) {
        free_agg(&st.plans[i]);
    }
    free(st.plans);
    cli_filter_free(&f);
    return rc;
}
