/*
 * key.h - minisign key files and signatures (internal).
 *
 * Formats (docs/FORMAT.md section 11): a public key is
 * "Ed" || keynum(8) || pk(32), a secret key is the 158-byte minisign structure
 * (optionally scrypt encrypted), a signature file is minisign's 4-line
 * ".minisig" text with the prehashed "ED" algorithm.  Text files use LF line
 * ends; CRLF is accepted as a line end, a lone CR or a NUL byte is refused.
 *
 * Threads: the objects are immutable after load; a signer or public key may
 * be used from several threads at once.
 */
#ifndef CAIRN_KEY_H
#define CAIRN_KEY_H

#include "base/common.h"

#include <stddef.h>
#include <stdint.h>

/** Largest key file read (bytes). */
#define CAIRN__KEY_FILE_MAX 4096u
/** Longest untrusted-comment line, prefix included, line end excluded
 *  (minisign reads it into 1024 bytes, line feed and NUL included). */
#define CAIRN__COMMENT_LINE_MAX 1022u
/** Longest trusted comment text (after "trusted comment: "), as minisign. */
#define CAIRN__TRUSTED_COMMENT_MAX 8173u
/** Longest untrusted comment text cairn__minisig_create() writes. */
#define CAIRN__UNTRUSTED_COMMENT_MAX 1003u
/** Largest .minisig text accepted by cairn__minisig_verify(). */
#define CAIRN__MINISIG_TEXT_MAX 16384u
/** Base64 line of a public key: 56 characters (+ NUL). */
#define CAIRN__PUBKEY_B64_LEN 56u
/** Whole public key file text (two lines) fits in this many bytes. */
#define CAIRN__PUBKEY_FILE_LEN 128u

/** minisign's scrypt parameters (OPSLIMIT/MEMLIMIT_SENSITIVE). */
#define CAIRN__KDF_OPSLIMIT_DEFAULT 33554432u
#define CAIRN__KDF_MEMLIMIT_DEFAULT 1073741824u
/** Sanity limits checked before scrypt runs on a loaded key. */
#define CAIRN__KDF_OPSLIMIT_MAX (4ull * CAIRN__KDF_OPSLIMIT_DEFAULT)
#define CAIRN__KDF_MEMLIMIT_MAX (2ull * CAIRN__KDF_MEMLIMIT_DEFAULT)

struct cairn_pubkey {
    uint8_t key_id[CAIRN_KEY_ID_BYTES]; /**< keynum, as stored in the file */
    uint8_t pk[CAIRN_PUBLIC_KEY_BYTES];
    /** The next key of a pinned set (cairn_pubkey_add()), or NULL. */
    struct cairn_pubkey *next;
};

/** The member of the pinned set @p set whose key id is @p key_id, or
 *  NULL (also when @p set is NULL). */
CAIRN_INTERNAL const cairn_pubkey *
cairn__pubkey_find(const cairn_pubkey *set,
                   const uint8_t key_id[CAIRN_KEY_ID_BYTES]);

struct cairn_signer {
    uint8_t key_id[CAIRN_KEY_ID_BYTES];
    uint8_t pk[CAIRN_PUBLIC_KEY_BYTES];
    uint8_t *sk; /**< 64 bytes (seed || pk) in cairn__secure_alloc memory */
    /** Signatures made so far (a test hook: tests count what a commit
     *  signs).  Points at @c n_signed of the same signer, so that a const
     *  signer can count; updated atomically (signers are shared by
     *  threads). */
    uint64_t *signed_count;
    uint64_t n_signed;
};

/** Sign @p len bytes of @p msg with plain Ed25519.
 *  @return CAIRN_OK; CAIRN_EINVAL (NULL signer); CAIRN_ECRYPTO. */
CAIRN_INTERNAL cairn_err cairn__signer_sign(const cairn_signer *signer,
                                            const void *msg, size_t len,
                                            uint8_t sig[CAIRN_SIGNATURE_BYTES]);

/** How many signatures @p signer made since it was loaded (0 for NULL):
 *  the internal test hook that counts what a commit signs. */
CAIRN_INTERNAL uint64_t cairn__signer_count(const cairn_signer *signer);

/** Verify a plain Ed25519 signature: 0 when valid, -1 otherwise. */
CAIRN_INTERNAL int
cairn__pubkey_verify(const cairn_pubkey *key,
                     const uint8_t sig[CAIRN_SIGNATURE_BYTES], const void *msg,
                     size_t len);

/** Build a public key from raw parts (copied).
 *  @return CAIRN_OK; CAIRN_EINVAL (NULL argument); CAIRN_EKEY (not a valid
 *          Ed25519 public key); CAIRN_ENOMEM. */
CAIRN_INTERNAL cairn_err cairn__pubkey_from_raw(
    const uint8_t key_id[CAIRN_KEY_ID_BYTES],
    const uint8_t pk[CAIRN_PUBLIC_KEY_BYTES], cairn_pubkey **out);

/** The base64 line of @p key ("RWQ...", 56 characters) into @p out.
 *  @return CAIRN_OK; CAIRN_EINVAL when @p out_len < 57. */
CAIRN_INTERNAL cairn_err cairn__pubkey_to_text(const cairn_pubkey *key,
                                               char *out, size_t out_len);

/** The whole minisign public key file: "untrusted comment: minisign public
 *  key <KEYID>\n<base64>\n".  @return CAIRN_OK; CAIRN_EINVAL when @p out_len
 *  < CAIRN__PUBKEY_FILE_LEN. */
CAIRN_INTERNAL cairn_err cairn__pubkey_file_text(const cairn_pubkey *key,
                                                 char *out, size_t out_len);

/** Key id as minisign prints it: %016X of the little-endian keynum
 *  (out: 17 bytes). */
CAIRN_INTERNAL void cairn__key_id_text(const uint8_t key_id[CAIRN_KEY_ID_BYTES],
                                       char out[17]);

/**
 * Parse a public key file's text (@p len bytes, need not be NUL-terminated):
 * the two-line file or just the base64 line.  @p name (may be NULL) prefixes
 * the detail.  Errors as cairn_pubkey_load() without CAIRN_EIO.
 */
CAIRN_INTERNAL cairn_err cairn__pubkey_parse_text(const char *text, size_t len,
                                                  const char *name,
                                                  cairn_pubkey **out,
                                                  char *detail,
                                                  size_t detail_len);

/** Upper bounds for the scrypt parameters of a key being loaded. */
typedef struct cairn__kdf_limits {
    uint64_t max_opslimit;
    uint64_t max_memlimit;
} cairn__kdf_limits;

/**
 * Parse a secret key file's text.  @p limits NULL means the defaults
 * (CAIRN__KDF_*_MAX).  Errors as cairn_signer_load() without CAIRN_EIO.
 * The caller wipes @p text.
 */
CAIRN_INTERNAL cairn_err
cairn__signer_parse_text(const char *text, size_t len, const char *name,
                         const char *password, const cairn__kdf_limits *limits,
                         cairn_signer **out, char *detail, size_t detail_len);

/** minisign's secret key checksum: BLAKE2b-256("Ed" || keynum || sk). */
CAIRN_INTERNAL void
cairn__seckey_checksum(const uint8_t keynum[CAIRN_KEY_ID_BYTES],
                       const uint8_t sk[64], uint8_t chk[32]);

/** Key generation options (tests only; the CLI uses cairn_keygen()). */
typedef struct cairn__keygen_opts {
    uint64_t opslimit; /**< scrypt opslimit for an encrypted key */
    uint64_t memlimit; /**< scrypt memlimit for an encrypted key */
    /** Fault injection: fail the Nth file-system step (1-based) as if it
     *  returned EIO; 0 for none.  Steps: 1 create secret, 2 create public,
     *  3 write secret, 4 fsync secret, 5 write public, 6 fsync public,
     *  7 close secret, 8 close public, 9 fsync directory. */
    int fail_step;
} cairn__keygen_opts;

/** cairn_keygen() with explicit options (@p opts NULL = minisign's). */
CAIRN_INTERNAL cairn_err cairn__keygen_opts_run(
    const char *pub_path, const char *sec_path, const char *password,
    const cairn__keygen_opts *opts, char *detail, size_t detail_len);

/**
 * Create a minisign signature file (algorithm "ED": sig = Ed25519 over
 * BLAKE2b-512(data); global_sig = Ed25519 over sig || trusted_comment).
 * @param untrusted_comment  one line (no CR/LF), at most
 *                           CAIRN__UNTRUSTED_COMMENT_MAX bytes; NULL for
 *                           "signature from cairn secret key".
 * @param trusted_comment    one printable line, at most
 *                           CAIRN__TRUSTED_COMMENT_MAX bytes; required.
 * @param out_text  receives the malloc'd, NUL-terminated 4-line text; the
 *                  caller frees it.  NULL on failure.
 * @param out_len   receives its length (without the NUL).
 * @return CAIRN_OK; CAIRN_EINVAL (NULL argument, bad comment); CAIRN_ENOMEM;
 *         CAIRN_ECRYPTO.
 */
CAIRN_INTERNAL cairn_err cairn__minisig_create(const cairn_signer *signer,
                                               const void *data, size_t len,
                                               const char *untrusted_comment,
                                               const char *trusted_comment,
                                               char **out_text,
                                               size_t *out_len);

/** As cairn__minisig_create() for data already hashed with BLAKE2b-512. */
CAIRN_INTERNAL cairn_err cairn__minisig_create_hashed(
    const cairn_signer *signer, const uint8_t hash[64],
    const char *untrusted_comment, const char *trusted_comment, char **out_text,
    size_t *out_len);

/**
 * Verify a minisign signature text (@p sig_len bytes) over @p data.
 * @param trusted_out  optional: receives the verified trusted comment
 *                     (needs CAIRN__TRUSTED_COMMENT_MAX + 1 bytes to hold any
 *                     comment); "" on failure.
 * @return CAIRN_OK; CAIRN_ETAMPERED (a signature does not verify: data,
 *         trusted comment or signature changed); CAIRN_EKEY (malformed
 *         text, key id differs from @p key's, legacy "Ed" algorithm refused,
 *         comment too long, non-printable trusted comment); CAIRN_EINVAL
 *         (NULL argument, @p trusted_out too small for the comment).
 */
CAIRN_INTERNAL cairn_err
cairn__minisig_verify(const cairn_pubkey *key, const void *data, size_t len,
                      const char *sig_text, size_t sig_len, char *trusted_out,
                      size_t trusted_len, char *detail, size_t detail_len);

/** As cairn__minisig_verify() for data already hashed with BLAKE2b-512. */
CAIRN_INTERNAL cairn_err cairn__minisig_verify_hashed(
    const cairn_pubkey *key, const uint8_t hash[64], const char *sig_text,
    size_t sig_len, char *trusted_out, size_t trusted_len, char *detail,
    size_t detail_len);

/* ---- Text helpers shared by the key modules (key_text.c). ---- */

/** One line of a text file: bytes [p, p+len), line end excluded. */
typedef struct cairn__line {
    const char *p;
    size_t len;
    size_t no; /**< 1-based line number */
} cairn__line;

/**
 * Record a failure: "<name>: line <no>: <message>" into @p detail (the name
 * part is left out when @p name is NULL, the line part when @p no is 0).
 * @return @p code.
 */
CAIRN_INTERNAL cairn_err cairn__key_fail(char *detail, size_t detail_len,
                                         const char *name, size_t no,
                                         cairn_err code, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/**
 * Split @p text into at most @p max lines.  A line ends with LF or CRLF; the
 * last line may lack a line end.  Fails (CAIRN_EKEY) on a NUL byte, a CR not
 * followed by LF, or more than @p max lines.
 */
CAIRN_INTERNAL cairn_err cairn__split_lines(const char *text, size_t len,
                                            cairn__line *lines, size_t max,
                                            size_t *count, const char *name,
                                            char *detail, size_t detail_len);

/** 1 when @p line starts with the NUL-terminated @p prefix. */
CAIRN_INTERNAL int cairn__line_has_prefix(const cairn__line *line,
                                          const char *prefix);

/**
 * Decode a base64 line into exactly @p outlen bytes.  On failure returns
 * CAIRN_EKEY with a detail naming the line and what is wrong ("base64
 * decodes to 40 bytes, expected 42", "invalid base64 character 0x2a at
 * column 7" ...).  @p what names the field ("public key").
 */
CAIRN_INTERNAL cairn_err cairn__b64_field(const cairn__line *line,
                                          const char *what, uint8_t *out,
                                          size_t outlen, const char *name,
                                          char *detail, size_t detail_len);

/** 0 when every byte of @p s is printable: TAB, 0x20-0x7e, or well-formed
 *  UTF-8 that is not a C1 control; else -1 with the offending offset. */
CAIRN_INTERNAL int cairn__printable(const char *s, size_t len, size_t *bad);

#endif
