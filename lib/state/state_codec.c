/*
 * state_codec.c - canonical encoding of a run's materialised state
 * (docs/FORMAT.md "Run state").  Strict, bounded decoding.
 */
#include "state/codec_int.h"

#include <stdlib.h>
#include <string.h>

#define STATE_VERSION 1

static int has_rules(const cairn_op_st *op)
{
    for (size_t i = 0; op->require_rules != NULL && i < op->n_requires; i++) {
        if (!cairn__output_rule_default(&op->require_rules[i])) {
            return 1;
        }
    }
    return 0;
}

void cairn__sc_put_str(cairn_wr *w, const char *s)
{
    size_t n = strlen(s);
    if (n > UINT16_MAX) {
        w->failed = CAIRN_EINVAL;
        return;
    }
    cairn__wr_u16(w, (uint16_t)n);
    cairn__wr_bytes(w, s, n);
}

void cairn__sc_put_op(cairn_wr *w, const cairn_op_st *op, int anchor)
{
    cairn__sc_put_str(w, op->id);
    cairn__wr_u8(w, (uint8_t)op->kind);
    cairn__sc_put_str(w, op->target);
    int rules = has_rules(op);
    cairn__wr_u8(w, (uint8_t)((op->idempotent ? OF_IDEMPOTENT : 0) |
                              (op->has_probe ? OF_PROBE : 0) |
                              (rules ? OF_RULES : 0)));
    if (anchor) {
        cairn__wr_u32(w, op->anchor);
    }
    cairn__wr_u8(w, (uint8_t)op->state);
    cairn__wr_u32(w, op->attempt);
    cairn__wr_u8(w, (uint8_t)op->last_class);
    cairn__wr_u64(w, op->updated_ns);
    cairn__wr_u64(w, op->done_seq);
    cairn__wr_u32(w, op->holder_pid);
    cairn__wr_u64(w, op->holder_start);
    cairn__wr_bytes(w, op->holder_boot, CAIRN_BOOT_ID_BYTES);
    cairn__sc_put_str(w, op->host);
    if (op->n_requires > CAIRN_MAX_KV) {
        w->failed = CAIRN_EINVAL;
        return;
    }
    cairn__wr_u16(w, (uint16_t)op->n_requires);
    for (size_t i = 0; i < op->n_requires; i++) {
        cairn__sc_put_str(w, op->requires[i]);
    }
    for (size_t i = 0; rules && i < op->n_requires; i++) {
        const cairn_output_rule *r = &op->require_rules[i];
        cairn__wr_u8(w, (uint8_t)r->type);
        cairn__sc_put_str(w, r->pattern != NULL ? r->pattern : "");
    }
}

void cairn__sc_put_header(cairn_wr *w, const cairn_state *st, uint8_t version)
{
    cairn__wr_u8(w, version);
    cairn__wr_u8(w, (uint8_t)((st->accepted ? SF_ACCEPTED : 0) |
                              (st->signed_run ? SF_SIGNED : 0) |
                              (st->cancelled ? SF_CANCELLED : 0) |
                              (st->timed_out ? SF_TIMED_OUT : 0) |
                              (st->held ? SF_HELD : 0) |
                              (st->pruned ? SF_PRUNED : 0)));
    cairn__wr_u64(w, st->run_num);
    cairn__sc_put_str(w, st->run_id);
    cairn__sc_put_str(w, st->plan_id);
    cairn__wr_bytes(w, st->plan_hash, CAIRN_HASH_BYTES);
    cairn__wr_bytes(w, st->key_id, CAIRN_KEY_ID_BYTES);
    cairn__sc_put_str(w, st->preflight_id);
    cairn__wr_u64(w, st->next_seq);
    cairn__wr_bytes(w, st->head, CAIRN_HASH_BYTES);
    cairn__wr_u64(w, st->last_pos);
    cairn__wr_u64(w, st->created_ns);
    cairn__wr_u64(w, st->updated_ns);
    if (st->pruned) { /* the stub: no ops, their counts */
        cairn__wr_u8(w, st->final_state);
        for (int i = 0; i < 7; i++) {
            cairn__wr_u32(w, st->op_counts[i]);
        }
    }
}

void cairn__sc_put_hold(cairn_wr *w, const cairn_state *st)
{
    if (st->held) {
        cairn__sc_put_str(w, st->hold_reason);
        cairn__wr_u64(w, st->hold_until_ns);
        cairn__wr_u64(w, st->hold_ns);
        cairn__sc_put_str(w, st->hold_actor);
    }
}

cairn_err cairn__state_encode(const cairn_state *st, uint8_t **out,
                              size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    for (uint32_t i = 0; !st->pruned && st->loaded != NULL && i < st->n_ops;
         i++) {
        if (!cairn__state_has_row(st, i)) {
            return CAIRN_EINVAL; /* a writer's state: not every row */
        }
    }
    cairn_wr w;
    cairn__wr_init(&w, CAIRN__STATE_MAX_BYTES);
    /* About what a plan's state takes: one allocation, no regrowing. */
    cairn__wr_reserve(&w, 256 + (size_t)st->n_ops * 96);
    cairn__sc_put_header(&w, st, STATE_VERSION);
    if (!st->pruned) {
        cairn__wr_u32(&w, st->n_ops);
    }
    for (uint32_t i = 0; !st->pruned && i < st->n_ops; i++) {
        cairn__sc_put_op(&w, &st->ops[i], 0);
    }
    cairn__sc_put_hold(&w, st);
    return cairn__wr_take(&w, out, out_len);
}

cairn_err cairn__sc_bad(cairn__sc_dec *d, const char *field, const char *what)
{
    cairn__fmt(d->detail, d->detail_len, "%s offset %zu: %s: %s", d->what,
               d->r.off, field, what);
    return CAIRN_ECORRUPT;
}

/* A string of min..cap-1 bytes without NUL, copied into dst[cap]. */
cairn_err cairn__sc_get_str(cairn__sc_dec *d, const char *field, char *dst,
                            size_t cap, size_t min)
{
    size_t start = d->r.off;
    uint16_t n;
    const uint8_t *p;
    if (cairn__rd_u16(&d->r, &n) != 0 || n >= cap || n < min ||
        cairn__rd_view(&d->r, n, &p) != 0 || memchr(p, 0, n) != NULL) {
        d->r.off = start;
        return cairn__sc_bad(d, field, "bad string");
    }
    memcpy(dst, p, n);
    dst[n] = '\0';
    return CAIRN_OK;
}

/* The rules after a requires list (flag OF_RULES): u8 type | str16
 * pattern ("" when none) each; at least one is not the default. */
static cairn_err get_rules(cairn__sc_dec *d, cairn_op_st *op)
{
    int any = 0;
    for (size_t i = 0; i < op->n_requires; i++) {
        cairn_output_rule *r = &op->require_rules[i];
        char pattern[CAIRN_PLAN_MAX_PATTERN + 1];
        uint8_t type;
        if (cairn__rd_u8(&d->r, &type) != 0 ||
            type > (uint8_t)CAIRN_OUTPUT_TYPE_LAST) {
            return cairn__sc_bad(d, "requires rule", "bad type");
        }
        cairn_err err = cairn__sc_get_str(d, "requires pattern", pattern,
                                          sizeof(pattern), 0);
        if (err != CAIRN_OK) {
            return err;
        }
        r->type = (cairn_output_type)type;
        if (pattern[0] != '\0' && (r->pattern = strdup(pattern)) == NULL) {
            cairn__fmt(d->detail, d->detail_len, "run state: out of memory");
            return CAIRN_ENOMEM;
        }
        any |= !cairn__output_rule_default(r);
    }
    return any ? CAIRN_OK : cairn__sc_bad(d, "requires rule", "all default");
}

static cairn_err get_requires(cairn__sc_dec *d, cairn_op_st *op, int rules)
{
    uint16_t n;
    if (cairn__rd_u16(&d->r, &n) != 0 || n > CAIRN_MAX_KV) {
        return cairn__sc_bad(d, "requires", "bad count");
    }
    if (n == 0) {
        return rules ? cairn__sc_bad(d, "requires", "rules without keys")
                     : CAIRN_OK;
    }
    op->requires = calloc(n, sizeof(char *));
    op->require_rules = calloc(n, sizeof(cairn_output_rule));
    if (op->requires == NULL || op->require_rules == NULL) {
        cairn__fmt(d->detail, d->detail_len, "run state: out of memory");
        return CAIRN_ENOMEM;
    }
    for (uint16_t i = 0; i < n; i++) {
        char key[CAIRN_MAX_KV_KEY + 1];
        cairn_err err = cairn__sc_get_str(d, "requires", key, sizeof(key), 1);
        if (err != CAIRN_OK) {
            return err;
        }
        op->requires[i] = strdup(key);
        if (op->requires[i] == NULL) {
            cairn__fmt(d->detail, d->detail_len, "run state: out of memory");
            return CAIRN_ENOMEM;
        }
        op->n_requires = (size_t)i + 1;
    }
    return rules ? get_rules(d, op) : CAIRN_OK;
}

static int enum_ok(uint8_t kind, uint8_t state, uint8_t cls)
{
    return kind >= CAIRN_KIND_PREFLIGHT && kind <= CAIRN_KIND_CLEANUP &&
           state >= CAIRN_OP_BLOCKED && state <= CAIRN_OP_SKIPPED &&
           cls <= CAIRN_CLASS_TERMINAL;
}

cairn_err cairn__sc_get_op(cairn__sc_dec *d, cairn_op_st *op, int anchor)
{
    uint8_t kind, flags, state, cls;
    cairn_err err = cairn__sc_get_str(d, "op id", op->id, sizeof(op->id), 1);
    if (err == CAIRN_OK && cairn__rd_u8(&d->r, &kind) != 0) {
        err = cairn__sc_bad(d, "op kind", "truncated");
    }
    if (err == CAIRN_OK) {
        err = cairn__sc_get_str(d, "op target", op->target, sizeof(op->target),
                                0);
    }
    if (err != CAIRN_OK) {
        return err;
    }
    op->anchor = CAIRN_NO_ANCHOR;
    if (cairn__rd_u8(&d->r, &flags) != 0 ||
        (anchor && cairn__rd_u32(&d->r, &op->anchor) != 0) ||
        cairn__rd_u8(&d->r, &state) || cairn__rd_u32(&d->r, &op->attempt) ||
        cairn__rd_u8(&d->r, &cls) || cairn__rd_u64(&d->r, &op->updated_ns) ||
        cairn__rd_u64(&d->r, &op->done_seq) ||
        cairn__rd_u32(&d->r, &op->holder_pid) ||
        cairn__rd_u64(&d->r, &op->holder_start) ||
        cairn__rd_bytes(&d->r, op->holder_boot, CAIRN_BOOT_ID_BYTES)) {
        return cairn__sc_bad(d, "op", "truncated");
    }
    if ((flags & ~(OF_IDEMPOTENT | OF_PROBE | OF_RULES)) != 0 ||
        !enum_ok(kind, state, cls)) {
        return cairn__sc_bad(d, "op", "bad kind, state, class or flags");
    }
    op->kind = (cairn_kind)kind;
    op->state = (cairn_op_state)state;
    op->last_class = (cairn_error_class)cls;
    op->idempotent = (flags & OF_IDEMPOTENT) != 0;
    op->has_probe = (flags & OF_PROBE) != 0;
    err = cairn__sc_get_str(d, "op host", op->host, sizeof(op->host), 0);
    return err != CAIRN_OK ? err : get_requires(d, op, (flags & OF_RULES) != 0);
}

/* A pruned run's stub ends with u8 final_state | 7 x u32 op counts. */
static cairn_err get_stub(cairn__sc_dec *d, cairn_state *st)
{
    uint64_t sum = 0;
    if (cairn__rd_u8(&d->r, &st->final_state) != 0) {
        return cairn__sc_bad(d, "final_state", "truncated");
    }
    if (!cairn__prune_final_state_ok(st->final_state)) {
        return cairn__sc_bad(d, "final_state", "not a terminal run state");
    }
    for (int i = 0; i < 7; i++) {
        if (cairn__rd_u32(&d->r, &st->op_counts[i]) != 0) {
            return cairn__sc_bad(d, "op_counts", "truncated");
        }
        sum += i > 0 ? st->op_counts[i] : 0;
    }
    if (st->op_counts[0] == 0 || st->op_counts[0] > CAIRN_MAX_OPS ||
        sum != st->op_counts[0]) {
        return cairn__sc_bad(d, "op_counts", "do not add up");
    }
    return CAIRN_OK;
}

cairn_err cairn__sc_get_header(cairn__sc_dec *d, cairn_state *st,
                               uint8_t version)
{
    uint8_t flags;
    uint8_t have;
    if (cairn__rd_u8(&d->r, &have) != 0 || have != version) {
        return cairn__sc_bad(d, "version", "unsupported");
    }
    /* A pruned run's stub is never held: it was refused while held. */
    if (cairn__rd_u8(&d->r, &flags) != 0 ||
        (flags & ~(0x1fu | SF_PRUNED)) != 0 ||
        (flags & (SF_HELD | SF_PRUNED)) == (SF_HELD | SF_PRUNED) ||
        cairn__rd_u64(&d->r, &st->run_num) != 0) {
        return cairn__sc_bad(d, "flags", "bad");
    }
    st->accepted = (flags & SF_ACCEPTED) != 0;
    st->signed_run = (flags & SF_SIGNED) != 0;
    st->cancelled = (flags & SF_CANCELLED) != 0;
    st->timed_out = (flags & SF_TIMED_OUT) != 0;
    st->pruned = (flags & SF_PRUNED) != 0;
    st->held = (flags & SF_HELD) != 0;
    cairn_err err =
        cairn__sc_get_str(d, "run_id", st->run_id, sizeof(st->run_id), 1);
    if (err == CAIRN_OK) {
        err = cairn__sc_get_str(d, "plan_id", st->plan_id, sizeof(st->plan_id),
                                1);
    }
    if (err != CAIRN_OK) {
        return err;
    }
    if (cairn__rd_bytes(&d->r, st->plan_hash, CAIRN_HASH_BYTES) != 0 ||
        cairn__rd_bytes(&d->r, st->key_id, CAIRN_KEY_ID_BYTES) != 0) {
        return cairn__sc_bad(d, "plan_hash", "truncated");
    }
    err = cairn__sc_get_str(d, "preflight_id", st->preflight_id,
                            sizeof(st->preflight_id), 0);
    if (err != CAIRN_OK) {
        return err;
    }
    if (cairn__rd_u64(&d->r, &st->next_seq) != 0 ||
        cairn__rd_bytes(&d->r, st->head, CAIRN_HASH_BYTES) != 0 ||
        cairn__rd_u64(&d->r, &st->last_pos) != 0 ||
        cairn__rd_u64(&d->r, &st->created_ns) != 0 ||
        cairn__rd_u64(&d->r, &st->updated_ns) != 0) {
        return cairn__sc_bad(d, "header", "truncated");
    }
    if (st->pruned) {
        return get_stub(d, st);
    }
    if (cairn__rd_u32(&d->r, &st->n_ops) != 0) {
        return cairn__sc_bad(d, "header", "truncated");
    }
    if (st->n_ops == 0 || st->n_ops > CAIRN_MAX_OPS) {
        return cairn__sc_bad(d, "n_ops", "out of range");
    }
    return CAIRN_OK;
}

/* The hold block (flag SF_HELD): str16 reason (1..1024) | u64 until_ns |
 * u64 hold_ns | str16 actor (0..4096). */
cairn_err cairn__sc_get_hold(cairn__sc_dec *d, cairn_state *st)
{
    cairn_err err = cairn__sc_get_str(d, "hold reason", st->hold_reason,
                                      sizeof(st->hold_reason), 1);
    if (err != CAIRN_OK) {
        return err;
    }
    if (cairn__rd_u64(&d->r, &st->hold_until_ns) != 0 ||
        cairn__rd_u64(&d->r, &st->hold_ns) != 0) {
        return cairn__sc_bad(d, "hold", "truncated");
    }
    return cairn__sc_get_str(d, "hold actor", st->hold_actor,
                             sizeof(st->hold_actor), 0);
}

cairn_err cairn__state_decode(const uint8_t *buf, size_t len, cairn_state *st,
                              char *detail, size_t detail_len)
{
    cairn__sc_dec d = {
        .detail = detail, .detail_len = detail_len, .what = "run state"};
    memset(st, 0, sizeof(*st));
    cairn__rd_init(&d.r, buf, len);
    cairn_err err = cairn__sc_get_header(&d, st, STATE_VERSION);
    if (err == CAIRN_OK && st->pruned) {
        return cairn__rd_left(&d.r) == 0
                   ? CAIRN_OK
                   : cairn__sc_bad(&d, "end", "trailing bytes");
    }
    uint32_t n_ops = st->n_ops;
    st->n_ops = 0;
    if (err == CAIRN_OK && (size_t)n_ops * 61 > cairn__rd_left(&d.r)) {
        err = cairn__sc_bad(&d, "ops", "truncated");
    }
    if (err == CAIRN_OK) {
        st->ops = calloc(n_ops, sizeof(cairn_op_st));
        if (st->ops == NULL) {
            cairn__fmt(detail, detail_len, "run state: out of memory");
            err = CAIRN_ENOMEM;
        }
    }
    for (uint32_t i = 0; err == CAIRN_OK && i < n_ops; i++) {
        st->n_ops = i + 1;
        err = cairn__sc_get_op(&d, &st->ops[i], 0);
    }
    if (err == CAIRN_OK && st->held) {
        err = cairn__sc_get_hold(&d, st);
    }
    if (err == CAIRN_OK && cairn__rd_left(&d.r) != 0) {
        err = cairn__sc_bad(&d, "end", "trailing bytes");
    }
    if (err == CAIRN_OK && cairn__state_derive(st) != CAIRN_OK) {
        cairn__fmt(detail, detail_len, "run state: out of memory");
        err = CAIRN_ENOMEM;
    }
    if (err != CAIRN_OK) {
        cairn__state_free(st);
    }
    return err;
}
