/*
 * verify_core.c - the streaming verifier core (see verify.h): strict
 * decoding, run binding, the hash chain from the genesis hash, the state
 * machine, and every checkpoint (position, sequence, head, time, key id,
 * signature under the pinned key).  No LMDB, no I/O.
 */
#include "verify/verify.h"

#include "base/crypto.h"
#include "plan/plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HEX_LEN (2 * CAIRN_HASH_BYTES + 1)

void cairn__vcore_init(cairn_vcore *v,
                       const uint8_t journal_id[CAIRN_JOURNAL_ID_BYTES],
                       uint64_t run_num, const char *run_id,
                       const cairn_pubkey *pinned, cairn_verify_report *rep)
{
    memset(v, 0, sizeof(*v));
    memcpy(v->journal_id, journal_id, CAIRN_JOURNAL_ID_BYTES);
    v->run_num = run_num;
    v->run_id = run_id;
    v->pinned = pinned;
    v->rep = rep;
}

void cairn__vcore_free(cairn_vcore *v)
{
    cairn__state_free(&v->st);
    cairn__record_scratch_free(&v->scratch);
}

cairn_err cairn__vcore_tampered(cairn_vcore *v, int has_seq, uint64_t seq,
                                const char *field, const char *expected,
                                const char *found, const char *reason)
{
    if (!v->stopped) {
        cairn__report_tampered(v->rep, has_seq, seq, field, expected, found,
                               "%s", reason);
        v->stopped = 1;
    }
    return CAIRN_ETAMPERED;
}

/* TAMPERED at record @p seq with a formatted reason. */
static cairn_err bad(cairn_vcore *v, uint64_t seq, const char *field,
                     const char *expected, const char *found, const char *fmt,
                     ...) __attribute__((format(printf, 6, 7)));

static cairn_err bad(cairn_vcore *v, uint64_t seq, const char *field,
                     const char *expected, const char *found, const char *fmt,
                     ...)
{
    char reason[sizeof(v->rep->reason)];
    va_list ap;
    va_start(ap, fmt);
    cairn__vfmt(reason, sizeof(reason), fmt, ap);
    va_end(ap);
    return cairn__vcore_tampered(v, 1, seq, field, expected, found, reason);
}

/* TAMPERED when two hashes differ. */
static cairn_err check_hash(cairn_vcore *v, uint64_t seq, const char *field,
                            const uint8_t want[CAIRN_HASH_BYTES],
                            const uint8_t got[CAIRN_HASH_BYTES],
                            const char *what)
{
    char e[HEX_LEN], f[HEX_LEN];
    if (memcmp(want, got, CAIRN_HASH_BYTES) == 0) {
        return CAIRN_OK;
    }
    cairn__hash_hex(want, e);
    cairn__hash_hex(got, f);
    return bad(v, seq, field, e, f, "seq %llu: %s", (unsigned long long)seq,
               what);
}

static cairn_err check_u64(cairn_vcore *v, uint64_t seq, const char *field,
                           uint64_t want, uint64_t got, const char *what)
{
    char e[24], f[24];
    if (want == got) {
        return CAIRN_OK;
    }
    cairn__fmt(e, sizeof(e), "%llu", (unsigned long long)want);
    cairn__fmt(f, sizeof(f), "%llu", (unsigned long long)got);
    return bad(v, seq, field, e, f, "seq %llu: %s", (unsigned long long)seq,
               what);
}

/* The key id check of seq 0 against the pinned key.  A run signed by
 * another key is a key mismatch, not tampering (minisign says "key id
 * mismatch" too): its signatures cannot be checked, so the verdict is at
 * best INCOMPLETE, and every structural check still runs. */
static void check_pinned(cairn_vcore *v, const cairn_record *rec)
{
    uint8_t pid[CAIRN_KEY_ID_BYTES];
    char run_key[17], pin_key[17];
    if (!rec->signed_run || v->pinned == NULL || v->keys_trusted) {
        return; /* a trusted key history decides at each position */
    }
    const cairn_pubkey *member = cairn__pubkey_find(v->pinned, rec->key_id);
    if (member != NULL) {
        v->pinned = member; /* the run's own key, of the pinned set */
        return;
    }
    cairn_pubkey_key_id(v->pinned, pid);
    cairn__key_id_text(rec->key_id, run_key);
    cairn__key_id_text(pid, pin_key);
    v->rep->key_mismatch = 1;
    cairn__fmt(v->mismatch, sizeof(v->mismatch),
               "key mismatch: the run is signed by key %s, the pinned key "
               "is %s%s (its signatures were not checked)",
               run_key, pin_key,
               v->pinned->next != NULL ? " (and others)" : "");
    v->pinned = NULL;
}

void cairn__plan_memo_free(cairn_plan_memo *m)
{
    free(m->json);
    cairn_plan_free(m->plan);
    free(m->head.bytes);
    memset(m, 0, sizeof(*m));
}

/* The plan stored in a CREATE record: the memo's when the bytes are the
 * same, else parsed (and remembered when there is a memo).  A plan that
 * does not parse is never remembered. */
static cairn_err parse_plan(cairn_vcore *v, const cairn_record *rec,
                            cairn_plan **plan, char *why, size_t why_len)
{
    cairn_plan_memo *m = v->memo;
    if (m != NULL && m->plan != NULL && m->len == rec->plan_len &&
        memcmp(m->json, rec->plan_json, m->len) == 0) {
        *plan = m->plan;
        return CAIRN_OK;
    }
    cairn_err err = cairn__plan_from_canonical(rec->plan_json, rec->plan_len,
                                               plan, why, why_len);
    if (err != CAIRN_OK || m == NULL || rec->plan_len == 0) {
        return err;
    }
    char *copy = malloc(rec->plan_len);
    if (copy == NULL) {
        return CAIRN_OK; /* no memo this time; the plan itself is fine */
    }
    memcpy(copy, rec->plan_json, rec->plan_len);
    free(m->json);
    cairn_plan_free(m->plan);
    m->json = copy;
    m->len = rec->plan_len;
    m->plan = *plan;
    return CAIRN_OK;
}

/* Seq 0: a CREATE record of this journal and run, chained to the genesis
 * hash, whose stored plan is canonical and hashes to plan_hash. */
/* In a journal that rotated its key (docs/FORMAT.md section 24), a signed
 * run is created under the key in force at its CREATE's position. */
static cairn_err check_created_key(cairn_vcore *v, const cairn_record *rec,
                                   uint64_t pos)
{
    if (!rec->signed_run || v->keys == NULL || v->keys->n == 0) {
        return CAIRN_OK;
    }
    const cairn_key_entry *k = cairn__keyhist_at(v->keys, pos);
    if (memcmp(k->key_id, rec->key_id, CAIRN_KEY_ID_BYTES) == 0) {
        return CAIRN_OK;
    }
    char e[17], f[17];
    cairn__key_id_text(k->key_id, e);
    cairn__key_id_text(rec->key_id, f);
    return bad(v, 0, "key_id", e, f,
               "seq 0: the run was created at position %llu under key %s, "
               "but the key in force there is %s",
               (unsigned long long)pos, f, e);
}

static cairn_err start_run(cairn_vcore *v, const cairn_record *rec,
                           const uint8_t hash[CAIRN_HASH_BYTES], uint64_t pos)
{
    uint8_t want[CAIRN_HASH_BYTES];
    char why[512];
    if (rec->type != CAIRN_REC_CREATE) {
        return bad(v, 0, "type", "create", cairn_record_type_name(rec->type),
                   "seq 0 is not a create record");
    }
    if (memcmp(rec->journal_id, v->journal_id, CAIRN_JOURNAL_ID_BYTES)) {
        char e[33], f[33];
        cairn__hex(v->journal_id, CAIRN_JOURNAL_ID_BYTES, e);
        cairn__hex(rec->journal_id, CAIRN_JOURNAL_ID_BYTES, f);
        return bad(v, 0, "journal_id", e, f,
                   "seq 0 belongs to another journal");
    }
    if (v->run_id != NULL && strcmp(rec->run_id, v->run_id) != 0) {
        return bad(v, 0, "run_id", v->run_id, rec->run_id,
                   "seq 0 names another run");
    }
    cairn__genesis_hash(v->journal_id, rec->run_id, rec->key_id, want);
    cairn_err err =
        check_hash(v, 0, "prev", want, rec->prev,
                   "prev is not the genesis hash of this journal, run "
                   "and key");
    if (err != CAIRN_OK) {
        return err;
    }
    cairn__sha256(rec->plan_json, rec->plan_len, want);
    err = check_hash(v, 0, "plan_hash", want, rec->plan_hash,
                     "plan_hash is not the SHA-256 of the stored plan");
    if (err != CAIRN_OK) {
        return err;
    }
    cairn_plan *plan = NULL;
    err = parse_plan(v, rec, &plan, why, sizeof(why));
    if (err == CAIRN_OK) {
        err = cairn__state_init(&v->st, plan, rec, hash, pos, why, sizeof(why));
        if (v->memo == NULL || v->memo->plan != plan) {
            cairn_plan_free(plan);
        }
    }
    if (err == CAIRN_ENOMEM) {
        return err;
    }
    if (err != CAIRN_OK) {
        return bad(v, 0, "plan", "", why, "seq 0: stored plan: %s", why);
    }
    v->rep->run_signed = rec->signed_run != 0;
    memcpy(v->rep->key_id, rec->key_id, CAIRN_KEY_ID_BYTES);
    err = check_created_key(v, rec, pos);
    if (err == CAIRN_OK) {
        check_pinned(v, rec);
    }
    return err;
}

static cairn_err next_record(cairn_vcore *v, const cairn_record *rec,
                             const uint8_t hash[CAIRN_HASH_BYTES], uint64_t pos)
{
    char why[512], found[160];
    cairn_err err = check_hash(v, rec->seq, "prev", v->last_hash, rec->prev,
                               "prev is not the hash of the previous record");
    if (err != CAIRN_OK) {
        return err;
    }
    why[0] = '\0';
    err = cairn__state_apply(&v->st, rec, hash, pos, why, sizeof(why));
    if (err == CAIRN_ENOMEM || err == CAIRN_OK) {
        return err;
    }
    cairn__fmt(found, sizeof(found), "%s", cairn_errname(err));
    return bad(v, rec->seq, "transition", "a valid transition", found,
               "seq %llu: %s record does not apply: %s (%s)",
               (unsigned long long)rec->seq, cairn_record_type_name(rec->type),
               why, cairn_errname(err));
}

/* A pruned run starts with its PRUNE record (seq N: records 0..N-1 are
 * gone, listed by it): its prev is the last listed leaf, and the state is
 * the stub it implies (cairn__state_stub()). */
static cairn_err start_pruned(cairn_vcore *v, const cairn_record *rec,
                              const uint8_t hash[CAIRN_HASH_BYTES],
                              uint64_t pos)
{
    if (v->run_id != NULL && strcmp(rec->run_id, v->run_id) != 0) {
        return bad(v, rec->seq, "run_id", v->run_id, rec->run_id,
                   "the prune record names another run");
    }
    cairn_err err = check_hash(
        v, rec->seq, "prev", rec->pruned_leaves[rec->seq - 1], rec->prev,
        "the prune record's prev is not the leaf hash of the "
        "last record it lists");
    if (err != CAIRN_OK) {
        return err;
    }
    cairn_record key = *rec;
    key.signed_run = (rec->state_flags & 0x02u) != 0;
    cairn__state_free(&v->st);
    cairn__state_stub(rec, hash, pos, &v->st);
    v->pruned_start = 1;
    v->rep->pruned = 1;
    v->rep->prune_position = pos;
    v->rep->pruned_records = rec->pruned_count;
    v->rep->run_signed = key.signed_run;
    memcpy(v->rep->key_id, rec->key_id, CAIRN_KEY_ID_BYTES);
    check_pinned(v, &key);
    return CAIRN_OK;
}

static cairn_err check_binding(cairn_vcore *v, const cairn_record *rec,
                               uint64_t seq, uint64_t pos)
{
    if (pos == 0 || (v->n > 0 && pos <= v->last_pos)) {
        char e[32], f[24];
        cairn__fmt(e, sizeof(e), "> %llu", (unsigned long long)v->last_pos);
        cairn__fmt(f, sizeof(f), "%llu", (unsigned long long)pos);
        return bad(v, seq, "position", e, f,
                   "seq %llu: position %llu does not follow the previous "
                   "record's",
                   (unsigned long long)seq, (unsigned long long)pos);
    }
    if ((seq == 0 || v->n == 0) && v->run_num == 0) {
        v->run_num = rec->run_num;
    }
    cairn_err err = check_u64(v, seq, "run_num", v->run_num, rec->run_num,
                              "the record names another run");
    if (err == CAIRN_OK) {
        err = check_u64(v, seq, "seq", seq, rec->seq,
                        "the record names another sequence");
    }
    return err;
}

cairn_err cairn__vcore_record(cairn_vcore *v, uint64_t position,
                              const uint8_t *bytes, size_t len)
{
    if (v->stopped) {
        return CAIRN_ETAMPERED;
    }
    uint64_t seq = v->n;
    cairn_record rec;
    uint8_t hash[CAIRN_HASH_BYTES];
    char why[256];
    cairn_err err = cairn__record_decode_scratch(bytes, len, &rec, &v->scratch,
                                                 why, sizeof(why));
    if (err == CAIRN_ENOMEM) {
        return err;
    }
    if (err != CAIRN_OK) {
        return bad(v, seq, "record", "", why,
                   "seq %llu (position %llu) does not decode: %s",
                   (unsigned long long)seq, (unsigned long long)position, why);
    }
    cairn__leaf_hash(bytes, len, hash);
    int pruned = seq == 0 && rec.type == CAIRN_REC_PRUNE;
    if (pruned) {
        seq = rec.seq; /* records 0..seq-1 were pruned */
    }
    err = check_binding(v, &rec, seq, position);
    if (err == CAIRN_OK && pruned) {
        err = start_pruned(v, &rec, hash, position);
    } else if (err == CAIRN_OK) {
        err = seq == 0 ? start_run(v, &rec, hash, position)
                       : next_record(v, &rec, hash, position);
    }
    if (err == CAIRN_OK && rec.type == CAIRN_REC_PRUNE && !pruned) {
        err = bad(v, seq, "records", "removed", "still stored",
                  "seq %llu: the run's prune record lists records that are "
                  "still stored (a pruned run keeps its prune record alone)",
                  (unsigned long long)seq);
    }
    if (err == CAIRN_OK) {
        v->n = seq + 1;
        v->last_pos = position;
        v->last_wall = rec.wall_ns;
        v->last_sealed = 0;
        memcpy(v->last_hash, hash, CAIRN_HASH_BYTES);
        memcpy(v->rep->head, hash, CAIRN_HASH_BYTES);
        v->rep->records = v->n;
    }
    cairn__record_free(&rec);
    return err;
}

/* The signature of a checkpoint of a signed run, stored at @p position
 * (a head-sealed one, format 2: its key id; the head signs it):
 * by the run's key, or, in a journal that rotated its key, by the key in
 * force at @p position (docs/FORMAT.md section 24). */
static cairn_err check_signature(cairn_vcore *v, const cairn_checkpoint *cp,
                                 uint64_t seq, uint64_t position)
{
    char e[17], f[17];
    if (!cp->is_signed && !cp->head_sealed) {
        return bad(v, seq, "checkpoint.flags", "signed", "unsigned",
                   "seq %llu: unsigned checkpoint in a signed run",
                   (unsigned long long)seq);
    }
    if (cp->head_sealed && !v->head_seals) {
        return bad(v, seq, "checkpoint.flags", "signed", "head-sealed",
                   "seq %llu: a head-sealed checkpoint where no journal "
                   "head signs it (format 1 or a version-1 bundle)",
                   (unsigned long long)seq);
    }
    const uint8_t *want = v->rep->key_id, *pk = NULL;
    if (v->keys != NULL && v->keys->n > 0) {
        const cairn_key_entry *k = cairn__keyhist_at(v->keys, position);
        want = k->key_id;
        pk = v->keys_trusted ? k->pk : NULL;
    }
    if (memcmp(cp->key_id, want, CAIRN_KEY_ID_BYTES) != 0) {
        cairn__key_id_text(want, e);
        cairn__key_id_text(cp->key_id, f);
        return bad(v, seq, "checkpoint.key_id", e, f,
                   want == v->rep->key_id
                       ? "seq %llu: checkpoint signed by key %s, the run's "
                         "key is %s"
                       : "seq %llu: checkpoint signed by key %s, the key in "
                         "force at its position is %s",
                   (unsigned long long)seq, f, e);
    }
    if (cp->head_sealed) {
        /* Its signature is the journal head's, which the driver checks
         * (head_proven); cairn__vcore_finish() decides. */
        v->rep->head_sealed++;
        return CAIRN_OK;
    }
    if (v->pinned == NULL) {
        return CAIRN_OK;
    }
    uint8_t msg[CAIRN_CHECKPOINT_MSG_MAX];
    size_t n = cairn__checkpoint_message(cp, v->journal_id, v->st.run_id, msg);
    if (n == 0 ||
        (pk != NULL ? cairn__ed25519_verify(cp->sig, msg, n, pk)
                    : cairn__pubkey_verify(v->pinned, cp->sig, msg, n)) != 0) {
        return bad(v, seq, "signature", "valid under the pinned key", "invalid",
                   "seq %llu: checkpoint signature does not verify under "
                   "the pinned key",
                   (unsigned long long)seq);
    }
    v->rep->signatures_ok++;
    return CAIRN_OK;
}

/* Sequence, head and time of a checkpoint against the record it seals. */
static cairn_err check_seal(cairn_vcore *v, const cairn_checkpoint *cp,
                            uint64_t seq)
{
    cairn_err err = check_u64(v, seq, "checkpoint.run_num", v->run_num,
                              cp->run_num, "the checkpoint names another run");
    if (err == CAIRN_OK) {
        err = check_u64(v, seq, "checkpoint.seq", seq, cp->seq,
                        "the checkpoint names another sequence");
    }
    if (err == CAIRN_OK) {
        err = check_hash(v, seq, "checkpoint.head", v->last_hash, cp->head,
                         "the checkpoint's head is not the hash of the "
                         "record it seals");
    }
    if (err == CAIRN_OK) {
        err = check_u64(v, seq, "checkpoint.wall_ns", v->last_wall, cp->wall_ns,
                        "the checkpoint's time is not its record's time");
    }
    return err;
}

cairn_err cairn__vcore_checkpoint(cairn_vcore *v, uint64_t position,
                                  const uint8_t *bytes, size_t len)
{
    if (v->stopped) {
        return CAIRN_ETAMPERED;
    }
    char why[160], reason[256];
    if (v->n == 0 || position != v->last_pos || v->last_sealed) {
        cairn__fmt(why, sizeof(why), "%llu", (unsigned long long)position);
        cairn__fmt(reason, sizeof(reason), "checkpoint at position %s %s", why,
                   v->last_sealed && position == v->last_pos
                       ? "is a second seal of the same record"
                       : "seals no record of this run");
        return cairn__vcore_tampered(v, 0, 0, "checkpoint.position",
                                     "the position of a record of this run",
                                     why, reason);
    }
    uint64_t seq = v->n - 1;
    cairn_checkpoint cp;
    if (cairn__checkpoint_decode(bytes, len, &cp, why, sizeof(why)) !=
        CAIRN_OK) {
        return bad(v, seq, "checkpoint", "", why,
                   "seq %llu: checkpoint does not decode: %s",
                   (unsigned long long)seq, why);
    }
    cairn_err err = check_seal(v, &cp, seq);
    if (err == CAIRN_OK && v->rep->run_signed) {
        err = check_signature(v, &cp, seq, position);
    } else if (err == CAIRN_OK && (cp.is_signed || cp.head_sealed)) {
        err = bad(v, seq, "checkpoint.flags", "unsigned",
                  cp.is_signed ? "signed" : "head-sealed",
                  "seq %llu: %s checkpoint in an unsigned run",
                  (unsigned long long)seq,
                  cp.is_signed ? "signed" : "head-sealed");
    } else if (err == CAIRN_OK) {
        v->rep->unsigned_checkpoints++;
    }
    if (err != CAIRN_OK) {
        return err;
    }
    if (v->have_cp && cp.wall_ns < v->cp_wall && v->time_back++ == 0) {
        v->time_back_seq = seq;
    }
    v->have_cp = 1;
    v->cp_wall = cp.wall_ns;
    v->last_sealed = 1;
    v->sealed = v->n;
    v->rep->checkpoints++;
    return CAIRN_OK;
}

/* Append "; text" (or "text" when empty) to the reason. */
static void add_reason(cairn_verify_report *rep, const char *text)
{
    size_t n = strlen(rep->reason);
    cairn__fmt(rep->reason + n, sizeof(rep->reason) - n, "%s%s",
               n > 0 ? "; " : "", text);
}

void cairn__vcore_finish(cairn_vcore *v, const char *note)
{
    cairn_verify_report *rep = v->rep;
    char text[256];
    if (v->stopped) {
        return;
    }
    if (v->n == 0) {
        cairn__vcore_tampered(v, 1, 0, "record", "a create record", "nothing",
                              "the run has no records");
        return;
    }
    rep->unsealed = v->n - v->sealed;
    rep->reason[0] = '\0';
    rep->verdict = CAIRN_VERDICT_VERIFIED;
    if (!rep->run_signed) {
        rep->verdict = CAIRN_VERDICT_INCOMPLETE;
        add_reason(rep, "the run is unsigned: no signature proves its "
                        "records");
    } else if (rep->key_mismatch) {
        rep->verdict = CAIRN_VERDICT_INCOMPLETE;
        add_reason(rep, v->mismatch);
    } else if (v->pinned == NULL) {
        rep->verdict = CAIRN_VERDICT_INCOMPLETE;
        add_reason(rep, "key not pinned: signatures were not checked "
                        "(pass the run's public key)");
    }
    if (rep->verdict == CAIRN_VERDICT_VERIFIED && rep->head_sealed > 0 &&
        !v->head_proven) {
        rep->verdict = CAIRN_VERDICT_INCOMPLETE;
        cairn__fmt(text, sizeof(text),
                   "%llu checkpoint(s) are sealed by the journal head, whose "
                   "signature was not checked",
                   (unsigned long long)rep->head_sealed);
        add_reason(rep, text);
    }
    if (rep->unsealed > 0) {
        rep->verdict = CAIRN_VERDICT_INCOMPLETE;
        cairn__fmt(text, sizeof(text),
                   "%llu record(s) after the last checkpoint are unsealed "
                   "(record and checkpoint commit together, so an honest "
                   "crash does not leave this)",
                   (unsigned long long)rep->unsealed);
        add_reason(rep, text);
    }
    if (rep->verdict == CAIRN_VERDICT_VERIFIED) {
        add_reason(rep, rep->head_sealed > 0
                            ? "every record is chained and sealed, and the "
                              "journal head signed by the pinned key covers "
                              "them"
                            : "every record is chained, sealed and signed by "
                              "the pinned key");
    }
    if (v->time_back > 0) {
        cairn__fmt(text, sizeof(text),
                   "note: %llu checkpoint time(s) go backwards (first at "
                   "seq %llu); a clock step does this, it is not proof",
                   (unsigned long long)v->time_back,
                   (unsigned long long)v->time_back_seq);
        add_reason(rep, text);
    }
    if (note != NULL && note[0] != '\0') {
        add_reason(rep, note);
    }
}
