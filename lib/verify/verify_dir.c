/*
 * verify_dir.c - cairn_verify_directory(): the structure of a whole
 * journal directory, for `verify --all`.
 *
 * Record positions are dense from 1; every record is referenced by the
 * index entry of its own (run, seq) and there are exactly as many index
 * entries as records (so the index is a bijection); every checkpoint is
 * stored at a record's position and names that record's run and
 * sequence; names and run states agree and run numbers are dense from 1;
 * LMDB's main database holds cairn's six named databases and nothing
 * else, and meta its three keys (format, journal_id, created_ns) and
 * nothing else: content that no check reads is reported, not ignored.
 *
 * Format 2 (docs/FORMAT.md sections 13-14): meta also holds "head", the
 * signed head (verify_head.c); the log tree is rebuilt from the records
 * and the state map from the run states in the same passes, every stored
 * node compared as it is completed (verify_tree.c), no extra node, and
 * both roots and both counts equal the head's.  With a pinned key the
 * head's signature is checked too (cairn_verify_all()).
 * The first inconsistency is reported with its position in bad_seq.
 * Memory is constant; time is O(N log N).
 */
#include "verify/verify.h"

#include "base/bytes.h"
#include "journal/journal.h"
#include "journal/oprows.h"

#include <string.h>

#define STORE_FAILED CAIRN_ESTORE

typedef struct dwalk {
    cairn_journal *j;
    cairn_txn *txn;
    cairn_verify_report *rep;
    uint64_t records; /* N: positions 1..N */
    uint64_t runs;
    uint64_t pruned;    /* E: positions holding a pruned record's placeholder */
    uint64_t listed;    /* L: positions the PRUNE records say they removed */
    int f2;             /* format 2: the trees below are checked */
    int leaves_by_runs; /* the log tree's leaves are the run checks' */
    cairn__vtree log;   /* the log tree, rebuilt from the records */
    cairn__vtree smap;  /* the state map, rebuilt from the run states */
    cairn__vread index; /* index entries of the records, in position order */
    cairn__vkeys vk;    /* the key history (docs/FORMAT.md section 24) */
    uint64_t rows;      /* oprows entries the version-2 runs have (23.1) */
    uint64_t nodes;     /* and otree nodes */
} dwalk;

static cairn_err fail_store(dwalk *w, cairn_err err, const char *what)
{
    if (err == CAIRN_ENOMEM) {
        return err;
    }
    cairn__report_error(w->rep, "journal unreadable: %s: %s (%s)", what,
                        cairn_strerror(err), cairn_errname(err));
    return STORE_FAILED;
}

static cairn_err bad_at(dwalk *w, uint64_t pos, const char *field,
                        const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static cairn_err bad_at(dwalk *w, uint64_t pos, const char *field,
                        const char *fmt, ...)
{
    char reason[sizeof(w->rep->reason)];
    va_list ap;
    va_start(ap, fmt);
    cairn__vfmt(reason, sizeof(reason), fmt, ap);
    va_end(ap);
    cairn__report_tampered(w->rep, 1, pos, field, NULL, NULL, "%s", reason);
    return CAIRN_ETAMPERED;
}

/* Run number and sequence from a record's fixed header:
 * u8 version | u8 type | u16 flags | u64 run_num | u64 seq. */
static int peek_header(const uint8_t *v, size_t vl, uint64_t *run,
                       uint64_t *seq)
{
    cairn_rd r;
    uint8_t b;
    uint16_t flags;
    cairn__rd_init(&r, v, vl);
    return cairn__rd_u8(&r, &b) != 0 || cairn__rd_u8(&r, &b) != 0 ||
                   cairn__rd_u16(&r, &flags) != 0 ||
                   cairn__rd_u64(&r, run) != 0 || cairn__rd_u64(&r, seq) != 0
               ? -1
               : 0;
}

/* The record at @p pos (1..N) and its header; ETAMPERED if missing. */
static cairn_err record_at(dwalk *w, uint64_t pos, uint64_t *run, uint64_t *seq)
{
    uint8_t key[8];
    const uint8_t *v;
    size_t vl;
    int found;
    cairn__store64_be(key, pos);
    cairn_err err = cairn__txn_get(w->txn, CAIRN_DBI_RECORDS, key, sizeof(key),
                                   &v, &vl, &found);
    if (err != CAIRN_OK) {
        return fail_store(w, err, "reading a record");
    }
    if (!found || peek_header(v, vl, run, seq) != 0) {
        return bad_at(w, pos, "records", "position %llu: %s",
                      (unsigned long long)pos,
                      !found    ? "no record"
                      : vl == 8 ? "a pruned position (its record was removed)"
                                : "record header truncated");
    }
    return CAIRN_OK;
}

static cairn_err record_indexed(dwalk *w, uint64_t pos, const uint8_t *v,
                                size_t vl)
{
    uint64_t run, seq;
    uint8_t key[16];
    const uint8_t *iv;
    size_t ivl;
    int found;
    if (peek_header(v, vl, &run, &seq) != 0) {
        return bad_at(w, pos, "records",
                      "position %llu: record header "
                      "truncated",
                      (unsigned long long)pos);
    }
    /* Run 0 is the journal's own: its ROTATE records (section 24),
     * checked one by one by the key history. */
    int rotation = run == 0 && vl > 1 && v[1] == CAIRN_REC_ROTATE;
    if ((run == 0 && !rotation) || run > w->runs ||
        (run != 0 && vl > 1 && v[1] == CAIRN_REC_ROTATE)) {
        return bad_at(w, pos, "records",
                      "position %llu names run %llu, "
                      "which does not exist%s",
                      (unsigned long long)pos, (unsigned long long)run,
                      run == 0 || v[1] == CAIRN_REC_ROTATE
                          ? " (only a rotate record is the journal's, run 0)"
                          : "");
    }
    if (rotation && !cairn__keyhist_is_rotation(&w->vk.kh, pos)) {
        return bad_at(w, pos, "rotation",
                      "position %llu holds a rotate record that is not "
                      "in the journal's key history",
                      (unsigned long long)pos);
    }
    cairn__store64_be(key, run);
    cairn__store64_be(key + 8, seq);
    cairn_err err =
        cairn__vread_get(&w->index, key, sizeof(key), &iv, &ivl, &found);
    if (err != CAIRN_OK) {
        return fail_store(w, err, "reading the index");
    }
    if (!found || ivl != 8 || cairn__load64_be(iv) != pos) {
        return bad_at(w, pos, "index", "position %llu (run %llu seq %llu): %s",
                      (unsigned long long)pos, (unsigned long long)run,
                      (unsigned long long)seq,
                      found ? "its index entry points elsewhere"
                            : "no index entry");
    }
    return CAIRN_OK;
}

/* A pruned position: its value is the 8-byte number of the run whose
 * PRUNE record lists it (docs/FORMAT.md section 22); that run's check
 * proves the listing, the count proves nothing else is pruned. */
static cairn_err pruned_position(dwalk *w, uint64_t pos, const uint8_t *v)
{
    uint64_t run = cairn__load64_be(v);
    if (run == 0 || run > w->runs) {
        return bad_at(w, pos, "records",
                      "position %llu is pruned for run %llu, which does "
                      "not exist",
                      (unsigned long long)pos, (unsigned long long)run);
    }
    w->pruned++;
    return CAIRN_OK;
}

/* A PRUNE record (type byte 11): count the positions it lists. */
static cairn_err count_listed(dwalk *w, uint64_t pos, const uint8_t *v,
                              size_t vl)
{
    cairn_record rec;
    char why[256];
    if (vl < 2 || v[1] != CAIRN_REC_PRUNE) {
        return CAIRN_OK;
    }
    cairn_err err = cairn__record_decode(v, vl, &rec, why, sizeof(why));
    if (err == CAIRN_ENOMEM) {
        return err;
    }
    if (err != CAIRN_OK) {
        return bad_at(w, pos, "records",
                      "position %llu: prune record does not decode: %s",
                      (unsigned long long)pos, why);
    }
    w->listed += rec.pruned_count;
    cairn__record_free(&rec);
    return CAIRN_OK;
}

/* Open a cursor on @p dbi at its first key. */
static cairn_err first(dwalk *w, cairn_dbi dbi, cairn_cursor **cur,
                       const uint8_t **k, size_t *kl, const uint8_t **v,
                       size_t *vl, int *found)
{
    cairn_err err = cairn__cursor_open(w->txn, dbi, cur);
    if (err == CAIRN_OK) {
        err = cairn__cursor_seek(*cur, NULL, 0, k, kl, v, vl, found);
    }
    return err == CAIRN_OK ? err : fail_store(w, err, "opening a cursor");
}

static cairn_err next(dwalk *w, cairn_cursor *cur, const uint8_t **k,
                      size_t *kl, const uint8_t **v, size_t *vl, int *found)
{
    cairn_err err = cairn__cursor_next(cur, k, kl, v, vl, found);
    return err == CAIRN_OK ? err : fail_store(w, err, "reading a cursor");
}

/* Push a leaf; a store failure becomes the report's ERROR. */
static cairn_err tree_push(dwalk *w, cairn__vtree *t, const uint8_t *v,
                           size_t vl)
{
    cairn_err err = cairn__vtree_push(t, v, vl);
    return err == CAIRN_OK || err == CAIRN_ETAMPERED
               ? err
               : fail_store(w, err, "reading a tree node");
}

/* The next stored leaf of the log tree (its hash is the run checks'). */
static cairn_err stored_push(dwalk *w)
{
    cairn_err err = cairn__vtree_push_stored(&w->log);
    return err == CAIRN_OK || err == CAIRN_ETAMPERED
               ? err
               : fail_store(w, err, "reading a tree node");
}

/* The stored leaf of a pruned position. */
static cairn_err pruned_push(dwalk *w)
{
    cairn_err err = cairn__vtree_push_pruned(&w->log);
    return err == CAIRN_OK || err == CAIRN_ETAMPERED
               ? err
               : fail_store(w, err, "reading a tree node");
}

/* A rotate record's leaf hash against the stored leaf of its position
 * (what a run check does for the run's own records). */
static cairn_err own_leaf(dwalk *w, uint64_t pos, const uint8_t *v, size_t vl)
{
    uint8_t key[9], leaf[CAIRN_HASH_BYTES];
    const uint8_t *nv;
    size_t nl;
    int found = 0;
    key[0] = 0;
    cairn__store64_be(key + 1, pos - 1);
    cairn_err err = cairn__txn_get(w->txn, CAIRN_DBI_TREE, key, sizeof(key),
                                   &nv, &nl, &found);
    if (err != CAIRN_OK) {
        return fail_store(w, err, "reading a tree node");
    }
    cairn__leaf_hash(v, vl, leaf);
    if (!found || nl != CAIRN_HASH_BYTES ||
        memcmp(nv, leaf, CAIRN_HASH_BYTES) != 0) {
        return bad_at(w, pos, "tree",
                      "position %llu: the log tree's leaf is not the hash "
                      "of the rotate record there",
                      (unsigned long long)pos);
    }
    return CAIRN_OK;
}

static cairn_err check_records(dwalk *w)
{
    cairn_cursor *cur = NULL;
    const uint8_t *k, *v;
    size_t kl, vl;
    int found;
    cairn_err err = first(w, CAIRN_DBI_RECORDS, &cur, &k, &kl, &v, &vl, &found);
    while (err == CAIRN_OK && found) {
        uint64_t want = w->records + 1;
        if (kl != 8 || cairn__load64_be(k) != want) {
            err = bad_at(w, want, "records.position",
                         "records: position %llu expected, found %s",
                         (unsigned long long)want,
                         kl == 8 ? "a gap" : "a malformed key");
            break;
        }
        int pruned = vl == 8;
        err = pruned ? pruned_position(w, want, v)
                     : record_indexed(w, want, v, vl);
        if (err == CAIRN_OK && !pruned) {
            err = count_listed(w, want, v, vl);
        }
        /* No run check hashes a rotate record: this walk does. */
        if (err == CAIRN_OK && w->f2 && w->leaves_by_runs && !pruned &&
            vl > 1 && v[1] == CAIRN_REC_ROTATE) {
            err = own_leaf(w, want, v, vl);
        }
        if (err == CAIRN_OK && w->f2) {
            err = w->leaves_by_runs ? stored_push(w)
                  : pruned          ? pruned_push(w)
                                    : tree_push(w, &w->log, v, vl);
        }
        if (err == CAIRN_OK) {
            w->records++;
            err = next(w, cur, &k, &kl, &v, &vl, &found);
        }
    }
    cairn__cursor_close(cur);
    if (err == CAIRN_OK && w->pruned != w->listed) {
        err = bad_at(w, 0, "pruned",
                     "%llu positions are pruned, but the prune records list "
                     "%llu",
                     (unsigned long long)w->pruned,
                     (unsigned long long)w->listed);
    }
    return err;
}

/* As many index entries as records, each well formed. */
static cairn_err check_index(dwalk *w)
{
    cairn_cursor *cur = NULL;
    const uint8_t *k, *v;
    size_t kl, vl;
    int found;
    uint64_t n = 0;
    cairn_err err = first(w, CAIRN_DBI_INDEX, &cur, &k, &kl, &v, &vl, &found);
    while (err == CAIRN_OK && found) {
        uint64_t pos = vl == 8 ? cairn__load64_be(v) : 0;
        if (kl != 16 || pos == 0 || pos > w->records) {
            err = bad_at(w, pos, "index",
                         "index entry %llu: malformed, or points at no "
                         "record (position %llu)",
                         (unsigned long long)n, (unsigned long long)pos);
            break;
        }
        n++;
        err = next(w, cur, &k, &kl, &v, &vl, &found);
    }
    cairn__cursor_close(cur);
    if (err == CAIRN_OK && n != w->records - w->pruned) {
        err = bad_at(w, 0, "index",
                     "%llu records (%llu pruned) but %llu index entries",
                     (unsigned long long)w->records,
                     (unsigned long long)w->pruned, (unsigned long long)n);
    }
    return err;
}

/* Every checkpoint at a record's position, naming its run and seq. */
static cairn_err check_checkpoints(dwalk *w)
{
    cairn_cursor *cur = NULL;
    const uint8_t *k, *v;
    size_t kl, vl;
    int found;
    cairn_err err =
        first(w, CAIRN_DBI_CHECKPOINTS, &cur, &k, &kl, &v, &vl, &found);
    while (err == CAIRN_OK && found) {
        uint64_t pos = kl == 8 ? cairn__load64_be(k) : 0, run = 0, seq = 0;
        cairn_checkpoint cp;
        char why[160];
        if (pos == 0 || pos > w->records) {
            err = bad_at(w, pos, "checkpoints.position",
                         "checkpoint at position %llu: no such record",
                         (unsigned long long)pos);
            break;
        }
        err = record_at(w, pos, &run, &seq);
        if (err == CAIRN_OK && cairn__checkpoint_decode(
                                   v, vl, &cp, why, sizeof(why)) != CAIRN_OK) {
            err = bad_at(w, pos, "checkpoints",
                         "checkpoint at position %llu does not decode: %s",
                         (unsigned long long)pos, why);
        } else if (err == CAIRN_OK && run == 0) {
            err = bad_at(w, pos, "checkpoints",
                         "checkpoint at position %llu: the record there is "
                         "a rotate record, which no checkpoint seals",
                         (unsigned long long)pos);
        } else if (err == CAIRN_OK && (cp.run_num != run || cp.seq != seq)) {
            err =
                bad_at(w, pos, "checkpoints",
                       "checkpoint at position %llu names run %llu seq "
                       "%llu, the record there is run %llu seq %llu",
                       (unsigned long long)pos, (unsigned long long)cp.run_num,
                       (unsigned long long)cp.seq, (unsigned long long)run,
                       (unsigned long long)seq);
        }
        if (err == CAIRN_OK) {
            w->rep->checkpoints++;
            err = next(w, cur, &k, &kl, &v, &vl, &found);
        }
    }
    cairn__cursor_close(cur);
    return err;
}

static cairn_err bad_run(dwalk *w, const char *field, uint64_t run,
                         const char *what)
{
    cairn__report_tampered(w->rep, 0, 0, field, NULL, NULL, "run %llu: %s",
                           (unsigned long long)run, what);
    return CAIRN_ETAMPERED;
}

/* The name entry of @p run_id maps to @p run. */
static cairn_err name_maps(dwalk *w, const char *run_id, uint64_t run)
{
    const uint8_t *v;
    size_t vl;
    int found;
    cairn_err err = cairn__txn_get(w->txn, CAIRN_DBI_NAMES, run_id,
                                   strlen(run_id), &v, &vl, &found);
    if (err != CAIRN_OK) {
        return fail_store(w, err, "reading the run names");
    }
    if (!found || vl != 8 || cairn__load64_be(v) != run) {
        return bad_run(w, "names", run,
                       "the name of this run does not map back to it");
    }
    return CAIRN_OK;
}

/* Run numbers dense from 1, each state decoding and named. */
static cairn_err check_runs(dwalk *w)
{
    cairn_cursor *cur = NULL;
    const uint8_t *k, *v;
    size_t kl, vl;
    int found;
    cairn_err err = first(w, CAIRN_DBI_RUNS, &cur, &k, &kl, &v, &vl, &found);
    while (err == CAIRN_OK && found) {
        uint64_t want = w->runs + 1;
        cairn_state st;
        char why[256];
        if (kl != 8 || cairn__load64_be(k) != want) {
            err = bad_run(w, "runs", want, "missing or malformed key");
            break;
        }
        /* A summary (format 2, section 23.2) is enough here: the run
         * check proves its rows and nodes; they are counted below. */
        err = vl > 0 && v[0] == 2
                  ? cairn__summary_decode(v, vl, &st, why, sizeof(why))
                  : cairn__state_decode(v, vl, &st, why, sizeof(why));
        if (err == CAIRN_OK && vl > 0 && v[0] == 2 && !st.pruned) {
            w->rows += st.n_ops;
            for (unsigned l = 0; l < 32 && (st.n_ops >> l) > 0; l++) {
                w->nodes += st.n_ops >> l;
            }
        }
        if (err == CAIRN_OK) {
            err = st.run_num == want
                      ? name_maps(w, st.run_id, want)
                      : bad_run(w, "runs", want, "state names another run");
            cairn__state_free(&st);
        } else if (err != CAIRN_ENOMEM) {
            err = bad_run(w, "runs", want, "state does not decode");
        }
        if (err == CAIRN_OK && w->f2) {
            err = tree_push(w, &w->smap, v, vl);
        }
        if (err == CAIRN_OK) {
            w->runs++;
            err = next(w, cur, &k, &kl, &v, &vl, &found);
        }
    }
    cairn__cursor_close(cur);
    return err;
}

/* As many names as runs, each naming a run. */
static cairn_err check_names(dwalk *w)
{
    cairn_cursor *cur = NULL;
    const uint8_t *k, *v;
    size_t kl, vl;
    int found;
    uint64_t n = 0;
    cairn_err err = first(w, CAIRN_DBI_NAMES, &cur, &k, &kl, &v, &vl, &found);
    while (err == CAIRN_OK && found) {
        uint64_t run = vl == 8 ? cairn__load64_be(v) : 0;
        if (run == 0 || run > w->runs) {
            err = bad_run(w, "names", run, "a name maps to no run");
            break;
        }
        n++;
        err = next(w, cur, &k, &kl, &v, &vl, &found);
    }
    cairn__cursor_close(cur);
    if (err == CAIRN_OK && n != w->runs) {
        err = bad_run(w, "names", n, "names and runs differ in number");
    }
    return err;
}

/* Key bytes as text for a report: printable ASCII as is, anything else
 * as \xNN, cut with "..." to fit @p cap. */
static void key_text(const uint8_t *k, size_t kl, char *out, size_t cap)
{
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < kl; i++) {
        char one[5];
        if (k[i] >= 0x20 && k[i] < 0x7f && k[i] != '\\' && k[i] != '"') {
            one[0] = (char)k[i];
            one[1] = '\0';
        } else {
            cairn__fmt(one, sizeof(one), "\\x%02x", k[i]);
        }
        size_t l = strlen(one);
        if (n + l + 4 > cap) {
            memcpy(out + n, "...", 4);
            return;
        }
        memcpy(out + n, one, l + 1);
        n += l;
    }
}

static int key_is(const uint8_t *k, size_t kl, const char *name)
{
    return kl == strlen(name) && memcmp(k, name, kl) == 0;
}

/* LMDB's main database holds exactly cairn's named databases: anything
 * else (another named database, a plain key) was put there by someone
 * else, and would be ignored by every other check. */
static cairn_err check_main(dwalk *w)
{
    cairn_cursor *cur = NULL;
    const uint8_t *k, *v;
    size_t kl, vl;
    int found;
    cairn_err err = cairn__cursor_open_main(w->txn, &cur);
    if (err != CAIRN_OK) {
        return fail_store(w, err, "opening LMDB's main database");
    }
    err = cairn__cursor_seek(cur, NULL, 0, &k, &kl, &v, &vl, &found);
    while (err == CAIRN_OK && found) {
        int known = 0;
        int dbis = w->f2 ? CAIRN_DBI_COUNT_ : CAIRN_DBI_FORMAT2_FIRST;
        for (int i = 0; i < dbis && !known; i++) {
            known = key_is(k, kl, cairn__dbi_name((cairn_dbi)i));
        }
        if (!known) {
            char name[100];
            key_text(k, kl, name, sizeof(name));
            cairn__report_tampered(
                w->rep, 0, 0, "main", "only cairn's named databases", name,
                "LMDB's main database holds \"%s\", which cairn never "
                "writes (an extra named database or key)",
                name);
            cairn__cursor_close(cur);
            return CAIRN_ETAMPERED;
        }
        err = cairn__cursor_next(cur, &k, &kl, &v, &vl, &found);
    }
    cairn__cursor_close(cur);
    return err == CAIRN_OK ? err : fail_store(w, err, "reading a cursor");
}

/* The meta keys cairn writes and the size of each value (0: any size up
 * to CAIRN__VHEAD_MAX; "head", format 2 only, is checked by
 * cairn__verify_head_read(), also when it is missing). */
static const struct {
    const char *key;
    size_t size;
} meta_keys[] = {{"format", 4},
                 {"journal_id", CAIRN_JOURNAL_ID_BYTES},
                 {"created_ns", 8},
                 {"head", 0}};
#define META_HEAD 3u

/* meta holds exactly its keys (three, and "head" in format 2), each of
 * its size. */
static cairn_err check_meta(dwalk *w)
{
    cairn_cursor *cur = NULL;
    const uint8_t *k, *v;
    size_t kl, vl;
    int found;
    unsigned seen = 0;
    char name[100], size[64];
    cairn_err err = first(w, CAIRN_DBI_META, &cur, &k, &kl, &v, &vl, &found);
    while (err == CAIRN_OK && found) {
        size_t i = 0;
        while (i < CAIRN_ARRAY_LEN(meta_keys) &&
               !key_is(k, kl, meta_keys[i].key)) {
            i++;
        }
        key_text(k, kl, name, sizeof(name));
        if (i == CAIRN_ARRAY_LEN(meta_keys)) {
            cairn__report_tampered(w->rep, 0, 0, "meta",
                                   "format, journal_id, created_ns, head", name,
                                   "meta holds the key \"%s\", which cairn "
                                   "never writes",
                                   name);
            err = CAIRN_ETAMPERED;
            break;
        }
        if (meta_keys[i].size != 0 && vl != meta_keys[i].size) {
            cairn__fmt(size, sizeof(size), "%zu bytes", vl);
            cairn__report_tampered(w->rep, 0, 0, "meta", NULL, size,
                                   "meta \"%s\" is %zu bytes, not %zu", name,
                                   vl, meta_keys[i].size);
            err = CAIRN_ETAMPERED;
            break;
        }
        seen |= 1u << i;
        err = next(w, cur, &k, &kl, &v, &vl, &found);
    }
    cairn__cursor_close(cur);
    for (size_t i = 0; err == CAIRN_OK && i < CAIRN_ARRAY_LEN(meta_keys); i++) {
        if ((seen & (1u << i)) == 0 && i != META_HEAD) {
            cairn__report_tampered(w->rep, 0, 0, "meta", meta_keys[i].key,
                                   "nothing", "meta \"%s\" is missing",
                                   meta_keys[i].key);
            err = CAIRN_ETAMPERED;
        }
    }
    return err;
}

/* Format 2: every stored node was checked while the leaves were pushed;
 * now no extra node, and the roots are the signed head's. */
static cairn_err check_trees(dwalk *w)
{
    cairn_verify_head *h = &w->rep->journal_head;
    uint8_t root[CAIRN_HASH_BYTES], sroot[CAIRN_HASH_BYTES];
    char e[2 * CAIRN_HASH_BYTES + 1], f[2 * CAIRN_HASH_BYTES + 1];
    /* The structure is consistent: the counts first (a deleted run or a
     * cut shows as such), then extra nodes, then the roots. */
    cairn_err err =
        h->present ? cairn__verify_head_counts(w->txn, w->rep) : CAIRN_OK;
    if (err != CAIRN_OK) {
        return err == CAIRN_ETAMPERED ? err
                                      : fail_store(w, err, "counting records");
    }
    err = cairn__vtree_finish(&w->log, root);
    if (err == CAIRN_OK) {
        err = cairn__vtree_finish(&w->smap, sroot);
    }
    if (err != CAIRN_OK) {
        return err == CAIRN_ETAMPERED ? err
                                      : fail_store(w, err, "counting nodes");
    }
    if (!h->present) {
        return CAIRN_OK; /* an empty journal: cairn__verify_head_read() */
    }
    if (memcmp(root, h->root, CAIRN_HASH_BYTES) != 0) {
        cairn__hash_hex(root, e);
        cairn__hash_hex(h->root, f);
        cairn__report_tampered(w->rep, 0, 0, "head", e, f,
                               "the head's log root is not the root of the "
                               "tree of the %llu records",
                               (unsigned long long)w->records);
        return CAIRN_ETAMPERED;
    }
    if (memcmp(sroot, h->state_root, CAIRN_HASH_BYTES) != 0) {
        cairn__hash_hex(sroot, e);
        cairn__hash_hex(h->state_root, f);
        cairn__report_tampered(w->rep, 0, 0, "head", e, f,
                               "the head's state root is not the root of the "
                               "state map of the %llu run states",
                               (unsigned long long)w->runs);
        return CAIRN_ETAMPERED;
    }
    return CAIRN_OK;
}

static cairn_err read_head(dwalk *w, const cairn_pubkey *pinned)
{
    cairn_err err = CAIRN_OK;
    if (w->j->format >= 2) {
        err =
            cairn__vkeys_load(w->txn, w->j->journal_id, pinned, &w->vk, w->rep);
        if (err != CAIRN_OK) {
            return err == CAIRN_ETAMPERED || err == CAIRN_ENOMEM
                       ? err
                       : fail_store(w, err, "reading the key history");
        }
    }
    err = cairn__verify_head_read(w->txn, w->j->journal_id,
                                  cairn__vkeys_pinned(&w->vk, pinned), w->rep);
    if (err == CAIRN_OK) {
        err = cairn__vkeys_check_head(w->txn, &w->vk, w->j->journal_id, w->rep);
    }
    if (err != CAIRN_OK) {
        return err == CAIRN_ETAMPERED ? err
                                      : fail_store(w, err, "reading the head");
    }
    w->f2 = w->rep->format == 2;
    cairn__vtree_init(&w->log, w->txn, CAIRN_DBI_TREE, "tree", w->rep);
    cairn__vtree_init(&w->smap, w->txn, CAIRN_DBI_SMAP, "state-map", w->rep);
    return CAIRN_OK;
}

/* The per-operation rows (docs/FORMAT.md section 23): "oprows" and
 * "otree" hold exactly the rows and complete nodes of the version-2 runs
 * that are not pruned.  Each run's check proves that every one it needs
 * is there (and equal to the replayed one); the counts then leave no room
 * for a row or node that should not exist. */
static cairn_err check_oprows_count(dwalk *w)
{
    static const cairn_dbi dbis[] = {CAIRN_DBI_OPROWS, CAIRN_DBI_OTREE};
    for (size_t i = 0; i < sizeof(dbis) / sizeof(dbis[0]); i++) {
        uint64_t n = 0, want = i == 0 ? w->rows : w->nodes;
        if (!cairn__store_has(w->j->store, dbis[i])) {
            continue;
        }
        cairn_err err = cairn__txn_count(w->txn, dbis[i], &n);
        if (err != CAIRN_OK) {
            return fail_store(w, err, "counting the operation rows");
        }
        if (n != want) {
            const char *name = cairn__dbi_name(dbis[i]);
            cairn__report_tampered(w->rep, 0, 0, name, NULL, NULL,
                                   "database \"%s\" holds %llu entries, "
                                   "the runs' summaries have %llu",
                                   name, (unsigned long long)n,
                                   (unsigned long long)want);
            return CAIRN_ETAMPERED;
        }
    }
    return CAIRN_OK;
}

static cairn_err walk(dwalk *w, const cairn_pubkey *pinned)
{
    cairn_err err = check_meta(w);
    if (err == CAIRN_OK) {
        err = read_head(w, pinned);
    }
    if (err == CAIRN_OK) {
        err = check_main(w);
    }
    if (err == CAIRN_OK) {
        err = check_runs(w);
    }
    if (err == CAIRN_OK) {
        err = check_names(w);
    }
    if (err == CAIRN_OK) {
        err = check_records(w);
    }
    if (err == CAIRN_OK) {
        err = check_index(w);
    }
    if (err == CAIRN_OK) {
        err = check_checkpoints(w);
    }
    if (err == CAIRN_OK && w->f2) {
        err = check_trees(w);
    }
    if (err == CAIRN_OK && w->f2) {
        err = check_oprows_count(w);
    }
    return err;
}

/* The verdict when nothing was found wrong: the structure is VERIFIED;
 * with a pinned key, a format-2 head must also be signed by it. */
static void finish(dwalk *w, const cairn_pubkey *pinned)
{
    cairn_verify_report *out = w->rep;
    const cairn_verify_head *h = &out->journal_head;
    char id[2 * CAIRN_KEY_ID_BYTES + 1];
    out->verdict = CAIRN_VERDICT_VERIFIED;
    cairn__fmt(out->reason, sizeof(out->reason),
               "structure consistent: %llu records (%llu pruned, each "
               "listed by one prune record), %llu checkpoints, "
               "%llu runs, no unknown database or key; meta created_ns "
               "(the creation time) is not covered by any signature%s%s",
               (unsigned long long)w->records, (unsigned long long)w->pruned,
               (unsigned long long)out->checkpoints,
               (unsigned long long)w->runs, out->format == 1 ? "; " : "",
               out->format == 1 ? CAIRN__FORMAT1_NOTE : "");
    if (out->format != 2) {
        return;
    }
    size_t n = strlen(out->reason);
    char *tail = out->reason + n;
    size_t cap = sizeof(out->reason) - n;
    cairn__hex(h->key_id, sizeof(h->key_id), id);
    if (!h->present) {
        cairn__fmt(tail, cap, "; no head yet (an empty journal)");
    } else if (!h->is_signed) {
        out->verdict =
            pinned != NULL ? CAIRN_VERDICT_INCOMPLETE : CAIRN_VERDICT_VERIFIED;
        cairn__fmt(tail, cap,
                   "; the head is unsigned: the journal is unsigned "
                   "(unsafe), hashes were checked but nothing is "
                   "authenticated");
    } else if (pinned == NULL) {
        cairn__fmt(tail, cap,
                   "; tree, state map and head consistent; key not pinned: "
                   "the head's signature (key id %s) was not checked",
                   id);
    } else if (h->key_mismatch) {
        out->verdict = CAIRN_VERDICT_INCOMPLETE;
        cairn__fmt(tail, cap,
                   "; key mismatch: the head is signed by key id %s, not "
                   "by the pinned key (not tampering: verify with the "
                   "journal's key)",
                   id);
    } else {
        cairn__fmt(tail, cap,
                   "; tree, state map and the signed head verified under "
                   "the pinned key");
    }
}

cairn_err cairn__verify_dir(cairn_journal *journal, const cairn_pubkey *pinned,
                            int leaves_by_runs, cairn_verify_report *out)
{
    if (out != NULL) {
        memset(out, 0, sizeof(*out));
    }
    if (journal == NULL || out == NULL) {
        return CAIRN_EINVAL;
    }
    cairn__report_init(out, NULL, pinned);
    dwalk w;
    memset(&w, 0, sizeof(w));
    w.j = journal;
    w.rep = out;
    w.leaves_by_runs = leaves_by_runs;
    cairn_err err = cairn__store_read(journal->store, &w.txn);
    if (err != CAIRN_OK) {
        err = fail_store(&w, err, "beginning a read transaction");
        return err == CAIRN_ENOMEM ? err : CAIRN_OK;
    }
    cairn__vread_init(&w.index, w.txn, CAIRN_DBI_INDEX);
    err = walk(&w, pinned);
    cairn__vread_close(&w.index);
    cairn__vtree_free(&w.log);
    cairn__vtree_free(&w.smap);
    cairn__txn_end(w.txn);
    out->records = w.records;
    out->pruned_records = w.pruned;
    if (err == CAIRN_OK) {
        finish(&w, cairn__vkeys_pinned(&w.vk, pinned));
    }
    cairn__vkeys_free(&w.vk);
    return err == CAIRN_ENOMEM ? err : CAIRN_OK;
}

cairn_err cairn_verify_directory(cairn_journal *journal,
                                 cairn_verify_report *out)
{
    return cairn__verify_dir(journal, NULL, 0, out);
}
