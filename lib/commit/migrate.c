/*
 * migrate.c - cairn_journal_migrate(): a format-2 journal from a format-1
 * one (docs/FORMAT.md "Migration from format 1").
 *
 * The old journal is only read: one LMDB read transaction copies its
 * environment into a private directory inside the new journal's directory
 * (store/create.c's cairn__journal_build()).  Everything after that works
 * on the copy: the caller's check (the CLI verifies it there, so what was
 * verified is exactly what is converted), then ONE write transaction
 * that adds the log tree, the state map and the head and sets the format
 * to 2, then the head is proven the way every writer proves it.  Only then
 * is data.mdb linked into place.  So a crash leaves the old journal as it
 * was and the new directory without a journal (a stale private directory
 * at most, which the next create or migrate ignores), or with the
 * complete one: link(2) of a durable file is the only step that makes it
 * visible.
 */
#include "commit/commit.h"

#include "base/bytes.h"
#include "base/jdir.h"
#include "format/merkle.h"
#include "format/record.h"
#include "journal/head.h"
#include "journal/oprows.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct migrate {
    const cairn_migrate_opts *opts;
    cairn__migrate_hook hook;
    void *hook_ctx;
    cairn_journal *old;
    mode_t file_mode;
    cairn_journal *copy; /* during fill() */
    cairn_migrate_result *out;
    char why[CAIRN__DETAIL_MAX]; /* convert()'s failure */
} migrate;

/* May the signer (or its absence) sign the head of a journal holding
 * run @p st?  One key signs a format-2 journal. */
static cairn_err check_run_key(const migrate *m, const cairn_state *st,
                               char *detail, size_t detail_len)
{
    const cairn_signer *s = m->opts->signer;
    char have[17], want[17];
    if (s == NULL && st->signed_run) {
        cairn__key_id_text(st->key_id, have);
        return cairn__fail(detail, detail_len, CAIRN_EKEYMISMATCH,
                           "run %s is signed by key %s: a signed journal "
                           "migrates only with that key",
                           st->run_id, have);
    }
    if (s != NULL && !st->signed_run) {
        return cairn__fail(detail, detail_len, CAIRN_EKEYMISMATCH,
                           "run %s is unsigned: a journal signed by one "
                           "key cannot vouch for it",
                           st->run_id);
    }
    if (s != NULL && memcmp(st->key_id, s->key_id, CAIRN_KEY_ID_BYTES) != 0) {
        cairn__key_id_text(st->key_id, have);
        cairn__key_id_text(s->key_id, want);
        return cairn__fail(detail, detail_len, CAIRN_EKEYMISMATCH,
                           "run %s is signed by key %s, not by the "
                           "migrating key %s: a format-2 journal is signed "
                           "by one key",
                           st->run_id, have, want);
    }
    return CAIRN_OK;
}

/* Leaf i of a tree comes from key i+1 of @p dbi (u64, dense from 1). */
static cairn_err next_key(const uint8_t *k, size_t kl, uint64_t want,
                          const char *what, char *detail, size_t detail_len)
{
    if (kl != 8 || cairn__load64_be(k) != want) {
        return cairn__fail(detail, detail_len, CAIRN_ECORRUPT,
                           "%s: key %llu expected (%s are numbered 1..N)", what,
                           (unsigned long long)want, what);
    }
    return CAIRN_OK;
}

/* Stream every value of @p from (keys 1..n) into the tree in @p to:
 * leaf = SHA-256(0x00 || value); every completed node is put.  Runs'
 * states are also checked against the signer. */
static cairn_err build_tree(migrate *m, cairn_txn *txn, cairn_dbi from,
                            cairn_dbi to, uint64_t *n,
                            uint8_t root[CAIRN_HASH_BYTES])
{
    const char *what = from == CAIRN_DBI_RUNS ? "runs" : "records";
    cairn_nodes nodes = {txn, to};
    cairn_mt_stream st;
    cairn_cursor *cur = NULL;
    const uint8_t *k, *v;
    size_t kl, vl;
    int found = 0;
    cairn__mt_stream_init(&st, cairn__nodes_put, &nodes);
    cairn_err err = cairn__cursor_open(txn, from, &cur);
    if (err == CAIRN_OK) {
        err = cairn__cursor_seek(cur, NULL, 0, &k, &kl, &v, &vl, &found);
    }
    while (err == CAIRN_OK && found) {
        uint8_t leaf[CAIRN_HASH_BYTES];
        err = next_key(k, kl, st.size + 1, what, m->why, sizeof(m->why));
        if (err == CAIRN_OK && from == CAIRN_DBI_RUNS) {
            cairn_state state;
            err = cairn__runstate_decode(txn, v, vl, &state, m->why,
                                         sizeof(m->why));
            if (err == CAIRN_OK) {
                err = check_run_key(m, &state, m->why, sizeof(m->why));
                cairn__state_free(&state);
            }
            cairn__state_leaf(v, vl, leaf);
        } else {
            cairn__leaf_hash(v, vl, leaf);
        }
        if (err == CAIRN_OK) {
            err = cairn__mt_stream_push(&st, leaf, m->why, sizeof(m->why));
        }
        if (err == CAIRN_OK) {
            err = cairn__cursor_next(cur, &k, &kl, &v, &vl, &found);
        }
    }
    cairn__cursor_close(cur);
    if (err != CAIRN_OK && m->why[0] == '\0') {
        cairn__fmt(m->why, sizeof(m->why), "%s: %s", what,
                   cairn__store_detail(m->copy->store));
    }
    *n = st.size;
    cairn__mt_stream_root(&st, root);
    return err;
}

/* Every run's section 9 blob becomes a run summary with its rows and op
 * tree (docs/FORMAT.md section 23), in key order 1.. (a gap ends it;
 * build_tree() then names it). */
static cairn_err convert_runs(migrate *m, cairn_txn *txn)
{
    cairn_err err = CAIRN_OK;
    for (uint64_t run = 1; err == CAIRN_OK; run++) {
        uint8_t key[8];
        const uint8_t *v;
        size_t vl;
        int found = 0;
        cairn_state st;
        cairn__store64_be(key, run);
        err = cairn__txn_get(txn, CAIRN_DBI_RUNS, key, sizeof(key), &v, &vl,
                             &found);
        if (err != CAIRN_OK || !found) {
            break;
        }
        err = cairn__state_decode(v, vl, &st, m->why, sizeof(m->why));
        if (err == CAIRN_OK) {
            err = cairn__runstate_put(txn, NULL, &st, NULL, m->why,
                                      sizeof(m->why));
            cairn__state_free(&st);
        }
    }
    return err;
}

/* The one write transaction of the conversion (re-runnable). */
static cairn_err convert(cairn_txn *txn, void *ctx)
{
    migrate *m = ctx;
    cairn_migrate_result *o = m->out;
    const uint8_t *v;
    size_t vl;
    int found = 0;
    uint8_t fmt[4];
    m->why[0] = '\0';
    cairn_err err = cairn__txn_get(txn, CAIRN_DBI_META, CAIRN__HEAD_KEY,
                                   strlen(CAIRN__HEAD_KEY), &v, &vl, &found);
    if (err == CAIRN_OK && found) {
        cairn__fmt(m->why, sizeof(m->why), "a format-1 journal with a head");
        err = CAIRN_ECORRUPT;
    }
    if (err == CAIRN_OK) {
        err = cairn__txn_create_format2(txn);
    }
    if (err == CAIRN_OK) {
        err = build_tree(m, txn, CAIRN_DBI_RECORDS, CAIRN_DBI_TREE, &o->records,
                         o->root);
    }
    if (err == CAIRN_OK) {
        err = convert_runs(m, txn);
    }
    if (err == CAIRN_OK) {
        err = build_tree(m, txn, CAIRN_DBI_RUNS, CAIRN_DBI_SMAP, &o->runs,
                         o->state_root);
    }
    if (err == CAIRN_OK) {
        err = cairn__head_put(m->copy, txn, m->opts->signer != NULL, o->records,
                              o->root, o->runs, o->state_root, m->why,
                              sizeof(m->why));
    }
    if (err == CAIRN_OK) {
        cairn__store32_be(fmt, 2);
        err = cairn__txn_put(txn, CAIRN_DBI_META, "format", 6, fmt, sizeof(fmt),
                             0);
    }
    if (err != CAIRN_OK && m->why[0] == '\0') {
        cairn__fmt(m->why, sizeof(m->why), "%s",
                   cairn__store_detail(m->copy->store));
    }
    return err;
}

/* Prove the new head as a writer would (its signature checked with the
 * signer's public key, its counts against the databases), and copy it
 * out. */
static cairn_err prove(migrate *m, char *detail, size_t detail_len)
{
    cairn_journal *j = m->copy;
    cairn_txn *txn = NULL;
    cairn_head h;
    const uint8_t *v;
    size_t vl;
    int found = 0;
    j->format = 2;
    /* head_put() counted the head as proven: check its signature again. */
    cairn__head_forget(j);
    cairn_err err = cairn__store_read(j->store, &txn);
    if (err == CAIRN_OK) {
        err = cairn__head_load(j, txn, &h, detail, detail_len);
    } else {
        cairn__fmt(detail, detail_len, "%s", cairn__store_detail(j->store));
    }
    if (err == CAIRN_OK &&
        (h.size != m->out->records || h.runs != m->out->runs ||
         (m->opts->signer != NULL && !h.proven))) {
        err = cairn__fail(detail, detail_len, CAIRN_ETAMPERED,
                          "the new head does not prove what was built");
    }
    if (err == CAIRN_OK) {
        err = cairn__txn_get(txn, CAIRN_DBI_META, CAIRN__HEAD_KEY,
                             strlen(CAIRN__HEAD_KEY), &v, &vl, &found);
    }
    if (err == CAIRN_OK && found && vl < sizeof(m->out->head)) {
        memcpy(m->out->head, v, vl);
        m->out->head[vl] = '\0';
        m->out->head_len = vl;
        m->out->is_signed = h.is_signed;
    }
    cairn__txn_end(txn);
    return err;
}

/* Copy the old environment into the private directory @p tfd. */
static cairn_err copy_old(migrate *m, int tfd, const char *tmp, char *detail,
                          size_t detail_len)
{
    int fd = openat(tfd, "data.mdb",
                    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                    m->file_mode);
    if (fd < 0) {
        return cairn__fail(detail, detail_len, CAIRN_EIO,
                           "create %s/data.mdb: %s", tmp, strerror(errno));
    }
    cairn_err err = cairn__store_copy_fd(m->old->store, fd);
    if (err != CAIRN_OK) {
        cairn__fmt(detail, detail_len, "copying %s: %s", m->old->dir,
                   cairn__store_detail(m->old->store));
    } else if (fsync(fd) != 0) {
        err = cairn__fail(detail, detail_len, CAIRN_EIO,
                          "fsync %s/data.mdb: %s", tmp, strerror(errno));
    }
    close(fd);
    return err;
}

/* cairn_build_fn: fill the private directory with the new journal. */
static cairn_err fill(void *ctx, int tfd, const char *tmp, char *detail,
                      size_t detail_len)
{
    migrate *m = ctx;
    cairn_journal_opts jo = CAIRN_JOURNAL_OPTS_INIT;
    jo.flags = CAIRN_OPEN_NO_SHARED_COMMIT;
    cairn_err err = copy_old(m, tfd, tmp, detail, detail_len);
    if (err == CAIRN_OK && m->hook != NULL) {
        m->hook(m->hook_ctx, CAIRN__MIGRATE_COPIED);
    }
    if (err == CAIRN_OK) {
        err = cairn_journal_open_opts(tmp, &jo, &m->copy, detail, detail_len);
    }
    if (err == CAIRN_OK && m->copy->format != 1) {
        err = cairn__fail(detail, detail_len, CAIRN_ECORRUPT,
                          "the copy of %s is not format 1", m->old->dir);
    }
    if (err == CAIRN_OK && m->opts->check != NULL) {
        err = m->opts->check(m->opts->check_ctx, m->copy, detail, detail_len);
    }
    if (err == CAIRN_OK) {
        cairn_journal_set_signer(m->copy, m->opts->signer);
        err = cairn__store_write(m->copy->store, convert, m);
        if (err != CAIRN_OK) {
            cairn__fmt(detail, detail_len, "%s: %s", m->old->dir,
                       m->why[0] != '\0' ? m->why
                                         : cairn__store_detail(m->copy->store));
        }
    }
    if (err == CAIRN_OK) {
        err = prove(m, detail, detail_len);
    }
    if (err == CAIRN_OK && m->hook != NULL) {
        m->hook(m->hook_ctx, CAIRN__MIGRATE_CONVERTED);
    }
    cairn_journal_close(m->copy);
    m->copy = NULL;
    return err;
}

/* Make @p new_dir (0700, or 0750 when the old files are group-readable)
 * and check that it holds no journal. */
static cairn_err open_new(const migrate *m, const char *new_dir, int *dfd,
                          char *detail, size_t detail_len)
{
    struct stat st;
    mode_t mode = (m->file_mode & 0040) != 0 ? 0750 : 0700;
    cairn_err err = cairn__journal_mkdir(new_dir, mode, detail, detail_len);
    if (err == CAIRN_OK) {
        err = cairn__jdir_open(new_dir, dfd, &st, detail, detail_len);
    }
    if (err == CAIRN_OK &&
        fstatat(*dfd, "data.mdb", &st, AT_SYMLINK_NOFOLLOW) == 0) {
        close(*dfd);
        *dfd = -1;
        err = cairn__fail(detail, detail_len, CAIRN_EEXIST,
                          "%s: a journal is there already (data.mdb)", new_dir);
    }
    return err;
}

cairn_err cairn__journal_migrate(const char *old_dir, const char *new_dir,
                                 const cairn_migrate_opts *opts,
                                 cairn__migrate_hook hook, void *hook_ctx,
                                 cairn_migrate_result *out, char *detail,
                                 size_t detail_len)
{
    if (out != NULL) {
        memset(out, 0, sizeof(*out));
    }
    if (old_dir == NULL || new_dir == NULL || opts == NULL || out == NULL) {
        return cairn__fail(detail, detail_len, CAIRN_EINVAL,
                           "migrate: NULL argument");
    }
    migrate m;
    memset(&m, 0, sizeof(m));
    m.opts = opts;
    m.hook = hook;
    m.hook_ctx = hook_ctx;
    m.out = out;
    int dfd = -1;
    struct stat st;
    int made_new = stat(new_dir, &st) != 0 && errno == ENOENT;
    cairn_err err = cairn_journal_open(old_dir, CAIRN_OPEN_READONLY, &m.old,
                                       detail, detail_len);
    if (err == CAIRN_OK && m.old->format != 1) {
        err = cairn__fail(detail, detail_len, CAIRN_EINVAL,
                          "%s: already journal format %u: nothing to migrate",
                          old_dir, m.old->format);
    }
    if (err == CAIRN_OK) {
        m.file_mode = cairn__jdir_file_mode(&m.old->data_st);
        memcpy(out->journal_id, m.old->journal_id, CAIRN_JOURNAL_ID_BYTES);
        err = open_new(&m, new_dir, &dfd, detail, detail_len);
    }
    if (err == CAIRN_OK) {
        err =
            cairn__journal_build(dfd, new_dir, 1, fill, &m, detail, detail_len);
    }
    if (dfd >= 0) {
        close(dfd);
    }
    cairn_journal_close(m.old);
    if (err != CAIRN_OK) {
        memset(out, 0, sizeof(*out));
        if (made_new) {
            (void)rmdir(new_dir); /* ours, and empty again */
        }
    }
    return err;
}

cairn_err cairn_journal_migrate(const char *old_dir, const char *new_dir,
                                const cairn_migrate_opts *opts,
                                cairn_migrate_result *out, char *detail,
                                size_t detail_len)
{
    return cairn__journal_migrate(old_dir, new_dir, opts, NULL, NULL, out,
                                  detail, detail_len);
}
