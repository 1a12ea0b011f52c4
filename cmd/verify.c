/*
 * verify.c - cairn verify (RUN | --all) [--key PUB]: forensic verification
 * of a journal (the report printers are in verify_bundle.c).
 *
 * LMDB may abort() on a corrupt page, so the journal is opened and
 * verified in a forked child.  The child sends fixed-size messages through
 * a pipe (journal id, each run's report, the directory report, a failure,
 * the end); the parent prints.  A child that dies by a signal or stops
 * without its end message gives the verdict ERROR, and so names the
 * damaged page cairn_journal_check_pages() finds (and LMDB's last words,
 * which the child's stderr, a memfd, kept).
 */
#include "cli.h"
#include "cli_child.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* snprintf into a fixed buffer, truncating quietly (reports are bounded). */
enum {
    OPT_KEY = CLI_OPT_FIRST_LOCAL,
    OPT_ALL,
    OPT_JOBS,
    OPT_SNAPSHOT,
    OPT_ANCHOR,
    OPT_WITNESS_KEY,
    OPT_MIN_WITNESSES
};

/* How the journal was read: in place, or a private copy (--snapshot, or
 * because the journal could not be opened in place). */
enum { READ_IN_PLACE = 0, READ_SNAPSHOT = 1, READ_SNAPSHOT_FALLBACK = 2 };

/* ---- the verifying child --------------------------------------------------
 */

typedef enum vmsg_kind {
    VMSG_JOURNAL = 1, /* journal_id */
    VMSG_RUN,         /* rep */
    VMSG_DIRECTORY,   /* rep */
    VMSG_FAIL,        /* err, detail (rep.run_id names the run) */
    VMSG_OPEN_FAIL,   /* err, detail */
    VMSG_ANCHOR,      /* index, err, anchor */
    VMSG_REMEMBERED,  /* err, detail, remembered */
    VMSG_END
} vmsg_kind;

typedef struct vmsg {
    int kind;
    int err;
    int read_mode;         /* VMSG_JOURNAL: READ_* */
    uint64_t snapshot_txn; /* VMSG_JOURNAL: the LMDB txn copied */
    uint8_t journal_id[CAIRN_JOURNAL_ID_BYTES];
    cairn_verify_report rep;
    char detail[2048];
    size_t index;                /* VMSG_ANCHOR: which --anchor */
    cairn_anchor_result anchor;  /* VMSG_ANCHOR */
    cairn_remembered remembered; /* VMSG_REMEMBERED */
} vmsg;

static void send_msg(int fd, const vmsg *m)
{
    cli_child_send(fd, m, sizeof(*m));
}

/* With --all, @p listed: the run id comes from a run's state, so a
 * name that does not find it is tampering, not a usage error. */
static void verify_one(int fd, cairn_journal *j, const char *run,
                       const cairn_pubkey *key, int listed)
{
    vmsg m;
    memset(&m, 0, sizeof(m));
    cairn_err err = cairn_verify_run(j, run, key, &m.rep);
    if (err == CAIRN_ENORUN && listed) {
        m.kind = VMSG_RUN;
        m.rep.verdict = CAIRN_VERDICT_TAMPERED;
        m.rep.key_pinned = key != NULL;
        cli_textf(m.rep.run_id, sizeof(m.rep.run_id), "%s", run);
        cli_textf(m.rep.bad_field, sizeof(m.rep.bad_field), "names");
        cli_textf(m.rep.reason, sizeof(m.rep.reason),
                  "the run has a state but its name does not lead to it");
        send_msg(fd, &m);
        return;
    }
    m.kind = err == CAIRN_OK ? VMSG_RUN : VMSG_FAIL;
    m.err = (int)err;
    if (err != CAIRN_OK) {
        cli_textf(m.detail, sizeof(m.detail), "%s", cairn_journal_errdetail(j));
        cli_textf(m.rep.run_id, sizeof(m.rep.run_id), "%s", run);
    }
    send_msg(fd, &m);
}

typedef struct all_ctx {
    int fd;
} all_ctx;

static int send_run(void *vctx, const cairn_verify_report *run)
{
    const all_ctx *a = vctx;
    vmsg m;
    memset(&m, 0, sizeof(m));
    m.kind = VMSG_RUN;
    m.rep = *run;
    send_msg(a->fd, &m);
    return 0;
}

/* Every run, then the directory report (cairn_verify_all()). */
static void verify_all(int fd, cairn_journal *j, const cairn_pubkey *key,
                       unsigned jobs)
{
    all_ctx a = {fd};
    vmsg m;
    memset(&m, 0, sizeof(m));
    cairn_err err = cairn_verify_all(j, key, jobs, send_run, &a, &m.rep);
    m.kind = err == CAIRN_OK ? VMSG_DIRECTORY : VMSG_FAIL;
    m.err = (int)err;
    if (err != CAIRN_OK) {
        cli_textf(m.detail, sizeof(m.detail), "%s", cairn_journal_errdetail(j));
        memset(&m.rep, 0, sizeof(m.rep));
    }
    send_msg(fd, &m);
}

/* Does DIR/data.mdb exist (whatever it is)? */
static int journal_exists(const char *dir)
{
    char path[4200];
    struct stat st;
    cli_textf(path, sizeof(path), "%s/data.mdb", dir);
    return lstat(path, &st) == 0;
}

/* Someone else's journal: the in-place open refuses it (CAIRN_EUNSAFE,
 * the owner checks), a snapshot reads it without touching its lock. */
static int not_ours(const char *dir)
{
    struct stat st;
    return stat(dir, &st) == 0 && st.st_uid != geteuid();
}

/* Open in place; or a private copy with --snapshot, or when the journal
 * exists but cannot be opened in place (lock.mdb not writable, a journal
 * of another user ...).  m->read_mode says which; with a fallback
 * m->detail says why. */
static cairn_err open_journal(const char *dir, int snapshot, vmsg *m,
                              cairn_journal **j)
{
    const char *tmp = getenv("TMPDIR");
    char why[sizeof(m->detail)];
    cairn_err err = CAIRN_EIO;
    if (tmp == NULL || tmp[0] == '\0') {
        tmp = "/tmp";
    }
    if (!snapshot) {
        cairn_journal_opts jo;
        err = cli_journal_opts(&jo, CAIRN_OPEN_READONLY, m->detail,
                               sizeof(m->detail)) != 0
                  ? CAIRN_EINVAL
                  : cairn_journal_open_opts(dir, &jo, j, m->detail,
                                            sizeof(m->detail));
        int fallback =
            err == CAIRN_EIO || (err == CAIRN_EUNSAFE && not_ours(dir));
        if (!fallback || !journal_exists(dir)) {
            return err;
        }
        cli_textf(why, sizeof(why), "%s", m->detail);
    }
    m->read_mode = snapshot ? READ_SNAPSHOT : READ_SNAPSHOT_FALLBACK;
    err =
        cairn_journal_open_snapshot(dir, tmp, j, m->detail, sizeof(m->detail));
    if (err == CAIRN_OK && !snapshot) {
        cli_textf(m->detail, sizeof(m->detail), "%s", why);
    }
    return err;
}

/* The remembered checkpoint (before the verification) and the anchors
 * (after it), sent to the parent. */
static void send_remembered(int fd, cli_anchors *a, cairn_journal *j)
{
    vmsg m;
    cli_anchors_remembered(a, j);
    if (!a->rem_done) {
        return;
    }
    memset(&m, 0, sizeof(m));
    m.kind = VMSG_REMEMBERED;
    m.err = a->rem_err;
    m.remembered = a->rem;
    cli_textf(m.detail, sizeof(m.detail), "%s", a->rem_detail);
    send_msg(fd, &m);
}

static void send_anchors(int fd, cli_anchors *a, cairn_journal *j,
                         const cairn_pubkey *key)
{
    vmsg m;
    cli_anchors_check(a, j, key);
    for (size_t i = 0; i < a->n; i++) {
        memset(&m, 0, sizeof(m));
        m.kind = VMSG_ANCHOR;
        m.index = i;
        m.err = a->err[i];
        m.anchor = a->res[i];
        send_msg(fd, &m);
    }
}

static void child_main(int fd, const char *dir, const char *run,
                       const cairn_pubkey *key, unsigned jobs, int snapshot,
                       cli_anchors *anchors)
{
    cairn_journal *j = NULL;
    cairn_journal_info info;
    vmsg m;
    memset(&m, 0, sizeof(m));
    cairn_err err = open_journal(dir, snapshot, &m, &j);
    if (err != CAIRN_OK) {
        m.kind = VMSG_OPEN_FAIL;
        m.err = (int)err;
        send_msg(fd, &m);
        _exit(0);
    }
    m.kind = VMSG_JOURNAL;
    if (m.read_mode != READ_IN_PLACE &&
        cairn_journal_info_get(j, &info) == CAIRN_OK) {
        m.snapshot_txn = info.last_txnid;
    }
    cairn_journal_id(j, m.journal_id);
    send_msg(fd, &m);
    send_remembered(fd, anchors, j);
    if (run != NULL) {
        verify_one(fd, j, run, key, 0);
    } else {
        verify_all(fd, j, key, jobs);
    }
    send_anchors(fd, anchors, j, key);
    memset(&m, 0, sizeof(m));
    m.kind = VMSG_END;
    send_msg(fd, &m);
    cairn_journal_close(j);
    _exit(0);
}

/* ---- the parent ------------------------------------------------------------
 */

typedef struct outcome {
    int have_id;
    int read_mode;
    uint64_t snapshot_txn;
    char snapshot_why[1024]; /* why the journal was not read in place */
    uint8_t journal_id[CAIRN_JOURNAL_ID_BYTES];
    cairn_verify_report *runs;
    size_t n_runs, cap;
    int have_dir;
    cairn_verify_report dir;
    int fail_kind; /* 0, VMSG_FAIL or VMSG_OPEN_FAIL */
    cairn_err fail_err;
    char fail_run[CAIRN_MAX_ID + 1];
    char fail_detail[1024];
    int ended;
    char error[1200];         /* "" or why the verdict is ERROR */
    cli_anchors *anchors;     /* --anchor files and the remembered check */
    cli_witnesses *witnesses; /* --witness-key, --min-witnesses */
} outcome;

/* 1: a whole message; 0: end of input; -1: a torn message or error. */
static void take_msg(outcome *o, const vmsg *m)
{
    switch (m->kind) {
    case VMSG_JOURNAL:
        o->have_id = 1;
        memcpy(o->journal_id, m->journal_id, CAIRN_JOURNAL_ID_BYTES);
        o->read_mode = m->read_mode;
        o->snapshot_txn = m->snapshot_txn;
        cli_textf(o->snapshot_why, sizeof(o->snapshot_why), "%s", m->detail);
        break;
    case VMSG_RUN:
        if (o->n_runs == o->cap) {
            o->cap = o->cap == 0 ? 16 : o->cap * 2;
            o->runs = realloc(o->runs, o->cap * sizeof(*o->runs));
            if (o->runs == NULL) {
                cli_die_nomem();
            }
        }
        o->runs[o->n_runs++] = m->rep;
        break;
    case VMSG_DIRECTORY:
        o->have_dir = 1;
        o->dir = m->rep;
        break;
    case VMSG_FAIL:
    case VMSG_OPEN_FAIL:
        if (o->fail_kind == 0) {
            o->fail_kind = m->kind;
            o->fail_err = (cairn_err)m->err;
            cli_textf(o->fail_run, sizeof(o->fail_run), "%s", m->rep.run_id);
            cli_textf(o->fail_detail, sizeof(o->fail_detail), "%s", m->detail);
        }
        break;
    case VMSG_ANCHOR:
        if (m->index < o->anchors->n) {
            o->anchors->err[m->index] = m->err;
            o->anchors->res[m->index] = m->anchor;
        }
        break;
    case VMSG_REMEMBERED:
        o->anchors->rem_done = 1;
        o->anchors->rem_err = m->err;
        o->anchors->rem = m->remembered;
        cli_textf(o->anchors->rem_detail, sizeof(o->anchors->rem_detail), "%s",
                  m->detail);
        break;
    case VMSG_END:
        o->ended = 1;
        break;
    default:
        cli_textf(o->error, sizeof(o->error),
                  "journal unreadable: verifier sent a bad message");
        break;
    }
}

/* What the child wrote to stderr (@p errfd, a memfd): passed on to ours
 * when it ended by itself; when it was killed, its last line (LMDB's
 * assertion) into @p last instead. */
static void child_stderr(int errfd, int killed, char *last, size_t cap)
{
    char buf[4096];
    ssize_t n;
    off_t off = 0;
    last[0] = '\0';
    while ((n = pread(errfd, buf, sizeof(buf) - 1, off)) > 0) {
        off += n;
        if (!killed) {
            fwrite(buf, 1, (size_t)n, stderr);
            continue;
        }
        buf[n] = '\0';
        for (char *line = strtok(buf, "\n"); line != NULL;
             line = strtok(NULL, "\n")) {
            cli_textf(last, cap, "%s", line);
        }
    }
}

/* Did the directory check or a run end in ERROR? */
static int any_error(const outcome *o)
{
    int found = o->have_dir && o->dir.verdict == CAIRN_VERDICT_ERROR;
    for (size_t i = 0; i < o->n_runs && !found; i++) {
        found = o->runs[i].verdict == CAIRN_VERDICT_ERROR;
    }
    return found;
}

/* The damaged page of data.mdb, if the walk finds one, into @p where. */
static int damaged_page(const char *dir, char *where, size_t cap)
{
    return cairn_journal_check_pages(dir, where, cap) == CAIRN_ECORRUPT;
}

/* Why the child stopped without its end message. */
static void child_died(const char *dir, int status, const char *lmdb,
                       outcome *o)
{
    char where[700], said[400] = "";
    int found = damaged_page(dir, where, sizeof(where));
    if (lmdb[0] != '\0') {
        cli_textf(said, sizeof(said), ": %s", lmdb);
    }
    if (WIFSIGNALED(status)) {
        cli_textf(
            o->error, sizeof(o->error),
            "journal unreadable: %s; the verifier was killed by signal %d%s",
            found ? where : "no damaged page found in data.mdb",
            WTERMSIG(status), said);
    } else {
        cli_textf(o->error, sizeof(o->error),
                  "journal unreadable: %s%sverifier stopped early (exit status "
                  "%d)",
                  found ? where : "", found ? "; the " : "",
                  WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    }
}

/* Fork, let the child verify, collect what it says. */
static void run_child(const char *dir, const char *run, const cairn_pubkey *key,
                      unsigned jobs, int snapshot, outcome *o)
{
    int fd;
    vmsg m;
    char lmdb[300] = "";
    int errfd = memfd_create("cairn-verify-stderr", MFD_CLOEXEC);
    pid_t pid = cli_child_fork(&fd, errfd);
    if (pid == 0) {
        child_main(fd, dir, run, key, jobs, snapshot, o->anchors);
    }
    while (cli_child_recv(fd, &m, sizeof(m)) == 1) {
        take_msg(o, &m);
    }
    close(fd);
    int status = cli_child_wait(pid);
    if (errfd >= 0) {
        child_stderr(errfd, WIFSIGNALED(status), lmdb, sizeof(lmdb));
        close(errfd);
    }
    if (WIFSIGNALED(status) || (!o->ended && o->fail_kind != VMSG_OPEN_FAIL)) {
        child_died(dir, status, lmdb, o);
    } else if (o->fail_kind != 0 && o->fail_err == CAIRN_ECORRUPT) {
        char where[700];
        if (damaged_page(dir, where, sizeof(where))) {
            size_t n = strlen(o->fail_detail);
            int bare =
                n == 0 || (n >= 2 && strcmp(o->fail_detail + n - 2, ": ") == 0);
            cli_textf(o->fail_detail + n, sizeof(o->fail_detail) - n, "%s%s",
                      bare ? "" : "; ", where);
        }
    } else if (o->error[0] == '\0' && any_error(o)) {
        char where[700];
        if (damaged_page(dir, where, sizeof(where))) {
            cli_textf(o->error, sizeof(o->error), "journal unreadable: %s",
                      where);
        }
    }
}

/* Worst first: TAMPERED, ERROR, INCOMPLETE, VERIFIED. */
static int rank(cairn_verdict v)
{
    switch (v) {
    case CAIRN_VERDICT_TAMPERED:
        return 3;
    case CAIRN_VERDICT_ERROR:
        return 2;
    case CAIRN_VERDICT_INCOMPLETE:
        return 1;
    case CAIRN_VERDICT_VERIFIED:
        return 0;
    }
    return 2;
}

static cairn_verdict worse(cairn_verdict a, cairn_verdict b)
{
    return rank(b) > rank(a) ? b : a;
}

/* Failures that are not verdicts: no such run, out of memory, no
 * journal.  A journal that is there but cannot be opened or read is
 * ERROR (also when its private copy failed), and so is a run list that
 * cannot be read with --all (the directory report still says what is
 * wrong). */
static void die_on_failure(outcome *o, const char *dir)
{
    char what[4200];
    if (o->fail_kind == VMSG_OPEN_FAIL && o->fail_err != CAIRN_ECORRUPT &&
        o->fail_err != CAIRN_EVERSION &&
        (o->fail_err == CAIRN_ENOMEM || o->fail_err == CAIRN_EINVAL ||
         !journal_exists(dir))) {
        cli_textf(what, sizeof(what), "journal %s", dir);
        cli_die_err(o->fail_err, what, o->fail_detail);
    }
    if (o->fail_kind == VMSG_FAIL && o->fail_run[0] == '\0' &&
        o->fail_err != CAIRN_ENOMEM) {
        if (o->error[0] == '\0') {
            cli_textf(o->error, sizeof(o->error), "journal unreadable: %s",
                      o->fail_detail);
        }
        return;
    }
    if (o->fail_kind == VMSG_FAIL) {
        cli_textf(what, sizeof(what), "verify %s", o->fail_run);
        cli_die_err(o->fail_err, what, o->fail_detail);
    }
}

static void journal_text(const char *dir, const outcome *o)
{
    char id[2 * CAIRN_JOURNAL_ID_BYTES + 1] = "?";
    if (o->have_id) {
        cli_hex(o->journal_id, CAIRN_JOURNAL_ID_BYTES, id);
    }
    fputs("journal     : ", stdout);
    cli_verify_put_text(stdout, dir);
    printf("  id=%s\n", id);
    if (o->have_id && o->read_mode != READ_IN_PLACE) {
        printf("snapshot    : a private copy of data.mdb at LMDB txn %llu; "
               "the journal's lock was not used (",
               (unsigned long long)o->snapshot_txn);
        if (o->read_mode == READ_SNAPSHOT) {
            fputs("--snapshot", stdout);
        } else {
            fputs("cannot open in place: ", stdout);
            cli_verify_put_text(stdout, o->snapshot_why);
        }
        fputs(")\n", stdout);
    }
}

static json_t *journal_json(const char *dir, const outcome *o)
{
    json_t *j = json_object();
    if (j == NULL) {
        cli_die_nomem();
    }
    cli_jset(j, "dir", cli_jstr(dir));
    cli_jset(j, "id",
             o->have_id ? cli_jhex(o->journal_id, CAIRN_JOURNAL_ID_BYTES)
                        : json_null());
    if (o->have_id && o->read_mode != READ_IN_PLACE) {
        json_t *snap = json_object();
        if (snap == NULL) {
            cli_die_nomem();
        }
        cli_jset(snap, "txn", cli_ju64(o->snapshot_txn));
        cli_jset(snap, "reason",
                 o->read_mode == READ_SNAPSHOT ? json_null()
                                               : cli_jstr(o->snapshot_why));
        cli_jset(j, "snapshot", snap);
    } else {
        cli_jset(j, "snapshot", json_null());
    }
    return j;
}

static void error_report(cairn_verify_report *r, const char *run,
                         const cairn_pubkey *key, const char *why)
{
    memset(r, 0, sizeof(*r));
    r->verdict = CAIRN_VERDICT_ERROR;
    r->key_pinned = key != NULL;
    cli_textf(r->run_id, sizeof(r->run_id), "%s", run);
    cli_textf(r->reason, sizeof(r->reason), "%s", why);
}

static int print_one(const cli_ctx *ctx, const char *dir, const outcome *o,
                     const cairn_verify_report *r, const cairn_pubkey *key,
                     const char *key_path)
{
    cairn_verdict all = worse(r->verdict, cli_anchors_verdict(o->anchors, dir));
    all = worse(all, cli_witnesses_verdict(o->witnesses));
    if (ctx->format == CLI_JSON) {
        json_t *doc = cli_verify_run_json(r);
        cli_jset(doc, "journal", journal_json(dir, o));
        cli_jset(doc, "key", cli_verify_key_json(key, key_path));
        cli_anchors_json(doc, o->anchors);
        cli_witnesses_json(doc, o->witnesses, o->anchors);
        if (all != r->verdict) {
            cli_jset(doc, "run_verdict",
                     cli_jstr(cairn_verdict_name(r->verdict)));
            cli_jset(doc, "verdict", cli_jstr(cairn_verdict_name(all)));
            cli_jset(doc, "exit_code",
                     json_integer(cairn_verdict_exit_code(all)));
        }
        cli_jprint(doc);
    } else {
        journal_text(dir, o);
        cli_verify_key_text(stdout, key, key_path);
        cli_verify_run_text(stdout, r);
        cli_anchors_text(stdout, o->anchors);
        cli_witnesses_text(stdout, o->witnesses, o->anchors);
        if (all != r->verdict) {
            printf("overall     : %s   exit %d\n", cairn_verdict_name(all),
                   cairn_verdict_exit_code(all));
        }
    }
    return cairn_verdict_exit_code(all);
}

static int verify_single(const cli_ctx *ctx, const char *dir, const char *run,
                         const outcome *o, const cairn_pubkey *key,
                         const char *key_path)
{
    cairn_verify_report r;
    if (o->n_runs == 1) {
        r = o->runs[0];
    } else if (o->fail_kind == VMSG_OPEN_FAIL) {
        char why[1200];
        cli_textf(why, sizeof(why), "journal unreadable: %s", o->fail_detail);
        error_report(&r, run, key, why);
    } else {
        error_report(&r, run, key,
                     o->error[0] != '\0' ? o->error : "journal unreadable");
    }
    return print_one(ctx, dir, o, &r, key, key_path);
}

static json_t *directory_json(const outcome *o)
{
    const cairn_verify_report *d = &o->dir;
    json_t *j;
    if (!o->have_dir) {
        return json_null();
    }
    j = json_object();
    if (j == NULL) {
        cli_die_nomem();
    }
    cli_jset(j, "verdict", cli_jstr(cairn_verdict_name(d->verdict)));
    cli_jset(j, "exit_code", json_integer(cairn_verdict_exit_code(d->verdict)));
    cli_jset(j, "reason", cli_jstr(d->reason));
    cli_jset(j, "records", cli_ju64(d->records));
    cli_jset(j, "checkpoints", cli_ju64(d->checkpoints));
    cli_jset(j, "first_bad", cli_verify_first_bad_json(d, "position"));
    cli_jset(j, "format",
             d->format != 0 ? json_integer(d->format) : json_null());
    cli_jset(j, "journal_head", cli_verify_head_json(d));
    return j;
}

static void directory_text(const outcome *o)
{
    const cairn_verify_report *d = &o->dir;
    if (!o->have_dir) {
        return;
    }
    cli_verify_head_text(stdout, d);
    printf("directory   : %s", cairn_verdict_name(d->verdict));
    if (d->verdict == CAIRN_VERDICT_TAMPERED && d->has_bad) {
        printf(" at position %llu, field %s", (unsigned long long)d->bad_seq,
               d->bad_field);
    } else if (d->verdict == CAIRN_VERDICT_TAMPERED && d->has_node) {
        printf(", field %s, node level %u index %llu", d->bad_field,
               d->bad_level, (unsigned long long)d->bad_index);
    } else if (d->verdict == CAIRN_VERDICT_TAMPERED) {
        printf(", field %s", d->bad_field);
    }
    fputs(" (", stdout);
    cli_verify_put_text(stdout, d->reason);
    fputs(")\n", stdout);
}

/* The overall verdict of --all and, in @p error, why it is ERROR. */
static cairn_verdict overall(const outcome *o, const cairn_pubkey *key,
                             char *error, size_t error_len)
{
    cairn_verdict all =
        key != NULL ? CAIRN_VERDICT_VERIFIED : CAIRN_VERDICT_INCOMPLETE;
    cli_textf(error, error_len, "%s", o->error);
    if (o->fail_kind == VMSG_OPEN_FAIL) {
        cli_textf(error, error_len, "journal unreadable: %s", o->fail_detail);
    } else if (!o->have_dir && error[0] == '\0') {
        cli_textf(error, error_len, "journal unreadable");
    }
    for (size_t i = 0; i < o->n_runs; i++) {
        all = worse(all, o->runs[i].verdict);
    }
    if (o->have_dir) {
        all = worse(all, o->dir.verdict);
    }
    return error[0] != '\0' ? worse(all, CAIRN_VERDICT_ERROR) : all;
}

static void every_json(const char *dir, const outcome *o,
                       const cairn_pubkey *key, const char *key_path,
                       cairn_verdict all, const char *error)
{
    json_t *doc = json_object(), *runs = json_array();
    if (doc == NULL || runs == NULL) {
        cli_die_nomem();
    }
    for (size_t i = 0; i < o->n_runs; i++) {
        if (json_array_append_new(runs, cli_verify_run_json(&o->runs[i]))) {
            cli_die_nomem();
        }
    }
    cli_jset(doc, "journal", journal_json(dir, o));
    cli_jset(doc, "key", cli_verify_key_json(key, key_path));
    cli_jset(doc, "runs", runs);
    cli_jset(doc, "directory", directory_json(o));
    cli_anchors_json(doc, o->anchors);
    cli_witnesses_json(doc, o->witnesses, o->anchors);
    cli_jset(doc, "error", cli_jstr_or_null(error));
    cli_jset(doc, "verdict", cli_jstr(cairn_verdict_name(all)));
    cli_jset(doc, "exit_code", json_integer(cairn_verdict_exit_code(all)));
    cli_jprint(doc);
}

static void every_text(const char *dir, const outcome *o,
                       const cairn_pubkey *key, const char *key_path,
                       cairn_verdict all, const char *error)
{
    journal_text(dir, o);
    cli_verify_key_text(stdout, key, key_path);
    for (size_t i = 0; i < o->n_runs; i++) {
        fputc('\n', stdout);
        cli_verify_run_text(stdout, &o->runs[i]);
    }
    fputc('\n', stdout);
    directory_text(o);
    cli_anchors_text(stdout, o->anchors);
    cli_witnesses_text(stdout, o->witnesses, o->anchors);
    if (error[0] != '\0') {
        fputs("error       : ", stdout);
        cli_verify_put_text(stdout, error);
        fputc('\n', stdout);
    }
    printf("overall     : %s (%zu run%s)   exit %d\n", cairn_verdict_name(all),
           o->n_runs, o->n_runs == 1 ? "" : "s", cairn_verdict_exit_code(all));
}

static int verify_every(const cli_ctx *ctx, const char *dir, const outcome *o,
                        const cairn_pubkey *key, const char *key_path)
{
    char error[1200];
    cairn_verdict all = overall(o, key, error, sizeof(error));
    all = worse(all, cli_anchors_verdict(o->anchors, dir));
    all = worse(all, cli_witnesses_verdict(o->witnesses));
    if (ctx->format == CLI_JSON) {
        every_json(dir, o, key, key_path, all, error);
    } else {
        every_text(dir, o, key, key_path, all, error);
    }
    return cairn_verdict_exit_code(all);
}

/* VERIFIED under @p key: remember the journal's head (forward only). */
static void remember_verified(const char *dir, int snapshot,
                              const cairn_pubkey *key, const char *store)
{
    cairn_journal *j = NULL;
    char detail[2048] = "";
    vmsg m;
    memset(&m, 0, sizeof(m));
    cairn_err err = open_journal(dir, snapshot, &m, &j);
    if (err == CAIRN_OK) {
        err = cairn_checkpoint_remember(j, store, key, NULL, detail,
                                        sizeof(detail));
        cairn_journal_close(j);
    } else {
        cli_textf(detail, sizeof(detail), "%s", m.detail);
    }
    if (err != CAIRN_OK && err != CAIRN_EINCOMPLETE && err != CAIRN_EVERSION) {
        cli_warn("journal %s: the checkpoint was not remembered: %s: %s", dir,
                 cairn_strerror(err), detail);
    }
}

/* --witness-key K (repeatable) --min-witnesses N: N of the pinned
 * witnesses (default 1) on the --anchor files.  N above the number of
 * keys is allowed: the verdict is then INCOMPLETE, saying so. */
static void check_witness_options(const cli_ctx *ctx, cli_witnesses *w,
                                  const cli_anchors *a, int have_min)
{
    if (w->n == 0 && have_min) {
        cli_usage_error(ctx, "--min-witnesses needs --witness-key VKEY");
    }
    if (w->n == 0) {
        return;
    }
    if (a->n == 0) {
        cli_usage_error(ctx, "--witness-key: the cosignatures are read from "
                             "the --anchor files: give at least one");
    }
    if (!have_min) {
        w->min = 1;
    }
    if (w->min == 0) {
        cli_usage_error(ctx, "--min-witnesses: at least 1");
    }
}

int cmd_verify(cli_ctx *ctx, int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_LONG_COMMON,
        {"key", required_argument, NULL, OPT_KEY},
        {"all", no_argument, NULL, OPT_ALL},
        {"jobs", required_argument, NULL, OPT_JOBS},
        {"snapshot", no_argument, NULL, OPT_SNAPSHOT},
        {"anchor", required_argument, NULL, OPT_ANCHOR},
        {"witness-key", required_argument, NULL, OPT_WITNESS_KEY},
        {"min-witnesses", required_argument, NULL, OPT_MIN_WITNESSES},
        CLI_LONG_REMEMBER,
        {0}};
    const char *key_path = NULL, *run = NULL, *dir;
    cairn_pubkey *key = NULL;
    outcome o;
    cli_anchors anchors;
    cli_witnesses witnesses;
    int all = 0, c, rc, snapshot = 0, have_min = 0;
    unsigned jobs = 0;

    memset(&anchors, 0, sizeof(anchors));
    memset(&witnesses, 0, sizeof(witnesses));
    cli_getopt_reset();
    while ((c = getopt_long(argc, argv, CLI_SHORT_COMMON, longopts, NULL)) !=
           -1) {
        if (cli_common_option(ctx, c, optarg, argv)) {
            continue;
        }
        if (c == OPT_KEY) { /* several: each run by its own key */
            key = cli_add_pubkey(key, optarg);
            key_path = key_path != NULL ? key_path : optarg;
        } else if (c == OPT_ANCHOR) {
            cli_anchors_add(&anchors, optarg);
        } else if (c == OPT_WITNESS_KEY) {
            cli_witnesses_add(&witnesses, optarg);
        } else if (c == OPT_MIN_WITNESSES) {
            witnesses.min = cli_parse_u32(ctx, "--min-witnesses", optarg);
            have_min = 1;
        } else if (c == OPT_ALL) {
            all = 1;
        } else if (c == OPT_SNAPSHOT) {
            snapshot = 1;
        } else if (c == OPT_JOBS) {
            jobs = cli_parse_u32(ctx, "--jobs", optarg);
            if (jobs > CAIRN_VERIFY_MAX_THREADS) {
                cli_usage_error(ctx, "--jobs: at most %d",
                                CAIRN_VERIFY_MAX_THREADS);
            }
        }
    }
    if (all) {
        cli_no_args(ctx, argc, argv);
    } else {
        run = cli_one_arg(ctx, argc, argv, "RUN (or --all)");
    }
    check_witness_options(ctx, &witnesses, &anchors, have_min);
    dir = cli_journal_dir(ctx);
    cli_die_if_no_journal(dir);
    anchors.checkpoints = cli_checkpoints_dir(ctx);
    memset(&o, 0, sizeof(o));
    o.anchors = &anchors;
    o.witnesses = &witnesses;
    run_child(dir, run, key, jobs, snapshot, &o);
    die_on_failure(&o, dir);
    cli_witnesses_check(&witnesses, &anchors);
    rc = all ? verify_every(ctx, dir, &o, key, key_path)
             : verify_single(ctx, dir, run, &o, key, key_path);
    if (rc == CLI_EXIT_OK && key != NULL && anchors.checkpoints != NULL) {
        remember_verified(dir, snapshot, key, anchors.checkpoints);
    }
    cli_anchors_free(&anchors);
    cli_witnesses_free(&witnesses);
    free(o.runs);
    cairn_pubkey_free(key);
    return rc;
}
