/*
 * note.h - C2SP signed notes (c2sp.org/signed-note), tlog checkpoints
 * (c2sp.org/tlog-checkpoint), Ed25519 cosignatures v1
 * (c2sp.org/tlog-cosignature) and tlog proofs (c2sp.org/tlog-proof):
 * encoders, strict bounded parsers and signature checks.
 * docs/FORMAT.md "Signed notes, checkpoints, cosignatures and proofs
 * (format 2)" is the exact description.
 *
 * Every parser reads only the bytes it is given (no NUL needed), checks
 * each rule in order, and on failure returns its error with a detail
 * "byte N: <rule>" (N is the 0-based offset in the input where the rule
 * broke).  Accepted input is canonical: encoding the parsed value gives
 * back exactly the input bytes.  Parsed structures borrow the input (their
 * pointers are views into it, valid as long as the caller's buffer).
 *
 * Error codes: a malformed note, checkpoint, proof or signature line is
 * CAIRN_ECORRUPT; a malformed verifier key is CAIRN_EKEY; a note with no
 * signature line of the trusted key (name AND key ID) is
 * CAIRN_EKEYMISMATCH (another key signed it: not tampering); a signature
 * line of the trusted key that does not verify is CAIRN_ETAMPERED; a bad
 * argument to an encoder (invalid name, text breaking the rules) is
 * CAIRN_EINVAL.
 */
#ifndef CAIRN_NOTE_H
#define CAIRN_NOTE_H

#include "base/bytes.h"
#include "base/common.h"

#include <stddef.h>
#include <stdint.h>

/** Signed-note signature types (c2sp.org/signed-note). */
#define CAIRN_NOTE_ALG_ED25519 0x01
#define CAIRN_NOTE_ALG_COSIG_V1 0x04

/** Longest note accepted (text, blank line and signature lines). */
#define CAIRN_NOTE_MAX_BYTES 131072
/** Longest note text (and so checkpoint body) accepted. */
#define CAIRN_NOTE_MAX_TEXT 65536
/** Most signature lines in one note (Go's x/mod/sumdb/note limit; the spec
 *  asks for at least 16). */
#define CAIRN_NOTE_MAX_SIGS 100
/** Longest key name (bytes; the ML-DSA cosigned message caps it at 255). */
#define CAIRN_NOTE_MAX_NAME 255
/** Longest decoded signature of a line (key ID included); room for the
 *  ML-DSA-44 cosignature (4 + 8 + 2420) and other post-quantum ones. */
#define CAIRN_NOTE_MAX_SIG 8192
/** Longest verifier key text: name, "+", 8 hex, "+", base64(1 + 32). */
#define CAIRN_NOTE_VKEY_MAX (CAIRN_NOTE_MAX_NAME + 1 + 8 + 1 + 44)
/** Most hashes in a tlog proof (an inclusion proof in a tree of fewer
 *  than 2^63 leaves). */
#define CAIRN_TLOG_PROOF_MAX_HASHES 63
/** Largest tree size or index (2^63 - 1). */
#define CAIRN_TLOG_MAX_SIZE UINT64_C(0x7fffffffffffffff)
/** First line of a tlog proof. */
#define CAIRN_TLOG_PROOF_HEADER "c2sp.org/tlog-proof@v1"

/* ---------------------------------------------------------------- */
/* Key names, key IDs and verifier keys                             */

/** 1 when @p name[0..len) is a valid key name: non-empty, at most
 *  CAIRN_NOTE_MAX_NAME bytes, valid UTF-8, no control character, no
 *  Unicode space (Go's unicode.IsSpace) and no '+'; else 0. */
CAIRN_INTERNAL int cairn__note_name_valid(const char *name, size_t len);

/** Key ID = SHA-256(name || 0x0A || alg || pk)[:4], big-endian.  The caller
 *  checks the name (nothing here fails). */
CAIRN_INTERNAL uint32_t cairn__note_key_id(const char *name, size_t name_len,
                                           uint8_t alg, const uint8_t pk[32]);

/** A parsed verifier key (Ed25519 or Ed25519 cosignature v1). */
typedef struct cairn_note_vkey {
    char name[CAIRN_NOTE_MAX_NAME + 1]; /**< NUL-terminated copy */
    size_t name_len;
    uint32_t key_id;
    uint8_t alg; /**< CAIRN_NOTE_ALG_ED25519 or CAIRN_NOTE_ALG_COSIG_V1 */
    uint8_t pk[32];
} cairn_note_vkey;

/**
 * Append the verifier key "<name>+<8 lowercase hex key ID>+<base64(alg ||
 * pk)>" (no newline) to @p w.
 * @return CAIRN_OK; CAIRN_EINVAL (invalid name, or alg not one of the two
 *         Ed25519 types); the writer's error (CAIRN_ENOMEM, CAIRN_EINVAL
 *         past its maximum).
 */
CAIRN_INTERNAL cairn_err cairn__note_vkey_encode(cairn_wr *w, const char *name,
                                                 size_t name_len, uint8_t alg,
                                                 const uint8_t pk[32]);

/**
 * Strict parse of a verifier key (exactly @p len bytes, no newline): a
 * valid name, '+', 8 lowercase hex digits, '+', canonical base64 of 33
 * bytes (type 0x01 or 0x04, then the Ed25519 public key); the key ID must
 * equal the one computed from name, type and key.  On failure *out is
 * zeroed.
 * @return CAIRN_OK; CAIRN_EKEY (detail "byte N: ..."); CAIRN_EINVAL (NULL).
 */
CAIRN_INTERNAL cairn_err cairn__note_vkey_parse(const char *s, size_t len,
                                                cairn_note_vkey *out,
                                                char *detail,
                                                size_t detail_len);

/* ---------------------------------------------------------------- */
/* Signed notes                                                     */

/** One signature line, as views into the parsed note. */
typedef struct cairn_note_sig {
    const char *name; /**< the key name (not NUL-terminated) */
    size_t name_len;
    uint32_t key_id;
    const char *b64; /**< base64(key ID || signature), the line's tail */
    size_t b64_len;
    size_t sig_len; /**< decoded bytes after the key ID (>= 1) */
} cairn_note_sig;

/** A parsed signed note; every pointer is a view into the input. */
typedef struct cairn_note {
    const char *text; /**< the signed text, ending in its last '\n' */
    size_t text_len;
    cairn_note_sig sigs[CAIRN_NOTE_MAX_SIGS];
    size_t n_sigs; /**< 1..CAIRN_NOTE_MAX_SIGS */
} cairn_note;

/**
 * Check note text: 1..CAIRN_NOTE_MAX_TEXT bytes of valid UTF-8 without a
 * control character other than '\n', ending in '\n'.
 * @return CAIRN_OK; CAIRN_ECORRUPT (detail "byte N: ...").
 */
CAIRN_INTERNAL cairn_err cairn__note_text_check(const char *text, size_t len,
                                                char *detail,
                                                size_t detail_len);

/**
 * Strict parse of a signed note of @p len bytes: at most
 * CAIRN_NOTE_MAX_BYTES, valid UTF-8, no control character but '\n'; the
 * text ends at the last blank line ("\n\n"); then 1..CAIRN_NOTE_MAX_SIGS
 * lines "— <name> <base64>\n" (U+2014, one space each), valid names,
 * canonical base64 of 5..CAIRN_NOTE_MAX_SIG bytes, no two lines with the
 * same name and key ID.  Signatures are not checked here.  On failure
 * *out is zeroed.
 * @return CAIRN_OK; CAIRN_ECORRUPT (detail "byte N: ..."); CAIRN_EINVAL
 *         (NULL).
 */
CAIRN_INTERNAL cairn_err cairn__note_parse(const char *msg, size_t len,
                                           cairn_note *out, char *detail,
                                           size_t detail_len);

/** Append the note @p n (text, blank line, its signature lines in order):
 *  the inverse of cairn__note_parse().  @return the writer's status. */
CAIRN_INTERNAL cairn_err cairn__note_encode(cairn_wr *w, const cairn_note *n);

/**
 * Append one signature line "— <name> <base64(key_id || sig)>\n".
 * @return CAIRN_OK; CAIRN_EINVAL (invalid name, sig_len 0 or over
 *         CAIRN_NOTE_MAX_SIG - 4); the writer's error.
 */
CAIRN_INTERNAL cairn_err cairn__note_sig_line(cairn_wr *w, const char *name,
                                              size_t name_len, uint32_t key_id,
                                              const uint8_t *sig,
                                              size_t sig_len);

/**
 * Sign @p text with the Ed25519 key @p sk (seed || public key, 64 bytes)
 * under @p name (type 0x01) and append the whole note: text, "\n", the
 * signature line.
 * @return CAIRN_OK; CAIRN_EINVAL (invalid name, or text failing
 *         cairn__note_text_check(): detail says where); CAIRN_ECRYPTO;
 *         the writer's error.
 */
CAIRN_INTERNAL cairn_err cairn__note_sign(cairn_wr *w, const char *text,
                                          size_t text_len, const char *name,
                                          size_t name_len, const uint8_t sk[64],
                                          char *detail, size_t detail_len);

/**
 * Verify @p n under the trusted Ed25519 key (@p name, @p pk, type 0x01).
 * Lines of other keys (another name or another key ID) are ignored; every
 * line of this key must verify.
 * @return CAIRN_OK (at least one line of the key, all valid);
 *         CAIRN_EKEYMISMATCH (no line of this key: detail names the keys
 *         that did sign, as name+keyid, at most 4); CAIRN_ETAMPERED (a line
 *         of this key does not verify: detail names it); CAIRN_EINVAL
 *         (NULL or invalid name).
 */
CAIRN_INTERNAL cairn_err cairn__note_verify(const cairn_note *n,
                                            const char *name, size_t name_len,
                                            const uint8_t pk[32], char *detail,
                                            size_t detail_len);

/* ---------------------------------------------------------------- */
/* Cosignatures (tlog-cosignature v1, Ed25519, type 0x04)            */

/**
 * Append the cosigned message "cosignature/v1\ntime <T>\n" || text.
 * @return CAIRN_OK; CAIRN_EINVAL (timestamp over 2^63 - 1); the writer's
 *         error.
 */
CAIRN_INTERNAL cairn_err cairn__cosig_message(cairn_wr *w, uint64_t timestamp,
                                              const char *text,
                                              size_t text_len);

/**
 * Cosign the note text (a checkpoint body) @p text at @p timestamp with
 * the Ed25519 key @p sk under @p name: append the signature line
 * "— <name> base64(keyid || u64 BE timestamp || sig)\n" to @p w (add it
 * to a note's signature lines).
 * @return CAIRN_OK; CAIRN_EINVAL (invalid name, timestamp over 2^63 - 1,
 *         text failing cairn__note_text_check()); CAIRN_ECRYPTO; CAIRN_ENOMEM;
 *         the writer's error.
 */
CAIRN_INTERNAL cairn_err cairn__cosig_line(cairn_wr *w, const char *text,
                                           size_t text_len, const char *name,
                                           size_t name_len, uint64_t timestamp,
                                           const uint8_t sk[64]);

/**
 * Verify the cosignature of (@p name, @p pk, type 0x04) on @p n; on
 * success *timestamp is its time (of the first such line; every line of
 * the key must verify).  Other lines are ignored.
 * @return CAIRN_OK; CAIRN_EKEYMISMATCH (no line of this cosigner);
 *         CAIRN_ETAMPERED (a line of this cosigner is not 76 bytes, has a
 *         timestamp over 2^63 - 1, or does not verify); CAIRN_EINVAL;
 *         CAIRN_ENOMEM.
 */
CAIRN_INTERNAL cairn_err cairn__cosig_verify(const cairn_note *n,
                                             const char *name, size_t name_len,
                                             const uint8_t pk[32],
                                             uint64_t *timestamp, char *detail,
                                             size_t detail_len);

/* ---------------------------------------------------------------- */
/* Checkpoint bodies (tlog-checkpoint)                              */

/** A checkpoint body; pointers are views (into the input when parsed). */
typedef struct cairn_tlog_checkpoint {
    const char *origin; /**< not NUL-terminated */
    size_t origin_len;
    uint64_t size; /**< tree size, <= CAIRN_TLOG_MAX_SIZE */
    uint8_t root[32];
    const char *ext; /**< extension lines, each with its '\n' (or NULL) */
    size_t ext_len;
    size_t n_ext; /**< number of extension lines */
} cairn_tlog_checkpoint;

/**
 * Append "<origin>\n<size>\n<base64 root>\n" and the extension lines.
 * @return CAIRN_OK; CAIRN_EINVAL (origin empty or not single-line UTF-8
 *         text, size over CAIRN_TLOG_MAX_SIZE, extension lines not
 *         non-empty '\n'-terminated lines, n_ext not their count, total
 *         over CAIRN_NOTE_MAX_TEXT); the writer's error.
 */
CAIRN_INTERNAL cairn_err
cairn__tlog_checkpoint_encode(cairn_wr *w, const cairn_tlog_checkpoint *cp);

/**
 * Strict parse of a checkpoint body (a note's text): rules of
 * cairn__note_text_check(), then a non-empty origin line, a size line
 * (decimal, no leading zero but "0", at most 2^63 - 1), a root line
 * (canonical base64 of 32 bytes), then zero or more non-empty extension
 * lines.  On failure *out is zeroed.
 * @return CAIRN_OK; CAIRN_ECORRUPT (detail "byte N: ..."); CAIRN_EINVAL.
 */
CAIRN_INTERNAL cairn_err cairn__tlog_checkpoint_parse(
    const char *text, size_t len, cairn_tlog_checkpoint *out, char *detail,
    size_t detail_len);

/**
 * Iterate the extension lines of @p cp: *pos starts at 0; each call sets
 * *line / *line_len (without its '\n') and returns 1, or returns 0 after
 * the last.
 */
CAIRN_INTERNAL int
cairn__tlog_checkpoint_next_ext(const cairn_tlog_checkpoint *cp, size_t *pos,
                                const char **line, size_t *line_len);

/**
 * A decimal of a checkpoint or proof: 1..19 digits, no sign, no leading
 * zero but "0", at most CAIRN_TLOG_MAX_SIZE, exactly s[0..len).
 * @return 0 (*v set); -1.
 */
CAIRN_INTERNAL int cairn__tlog_decimal_parse(const char *s, size_t len,
                                             uint64_t *v);

/**
 * cairn's two extension lines of a checkpoint (a journal head,
 * docs/FORMAT.md section 13.3), exactly: "cairn-state <runs> <base64 of
 * the 32-byte state map root>" then "cairn-time <wall ns>" (decimals of
 * cairn__tlog_decimal_parse()), and no other.
 * @return 0 (the three fields set); else the 1-based number of the first
 *         extension line that is wrong (cp->n_ext + 1 when lines are
 *         missing; 3 when a third follows).
 */
CAIRN_INTERNAL size_t
cairn__tlog_cairn_ext_parse(const cairn_tlog_checkpoint *cp, uint64_t *runs,
                            uint8_t state_root[32], uint64_t *time_ns);

/* ---------------------------------------------------------------- */
/* Proofs (tlog-proof)                                              */

/** A parsed tlog proof; pointers are views into the input. */
typedef struct cairn_tlog_proof {
    const char *extra_b64; /**< base64 of the extra data, or NULL */
    size_t extra_b64_len;
    size_t extra_len; /**< decoded length of the extra data */
    uint64_t index;
    uint8_t hashes[CAIRN_TLOG_PROOF_MAX_HASHES][32];
    size_t n_hashes;
    const char *note; /**< the checkpoint note, verbatim */
    size_t note_len;
    cairn_note parsed;                /**< that note, parsed */
    cairn_tlog_checkpoint checkpoint; /**< its text, parsed */
} cairn_tlog_proof;

/**
 * Append a tlog proof: the header line, "extra <base64>" when extra_len >
 * 0, "index <N>", the hashes (base64, one a line), a blank line and the
 * checkpoint note verbatim.
 * @return CAIRN_OK; CAIRN_EINVAL (n_hashes over the maximum, index over
 *         2^63 - 1, extra over CAIRN_NOTE_MAX_TEXT bytes); the writer's error.
 */
CAIRN_INTERNAL cairn_err
cairn__tlog_proof_encode(cairn_wr *w, const uint8_t *extra, size_t extra_len,
                         uint64_t index, const uint8_t (*hashes)[32],
                         size_t n_hashes, const char *note, size_t note_len);

/**
 * Strict parse of a tlog proof: the header line; an optional "extra "
 * line (canonical, non-empty base64); "index <N>" (decimal, no leading
 * zero, at most 2^63 - 1); 0..63 hash lines (canonical base64 of 32
 * bytes); a blank line; a signed note (cairn__note_parse) whose text is a
 * checkpoint (cairn__tlog_checkpoint_parse).  The index must be below the
 * checkpoint's size and the number of hashes must be the RFC 6962
 * inclusion proof length for that index and size.  Signatures are not
 * checked here (cairn__note_verify on out->parsed).
 * @return CAIRN_OK; CAIRN_ECORRUPT (detail "byte N: ..."); CAIRN_EINVAL.
 */
CAIRN_INTERNAL cairn_err cairn__tlog_proof_parse(const char *s, size_t len,
                                                 cairn_tlog_proof *out,
                                                 char *detail,
                                                 size_t detail_len);

/* ---------------------------------------------------------------- */
/* Shared by note.c, note_cosig.c and note_proof.c only             */

/** Decode the UTF-8 sequence at s[i] (i < len): its length (1..4) and
 *  *cp, or -1 when invalid (overlong, surrogate, over U+10FFFF, cut). */
CAIRN_INTERNAL int cairn__note_utf8(const char *s, size_t len, size_t i,
                                    uint32_t *cp);
/** Valid UTF-8 without a control character but '\n'; offsets in the
 *  detail are @p base + the offset in s.  CAIRN_ECORRUPT otherwise. */
CAIRN_INTERNAL cairn_err cairn__note_chars_check(const char *s, size_t len,
                                                 size_t base, char *detail,
                                                 size_t detail_len);
/** Append the base64 of in[0..n). */
CAIRN_INTERNAL void cairn__note_wr_b64(cairn_wr *w, const uint8_t *in,
                                       size_t n);
/** Decoded length of padded base64 text of @p len bytes, or SIZE_MAX when
 *  len is 0 or not a multiple of 4 (the decode itself checks the rest). */
CAIRN_INTERNAL size_t cairn__note_b64_len(const char *s, size_t len);
/** Strict decode of base64 s[0..len) to exactly @p want bytes: the
 *  standard alphabet only, the right padding, zero unused bits; 0 or -1. */
CAIRN_INTERNAL int cairn__note_b64_decode(const char *s, size_t len,
                                          uint8_t *out, size_t want);
/** Decode a signature line's base64 into out[0..want) (key ID first);
 *  -1 when it does not decode to exactly @p want bytes. */
CAIRN_INTERNAL int cairn__note_sig_decode(const cairn_note_sig *sig,
                                          uint8_t *out, size_t want);
/** The CAIRN_EKEYMISMATCH failure of the verifiers: names the key looked
 *  for and the first keys that did sign. */
CAIRN_INTERNAL cairn_err cairn__note_no_key(const cairn_note *n,
                                            const char *name, size_t name_len,
                                            uint32_t id, char *detail,
                                            size_t detail_len);

#endif
