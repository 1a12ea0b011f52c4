/*
 * key_sec.c - minisign secret keys: decode, decrypt, check, sign.
 *
 * Line 2 is base64 of 158 bytes:
 *   "Ed" | kdf_alg(2: "Sc" or 00 00) | chk_alg "B2" | salt(32) |
 *   opslimit(8 LE) | memlimit(8 LE) | keynum(8) | sk(64) | chk(32)
 * where the last 104 bytes are XORed with scrypt(password, salt, opslimit,
 * memlimit) when kdf_alg is "Sc".  See docs/FORMAT.md section 11.
 */
#include "keys/key.h"

#include "base/bytes.h"
#include "base/crypto.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define SECKEY_BIN 158u
#define SECRET_OFF 54u /* keynum | sk | chk, the encrypted part */
#define SECRET_LEN 104u
#define SK_LEN 64u
#define CHK_LEN 32u
#define COMMENT_PREFIX "untrusted comment: "

/* The fixed header of a decoded secret key (views into the buffer). */
typedef struct seckey_header {
    const uint8_t *alg;
    const uint8_t *kdf;
    const uint8_t *chk_alg;
    const uint8_t *salt;
    uint64_t opslimit;
    uint64_t memlimit;
    int encrypted;
} seckey_header;

/* Where failures are reported. */
typedef struct seckey_ctx {
    const char *name;
    char *detail;
    size_t detail_len;
} seckey_ctx;

void cairn__seckey_checksum(const uint8_t keynum[CAIRN_KEY_ID_BYTES],
                            const uint8_t sk[64], uint8_t chk[32])
{
    uint8_t buf[2 + CAIRN_KEY_ID_BYTES + SK_LEN];
    buf[0] = 'E';
    buf[1] = 'd';
    memcpy(buf + 2, keynum, CAIRN_KEY_ID_BYTES);
    memcpy(buf + 2 + CAIRN_KEY_ID_BYTES, sk, SK_LEN);
    cairn__blake2b(chk, CHK_LEN, buf, sizeof buf);
    cairn__memzero(buf, sizeof buf);
}

static cairn_err read_header(const uint8_t *bin, seckey_header *h,
                             const seckey_ctx *c)
{
    const uint8_t *ops, *mem;
    cairn_rd r;
    cairn__rd_init(&r, bin, SECRET_OFF);
    if (cairn__rd_view(&r, 2, &h->alg) != 0 ||
        cairn__rd_view(&r, 2, &h->kdf) != 0 ||
        cairn__rd_view(&r, 2, &h->chk_alg) != 0 ||
        cairn__rd_view(&r, 32, &h->salt) != 0 ||
        cairn__rd_view(&r, 8, &ops) != 0 || cairn__rd_view(&r, 8, &mem) != 0) {
        return cairn__key_fail(c->detail, c->detail_len, c->name, 2, CAIRN_EKEY,
                               "secret key header truncated");
    }
    h->opslimit = cairn__load64_le(ops);
    h->memlimit = cairn__load64_le(mem);
    if (h->alg[0] != 'E' || h->alg[1] != 'd') {
        return cairn__key_fail(c->detail, c->detail_len, c->name, 2, CAIRN_EKEY,
                               "unsupported signature algorithm 0x%02x%02x "
                               "(expected \"Ed\")",
                               h->alg[0], h->alg[1]);
    }
    if (h->chk_alg[0] != 'B' || h->chk_alg[1] != '2') {
        return cairn__key_fail(c->detail, c->detail_len, c->name, 2, CAIRN_EKEY,
                               "unsupported checksum algorithm 0x%02x%02x "
                               "(expected \"B2\")",
                               h->chk_alg[0], h->chk_alg[1]);
    }
    if (h->kdf[0] == 'S' && h->kdf[1] == 'c') {
        h->encrypted = 1;
    } else if (h->kdf[0] == 0 && h->kdf[1] == 0) {
        h->encrypted = 0;
    } else {
        return cairn__key_fail(c->detail, c->detail_len, c->name, 2, CAIRN_EKEY,
                               "unsupported key derivation function "
                               "0x%02x%02x (expected \"Sc\" or none)",
                               h->kdf[0], h->kdf[1]);
    }
    return CAIRN_OK;
}

/* XOR the secret part with the scrypt stream of the password. */
static cairn_err decrypt(uint8_t *bin, const seckey_header *h,
                         const char *password, const cairn__kdf_limits *lim,
                         const seckey_ctx *c)
{
    if (h->opslimit > lim->max_opslimit || h->memlimit > lim->max_memlimit) {
        return cairn__key_fail(
            c->detail, c->detail_len, c->name, 2, CAIRN_EKEY,
            "scrypt parameters out of range (opslimit %llu, memlimit %llu; "
            "at most %llu and %llu)",
            (unsigned long long)h->opslimit, (unsigned long long)h->memlimit,
            (unsigned long long)lim->max_opslimit,
            (unsigned long long)lim->max_memlimit);
    }
    if (password == NULL) {
        return cairn__key_fail(c->detail, c->detail_len, c->name, 0,
                               CAIRN_EPASSWORD,
                               "the secret key is encrypted and no password "
                               "was given");
    }
    uint8_t *stream = cairn__secure_alloc(SECRET_LEN);
    if (stream == NULL) {
        return CAIRN_ENOMEM;
    }
    cairn_err err =
        cairn__scrypt(stream, SECRET_LEN, password, strlen(password), h->salt,
                      h->opslimit, h->memlimit);
    if (err == CAIRN_OK) {
        for (size_t i = 0; i < SECRET_LEN; i++) {
            bin[SECRET_OFF + i] ^= stream[i];
        }
    } else {
        err =
            cairn__key_fail(c->detail, c->detail_len, c->name, 0, CAIRN_ENOMEM,
                            "scrypt key derivation failed (out of "
                            "memory?)");
    }
    cairn__memzero(stream, SECRET_LEN);
    cairn__secure_free(stream);
    return err;
}

static int all_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++) {
        acc |= p[i];
    }
    return acc == 0;
}

/* Checksum, then the public half of sk against its seed. */
static cairn_err check_secret(const uint8_t *bin, int encrypted,
                              const seckey_ctx *c)
{
    const uint8_t *keynum = bin + SECRET_OFF;
    const uint8_t *sk = keynum + CAIRN_KEY_ID_BYTES;
    const uint8_t *stored = sk + SK_LEN;
    uint8_t chk[CHK_LEN];
    uint8_t pk[CAIRN_PUBLIC_KEY_BYTES];
    uint8_t derived[SK_LEN];
    cairn_err err = CAIRN_OK;
    cairn__seckey_checksum(keynum, sk, chk);
    int chk_ok = cairn__memcmp_ct(chk, stored, CHK_LEN) == 0;
    cairn__memzero(chk, sizeof chk);
    /* minisign -G -W writes no checksum (32 zero bytes): accept that for
     * an unencrypted key; the seed check below still guards sk. */
    if (!chk_ok && (encrypted || !all_zero(stored, CHK_LEN))) {
        return cairn__key_fail(
            c->detail, c->detail_len, c->name, 0,
            encrypted ? CAIRN_EPASSWORD : CAIRN_EKEY,
            encrypted ? "checksum mismatch: wrong password?"
                      : "checksum mismatch: the secret key is corrupted");
    }
    if (cairn__ed25519_seed_keypair(pk, derived, sk) != CAIRN_OK) {
        err = CAIRN_ECRYPTO;
    } else if (cairn__memcmp_ct(pk, sk + 32, CAIRN_PUBLIC_KEY_BYTES) != 0) {
        err = cairn__key_fail(c->detail, c->detail_len, c->name, 2, CAIRN_EKEY,
                              "the public half of the secret key does not "
                              "match its seed");
    }
    cairn__memzero(derived, sizeof derived);
    return err;
}

static cairn_err make_signer(const uint8_t *bin, cairn_signer **out)
{
    const uint8_t *keynum = bin + SECRET_OFF;
    const uint8_t *sk = keynum + CAIRN_KEY_ID_BYTES;
    cairn_signer *s = malloc(sizeof *s);
    if (s == NULL) {
        return CAIRN_ENOMEM;
    }
    s->sk = cairn__secure_alloc(SK_LEN);
    if (s->sk == NULL) {
        free(s);
        return CAIRN_ENOMEM;
    }
    memcpy(s->key_id, keynum, CAIRN_KEY_ID_BYTES);
    memcpy(s->pk, sk + 32, CAIRN_PUBLIC_KEY_BYTES);
    memcpy(s->sk, sk, SK_LEN);
    s->n_signed = 0;
    s->signed_count = &s->n_signed;
    *out = s;
    return CAIRN_OK;
}

/* Decode, decrypt and check the base64 line; bin is secure memory. */
static cairn_err decode_secret(const cairn__line *line, uint8_t *bin,
                               const char *password,
                               const cairn__kdf_limits *lim,
                               const seckey_ctx *c)
{
    seckey_header h;
    cairn_err err = cairn__b64_field(line, "secret key", bin, SECKEY_BIN,
                                     c->name, c->detail, c->detail_len);
    if (err == CAIRN_OK) {
        err = read_header(bin, &h, c);
    }
    if (err == CAIRN_OK && h.encrypted) {
        err = decrypt(bin, &h, password, lim, c);
    }
    if (err == CAIRN_OK) {
        err = check_secret(bin, h.encrypted, c);
    }
    return err;
}

static cairn_err split_secret(const char *text, size_t len, cairn__line *b64,
                              const seckey_ctx *c)
{
    cairn__line lines[2];
    size_t count = 0;
    cairn_err err = cairn__split_lines(text, len, lines, 2, &count, c->name,
                                       c->detail, c->detail_len);
    if (err != CAIRN_OK) {
        return err;
    }
    if (count == 0) {
        return cairn__key_fail(c->detail, c->detail_len, c->name, 0, CAIRN_EKEY,
                               "empty file");
    }
    if (!cairn__line_has_prefix(&lines[0], COMMENT_PREFIX)) {
        return cairn__key_fail(c->detail, c->detail_len, c->name, 1, CAIRN_EKEY,
                               "does not start with \"" COMMENT_PREFIX "\"");
    }
    if (lines[0].len > CAIRN__COMMENT_LINE_MAX) {
        return cairn__key_fail(c->detail, c->detail_len, c->name, 1, CAIRN_EKEY,
                               "comment line is %zu bytes, at most %u",
                               lines[0].len, CAIRN__COMMENT_LINE_MAX);
    }
    if (count < 2) {
        return cairn__key_fail(c->detail, c->detail_len, c->name, 2, CAIRN_EKEY,
                               "missing: the file ends after the comment "
                               "line");
    }
    *b64 = lines[1];
    return CAIRN_OK;
}

cairn_err cairn__signer_parse_text(const char *text, size_t len,
                                   const char *name, const char *password,
                                   const cairn__kdf_limits *limits,
                                   cairn_signer **out, char *detail,
                                   size_t detail_len)
{
    static const cairn__kdf_limits defaults = {CAIRN__KDF_OPSLIMIT_MAX,
                                               CAIRN__KDF_MEMLIMIT_MAX};
    seckey_ctx c = {name, detail, detail_len};
    cairn__line b64;
    if (out == NULL || (text == NULL && len > 0)) {
        return CAIRN_EINVAL;
    }
    *out = NULL;
    cairn_err err = split_secret(text, len, &b64, &c);
    if (err != CAIRN_OK) {
        return err;
    }
    uint8_t *bin = cairn__secure_alloc(SECKEY_BIN);
    if (bin == NULL) {
        return CAIRN_ENOMEM;
    }
    err = decode_secret(&b64, bin, password,
                        limits != NULL ? limits : &defaults, &c);
    if (err == CAIRN_OK) {
        err = make_signer(bin, out);
    }
    cairn__memzero(bin, SECKEY_BIN);
    cairn__secure_free(bin);
    return err;
}

cairn_err cairn_signer_load(const char *path, const char *password,
                            cairn_signer **out, char *detail, size_t detail_len)
{
    char *text = NULL;
    size_t len = 0;
    if (out != NULL) {
        *out = NULL;
    }
    if (path == NULL || out == NULL) {
        cairn__fmt(detail, detail_len, "secret key: NULL argument");
        return CAIRN_EINVAL;
    }
    cairn_err err = cairn__crypto_init();
    if (err != CAIRN_OK) {
        cairn__fmt(detail, detail_len, "%s: libsodium failed to start", path);
        return err;
    }
    err = cairn__read_file(path, CAIRN__KEY_FILE_MAX, &text, &len, detail,
                           detail_len);
    if (err == CAIRN_EINVAL) {
        return CAIRN_EKEY; /* larger than a key file can be */
    }
    if (err != CAIRN_OK) {
        return err;
    }
    err = cairn__signer_parse_text(text, len, path, password, NULL, out, detail,
                                   detail_len);
    cairn__memzero(text, len);
    free(text);
    return err;
}

cairn_err cairn_key_file_loose(const char *path, unsigned *loose, char *detail,
                               size_t detail_len)
{
    struct stat st;
    cairn__clear(detail, detail_len);
    if (loose != NULL) {
        *loose = 0;
    }
    if (path == NULL || loose == NULL) {
        return CAIRN_EINVAL;
    }
    if (stat(path, &st) != 0) {
        cairn__fmt(detail, detail_len, "%s: %s", path, strerror(errno));
        return CAIRN_EIO;
    }
    if ((st.st_mode & 0077) != 0) {
        *loose = CAIRN_LOOSE_KEY;
        cairn__fmt(detail, detail_len,
                   "secret key %s is accessible by %s (mode %04o; want 0600)",
                   path, (st.st_mode & 0007) != 0 ? "others" : "its group",
                   (unsigned)(st.st_mode & 07777));
    }
    return CAIRN_OK;
}

void cairn_signer_free(cairn_signer *signer)
{
    if (signer == NULL) {
        return;
    }
    if (signer->sk != NULL) {
        cairn__memzero(signer->sk, SK_LEN);
        cairn__secure_free(signer->sk);
    }
    cairn__memzero(signer, sizeof *signer);
    free(signer);
}

void cairn_signer_key_id(const cairn_signer *signer,
                         uint8_t out[CAIRN_KEY_ID_BYTES])
{
    if (signer == NULL) {
        memset(out, 0, CAIRN_KEY_ID_BYTES);
        return;
    }
    memcpy(out, signer->key_id, CAIRN_KEY_ID_BYTES);
}

void cairn_signer_public_key(const cairn_signer *signer,
                             uint8_t out[CAIRN_PUBLIC_KEY_BYTES])
{
    if (signer == NULL) {
        memset(out, 0, CAIRN_PUBLIC_KEY_BYTES);
        return;
    }
    memcpy(out, signer->pk, CAIRN_PUBLIC_KEY_BYTES);
}

cairn_err cairn__signer_sign(const cairn_signer *signer, const void *msg,
                             size_t len, uint8_t sig[CAIRN_SIGNATURE_BYTES])
{
    if (signer == NULL || signer->sk == NULL || sig == NULL ||
        (msg == NULL && len > 0)) {
        return CAIRN_EINVAL;
    }
    __atomic_fetch_add(signer->signed_count, 1, __ATOMIC_RELAXED);
    return cairn__ed25519_sign(sig, msg, len, signer->sk);
}

uint64_t cairn__signer_count(const cairn_signer *signer)
{
    return signer == NULL
               ? 0
               : __atomic_load_n(signer->signed_count, __ATOMIC_RELAXED);
}
