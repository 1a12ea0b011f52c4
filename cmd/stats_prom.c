/*
 * stats_prom.c - `cairn stats --prom FILE`: the figures of stats.c in the
 * Prometheus text exposition format (version 0.0.4) for node_exporter's
 * textfile collector.  Every metric is a gauge (or, for the attempt
 * durations, a summary), named cairn_*, with HELP and TYPE lines and no
 * timestamps; label values are escaped (backslash, quote, newline).  The
 * file is replaced atomically: FILE.tmp.PID in the same directory (not
 * matching *.prom), fchmod 0644, fsync, rename over FILE, fsync of the
 * directory.
 */
#include "stats.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void family(FILE *out, const char *name, const char *type,
                   const char *help)
{
    fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value: \ " and newline escaped as the format says. */
static void label_value(FILE *out, const char *s)
{
    for (; *s != '\0'; s++) {
        if (*s == '\\') {
            fputs("\\\\", out);
        } else if (*s == '"') {
            fputs("\\\"", out);
        } else if (*s == '\n') {
            fputs("\\n", out);
        } else {
            fputc(*s, out);
        }
    }
}

/* name{plan="..."[,extra]} (no braces for the journal's own metrics). */
static void sample_start(FILE *out, const char *name, const char *plan,
                         const char *key2, const char *value2)
{
    fputs(name, out);
    if (plan == NULL) {
        fputc(' ', out);
        return;
    }
    fputs("{plan=\"", out);
    label_value(out, plan);
    fputc('"', out);
    if (key2 != NULL) {
        fprintf(out, ",%s=\"", key2);
        label_value(out, value2);
        fputc('"', out);
    }
    fputs("} ", out);
}

static void u64_sample(FILE *out, const char *name, const char *plan,
                       uint64_t v)
{
    sample_start(out, name, plan, NULL, NULL);
    fprintf(out, "%llu\n", (unsigned long long)v);
}

static void real_sample(FILE *out, const char *name, const char *plan, double v)
{
    sample_start(out, name, plan, NULL, NULL);
    fprintf(out, "%.9g\n", v);
}

static void journal_metrics(FILE *out, const stats *st)
{
    uint64_t bytes = stats_journal_bytes(st);

    family(out, "cairn_journal_bytes", "gauge",
           "Bytes of the journal in use (LMDB pages).");
    u64_sample(out, "cairn_journal_bytes", NULL, bytes);
    family(out, "cairn_journal_records", "gauge",
           "Records in the journal (its last position).");
    u64_sample(out, "cairn_journal_records", NULL, st->info.records);
    family(out, "cairn_journal_runs", "gauge", "Runs in the journal.");
    u64_sample(out, "cairn_journal_runs", NULL, st->info.runs);
    family(out, "cairn_journal_created_timestamp_seconds", "gauge",
           "When the journal was created, seconds since the epoch.");
    u64_sample(out, "cairn_journal_created_timestamp_seconds", NULL,
               st->info.created_ns / 1000000000ull);
    family(out, "cairn_journal_growth_bytes_per_day", "gauge",
           "Bytes in use per day over the journal's life.");
    real_sample(out, "cairn_journal_growth_bytes_per_day", NULL,
                stats_per_day(st, bytes));
    family(out, "cairn_journal_growth_records_per_day", "gauge",
           "Records per day over the journal's life.");
    real_sample(out, "cairn_journal_growth_records_per_day", NULL,
                stats_per_day(st, st->info.records));
    family(out, "cairn_journal_last_day_records", "gauge",
           "Records written in the last 24 hours (of the runs counted).");
    u64_sample(out, "cairn_journal_last_day_records", NULL, st->day_records);
}

static void runs_by_state(FILE *out, const stats *st)
{
    size_t i;
    unsigned s;

    family(out, "cairn_runs", "gauge", "Runs by plan and state.");
    for (i = 0; i < st->n_plans; i++) {
        for (s = 1; s < STATS_STATES; s++) {
            sample_start(out, "cairn_runs", st->plans[i].plan, "state",
                         cairn_run_state_name((cairn_run_state)s));
            fprintf(out, "%llu\n", (unsigned long long)st->plans[i].states[s]);
        }
    }
}

/* One gauge per plan: @p get picks the figure. */
typedef double (*plan_figure)(const stats_agg *a);

static double f_claims(const stats_agg *a)
{
    return (double)a->claims;
}
static double f_retries(const stats_agg *a)
{
    return (double)a->retries;
}
static double f_outcomes(const stats_agg *a)
{
    return (double)a->outcomes;
}
static double f_failures(const stats_agg *a)
{
    return (double)a->failures;
}
static double f_failure_ratio(const stats_agg *a)
{
    return stats_ratio(a->failures, a->outcomes);
}
static double f_retry_ratio(const stats_agg *a)
{
    return stats_ratio(a->retries, a->claims);
}
static double f_in_doubt_ops(const stats_agg *a)
{
    return (double)a->in_doubt_ops;
}
static double f_in_doubt_runs(const stats_agg *a)
{
    return (double)a->in_doubt_runs;
}
static double f_held_runs(const stats_agg *a)
{
    return (double)a->held_runs;
}
static double f_records(const stats_agg *a)
{
    return (double)a->records;
}

static const struct {
    const char *name, *help;
    plan_figure get;
} plan_gauges[] = {
    {"cairn_operation_attempts", "Attempts started (claims), by plan.",
     f_claims},
    {"cairn_operation_retries", "Attempts after the first of an operation.",
     f_retries},
    {"cairn_operation_outcomes",
     "Attempt outcomes recorded (receipts and "
     "resolutions).",
     f_outcomes},
    {"cairn_operation_failures", "Attempt outcomes that were failures.",
     f_failures},
    {"cairn_operation_failure_ratio", "Failures per outcome (0 when none).",
     f_failure_ratio},
    {"cairn_operation_retry_ratio", "Retries per attempt (0 when none).",
     f_retry_ratio},
    {"cairn_in_doubt_operations", "Operations in doubt now.", f_in_doubt_ops},
    {"cairn_in_doubt_runs", "Runs with an operation in doubt now.",
     f_in_doubt_runs},
    {"cairn_held_runs", "Runs held from retention now (cairn hold).",
     f_held_runs},
    {"cairn_plan_records", "Records of the plan's runs.", f_records},
};

static void plan_metrics(FILE *out, const stats *st)
{
    size_t g, i;

    for (g = 0; g < sizeof(plan_gauges) / sizeof(plan_gauges[0]); g++) {
        family(out, plan_gauges[g].name, "gauge", plan_gauges[g].help);
        for (i = 0; i < st->n_plans; i++) {
            real_sample(out, plan_gauges[g].name, st->plans[i].plan,
                        plan_gauges[g].get(&st->plans[i]));
        }
    }
    family(out, "cairn_run_last_completion_timestamp_seconds", "gauge",
           "When the newest completed run of the plan last changed.");
    for (i = 0; i < st->n_plans; i++) {
        if (st->plans[i].last_completed_ns != 0) {
            real_sample(out, "cairn_run_last_completion_timestamp_seconds",
                        st->plans[i].plan,
                        (double)st->plans[i].last_completed_ns / 1e9);
        }
    }
}

static void duration_sample(FILE *out, const char *name, const char *plan,
                            const char *kind, const char *quantile, double v)
{
    fprintf(out, "%s{plan=\"", name);
    label_value(out, plan);
    fprintf(out, "\",kind=\"%s\"", kind);
    if (quantile != NULL) {
        fprintf(out, ",quantile=\"%s\"", quantile);
    }
    fprintf(out, "} %.9g\n", v);
}

static void durations(FILE *out, stats *st)
{
    size_t i;
    unsigned k;

    family(out, "cairn_operation_duration_seconds", "summary",
           "Attempt durations (claim to receipt) by plan and operation kind.");
    for (i = 0; i < st->n_plans; i++) {
        for (k = 1; k < STATS_KINDS; k++) {
            stats_durations *d = &st->plans[i].kinds[k];
            const char *kind = cairn_kind_name((cairn_kind)k);
            const char *plan = st->plans[i].plan;
            if (d->n == 0) {
                continue;
            }
            duration_sample(out, "cairn_operation_duration_seconds", plan, kind,
                            "0.5", (double)stats_quantile(d, 0.5) / 1e9);
            duration_sample(out, "cairn_operation_duration_seconds", plan, kind,
                            "0.95", (double)stats_quantile(d, 0.95) / 1e9);
            duration_sample(out, "cairn_operation_duration_seconds_sum", plan,
                            kind, NULL, (double)d->sum_ns / 1e9);
            duration_sample(out, "cairn_operation_duration_seconds_count", plan,
                            kind, NULL, (double)d->n);
        }
    }
    family(out, "cairn_operation_duration_max_seconds", "gauge",
           "Longest attempt by plan and operation kind.");
    for (i = 0; i < st->n_plans; i++) {
        for (k = 1; k < STATS_KINDS; k++) {
            stats_durations *d = &st->plans[i].kinds[k];
            if (d->n > 0) {
                duration_sample(out, "cairn_operation_duration_max_seconds",
                                st->plans[i].plan,
                                cairn_kind_name((cairn_kind)k), NULL,
                                (double)d->max_ns / 1e9);
            }
        }
    }
}

/* Write @p len bytes of @p buf to the new file @p tmp; 0 or an errno. */
static int write_file(const char *tmp, const char *buf, size_t len)
{
    int fd =
        open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    int e = 0;

    if (fd < 0) {
        return errno;
    }
    if (fchmod(fd, 0644) != 0) {
        e = errno;
    }
    while (e == 0 && len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            e = n < 0 ? errno : EIO;
            break;
        }
        buf += n;
        len -= (size_t)n;
    }
    if (e == 0 && fsync(fd) != 0) {
        e = errno;
    }
    if (close(fd) != 0 && e == 0) {
        e = errno;
    }
    return e;
}

/* fsync the directory holding @p path. */
static int sync_dir(const char *path)
{
    char *copy = strdup(path), *slash;
    int fd, e = 0;

    if (copy == NULL) {
        return ENOMEM;
    }
    slash = strrchr(copy, '/');
    if (slash == NULL) {
        strcpy(copy, ".");
    } else if (slash == copy) {
        copy[1] = '\0';
    } else {
        *slash = '\0';
    }
    fd = open(copy, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0) {
        e = errno;
    }
    if (fd >= 0) {
        close(fd);
    }
    free(copy);
    return e;
}

static void replace_file(const char *path, const char *buf, size_t len)
{
    char tmp[4200];
    int e;

    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path,
                         (long)getpid()) >= sizeof(tmp)) {
        cli_die(CLI_EXIT_USAGE, "stats: --prom %s: file name too long", path);
    }
    e = write_file(tmp, buf, len);
    if (e != 0) {
        (void)unlink(tmp);
        cli_die(CLI_EXIT_ERROR, "stats: --prom %s: writing %s: %s", path, tmp,
                strerror(e));
    }
    if (rename(tmp, path) != 0) {
        e = errno;
        (void)unlink(tmp);
        cli_die(CLI_EXIT_ERROR, "stats: --prom %s: rename: %s", path,
                strerror(e));
    }
    e = sync_dir(path);
    if (e != 0) {
        cli_die(CLI_EXIT_ERROR, "stats: --prom %s: fsync of its directory: %s",
                path, strerror(e));
    }
}

void stats_write_prom(cli_ctx *ctx, stats *st, const char *path)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);

    (void)ctx;
    if (out == NULL) {
        cli_die_nomem();
    }
    journal_metrics(out, st);
    runs_by_state(out, st);
    plan_metrics(out, st);
    durations(out, st);
    if (fclose(out) != 0 || buf == NULL) {
        free(buf);
        cli_die_nomem();
    }
    if (strcmp(path, "-") == 0) {
        fwrite(buf, 1, len, stdout);
    } else {
        replace_file(path, buf, len);
    }
    free(buf);
}
