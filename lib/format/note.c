/*
 * note.c - C2SP signed notes: key names and IDs, verifier keys, the note
 * parser and encoder, Ed25519 signing (verification: note_cosig.c)
 * (docs/FORMAT.md "Signed notes, checkpoints, cosignatures and proofs").
 */
#include "format/note.h"

#include "base/crypto.h"

#include <string.h>

/* "— " : U+2014 EM DASH and a space. */
static const char SIG_PREFIX[4] = {'\xe2', '\x80', '\x94', ' '};

int cairn__note_utf8(const char *s, size_t len, size_t i, uint32_t *cp)
{
    const uint8_t *p = (const uint8_t *)s + i;
    size_t left = len - i;
    uint8_t b = p[0];
    if (b < 0x80) {
        *cp = b;
        return 1;
    }
    size_t n;
    uint32_t c;
    uint32_t min;
    if (b >= 0xc2 && b <= 0xdf) {
        n = 2, c = b & 0x1fu, min = 0x80;
    } else if (b >= 0xe0 && b <= 0xef) {
        n = 3, c = b & 0x0fu, min = 0x800;
    } else if (b >= 0xf0 && b <= 0xf4) {
        n = 4, c = b & 0x07u, min = 0x10000;
    } else {
        return -1;
    }
    if (left < n) {
        return -1;
    }
    for (size_t k = 1; k < n; k++) {
        if ((p[k] & 0xc0u) != 0x80u) {
            return -1;
        }
        c = c << 6 | (p[k] & 0x3fu);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) {
        return -1;
    }
    *cp = c;
    return (int)n;
}

/* Go's unicode.IsSpace. */
static int is_space(uint32_t c)
{
    switch (c) {
    case '\t':
    case '\n':
    case '\v':
    case '\f':
    case '\r':
    case ' ':
    case 0x85:
    case 0xa0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202f:
    case 0x205f:
    case 0x3000:
        return 1;
    default:
        return c >= 0x2000 && c <= 0x200a;
    }
}

int cairn__note_name_valid(const char *name, size_t len)
{
    if (name == NULL || len == 0 || len > CAIRN_NOTE_MAX_NAME) {
        return 0;
    }
    for (size_t i = 0; i < len;) {
        uint32_t c;
        int n = cairn__note_utf8(name, len, i, &c);
        if (n < 0 || c < 0x20 || c == '+' || is_space(c)) {
            return 0;
        }
        i += (size_t)n;
    }
    return 1;
}

uint32_t cairn__note_key_id(const char *name, size_t name_len, uint8_t alg,
                            const uint8_t pk[32])
{
    cairn_sha256 st;
    uint8_t h[CAIRN_HASH_BYTES];
    const uint8_t sep[2] = {'\n', alg};
    cairn__sha256_init(&st);
    cairn__sha256_update(&st, name, name_len);
    cairn__sha256_update(&st, sep, sizeof(sep));
    cairn__sha256_update(&st, pk, 32);
    cairn__sha256_final(&st, h);
    return cairn__load32_be(h);
}

void cairn__note_wr_b64(cairn_wr *w, const uint8_t *in, size_t n)
{
    char buf[65];
    while (n > 0) {
        size_t chunk = n < 48 ? n : 48;
        cairn__b64_encode(in, chunk, buf, sizeof(buf));
        cairn__wr_bytes(w, buf, (chunk + 2) / 3 * 4);
        in += chunk;
        n -= chunk;
    }
}

size_t cairn__note_b64_len(const char *s, size_t len)
{
    if (len == 0 || len % 4 != 0) {
        return SIZE_MAX;
    }
    size_t pad = 0;
    if (s[len - 1] == '=') {
        pad = s[len - 2] == '=' ? 2 : 1;
    }
    return len / 4 * 3 - pad;
}

/* The 64 characters of the standard alphabet (not '='). */
__attribute__((unused)) static int b64_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9') || c == '+' || c == '/';
}

int cairn__note_b64_decode(const char *s, size_t len, uint8_t *out, size_t want)
{
    /* cairn__b64_decode() (libsodium 1.0.18's sodium_base642bin) takes
     * any byte >= 0x80 for a digit: check the alphabet here first. */
    size_t n = cairn__note_b64_len(s, len);
    if (n != want) {
        return -1;
    }
    size_t digits = (want * 4 + 2) / 3; /* then '=' up to len */
    for (size_t i = 0; i < len; i++) {
        if (i < digits ? !b64_char(s[i]) : s[i] != '=') {
            return -1;
        }
    }
    return cairn__b64_decode(s, len, out, want);
}

cairn_err cairn__note_vkey_encode(cairn_wr *w, const char *name,
                                  size_t name_len, uint8_t alg,
                                  const uint8_t pk[32])
{
    if (w == NULL || pk == NULL || !cairn__note_name_valid(name, name_len) ||
        (alg != CAIRN_NOTE_ALG_ED25519 && alg != CAIRN_NOTE_ALG_COSIG_V1)) {
        return CAIRN_EINVAL;
    }
    uint8_t key[33];
    char hex[16];
    key[0] = alg;
    memcpy(key + 1, pk, 32);
    cairn__fmt(hex, sizeof(hex), "%08x",
               (unsigned)cairn__note_key_id(name, name_len, alg, pk));
    cairn__wr_bytes(w, name, name_len);
    cairn__wr_u8(w, '+');
    cairn__wr_bytes(w, hex, 8);
    cairn__wr_u8(w, '+');
    cairn__note_wr_b64(w, key, sizeof(key));
    return cairn__wr_status(w);
}

static int lower_hex8(const char *s, uint32_t *v)
{
    uint32_t x = 0;
    for (size_t i = 0; i < 8; i++) {
        char c = s[i];
        uint32_t d;
        if (c >= '0' && c <= '9') {
            d = (uint32_t)(c - '0');
        } else if (c >= 'a' && c <= 'f') {
            d = (uint32_t)(c - 'a' + 10);
        } else {
            return -1;
        }
        x = x << 4 | d;
    }
    *v = x;
    return 0;
}

cairn_err cairn__note_vkey_parse(const char *s, size_t len,
                                 cairn_note_vkey *out, char *detail,
                                 size_t detail_len)
{
    if (out == NULL || (s == NULL && len > 0)) {
        return CAIRN_EINVAL;
    }
    memset(out, 0, sizeof(*out));
    if (len > CAIRN_NOTE_VKEY_MAX) {
        return cairn__fail(detail, detail_len, CAIRN_EKEY,
                           "byte %d: verifier key longer than %d bytes",
                           CAIRN_NOTE_VKEY_MAX, CAIRN_NOTE_VKEY_MAX);
    }
    const char *plus = len > 0 ? memchr(s, '+', len) : NULL;
    if (plus == NULL) {
        return cairn__fail(detail, detail_len, CAIRN_EKEY,
                           "byte %zu: verifier key has no '+'", len);
    }
    size_t name_len = (size_t)(plus - s);
    if (!cairn__note_name_valid(s, name_len)) {
        return cairn__fail(detail, detail_len, CAIRN_EKEY,
                           "byte 0: invalid key name");
    }
    size_t off = name_len + 1;
    uint32_t id;
    if (len - off < 9 || s[off + 8] != '+' || lower_hex8(s + off, &id) != 0) {
        return cairn__fail(detail, detail_len, CAIRN_EKEY,
                           "byte %zu: key ID is not 8 lowercase hex digits "
                           "followed by '+'",
                           off);
    }
    off += 9;
    uint8_t key[33];
    if (len - off != 44 || cairn__note_b64_decode(s + off, 44, key, 33) != 0) {
        return cairn__fail(detail, detail_len, CAIRN_EKEY,
                           "byte %zu: key is not canonical base64 of 33 "
                           "bytes",
                           off);
    }
    if (key[0] != CAIRN_NOTE_ALG_ED25519 && key[0] != CAIRN_NOTE_ALG_COSIG_V1) {
        return cairn__fail(detail, detail_len, CAIRN_EKEY,
                           "byte %zu: unknown signature type 0x%02x", off,
                           key[0]);
    }
    if (cairn__note_key_id(s, name_len, key[0], key + 1) != id) {
        return cairn__fail(detail, detail_len, CAIRN_EKEY,
                           "byte %zu: key ID %08x does not match the key",
                           name_len + 1, (unsigned)id);
    }
    memcpy(out->name, s, name_len);
    out->name[name_len] = '\0';
    out->name_len = name_len;
    out->key_id = id;
    out->alg = key[0];
    memcpy(out->pk, key + 1, 32);
    cairn__clear(detail, detail_len);
    return CAIRN_OK;
}

cairn_err cairn__note_text_check(const char *text, size_t len, char *detail,
                                 size_t detail_len)
{
    if (len == 0 || text == NULL) {
        return cairn__fail(detail, detail_len, CAIRN_ECORRUPT,
                           "byte 0: empty text");
    }
    if (len > CAIRN_NOTE_MAX_TEXT) {
        return cairn__fail(detail, detail_len, CAIRN_ECORRUPT,
                           "byte %d: text longer than %d bytes",
                           CAIRN_NOTE_MAX_TEXT, CAIRN_NOTE_MAX_TEXT);
    }
    cairn_err err = cairn__note_chars_check(text, len, 0, detail, detail_len);
    if (err != CAIRN_OK) {
        return err;
    }
    if (text[len - 1] != '\n') {
        return cairn__fail(detail, detail_len, CAIRN_ECORRUPT,
                           "byte %zu: text does not end in a newline", len);
    }
    return CAIRN_OK;
}

cairn_err cairn__note_chars_check(const char *s, size_t len, size_t base,
                                  char *detail, size_t detail_len)
{
    for (size_t i = 0; i < len;) {
        uint32_t c;
        int n = cairn__note_utf8(s, len, i, &c);
        if (n < 0) {
            return cairn__fail(detail, detail_len, CAIRN_ECORRUPT,
                               "byte %zu: invalid UTF-8", base + i);
        }
        if (c < 0x20 && c != '\n') {
            return cairn__fail(detail, detail_len, CAIRN_ECORRUPT,
                               "byte %zu: control character 0x%02x", base + i,
                               (unsigned)c);
        }
        i += (size_t)n;
    }
    cairn__clear(detail, detail_len);
    return CAIRN_OK;
}

/* Last "\n\n" in s[0..len): the offset of its first '\n', or SIZE_MAX. */
static size_t last_blank(const char *s, size_t len)
{
    for (size_t i = len; i >= 2; i--) {
        if (s[i - 2] == '\n' && s[i - 1] == '\n') {
            return i - 2;
        }
    }
    return SIZE_MAX;
}

/* Parse one signature line s[off..eol) into *sig. */
static cairn_err parse_sig_line(const char *s, size_t off, size_t eol,
                                cairn_note_sig *sig, char *detail,
                                size_t detail_len)
{
    if (eol - off < sizeof(SIG_PREFIX) ||
        memcmp(s + off, SIG_PREFIX, sizeof(SIG_PREFIX)) != 0) {
        return cairn__fail(detail, detail_len, CAIRN_ECORRUPT,
                           "byte %zu: signature line does not start with "
                           "an em dash (U+2014) and a space",
                           off);
    }
    size_t name_off = off + sizeof(SIG_PREFIX);
    const char *sp = memchr(s + name_off, ' ', eol - name_off);
    if (sp == NULL) {
        return cairn__fail(detail, detail_len, CAIRN_ECORRUPT,
                           "byte %zu: signature line has no space after "
                           "the key name",
                           name_off);
    }
    size_t name_len = (size_t)(sp - (s + name_off));
    if (!cairn__note_name_valid(s + name_off, name_len)) {
        return cairn__fail(detail, detail_len, CAIRN_ECORRUPT,
                           "byte %zu: invalid key name", name_off);
    }
    size_t b64_off = name_off + name_len + 1;
    size_t b64_len = eol - b64_off;
    size_t n = cairn__note_b64_len(s + b64_off, b64_len);
    uint8_t buf[CAIRN_NOTE_MAX_SIG];
    if (n == SIZE_MAX || n < 5 || n > CAIRN_NOTE_MAX_SIG ||
        cairn__note_b64_decode(s + b64_off, b64_len, buf, n) != 0) {
        return cairn__fail(detail, detail_len, CAIRN_ECORRUPT,
                           "byte %zu: signature is not canonical base64 of "
                           "5 to %d bytes",
                           b64_off, CAIRN_NOTE_MAX_SIG);
    }
    sig->name = s + name_off;
    sig->name_len = name_len;
    sig->key_id = cairn__load32_be(buf);
    sig->b64 = s + b64_off;
    sig->b64_len = b64_len;
    sig->sig_len = n - 4;
    return CAIRN_OK;
}

static int same_key(const cairn_note_sig *a, const cairn_note_sig *b)
{
    return a->key_id == b->key_id && a->name_len == b->name_len &&
           memcmp(a->name, b->name, a->name_len) == 0;
}

static cairn_err parse_sigs(const char *msg, size_t off, size_t len,
                            cairn_note *out, char *detail, size_t detail_len)
{
    while (off < len) {
        const char *nl = memchr(msg + off, '\n', len - off);
        size_t eol = (size_t)(nl - msg); /* the text ends in '\n' */
        if (out->n_sigs == CAIRN_NOTE_MAX_SIGS) {
            return cairn__fail(detail, detail_len, CAIRN_ECORRUPT,
                               "byte %zu: more than %d signature lines", off,
                               CAIRN_NOTE_MAX_SIGS);
        }
        cairn_note_sig *sig = &out->sigs[out->n_sigs];
        cairn_err err = parse_sig_line(msg, off, eol, sig, detail, detail_len);
        if (err != CAIRN_OK) {
            return err;
        }
        for (size_t k = 0; k < out->n_sigs; k++) {
            if (same_key(&out->sigs[k], sig)) {
                return cairn__fail(detail, detail_len, CAIRN_ECORRUPT,
                                   "byte %zu: second signature line of key "
                                   "%.*s+%08x",
                                   off, (int)sig->name_len, sig->name,
                                   (unsigned)sig->key_id);
            }
        }
        out->n_sigs++;
        off = eol + 1;
    }
    return CAIRN_OK;
}

cairn_err cairn__note_parse(const char *msg, size_t len, cairn_note *out,
                            char *detail, size_t detail_len)
{
    if (out == NULL || (msg == NULL && len > 0)) {
        return CAIRN_EINVAL;
    }
    memset(out, 0, sizeof(*out));
    if (len > CAIRN_NOTE_MAX_BYTES) {
        return cairn__fail(detail, detail_len, CAIRN_ECORRUPT,
                           "byte %d: note longer than %d bytes",
                           CAIRN_NOTE_MAX_BYTES, CAIRN_NOTE_MAX_BYTES);
    }
    cairn_err err = cairn__note_chars_check(msg, len, 0, detail, detail_len);
    if (err != CAIRN_OK) {
        return err;
    }
    size_t split = last_blank(msg, len);
    if (split == SIZE_MAX) {
        return cairn__fail(detail, detail_len, CAIRN_ECORRUPT,
                           "byte %zu: no blank line before the signatures",
                           len);
    }
    size_t sigs = split + 2;
    if (sigs == len) {
        return cairn__fail(detail, detail_len, CAIRN_ECORRUPT,
                           "byte %zu: no signature lines", len);
    }
    if (msg[len - 1] != '\n') {
        return cairn__fail(detail, detail_len, CAIRN_ECORRUPT,
                           "byte %zu: last signature line does not end in "
                           "a newline",
                           len);
    }
    if (split + 1 > CAIRN_NOTE_MAX_TEXT) {
        return cairn__fail(detail, detail_len, CAIRN_ECORRUPT,
                           "byte %d: text longer than %d bytes",
                           CAIRN_NOTE_MAX_TEXT, CAIRN_NOTE_MAX_TEXT);
    }
    out->text = msg;
    out->text_len = split + 1;
    err = parse_sigs(msg, sigs, len, out, detail, detail_len);
    if (err != CAIRN_OK) {
        memset(out, 0, sizeof(*out));
        return err;
    }
    cairn__clear(detail, detail_len);
    return CAIRN_OK;
}

cairn_err cairn__note_encode(cairn_wr *w, const cairn_note *n)
{
    if (w == NULL || n == NULL) {
        return CAIRN_EINVAL;
    }
    cairn__wr_bytes(w, n->text, n->text_len);
    cairn__wr_u8(w, '\n');
    for (size_t i = 0; i < n->n_sigs; i++) {
        const cairn_note_sig *sig = &n->sigs[i];
        cairn__wr_bytes(w, SIG_PREFIX, sizeof(SIG_PREFIX));
        cairn__wr_bytes(w, sig->name, sig->name_len);
        cairn__wr_u8(w, ' ');
        cairn__wr_bytes(w, sig->b64, sig->b64_len);
        cairn__wr_u8(w, '\n');
    }
    return cairn__wr_status(w);
}

cairn_err cairn__note_sig_line(cairn_wr *w, const char *name, size_t name_len,
                               uint32_t key_id, const uint8_t *sig,
                               size_t sig_len)
{
    if (w == NULL || !cairn__note_name_valid(name, name_len) || sig == NULL ||
        sig_len == 0 || sig_len > CAIRN_NOTE_MAX_SIG - 4) {
        return CAIRN_EINVAL;
    }
    /* base64(key_id || sig): the first 3 bytes of sig join the key ID. */
    uint8_t head[6] = {0};
    size_t k = sig_len < 2 ? sig_len : 2;
    cairn__store32_be(head, key_id);
    memcpy(head + 4, sig, k);
    cairn__wr_bytes(w, SIG_PREFIX, sizeof(SIG_PREFIX));
    cairn__wr_bytes(w, name, name_len);
    cairn__wr_u8(w, ' ');
    if (k == 2) {
        cairn__note_wr_b64(w, head, 6);
        cairn__note_wr_b64(w, sig + 2, sig_len - 2);
    } else {
        cairn__note_wr_b64(w, head, 4 + k);
    }
    cairn__wr_u8(w, '\n');
    return cairn__wr_status(w);
}

cairn_err cairn__note_sign(cairn_wr *w, const char *text, size_t text_len,
                           const char *name, size_t name_len,
                           const uint8_t sk[64], char *detail,
                           size_t detail_len)
{
    if (w == NULL || sk == NULL || !cairn__note_name_valid(name, name_len)) {
        return cairn__fail(detail, detail_len, CAIRN_EINVAL,
                           "invalid key name");
    }
    if (cairn__note_text_check(text, text_len, detail, detail_len) !=
        CAIRN_OK) {
        return CAIRN_EINVAL;
    }
    uint8_t sig[64];
    if (cairn__ed25519_sign(sig, text, text_len, sk) != CAIRN_OK) {
        return cairn__fail(detail, detail_len, CAIRN_ECRYPTO,
                           "Ed25519 signing failed");
    }
    uint32_t id =
        cairn__note_key_id(name, name_len, CAIRN_NOTE_ALG_ED25519, sk + 32);
    cairn__wr_bytes(w, text, text_len);
    cairn__wr_u8(w, '\n');
    return cairn__note_sig_line(w, name, name_len, id, sig, sizeof(sig));
}
