/*
 * salvage.c - cairn salvage SRC --bundles DIR --key PUB: export every
 * intact run of a damaged journal as a verified bundle, and report what
 * was lost (docs/cairn.1 "SALVAGE").
 *
 * SRC is never written: it is read through a private copy of data.mdb
 * (cairn_journal_open_snapshot(); nothing in SRC is created, locked or
 * changed).  LMDB may abort() or crash on a corrupt page, so the journal
 * is read in forked children, as `cairn verify` does: one lists the runs,
 * then one exports run after run.  When an exporter dies, the run it was
 * reading is reported lost and a new child continues with the next run.
 * Each bundle the children write is verified again in the parent, from
 * the file alone, before it counts as salvaged.
 */
#include "cli.h"
#include "cli_child.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

enum { OPT_KEY = CLI_OPT_FIRST_LOCAL, OPT_BUNDLES };

/* Most runs salvage lists (a journal with more is reported incomplete). */
#define MAX_RUNS 1000000u

typedef enum smsg_kind {
    SMSG_OPEN_FAIL = 1, /* err, detail */
    SMSG_NAME,          /* run_id */
    SMSG_LIST_FAIL,     /* err, detail: the listing stopped early */
    SMSG_LIST_END,
    SMSG_RUN_START, /* index */
    SMSG_RUN,       /* index, err (0: bundle written), detail, rep, total */
    SMSG_END
} smsg_kind;

typedef struct smsg {
    int kind;
    int err;
    size_t index;
    int have_rep;
    int64_t total; /* records of the run by its state; -1 unknown */
    char run_id[CAIRN_MAX_ID + 1];
    cairn_verify_report rep;
    char detail[1024];
} smsg;

/* What became of one run. */
typedef struct srun {
    char *run_id;
    char *bundle; /* path of its bundle (salvaged or attempted) */
    int salvaged;
    int verdict; /* of the run or of its bundle; -1 unknown */
    uint64_t records;
    int64_t total;
    int has_lost_seq;
    uint64_t lost_seq; /* first record not salvageable (bad or unread) */
    int pending_pass;  /* the pass that still has to try it; 0: decided */
    int run_only;      /* salvaged by the second pass */
    char reason[1200]; /* why it was lost (or, run_only, the first try) */
} srun;

typedef struct salvage {
    const char *src, *dir;
    const cairn_pubkey *key;
    const cairn_signer *signer;
    srun *runs;
    size_t n, cap;
    int list_complete;
    char list_problem[1200];
} salvage;

static void send_msg(int fd, const smsg *m)
{
    cli_child_send(fd, m, sizeof(*m));
}

static int recv_msg(int fd, smsg *m)
{
    return cli_child_recv(fd, m, sizeof(*m));
}

/* ---- children --------------------------------------------------------- */

static cairn_journal *child_open(int fd, const char *src)
{
    cairn_journal *j = NULL;
    const char *tmp = getenv("TMPDIR");
    smsg m;
    memset(&m, 0, sizeof(m));
    if (tmp == NULL || tmp[0] == '\0') {
        tmp = "/tmp";
    }
    cairn_err err =
        cairn_journal_open_snapshot(src, tmp, &j, m.detail, sizeof(m.detail));
    if (err != CAIRN_OK) {
        m.kind = SMSG_OPEN_FAIL;
        m.err = (int)err;
        send_msg(fd, &m);
        _exit(0);
    }
    return j;
}

static int send_name(void *vfd, const char *run_id)
{
    smsg m;
    memset(&m, 0, sizeof(m));
    m.kind = SMSG_NAME;
    cli_textf(m.run_id, sizeof(m.run_id), "%s", run_id);
    send_msg(*(int *)vfd, &m);
    return 0;
}

__attribute__((noreturn)) static void child_list(int fd, const char *src)
{
    cairn_journal *j = child_open(fd, src);
    smsg m;
    memset(&m, 0, sizeof(m));
    cairn_err err = cairn_run_each(j, send_name, &fd);
    m.kind = err == CAIRN_OK ? SMSG_LIST_END : SMSG_LIST_FAIL;
    m.err = (int)err;
    cli_textf(m.detail, sizeof(m.detail), "%s", cairn_journal_errdetail(j));
    send_msg(fd, &m);
    memset(&m, 0, sizeof(m));
    m.kind = SMSG_END;
    send_msg(fd, &m);
    _exit(0);
}

/* Export run @p i; on failure verify it for the report.  Pass 2 checks
 * the run's own records and checkpoints only. */
static void child_run(int fd, cairn_journal *j, const salvage *s, size_t i,
                      int pass)
{
    const srun *r = &s->runs[i];
    cairn_summary *sum = NULL;
    smsg m;

    memset(&m, 0, sizeof(m));
    m.kind = SMSG_RUN_START;
    m.index = i;
    send_msg(fd, &m);
    m.kind = SMSG_RUN;
    m.total = -1;
    cairn_err err =
        cairn_export_bundle_flags(j, r->run_id, s->signer, r->bundle,
                                  pass == 2 ? CAIRN_EXPORT_RUN_ONLY : 0);
    m.err = (int)err;
    if (err != CAIRN_OK) {
        cli_textf(m.detail, sizeof(m.detail), "%s", cairn_journal_errdetail(j));
        if (cairn_status_opts(j, r->run_id, CAIRN_STATUS_BRIEF, &sum) ==
            CAIRN_OK) {
            m.total = (int64_t)sum->records;
        }
        cairn_summary_free(sum);
        m.have_rep = cairn_verify_run(j, r->run_id, s->key, &m.rep) == CAIRN_OK;
    }
    send_msg(fd, &m);
}

__attribute__((noreturn)) static void child_export(int fd, const salvage *s,
                                                   size_t from, int pass)
{
    cairn_journal *j = child_open(fd, s->src);
    smsg m;
    for (size_t i = from; i < s->n; i++) {
        if (s->runs[i].pending_pass == pass) {
            child_run(fd, j, s, i, pass);
        }
    }
    memset(&m, 0, sizeof(m));
    m.kind = SMSG_END;
    send_msg(fd, &m);
    _exit(0);
}

/* ---- parent ----------------------------------------------------------- */

/* A file name for a run id: the id itself when it is a plain name (ids
 * from a damaged journal may not be), else run-<n>. */
static char *bundle_path(const char *dir, const char *run_id, size_t n)
{
    char name[CAIRN_MAX_ID + 32];
    int plain = run_id[0] != '\0' && run_id[0] != '.';
    for (const char *p = run_id; *p != '\0' && plain; p++) {
        plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.';
    }
    if (plain) {
        cli_textf(name, sizeof(name), "%s.cairn", run_id);
    } else {
        cli_textf(name, sizeof(name), "run-%zu.cairn", n + 1);
    }
    size_t len = strlen(dir) + strlen(name) + 2;
    char *path = malloc(len);
    if (path == NULL) {
        cli_die_nomem();
    }
    snprintf(path, len, "%s/%s", dir, name);
    return path;
}

static void add_run(salvage *s, const char *run_id)
{
    if (s->n == s->cap) {
        size_t cap = s->cap == 0 ? 16 : s->cap * 2;
        srun *v = realloc(s->runs, cap * sizeof(*v));
        if (v == NULL) {
            cli_die_nomem();
        }
        s->runs = v;
        s->cap = cap;
    }
    srun *r = &s->runs[s->n];
    memset(r, 0, sizeof(*r));
    r->run_id = strdup(run_id);
    if (r->run_id == NULL) {
        cli_die_nomem();
    }
    r->bundle = bundle_path(s->dir, run_id, s->n);
    r->verdict = -1;
    r->total = -1;
    r->pending_pass = 1;
    s->n++;
}

/* "exited with status N" / "killed by signal N" into @p out. */
static void describe_exit(int status, char *out, size_t cap)
{
    if (WIFSIGNALED(status)) {
        cli_textf(out, cap, "the reader was killed by signal %d (%s)",
                  WTERMSIG(status), strsignal(WTERMSIG(status)));
    } else {
        cli_textf(out, cap, "the reader exited with status %d",
                  WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    }
}

static pid_t spawn(int *rfd, const salvage *s, size_t from, int pass)
{
    int fd;
    pid_t pid = cli_child_fork(&fd, -1);
    if (pid == 0) {
        if (pass == 0) {
            child_list(fd, s->src);
        }
        child_export(fd, s, from, pass);
    }
    *rfd = fd;
    return pid;
}

__attribute__((noreturn)) static void open_failed(const smsg *m,
                                                  const char *src)
{
    char what[4200];
    cli_textf(what, sizeof(what), "salvage: journal %s", src);
    cli_die_err((cairn_err)m->err, what, m->detail);
}

static void list_runs(salvage *s)
{
    int fd, ended = 0;
    smsg m;
    pid_t pid = spawn(&fd, s, 0, 0);
    while (recv_msg(fd, &m) == 1) {
        if (m.kind == SMSG_OPEN_FAIL) {
            close(fd);
            cli_child_wait(pid);
            open_failed(&m, s->src);
        } else if (m.kind == SMSG_NAME && s->n < MAX_RUNS) {
            m.run_id[sizeof(m.run_id) - 1] = '\0';
            add_run(s, m.run_id);
        } else if (m.kind == SMSG_LIST_END) {
            s->list_complete = s->n < MAX_RUNS;
        } else if (m.kind == SMSG_LIST_FAIL) {
            m.detail[sizeof(m.detail) - 1] = '\0';
            cli_textf(s->list_problem, sizeof(s->list_problem),
                      "the list of runs is unreadable after %zu runs: %s: %s",
                      s->n, cairn_strerror((cairn_err)m.err), m.detail);
        } else if (m.kind == SMSG_END) {
            ended = 1;
        }
    }
    close(fd);
    int status = cli_child_wait(pid);
    if (!ended && s->list_problem[0] == '\0') {
        char why[200];
        describe_exit(status, why, sizeof(why));
        cli_textf(s->list_problem, sizeof(s->list_problem),
                  "the list of runs is unreadable after %zu runs: %s", s->n,
                  why);
    }
}

/* The child's verdict on a run it could not export.  A storage failure in
 * the first pass is tried again in the second. */
static void run_failed(srun *r, const smsg *m, int pass)
{
    const char *what = m->detail[0] != '\0' ? m->detail : "";
    int storage = m->have_rep
                      ? m->rep.verdict == CAIRN_VERDICT_ERROR
                      : m->err == CAIRN_ESTORE || m->err == CAIRN_ECORRUPT;
    r->pending_pass = pass == 1 && storage ? 2 : 0;
    if (m->total >= 0) {
        r->total = m->total;
    }
    if (m->have_rep) {
        r->verdict = (int)m->rep.verdict;
        r->records = m->rep.records;
        r->has_lost_seq = m->rep.has_bad;
        r->lost_seq = m->rep.bad_seq;
        if (!m->rep.has_bad && m->rep.verdict == CAIRN_VERDICT_ERROR &&
            (m->total < 0 || m->rep.records < (uint64_t)m->total)) {
            /* Reading stopped here: the records before it were read. */
            r->has_lost_seq = 1;
            r->lost_seq = m->rep.records;
        }
        cli_textf(r->reason, sizeof(r->reason), "%s: %s",
                  cairn_verdict_name(m->rep.verdict), m->rep.reason);
    } else {
        cli_textf(r->reason, sizeof(r->reason), "%s%s%s",
                  cairn_strerror((cairn_err)m->err),
                  what[0] != '\0' ? ": " : "", what);
    }
}

/* Remove what an attempt may have left of a run's bundle (DIR was empty
 * when salvage began: every file in it is salvage's). */
static void remove_bundle(const srun *r)
{
    char sig[4200], tp[4200];
    cli_textf(sig, sizeof(sig), "%s.minisig", r->bundle);
    cli_textf(tp, sizeof(tp), "%s.tlog-proof", r->bundle);
    (void)unlink(r->bundle);
    (void)unlink(sig);
    (void)unlink(tp);
}

/* Check a bundle from the file alone; remove it unless VERIFIED. */
static void check_bundle(const salvage *s, srun *r, int pass)
{
    cairn_verify_report rep;
    char detail[1024] = "";
    cairn_err err =
        cairn_verify_bundle(r->bundle, s->key, &rep, detail, sizeof(detail));
    if (err == CAIRN_OK && rep.verdict == CAIRN_VERDICT_VERIFIED) {
        r->salvaged = 1;
        r->run_only = pass == 2;
        r->pending_pass = 0;
        r->verdict = CAIRN_VERDICT_VERIFIED;
        r->records = rep.records;
        r->total = (int64_t)rep.records;
        return;
    }
    r->pending_pass = 0;
    r->verdict = err == CAIRN_OK ? (int)rep.verdict : CAIRN_VERDICT_ERROR;
    cli_textf(r->reason, sizeof(r->reason),
              "the bundle written does not verify: %s",
              err == CAIRN_OK ? rep.reason : detail);
    remove_bundle(r);
}

/* Export the runs of @p pass from @p from on in one child; returns the
 * next run to try (s->n when done). */
static size_t export_from(salvage *s, size_t from, int pass)
{
    int fd, ended = 0;
    size_t current = from, next = from;
    int in_run = 0;
    smsg m;
    pid_t pid = spawn(&fd, s, from, pass);
    while (recv_msg(fd, &m) == 1) {
        if (m.kind == SMSG_OPEN_FAIL) {
            close(fd);
            cli_child_wait(pid);
            open_failed(&m, s->src);
        } else if (m.kind == SMSG_RUN_START && m.index < s->n) {
            current = m.index;
            in_run = 1;
        } else if (m.kind == SMSG_RUN && m.index < s->n) {
            m.detail[sizeof(m.detail) - 1] = '\0';
            m.rep.reason[sizeof(m.rep.reason) - 1] = '\0';
            if (m.err == CAIRN_OK) {
                check_bundle(s, &s->runs[m.index], pass);
            } else {
                run_failed(&s->runs[m.index], &m, pass);
            }
            in_run = 0;
            next = m.index + 1;
        } else if (m.kind == SMSG_END) {
            ended = 1;
        }
    }
    close(fd);
    int status = cli_child_wait(pid);
    if (ended) {
        return s->n;
    }
    if (in_run) {
        /* It died reading this run: lost; go on with the next one. */
        srun *r = &s->runs[current];
        char why[200];
        describe_exit(status, why, sizeof(why));
        cli_textf(r->reason, sizeof(r->reason),
                  "ERROR: reading the run failed: %s (a corrupt page?)", why);
        r->verdict = CAIRN_VERDICT_ERROR;
        r->pending_pass = pass == 1 ? 2 : 0;
        remove_bundle(r);
        return current + 1;
    }
    if (next == from) {
        char why[200];
        describe_exit(status, why, sizeof(why));
        cli_die(6, "salvage: journal %s: %s before it read any run", s->src,
                why);
    }
    return next;
}

/* Remove what a child that died while writing left behind (temporary
 * files of bundles that were never completed). */
static void sweep(const salvage *s)
{
    DIR *d = opendir(s->dir);
    struct dirent *e;
    if (d == NULL) {
        return;
    }
    while ((e = readdir(d)) != NULL) {
        if (strstr(e->d_name, ".tmp-") == NULL) {
            continue;
        }
        char path[4400];
        cli_textf(path, sizeof(path), "%s/%s", s->dir, e->d_name);
        (void)unlink(path);
    }
    closedir(d);
}

/* ---- report ----------------------------------------------------------- */

static const char *verdict_word(int v)
{
    return v < 0 ? "unknown" : cairn_verdict_name((cairn_verdict)v);
}

static void report_text(const salvage *s, size_t saved)
{
    printf("salvage of %s into %s\n", s->src, s->dir);
    for (size_t i = 0; i < s->n; i++) {
        const srun *r = &s->runs[i];
        fputs(r->salvaged ? "salvaged  " : "LOST      ", stdout);
        cli_put_escaped(stdout, r->run_id);
        if (r->salvaged && !r->run_only) {
            printf("  %llu records, VERIFIED: %s\n",
                   (unsigned long long)r->records, r->bundle);
            continue;
        }
        if (r->salvaged) {
            printf("  %llu records, VERIFIED from its own records and "
                   "checkpoints only: %s (the journal-wide check failed: ",
                   (unsigned long long)r->records, r->bundle);
            cli_put_escaped(stdout, r->reason);
            fputs(")\n", stdout);
            continue;
        }
        if (r->total >= 0) {
            printf("  %lld records", (long long)r->total);
        } else {
            fputs("  ? records", stdout);
        }
        if (r->has_lost_seq) {
            printf(", lost from seq %llu", (unsigned long long)r->lost_seq);
        }
        fputs(": ", stdout);
        cli_put_escaped(stdout, r->reason);
        fputc('\n', stdout);
    }
    if (!s->list_complete) {
        fputs("INCOMPLETE list of runs: ", stdout);
        cli_put_escaped(stdout, s->list_problem);
        fputs("; later runs may be lost\n", stdout);
    }
    printf("runs: %zu found, %zu salvaged, %zu lost\n", s->n, saved,
           s->n - saved);
}

static void report_json(const salvage *s, size_t saved)
{
    json_t *o = json_object(), *runs = json_array();
    if (o == NULL || runs == NULL) {
        cli_die_nomem();
    }
    for (size_t i = 0; i < s->n; i++) {
        const srun *r = &s->runs[i];
        json_t *j = json_object();
        if (j == NULL) {
            cli_die_nomem();
        }
        cli_jset(j, "run_id", cli_jstr(r->run_id));
        cli_jset(j, "status", cli_jstr(r->salvaged ? "salvaged" : "lost"));
        cli_jset(j, "verdict", cli_jstr(verdict_word(r->verdict)));
        cli_jset(j, "bundle", r->salvaged ? cli_jstr(r->bundle) : json_null());
        cli_jset(j, "records", cli_ju64(r->records));
        cli_jset(j, "total_records",
                 r->total >= 0 ? json_integer(r->total) : json_null());
        cli_jset(j, "lost_from_seq",
                 r->has_lost_seq && !r->salvaged ? cli_ju64(r->lost_seq)
                                                 : json_null());
        cli_jset(j, "check",
                 r->salvaged ? cli_jstr(r->run_only ? "run-only" : "full")
                             : json_null());
        cli_jset(
            j, "reason",
            cli_jstr_or_null(r->salvaged && !r->run_only ? "" : r->reason));
        if (json_array_append_new(runs, j) != 0) {
            cli_die_nomem();
        }
    }
    cli_jset(o, "source", cli_jstr(s->src));
    cli_jset(o, "bundles", cli_jstr(s->dir));
    cli_jset(o, "runs", runs);
    cli_jset(o, "list_complete", json_boolean(s->list_complete));
    cli_jset(o, "list_problem", cli_jstr_or_null(s->list_problem));
    cli_jset(o, "found", json_integer((json_int_t)s->n));
    cli_jset(o, "salvaged", json_integer((json_int_t)saved));
    cli_jset(o, "lost", json_integer((json_int_t)(s->n - saved)));
    cli_jprint(o);
}

/* ---- command ---------------------------------------------------------- */

/* DIR must be new (it is made 0700) or an empty directory. */
static void prepare_dir(const char *dir)
{
    if (mkdir(dir, 0700) == 0) {
        return;
    }
    if (errno != EEXIST) {
        cli_die(CLI_EXIT_USAGE, "salvage: --bundles %s: %s", dir,
                strerror(errno));
    }
    DIR *d = opendir(dir);
    struct dirent *e;
    if (d == NULL) {
        cli_die(CLI_EXIT_USAGE, "salvage: --bundles %s: %s", dir,
                strerror(errno));
    }
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            closedir(d);
            cli_die(CLI_EXIT_USAGE,
                    "salvage: --bundles %s: not empty (salvage writes only "
                    "into a new or empty directory)",
                    dir);
        }
    }
    closedir(d);
}

static void check_key_pair(const cairn_signer *signer, const cairn_pubkey *key,
                           const char *key_path)
{
    uint8_t a[CAIRN_PUBLIC_KEY_BYTES], b[CAIRN_PUBLIC_KEY_BYTES];
    cairn_signer_public_key(signer, a);
    cairn_pubkey_bytes(key, b);
    if (memcmp(a, b, sizeof(a)) != 0) {
        cli_die(CLI_EXIT_USAGE,
                "salvage: the secret key is not the key of --key %s", key_path);
    }
}

static int exit_code(const salvage *s, size_t saved)
{
    int tampered = 0;
    for (size_t i = 0; i < s->n; i++) {
        tampered |= !s->runs[i].salvaged &&
                    s->runs[i].verdict == CAIRN_VERDICT_TAMPERED;
    }
    if (tampered) {
        return 4;
    }
    for (size_t i = 0; i < s->n; i++) {
        if (s->runs[i].run_only) {
            return 6; /* salvaged, but the journal is damaged */
        }
    }
    return saved == s->n && s->list_complete ? CLI_EXIT_OK : 6;
}

int cmd_salvage(cli_ctx *ctx, int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_LONG_COMMON,
        CLI_LONG_WRITE,
        {"key", required_argument, NULL, OPT_KEY},
        {"bundles", required_argument, NULL, OPT_BUNDLES},
        {0}};
    const char *key_path = NULL;
    salvage s;
    int c;

    memset(&s, 0, sizeof(s));
    cli_getopt_reset();
    while ((c = getopt_long(argc, argv, CLI_SHORT_COMMON, longopts, NULL)) !=
           -1) {
        if (cli_common_option(ctx, c, optarg, argv)) {
            continue;
        }
        if (c == OPT_KEY) {
            key_path = optarg;
        } else if (c == OPT_BUNDLES) {
            s.dir = optarg;
        }
    }
    s.src = cli_one_arg(ctx, argc, argv, "SRC (the damaged journal)");
    if (s.dir == NULL || s.dir[0] == '\0') {
        cli_usage_error(ctx, "--bundles DIR is required");
    }
    if (key_path == NULL) {
        cli_usage_error(ctx, "--key PUB is required: each run is verified "
                             "against the pinned key");
    }
    const char *env = getenv("CAIRN_SECRET_KEY");
    if (ctx->secret_key == NULL && (env == NULL || env[0] == '\0')) {
        cli_usage_error(ctx, "the bundles are signed: pass the runs' "
                             "secret key (--secret-key or CAIRN_SECRET_KEY)");
    }
    cairn_pubkey *key = cli_load_pubkey(key_path);
    cli_load_signer(ctx);
    check_key_pair(ctx->signer, key, key_path);
    prepare_dir(s.dir);
    s.key = key;
    s.signer = ctx->signer;

    list_runs(&s);
    for (int pass = 1; pass <= 2; pass++) {
        for (size_t i = 0; i < s.n;) {
            while (i < s.n && s.runs[i].pending_pass != pass) {
                i++;
            }
            if (i < s.n) {
                i = export_from(&s, i, pass);
            }
        }
    }
    sweep(&s);
    size_t saved = 0;
    for (size_t i = 0; i < s.n; i++) {
        saved += s.runs[i].salvaged != 0;
    }
    if (ctx->format == CLI_JSON) {
        report_json(&s, saved);
    } else {
        report_text(&s, saved);
    }
    int code = exit_code(&s, saved);
    for (size_t i = 0; i < s.n; i++) {
        free(s.runs[i].run_id);
        free(s.runs[i].bundle);
    }
    free(s.runs);
    cairn_pubkey_free(key);
    return code;
}
