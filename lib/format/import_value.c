/*
 * import_value.c - strict codec of the `imports` value (import_value.h,
 * docs/FORMAT.md section 21).
 */
#include "format/import_value.h"

#include "base/bytes.h"
#include "base/zstd.h"

#include <stdlib.h>
#include <string.h>

#define REC_ENTRY_BYTES 16u

static cairn_err bad(char *detail, size_t detail_len, size_t off,
                     const char *what)
{
    cairn__fmt(detail, detail_len, "import offset %zu: %s", off, what);
    return CAIRN_ECORRUPT;
}

/* A u32 length min..max and that many bytes. */
static int get_blob(cairn_rd *r, size_t min, size_t max, const uint8_t **p,
                    size_t *n)
{
    uint32_t len;
    if (cairn__rd_u32(r, &len) != 0 || len < min || len > max ||
        cairn__rd_view(r, len, p) != 0) {
        return -1;
    }
    *n = len;
    return 0;
}

/* Version 2's unpacked_len: 1..2^30. */
static int get_blob_len(cairn_rd *r, size_t *n)
{
    uint32_t len;
    if (cairn__rd_u32(r, &len) != 0 || len == 0 ||
        len > CAIRN__IMPORT_BUNDLE_MAX) {
        return -1;
    }
    *n = len;
    return 0;
}

static cairn_err get_recs(cairn_rd *r, cairn_import_value *v, char *detail,
                          size_t detail_len)
{
    uint32_t n;
    size_t off = r->off;
    if (cairn__rd_u32(r, &n) != 0 || n == 0 || n > CAIRN__IMPORT_RECORDS_MAX ||
        (size_t)n > cairn__rd_left(r) / REC_ENTRY_BYTES) {
        return bad(detail, detail_len, off, "n_records: out of range");
    }
    v->recs = calloc(n, sizeof(*v->recs));
    if (v->recs == NULL) {
        cairn__fmt(detail, detail_len, "import: out of memory");
        return CAIRN_ENOMEM;
    }
    uint64_t end = 0;
    for (uint32_t i = 0; i < n; i++) {
        cairn_import_rec *e = &v->recs[i];
        off = r->off;
        if (cairn__rd_u64(r, &e->position) != 0 ||
            cairn__rd_u32(r, &e->offset) != 0 ||
            cairn__rd_u32(r, &e->len) != 0) {
            return bad(detail, detail_len, off, "record: truncated");
        }
        if (e->len == 0 || e->len > CAIRN_MAX_CREATE_RECORD_BYTES ||
            (uint64_t)e->offset + e->len > v->unpacked_len ||
            (i > 0 &&
             (e->offset < end || e->position <= v->recs[i - 1].position))) {
            return bad(detail, detail_len, off,
                       "record: outside the bundle, overlapping, or not "
                       "in order");
        }
        end = (uint64_t)e->offset + e->len;
        v->n_recs = (size_t)i + 1;
    }
    return CAIRN_OK;
}

cairn_err cairn__import_value_decode(const uint8_t *buf, size_t len,
                                     cairn_import_value *out, char *detail,
                                     size_t detail_len)
{
    cairn_rd r;
    uint8_t version;
    memset(out, 0, sizeof(*out));
    cairn__clear(detail, detail_len);
    cairn__rd_init(&r, buf, len);
    if (cairn__rd_u8(&r, &version) != 0 ||
        (version != CAIRN__IMPORT_VERSION &&
         version != CAIRN__IMPORT_VERSION_ZSTD)) {
        return bad(detail, detail_len, 0, "version: not 1 or 2");
    }
    out->compressed = version == CAIRN__IMPORT_VERSION_ZSTD;
    if (cairn__rd_u64(&r, &out->imported_ns) != 0) {
        return bad(detail, detail_len, 1, "imported_ns: truncated");
    }
    size_t off = r.off;
    if (get_blob(&r, 1, CAIRN__IMPORT_BUNDLE_MAX, &out->bundle,
                 &out->bundle_len) != 0) {
        return bad(detail, detail_len, off, "bundle: bad length");
    }
    if (cairn__zstd_is_frame(out->bundle, out->bundle_len) != out->compressed) {
        return bad(detail, detail_len, off + 4,
                   out->compressed ? "bundle: version 2 but not zstd"
                                   : "bundle: zstd, but version 1");
    }
    out->unpacked_len = out->bundle_len;
    off = r.off;
    if (out->compressed && get_blob_len(&r, &out->unpacked_len) != 0) {
        return bad(detail, detail_len, off, "unpacked_len: out of range");
    }
    off = r.off;
    if (get_blob(&r, 0, CAIRN__IMPORT_MINISIG_MAX, &out->minisig,
                 &out->minisig_len) != 0 ||
        (out->minisig_len > 0 &&
         memchr(out->minisig, 0, out->minisig_len) != NULL)) {
        return bad(detail, detail_len, off, "minisig: bad length or a NUL");
    }
    if (out->minisig_len == 0) {
        out->minisig = NULL;
    }
    off = r.off;
    if (get_blob(&r, 1, CAIRN__IMPORT_STATE_MAX, &out->state,
                 &out->state_len) != 0) {
        return bad(detail, detail_len, off, "state: bad length");
    }
    cairn_err err = get_recs(&r, out, detail, detail_len);
    if (err == CAIRN_OK && cairn__rd_left(&r) != 0) {
        err = bad(detail, detail_len, r.off, "trailing bytes");
    }
    if (err != CAIRN_OK) {
        cairn__import_value_free(out);
    }
    return err;
}

cairn_err cairn__import_value_encode(const cairn_import_value *v, uint8_t **out,
                                     size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    if (v->bundle_len == 0 || v->bundle_len > CAIRN__IMPORT_BUNDLE_MAX ||
        v->minisig_len > CAIRN__IMPORT_MINISIG_MAX || v->state_len == 0 ||
        v->state_len > CAIRN__IMPORT_STATE_MAX || v->n_recs == 0 ||
        v->n_recs > CAIRN__IMPORT_RECORDS_MAX ||
        cairn__zstd_is_frame(v->bundle, v->bundle_len) != v->compressed ||
        (v->compressed && (v->unpacked_len == 0 ||
                           v->unpacked_len > CAIRN__IMPORT_BUNDLE_MAX))) {
        return CAIRN_EINVAL;
    }
    cairn_wr w;
    cairn__wr_init(&w, (size_t)1 << 31);
    cairn__wr_u8(&w, v->compressed ? CAIRN__IMPORT_VERSION_ZSTD
                                   : CAIRN__IMPORT_VERSION);
    cairn__wr_u64(&w, v->imported_ns);
    cairn__wr_u32(&w, (uint32_t)v->bundle_len);
    cairn__wr_bytes(&w, v->bundle, v->bundle_len);
    if (v->compressed) {
        cairn__wr_u32(&w, (uint32_t)v->unpacked_len);
    }
    cairn__wr_u32(&w, (uint32_t)v->minisig_len);
    if (v->minisig_len > 0) {
        cairn__wr_bytes(&w, v->minisig, v->minisig_len);
    }
    cairn__wr_u32(&w, (uint32_t)v->state_len);
    cairn__wr_bytes(&w, v->state, v->state_len);
    cairn__wr_u32(&w, (uint32_t)v->n_recs);
    for (size_t i = 0; i < v->n_recs; i++) {
        cairn__wr_u64(&w, v->recs[i].position);
        cairn__wr_u32(&w, v->recs[i].offset);
        cairn__wr_u32(&w, v->recs[i].len);
    }
    return cairn__wr_take(&w, out, out_len);
}

void cairn__import_value_free(cairn_import_value *v)
{
    if (v == NULL) {
        return;
    }
    free(v->recs);
    memset(v, 0, sizeof(*v));
}

cairn_err cairn__import_value_unpack(const cairn_import_value *v,
                                     uint8_t **owned, const uint8_t **bytes,
                                     char *detail, size_t detail_len)
{
    char why[200];
    size_t n = 0;
    *owned = NULL;
    *bytes = v->bundle;
    if (!v->compressed) {
        return CAIRN_OK;
    }
    *bytes = NULL;
    cairn_err err = cairn__zstd_decompress(
        v->bundle, v->bundle_len, v->unpacked_len, owned, &n, why, sizeof(why));
    if (err == CAIRN_ENOMEM) {
        return err;
    }
    if (err == CAIRN_OK && n != v->unpacked_len) {
        free(*owned);
        *owned = NULL;
        cairn__fmt(why, sizeof(why), "decompresses to %zu bytes, not %zu", n,
                   v->unpacked_len);
        err = CAIRN_ECORRUPT;
    }
    if (err != CAIRN_OK) {
        cairn__fmt(detail, detail_len, "import: the stored zstd bundle: %s",
                   why);
        return CAIRN_ECORRUPT;
    }
    *bytes = *owned;
    return CAIRN_OK;
}
