/*
 * list.c - cairn list: one line (or one JSON object) per run.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

typedef struct run_ids {
    char **v;
    size_t n, cap;
    int nomem;
} run_ids;

static int collect(void *ctx, const char *run_id)
{
    run_ids *ids = ctx;
    char *copy;

    if (ids->n == ids->cap) {
        size_t cap = ids->cap == 0 ? 16 : ids->cap * 2;
        char **v = cap > SIZE_MAX / sizeof(*v)
                       ? NULL
                       : realloc(ids->v, cap * sizeof(*v));
        if (v == NULL) {
            ids->nomem = 1;
            return 1;
        }
        ids->v = v;
        ids->cap = cap;
    }
    copy = strdup(run_id);
    if (copy == NULL) {
        ids->nomem = 1;
        return 1;
    }
    ids->v[ids->n++] = copy;
    return 0;
}

static void free_ids(run_ids *ids)
{
    size_t i;

    for (i = 0; i < ids->n; i++) {
        free(ids->v[i]);
    }
    free(ids->v);
    memset(ids, 0, sizeof(*ids));
}

/* The activity column: "active pid 123", "ABANDONED", "idle", "ended". */
static void activity_word(const cairn_run_holder *h, char *out, size_t cap)
{
    if (h->activity == CAIRN_ACTIVITY_ACTIVE && h->has_holder) {
        snprintf(out, cap, "active pid %u%s", h->pid, h->verified ? "" : "?");
    } else if (h->activity == CAIRN_ACTIVITY_ABANDONED) {
        snprintf(out, cap, "ABANDONED");
    } else {
        snprintf(out, cap, "%s", cairn_activity_name(h->activity));
    }
}

static void print_line(const cairn_summary *s, const cairn_run_holder *h)
{
    char updated[40];
    char progress[32];
    char activity[48];

    cli_time(s->updated_ns, updated, sizeof(updated));
    snprintf(progress, sizeof(progress), "%u/%u",
             s->counts[CAIRN_OP_COMPLETED] + s->counts[CAIRN_OP_SKIPPED],
             s->total);
    activity_word(h, activity, sizeof(activity));
    printf("%-32s  %-20s  %-18s  %-16s  %9s  %s%s%s%s%s\n", s->run_id,
           s->plan_id, cairn_run_state_name(s->state), activity, progress,
           updated, s->n_in_doubt > 0 ? "  IN-DOUBT" : "",
           cairn_hold_active(s, cli_now_ns()) ? "  HELD" : "",
           s->imported ? "  IMPORTED" : "", s->pruned ? "  PRUNED" : "");
}

/* Print every run that passes @p f; returns the exit code of the first
 * failure, or 0. */
static int print_runs(cli_ctx *ctx, const run_ids *ids, const cli_run_filter *f,
                      json_t *arr)
{
    int rc = CLI_EXIT_OK;
    size_t i;

    for (i = 0; i < ids->n; i++) {
        cairn_summary *s = NULL;
        /* brief (O(1) in the plan), unless --target needs every op */
        cairn_err err =
            cairn_status_opts(ctx->journal, ids->v[i],
                              f->n_targets > 0 ? 0 : CAIRN_STATUS_BRIEF, &s);
        if (err != CAIRN_OK) {
            char where[CAIRN_MAX_ID + 16];
            snprintf(where, sizeof(where), "list: run %s", ids->v[i]);
            cli_report(cairn_exit_code(err), cairn_errname(err), where, NULL,
                       "%s: %s: %s", where, cairn_strerror(err),
                       cairn_journal_errdetail(ctx->journal));
            if (rc == CLI_EXIT_OK) {
                rc = cairn_exit_code(err);
            }
            continue;
        }
        if (!cli_filter_match(f, s)) {
            cairn_summary_free(s);
            continue;
        }
        cairn_run_holder h;
        err = cairn_run_activity(ctx->journal, s, &h);
        if (err != CAIRN_OK) {
            memset(&h, 0, sizeof(h));
            h.activity = CAIRN_ACTIVITY_IDLE;
        }
        if (arr != NULL) {
            json_t *o = cli_json_summary(s);
            cli_json_activity(o, &h);
            if (json_array_append_new(arr, o) != 0) {
                cli_die_nomem();
            }
        } else {
            print_line(s, &h);
        }
        cairn_summary_free(s);
    }
    return rc;
}

int cmd_list(cli_ctx *ctx, int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_LONG_COMMON, CLI_LONG_FILTER, {0}};
    cli_run_filter f;
    run_ids ids = {NULL, 0, 0, 0};
    json_t *arr = NULL;
    cairn_err err;
    int c, rc;

    memset(&f, 0, sizeof(f));
    cli_getopt_reset();
    while ((c = getopt_long(argc, argv, CLI_SHORT_COMMON, longopts, NULL)) !=
           -1) {
        if (!cli_common_option(ctx, c, optarg, argv) &&
            !cli_filter_option(ctx, &f, c, optarg)) {
            cli_usage_error(ctx, "unexpected option");
        }
    }
    cli_no_args(ctx, argc, argv);
    cli_filter_check(ctx, &f);
    cli_open(ctx);
    err = cairn_run_each(ctx->journal, collect, &ids);
    if (err == CAIRN_OK && !ids.nomem) {
        err = cairn_import_each(ctx->journal, collect, &ids);
    }
    if (ids.nomem) {
        cli_die_nomem();
    }
    if (err != CAIRN_OK) {
        free_ids(&ids);
        cli_die_run(ctx, err, NULL);
    }
    if (ctx->format == CLI_JSON && (arr = json_array()) == NULL) {
        cli_die_nomem();
    }
    rc = print_runs(ctx, &ids, &f, arr);
    free_ids(&ids);
    cli_filter_free(&f);
    if (arr != NULL) {
        cli_jprint(arr);
    }
    return rc;
}
