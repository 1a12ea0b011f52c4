/*
 * test_anchor.c - anchors and remembered checkpoints (docs/FORMAT.md
 * section 18): cairn_journal_checkpoint_get(), the add-checkpoint request
 * and its consistency proof, cairn_anchor_check() for every status
 * (ok, unverified, other journal, bad signature, rollback, fork, a
 * malformed note, cosignature lines ignored), and the remembered store
 * (forward only, rollback, fork, a replaced journal, a malformed file,
 * an unsafe file or directory, an unauthenticated head).
 *
 * The attacks are the ones docs/SECURITY.md section 8 lists as needing an
 * anchor: an older copy of data.mdb put back, two copies written apart
 * (a fork), another journal signed by the same key put in its place.
 */
#include "testutil.h"

#include "helpers/verify_fixture.h"

#include "format/merkle.h"
#include "format/note.h"

#include <ctype.h>
#include <dirent.h>

static struct {
    char *root, *pub_a, *sec_a, *pub_b, *sec_b;
    cairn_signer *a, *b;
    cairn_pubkey *pk_a, *pk_b;
} K;

static int group_setup(void **state)
{
    char detail[256];
    (void)state;
    K.root = tu_mkdtemp();
    K.pub_a = tu_path(K.root, "a.pub");
    K.sec_a = tu_path(K.root, "a.key");
    K.pub_b = tu_path(K.root, "b.pub");
    K.sec_b = tu_path(K.root, "b.key");
    vf_keygen(K.pub_a, K.sec_a);
    vf_keygen(K.pub_b, K.sec_b);
    assert_int_equal(
        cairn_signer_load(K.sec_a, NULL, &K.a, detail, sizeof(detail)),
        CAIRN_OK);
    assert_int_equal(
        cairn_signer_load(K.sec_b, NULL, &K.b, detail, sizeof(detail)),
        CAIRN_OK);
    assert_int_equal(
        cairn_pubkey_load(K.pub_a, &K.pk_a, detail, sizeof(detail)), CAIRN_OK);
    assert_int_equal(
        cairn_pubkey_load(K.pub_b, &K.pk_b, detail, sizeof(detail)), CAIRN_OK);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    cairn_signer_free(K.a);
    cairn_signer_free(K.b);
    cairn_pubkey_free(K.pk_a);
    cairn_pubkey_free(K.pk_b);
    free(K.pub_a);
    free(K.sec_a);
    free(K.pub_b);
    free(K.sec_b);
    tu_rmtree(K.root);
    return 0;
}

/* ---- helpers --------------------------------------------------------------
 */

static cairn_journal *jopen(const char *dir, const cairn_signer *signer)
{
    cairn_journal *j = NULL;
    char detail[256];
    assert_int_equal(
        cairn_journal_open(dir, CAIRN_OPEN_CREATE, &j, detail, sizeof(detail)),
        CAIRN_OK);
    cairn_journal_set_signer(j, signer);
    return j;
}

/* One more run (create + claim + receipt: 3 records). */
static void add_run(const char *dir, const cairn_signer *signer,
                    const char *run)
{
    cairn_journal *j = jopen(dir, signer);
    vf_create(j, run);
    vf_claim(j, run, -1);
    vf_receipt(j, run, 0, CAIRN_OUTCOME_COMPLETED, NULL, 0);
    cairn_journal_close(j);
}

static cairn_journal_checkpoint head_of(const char *dir,
                                        const cairn_pubkey *pinned)
{
    cairn_journal_checkpoint cp;
    char detail[512];
    cairn_journal *j = jopen(dir, NULL);
    assert_int_equal(
        cairn_journal_checkpoint_get(j, pinned, &cp, detail, sizeof(detail)),
        CAIRN_OK);
    cairn_journal_close(j);
    return cp;
}

static void copy_file(const char *from_dir, const char *to_dir)
{
    char *from = tu_path(from_dir, "data.mdb"),
         *to = tu_path(to_dir, "data.mdb");
    size_t n;
    char *data = tu_read_file(from, &n);
    tu_write_file(to, data, n);
    free(data);
    free(from);
    free(to);
}

static cairn_anchor_result anchor(const char *dir, const cairn_pubkey *pinned,
                                  const char *note, size_t len, cairn_err want)
{
    cairn_anchor_result r;
    cairn_journal *j = jopen(dir, NULL);
    assert_int_equal(cairn_anchor_check(j, pinned, note, len, &r), want);
    cairn_journal_close(j);
    return r;
}

static cairn_err check_rem(const char *dir, const char *store,
                           cairn_remembered *out, char *detail, size_t dl)
{
    cairn_journal *j = jopen(dir, NULL);
    cairn_err err =
        cairn_checkpoint_check_remembered(j, store, out, detail, dl);
    cairn_journal_close(j);
    return err;
}

static cairn_err remember(const char *dir, const cairn_signer *signer,
                          const cairn_pubkey *pinned, const char *store,
                          int *written, char *detail, size_t dl)
{
    cairn_journal *j = jopen(dir, signer);
    cairn_err err =
        cairn_checkpoint_remember(j, store, pinned, written, detail, dl);
    cairn_journal_close(j);
    return err;
}

/* ---- the checkpoint and the request ----------------------------------------
 */

static void test_checkpoint_get(void **state)
{
    (void)state;
    char *root = tu_mkdtemp(), *dir = tu_path(root, "j"), detail[512];
    cairn_journal_checkpoint cp;
    cairn_journal *j = jopen(dir, NULL);
    assert_int_equal(
        cairn_journal_checkpoint_get(j, NULL, &cp, detail, sizeof(detail)),
        CAIRN_ENOTHING);
    assert_non_null(strstr(detail, "empty"));
    assert_int_equal(
        cairn_journal_checkpoint_get(NULL, NULL, &cp, detail, sizeof(detail)),
        CAIRN_EINVAL);
    cairn_journal_close(j);
    add_run(dir, K.a, "r1");
    cp = head_of(dir, K.pk_a);
    assert_int_equal(cp.size, 3);
    assert_int_equal(cp.runs, 1);
    assert_true(cp.is_signed);
    assert_true(cp.signature_ok);
    assert_false(cp.key_mismatch);
    assert_int_equal(cp.note_len, strlen(cp.note));
    assert_memory_equal(cp.note, cp.origin, strlen(cp.origin));
    assert_non_null(strstr(cp.note, "\n\n\xe2\x80\x94 cairn/journal/"));
    cp = head_of(dir, K.pk_b);
    assert_false(cp.signature_ok);
    assert_true(cp.key_mismatch);
    cp = head_of(dir, NULL);
    assert_false(cp.signature_ok);
    free(dir);
    tu_rmtree(root);
}

/* Parse "old N\n", hashes, "\n", note; return the number of hashes. */
static size_t parse_request(const char *req, uint64_t *old,
                            uint8_t (*proof)[CAIRN_HASH_BYTES],
                            const char **note)
{
    size_t n = 0;
    char *end;
    assert_memory_equal(req, "old ", 4);
    *old = strtoull(req + 4, &end, 10);
    assert_int_equal(*end, '\n');
    const char *p = end + 1;
    while (*p != '\n') {
        const char *nl = strchr(p, '\n');
        assert_non_null(nl);
        assert_int_equal(nl - p, 44);
        assert_int_equal(cairn__note_b64_decode(p, 44, proof[n], 32), 0);
        n++;
        p = nl + 1;
    }
    *note = p + 1;
    return n;
}

static void test_request(void **state)
{
    (void)state;
    char *root = tu_mkdtemp(), *dir = tu_path(root, "j"), detail[512];
    static char buf[CAIRN_CHECKPOINT_REQUEST_MAX];
    uint8_t proof[CAIRN_MT_MAX_PROOF][CAIRN_HASH_BYTES];
    cairn_journal_checkpoint old_cp, cp;
    const char *note;
    uint64_t old;
    size_t len;
    add_run(dir, K.a, "r1");
    old_cp = head_of(dir, K.pk_a); /* 3 records */
    add_run(dir, K.a, "r2");
    add_run(dir, K.a, "r3");
    cairn_journal *j = jopen(dir, NULL);
    for (uint64_t m = 0; m <= 9; m++) {
        assert_int_equal(cairn_checkpoint_request(j, K.pk_a, m, &cp, buf,
                                                  sizeof(buf), &len, detail,
                                                  sizeof(detail)),
                         CAIRN_OK);
        assert_int_equal(len, strlen(buf));
        size_t n = parse_request(buf, &old, proof, &note);
        assert_int_equal(old, m);
        assert_int_equal(n, cairn__mt_consistency_len(m, 9));
        assert_string_equal(note, cp.note);
        assert_true(cp.signature_ok);
        if (m == 3) {
            assert_int_equal(cairn__mt_check_consistency(
                                 3, 9, old_cp.root, cp.root,
                                 (const uint8_t(*)[CAIRN_HASH_BYTES])proof, n),
                             0);
            proof[0][0] ^= 1;
            assert_int_equal(cairn__mt_check_consistency(
                                 3, 9, old_cp.root, cp.root,
                                 (const uint8_t(*)[CAIRN_HASH_BYTES])proof, n),
                             -1);
        }
    }
    assert_int_equal(cairn_checkpoint_request(j, NULL, 10, &cp, buf,
                                              sizeof(buf), &len, detail,
                                              sizeof(detail)),
                     CAIRN_EINVAL);
    assert_non_null(strstr(detail, "larger than the journal's head"));
    assert_int_equal(len, 0);
    assert_int_equal(cairn_checkpoint_request(j, NULL, 3, &cp, buf, 100, &len,
                                              detail, sizeof(detail)),
                     CAIRN_EINVAL);
    cairn_journal_close(j);

    /* A forged tree node gives no proof, never a wrong one. */
    vf_raw raw;
    MDB_dbi tree;
    vf_raw_open(&raw, dir);
    assert_int_equal(mdb_dbi_open(raw.txn, "tree", 0, &tree), 0);
    uint8_t key[9] = {0, 0, 0, 0, 0, 0, 0, 0, 3}, h[32];
    memset(h, 0x5a, sizeof(h));
    MDB_val k = {sizeof(key), key}, v = {sizeof(h), h};
    assert_int_equal(mdb_put(raw.txn, tree, &k, &v, 0), 0);
    vf_raw_close(&raw);
    j = jopen(dir, NULL);
    assert_int_equal(cairn_checkpoint_request(j, NULL, 3, &cp, buf, sizeof(buf),
                                              &len, detail, sizeof(detail)),
                     CAIRN_ETAMPERED);
    assert_non_null(strstr(detail, "no consistency proof"));
    cairn_journal_close(j);
    free(dir);
    tu_rmtree(root);
}

/* ---- anchors ---------------------------------------------------------------
 */

static void test_anchor_statuses(void **state)
{
    (void)state;
    char *root = tu_mkdtemp(), *dir = tu_path(root, "j");
    char *other = tu_path(root, "o");
    add_run(dir, K.a, "r1");
    cairn_journal_checkpoint a1 = head_of(dir, NULL);
    char *old = vf_copy(dir);
    add_run(dir, K.a, "r2");
    cairn_journal_checkpoint a2 = head_of(dir, NULL);
    cairn_anchor_result r;

    r = anchor(dir, K.pk_a, a1.note, a1.note_len, CAIRN_OK);
    assert_int_equal(r.status, CAIRN_ANCHOR_OK);
    assert_true(r.signature_ok);
    assert_int_equal(r.size, 3);
    assert_int_equal(r.head_size, 6);
    assert_int_equal(r.records_after, 3);
    assert_int_equal(r.time_ns, a1.time_ns);
    assert_string_equal(cairn_anchor_status_name(r.status), "ok");
    r = anchor(dir, K.pk_a, a2.note, a2.note_len, CAIRN_OK);
    assert_int_equal(r.status, CAIRN_ANCHOR_OK);
    assert_int_equal(r.records_after, 0);
    /* No key, or another key: consistent but unverified. */
    r = anchor(dir, NULL, a1.note, a1.note_len, CAIRN_OK);
    assert_int_equal(r.status, CAIRN_ANCHOR_UNVERIFIED);
    assert_non_null(strstr(r.reason, "no pinned key"));
    r = anchor(dir, K.pk_b, a1.note, a1.note_len, CAIRN_OK);
    assert_int_equal(r.status, CAIRN_ANCHOR_UNVERIFIED);
    assert_non_null(strstr(r.reason, "not signed by the pinned key"));
    /* A witness's cosignature line is ignored. */
    {
        cairn_wr w;
        cairn_note n;
        char why[256];
        uint8_t pk[32], sk[64], seed[32] = {7};
        assert_int_equal(cairn__ed25519_seed_keypair(pk, sk, seed), CAIRN_OK);
        assert_int_equal(
            cairn__note_parse(a1.note, a1.note_len, &n, why, sizeof(why)),
            CAIRN_OK);
        cairn__wr_init(&w, 8192);
        cairn__wr_bytes(&w, a1.note, a1.note_len);
        assert_int_equal(cairn__cosig_line(&w, n.text, n.text_len,
                                           "witness.example", 15, 1700000000,
                                           sk),
                         CAIRN_OK);
        r = anchor(dir, K.pk_a, (const char *)w.p, w.len, CAIRN_OK);
        assert_int_equal(r.status, CAIRN_ANCHOR_OK);
        assert_int_equal(r.cosignatures, 1);
        cairn__wr_free(&w);
    }
    /* A bad signature of the pinned key. */
    {
        char bad[sizeof(a1.note)];
        memcpy(bad, a1.note, a1.note_len);
        char *sig = strstr(bad, "\n\n\xe2\x80\x94 ");
        sig = strchr(sig + 6, ' ') + 10;
        *sig = *sig == 'A' ? 'B' : 'A';
        r = anchor(dir, K.pk_a, bad, a1.note_len, CAIRN_OK);
        assert_int_equal(r.status, CAIRN_ANCHOR_BAD_SIGNATURE);
        assert_non_null(strstr(r.reason, "does not verify"));
    }
    /* Malformed notes. */
    r = anchor(dir, K.pk_a, "junk\n", 5, CAIRN_ECORRUPT);
    assert_non_null(strstr(r.reason, "not a checkpoint"));
    r = anchor(dir, K.pk_a, a1.note, a1.note_len - 1, CAIRN_ECORRUPT);
    r = anchor(dir, K.pk_a, "x\n3\nAAAA\n\n", 10, CAIRN_ECORRUPT);
    {
        /* A checkpoint without cairn's extension lines. */
        const char *p = strstr(a1.note, "cairn-state");
        r = anchor(dir, NULL, a1.note, (size_t)(p - a1.note), CAIRN_ECORRUPT);
        assert_non_null(strstr(r.reason, "extension lines"));
    }

    /* Rollback: the old copy put back, the newer anchor kept. */
    copy_file(old, dir);
    r = anchor(dir, K.pk_a, a2.note, a2.note_len, CAIRN_OK);
    assert_int_equal(r.status, CAIRN_ANCHOR_ROLLBACK);
    assert_int_equal(r.head_size, 3);
    assert_non_null(strstr(r.reason, "rolled back"));
    r = anchor(dir, K.pk_a, a1.note, a1.note_len, CAIRN_OK);
    assert_int_equal(r.status, CAIRN_ANCHOR_OK);
    /* Fork: the old copy goes on apart (same size, then larger). */
    add_run(dir, K.a, "r3");
    r = anchor(dir, K.pk_a, a2.note, a2.note_len, CAIRN_OK);
    assert_int_equal(r.status, CAIRN_ANCHOR_FORK);
    assert_non_null(strstr(r.reason, "forked"));
    add_run(dir, K.a, "r4");
    r = anchor(dir, K.pk_a, a2.note, a2.note_len, CAIRN_OK);
    assert_int_equal(r.status, CAIRN_ANCHOR_FORK);
    assert_string_equal(cairn_anchor_status_name(r.status), "fork");
    /* Substitution: another journal signed by the same key. */
    add_run(other, K.a, "r1");
    r = anchor(other, K.pk_a, a1.note, a1.note_len, CAIRN_OK);
    assert_int_equal(r.status, CAIRN_ANCHOR_OTHER_JOURNAL);
    assert_non_null(strstr(r.reason, "substituted"));
    assert_null(cairn_anchor_status_name((cairn_anchor_status)99));
    tu_rmtree(old);
    free(dir);
    free(other);
    tu_rmtree(root);
}

/* ---- the remembered store --------------------------------------------------
 */

static void test_remembered(void **state)
{
    (void)state;
    char *root = tu_mkdtemp(), *dir = tu_path(root, "j");
    char *store = tu_path(root, "state/cps"), detail[2048];
    cairn_remembered rem;
    int written;
    add_run(dir, K.a, "r1");
    /* Nothing remembered (no store yet). */
    assert_int_equal(check_rem(dir, store, &rem, detail, sizeof(detail)),
                     CAIRN_OK);
    assert_false(rem.found);
    assert_int_equal(
        remember(dir, K.a, NULL, store, &written, detail, sizeof(detail)),
        CAIRN_OK);
    assert_true(written);
    assert_int_equal(check_rem(dir, store, &rem, detail, sizeof(detail)),
                     CAIRN_OK);
    assert_true(rem.found);
    assert_int_equal(rem.size, 3);
    assert_non_null(strstr(rem.path, ".note"));
    /* The same head again writes nothing. */
    assert_int_equal(
        remember(dir, NULL, K.pk_a, store, &written, detail, sizeof(detail)),
        CAIRN_OK);
    assert_false(written);
    char *old = vf_copy(dir);
    add_run(dir, K.a, "r2");
    assert_int_equal(check_rem(dir, store, &rem, detail, sizeof(detail)),
                     CAIRN_OK);
    assert_int_equal(rem.head_size, 6);
    assert_int_equal(
        remember(dir, K.a, NULL, store, &written, detail, sizeof(detail)),
        CAIRN_OK);
    assert_true(written);

    /* Rollback: refused, and the store keeps the larger checkpoint. */
    copy_file(old, dir);
    assert_int_equal(check_rem(dir, store, &rem, detail, sizeof(detail)),
                     CAIRN_ETAMPERED);
    assert_non_null(strstr(detail, "journal rolled back: remembered "
                                   "checkpoint ("));
    assert_non_null(strstr(detail, "has 6 records"));
    assert_non_null(strstr(detail, "the journal now has 3"));
    assert_int_equal(
        remember(dir, K.a, NULL, store, &written, detail, sizeof(detail)),
        CAIRN_ETAMPERED);
    assert_false(written);
    /* Fork: the old copy written apart. */
    add_run(dir, K.a, "r3");
    assert_int_equal(check_rem(dir, store, &rem, detail, sizeof(detail)),
                     CAIRN_ETAMPERED);
    assert_non_null(strstr(detail, "journal forked"));
    /* Substitution: another journal (same key) in this directory. */
    char *other = tu_path(root, "o");
    add_run(other, K.a, "x1");
    copy_file(other, dir);
    assert_int_equal(check_rem(dir, store, &rem, detail, sizeof(detail)),
                     CAIRN_ETAMPERED);
    assert_non_null(strstr(detail, "journal replaced"));
    assert_non_null(strstr(detail, "6 records"));
    assert_non_null(strstr(detail, "it now holds journal"));
    tu_rmtree(old);
    free(other);
    free(dir);
    free(store);
    tu_rmtree(root);
}

/* The file of the journal in @p store. */
static char *note_path(const char *dir, const char *store)
{
    cairn_remembered rem;
    char detail[2048];
    assert_int_equal(check_rem(dir, store, &rem, detail, sizeof(detail)),
                     CAIRN_OK);
    assert_true(rem.found);
    return strdup(rem.path);
}

static void test_remembered_hostile(void **state)
{
    (void)state;
    char *root = tu_mkdtemp(), *dir = tu_path(root, "j");
    char *store = tu_path(root, "cps"), detail[2048];
    cairn_remembered rem;
    int written;
    add_run(dir, K.a, "r1");
    assert_int_equal(
        remember(dir, K.a, NULL, store, &written, detail, sizeof(detail)),
        CAIRN_OK);
    char *file = note_path(dir, store);
    size_t n;
    char *good = tu_read_file(file, &n);

    /* Malformed: an error naming the file, not a silent reset. */
    tu_write_file(file, "garbage\n", 8);
    assert_int_equal(check_rem(dir, store, &rem, detail, sizeof(detail)),
                     CAIRN_ECORRUPT);
    assert_non_null(strstr(detail, file));
    assert_non_null(strstr(detail, "malformed"));
    assert_int_equal(
        remember(dir, K.a, NULL, store, &written, detail, sizeof(detail)),
        CAIRN_ECORRUPT);
    tu_write_file(file, "", 0);
    assert_int_equal(check_rem(dir, store, &rem, detail, sizeof(detail)),
                     CAIRN_ECORRUPT);
    /* Another journal's checkpoint under this journal's name. */
    {
        char *odir = tu_path(root, "o");
        add_run(odir, K.a, "x1");
        cairn_journal_checkpoint ocp = head_of(odir, NULL);
        tu_write_file(file, ocp.note, ocp.note_len);
        assert_int_equal(check_rem(dir, store, &rem, detail, sizeof(detail)),
                         CAIRN_ECORRUPT);
        assert_non_null(strstr(detail, "its origin is"));
        free(odir);
    }
    /* The directory map: malformed, or uppercase hex. */
    {
        char name[256] = "";
        DIR *d = opendir(store);
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strncmp(e->d_name, "dir-", 4) == 0) {
                snprintf(name, sizeof(name), "%s", e->d_name);
            }
        }
        closedir(d);
        assert_true(name[0] != '\0');
        char *map = tu_path(store, name);
        size_t ml;
        char *mgood = tu_read_file(map, &ml);
        tu_write_file(map, "nonsense\n", 9);
        tu_write_file(file, good, n);
        assert_int_equal(check_rem(dir, store, &rem, detail, sizeof(detail)),
                         CAIRN_ECORRUPT);
        assert_non_null(strstr(detail, name));
        for (size_t i = 0; i < 32; i++) {
            mgood[i] = (char)toupper((unsigned char)mgood[i]);
        }
        tu_write_file(map, mgood, ml);
        assert_int_equal(check_rem(dir, store, &rem, detail, sizeof(detail)),
                         CAIRN_ECORRUPT);
        for (size_t i = 0; i < 32; i++) {
            mgood[i] = (char)tolower((unsigned char)mgood[i]);
        }
        tu_write_file(map, mgood, ml);
        assert_int_equal(chmod(map, 0600), 0);
        free(mgood);
        free(map);
    }
    tu_write_file(file, good, n);
    assert_int_equal(chmod(file, 0600), 0);

    /* Writable by others; a symbolic link; not a regular file. */
    assert_int_equal(chmod(file, 0622), 0);
    assert_int_equal(check_rem(dir, store, &rem, detail, sizeof(detail)),
                     CAIRN_EUNSAFE);
    assert_non_null(strstr(detail, "writable by group or others"));
    assert_int_equal(chmod(file, 0600), 0);
    char *moved = tu_path(root, "moved.note");
    assert_int_equal(rename(file, moved), 0);
    assert_int_equal(symlink(moved, file), 0);
    assert_int_equal(check_rem(dir, store, &rem, detail, sizeof(detail)),
                     CAIRN_EUNSAFE);
    assert_non_null(strstr(detail, "symbolic link"));
    assert_int_equal(unlink(file), 0);
    assert_int_equal(mkdir(file, 0700), 0);
    assert_int_equal(check_rem(dir, store, &rem, detail, sizeof(detail)),
                     CAIRN_EUNSAFE);
    assert_non_null(strstr(detail, "not a regular file"));
    assert_int_equal(rmdir(file), 0);
    assert_int_equal(rename(moved, file), 0);
    assert_int_equal(check_rem(dir, store, &rem, detail, sizeof(detail)),
                     CAIRN_OK);
    /* The store directory itself. */
    assert_int_equal(chmod(store, 0777), 0);
    assert_int_equal(check_rem(dir, store, &rem, detail, sizeof(detail)),
                     CAIRN_EUNSAFE);
    assert_int_equal(
        remember(dir, K.a, NULL, store, &written, detail, sizeof(detail)),
        CAIRN_EUNSAFE);
    assert_int_equal(chmod(store, 0700), 0);
    char *link = tu_path(root, "cps-link");
    assert_int_equal(symlink(store, link), 0);
    assert_int_equal(check_rem(dir, link, &rem, detail, sizeof(detail)),
                     CAIRN_EUNSAFE);
    /* Bad arguments. */
    assert_int_equal(check_rem(dir, "", &rem, detail, sizeof(detail)),
                     CAIRN_EINVAL);
    free(link);
    free(moved);
    free(good);
    free(file);
    free(dir);
    free(store);
    tu_rmtree(root);
}

/* Only an authenticated head is remembered. */
static void test_remember_unauthenticated(void **state)
{
    (void)state;
    char *root = tu_mkdtemp(), *dir = tu_path(root, "j");
    char *udir = tu_path(root, "u");
    char *store = tu_path(root, "cps"), detail[2048];
    cairn_remembered rem;
    int written = 1;
    add_run(dir, K.a, "r1");
    /* A signed journal, no key: not remembered. */
    assert_int_equal(
        remember(dir, NULL, NULL, store, &written, detail, sizeof(detail)),
        CAIRN_EINCOMPLETE);
    assert_false(written);
    /* Another key. */
    assert_int_equal(
        remember(dir, NULL, K.pk_b, store, &written, detail, sizeof(detail)),
        CAIRN_EINCOMPLETE);
    assert_int_equal(check_rem(dir, store, &rem, detail, sizeof(detail)),
                     CAIRN_OK);
    assert_false(rem.found);
    /* An unsigned journal without a key: its hashes are remembered. */
    add_run(udir, NULL, "u1");
    assert_int_equal(
        remember(udir, NULL, NULL, store, &written, detail, sizeof(detail)),
        CAIRN_OK);
    assert_true(written);
    /* An empty journal: nothing to remember. */
    char *edir = tu_path(root, "e");
    cairn_journal_close(jopen(edir, NULL));
    assert_int_equal(
        remember(edir, NULL, NULL, store, &written, detail, sizeof(detail)),
        CAIRN_OK);
    assert_false(written);
    free(edir);
    free(udir);
    free(dir);
    free(store);
    tu_rmtree(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_checkpoint_get),
        cmocka_unit_test(test_request),
        cmocka_unit_test(test_anchor_statuses),
        cmocka_unit_test(test_remembered),
        cmocka_unit_test(test_remembered_hostile),
        cmocka_unit_test(test_remember_unauthenticated),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
