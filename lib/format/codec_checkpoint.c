/*
 * codec_checkpoint.c - checkpoints (the seal of one commit of one run:
 * signed on its own in format 1, sealed by the signed journal head in
 * format 2), the message their signature covers, and the record hashes: leaf
 * hash and genesis (docs/FORMAT.md "Hashes" and "Checkpoint").
 */
#include "base/bytes.h"
#include "base/crypto.h"
#include "format/record.h"

#include <stdlib.h>
#include <string.h>

#define CP_VERSION 1
#define CP_FLAG_SIGNED 0x01u
#define CP_FLAG_HEAD_SEALED 0x02u /* format 2: the journal head signs it */
#define CP_FLAGS_KNOWN (CP_FLAG_SIGNED | CP_FLAG_HEAD_SEALED)

/* Offsets in the 130-byte checkpoint. */
enum {
    CP_OFF_VERSION = 0,
    CP_OFF_FLAGS = 1,
    CP_OFF_RUN_NUM = 2,
    CP_OFF_SEQ = 10,
    CP_OFF_HEAD = 18,
    CP_OFF_WALL = 50,
    CP_OFF_KEY_ID = 58,
    CP_OFF_SIG = 66
};
_Static_assert(CP_OFF_SIG + CAIRN_SIGNATURE_BYTES == CAIRN_CHECKPOINT_BYTES,
               "checkpoint layout");
_Static_assert(sizeof(CAIRN_GENESIS_TAG) == 17, "genesis tag with its NUL");
_Static_assert(sizeof(CAIRN_ROTATE_TAG) == 16, "rotate tag with its NUL");
_Static_assert(sizeof(CAIRN_KEYS_GENESIS_TAG) == 14, "keys tag with its NUL");
_Static_assert(sizeof(CAIRN_CHECKPOINT_TAG) == 20,
               "checkpoint tag with its NUL");

static int all_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++) {
        acc |= p[i];
    }
    return acc == 0;
}

void cairn__leaf_hash(const uint8_t *buf, size_t len,
                      uint8_t out[CAIRN_HASH_BYTES])
{
    static const uint8_t leaf_prefix = 0x00;
    cairn_sha256 st;
    cairn__sha256_init(&st);
    cairn__sha256_update(&st, &leaf_prefix, 1);
    cairn__sha256_update(&st, buf, len);
    cairn__sha256_final(&st, out);
}

void cairn__genesis_hash(const uint8_t journal_id[CAIRN_JOURNAL_ID_BYTES],
                         const char *run_id,
                         const uint8_t key_id[CAIRN_KEY_ID_BYTES],
                         uint8_t out[CAIRN_HASH_BYTES])
{
    size_t n = run_id == NULL ? 0 : strnlen(run_id, CAIRN_MAX_ID + 1);
    if (n == 0 || n > CAIRN_MAX_ID) {
        /* No valid record can name such a run: a value nothing chains to. */
        memset(out, 0, CAIRN_HASH_BYTES);
        return;
    }
    uint8_t len_be[2];
    cairn__store16_be(len_be, (uint16_t)n);
    cairn_sha256 st;
    cairn__sha256_init(&st);
    cairn__sha256_update(&st, CAIRN_GENESIS_TAG, sizeof(CAIRN_GENESIS_TAG));
    cairn__sha256_update(&st, journal_id, CAIRN_JOURNAL_ID_BYTES);
    cairn__sha256_update(&st, len_be, sizeof(len_be));
    cairn__sha256_update(&st, run_id, n);
    cairn__sha256_update(&st, key_id, CAIRN_KEY_ID_BYTES);
    cairn__sha256_final(&st, out);
}

void cairn__keys_genesis(const uint8_t journal_id[CAIRN_JOURNAL_ID_BYTES],
                         uint8_t out[CAIRN_HASH_BYTES])
{
    cairn_sha256 st;
    cairn__sha256_init(&st);
    cairn__sha256_update(&st, CAIRN_KEYS_GENESIS_TAG,
                         sizeof(CAIRN_KEYS_GENESIS_TAG));
    cairn__sha256_update(&st, journal_id, CAIRN_JOURNAL_ID_BYTES);
    cairn__sha256_final(&st, out);
}

cairn_err cairn__rotate_message(const uint8_t *rec, size_t len, uint8_t **msg,
                                size_t *msg_len)
{
    *msg = NULL;
    *msg_len = 0;
    if (len <= CAIRN_ROTATE_SIGS_BYTES) {
        return CAIRN_EINVAL;
    }
    size_t n = len - CAIRN_ROTATE_SIGS_BYTES, tag = sizeof(CAIRN_ROTATE_TAG);
    uint8_t *p = malloc(tag + n);
    if (p == NULL) {
        return CAIRN_ENOMEM;
    }
    memcpy(p, CAIRN_ROTATE_TAG, tag);
    memcpy(p + tag, rec, n);
    *msg = p;
    *msg_len = tag + n;
    return CAIRN_OK;
}

void cairn__checkpoint_encode(const cairn_checkpoint *cp,
                              uint8_t out[CAIRN_CHECKPOINT_BYTES])
{
    memset(out, 0, CAIRN_CHECKPOINT_BYTES);
    out[CP_OFF_VERSION] = CP_VERSION;
    out[CP_OFF_FLAGS] = cp->is_signed     ? CP_FLAG_SIGNED
                        : cp->head_sealed ? CP_FLAG_HEAD_SEALED
                                          : 0;
    cairn__store64_be(out + CP_OFF_RUN_NUM, cp->run_num);
    cairn__store64_be(out + CP_OFF_SEQ, cp->seq);
    memcpy(out + CP_OFF_HEAD, cp->head, CAIRN_HASH_BYTES);
    cairn__store64_be(out + CP_OFF_WALL, cp->wall_ns);
    if (cp->is_signed || cp->head_sealed) {
        memcpy(out + CP_OFF_KEY_ID, cp->key_id, CAIRN_KEY_ID_BYTES);
    }
    if (cp->is_signed) {
        memcpy(out + CP_OFF_SIG, cp->sig, CAIRN_SIGNATURE_BYTES);
    }
}

static cairn_err cp_bad(char *detail, size_t detail_len, size_t off,
                        const char *field, const char *what)
{
    cairn__fmt(detail, detail_len, "offset %zu: %s: %s", off, field, what);
    return CAIRN_ECORRUPT;
}

static cairn_err cp_read(cairn_rd *r, cairn_checkpoint *cp, char *detail,
                         size_t detail_len)
{
    uint8_t flags;
    if (cairn__rd_u8(r, &cp->version) != 0 || cairn__rd_u8(r, &flags) != 0 ||
        cairn__rd_u64(r, &cp->run_num) != 0 ||
        cairn__rd_u64(r, &cp->seq) != 0 ||
        cairn__rd_bytes(r, cp->head, CAIRN_HASH_BYTES) != 0 ||
        cairn__rd_u64(r, &cp->wall_ns) != 0 ||
        cairn__rd_bytes(r, cp->key_id, CAIRN_KEY_ID_BYTES) != 0 ||
        cairn__rd_bytes(r, cp->sig, CAIRN_SIGNATURE_BYTES) != 0 ||
        cairn__rd_left(r) != 0) {
        /* Unreachable: the length was checked to be exactly 130. */
        return cp_bad(detail, detail_len, r->off, "checkpoint", "truncated");
    }
    if ((flags & ~CP_FLAGS_KNOWN) != 0) {
        char what[48];
        cairn__fmt(what, sizeof(what), "unknown bits 0x%02x",
                   (unsigned)(flags & ~CP_FLAGS_KNOWN));
        return cp_bad(detail, detail_len, CP_OFF_FLAGS, "flags", what);
    }
    if (flags == CP_FLAGS_KNOWN) {
        return cp_bad(detail, detail_len, CP_OFF_FLAGS, "flags",
                      "both signed (bit 0) and sealed by the journal head "
                      "(bit 1)");
    }
    cp->is_signed = (uint8_t)(flags & CP_FLAG_SIGNED);
    cp->head_sealed = (uint8_t)((flags & CP_FLAG_HEAD_SEALED) != 0);
    if (!cp->is_signed && !cp->head_sealed &&
        !all_zero(cp->key_id, CAIRN_KEY_ID_BYTES)) {
        return cp_bad(detail, detail_len, CP_OFF_KEY_ID, "key_id",
                      "not zero in an unsigned checkpoint");
    }
    if (!cp->is_signed && !all_zero(cp->sig, CAIRN_SIGNATURE_BYTES)) {
        return cp_bad(detail, detail_len, CP_OFF_SIG, "signature",
                      cp->head_sealed ? "not zero in a head-sealed checkpoint"
                                      : "not zero in an unsigned checkpoint");
    }
    return CAIRN_OK;
}

cairn_err cairn__checkpoint_decode(const uint8_t *buf, size_t len,
                                   cairn_checkpoint *cp, char *detail,
                                   size_t detail_len)
{
    memset(cp, 0, sizeof(*cp));
    cairn__clear(detail, detail_len);
    if (len >= 1 && buf[CP_OFF_VERSION] != CP_VERSION) {
        cairn__fmt(detail, detail_len, "offset 0: version %u",
                   (unsigned)buf[CP_OFF_VERSION]);
        return CAIRN_EVERSION;
    }
    if (len != CAIRN_CHECKPOINT_BYTES) {
        char what[64];
        cairn__fmt(what, sizeof(what), "length %zu, expected %d", len,
                   CAIRN_CHECKPOINT_BYTES);
        return cp_bad(detail, detail_len, 0, "checkpoint", what);
    }
    cairn_rd r;
    cairn__rd_init(&r, buf, len);
    cairn_err err = cp_read(&r, cp, detail, detail_len);
    if (err != CAIRN_OK) {
        memset(cp, 0, sizeof(*cp));
    }
    return err;
}

size_t
cairn__checkpoint_message(const cairn_checkpoint *cp,
                          const uint8_t journal_id[CAIRN_JOURNAL_ID_BYTES],
                          const char *run_id,
                          uint8_t out[CAIRN_CHECKPOINT_MSG_MAX])
{
    size_t n = run_id == NULL ? 0 : strnlen(run_id, CAIRN_MAX_ID + 1);
    if (n == 0 || n > CAIRN_MAX_ID) {
        return 0;
    }
    size_t off = 0;
    memcpy(out, CAIRN_CHECKPOINT_TAG, sizeof(CAIRN_CHECKPOINT_TAG));
    off += sizeof(CAIRN_CHECKPOINT_TAG);
    memcpy(out + off, journal_id, CAIRN_JOURNAL_ID_BYTES);
    off += CAIRN_JOURNAL_ID_BYTES;
    cairn__store16_be(out + off, (uint16_t)n);
    off += 2;
    memcpy(out + off, run_id, n);
    off += n;
    cairn__store64_be(out + off, cp->seq);
    off += 8;
    memcpy(out + off, cp->head, CAIRN_HASH_BYTES);
    off += CAIRN_HASH_BYTES;
    cairn__store64_be(out + off, cp->wall_ns);
    off += 8;
    memcpy(out + off, cp->key_id, CAIRN_KEY_ID_BYTES);
    off += CAIRN_KEY_ID_BYTES;
    return off;
}
