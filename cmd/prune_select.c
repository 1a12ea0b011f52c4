/*
 * prune_select.c - which runs `cairn prune` removes, and the prune plan.
 *
 * Every run of the journal gets one verdict (prune.h): not prunable
 * (with the reason), kept (with the keep rule), or selected (with the
 * rules that selected it).  A run is eligible when it has ended
 * (completed, failed, cancelled, timed out), has no operation pending or
 * in doubt, no process holds it, and the library agrees
 * (cairn_prune_check(): not held, not imported, not pruned).  Keep rules
 * protect eligible runs; --state narrows what is selected; without
 * --max-journal-size every eligible run no rule keeps is selected, with
 * it only the oldest ones until the journal's record bytes are under the
 * size.  The selected runs, in creation order, are the prune plan; its
 * canonical JSON (compact, keys in a fixed order) is hashed with SHA-256.
 */
#include "prune.h"

#include <stdlib.h>
#include <string.h>

#define NS_PER_S 1000000000ull

static int terminal(cairn_run_state s)
{
    switch (s) {
    case CAIRN_RUN_COMPLETED:
    case CAIRN_RUN_FAILED:
    case CAIRN_RUN_TIMED_OUT:
    case CAIRN_RUN_CANCELLED:
        return 1;
    case CAIRN_RUN_AWAITING_PREFLIGHT:
    case CAIRN_RUN_RUNNING:
    case CAIRN_RUN_NEEDS_ATTENTION:
        return 0;
    }
    return 0;
}

void prune_bytes_text(uint64_t n, char *out, size_t cap)
{
    static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)n;
    size_t u = 0;
    while (v >= 1024.0 && u + 1 < sizeof(unit) / sizeof(unit[0])) {
        v /= 1024.0;
        u++;
    }
    if (u == 0) {
        snprintf(out, cap, "%llu B", (unsigned long long)n);
    } else {
        snprintf(out, cap, "%.1f %s", v, unit[u]);
    }
}

static prune_run *add_run(prune_set *set, const char *run_id)
{
    if (set->n == set->cap) {
        size_t cap = set->cap == 0 ? 64 : set->cap * 2;
        prune_run *v = cap > SIZE_MAX / sizeof(*v)
                           ? NULL
                           : realloc(set->v, cap * sizeof(*v));
        if (v == NULL) {
            cli_die_nomem();
        }
        set->v = v;
        set->cap = cap;
    }
    prune_run *r = &set->v[set->n++];
    memset(r, 0, sizeof(*r));
    r->run_id = strdup(run_id);
    if (r->run_id == NULL) {
        cli_die_nomem();
    }
    return r;
}

/* Read the run's records: positions as (first, count) ranges, bytes. */
static int measure_each(void *vctx, const cairn_record_view *rec)
{
    prune_run *r = vctx;
    r->bytes += rec->encoded_len;
    if (r->n_ranges > 0 && r->positions[2 * (r->n_ranges - 1)] +
                                   r->positions[2 * (r->n_ranges - 1) + 1] ==
                               rec->position) {
        r->positions[2 * (r->n_ranges - 1) + 1]++;
        return 0;
    }
    uint64_t *v = realloc(r->positions, 2 * (r->n_ranges + 1) * sizeof(*v));
    if (v == NULL) {
        cli_die_nomem();
    }
    r->positions = v;
    v[2 * r->n_ranges] = rec->position;
    v[2 * r->n_ranges + 1] = 1;
    r->n_ranges++;
    return 0;
}

static void measure(cli_ctx *ctx, prune_run *r)
{
    if (r->measured) {
        return;
    }
    r->bytes = 0;
    r->n_ranges = 0;
    cairn_err err =
        cairn_record_each(ctx->journal, r->run_id, 0, measure_each, r);
    if (err != CAIRN_OK) {
        cli_die_run(ctx, err, r->run_id);
    }
    r->measured = 1;
}

/* The library's word on a run that looks eligible. */
static void check_library(cli_ctx *ctx, prune_run *r)
{
    char detail[512] = "";
    cairn_err err =
        cairn_prune_check(ctx->journal, r->run_id, detail, sizeof(detail));
    if (err == CAIRN_OK) {
        return;
    }
    if (err == CAIRN_EPRUNED) {
        r->verdict = PRUNE_DONE_BEFORE;
        snprintf(r->why, sizeof(r->why), "pruned before");
        return;
    }
    r->verdict = PRUNE_NOT_PRUNABLE;
    /* Truncated to the rule's size on purpose: the return value says. */
    if (snprintf(r->why, sizeof(r->why), "%s%s%s",
                 err == CAIRN_EHELD       ? "held"
                 : err == CAIRN_EIMPORTED ? "imported (read-only)"
                                          : cairn_strerror(err),
                 detail[0] != '\0' ? ": " : "", detail) < 0) {
        r->why[0] = '\0';
    }
}

/* Eligibility from the summary, the run's activity and the library. */
static void check_eligible(cli_ctx *ctx, prune_run *r, const cairn_summary *s)
{
    cairn_run_holder h;
    r->verdict = PRUNE_NOT_PRUNABLE;
    if (s->n_in_doubt > 0) {
        snprintf(r->why, sizeof(r->why), "in doubt: %zu operation(s), state %s",
                 s->n_in_doubt, cairn_run_state_name(s->state));
        return;
    }
    if (!terminal(s->state)) {
        snprintf(r->why, sizeof(r->why), "not ended: state %s",
                 cairn_run_state_name(s->state));
        return;
    }
    if (s->counts[CAIRN_OP_PENDING] > 0) {
        snprintf(r->why, sizeof(r->why), "active: %u operation(s) pending",
                 s->counts[CAIRN_OP_PENDING]);
        return;
    }
    if (cairn_run_activity(ctx->journal, s, &h) == CAIRN_OK &&
        h.activity == CAIRN_ACTIVITY_ACTIVE) {
        snprintf(r->why, sizeof(r->why), "active: pid %u holds the run", h.pid);
        return;
    }
    r->verdict = PRUNE_SELECT; /* for now: the rules decide */
    check_library(ctx, r);
}

static void read_run(cli_ctx *ctx, const prune_policy *p, prune_set *set,
                     const char *run_id)
{
    prune_run *r = add_run(set, run_id);
    cairn_summary *s = NULL;
    cairn_err err =
        cairn_status_opts(ctx->journal, run_id, CAIRN_STATUS_BRIEF, &s);
    if (err == CAIRN_EPRUNED) {
        r->verdict = PRUNE_DONE_BEFORE;
        snprintf(r->why, sizeof(r->why), "pruned before");
        return;
    }
    if (err != CAIRN_OK) {
        r->verdict = PRUNE_NOT_PRUNABLE;
        snprintf(r->why, sizeof(r->why), "status: %s: %s", cairn_strerror(err),
                 cairn_journal_errdetail(ctx->journal));
        return;
    }
    snprintf(r->plan_id, sizeof(r->plan_id), "%s", s->plan_id);
    if (s->pruned) {
        r->verdict = PRUNE_DONE_BEFORE;
        snprintf(r->why, sizeof(r->why), "pruned before (record %llu)",
                 (unsigned long long)s->prune_position);
        cairn_summary_free(s);
        return;
    }
    r->state = s->state;
    r->have_state = 1;
    r->created_ns = s->created_ns;
    r->updated_ns = s->updated_ns;
    r->records = s->records;
    memcpy(r->head, s->head, sizeof(r->head));
    if (p->filter.n_plans > 0) {
        size_t i;
        for (i = 0; i < p->filter.n_plans; i++) {
            if (strcmp(p->filter.plans[i], s->plan_id) == 0) {
                break;
            }
        }
        if (i == p->filter.n_plans) {
            r->verdict = PRUNE_OUT_OF_SCOPE;
            snprintf(r->why, sizeof(r->why), "plan %s not selected (--plan)",
                     s->plan_id);
            cairn_summary_free(s);
            return;
        }
    }
    check_eligible(ctx, r, s);
    cairn_summary_free(s);
}

static void append(char *dst, size_t cap, const char *text)
{
    size_t len = strlen(dst);
    if (len < cap) {
        snprintf(dst + len, cap - len, "%s%s", len > 0 ? "; " : "", text);
    }
}

/* keep-last N: the N newest ended runs of each plan (held or not).
 * Newest first, with one counter per plan id seen. */
typedef struct plan_count {
    const char *plan_id;
    uint32_t n;
} plan_count;

static uint32_t *plan_counter(plan_count **v, size_t *n, const char *plan_id)
{
    for (size_t i = 0; i < *n; i++) {
        if (strcmp((*v)[i].plan_id, plan_id) == 0) {
            return &(*v)[i].n;
        }
    }
    plan_count *nv = realloc(*v, (*n + 1) * sizeof(*nv));
    if (nv == NULL) {
        cli_die_nomem();
    }
    *v = nv;
    nv[*n].plan_id = plan_id;
    nv[*n].n = 0;
    return &nv[(*n)++].n;
}

static void rule_keep_last(const prune_policy *p, prune_set *set)
{
    plan_count *counts = NULL;
    size_t n_counts = 0;
    for (size_t i = set->n; i-- > 0;) {
        prune_run *r = &set->v[i];
        if (!r->have_state || !terminal(r->state) ||
            r->verdict == PRUNE_DONE_BEFORE ||
            r->verdict == PRUNE_OUT_OF_SCOPE) {
            continue;
        }
        uint32_t rank = ++*plan_counter(&counts, &n_counts, r->plan_id);
        char text[128];
        if (rank <= p->keep_last) {
            if (r->verdict == PRUNE_SELECT) {
                r->verdict = PRUNE_KEEP;
                snprintf(r->why, sizeof(r->why),
                         "keep-last %u: newest %u of its plan", p->keep_last,
                         rank);
            }
        } else if (r->verdict == PRUNE_SELECT) {
            snprintf(text, sizeof(text), "beyond keep-last %u", p->keep_last);
            append(r->why, sizeof(r->why), text);
        }
    }
    free(counts);
}

static void rule_age(const prune_policy *p, prune_run *r)
{
    int failed = r->state == CAIRN_RUN_FAILED && p->keep_failed_within_text;
    uint64_t limit = failed ? p->keep_failed_within_ns : p->keep_within_ns;
    const char *name = failed ? "keep-failed-within" : "keep-within";
    const char *text =
        failed ? p->keep_failed_within_text : p->keep_within_text;
    char line[128];
    if (text == NULL || r->verdict != PRUNE_SELECT) {
        return;
    }
    uint64_t age = p->now_ns > r->updated_ns ? p->now_ns - r->updated_ns : 0;
    if (age < limit) {
        r->verdict = PRUNE_KEEP;
        snprintf(r->why, sizeof(r->why), "%s %s: ended %llus ago", name, text,
                 (unsigned long long)(age / NS_PER_S));
        return;
    }
    snprintf(line, sizeof(line), "older than %s %s", name, text);
    append(r->why, sizeof(r->why), line);
}

static void rule_state(const prune_policy *p, prune_run *r)
{
    char line[64];
    if (p->filter.states == 0 || r->verdict != PRUNE_SELECT) {
        return;
    }
    if ((p->filter.states & (1u << r->state)) == 0) {
        r->verdict = PRUNE_KEEP;
        snprintf(r->why, sizeof(r->why), "state %s not selected (--state)",
                 cairn_run_state_name(r->state));
        return;
    }
    snprintf(line, sizeof(line), "state %s", cairn_run_state_name(r->state));
    append(r->why, sizeof(r->why), line);
}

/* --max-journal-size: oldest selected runs first, until under the size. */
static void rule_size(cli_ctx *ctx, const prune_policy *p, prune_set *set)
{
    char line[128];
    set->journal_record_bytes = 0;
    for (size_t i = 0; i < set->n; i++) {
        if (set->v[i].have_state && set->v[i].verdict != PRUNE_DONE_BEFORE) {
            measure(ctx, &set->v[i]);
            set->journal_record_bytes += set->v[i].bytes;
        }
    }
    uint64_t left = set->journal_record_bytes;
    for (size_t i = 0; i < set->n; i++) {
        prune_run *r = &set->v[i];
        if (r->verdict != PRUNE_SELECT) {
            continue;
        }
        if (left <= p->max_size) {
            r->verdict = PRUNE_KEEP;
            snprintf(r->why, sizeof(r->why),
                     "max-journal-size %s: the journal is under it without "
                     "this run",
                     p->max_size_text);
            continue;
        }
        left -= r->bytes;
        snprintf(line, sizeof(line), "oldest first for max-journal-size %s",
                 p->max_size_text);
        append(r->why, sizeof(r->why), line);
    }
    set->estimated_after = left;
}

/* A file name for a run id: the id when it is a plain name, else
 * run-<first 16 bytes of SHA-256(id) in hex>; then .cairn, or .cairn.zst
 * with --zstd. */
static char *bundle_path(const prune_policy *p, const prune_set *set,
                         const char *run_id)
{
    char name[CAIRN_MAX_ID + 48];
    int plain = run_id[0] != '\0' && run_id[0] != '.';
    for (const char *c = run_id; *c != '\0' && plain; c++) {
        plain = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                (*c >= '0' && *c <= '9') || *c == '-' || *c == '_' || *c == '.';
    }
    const char *ext = p->zstd ? ".cairn.zst" : ".cairn";
    if (plain) {
        snprintf(name, sizeof(name), "%s%s", run_id, ext);
    } else {
        uint8_t h[CAIRN_HASH_BYTES];
        char hex[33];
        prune_sha256(run_id, strlen(run_id), h);
        cli_hex(h, 16, hex);
        snprintf(name, sizeof(name), "run-%s%s", hex, ext);
    }
    size_t len =
        strlen(p->archive) + strlen(set->journal_id) + strlen(name) + 3;
    char *path = malloc(len);
    if (path == NULL) {
        cli_die_nomem();
    }
    snprintf(path, len, "%s/%s/%s", p->archive, set->journal_id, name);
    return path;
}

void prune_select(cli_ctx *ctx, const prune_policy *p, prune_set *set)
{
    cli_run_ids ids;
    uint8_t jid[CAIRN_JOURNAL_ID_BYTES];

    cairn_journal_id(ctx->journal, jid);
    cli_hex(jid, sizeof(jid), set->journal_id);
    cli_run_ids_get(ctx, &ids);
    for (size_t i = 0; i < ids.n; i++) {
        read_run(ctx, p, set, ids.v[i]);
    }
    cli_run_ids_free(&ids);
    if (p->have_keep_last) {
        rule_keep_last(p, set);
    }
    for (size_t i = 0; i < set->n; i++) {
        rule_age(p, &set->v[i]);
        rule_state(p, &set->v[i]);
    }
    if (p->have_max_size) {
        rule_size(ctx, p, set);
    }
    for (size_t i = 0; i < set->n; i++) {
        prune_run *r = &set->v[i];
        if (r->verdict == PRUNE_SELECT) {
            measure(ctx, r);
            if (r->why[0] == '\0') {
                snprintf(r->why, sizeof(r->why), "no keep rule keeps it");
            }
            r->bundle = bundle_path(p, set, r->run_id);
        }
    }
}

static json_t *plan_run(const prune_run *r)
{
    json_t *o = json_object(), *pos = json_array();
    if (o == NULL || pos == NULL) {
        cli_die_nomem();
    }
    for (size_t i = 0; i < r->n_ranges; i++) {
        json_t *pair = json_array();
        if (pair == NULL ||
            json_array_append_new(pair, cli_ju64(r->positions[2 * i])) != 0 ||
            json_array_append_new(pair, cli_ju64(r->positions[2 * i + 1])) !=
                0 ||
            json_array_append_new(pos, pair) != 0) {
            cli_die_nomem();
        }
    }
    cli_jset(o, "run_id", cli_jstr(r->run_id));
    cli_jset(o, "plan_id", cli_jstr(r->plan_id));
    cli_jset(o, "state", cli_jstr(cairn_run_state_name(r->state)));
    cli_jset(o, "ended", cli_jtime(r->updated_ns));
    cli_jset(o, "records", cli_ju64(r->records));
    cli_jset(o, "head", cli_jhex(r->head, CAIRN_HASH_BYTES));
    cli_jset(o, "positions", pos);
    cli_jset(o, "bytes", cli_ju64(r->bytes));
    cli_jset(o, "rule", cli_jstr(r->why));
    cli_jset(o, "bundle", cli_jstr(r->bundle));
    return o;
}

void prune_plan_build(const prune_policy *p, prune_set *set)
{
    json_t *plan = json_object(), *runs = json_array();
    uint64_t n = 0, records = 0, bytes = 0;
    if (plan == NULL || runs == NULL) {
        cli_die_nomem();
    }
    for (size_t i = 0; i < set->n; i++) {
        const prune_run *r = &set->v[i];
        if (r->verdict != PRUNE_SELECT) {
            continue;
        }
        if (json_array_append_new(runs, plan_run(r)) != 0) {
            cli_die_nomem();
        }
        n++;
        records += r->records;
        bytes += r->bytes;
    }
    cli_jset(plan, "version", json_integer(1));
    cli_jset(plan, "journal_id", cli_jstr(set->journal_id));
    cli_jset(plan, "policy", cli_jstr(set->policy_text));
    cli_jset(plan, "reason", cli_jstr(p->reason));
    cli_jset(plan, "archive", cli_jstr(p->archive));
    cli_jset(plan, "zstd", json_boolean(p->zstd));
    cli_jset(plan, "runs", runs);
    cli_jset(plan, "total_runs", cli_ju64(n));
    cli_jset(plan, "total_records", cli_ju64(records));
    cli_jset(plan, "total_bytes", cli_ju64(bytes));
    set->plan = plan;
    set->plan_text = json_dumps(plan, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (set->plan_text == NULL) {
        cli_die_nomem();
    }
    prune_sha256(set->plan_text, strlen(set->plan_text), set->plan_hash);
    cli_hex(set->plan_hash, CAIRN_HASH_BYTES, set->plan_sha256);
}

void prune_set_free(prune_set *set)
{
    for (size_t i = 0; i < set->n; i++) {
        free(set->v[i].run_id);
        free(set->v[i].positions);
        free(set->v[i].bundle);
    }
    free(set->v);
    json_decref(set->plan);
    free(set->plan_text);
    memset(set, 0, sizeof(*set));
}
