/*
 * util.c - clocks, statistics, directories and the result table.
 */
#include "bench.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

uint64_t bn_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

double bn_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double bn_pct(const double *v, size_t n, double p)
{
    if (n == 0) {
        return 0;
    }
    double *c = malloc(n * sizeof(*c));
    if (c == NULL) {
        bn_die("out of memory");
    }
    memcpy(c, v, n * sizeof(*c));
    qsort(c, n, sizeof(*c), cmp_double);
    /* nearest rank */
    size_t k = (size_t)(p / 100.0 * (double)n + 0.999999);
    k = k == 0 ? 0 : k - 1;
    double r = c[k < n ? k : n - 1];
    if (p == 50.0 && n % 2 == 0) {
        r = (c[n / 2 - 1] + c[n / 2]) / 2;
    }
    free(c);
    return r;
}

double bn_median(const double *v, size_t n)
{
    return bn_pct(v, n, 50.0);
}

void bn_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "cairn-bench: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

void bn_ok(cairn_err err, cairn_journal *j, const char *what)
{
    if (err != CAIRN_OK) {
        bn_die("%s: %s (%s)", what, cairn_errname(err),
               j ? cairn_journal_errdetail(j) : "");
    }
}

void bn_note(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void bn_rmtree(const char *path)
{
    pid_t pid = fork();
    if (pid == 0) {
        execlp("rm", "rm", "-rf", "--", path, (char *)NULL);
        _exit(127);
    }
    if (pid > 0) {
        waitpid(pid, NULL, 0);
    }
}

char *bn_fresh_dir(const char *root, const char *name)
{
    size_t n = strlen(root) + strlen(name) + 2;
    char *p = malloc(n);
    if (p == NULL) {
        bn_die("out of memory");
    }
    snprintf(p, n, "%s/%s", root, name);
    bn_rmtree(p);
    if (mkdir(p, 0755) != 0) {
        bn_die("%s: %s", p, strerror(errno));
    }
    return p;
}

uint64_t bn_rss_anon(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    uint64_t kb = 0;
    if (f == NULL) {
        return 0;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, "RssAnon:", 8) == 0) {
            kb = strtoull(line + 8, NULL, 10);
        }
    }
    fclose(f);
    return kb * 1024u;
}

/* ---- the table ----------------------------------------------------------- */

#define MAX_ROWS 192
#define MAX_TARGETS 32

typedef struct row {
    char key[96];
    char unit[24];
    double v[BN_MAX_REPS];
    size_t n;
} row;

typedef struct target {
    char key[96];
    int at_most; /* 1: the median must be <= limit, 0: >= limit */
    double limit;
    char what[64];
} target;

typedef struct table {
    row rows[MAX_ROWS];
    size_t n;
    target targets[MAX_TARGETS];
    size_t nt;
} table;

static table *the_table(void)
{
    static table t; /* the bench is one process and one thread here */
    return &t;
}

void bn_sample(const char *key, const char *unit, double value)
{
    table *t = the_table();
    size_t i = 0;
    while (i < t->n && strcmp(t->rows[i].key, key) != 0) {
        i++;
    }
    if (i == t->n) {
        if (t->n == MAX_ROWS) {
            bn_die("too many rows");
        }
        snprintf(t->rows[i].key, sizeof(t->rows[i].key), "%s", key);
        snprintf(t->rows[i].unit, sizeof(t->rows[i].unit), "%s", unit);
        t->n++;
    }
    if (t->rows[i].n < BN_MAX_REPS) {
        t->rows[i].v[t->rows[i].n++] = value;
    }
}

void bn_section(const char *title)
{
    char key[96];
    snprintf(key, sizeof(key), "#%s", title);
    bn_sample(key, "", 0);
}

double bn_last(const char *key)
{
    table *t = the_table();
    for (size_t i = 0; i < t->n; i++) {
        if (strcmp(t->rows[i].key, key) == 0 && t->rows[i].n > 0) {
            return t->rows[i].v[t->rows[i].n - 1];
        }
    }
    return 0;
}

void bn_target(const char *key, int at_most, double limit, const char *what)
{
    table *t = the_table();
    for (size_t i = 0; i < t->nt; i++) {
        if (strcmp(t->targets[i].key, key) == 0) {
            return;
        }
    }
    if (t->nt == MAX_TARGETS) {
        bn_die("too many targets");
    }
    target *g = &t->targets[t->nt++];
    snprintf(g->key, sizeof(g->key), "%s", key);
    snprintf(g->what, sizeof(g->what), "%s", what);
    g->at_most = at_most;
    g->limit = limit;
}

static const row *find_row(const char *key)
{
    table *t = the_table();
    for (size_t i = 0; i < t->n; i++) {
        if (strcmp(t->rows[i].key, key) == 0 && t->rows[i].n > 0) {
            return &t->rows[i];
        }
    }
    return NULL;
}

static void print_value(double v)
{
    if (v >= 100000) {
        printf(" %11.0f", v);
    } else if (v >= 100) {
        printf(" %11.1f", v);
    } else {
        printf(" %11.3f", v);
    }
}

void bn_print_table(void)
{
    table *t = the_table();
    printf("%-58s %11s %11s %11s  %-10s %s\n", "measurement", "median", "min",
           "max", "unit", "n");
    for (size_t i = 0; i < t->n; i++) {
        row *r = &t->rows[i];
        if (r->key[0] == '#') {
            printf("%s\n", r->key + 1);
            continue;
        }
        double lo = r->v[0], hi = r->v[0];
        for (size_t k = 1; k < r->n; k++) {
            lo = r->v[k] < lo ? r->v[k] : lo;
            hi = r->v[k] > hi ? r->v[k] : hi;
        }
        printf("  %-56s", r->key);
        print_value(bn_median(r->v, r->n));
        print_value(lo);
        print_value(hi);
        printf("  %-10s %zu\n", r->unit, r->n);
    }
}

void bn_print_targets(void)
{
    table *t = the_table();
    if (t->nt == 0) {
        return;
    }
    printf("targets (docs/DESIGN.md section 9, issue 15): the median of the "
           "rows above\n");
    for (size_t i = 0; i < t->nt; i++) {
        const target *g = &t->targets[i];
        const row *r = find_row(g->key);
        if (r == NULL) {
            continue;
        }
        double m = bn_median(r->v, r->n);
        int met = g->at_most ? m <= g->limit : m >= g->limit;
        printf("  %-56s", g->what);
        print_value(m);
        printf("  %s %-8g %-6s", g->at_most ? "<=" : ">=", g->limit, r->unit);
        if (met) {
            printf(" met\n");
        } else {
            printf(" MISSED by %.2fx\n",
                   g->at_most ? m / g->limit : g->limit / m);
        }
    }
}
