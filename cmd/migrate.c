/*
 * migrate.c - cairn [-J OLD] migrate NEW [--key PUB --secret-key KEY]:
 * build a format-2 journal from a format-1 one (docs/cairn.1 "MIGRATE",
 * cairn_journal_migrate()).
 *
 * OLD is only read.  The library copies it, and this file verifies the
 * copy, exactly what will be converted, as `verify --all` would: every run
 * must be VERIFIED under the pinned key and signed by it (a format-2
 * journal is signed by one key), the directory's structure VERIFIED.
 * Without a key only a journal whose runs are all unsigned migrates, to
 * an unsigned ("unsafe") format-2 journal.
 */
#include "cli.h"
#include "cli_child.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

enum { OPT_KEY = CLI_OPT_FIRST_LOCAL };

typedef struct check_ctx {
    const cairn_pubkey *key; /* NULL: an unsigned migration */
    uint8_t key_id[CAIRN_KEY_ID_BYTES];
    cairn_err err; /* the first refusal */
    char why[1024];
    uint64_t runs;
} check_ctx;

static void refuse(check_ctx *c, cairn_err err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void refuse(check_ctx *c, cairn_err err, const char *fmt, ...)
{
    va_list ap;
    if (c->err != CAIRN_OK) {
        return;
    }
    c->err = err;
    va_start(ap, fmt);
    (void)vsnprintf(c->why, sizeof(c->why), fmt, ap);
    va_end(ap);
}

static cairn_err verdict_err(cairn_verdict v)
{
    switch (v) {
    case CAIRN_VERDICT_VERIFIED:
        return CAIRN_OK;
    case CAIRN_VERDICT_TAMPERED:
        return CAIRN_ETAMPERED;
    case CAIRN_VERDICT_INCOMPLETE:
        return CAIRN_EINCOMPLETE;
    case CAIRN_VERDICT_ERROR:
        return CAIRN_ECORRUPT;
    }
    return CAIRN_ECORRUPT;
}

/* cairn_verify_each_fn: one run of the copy. */
static int check_run(void *vctx, const cairn_verify_report *r)
{
    check_ctx *c = vctx;
    char have[17], want[17];
    c->runs++;
    cli_key_id_hex(r->key_id, have);
    cli_key_id_hex(c->key_id, want);
    int broken = r->verdict == CAIRN_VERDICT_TAMPERED ||
                 r->verdict == CAIRN_VERDICT_ERROR;
    if (c->key != NULL && r->run_signed &&
        memcmp(r->key_id, c->key_id, CAIRN_KEY_ID_BYTES) != 0) {
        refuse(c, CAIRN_EKEYMISMATCH,
               "run %s is signed by key %s, not by the --key %s: a "
               "format-2 journal is signed by one key",
               r->run_id, have, want);
    } else if (c->key == NULL && r->run_signed) {
        refuse(c, CAIRN_EKEYMISMATCH,
               "run %s is signed by key %s: pass --key and its secret key",
               r->run_id, have);
    } else if (broken) {
        refuse(c, verdict_err(r->verdict), "run %s: %s: %s", r->run_id,
               cairn_verdict_name(r->verdict), r->reason);
    } else if (c->key != NULL && !r->run_signed) {
        refuse(c, CAIRN_EKEYMISMATCH,
               "run %s is unsigned: a journal signed by key %s cannot vouch "
               "for it",
               r->run_id, want);
    } else if (c->key != NULL && r->verdict != CAIRN_VERDICT_VERIFIED) {
        refuse(c, verdict_err(r->verdict), "run %s: %s: %s", r->run_id,
               cairn_verdict_name(r->verdict), r->reason);
    } else if (c->key == NULL && r->unsealed != 0) {
        refuse(c, CAIRN_EINCOMPLETE,
               "run %s: %llu record(s) after its last checkpoint", r->run_id,
               (unsigned long long)r->unsealed);
    }
    return c->err != CAIRN_OK;
}

/* cairn_migrate_check_fn: `verify --all` of the copy. */
static cairn_err check_copy(void *vctx, cairn_journal *copy, char *detail,
                            size_t detail_len)
{
    check_ctx *c = vctx;
    cairn_verify_report dir;
    cairn_err err = cairn_verify_all(copy, c->key, 0, check_run, c, &dir);
    if (err != CAIRN_OK) {
        snprintf(detail, detail_len, "verifying: %s",
                 cairn_journal_errdetail(copy));
        return err;
    }
    if (c->err == CAIRN_OK && dir.verdict != CAIRN_VERDICT_VERIFIED) {
        refuse(c, verdict_err(dir.verdict), "directory: %s: %s",
               cairn_verdict_name(dir.verdict), dir.reason);
    }
    if (c->err != CAIRN_OK) {
        snprintf(detail, detail_len, "not migrated: %s", c->why);
    }
    return c->err;
}

static void check_key_pair(const cairn_signer *signer, const cairn_pubkey *key,
                           const char *key_path)
{
    uint8_t a[CAIRN_PUBLIC_KEY_BYTES], b[CAIRN_PUBLIC_KEY_BYTES];
    cairn_signer_public_key(signer, a);
    cairn_pubkey_bytes(key, b);
    if (memcmp(a, b, sizeof(a)) != 0) {
        cli_die(CLI_EXIT_USAGE,
                "migrate: the secret key is not the key of --key %s", key_path);
    }
}

static void print_text(const char *old, const char *dir,
                       const cairn_migrate_result *r, const check_ctx *c)
{
    char id[2 * CAIRN_JOURNAL_ID_BYTES + 1], root[2 * CAIRN_HASH_BYTES + 1];
    char sroot[2 * CAIRN_HASH_BYTES + 1], kid[17];
    cli_hex(r->journal_id, CAIRN_JOURNAL_ID_BYTES, id);
    cli_hex(r->root, CAIRN_HASH_BYTES, root);
    cli_hex(r->state_root, CAIRN_HASH_BYTES, sroot);
    fputs("migrated    : ", stdout);
    cli_verify_put_text(stdout, old);
    fputs(" (format 1) -> ", stdout);
    cli_verify_put_text(stdout, dir);
    fputs(" (format 2)\n", stdout);
    printf("journal id  : %s\n", id);
    printf("runs        : %llu\n", (unsigned long long)r->runs);
    printf("records     : %llu\n", (unsigned long long)r->records);
    printf("log root    : %s\n", root);
    printf("state root  : %s\n", sroot);
    if (r->is_signed) {
        cli_key_id_hex(c->key_id, kid);
        printf("head        : %zu bytes, signed by key %s (every run "
               "verified under it first)\n",
               r->head_len, kid);
    } else {
        printf("head        : %zu bytes, UNSIGNED: an unsafe journal, "
               "nothing in it is authenticated\n",
               r->head_len);
    }
}

static void print_json(const char *old, const char *dir,
                       const cairn_migrate_result *r, const check_ctx *c)
{
    char kid[17];
    json_t *doc = json_object();
    if (doc == NULL) {
        cli_die_nomem();
    }
    cli_key_id_hex(c->key_id, kid);
    cli_jset(doc, "old", cli_jstr(old));
    cli_jset(doc, "new", cli_jstr(dir));
    cli_jset(doc, "journal_id",
             cli_jhex(r->journal_id, CAIRN_JOURNAL_ID_BYTES));
    cli_jset(doc, "format", json_integer(2));
    cli_jset(doc, "runs", cli_ju64(r->runs));
    cli_jset(doc, "records", cli_ju64(r->records));
    cli_jset(doc, "log_root", cli_jhex(r->root, CAIRN_HASH_BYTES));
    cli_jset(doc, "state_root", cli_jhex(r->state_root, CAIRN_HASH_BYTES));
    cli_jset(doc, "signed", json_boolean(r->is_signed));
    cli_jset(doc, "key_id", r->is_signed ? cli_jstr(kid) : json_null());
    cli_jset(doc, "head", cli_jstr(r->head));
    cli_jprint(doc);
}

/* What the migrating child sends back. */
typedef struct mmsg {
    int err;
    char detail[1200];
    cairn_migrate_result res;
} mmsg;

/* cairn_journal_migrate() in a forked child: LMDB may abort() or crash
 * on a corrupt page of the journal being verified (as `cairn verify`
 * knows).  A child that dies sets *died, with why in @p detail: the old
 * journal was only read, and NEW was not published. */
static cairn_err migrate_in_child(const char *old, const char *dir,
                                  const cairn_migrate_opts *opts,
                                  cairn_migrate_result *res, int *died,
                                  char *detail, size_t detail_len)
{
    int fd;
    mmsg m;
    pid_t pid = cli_child_fork(&fd, -1);
    if (pid == 0) {
        memset(&m, 0, sizeof(m));
        m.err = (int)cairn_journal_migrate(old, dir, opts, &m.res, m.detail,
                                           sizeof(m.detail));
        cli_child_send(fd, &m, sizeof(m));
        _exit(0);
    }
    int got = cli_child_recv(fd, &m, sizeof(m));
    close(fd);
    int status = cli_child_wait(pid);
    if (got != 1) {
        if (WIFSIGNALED(status)) {
            snprintf(detail, detail_len, "the migration died of signal %d",
                     WTERMSIG(status));
        } else {
            snprintf(detail, detail_len, "the migration stopped early");
        }
        *died = 1;
        return CAIRN_ECORRUPT;
    }
    snprintf(detail, detail_len, "%s", m.detail);
    *res = m.res;
    return (cairn_err)m.err;
}

int cmd_migrate(cli_ctx *ctx, int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_LONG_COMMON,
        CLI_LONG_WRITE,
        {"key", required_argument, NULL, OPT_KEY},
        {0}};
    const char *key_path = NULL;
    check_ctx c;
    cairn_migrate_opts opts;
    cairn_migrate_result res;
    char detail[1200], what[4200];
    int opt;

    memset(&c, 0, sizeof(c));
    memset(&opts, 0, sizeof(opts));
    cli_getopt_reset();
    while ((opt = getopt_long(argc, argv, CLI_SHORT_COMMON, longopts, NULL)) !=
           -1) {
        if (cli_common_option(ctx, opt, optarg, argv)) {
            continue;
        }
        if (opt == OPT_KEY) {
            key_path = optarg;
        }
    }
    const char *dir = cli_one_arg(ctx, argc, argv, "NEW (the new journal)");
    const char *env = getenv("CAIRN_SECRET_KEY");
    int have_secret =
        ctx->secret_key != NULL || (env != NULL && env[0] != '\0');
    if (key_path != NULL && !have_secret) {
        cli_usage_error(ctx, "the new head is signed: pass the secret key of "
                             "--key (--secret-key or CAIRN_SECRET_KEY)");
    }
    if (key_path == NULL && have_secret) {
        cli_usage_error(ctx, "--key PUB is required with a secret key: the "
                             "old journal is verified against the pinned key");
    }
    const char *old = cli_journal_dir(ctx);
    cli_die_if_no_journal(old);
    cairn_pubkey *key = NULL;
    if (key_path != NULL) {
        key = cli_load_pubkey(key_path);
        cli_load_signer(ctx);
        check_key_pair(ctx->signer, key, key_path);
        cairn_pubkey_key_id(key, c.key_id);
    }
    c.key = key;
    opts.signer = ctx->signer;
    opts.check = check_copy;
    opts.check_ctx = &c;
    int died = 0;
    cairn_err err =
        migrate_in_child(old, dir, &opts, &res, &died, detail, sizeof(detail));
    cairn_pubkey_free(key);
    snprintf(what, sizeof(what), "migrate %s", old);
    if (died) {
        cli_die_code(6, "CAIRN_ECORRUPT", what,
                     "migrate %s: journal unreadable: %s; %s holds no new "
                     "journal",
                     old, detail, dir);
    }
    if (err != CAIRN_OK) {
        cli_die_err(err, what, detail);
    }
    if (ctx->format == CLI_JSON) {
        print_json(old, dir, &res, &c);
    } else {
        print_text(old, dir, &res, &c);
    }
    return CLI_EXIT_OK;
}
