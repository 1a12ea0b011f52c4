/*
 * codec_encode.c - canonical encoding of journal records
 * (docs/FORMAT.md "Record").
 *
 * The encoder checks the same rules as the decoder (codec_record.c), so
 * that every record it writes decodes again, then writes through cairn_wr.
 * kv lists are written sorted by key; the caller's lists are not touched.
 */
#include "base/bytes.h"
#include "format/record.h"

#include <stdlib.h>
#include <string.h>

#define TRY(expr)                                                              \
    do {                                                                       \
        cairn_err try_err_ = (expr);                                           \
        if (try_err_ != CAIRN_OK) {                                            \
            return try_err_;                                                   \
        }                                                                      \
    } while (0)

/* Where a validation failure is described. */
typedef struct enc {
    char *detail;
    size_t detail_len;
} enc;

/* A kv list as pointers into the caller's pairs, sorted by key. */
typedef struct kv_sorted {
    const cairn_kv *p[CAIRN_MAX_KV];
    size_t n;
} kv_sorted;

__attribute__((format(printf, 3, 4))) static cairn_err
inval(const enc *e, const char *field, const char *fmt, ...)
{
    char what[128];
    va_list ap;
    va_start(ap, fmt);
    cairn__vfmt(what, sizeof(what), fmt, ap);
    va_end(ap);
    cairn__fmt(e->detail, e->detail_len, "%s: %s", field, what);
    return CAIRN_EINVAL;
}

/* A C string (NULL counts as "") of min..max bytes. */
static cairn_err check_str(const enc *e, const char *field, const char *s,
                           size_t min, size_t max)
{
    size_t n = s == NULL ? 0 : strnlen(s, max + 1);
    if (n > max) {
        return inval(e, field, "longer than %zu bytes", max);
    }
    if (n < min) {
        return inval(e, field, "empty");
    }
    return CAIRN_OK;
}

static int kv_cmp(const void *a, const void *b)
{
    const cairn_kv *x = *(const cairn_kv *const *)a;
    const cairn_kv *y = *(const cairn_kv *const *)b;
    return strcmp(x->key, y->key); /* unsigned bytes, shorter prefix first */
}

/* The field name ("outputs[3].key") is formatted only for a failure. */
static cairn_err check_kv(const enc *e, const char *name, size_t i,
                          const cairn_kv *kv)
{
    char field[32];
    if (kv->key == NULL || kv->key[0] == '\0' ||
        strnlen(kv->key, CAIRN_MAX_KV_KEY + 1) > CAIRN_MAX_KV_KEY) {
        cairn__fmt(field, sizeof(field), "%s[%zu].key", name, i);
        if (kv->key == NULL) {
            return inval(e, field, "missing");
        }
        return check_str(e, field, kv->key, 1, CAIRN_MAX_KV_KEY);
    }
    if (kv->value == NULL ||
        strnlen(kv->value, CAIRN_MAX_KV_VALUE + 1) > CAIRN_MAX_KV_VALUE) {
        cairn__fmt(field, sizeof(field), "%s[%zu].value", name, i);
        if (kv->value == NULL) {
            return inval(e, field, "missing");
        }
        return check_str(e, field, kv->value, 0, CAIRN_MAX_KV_VALUE);
    }
    return CAIRN_OK;
}

static cairn_err sort_kv(const enc *e, const char *name,
                         const cairn_kvlist *list, kv_sorted *out)
{
    out->n = 0;
    if (list->n > CAIRN_MAX_KV) {
        return inval(e, name, "%zu pairs exceed %d", list->n, CAIRN_MAX_KV);
    }
    if (list->n > 0 && list->v == NULL) {
        return inval(e, name, "%zu pairs but no array", list->n);
    }
    for (size_t i = 0; i < list->n; i++) {
        TRY(check_kv(e, name, i, &list->v[i]));
        out->p[i] = &list->v[i];
    }
    out->n = list->n;
    if (out->n > 1) {
        qsort(out->p, out->n, sizeof(out->p[0]), kv_cmp);
    }
    for (size_t i = 1; i < out->n; i++) {
        if (strcmp(out->p[i - 1]->key, out->p[i]->key) == 0) {
            return inval(e, name, "duplicate key \"%.40s\"", out->p[i]->key);
        }
    }
    return CAIRN_OK;
}

static int all_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++) {
        acc |= p[i];
    }
    return acc == 0;
}

static cairn_err check_create(const enc *e, const cairn_record *rec)
{
    TRY(check_str(e, "run_id", rec->run_id, 1, CAIRN_MAX_ID));
    TRY(check_str(e, "plan_id", rec->plan_id, 1, CAIRN_MAX_ID));
    if (rec->signed_run > 1) {
        return inval(e, "signed", "%u, expected 0 or 1",
                     (unsigned)rec->signed_run);
    }
    if (!rec->signed_run && !all_zero(rec->key_id, CAIRN_KEY_ID_BYTES)) {
        return inval(e, "key_id", "not zero in an unsigned run");
    }
    if (rec->plan_json == NULL || rec->plan_len == 0) {
        return inval(e, "plan", "empty");
    }
    if (rec->plan_len > CAIRN_MAX_PLAN_BYTES) {
        return inval(e, "plan", "%zu bytes exceed %u", rec->plan_len,
                     CAIRN_MAX_PLAN_BYTES);
    }
    if (memchr(rec->plan_json, 0, rec->plan_len) != NULL) {
        return inval(e, "plan", "NUL byte");
    }
    return CAIRN_OK;
}

static cairn_err check_op(const enc *e, const cairn_record *rec, int attempt)
{
    if (rec->op >= CAIRN_MAX_OPS) {
        return inval(e, "op", "%lu exceeds %u", (unsigned long)rec->op,
                     CAIRN_MAX_OPS - 1);
    }
    if (attempt && rec->attempt == 0) {
        return inval(e, "attempt", "zero");
    }
    return CAIRN_OK;
}

static cairn_err check_outcome(const enc *e, const cairn_record *rec,
                               kv_sorted *outputs, kv_sorted *evidence)
{
    TRY(check_op(e, rec, 1));
    unsigned v = (unsigned)rec->outcome;
    if (v < CAIRN_OUTCOME_COMPLETED || v > CAIRN_OUTCOME_SKIPPED) {
        return inval(e, "outcome", "unknown value %u", v);
    }
    v = (unsigned)rec->error_class;
    if (v > CAIRN_CLASS_TERMINAL) {
        return inval(e, "error_class", "unknown value %u", v);
    }
    TRY(check_str(e, "reason", rec->reason, 0, CAIRN_MAX_TEXT));
    TRY(sort_kv(e, "outputs", &rec->outputs, outputs));
    return sort_kv(e, "evidence", &rec->evidence, evidence);
}

static cairn_err check_ranges(const enc *e, const cairn_record *rec)
{
    if (rec->pruned_count == 0 || rec->pruned_count > CAIRN_MAX_PRUNE_RECORDS ||
        rec->pruned_count != rec->seq) {
        return inval(e, "pruned_count", "%llu (1..%u, and the seq %llu)",
                     (unsigned long long)rec->pruned_count,
                     CAIRN_MAX_PRUNE_RECORDS, (unsigned long long)rec->seq);
    }
    if (rec->n_ranges == 0 || rec->n_ranges > rec->pruned_count ||
        rec->ranges == NULL || rec->pruned_leaves == NULL) {
        return inval(e, "n_ranges", "%zu", rec->n_ranges);
    }
    uint64_t total = 0, end = 0;
    for (size_t i = 0; i < rec->n_ranges; i++) {
        const cairn_prune_range *r = &rec->ranges[i];
        if (r->start == 0 || r->count == 0 || r->start <= end ||
            r->start > UINT64_MAX / 2 - r->count) {
            return inval(e, "ranges",
                         "range %zu is empty, overlaps or "
                         "touches the one before",
                         i);
        }
        end = r->start + r->count;
        total += r->count;
    }
    return total == rec->pruned_count
               ? CAIRN_OK
               : inval(e, "ranges", "%llu positions, pruned_count %llu",
                       (unsigned long long)total,
                       (unsigned long long)rec->pruned_count);
}

static cairn_err check_prune(const enc *e, const cairn_record *rec)
{
    TRY(check_str(e, "run_id", rec->run_id, 1, CAIRN_MAX_ID));
    TRY(check_str(e, "plan_id", rec->plan_id, 1, CAIRN_MAX_ID));
    TRY(check_str(e, "preflight_id", rec->preflight_id, 0, CAIRN_MAX_ID));
    if ((rec->state_flags & ~0x0fu) != 0) {
        return inval(e, "state_flags", "bits 4-7 must be 0");
    }
    if ((rec->state_flags & 0x02u) == 0 &&
        !all_zero(rec->key_id, CAIRN_KEY_ID_BYTES)) {
        return inval(e, "key_id", "not zero in an unsigned run");
    }
    if (!cairn__prune_final_state_ok(rec->final_state)) {
        return inval(e, "final_state", "%u is not a terminal run state",
                     (unsigned)rec->final_state);
    }
    uint64_t sum = 0;
    for (int i = 1; i < 7; i++) {
        sum += rec->op_counts[i];
    }
    if (rec->op_counts[0] == 0 || rec->op_counts[0] > CAIRN_MAX_OPS ||
        sum != rec->op_counts[0]) {
        return inval(e, "op_counts", "do not add up");
    }
    TRY(check_str(e, "rule", rec->rule, 1, CAIRN_MAX_PRUNE_RULE));
    TRY(check_str(e, "reason", rec->reason, 1, CAIRN_MAX_PRUNE_REASON));
    TRY(check_str(e, "policy", rec->policy, 0, CAIRN_MAX_PRUNE_POLICY));
    TRY(check_str(e, "location", rec->location, 0, CAIRN_MAX_PRUNE_LOCATION));
    return check_ranges(e, rec);
}

static cairn_err check_rotate(const enc *e, const cairn_record *rec)
{
    if (rec->run_num != 0) {
        return inval(e, "run_num", "%llu, a rotate record's is 0",
                     (unsigned long long)rec->run_num);
    }
    if (rec->from_size == 0) {
        return inval(e, "from_size", "0 (positions start at 1)");
    }
    if (memcmp(rec->new_key_id, rec->key_id, CAIRN_KEY_ID_BYTES) == 0) {
        return inval(e, "new_key_id", "the old key's id");
    }
    if (memcmp(rec->new_pk, rec->old_pk, CAIRN_PUBLIC_KEY_BYTES) == 0) {
        return inval(e, "new_pk", "the old public key");
    }
    return check_str(e, "reason", rec->reason, 0, CAIRN_MAX_TEXT);
}

static cairn_err check_body(const enc *e, const cairn_record *rec,
                            kv_sorted *outputs, kv_sorted *evidence)
{
    switch (rec->type) {
    case CAIRN_REC_CREATE:
        return check_create(e, rec);
    case CAIRN_REC_ACCEPT:
        TRY(check_str(e, "preflight_id", rec->preflight_id, 1, CAIRN_MAX_ID));
        return check_str(e, "reason", rec->reason, 0, CAIRN_MAX_TEXT);
    case CAIRN_REC_CLAIM:
        TRY(check_op(e, rec, 1));
        if ((unsigned)rec->claim_kind > CAIRN_CLAIM_CLEANUP) {
            return inval(e, "claim_kind", "unknown value %u",
                         (unsigned)rec->claim_kind);
        }
        return check_str(e, "host", rec->host, 0, CAIRN_MAX_HOST);
    case CAIRN_REC_RECEIPT:
    case CAIRN_REC_RESOLVE:
        return check_outcome(e, rec, outputs, evidence);
    case CAIRN_REC_RETRY:
        TRY(check_op(e, rec, 0));
        return check_str(e, "reason", rec->reason, 0, CAIRN_MAX_TEXT);
    case CAIRN_REC_CANCEL:
    case CAIRN_REC_TIMEOUT:
        return check_str(e, "reason", rec->reason, 0, CAIRN_MAX_TEXT);
    case CAIRN_REC_PRUNE:
        return check_prune(e, rec);
    case CAIRN_REC_HOLD:
    case CAIRN_REC_RELEASE:
        return check_str(e, "reason", rec->reason, 1, CAIRN_MAX_HOLD_REASON);
    case CAIRN_REC_ROTATE:
        return check_rotate(e, rec);
    }
    return inval(e, "type", "unknown value %d", (int)rec->type);
}

static void put_str(cairn_wr *w, const char *s)
{
    size_t n = s == NULL ? 0 : strlen(s); /* checked: <= UINT16_MAX */
    cairn__wr_u16(w, (uint16_t)n);
    cairn__wr_bytes(w, s, n);
}

static void put_kv(cairn_wr *w, const kv_sorted *kv)
{
    cairn__wr_u16(w, (uint16_t)kv->n);
    for (size_t i = 0; i < kv->n; i++) {
        put_str(w, kv->p[i]->key);
        size_t n = strlen(kv->p[i]->value); /* checked: <= 65536 */
        cairn__wr_u32(w, (uint32_t)n);
        cairn__wr_bytes(w, kv->p[i]->value, n);
    }
}

static void put_prune(cairn_wr *w, const cairn_record *rec)
{
    put_str(w, rec->run_id);
    put_str(w, rec->plan_id);
    cairn__wr_bytes(w, rec->plan_hash, CAIRN_HASH_BYTES);
    put_str(w, rec->preflight_id);
    cairn__wr_u8(w, rec->state_flags);
    cairn__wr_bytes(w, rec->key_id, CAIRN_KEY_ID_BYTES);
    cairn__wr_u64(w, rec->created_ns);
    cairn__wr_u8(w, rec->final_state);
    for (int i = 0; i < 7; i++) {
        cairn__wr_u32(w, rec->op_counts[i]);
    }
    put_str(w, rec->rule);
    put_str(w, rec->reason);
    put_str(w, rec->policy);
    cairn__wr_bytes(w, rec->bundle_sha256, CAIRN_HASH_BYTES);
    cairn__wr_u64(w, rec->bundle_bytes);
    put_str(w, rec->location);
    cairn__wr_bytes(w, rec->prune_plan_sha256, CAIRN_HASH_BYTES);
    cairn__wr_u64(w, rec->pruned_count);
    cairn__wr_u32(w, (uint32_t)rec->n_ranges);
    for (size_t i = 0; i < rec->n_ranges; i++) {
        cairn__wr_u64(w, rec->ranges[i].start);
        cairn__wr_u32(w, rec->ranges[i].count);
    }
    cairn__wr_bytes(w, rec->pruned_leaves,
                    (size_t)rec->pruned_count * CAIRN_HASH_BYTES);
}

static void put_body(cairn_wr *w, const cairn_record *rec,
                     const kv_sorted *outputs, const kv_sorted *evidence)
{
    switch (rec->type) {
    case CAIRN_REC_CREATE:
        cairn__wr_bytes(w, rec->journal_id, CAIRN_JOURNAL_ID_BYTES);
        put_str(w, rec->run_id);
        put_str(w, rec->plan_id);
        cairn__wr_bytes(w, rec->plan_hash, CAIRN_HASH_BYTES);
        cairn__wr_u8(w, rec->signed_run);
        cairn__wr_bytes(w, rec->key_id, CAIRN_KEY_ID_BYTES);
        cairn__wr_u32(w, (uint32_t)rec->plan_len);
        cairn__wr_bytes(w, rec->plan_json, rec->plan_len);
        return;
    case CAIRN_REC_ACCEPT:
        put_str(w, rec->preflight_id);
        put_str(w, rec->reason);
        return;
    case CAIRN_REC_CLAIM:
        cairn__wr_u32(w, rec->op);
        cairn__wr_u32(w, rec->attempt);
        cairn__wr_u8(w, (uint8_t)rec->claim_kind);
        cairn__wr_u32(w, rec->holder_pid);
        cairn__wr_u64(w, rec->holder_start);
        put_str(w, rec->host);
        return;
    case CAIRN_REC_RECEIPT:
    case CAIRN_REC_RESOLVE:
        cairn__wr_u32(w, rec->op);
        cairn__wr_u32(w, rec->attempt);
        cairn__wr_u8(w, (uint8_t)rec->outcome);
        cairn__wr_u8(w, (uint8_t)rec->error_class);
        put_str(w, rec->reason);
        put_kv(w, outputs);
        put_kv(w, evidence);
        return;
    case CAIRN_REC_RETRY:
        cairn__wr_u32(w, rec->op);
        put_str(w, rec->reason);
        return;
    case CAIRN_REC_CANCEL:
    case CAIRN_REC_TIMEOUT:
    case CAIRN_REC_RELEASE:
        put_str(w, rec->reason);
        return;
    case CAIRN_REC_PRUNE:
        put_prune(w, rec);
        return;
    case CAIRN_REC_HOLD:
        put_str(w, rec->reason);
        cairn__wr_u64(w, rec->until_ns);
        return;
    case CAIRN_REC_ROTATE:
        cairn__wr_bytes(w, rec->journal_id, CAIRN_JOURNAL_ID_BYTES);
        cairn__wr_u64(w, rec->from_size);
        cairn__wr_bytes(w, rec->key_id, CAIRN_KEY_ID_BYTES);
        cairn__wr_bytes(w, rec->old_pk, CAIRN_PUBLIC_KEY_BYTES);
        cairn__wr_bytes(w, rec->new_key_id, CAIRN_KEY_ID_BYTES);
        cairn__wr_bytes(w, rec->new_pk, CAIRN_PUBLIC_KEY_BYTES);
        put_str(w, rec->reason);
        cairn__wr_bytes(w, rec->old_sig, CAIRN_SIGNATURE_BYTES);
        cairn__wr_bytes(w, rec->new_sig, CAIRN_SIGNATURE_BYTES);
        return;
    }
}

static void put_record(cairn_wr *w, const cairn_record *rec,
                       const kv_sorted *outputs, const kv_sorted *evidence)
{
    cairn__wr_u8(w, CAIRN_FORMAT_VERSION);
    cairn__wr_u8(w, (uint8_t)rec->type);
    cairn__wr_u16(w, 0);
    cairn__wr_u64(w, rec->run_num);
    cairn__wr_u64(w, rec->seq);
    cairn__wr_u64(w, rec->wall_ns);
    cairn__wr_u64(w, rec->mono_ns);
    cairn__wr_bytes(w, rec->boot_id, CAIRN_BOOT_ID_BYTES);
    cairn__wr_bytes(w, rec->prev, CAIRN_HASH_BYTES);
    put_str(w, rec->actor);
    size_t len_at = w->len;
    cairn__wr_u32(w, 0); /* body_len, patched below */
    put_body(w, rec, outputs, evidence);
    if (cairn__wr_status(w) == CAIRN_OK) {
        cairn__store32_be(w->p + len_at, (uint32_t)(w->len - len_at - 4));
    }
}

cairn_err cairn__record_encode(const cairn_record *rec, uint8_t **out,
                               size_t *out_len, char *detail, size_t detail_len)
{
    *out = NULL;
    *out_len = 0;
    cairn__clear(detail, detail_len);
    enc e = {detail, detail_len};
    if (rec->version != CAIRN_FORMAT_VERSION) {
        return inval(&e, "version", "%u, expected %d", (unsigned)rec->version,
                     CAIRN_FORMAT_VERSION);
    }
    TRY(check_str(&e, "actor", rec->actor, 0, CAIRN_MAX_TEXT));
    kv_sorted outputs, evidence;
    outputs.n = evidence.n = 0;
    TRY(check_body(&e, rec, &outputs, &evidence));
    unsigned cap = rec->type == CAIRN_REC_CREATE ? CAIRN_MAX_CREATE_RECORD_BYTES
                                                 : CAIRN_MAX_RECORD_BYTES;
    cairn_wr w;
    cairn__wr_init(&w, cap);
    cairn__wr_reserve(&w, 512); /* most records: one allocation */
    put_record(&w, rec, &outputs, &evidence);
    cairn_err err = cairn__wr_take(&w, out, out_len);
    if (err == CAIRN_ENOMEM) {
        cairn__fmt(detail, detail_len, "record: out of memory");
        return CAIRN_ENOMEM;
    }
    if (err != CAIRN_OK) {
        return inval(&e, "record", "encoded size exceeds %u bytes", cap);
    }
    return CAIRN_OK;
}
