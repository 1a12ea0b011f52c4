/*
 * report.c - cairn report: one self-contained HTML page about a run, or
 * about the last runs of a plan.
 *
 *   cairn report RUN --html FILE [--key PUB]
 *   cairn report --plan PLAN_ID [--last N] --html FILE [--key PUB]
 *
 * The page is written to a temporary file next to FILE (mode 0644 less
 * the umask, as export's files), synced, then renamed over FILE, so a
 * reader sees the old page or the new one, never half of one.  "-" writes
 * to standard output.
 */
#include "report.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_LAST 10u
#define MAX_LAST 1000u

enum { OPT_HTML = CLI_OPT_FIRST_LOCAL, OPT_KEY, OPT_PLAN, OPT_LAST };

/* ---- selecting the runs of a plan --------------------------------------- */

typedef struct run_ids {
    char **v;
    size_t n, cap;
} run_ids;

static int collect(void *arg, const char *run_id)
{
    run_ids *ids = arg;

    if (ids->n == ids->cap) {
        size_t cap = ids->cap == 0 ? 16 : ids->cap * 2;
        char **v = cap > SIZE_MAX / sizeof(*v)
                       ? NULL
                       : realloc(ids->v, cap * sizeof(*v));
        if (v == NULL) {
            cli_die_nomem();
        }
        ids->v = v;
        ids->cap = cap;
    }
    if ((ids->v[ids->n] = strdup(run_id)) == NULL) {
        cli_die_nomem();
    }
    ids->n++;
    return 0;
}

static int of_plan(cli_ctx *ctx, const char *run_id, const char *plan_id)
{
    cairn_summary *s = NULL;
    cairn_err err = cairn_status(ctx->journal, run_id, &s);
    if (err != CAIRN_OK) {
        cli_die_run(ctx, err, run_id);
    }
    int match = strcmp(s->plan_id, plan_id) == 0;
    cairn_summary_free(s);
    return match;
}

/* The run ids of the plan's last @p last runs (by creation), newest
 * first; *n_out of them. */
static char **select_runs(cli_ctx *ctx, const char *plan_id, uint32_t last,
                          size_t *n_out)
{
    run_ids all = {NULL, 0, 0};
    char **ids;
    size_t n = 0;

    cairn_err err = cairn_run_each(ctx->journal, collect, &all);
    if (err != CAIRN_OK) {
        cli_die_run(ctx, err, NULL);
    }
    ids = calloc(last, sizeof(*ids));
    if (ids == NULL) {
        cli_die_nomem();
    }
    for (size_t i = all.n; i-- > 0;) {
        if (n < last && of_plan(ctx, all.v[i], plan_id)) {
            ids[n++] = all.v[i];
        } else {
            free(all.v[i]);
        }
    }
    free(all.v);
    if (n == 0) {
        cli_die(cairn_exit_code(CAIRN_ENORUN), "report: plan %s: %s", plan_id,
                "no run of this plan in the journal");
    }
    *n_out = n;
    return ids;
}

/* ---- writing ------------------------------------------------------------- */

static void fail_write(const char *path, const char *tmp, int e)
{
    if (tmp != NULL) {
        unlink(tmp);
    }
    cli_die(CLI_EXIT_ERROR, "report: %s: %s", path, strerror(e));
}

/* Make the directory entry of the rename durable (best effort is not
 * enough for a report either: a failure is reported). */
static void sync_parent(const char *path)
{
    char *dir = strdup(path);
    if (dir == NULL) {
        cli_die_nomem();
    }
    char *slash = strrchr(dir, '/');
    const char *name = slash == NULL ? "." : (slash == dir ? "/" : dir);
    if (slash != NULL && slash != dir) {
        *slash = '\0';
    }
    int fd = open(name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0) {
        int e = errno;
        if (fd >= 0) {
            close(fd);
        }
        free(dir);
        fail_write(path, NULL, e);
    }
    close(fd);
    free(dir);
}

static void write_page(const char *path, const rpt_page *page)
{
    if (strcmp(path, "-") == 0) {
        if (rpt_write_html(stdout, page) != 0 || fflush(stdout) != 0) {
            cli_die(CLI_EXIT_ERROR, "report: stdout: %s", strerror(errno));
        }
        return;
    }
    size_t len = strlen(path);
    char *tmp = malloc(len + sizeof(".tmp-XXXXXX"));
    if (tmp == NULL) {
        cli_die_nomem();
    }
    memcpy(tmp, path, len);
    memcpy(tmp + len, ".tmp-XXXXXX", sizeof(".tmp-XXXXXX"));
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        fail_write(path, NULL, errno);
    }
    mode_t mask = umask(0);
    umask(mask);
    FILE *f = fdopen(fd, "w");
    if (f == NULL || fchmod(fd, 0644 & ~mask) != 0) {
        int e = errno;
        if (f == NULL) {
            close(fd);
        }
        fail_write(path, tmp, e);
    }
    int bad =
        rpt_write_html(f, page) != 0 || fflush(f) != 0 || fsync(fileno(f)) != 0;
    int e = errno;
    if (fclose(f) != 0 || bad) {
        fail_write(path, tmp, bad ? e : errno);
    }
    if (rename(tmp, path) != 0) {
        fail_write(path, tmp, errno);
    }
    free(tmp);
    sync_parent(path);
}

/* ---- the command ----------------------------------------------------------
 */

typedef struct report_args {
    const char *html, *key_path, *plan, *run;
    uint32_t last;
    int have_last;
} report_args;

static void parse(cli_ctx *ctx, int argc, char **argv, report_args *a)
{
    static const struct option longopts[] = {
        CLI_LONG_COMMON,
        {"html", required_argument, NULL, OPT_HTML},
        {"key", required_argument, NULL, OPT_KEY},
        {"plan", required_argument, NULL, OPT_PLAN},
        {"last", required_argument, NULL, OPT_LAST},
        {0}};
    int c;

    memset(a, 0, sizeof(*a));
    a->last = DEFAULT_LAST;
    cli_getopt_reset();
    while ((c = getopt_long(argc, argv, CLI_SHORT_COMMON, longopts, NULL)) !=
           -1) {
        if (cli_common_option(ctx, c, optarg, argv)) {
            continue;
        }
        if (c == OPT_HTML) {
            a->html = optarg;
        } else if (c == OPT_KEY) {
            a->key_path = optarg;
        } else if (c == OPT_PLAN) {
            a->plan = optarg;
        } else if (c == OPT_LAST) {
            a->last = cli_parse_u32(ctx, "--last", optarg);
            a->have_last = 1;
            if (a->last == 0 || a->last > MAX_LAST) {
                cli_usage_error(ctx, "--last: 1 to %u runs", MAX_LAST);
            }
        }
    }
    if (a->plan != NULL) {
        cli_no_args(ctx, argc, argv);
    } else {
        a->run = cli_one_arg(ctx, argc, argv, "RUN (or --plan PLAN_ID)");
        if (a->have_last) {
            cli_usage_error(ctx, "--last goes with --plan");
        }
    }
    if (a->html == NULL) {
        cli_usage_error(ctx, "--html FILE is required (\"-\": stdout)");
    }
}

int cmd_report(cli_ctx *ctx, int argc, char **argv)
{
    report_args a;
    rpt_page page;
    cairn_pubkey *key = NULL;
    char **ids = NULL;
    size_t n = 1;

    parse(ctx, argc, argv, &a);
    memset(&page, 0, sizeof(page));
    if (a.key_path != NULL) {
        uint8_t id[CAIRN_KEY_ID_BYTES];
        key = cli_load_pubkey(a.key_path);
        page.key_pinned = 1;
        cairn_pubkey_key_id(key, id);
        cli_key_id_hex(id, page.key_id);
        cairn_pubkey_fingerprint(key, page.fingerprint,
                                 sizeof(page.fingerprint));
    }
    cli_open(ctx);
    if (a.plan != NULL) {
        ids = select_runs(ctx, a.plan, a.last, &n);
        page.title_plan = a.plan;
    }
    page.runs = calloc(n, sizeof(*page.runs));
    if (page.runs == NULL) {
        cli_die_nomem();
    }
    for (size_t i = 0; i < n; i++) {
        rpt_run_load(ctx, ids != NULL ? ids[i] : a.run, key, &page.runs[i]);
        page.n_runs++;
    }
    page.generated_ns = cli_now_ns();
    write_page(a.html, &page);
    for (size_t i = 0; i < page.n_runs; i++) {
        rpt_run_free(&page.runs[i]);
    }
    for (size_t i = 0; ids != NULL && i < n; i++) {
        free(ids[i]);
    }
    free(ids);
    free(page.runs);
    cairn_pubkey_free(key);
    return CLI_EXIT_OK;
}
