/*
 * codec_record.c - strict, bounded decoding of journal records
 * (docs/FORMAT.md "Record"), and the record's init/free.
 *
 * Every read goes through cairn_rd.  Every declared length is checked
 * against its format limit and the bytes that remain before anything is
 * allocated.  Errors name the byte offset and the field:
 * "offset 84: actor: length 5000 exceeds 4096".
 */
#include "base/bytes.h"
#include "format/record.h"

#include <stdlib.h>
#include <string.h>

/* Smallest kv pair: u16 klen, one key byte, u32 vlen. */
#define KV_MIN_BYTES 7u
/* Room for a field name such as "evidence[255].value". */
#define FIELD_MAX 32

#define TRY(expr)                                                              \
    do {                                                                       \
        cairn_err try_err_ = (expr);                                           \
        if (try_err_ != CAIRN_OK) {                                            \
            return try_err_;                                                   \
        }                                                                      \
    } while (0)

/* The shared "" of unused string fields: read-only, never freed. */
static const char empty_str[1] = "";

static char *empty(void)
{
    union {
        const char *c;
        char *m;
    } u;
    u.c = empty_str;
    return u.m;
}

static void free_str(char **s)
{
    if (*s != NULL && *s != empty_str) {
        free(*s);
    }
    *s = empty();
}

cairn_err cairn__record_set_str(char **field, const char *value)
{
    char *copy = empty();
    size_t n = value == NULL ? 0 : strlen(value);
    if (n > 0) {
        copy = malloc(n + 1);
        if (copy == NULL) {
            return CAIRN_ENOMEM;
        }
        memcpy(copy, value, n + 1);
    }
    free_str(field);
    *field = copy;
    return CAIRN_OK;
}

void cairn__record_init(cairn_record *rec)
{
    memset(rec, 0, sizeof(*rec));
    rec->version = CAIRN_FORMAT_VERSION;
    rec->actor = empty();
    rec->run_id = empty();
    rec->plan_id = empty();
    rec->plan_json = empty();
    rec->preflight_id = empty();
    rec->host = empty();
    rec->reason = empty();
    rec->rule = empty();
    rec->policy = empty();
    rec->location = empty();
}

void cairn__record_free(cairn_record *rec)
{
    if (rec == NULL) {
        return;
    }
    if (!rec->in_scratch) { /* else they are the scratch's */
        free_str(&rec->actor);
        free_str(&rec->run_id);
        free_str(&rec->plan_id);
        free_str(&rec->plan_json);
        free_str(&rec->preflight_id);
        free_str(&rec->host);
        free_str(&rec->reason);
        free_str(&rec->rule);
        free_str(&rec->policy);
        free_str(&rec->location);
        cairn__kvlist_free(&rec->outputs);
        cairn__kvlist_free(&rec->evidence);
    }
    free(rec->ranges);
    free(rec->pruned_leaves);
    cairn__record_init(rec);
}

void cairn__record_scratch_free(cairn_record_scratch *scratch)
{
    if (scratch != NULL) {
        free(scratch->buf);
        memset(scratch, 0, sizeof(*scratch));
    }
}

typedef struct dec {
    cairn_rd r;
    char *detail;
    size_t detail_len;
    const char *kv_name; /* the list get_kv() is reading */
    size_t kv_index;
    cairn_record_scratch *s; /* NULL: every field is malloc'd */
} dec;

/* Field markers of a key-value pair: bad() expands them to
 * "evidence[3].key", so a record that decodes formats nothing. */
static const char kv_key[] = ".key";
static const char kv_value[] = ".value";

static const char *field_text(const dec *d, const char *field, char *buf,
                              size_t cap)
{
    if (field != kv_key && field != kv_value) {
        return field;
    }
    cairn__fmt(buf, cap, "%s[%zu]%s", d->kv_name, d->kv_index, field);
    return buf;
}

__attribute__((format(printf, 4, 5))) static cairn_err
bad(dec *d, size_t off, const char *field, const char *fmt, ...)
{
    char what[128], name[FIELD_MAX];
    va_list ap;
    va_start(ap, fmt);
    cairn__vfmt(what, sizeof(what), fmt, ap);
    va_end(ap);
    cairn__fmt(d->detail, d->detail_len, "offset %zu: %s: %s", off,
               field_text(d, field, name, sizeof(name)), what);
    return CAIRN_ECORRUPT;
}

static cairn_err truncated(dec *d, size_t off, const char *field, size_t need)
{
    return bad(d, off, field, "truncated (%zu of %zu bytes)", d->r.len - off,
               need);
}

static cairn_err no_memory(dec *d, size_t off, const char *field)
{
    char name[FIELD_MAX];
    cairn__fmt(d->detail, d->detail_len, "offset %zu: %s: out of memory", off,
               field_text(d, field, name, sizeof(name)));
    return CAIRN_ENOMEM;
}

/* The scratch's room for a record of @p len bytes: every string's
 * bytes and NUL fit in the bytes it takes in the record (its length
 * prefix is at least 2 bytes), and at most two kv lists of at most
 * CAIRN_MAX_KV pairs each come on top. */
static size_t scratch_need(size_t len)
{
    return len + 2 * (CAIRN_MAX_KV * sizeof(cairn_kv) + _Alignof(cairn_kv));
}

static cairn_err scratch_reserve(dec *d)
{
    size_t need = scratch_need(d->r.len);
    d->s->used = 0;
    if (d->s->cap < need) {
        free(d->s->buf);
        d->s->cap = 0;
        d->s->buf = malloc(need);
        if (d->s->buf == NULL) {
            return no_memory(d, 0, "record");
        }
        d->s->cap = need;
    }
    return CAIRN_OK;
}

/* @p n bytes for a field: from the scratch (reserved for the whole
 * record by scratch_reserve()), or malloc'd when there is none. */
static void *field_alloc(dec *d, size_t n, size_t align)
{
    if (d->s == NULL) {
        return malloc(n);
    }
    size_t at = (d->s->used + align - 1) & ~(align - 1);
    if (at > d->s->cap || n > d->s->cap - at) {
        return NULL; /* cannot happen: scratch_need() bounds it */
    }
    d->s->used = at + n;
    return d->s->buf + at;
}

static cairn_err get_u8(dec *d, const char *field, uint8_t *v)
{
    size_t off = d->r.off;
    return cairn__rd_u8(&d->r, v) == 0 ? CAIRN_OK : truncated(d, off, field, 1);
}

static cairn_err get_u16(dec *d, const char *field, uint16_t *v)
{
    size_t off = d->r.off;
    return cairn__rd_u16(&d->r, v) == 0 ? CAIRN_OK
                                        : truncated(d, off, field, 2);
}

static cairn_err get_u32(dec *d, const char *field, uint32_t *v)
{
    size_t off = d->r.off;
    return cairn__rd_u32(&d->r, v) == 0 ? CAIRN_OK
                                        : truncated(d, off, field, 4);
}

static cairn_err get_u64(dec *d, const char *field, uint64_t *v)
{
    size_t off = d->r.off;
    return cairn__rd_u64(&d->r, v) == 0 ? CAIRN_OK
                                        : truncated(d, off, field, 8);
}

static cairn_err get_bytes(dec *d, const char *field, uint8_t *out, size_t n)
{
    size_t off = d->r.off;
    return cairn__rd_bytes(&d->r, out, n) == 0 ? CAIRN_OK
                                               : truncated(d, off, field, n);
}

/*
 * A counted run of n bytes whose count (a u16 or u32 at @p off) was read:
 * check it against the input, forbid NUL, and copy it NUL-terminated.
 */
static cairn_err get_payload(dec *d, size_t off, const char *field, size_t n,
                             char **out)
{
    const uint8_t *p;
    if (cairn__rd_view(&d->r, n, &p) != 0) {
        return bad(d, off, field, "length %zu but %zu bytes left", n,
                   cairn__rd_left(&d->r));
    }
    const uint8_t *nul = memchr(p, 0, n);
    if (nul != NULL) {
        return bad(d, d->r.off - n + (size_t)(nul - p), field, "NUL byte");
    }
    if (n == 0) {
        *out = empty();
        return CAIRN_OK;
    }
    char *s = field_alloc(d, n + 1, 1);
    if (s == NULL) {
        return no_memory(d, off, field);
    }
    memcpy(s, p, n);
    s[n] = '\0';
    *out = s;
    return CAIRN_OK;
}

/* str16 of min..max bytes. */
static cairn_err get_str(dec *d, const char *field, size_t min, size_t max,
                         char **out)
{
    size_t off = d->r.off;
    uint16_t n;
    TRY(get_u16(d, field, &n));
    if (n < min) {
        return bad(d, off, field, "empty");
    }
    if (n > max) {
        return bad(d, off, field, "length %u exceeds %zu", (unsigned)n, max);
    }
    return get_payload(d, off, field, n, out);
}

static int key_cmp(const char *a, const uint8_t *b, size_t blen)
{
    size_t alen = strlen(a);
    int c = memcmp(a, b, alen < blen ? alen : blen);
    if (c != 0) {
        return c;
    }
    return alen < blen ? -1 : alen > blen ? 1 : 0;
}

static cairn_err get_kv(dec *d, const char *name, size_t i, cairn_kvlist *list)
{
    const char *field = kv_key;
    d->kv_name = name;
    d->kv_index = i;
    size_t off = d->r.off;
    uint16_t klen;
    TRY(get_u16(d, field, &klen));
    if (klen == 0) {
        return bad(d, off, field, "empty");
    }
    if (klen > CAIRN_MAX_KV_KEY) {
        return bad(d, off, field, "length %u exceeds %d", (unsigned)klen,
                   CAIRN_MAX_KV_KEY);
    }
    if (i > 0 && cairn__rd_left(&d->r) >= klen) {
        int c = key_cmp(list->v[i - 1].key, d->r.p + d->r.off, klen);
        if (c >= 0) {
            return bad(d, off, field, "%s",
                       c == 0 ? "duplicate key"
                              : "keys not in ascending order");
        }
    }
    char *key;
    TRY(get_payload(d, off, field, klen, &key));
    field = kv_value;
    off = d->r.off;
    uint32_t vlen;
    char *value = NULL;
    cairn_err err = get_u32(d, field, &vlen);
    if (err == CAIRN_OK && vlen > CAIRN_MAX_KV_VALUE) {
        err = bad(d, off, field, "length %lu exceeds %d", (unsigned long)vlen,
                  CAIRN_MAX_KV_VALUE);
    }
    if (err == CAIRN_OK) {
        err = get_payload(d, off, field, vlen, &value);
    }
    if (err == CAIRN_OK && value == empty_str) {
        /* a kv list's strings are its own, never the shared "" */
        value = field_alloc(d, 1, 1);
        err = value == NULL ? no_memory(d, off, field) : CAIRN_OK;
        if (value != NULL) {
            value[0] = '\0';
        }
    }
    if (err != CAIRN_OK) {
        if (d->s == NULL) {
            free(key);
        }
        return err;
    }
    list->v[i].key = key;
    list->v[i].value = value;
    list->n = i + 1;
    return CAIRN_OK;
}

static cairn_err get_kvlist(dec *d, const char *name, cairn_kvlist *list)
{
    size_t off = d->r.off;
    uint16_t count;
    TRY(get_u16(d, name, &count));
    if (count > CAIRN_MAX_KV) {
        return bad(d, off, name, "count %u exceeds %d", (unsigned)count,
                   CAIRN_MAX_KV);
    }
    if (count * KV_MIN_BYTES > cairn__rd_left(&d->r)) {
        return bad(d, off, name, "count %u needs at least %u bytes, %zu left",
                   (unsigned)count, count * KV_MIN_BYTES,
                   cairn__rd_left(&d->r));
    }
    if (count == 0) {
        return CAIRN_OK;
    }
    list->v = field_alloc(d, count * sizeof(*list->v), _Alignof(cairn_kv));
    if (list->v == NULL) {
        return no_memory(d, off, name);
    }
    memset(list->v, 0, count * sizeof(*list->v));
    for (size_t i = 0; i < count; i++) {
        TRY(get_kv(d, name, i, list));
    }
    return CAIRN_OK;
}

/* A u8 enumeration value in lo..hi. */
static cairn_err get_enum(dec *d, const char *field, unsigned lo, unsigned hi,
                          unsigned *out)
{
    size_t off = d->r.off;
    uint8_t v;
    TRY(get_u8(d, field, &v));
    if (v < lo || v > hi) {
        return bad(d, off, field, "unknown value %u", (unsigned)v);
    }
    *out = v;
    return CAIRN_OK;
}

static cairn_err get_op(dec *d, uint32_t *op)
{
    size_t off = d->r.off;
    TRY(get_u32(d, "op", op));
    if (*op >= CAIRN_MAX_OPS) {
        return bad(d, off, "op", "%lu exceeds %u", (unsigned long)*op,
                   CAIRN_MAX_OPS - 1);
    }
    return CAIRN_OK;
}

static cairn_err get_attempt(dec *d, uint32_t *attempt)
{
    size_t off = d->r.off;
    TRY(get_u32(d, "attempt", attempt));
    return *attempt == 0 ? bad(d, off, "attempt", "zero") : CAIRN_OK;
}

static int all_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++) {
        acc |= p[i];
    }
    return acc == 0;
}

static cairn_err get_plan(dec *d, cairn_record *rec)
{
    size_t off = d->r.off;
    uint32_t n;
    TRY(get_u32(d, "plan", &n));
    if (n == 0) {
        return bad(d, off, "plan", "empty");
    }
    if (n > CAIRN_MAX_PLAN_BYTES) {
        return bad(d, off, "plan", "length %lu exceeds %u", (unsigned long)n,
                   CAIRN_MAX_PLAN_BYTES);
    }
    TRY(get_payload(d, off, "plan", n, &rec->plan_json));
    rec->plan_len = n;
    return CAIRN_OK;
}

static cairn_err body_create(dec *d, cairn_record *rec)
{
    TRY(get_bytes(d, "journal_id", rec->journal_id, CAIRN_JOURNAL_ID_BYTES));
    TRY(get_str(d, "run_id", 1, CAIRN_MAX_ID, &rec->run_id));
    TRY(get_str(d, "plan_id", 1, CAIRN_MAX_ID, &rec->plan_id));
    TRY(get_bytes(d, "plan_hash", rec->plan_hash, CAIRN_HASH_BYTES));
    unsigned v = 0;
    TRY(get_enum(d, "signed", 0, 1, &v));
    rec->signed_run = (uint8_t)v;
    size_t off = d->r.off;
    TRY(get_bytes(d, "key_id", rec->key_id, CAIRN_KEY_ID_BYTES));
    if (!rec->signed_run && !all_zero(rec->key_id, CAIRN_KEY_ID_BYTES)) {
        return bad(d, off, "key_id", "not zero in an unsigned run");
    }
    return get_plan(d, rec);
}

/* ROTATE: a journal record (run 0), the old key naming the new one. */
static cairn_err body_rotate(dec *d, cairn_record *rec)
{
    if (rec->run_num != 0) {
        return bad(d, 4, "run_num", "%llu, a rotate record's is 0",
                   (unsigned long long)rec->run_num);
    }
    TRY(get_bytes(d, "journal_id", rec->journal_id, CAIRN_JOURNAL_ID_BYTES));
    size_t off = d->r.off;
    TRY(get_u64(d, "from_size", &rec->from_size));
    if (rec->from_size == 0) {
        return bad(d, off, "from_size", "0 (positions start at 1)");
    }
    TRY(get_bytes(d, "old_key_id", rec->key_id, CAIRN_KEY_ID_BYTES));
    TRY(get_bytes(d, "old_pk", rec->old_pk, CAIRN_PUBLIC_KEY_BYTES));
    off = d->r.off;
    TRY(get_bytes(d, "new_key_id", rec->new_key_id, CAIRN_KEY_ID_BYTES));
    if (memcmp(rec->new_key_id, rec->key_id, CAIRN_KEY_ID_BYTES) == 0) {
        return bad(d, off, "new_key_id", "the old key's id");
    }
    off = d->r.off;
    TRY(get_bytes(d, "new_pk", rec->new_pk, CAIRN_PUBLIC_KEY_BYTES));
    if (memcmp(rec->new_pk, rec->old_pk, CAIRN_PUBLIC_KEY_BYTES) == 0) {
        return bad(d, off, "new_pk", "the old public key");
    }
    TRY(get_str(d, "reason", 0, CAIRN_MAX_TEXT, &rec->reason));
    TRY(get_bytes(d, "old_sig", rec->old_sig, CAIRN_SIGNATURE_BYTES));
    return get_bytes(d, "new_sig", rec->new_sig, CAIRN_SIGNATURE_BYTES);
}

static cairn_err body_claim(dec *d, cairn_record *rec)
{
    TRY(get_op(d, &rec->op));
    TRY(get_attempt(d, &rec->attempt));
    unsigned v = 0;
    TRY(get_enum(d, "claim_kind", CAIRN_CLAIM_NORMAL, CAIRN_CLAIM_CLEANUP, &v));
    rec->claim_kind = (cairn_claim_kind)v;
    TRY(get_u32(d, "holder_pid", &rec->holder_pid));
    TRY(get_u64(d, "holder_start", &rec->holder_start));
    return get_str(d, "host", 0, CAIRN_MAX_HOST, &rec->host);
}

static cairn_err body_outcome(dec *d, cairn_record *rec)
{
    TRY(get_op(d, &rec->op));
    TRY(get_attempt(d, &rec->attempt));
    unsigned v = 0;
    TRY(get_enum(d, "outcome", CAIRN_OUTCOME_COMPLETED, CAIRN_OUTCOME_SKIPPED,
                 &v));
    rec->outcome = (cairn_outcome)v;
    TRY(get_enum(d, "error_class", CAIRN_CLASS_NONE, CAIRN_CLASS_TERMINAL, &v));
    rec->error_class = (cairn_error_class)v;
    TRY(get_str(d, "reason", 0, CAIRN_MAX_TEXT, &rec->reason));
    TRY(get_kvlist(d, "outputs", &rec->outputs));
    return get_kvlist(d, "evidence", &rec->evidence);
}

/* PRUNE: the run's facts for its stub (docs/FORMAT.md section 22). */
static cairn_err prune_facts(dec *d, cairn_record *rec)
{
    TRY(get_str(d, "run_id", 1, CAIRN_MAX_ID, &rec->run_id));
    TRY(get_str(d, "plan_id", 1, CAIRN_MAX_ID, &rec->plan_id));
    TRY(get_bytes(d, "plan_hash", rec->plan_hash, CAIRN_HASH_BYTES));
    TRY(get_str(d, "preflight_id", 0, CAIRN_MAX_ID, &rec->preflight_id));
    size_t off = d->r.off;
    TRY(get_u8(d, "state_flags", &rec->state_flags));
    if ((rec->state_flags & ~0x0fu) != 0) {
        return bad(d, off, "state_flags", "0x%02x, bits 4-7 must be 0",
                   (unsigned)rec->state_flags);
    }
    off = d->r.off;
    TRY(get_bytes(d, "key_id", rec->key_id, CAIRN_KEY_ID_BYTES));
    if ((rec->state_flags & 0x02u) == 0 &&
        !all_zero(rec->key_id, CAIRN_KEY_ID_BYTES)) {
        return bad(d, off, "key_id", "not zero in an unsigned run");
    }
    TRY(get_u64(d, "created_ns", &rec->created_ns));
    off = d->r.off;
    TRY(get_u8(d, "final_state", &rec->final_state));
    if (!cairn__prune_final_state_ok(rec->final_state)) {
        return bad(d, off, "final_state", "%u is not a terminal run state",
                   (unsigned)rec->final_state);
    }
    off = d->r.off;
    uint64_t sum = 0;
    for (int i = 0; i < 7; i++) {
        TRY(get_u32(d, "op_counts", &rec->op_counts[i]));
        sum += i > 0 ? rec->op_counts[i] : 0;
    }
    if (rec->op_counts[0] == 0 || rec->op_counts[0] > CAIRN_MAX_OPS ||
        sum != rec->op_counts[0]) {
        return bad(d, off, "op_counts", "%lu ops, the states sum to %llu",
                   (unsigned long)rec->op_counts[0], (unsigned long long)sum);
    }
    return CAIRN_OK;
}

/* PRUNE: the ranges of pruned positions, then their leaf hashes. */
static cairn_err prune_positions(dec *d, cairn_record *rec)
{
    size_t off = d->r.off;
    TRY(get_u64(d, "pruned_count", &rec->pruned_count));
    if (rec->pruned_count == 0 || rec->pruned_count > CAIRN_MAX_PRUNE_RECORDS ||
        rec->pruned_count != rec->seq) {
        return bad(d, off, "pruned_count", "%llu (1..%u, and the seq %llu)",
                   (unsigned long long)rec->pruned_count,
                   CAIRN_MAX_PRUNE_RECORDS, (unsigned long long)rec->seq);
    }
    off = d->r.off;
    uint32_t n;
    TRY(get_u32(d, "n_ranges", &n));
    if (n == 0 || n > rec->pruned_count) {
        return bad(d, off, "n_ranges", "%lu (1..%llu)", (unsigned long)n,
                   (unsigned long long)rec->pruned_count);
    }
    size_t need = (size_t)n * 12 + (size_t)rec->pruned_count * 32;
    if (need != cairn__rd_left(&d->r)) {
        return bad(d, off, "n_ranges",
                   "%lu ranges and %llu leaves need %zu bytes, %zu left",
                   (unsigned long)n, (unsigned long long)rec->pruned_count,
                   need, cairn__rd_left(&d->r));
    }
    rec->ranges = calloc(n, sizeof(*rec->ranges));
    rec->pruned_leaves = calloc((size_t)rec->pruned_count, CAIRN_HASH_BYTES);
    if (rec->ranges == NULL || rec->pruned_leaves == NULL) {
        return no_memory(d, off, "n_ranges");
    }
    uint64_t total = 0, end = 0; /* one past the previous range */
    for (uint32_t i = 0; i < n; i++) {
        cairn_prune_range *r = &rec->ranges[i];
        off = d->r.off;
        TRY(get_u64(d, "ranges", &r->start));
        TRY(get_u32(d, "ranges", &r->count));
        if (r->start == 0 || r->count == 0 || r->start <= end ||
            r->start > UINT64_MAX / 2 - r->count) {
            return bad(d, off, "ranges",
                       "range %lu (%llu, %lu) is empty, "
                       "overlaps or touches the one before",
                       (unsigned long)i, (unsigned long long)r->start,
                       (unsigned long)r->count);
        }
        end = r->start + r->count;
        total += r->count;
        rec->n_ranges = (size_t)i + 1;
    }
    if (total != rec->pruned_count) {
        return bad(d, off, "ranges", "%llu positions, pruned_count %llu",
                   (unsigned long long)total,
                   (unsigned long long)rec->pruned_count);
    }
    return get_bytes(d, "leaves", &rec->pruned_leaves[0][0],
                     (size_t)rec->pruned_count * CAIRN_HASH_BYTES);
}

static cairn_err body_prune(dec *d, cairn_record *rec)
{
    TRY(prune_facts(d, rec));
    TRY(get_str(d, "rule", 1, CAIRN_MAX_PRUNE_RULE, &rec->rule));
    TRY(get_str(d, "reason", 1, CAIRN_MAX_PRUNE_REASON, &rec->reason));
    TRY(get_str(d, "policy", 0, CAIRN_MAX_PRUNE_POLICY, &rec->policy));
    TRY(get_bytes(d, "bundle_sha256", rec->bundle_sha256, CAIRN_HASH_BYTES));
    TRY(get_u64(d, "bundle_bytes", &rec->bundle_bytes));
    TRY(get_str(d, "location", 0, CAIRN_MAX_PRUNE_LOCATION, &rec->location));
    TRY(get_bytes(d, "plan_sha256", rec->prune_plan_sha256, CAIRN_HASH_BYTES));
    return prune_positions(d, rec);
}

void cairn__prune_positions(const cairn_record *rec, uint64_t *out)
{
    size_t k = 0;
    for (size_t i = 0; i < rec->n_ranges; i++) {
        for (uint32_t c = 0; c < rec->ranges[i].count; c++) {
            out[k++] = rec->ranges[i].start + c;
        }
    }
}

int cairn__prune_final_state_ok(unsigned state)
{
    return state == CAIRN_RUN_COMPLETED || state == CAIRN_RUN_FAILED ||
           state == CAIRN_RUN_TIMED_OUT || state == CAIRN_RUN_CANCELLED;
}

static cairn_err decode_body(dec *d, cairn_record *rec)
{
    switch (rec->type) {
    case CAIRN_REC_CREATE:
        return body_create(d, rec);
    case CAIRN_REC_ACCEPT:
        TRY(get_str(d, "preflight_id", 1, CAIRN_MAX_ID, &rec->preflight_id));
        return get_str(d, "reason", 0, CAIRN_MAX_TEXT, &rec->reason);
    case CAIRN_REC_CLAIM:
        return body_claim(d, rec);
    case CAIRN_REC_RECEIPT:
    case CAIRN_REC_RESOLVE:
        return body_outcome(d, rec);
    case CAIRN_REC_RETRY:
        TRY(get_op(d, &rec->op));
        return get_str(d, "reason", 0, CAIRN_MAX_TEXT, &rec->reason);
    case CAIRN_REC_CANCEL:
    case CAIRN_REC_TIMEOUT:
        return get_str(d, "reason", 0, CAIRN_MAX_TEXT, &rec->reason);
    case CAIRN_REC_PRUNE:
        return body_prune(d, rec);
    case CAIRN_REC_HOLD:
        TRY(get_str(d, "reason", 1, CAIRN_MAX_HOLD_REASON, &rec->reason));
        return get_u64(d, "until_ns", &rec->until_ns);
    case CAIRN_REC_RELEASE:
        return get_str(d, "reason", 1, CAIRN_MAX_HOLD_REASON, &rec->reason);
    case CAIRN_REC_ROTATE:
        return body_rotate(d, rec);
    }
    return bad(d, 1, "type", "unknown value %d", (int)rec->type);
}

static cairn_err decode_header(dec *d, cairn_record *rec)
{
    unsigned v = 0;
    TRY(get_enum(d, "type", CAIRN_REC_CREATE, CAIRN_REC_ROTATE, &v));
    rec->type = (cairn_record_type)v;
    if (rec->type != CAIRN_REC_CREATE && d->r.len > CAIRN_MAX_RECORD_BYTES) {
        return bad(d, 0, "record", "length %zu exceeds %u", d->r.len,
                   CAIRN_MAX_RECORD_BYTES);
    }
    size_t off = d->r.off;
    uint16_t flags;
    TRY(get_u16(d, "flags", &flags));
    if (flags != 0) {
        return bad(d, off, "flags", "0x%04x, expected 0", (unsigned)flags);
    }
    TRY(get_u64(d, "run_num", &rec->run_num));
    TRY(get_u64(d, "seq", &rec->seq));
    TRY(get_u64(d, "wall_ns", &rec->wall_ns));
    TRY(get_u64(d, "mono_ns", &rec->mono_ns));
    TRY(get_bytes(d, "boot_id", rec->boot_id, CAIRN_BOOT_ID_BYTES));
    TRY(get_bytes(d, "prev", rec->prev, CAIRN_HASH_BYTES));
    return get_str(d, "actor", 0, CAIRN_MAX_TEXT, &rec->actor);
}

static cairn_err decode_record(dec *d, cairn_record *rec)
{
    uint8_t version;
    TRY(get_u8(d, "version", &version));
    if (version != CAIRN_FORMAT_VERSION) {
        cairn__fmt(d->detail, d->detail_len, "offset 0: version %u",
                   (unsigned)version);
        return CAIRN_EVERSION;
    }
    rec->version = version;
    if (d->r.len > CAIRN_MAX_CREATE_RECORD_BYTES) {
        return bad(d, 0, "record", "length %zu exceeds %u", d->r.len,
                   CAIRN_MAX_CREATE_RECORD_BYTES);
    }
    if (d->s != NULL) {
        TRY(scratch_reserve(d));
    }
    TRY(decode_header(d, rec));
    size_t off = d->r.off;
    uint32_t body_len;
    TRY(get_u32(d, "body_len", &body_len));
    if (body_len != cairn__rd_left(&d->r)) {
        return bad(d, off, "body_len", "%lu but %zu bytes follow",
                   (unsigned long)body_len, cairn__rd_left(&d->r));
    }
    TRY(decode_body(d, rec));
    if (cairn__rd_left(&d->r) != 0) {
        return bad(d, d->r.off, "body", "%zu trailing bytes",
                   cairn__rd_left(&d->r));
    }
    return CAIRN_OK;
}

static cairn_err decode_with(const uint8_t *buf, size_t len, cairn_record *rec,
                             cairn_record_scratch *scratch, char *detail,
                             size_t detail_len)
{
    cairn__record_init(rec);
    rec->in_scratch = scratch != NULL;
    cairn__clear(detail, detail_len);
    dec d;
    cairn__rd_init(&d.r, buf, len);
    d.detail = detail;
    d.detail_len = detail_len;
    d.s = scratch;
    cairn_err err = decode_record(&d, rec);
    if (err != CAIRN_OK) {
        cairn__record_free(rec);
    }
    return err;
}

cairn_err cairn__record_decode(const uint8_t *buf, size_t len,
                               cairn_record *rec, char *detail,
                               size_t detail_len)
{
    return decode_with(buf, len, rec, NULL, detail, detail_len);
}

cairn_err cairn__record_decode_scratch(const uint8_t *buf, size_t len,
                                       cairn_record *rec,
                                       cairn_record_scratch *scratch,
                                       char *detail, size_t detail_len)
{
    return decode_with(buf, len, rec, scratch, detail, detail_len);
}
