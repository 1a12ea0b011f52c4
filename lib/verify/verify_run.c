/*
 * verify_run.c - cairn_verify_run(): feed one run of a journal directory
 * to the verifier core, in one read transaction.
 *
 * The run's index is walked in sequence order (a gap is TAMPERED); each
 * record is read by position and fed to the core, followed by the
 * checkpoint stored at its position, if any.  Records and log tree leaves
 * are read through cursors kept between lookups (cairn__vread): a run's
 * records mostly sit at consecutive positions, so a lookup is mostly one
 * cursor step.  Finally the replayed state is compared with the
 * materialised one (byte for byte with its encoding first, decoded only
 * when they differ).  Memory is constant in the number of records.
 *
 * Checkpoints that name this run but sit at no position of its records
 * are looked for in one of two ways (VRUN_ALONE or VRUN_DIR_CHECKED):
 * alone, the whole checkpoints database is scanned in step with the
 * records (a merge on position, both ascending) and any such checkpoint
 * is TAMPERED; under cairn_verify_all(), the directory check already
 * proves that every checkpoint sits at the position of a record of the
 * run and sequence it names, so the cursor only seeks to the run's own
 * positions and the walk stays O(records of the run), not O(journal).
 * Alone, in a format-2 journal, the run is also tied to the journal's
 * signed head (cairn__verify_head_run()): the head's signature and
 * counts, the run's state blob by an inclusion proof in the state map
 * and its last record by one in the log tree (the hash chain ties the
 * other records to the last).  O(log N) more reads; what it cannot see is
 * a rollback of the whole journal (an anchor's job) or damage to other
 * runs (verify --all).
 * The index walk is written here rather than with cairn__walk_run() so
 * that an index gap (TAMPERED) and an LMDB read failure (ERROR) stay
 * apart.
 */
#include "verify/verify.h"

#include "base/bytes.h"
#include "journal/journal.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct jwalk {
    cairn_journal *j;
    cairn_txn *txn;
    cairn_vcore *v;
    cairn_verify_report *rep;
    uint64_t run_num;
    int dir_checked;   /* VRUN_DIR_CHECKED: seek, do not scan */
    int leaves;        /* format 2 under verify --all: check tree leaves */
    int cp_started;    /* the checkpoint cursor has been positioned */
    cairn_cursor *cps; /* over the checkpoints */
    int cp_found;
    const uint8_t *ck, *cv;
    size_t ckl, cvl;
    char prune_note[480]; /* a pruned run: what was removed, by whom */
    cairn__vread rec_rd;  /* the run's records, by position */
    cairn__vread leaf_rd; /* their log tree leaves (w->leaves) */
} jwalk;

/* Internal sentinel: LMDB failed and the report says ERROR. */
#define STORE_FAILED CAIRN_ESTORE

static cairn_err store_fail(cairn_verify_report *rep, cairn_err err,
                            const char *what)
{
    if (err == CAIRN_ENOMEM) {
        return err;
    }
    cairn__report_error(rep, "journal unreadable: %s: %s (%s)", what,
                        cairn_strerror(err), cairn_errname(err));
    return STORE_FAILED;
}

static cairn_err cp_next(jwalk *w)
{
    cairn_err err = cairn__cursor_next(w->cps, &w->ck, &w->ckl, &w->cv, &w->cvl,
                                       &w->cp_found);
    return err == CAIRN_OK ? err
                           : store_fail(w->rep, err, "reading checkpoints");
}

/* The run a well-formed checkpoint names (offset 2, u64), or 0: a
 * malformed one is cairn_verify_directory()'s to report. */
static uint64_t cp_run(const uint8_t *v, size_t vl)
{
    if (vl != CAIRN_CHECKPOINT_BYTES || v[0] != 1) {
        return 0;
    }
    return cairn__load64_be(v + 2);
}

/* A checkpoint at a position that is no record of this run. */
static cairn_err foreign_cp(jwalk *w, uint64_t pos)
{
    char found[24], reason[200];
    if (cp_run(w->cv, w->cvl) != w->run_num) {
        return CAIRN_OK; /* another run's; verify_directory checks it */
    }
    cairn__fmt(found, sizeof(found), "%llu", (unsigned long long)pos);
    cairn__fmt(reason, sizeof(reason),
               "checkpoint at position %llu names this run (seq %llu) but "
               "seals no record of it",
               (unsigned long long)pos,
               (unsigned long long)cairn__load64_be(w->cv + 10));
    return cairn__vcore_tampered(w->v, 0, 0, "checkpoint.position",
                                 "the position of a record of this run", found,
                                 reason);
}

/* Pass the checkpoints stored below @p limit (all if !has_limit). */
static cairn_err drain(jwalk *w, int has_limit, uint64_t limit)
{
    while (w->cp_found) {
        if (w->ckl == 8) {
            uint64_t pos = cairn__load64_be(w->ck);
            if (has_limit && pos >= limit) {
                return CAIRN_OK;
            }
            cairn_err err = foreign_cp(w, pos);
            if (err != CAIRN_OK) {
                return err;
            }
        }
        cairn_err err = cp_next(w);
        if (err != CAIRN_OK) {
            return err;
        }
    }
    return CAIRN_OK;
}

/* Put the checkpoint cursor on the first key >= @p pos: a few steps
 * forward when that is close (a run's checkpoints are near each other),
 * else a seek, so that other runs' checkpoints are neither decoded nor
 * walked one by one. */
static cairn_err seek_cp(jwalk *w, uint64_t pos)
{
    const uint8_t *k;
    size_t kl;
    uint8_t key[8];
    unsigned steps = 0;
    while (w->cp_started && w->cp_found &&
           (w->ckl != 8 || cairn__load64_be(w->ck) < pos)) {
        if (++steps > 8) {
            w->cp_started = 0;
            break;
        }
        cairn_err err = cp_next(w);
        if (err != CAIRN_OK) {
            return err;
        }
    }
    if (w->cp_started) {
        return CAIRN_OK;
    }
    cairn__store64_be(key, pos);
    cairn_err err = cairn__cursor_seek(w->cps, key, sizeof(key), &k, &kl,
                                       &w->cv, &w->cvl, &w->cp_found);
    if (err != CAIRN_OK) {
        return store_fail(w->rep, err, "reading checkpoints");
    }
    w->ck = k;
    w->ckl = kl;
    w->cp_started = 1;
    return CAIRN_OK;
}

/* Under cairn_verify_all() in format 2: the log tree's stored leaf of
 * position @p pos is the leaf hash of the record there (the core's
 * last_hash), so the directory check can build the tree from the stored
 * leaves without hashing every record a second time. */
static cairn_err check_leaf(jwalk *w, uint64_t seq, uint64_t pos)
{
    uint8_t key[9];
    const uint8_t *v;
    size_t vl;
    int found = 0;
    char e[2 * CAIRN_HASH_BYTES + 1], f[2 * CAIRN_HASH_BYTES + 1] = "";
    key[0] = 0;
    cairn__store64_be(key + 1, pos - 1);
    cairn_err err =
        cairn__vread_get(&w->leaf_rd, key, sizeof(key), &v, &vl, &found);
    if (err != CAIRN_OK) {
        return store_fail(w->rep, err, "reading the log tree");
    }
    if (found && vl == CAIRN_HASH_BYTES &&
        memcmp(v, w->v->last_hash, CAIRN_HASH_BYTES) == 0) {
        return CAIRN_OK;
    }
    cairn__hash_hex(w->v->last_hash, e);
    if (found && vl == CAIRN_HASH_BYTES) {
        cairn__hash_hex(v, f);
    }
    err = cairn__vcore_tampered(w->v, 1, seq, "tree", e, f,
                                "the log tree's leaf of this record's "
                                "position is not its leaf hash");
    w->rep->has_node = 1;
    w->rep->bad_level = 0;
    w->rep->bad_index = pos - 1;
    return err;
}

static cairn_err one_record(jwalk *w, uint64_t seq, uint64_t pos)
{
    uint8_t key[8];
    const uint8_t *val;
    size_t vl;
    int found;
    char reason[160];
    cairn_err err = w->dir_checked ? seek_cp(w, pos) : drain(w, 1, pos);
    if (err != CAIRN_OK) {
        return err;
    }
    cairn__store64_be(key, pos);
    err = cairn__vread_get(&w->rec_rd, key, sizeof(key), &val, &vl, &found);
    if (err != CAIRN_OK) {
        return store_fail(w->rep, err, "reading a record");
    }
    if (!found) {
        cairn__fmt(reason, sizeof(reason),
                   "seq %llu: the index points at position %llu, where "
                   "there is no record",
                   (unsigned long long)seq, (unsigned long long)pos);
        return cairn__vcore_tampered(w->v, 1, seq, "record", "a record",
                                     "nothing", reason);
    }
    err = cairn__vcore_record(w->v, pos, val, vl);
    if (err == CAIRN_OK && w->leaves) {
        err = check_leaf(w, seq, pos);
    }
    if (err == CAIRN_OK && w->cp_found && w->ckl == 8 &&
        cairn__load64_be(w->ck) == pos) {
        err = cairn__vcore_checkpoint(w->v, pos, w->cv, w->cvl);
        if (err == CAIRN_OK) {
            err = cp_next(w);
        }
    }
    return err;
}

static cairn_err index_bad(jwalk *w, uint64_t seq, const char *what, size_t got)
{
    char found[48], reason[200];
    cairn__fmt(found, sizeof(found), "%s %zu", what, got);
    cairn__fmt(reason, sizeof(reason),
               "seq %llu: index entry malformed (%s of %zu bytes)",
               (unsigned long long)seq, what, got);
    return cairn__vcore_tampered(w->v, 1, seq, "index",
                                 "a 16-byte key and "
                                 "an 8-byte value",
                                 found, reason);
}

static cairn_err index_gap(jwalk *w, uint64_t expect, uint64_t seq)
{
    char e[24], f[24], reason[160];
    cairn__fmt(e, sizeof(e), "%llu", (unsigned long long)expect);
    cairn__fmt(f, sizeof(f), "%llu", (unsigned long long)seq);
    cairn__fmt(reason, sizeof(reason),
               "the index jumps from seq %llu to %llu: seq %llu is missing",
               (unsigned long long)expect, (unsigned long long)seq,
               (unsigned long long)expect);
    return cairn__vcore_tampered(w->v, 1, expect, "index", e, f, reason);
}

/* Is the record at @p pos a PRUNE record (its type byte)?  Then a run's
 * index may start there: the records before it were pruned. */
static int prune_at(jwalk *w, uint64_t pos)
{
    uint8_t key[8];
    const uint8_t *v;
    size_t vl;
    int found = 0;
    cairn__store64_be(key, pos);
    return cairn__txn_get(w->txn, CAIRN_DBI_RECORDS, key, sizeof(key), &v, &vl,
                          &found) == CAIRN_OK &&
           found && vl > 1 && v[0] == CAIRN_FORMAT_VERSION &&
           v[1] == CAIRN_REC_PRUNE;
}

static cairn_err walk_index(jwalk *w)
{
    uint8_t key[16];
    cairn_cursor *cur = NULL;
    const uint8_t *k, *v;
    size_t kl, vl;
    int found;
    uint64_t expect = 0;
    cairn__store64_be(key, w->run_num);
    cairn__store64_be(key + 8, 0);
    cairn_err err = cairn__cursor_open(w->txn, CAIRN_DBI_INDEX, &cur);
    if (err == CAIRN_OK) {
        err =
            cairn__cursor_seek(cur, key, sizeof(key), &k, &kl, &v, &vl, &found);
    }
    if (err != CAIRN_OK) {
        cairn__cursor_close(cur);
        return store_fail(w->rep, err, "reading the index");
    }
    while (found && kl >= 8 && cairn__load64_be(k) == w->run_num) {
        if (kl != 16 || vl != 8) {
            err = index_bad(w, expect, kl != 16 ? "key" : "value",
                            kl != 16 ? kl : vl);
        } else if (cairn__load64_be(k + 8) != expect &&
                   (expect != 0 || !prune_at(w, cairn__load64_be(v)))) {
            err = index_gap(w, expect, cairn__load64_be(k + 8));
        } else {
            expect = cairn__load64_be(k + 8);
            err = one_record(w, expect, cairn__load64_be(v));
        }
        if (err == CAIRN_OK) {
            expect++;
            err = cairn__cursor_next(cur, &k, &kl, &v, &vl, &found);
            if (err != CAIRN_OK) {
                err = store_fail(w->rep, err, "reading the index");
            }
        }
        if (err != CAIRN_OK) {
            break;
        }
    }
    cairn__cursor_close(cur);
    return err;
}

/* What the tombstone says, for the report's reason. */
static void prune_note(jwalk *w, const cairn_record *rec)
{
    char when[32] = "?", hex[2 * CAIRN_HASH_BYTES + 1];
    time_t secs = (time_t)(rec->wall_ns / 1000000000u);
    struct tm tm;
    if (gmtime_r(&secs, &tm) != NULL) {
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    }
    cairn__hash_hex(rec->bundle_sha256, hex);
    cairn__fmt(w->prune_note, sizeof(w->prune_note),
               "PRUNED: %llu record(s) removed %s by %s under rule %s; the "
               "archived bundle is sha256:%s (%llu bytes)%s%.120s",
               (unsigned long long)rec->pruned_count, when,
               rec->actor[0] != '\0' ? rec->actor : "(no actor)", rec->rule,
               hex, (unsigned long long)rec->bundle_bytes,
               rec->location[0] != '\0' ? " at " : "", rec->location);
}

/* A pruned run: each position its PRUNE record lists holds the 8-byte
 * placeholder naming this run (its record is gone, its key stays), and
 * the log tree's leaf there is the leaf hash the PRUNE record lists (so
 * every root and proof stays valid; under verify --all the directory
 * check builds the tree from these leaves). */
static cairn_err check_pruned(jwalk *w)
{
    uint8_t key[8];
    const uint8_t *val;
    size_t vl;
    int found = 0;
    char why[256], e[2 * CAIRN_HASH_BYTES + 1], f[2 * CAIRN_HASH_BYTES + 1];
    cairn__store64_be(key, w->v->last_pos);
    cairn_err err = cairn__txn_get(w->txn, CAIRN_DBI_RECORDS, key, sizeof(key),
                                   &val, &vl, &found);
    cairn_record rec;
    if (err != CAIRN_OK || !found ||
        (err = cairn__record_decode(val, vl, &rec, why, sizeof(why))) !=
            CAIRN_OK) {
        return err == CAIRN_ENOMEM ? err
                                   : store_fail(w->rep, CAIRN_ESTORE,
                                                "re-reading the prune record");
    }
    prune_note(w, &rec);
    uint64_t seq = 0;
    for (size_t i = 0; i < rec.n_ranges && err == CAIRN_OK; i++) {
        for (uint32_t c = 0; c < rec.ranges[i].count && err == CAIRN_OK;
             c++, seq++) {
            uint64_t pos = rec.ranges[i].start + c;
            const uint8_t *leaf = rec.pruned_leaves[seq];
            cairn__store64_be(key, pos);
            err = cairn__txn_get(w->txn, CAIRN_DBI_RECORDS, key, sizeof(key),
                                 &val, &vl, &found);
            if (err != CAIRN_OK) {
                err = store_fail(w->rep, err, "reading a pruned position");
                break;
            }
            if (!found || vl != 8 || cairn__load64_be(val) != w->run_num) {
                cairn__fmt(why, sizeof(why),
                           "position %llu (seq %llu), listed by the prune "
                           "record, %s",
                           (unsigned long long)pos, (unsigned long long)seq,
                           !found    ? "is missing"
                           : vl != 8 ? "still holds a record"
                                     : "names another run");
                err = cairn__vcore_tampered(w->v, 1, seq, "pruned", "removed",
                                            found ? "present" : "missing", why);
                break;
            }
            uint8_t tkey[9];
            tkey[0] = 0;
            cairn__store64_be(tkey + 1, pos - 1);
            err = cairn__txn_get(w->txn, CAIRN_DBI_TREE, tkey, sizeof(tkey),
                                 &val, &vl, &found);
            if (err != CAIRN_OK) {
                err = store_fail(w->rep, err, "reading the log tree");
                break;
            }
            if (w->j->format == 2 &&
                (!found || vl != CAIRN_HASH_BYTES ||
                 memcmp(val, leaf, CAIRN_HASH_BYTES) != 0)) {
                cairn__hash_hex(leaf, e);
                f[0] = '\0';
                if (found && vl == CAIRN_HASH_BYTES) {
                    cairn__hash_hex(val, f);
                }
                cairn__fmt(why, sizeof(why),
                           "position %llu (seq %llu): the log tree's leaf is "
                           "not the leaf hash the prune record lists",
                           (unsigned long long)pos, (unsigned long long)seq);
                err = cairn__vcore_tampered(w->v, 1, seq, "tree", e, f, why);
                w->rep->has_node = 1;
                w->rep->bad_level = 0;
                w->rep->bad_index = pos - 1;
            }
        }
    }
    cairn__record_free(&rec);
    return err;
}

/* The common case first: the stored blob is byte for byte the canonical
 * encoding of the replayed state (what the writer stored), so it decodes
 * to the same state and compares equal; nothing else to do.  *same 0:
 * the full comparison decides (and names what differs). */
static cairn_err state_bytes_equal(const cairn_state *re, const uint8_t *val,
                                   size_t vl, int *same)
{
    uint8_t *blob = NULL;
    size_t n = 0;
    *same = 0;
    cairn_err err = cairn__state_encode(re, &blob, &n);
    if (err == CAIRN_OK) {
        *same = n == vl && memcmp(blob, val, n) == 0;
    }
    free(blob);
    return err;
}

/* The replayed state against the materialised one. */
static cairn_err check_state(jwalk *w)
{
    uint8_t key[8];
    const uint8_t *val;
    size_t vl;
    int found;
    char why[256], e[24], f[24];
    cairn__store64_be(key, w->run_num);
    cairn_err err = cairn__txn_get(w->txn, CAIRN_DBI_RUNS, key, sizeof(key),
                                   &val, &vl, &found);
    if (err != CAIRN_OK) {
        return store_fail(w->rep, err, "reading the run state");
    }
    if (!found) {
        return cairn__vcore_tampered(w->v, 0, 0, "state", "the run's state",
                                     "nothing",
                                     "the materialised run state is missing");
    }
    if (vl > 0 && val[0] == 2) { /* a summary with rows (section 23) */
        err = cairn__verify_rows(w->txn, w->v, val, vl);
        if (err == CAIRN_ETAMPERED) {
            return err;
        }
        if (err != CAIRN_OK) {
            return store_fail(w->rep, err, "reading the run's rows");
        }
        w->rep->replay_ok = 1;
        return CAIRN_OK;
    }
    int same = 0;
    err = state_bytes_equal(&w->v->st, val, vl, &same);
    if (err != CAIRN_OK || same) {
        w->rep->replay_ok = err == CAIRN_OK;
        return err;
    }
    cairn_state stored;
    err = cairn__state_decode(val, vl, &stored, why, sizeof(why));
    if (err == CAIRN_ENOMEM) {
        return err;
    }
    if (err != CAIRN_OK) {
        return cairn__vcore_tampered(w->v, 0, 0, "state", "", why,
                                     "the materialised run state does not "
                                     "decode");
    }
    const cairn_state *re = &w->v->st;
    err = cairn__compare_state(w->j, re, &stored);
    if (err == CAIRN_ECORRUPT) {
        int differ = stored.next_seq != re->next_seq;
        uint64_t first =
            stored.next_seq < re->next_seq ? stored.next_seq : re->next_seq;
        cairn__fmt(e, sizeof(e), "%llu records",
                   (unsigned long long)re->next_seq);
        cairn__fmt(f, sizeof(f), "%llu records",
                   (unsigned long long)stored.next_seq);
        err = cairn__vcore_tampered(w->v, differ, first, "state", e, f,
                                    cairn_journal_errdetail(w->j));
    } else if (err == CAIRN_OK) {
        w->rep->replay_ok = 1;
    }
    cairn__state_free(&stored);
    return err;
}

static cairn_err lookup(jwalk *w, const char *run_id)
{
    const uint8_t *val;
    size_t vl;
    int found = 0;
    size_t n = strlen(run_id);
    cairn_err err = CAIRN_OK;
    if (n > 0 && n <= CAIRN_MAX_ID) {
        err = cairn__txn_get(w->txn, CAIRN_DBI_NAMES, run_id, n, &val, &vl,
                             &found);
    }
    if (err != CAIRN_OK) {
        return store_fail(w->rep, err, "reading the run names");
    }
    if (!found) {
        return cairn__jfail(w->j, CAIRN_ENORUN, "no run \"%.*s\"",
                            (int)(n > 128 ? 128 : n), run_id);
    }
    if (vl != 8 || cairn__load64_be(val) == 0) {
        cairn__report_tampered(w->rep, 0, 0, "names", "a run number",
                               "a malformed entry",
                               "the name entry of run %s is malformed", run_id);
        return CAIRN_ETAMPERED;
    }
    w->run_num = cairn__load64_be(val);
    return CAIRN_OK;
}

static cairn_err run_checks(jwalk *w)
{
    const uint8_t *k;
    size_t kl;
    cairn_err err = cairn__cursor_open(w->txn, CAIRN_DBI_CHECKPOINTS, &w->cps);
    if (err == CAIRN_OK && !w->dir_checked) {
        err = cairn__cursor_seek(w->cps, NULL, 0, &k, &kl, &w->cv, &w->cvl,
                                 &w->cp_found);
        w->ck = k;
        w->ckl = kl;
    }
    if (err != CAIRN_OK) {
        return store_fail(w->rep, err, "reading checkpoints");
    }
    err = walk_index(w);
    if (err == CAIRN_OK && w->v->n == 0) {
        err = cairn__vcore_tampered(w->v, 1, 0, "index", "seq 0", "nothing",
                                    "the run has no records in the index");
    }
    if (err == CAIRN_OK && !w->dir_checked) {
        err = drain(w, 0, 0);
    }
    if (err == CAIRN_OK && w->v->pruned_start) {
        err = check_pruned(w);
    }
    if (err == CAIRN_OK) {
        err = check_state(w);
    }
    return err;
}

/* A single run (VRUN_ALONE) in format 2: the journal's signed head, the
 * run's state in its state map and the run's last record in its log tree
 * (cairn__verify_head_run()); @p note gets what was proven. */
static cairn_err head_checks(jwalk *w, const cairn_pubkey *pinned,
                             cairn_plan_memo *memo, char *note, size_t note_len)
{
    const cairn_verify_head *h = &w->rep->journal_head;
    cairn_err err = cairn__verify_head_run_memo(
        w->txn, w->j->journal_id, pinned, w->run_num, w->v->last_pos,
        memo != NULL ? &memo->head : NULL, note != NULL, w->rep);
    if (err == CAIRN_ETAMPERED) {
        w->v->stopped = 1;
        return err;
    }
    if (err != CAIRN_OK) {
        return store_fail(w->rep, err, "reading the journal's head");
    }
    /* Head-sealed checkpoints (docs/FORMAT.md section 25) are signed by
     * exactly this: the head verified under the pinned key, with the
     * run's state and last record proven in it. */
    w->v->head_proven = w->rep->format == 2 && h->present && h->signature_ok &&
                        !h->key_mismatch && w->v->last_pos != 0;
    if (note == NULL) {
        return CAIRN_OK;
    }
    if (w->rep->format == 1) {
        cairn__fmt(note, note_len, "%s", CAIRN__FORMAT1_NOTE);
    } else if (h->present) {
        cairn__fmt(note, note_len,
                   "journal head: %llu records, %llu runs, %s; the run's "
                   "state and last record are proven in it (a rollback of "
                   "the whole journal needs an anchor to be seen)",
                   (unsigned long long)h->size, (unsigned long long)h->runs,
                   !h->is_signed     ? "unsigned (the journal is unsafe)"
                   : h->key_mismatch ? "signed by another key (key mismatch)"
                   : h->signature_ok ? "signature verified"
                                     : "signature not checked (no key)");
    }
    return CAIRN_OK;
}

/* An unsigned head, or one signed by another key, proves nothing: the
 * run is at best INCOMPLETE (a key mismatch is not tampering). */
static void head_verdict(cairn_verify_report *rep, const cairn_pubkey *pinned)
{
    const cairn_verify_head *h = &rep->journal_head;
    if (rep->verdict != CAIRN_VERDICT_VERIFIED || rep->format != 2 ||
        !h->present || pinned == NULL) {
        return;
    }
    if (!h->is_signed || h->key_mismatch) {
        rep->verdict = CAIRN_VERDICT_INCOMPLETE;
    }
}

cairn_err cairn__verify_run_txn(cairn_journal *j, cairn_txn *txn,
                                const char *run_id, const cairn_pubkey *pinned,
                                cairn_vrun_mode mode, cairn_plan_memo *memo,
                                cairn_verify_report *rep, uint64_t *run_num)
{
    cairn_vcore v;
    jwalk w;
    memset(&w, 0, sizeof(w));
    w.dir_checked = mode == VRUN_DIR_CHECKED || mode == VRUN_ALL;
    w.leaves = mode == VRUN_ALL && j->format == 2;
    w.j = j;
    w.txn = txn;
    w.rep = rep;
    w.v = &v;
    cairn__vread_init(&w.rec_rd, txn, CAIRN_DBI_RECORDS);
    cairn__vread_init(&w.leaf_rd, txn, CAIRN_DBI_TREE);
    if (run_num != NULL) {
        *run_num = 0;
    }
    cairn_err err = lookup(&w, run_id);
    if (err != CAIRN_OK) {
        return err == CAIRN_ETAMPERED || err == STORE_FAILED ? CAIRN_OK : err;
    }
    if (run_num != NULL) {
        *run_num = w.run_num;
    }
    /* The key history (docs/FORMAT.md section 24): which key signs what. */
    cairn__vkeys vk;
    memset(&vk, 0, sizeof(vk));
    if (j->format >= 2) {
        err = cairn__vkeys_load(txn, j->journal_id, pinned, &vk, rep);
        if (err != CAIRN_OK) {
            cairn__vkeys_free(&vk);
            if (err == CAIRN_ETAMPERED || err == CAIRN_ENOMEM) {
                return err == CAIRN_ENOMEM ? err : CAIRN_OK;
            }
            err = store_fail(rep, err, "reading the key history");
            return err == STORE_FAILED ? CAIRN_OK : err;
        }
    }
    const cairn_pubkey *use = cairn__vkeys_pinned(&vk, pinned);
    cairn__vcore_init(&v, j->journal_id, w.run_num, run_id, use, rep);
    v.memo = memo;
    v.keys = &vk.kh;
    v.keys_trusted = vk.trusted;
    v.head_seals = j->format >= 2;
    err = run_checks(&w);
    char note[320] = "", all[sizeof(note) + sizeof(w.prune_note) + 2];
    if (err == CAIRN_OK && mode == VRUN_ALONE) {
        err = head_checks(&w, use, memo, note, sizeof(note));
    } else if (err == CAIRN_OK && rep->head_sealed > 0 && !v.stopped) {
        /* verify --all, export: the checkpoints are the head's to sign */
        err = head_checks(&w, use, memo, NULL, 0);
    }
    if (err == CAIRN_OK && mode == VRUN_ALONE) {
        err = cairn__vkeys_check_head(txn, &vk, j->journal_id, rep);
        if (err == CAIRN_ETAMPERED) {
            v.stopped = 1;
        } else if (err != CAIRN_OK) {
            err = store_fail(rep, err, "proving the key history");
        }
    }
    if (err == CAIRN_OK) {
        cairn__fmt(all, sizeof(all), "%s%s%s", w.prune_note,
                   w.prune_note[0] != '\0' && note[0] != '\0' ? "; " : "",
                   note);
        cairn__vcore_finish(&v, all);
        head_verdict(rep, use);
    }
    cairn__cursor_close(w.cps);
    cairn__vread_close(&w.rec_rd);
    cairn__vread_close(&w.leaf_rd);
    cairn__vcore_free(&v);
    cairn__vkeys_free(&vk);
    return err == CAIRN_ETAMPERED || err == STORE_FAILED ? CAIRN_OK : err;
}

cairn_err cairn_verify_run(cairn_journal *journal, const char *run_id,
                           const cairn_pubkey *pinned, cairn_verify_report *out)
{
    if (out != NULL) {
        memset(out, 0, sizeof(*out));
    }
    if (journal == NULL || run_id == NULL || out == NULL) {
        return CAIRN_EINVAL;
    }
    cairn__report_init(out, run_id, pinned);
    cairn_txn *txn = NULL;
    cairn_err err = cairn__store_read(journal->store, &txn);
    if (err != CAIRN_OK) {
        return store_fail(out, err, "beginning a read transaction") ==
                       CAIRN_ENOMEM
                   ? CAIRN_ENOMEM
                   : CAIRN_OK;
    }
    const uint8_t *v;
    size_t vl, n = strlen(run_id);
    int named = 0;
    if (n > 0 && n <= CAIRN_MAX_ID &&
        cairn__txn_get(txn, CAIRN_DBI_NAMES, run_id, n, &v, &vl, &named) ==
            CAIRN_OK &&
        !named && cairn__import_has(journal, txn, run_id, n)) {
        err = cairn__verify_import(journal, txn, run_id, pinned, out);
    } else {
        err = cairn__verify_run_txn(journal, txn, run_id, pinned, VRUN_ALONE,
                                    NULL, out, NULL);
    }
    cairn__txn_end(txn);
    return err;
}
