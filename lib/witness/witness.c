/*
 * witness.c - cairn_witness_*: cosign a log's checkpoint only when it
 * extends the last one cosigned for its origin (C2SP tlog-witness
 * add-checkpoint; docs/FORMAT.md section 20).  The checks against the
 * stored checkpoint and the write of the new one are one LMDB write
 * transaction; the cosignature leaves only after its commit.
 */
#include "witness/witness.h"

#include "base/crypto.h"
#include "format/merkle.h"
#include "keys/key.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/** A trusted log key. */
typedef struct log_key {
    char origin[CAIRN_WITNESS_NAME_MAX + 1]; /**< "" for any origin */
    uint8_t pk[32];
} log_key;

struct cairn_witness {
    cairn_store *store;
    const cairn_signer *signer;
    char name[CAIRN_WITNESS_NAME_MAX + 1];
    size_t name_len;
    log_key *keys;
    size_t n_keys;
};

cairn_err cairn_witness_open(const char *dir, const cairn_signer *key,
                             const char *name, cairn_witness **out,
                             char *detail, size_t detail_len)
{
    if (out != NULL) {
        *out = NULL;
    }
    if (dir == NULL || key == NULL || key->sk == NULL || name == NULL ||
        out == NULL) {
        return cairn__fail(detail, detail_len, CAIRN_EINVAL,
                           "witness: missing argument");
    }
    size_t nl = strlen(name);
    if (!cairn__note_name_valid(name, nl)) {
        return cairn__fail(detail, detail_len, CAIRN_EINVAL,
                           "witness name \"%.64s\": not a key name (1..255 "
                           "bytes of UTF-8, no space, '+' or control "
                           "character)",
                           name);
    }
    cairn_witness *w = calloc(1, sizeof(*w));
    if (w == NULL) {
        return CAIRN_ENOMEM;
    }
    memcpy(w->name, name, nl + 1);
    w->name_len = nl;
    w->signer = key;
    cairn_err err =
        cairn__witness_store_open(dir, &w->store, detail, detail_len);
    if (err != CAIRN_OK) {
        free(w);
        return err;
    }
    *out = w;
    return CAIRN_OK;
}

void cairn_witness_close(cairn_witness *witness)
{
    if (witness == NULL) {
        return;
    }
    cairn__store_close(witness->store);
    free(witness->keys);
    free(witness);
}

cairn_err cairn_witness_trust_log(cairn_witness *w, const char *origin,
                                  const uint8_t pk[CAIRN_PUBLIC_KEY_BYTES],
                                  char *detail, size_t detail_len)
{
    if (w == NULL || pk == NULL) {
        return cairn__fail(detail, detail_len, CAIRN_EINVAL,
                           "witness: missing argument");
    }
    size_t ol = origin != NULL ? strlen(origin) : 0;
    if (origin != NULL && !cairn__note_name_valid(origin, ol)) {
        return cairn__fail(detail, detail_len, CAIRN_EINVAL,
                           "log origin \"%.64s\": not a key name", origin);
    }
    if (cairn__memcmp_ct(pk, w->signer->pk, 32) == 0) {
        return cairn__fail(detail, detail_len, CAIRN_EKEY,
                           "the log key is the witness's own key: a witness "
                           "must cosign with a key of its own");
    }
    log_key *k = realloc(w->keys, (w->n_keys + 1) * sizeof(*k));
    if (k == NULL) {
        return CAIRN_ENOMEM;
    }
    w->keys = k;
    k = &w->keys[w->n_keys++];
    memset(k, 0, sizeof(*k));
    if (origin != NULL) {
        memcpy(k->origin, origin, ol + 1);
    }
    memcpy(k->pk, pk, 32);
    return CAIRN_OK;
}

/* The work of one request, shared with the write transaction. */
typedef struct add_ctx {
    cairn_witness *w;
    const cairn_witness_req *req;
    const char *origin;
    size_t origin_len;
    const uint8_t *pk; /* the log key that signed it */
    uint64_t now;
    unsigned flags;
    cairn_witness_result *res;
    cairn_wr out; /* what is returned */
    char *detail;
    size_t detail_len;
} add_ctx;

static int trusted_for(const log_key *k, const char *origin, size_t len)
{
    return k->origin[0] == '\0' ||
           (strlen(k->origin) == len && memcmp(k->origin, origin, len) == 0);
}

/* The trusted key whose signature on the note verifies (*pk), or why
 * none does. */
static cairn_err find_signer(const cairn_witness *w, const cairn_witness_req *r,
                             const uint8_t **pk, char *detail,
                             size_t detail_len)
{
    const char *o = r->cp.origin;
    size_t ol = r->cp.origin_len;
    *pk = NULL;
    if (!cairn__note_name_valid(o, ol)) {
        return cairn__fail(detail, detail_len, CAIRN_EKEYMISMATCH,
                           "the checkpoint's origin is not a key name (no "
                           "space or '+', at most 255 bytes): no log key "
                           "signs it under that name");
    }
    int any = 0;
    for (size_t i = 0; i < w->n_keys; i++) {
        if (!trusted_for(&w->keys[i], o, ol)) {
            continue;
        }
        any = 1;
        cairn_err err = cairn__note_verify(&r->parsed, o, ol, w->keys[i].pk,
                                           detail, detail_len);
        if (err == CAIRN_OK) {
            *pk = w->keys[i].pk;
            return CAIRN_OK;
        }
        if (err != CAIRN_EKEYMISMATCH) {
            return err; /* a line of a trusted key that does not verify */
        }
    }
    if (!any) {
        return cairn__fail(detail, detail_len, CAIRN_EKEYMISMATCH,
                           "origin %.*s: the witness trusts no log key for "
                           "it (--log-key)",
                           (int)ol, o);
    }
    return cairn__fail(detail, detail_len, CAIRN_EKEYMISMATCH,
                       "origin %.*s: the checkpoint carries no signature of "
                       "a trusted log key",
                       (int)ol, o);
}

static void hex16(const uint8_t h[32], char out[17])
{
    cairn__hex(h, 8, out);
}

/* The stored checkpoint of the origin, or *found = 0. */
static cairn_err load_rec(cairn_txn *txn, add_ctx *c, cairn_witness_rec *rec,
                          int *found)
{
    const uint8_t *v = NULL;
    size_t vl = 0;
    cairn_err err = cairn__txn_get(txn, CAIRN_DBI_KV, c->origin, c->origin_len,
                                   &v, &vl, found);
    if (err != CAIRN_OK) {
        return cairn__fail(c->detail, c->detail_len, err, "witness store: %s",
                           "read failed");
    }
    if (!*found) {
        return CAIRN_OK;
    }
    err = cairn__witness_rec_decode(v, vl, rec, c->detail, c->detail_len);
    if (err == CAIRN_OK &&
        rec->log_key_id != cairn__note_key_id(c->origin, c->origin_len,
                                              CAIRN_NOTE_ALG_ED25519,
                                              rec->log_pk)) {
        err = cairn__fail(c->detail, c->detail_len, CAIRN_ECORRUPT,
                          "witness record of %.*s: key id does not match its "
                          "key",
                          (int)c->origin_len, c->origin);
    }
    return err;
}

/* The pinned key must be the one that signed (else a re-keyed origin). */
static cairn_err check_pin(add_ctx *c, const cairn_witness_rec *rec)
{
    if (memcmp(rec->log_pk, c->pk, 32) == 0) {
        return CAIRN_OK;
    }
    /* Signed by the pinned key too?  Then use that one. */
    for (size_t i = 0; i < c->w->n_keys; i++) {
        const log_key *k = &c->w->keys[i];
        if (trusted_for(k, c->origin, c->origin_len) &&
            memcmp(k->pk, rec->log_pk, 32) == 0 &&
            cairn__note_verify(&c->req->parsed, c->origin, c->origin_len, k->pk,
                               NULL, 0) == CAIRN_OK) {
            c->pk = k->pk;
            return CAIRN_OK;
        }
    }
    uint32_t now_id = cairn__note_key_id(c->origin, c->origin_len,
                                         CAIRN_NOTE_ALG_ED25519, c->pk);
    return cairn__fail(c->detail, c->detail_len, CAIRN_EKEYMISMATCH,
                       "origin %.*s is pinned to log key %08x (first "
                       "cosigned at size %llu); this checkpoint is signed "
                       "by key %08x only: a re-keyed log is refused",
                       (int)c->origin_len, c->origin, (unsigned)rec->log_key_id,
                       (unsigned long long)rec->size, (unsigned)now_id);
}

/* Rollback, fork at the same size, old > size, stale old size, proof. */
static cairn_err check_extends(add_ctx *c, const cairn_witness_rec *rec,
                               int found)
{
    const cairn_witness_req *r = c->req;
    char a[17], b[17];
    hex16(r->cp.root, b);
    if (found && r->cp.size < rec->size) {
        hex16(rec->root, a);
        return cairn__fail(c->detail, c->detail_len, CAIRN_ETAMPERED,
                           "rolled back: the witness cosigned size %llu (root "
                           "%s...) of %.*s; this checkpoint has size %llu "
                           "(root %s...)",
                           (unsigned long long)rec->size, a, (int)c->origin_len,
                           c->origin, (unsigned long long)r->cp.size, b);
    }
    if (found && r->cp.size == rec->size &&
        memcmp(r->cp.root, rec->root, 32) != 0) {
        hex16(rec->root, a);
        return cairn__fail(c->detail, c->detail_len, CAIRN_ETAMPERED,
                           "forked: the witness cosigned size %llu of %.*s "
                           "with root %s...; this checkpoint has the same "
                           "size with root %s...",
                           (unsigned long long)rec->size, (int)c->origin_len,
                           c->origin, a, b);
    }
    if (r->old_size > r->cp.size) {
        return cairn__fail(c->detail, c->detail_len, CAIRN_EINVAL,
                           "old size %llu is larger than the checkpoint's "
                           "size %llu",
                           (unsigned long long)r->old_size,
                           (unsigned long long)r->cp.size);
    }
    uint64_t have = found ? rec->size : 0;
    if (r->old_size != have) {
        return cairn__fail(c->detail, c->detail_len, CAIRN_ESTALE,
                           "old size %llu: the witness cosigned size %llu of "
                           "%.*s last (retry from %llu)",
                           (unsigned long long)r->old_size,
                           (unsigned long long)have, (int)c->origin_len,
                           c->origin, (unsigned long long)have);
    }
    size_t want = cairn__mt_consistency_len(r->old_size, r->cp.size);
    if (r->n_proof != want) {
        return cairn__fail(c->detail, c->detail_len, CAIRN_EINVAL,
                           "a consistency proof from size %llu to %llu has "
                           "%zu hashes, this one %zu",
                           (unsigned long long)r->old_size,
                           (unsigned long long)r->cp.size, want, r->n_proof);
    }
    if (found &&
        cairn__mt_check_consistency(rec->size, r->cp.size, rec->root,
                                    r->cp.root, r->proof, r->n_proof) != 0) {
        hex16(rec->root, a);
        return cairn__fail(c->detail, c->detail_len, CAIRN_ETAMPERED,
                           "forked: the consistency proof does not show size "
                           "%llu (root %s...) of %.*s, which the witness "
                           "cosigned, as a prefix of size %llu (root %s...)",
                           (unsigned long long)rec->size, a, (int)c->origin_len,
                           c->origin, (unsigned long long)r->cp.size, b);
    }
    return CAIRN_OK;
}

/* The returned text: the cosignature line, or the note with it. */
static cairn_err build_out(add_ctx *c, uint64_t t)
{
    const cairn_witness_req *r = c->req;
    const cairn_witness *w = c->w;
    cairn__wr_free(&c->out);
    cairn__wr_init(&c->out, CAIRN_NOTE_MAX_BYTES + CAIRN_WITNESS_LINE_MAX);
    if ((c->flags & CAIRN_WITNESS_NOTE) != 0) {
        uint32_t id = cairn__note_key_id(
            w->name, w->name_len, CAIRN_NOTE_ALG_COSIG_V1, w->signer->pk);
        cairn_note n = r->parsed;
        size_t k = 0;
        for (size_t i = 0; i < n.n_sigs; i++) {
            const cairn_note_sig *s = &r->parsed.sigs[i];
            if (!(s->key_id == id && s->name_len == w->name_len &&
                  memcmp(s->name, w->name, w->name_len) == 0)) {
                n.sigs[k++] = *s;
            }
        }
        n.n_sigs = k;
        if (k >= CAIRN_NOTE_MAX_SIGS) {
            return cairn__fail(c->detail, c->detail_len, CAIRN_EINVAL,
                               "the checkpoint has %zu signature lines: no "
                               "room for one more",
                               k);
        }
        cairn_err err = cairn__note_encode(&c->out, &n);
        if (err != CAIRN_OK) {
            return err;
        }
    }
    cairn_err err =
        cairn__cosig_line(&c->out, r->parsed.text, r->parsed.text_len, w->name,
                          w->name_len, t, w->signer->sk);
    if (err == CAIRN_OK) {
        cairn__wr_u8(&c->out, '\0');
        err = cairn__wr_status(&c->out);
    }
    return err;
}

static cairn_err add_txn(cairn_txn *txn, void *ctx)
{
    add_ctx *c = ctx;
    cairn_witness_rec rec;
    int found = 0;
    cairn_err err = load_rec(txn, c, &rec, &found);
    if (err == CAIRN_OK && found) {
        c->res->known = 1;
        c->res->witness_size = rec.size;
        memcpy(c->res->witness_root, rec.root, 32);
        err = check_pin(c, &rec);
    }
    if (err == CAIRN_OK) {
        err = check_extends(c, &rec, found);
    }
    if (err != CAIRN_OK) {
        return err;
    }
    uint64_t t = c->now;
    if (found && rec.time > t) {
        t = rec.time; /* never earlier than the last cosignature */
    }
    err = build_out(c, t);
    if (err != CAIRN_OK) {
        return err;
    }
    cairn_witness_rec next = {
        .size = c->req->cp.size,
        .time = t,
        .log_key_id = cairn__note_key_id(c->origin, c->origin_len,
                                         CAIRN_NOTE_ALG_ED25519, c->pk),
        .note = (const uint8_t *)c->req->note,
        .note_len = c->req->note_len,
    };
    memcpy(next.root, c->req->cp.root, 32);
    memcpy(next.log_pk, c->pk, 32);
    cairn_wr v;
    cairn__wr_init(&v, CAIRN_NOTE_MAX_BYTES + 256);
    err = cairn__witness_rec_encode(&v, &next);
    if (err == CAIRN_OK) {
        err = cairn__txn_put(txn, CAIRN_DBI_KV, c->origin, c->origin_len, v.p,
                             v.len, 0);
        if (err != CAIRN_OK) {
            cairn__fmt(c->detail, c->detail_len, "witness store: %s",
                       cairn__store_detail(c->w->store));
        }
    }
    cairn__wr_free(&v);
    c->res->time = t;
    return err;
}

cairn_err cairn_witness_add_checkpoint(cairn_witness *w, const char *request,
                                       size_t len, uint64_t now, unsigned flags,
                                       char **out, size_t *out_len,
                                       cairn_witness_result *res, char *detail,
                                       size_t detail_len)
{
    cairn_witness_result local;
    if (res == NULL) {
        res = &local;
    }
    memset(res, 0, sizeof(*res));
    if (out != NULL) {
        *out = NULL;
    }
    if (out_len != NULL) {
        *out_len = 0;
    }
    if (w == NULL || request == NULL || out == NULL || out_len == NULL ||
        (flags & ~CAIRN_WITNESS_NOTE) != 0) {
        return cairn__fail(detail, detail_len, CAIRN_EINVAL,
                           "witness: missing or bad argument");
    }
    cairn_witness_req *req = malloc(sizeof(*req));
    if (req == NULL) {
        return CAIRN_ENOMEM;
    }
    cairn_err err =
        cairn__witness_req_parse(request, len, req, detail, detail_len);
    if (err != CAIRN_OK) {
        free(req);
        return err;
    }
    res->old_size = req->old_size;
    res->size = req->cp.size;
    if (req->cp.origin_len <= CAIRN_WITNESS_NAME_MAX) {
        memcpy(res->origin, req->cp.origin, req->cp.origin_len);
        res->origin[req->cp.origin_len] = '\0';
    }
    add_ctx c = {.w = w,
                 .req = req,
                 .origin = req->cp.origin,
                 .origin_len = req->cp.origin_len,
                 .now = now != 0 ? now : (uint64_t)time(NULL),
                 .flags = flags,
                 .res = res,
                 .detail = detail,
                 .detail_len = detail_len};
    cairn__wr_init(&c.out, 0);
    err = find_signer(w, req, &c.pk, detail, detail_len);
    if (err == CAIRN_OK && c.now > CAIRN_TLOG_MAX_SIZE) {
        err = cairn__fail(detail, detail_len, CAIRN_EINVAL, "time too large");
    }
    if (err == CAIRN_OK) {
        err = cairn__store_write(w->store, add_txn, &c);
        if (err != CAIRN_OK && detail != NULL && detail[0] == '\0') {
            cairn__fmt(detail, detail_len, "witness store: %s",
                       cairn__store_detail(w->store));
        }
    }
    if (err == CAIRN_OK) {
        *out = (char *)c.out.p; /* NUL-terminated by build_out() */
        *out_len = c.out.len - 1;
        c.out.p = NULL;
    } else {
        res->time = 0;
    }
    cairn__wr_free(&c.out);
    free(req);
    return err;
}

cairn_err cairn_witness_vkey(const uint8_t pk[CAIRN_PUBLIC_KEY_BYTES],
                             const char *name, char *out, size_t out_len)
{
    if (pk == NULL || name == NULL || out == NULL || out_len == 0) {
        return CAIRN_EINVAL;
    }
    out[0] = '\0';
    cairn_wr w;
    cairn__wr_init(&w, CAIRN_VKEY_MAX);
    cairn_err err = cairn__note_vkey_encode(&w, name, strlen(name),
                                            CAIRN_NOTE_ALG_COSIG_V1, pk);
    if (err == CAIRN_OK && w.len >= out_len) {
        err = CAIRN_EINVAL;
    }
    if (err == CAIRN_OK) {
        memcpy(out, w.p, w.len);
        out[w.len] = '\0';
    }
    cairn__wr_free(&w);
    return err;
}
