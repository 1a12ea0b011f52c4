/*
 * test_note.c - C2SP signed notes, tlog checkpoints, cosignatures v1 and
 * tlog proofs (lib/format/note*.c): golden vectors made by Go's
 * golang.org/x/mod/sumdb/note and sumdb/tlog, the examples of the C2SP
 * specs, every parse rule with its exact error and offset, limits at their
 * boundary, and every single-byte change of a signed note.
 *
 * With arguments it is the C side of tests/cli/interop_note.sh (see
 * interop_main() at the bottom): it signs, verifies, cosigns and parses
 * proofs for the Go program tests/interop/note_check.go.
 */
#include "testutil.h"

#include "base/bytes.h"
#include "base/crypto.h"
#include "format/note.h"
#include "format/merkle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- */
/* Golden vectors                                                   */

/*
 * Made once with tests/interop/note_check.go (Go 1.19, x/mod from Debian
 * golang-golang-x-mod-dev), seed = bytes 0x00..0x1f, NAME as below:
 *   note_check vkey NAME SEED
 *   note_check sign NAME SEED text              (text = GO_TEXT)
 *   note_check cosign witness.example/w1 WSEED 1700000000 note
 *                                               (WSEED = bytes 0x20..0x3f)
 *   note_check proof example.com/log SEED 7 5
 * GO_TEXT's root is SHA-256("root"), its state root SHA-256("state").
 */
#define NAME "cairn/journal/00112233445566778899aabbccddeeff"
#define GO_VKEY NAME "+a662a817+AQOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4"
#define GO_TEXT                                                                \
    NAME "\n"                                                                  \
         "42\n"                                                                \
         "SBNJTRN+FjG7owHVrKtue7eqdM4RhdRWVl71HXN2d7I=\n"                      \
         "cairn-state 3 S6aXNcpTdl7WpwnttWxuoja3GTo7KaazkMNG8PQ0Dk4=\n"        \
         "cairn-time 1764000000123456789\n"
#define GO_SIGLINE                                                             \
    "\xe2\x80\x94 " NAME                                                       \
    " pmKoF2sRVOPRnZ7XLJp1ALJqKgAGyY3J7pNCJIyrEP9iCBHpkKgV"                    \
    "jV3V/Gmx07n2iw6qVk8c3dXXt/i5lN5QXX9Uwg4=\n"
#define GO_NOTE GO_TEXT "\n" GO_SIGLINE
#define GO_COSIG_LINE                                                          \
    "\xe2\x80\x94 witness.example/w1 IDJKvgAAAABlU/EArjIOZ03ASUd7i6mZ42TBgcxF" \
    "koMo0RhcqZO6zuzIZpPAWZWPHSGmPmdF4b/HNgrV1aLjuWgsEpfDW6KWRpAZBg==\n"
#define GO_COSIGNED GO_NOTE GO_COSIG_LINE
#define GO_PROOF_HEAD                                                          \
    "c2sp.org/tlog-proof@v1\n"                                                 \
    "extra bGVhZiA1\n"                                                         \
    "index 5\n"                                                                \
    "gxFfiUeVX6/cKifn9MCFS72Nonuxs+NAXbVxya+Nvho=\n"                           \
    "+3+GnOi3tR/fcZ/IwhpHNsmMwWCoJWBqgfeKf00iYdk=\n"                           \
    "T2MQhKFXxU9U/Psj/164ZQxLoWDClbsTqYMrEJ1SZ34=\n"                           \
    "\n"
#define GO_PROOF_CP                                                            \
    "example.com/log\n"                                                        \
    "7\n"                                                                      \
    "WmH8K1T5z6cXdPJDIUPdQMbLKxGUf69lp9PaXLZRmcg=\n"
#define GO_PROOF_NOTE                                                          \
    GO_PROOF_CP "\n"                                                           \
                "\xe2\x80\x94 example.com/log 1FXFIXn5WNO0nmB8jpaNKWoqfB//pR"  \
                "44E4k8CO4SmN1B50zYwNAr2omDcPg3jHsVO5RoDZ3k9OJRhEsiuhDyOm4Kt"  \
                "gw=\n"
#define GO_PROOF GO_PROOF_HEAD GO_PROOF_NOTE

/* c2sp.org/signed-note, "Verifier keys", "Example". */
#define SPEC_VKEY                                                              \
    "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
#define SPEC_NOTE                                                              \
    "This is an example message.\n"                                            \
    "\n"                                                                       \
    "\xe2\x80\x94 example.com/foo "                                            \
    "Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONn"                             \
    "cAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n"

#define DASH "\xe2\x80\x94 "

/* ---------------------------------------------------------------- */
/* Fixtures                                                         */

typedef struct keypair {
    uint8_t pk[32];
    uint8_t sk[64];
} keypair;

static keypair key_from(uint8_t first)
{
    keypair k;
    uint8_t seed[32];
    for (int i = 0; i < 32; i++) {
        seed[i] = (uint8_t)(first + i);
    }
    assert_int_equal(cairn__ed25519_seed_keypair(k.pk, k.sk, seed), CAIRN_OK);
    return k;
}

static int setup(void **state)
{
    (void)state;
    return cairn__crypto_init() == CAIRN_OK ? 0 : -1;
}

/* A writer's bytes as a NUL-terminated malloc'd string; frees the writer. */
static char *wr_take(cairn_wr *w, size_t *len)
{
    assert_int_equal(cairn__wr_status(w), CAIRN_OK);
    char *s = malloc(w->len + 1);
    assert_non_null(s);
    if (w->len > 0) {
        memcpy(s, w->p, w->len);
    }
    s[w->len] = '\0';
    if (len != NULL) {
        *len = w->len;
    }
    cairn__wr_free(w);
    return s;
}

static char *sign_note(const char *text, const char *name, const keypair *k)
{
    cairn_wr w;
    char detail[256];
    cairn__wr_init(&w, CAIRN_NOTE_MAX_BYTES);
    assert_int_equal(cairn__note_sign(&w, text, strlen(text), name,
                                      strlen(name), k->sk, detail,
                                      sizeof(detail)),
                     CAIRN_OK);
    return wr_take(&w, NULL);
}

/* Parse @p s (strlen) as a note expecting @p err and a detail that starts
 * with @p want. */
static void note_fails(const char *s, size_t len, cairn_err err,
                       const char *want)
{
    cairn_note n;
    char detail[256] = "unset";
    assert_int_equal(cairn__note_parse(s, len, &n, detail, sizeof(detail)),
                     err);
    if (strncmp(detail, want, strlen(want)) != 0) {
        fail_msg("detail \"%s\", want \"%s...\"", detail, want);
    }
    assert_int_equal(n.n_sigs, 0);
    assert_null(n.text);
}

static void cp_fails_n(const char *s, size_t len, const char *want)
{
    cairn_tlog_checkpoint cp;
    char detail[256] = "unset";
    assert_int_equal(
        cairn__tlog_checkpoint_parse(s, len, &cp, detail, sizeof(detail)),
        CAIRN_ECORRUPT);
    if (strcmp(detail, want) != 0) {
        fail_msg("detail \"%s\", want \"%s\"", detail, want);
    }
    assert_null(cp.origin);
}

static void cp_fails(const char *s, const char *want)
{
    cp_fails_n(s, strlen(s), want);
}

static void vkey_fails(const char *s, const char *want)
{
    cairn_note_vkey v;
    char detail[256] = "unset";
    assert_int_equal(
        cairn__note_vkey_parse(s, strlen(s), &v, detail, sizeof(detail)),
        CAIRN_EKEY);
    if (strncmp(detail, want, strlen(want)) != 0) {
        fail_msg("detail \"%s\", want \"%s...\"", detail, want);
    }
    assert_int_equal(v.name_len, 0);
}

static void proof_fails(const char *s, const char *want)
{
    cairn_tlog_proof *p = malloc(sizeof(*p));
    assert_non_null(p);
    char detail[256] = "unset";
    assert_int_equal(
        cairn__tlog_proof_parse(s, strlen(s), p, detail, sizeof(detail)),
        CAIRN_ECORRUPT);
    if (strncmp(detail, want, strlen(want)) != 0) {
        fail_msg("detail \"%s\", want \"%s...\"", detail, want);
    }
    assert_int_equal(p->n_hashes, 0);
    free(p);
}

static char *cat3(const char *a, const char *b, const char *c)
{
    size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
    char *s = malloc(la + lb + lc + 1);
    assert_non_null(s);
    memcpy(s, a, la);
    memcpy(s + la, b, lb);
    memcpy(s + la + lb, c, lc + 1);
    return s;
}

/* ---------------------------------------------------------------- */
/* Names, key IDs, verifier keys                                    */

static void test_names(void **state)
{
    (void)state;
    static const char *good[] = {
        "a",
        "example.com/foo",
        NAME,
        "caf\xc3\xa9",
        "\xe2\x80\x94",
        "x\xef\xbf\xbd", /* U+FFFD itself is fine */
    };
    for (size_t i = 0; i < CAIRN_ARRAY_LEN(good); i++) {
        assert_true(cairn__note_name_valid(good[i], strlen(good[i])));
    }
    static const char *bad[] = {
        "",
        "a b",
        "a+b",
        "a\tb",
        "a\x01",
        "a\x7f"
        "b\xc2\xa0",         /* U+00A0 no-break space */
        "a\xc2\x85",         /* U+0085 next line */
        "a\xe2\x80\x83",     /* U+2003 em space */
        "a\xe3\x80\x80",     /* U+3000 ideographic space */
        "a\xe2\x80\xa8",     /* U+2028 line separator */
        "a\xe1\x9a\x80",     /* U+1680 ogham space mark */
        "a\xff",             /* not UTF-8 */
        "a\xc3\x28",         /* bad continuation */
        "a\xc0\xaf",         /* overlong */
        "a\xed\xa0\x80",     /* surrogate */
        "a\xf4\x90\x80\x80", /* over U+10FFFF */
        "a\xe2\x80",         /* cut */
    };
    for (size_t i = 0; i < CAIRN_ARRAY_LEN(bad); i++) {
        if (cairn__note_name_valid(bad[i], strlen(bad[i]))) {
            fail_msg("name %zu accepted", i);
        }
    }
    assert_false(cairn__note_name_valid("a\0b", 3));
    assert_false(cairn__note_name_valid(NULL, 0));
    char longest[CAIRN_NOTE_MAX_NAME + 2];
    memset(longest, 'n', sizeof(longest));
    assert_true(cairn__note_name_valid(longest, CAIRN_NOTE_MAX_NAME));
    assert_false(cairn__note_name_valid(longest, CAIRN_NOTE_MAX_NAME + 1));
}

static void test_vkey_golden(void **state)
{
    (void)state;
    keypair k = key_from(0);
    assert_int_equal(
        cairn__note_key_id(NAME, strlen(NAME), CAIRN_NOTE_ALG_ED25519, k.pk),
        0xa662a817u);
    cairn_wr w;
    cairn__wr_init(&w, 1024);
    assert_int_equal(cairn__note_vkey_encode(&w, NAME, strlen(NAME),
                                             CAIRN_NOTE_ALG_ED25519, k.pk),
                     CAIRN_OK);
    char *vk = wr_take(&w, NULL);
    assert_string_equal(vk, GO_VKEY);
    free(vk);

    cairn_note_vkey v;
    char detail[256];
    assert_int_equal(cairn__note_vkey_parse(GO_VKEY, strlen(GO_VKEY), &v,
                                            detail, sizeof(detail)),
                     CAIRN_OK);
    assert_string_equal(v.name, NAME);
    assert_int_equal(v.name_len, strlen(NAME));
    assert_int_equal(v.key_id, 0xa662a817u);
    assert_int_equal(v.alg, CAIRN_NOTE_ALG_ED25519);
    assert_memory_equal(v.pk, k.pk, 32);

    assert_int_equal(cairn__note_vkey_parse(SPEC_VKEY, strlen(SPEC_VKEY), &v,
                                            detail, sizeof(detail)),
                     CAIRN_OK);
    assert_int_equal(v.key_id, 0x530d903au);

    /* A cosigner key (type 0x04) round-trips with its own key ID. */
    cairn__wr_init(&w, 1024);
    assert_int_equal(cairn__note_vkey_encode(&w, "w.example/1", 11,
                                             CAIRN_NOTE_ALG_COSIG_V1, k.pk),
                     CAIRN_OK);
    size_t len;
    vk = wr_take(&w, &len);
    assert_int_equal(cairn__note_vkey_parse(vk, len, &v, NULL, 0), CAIRN_OK);
    assert_int_equal(v.alg, CAIRN_NOTE_ALG_COSIG_V1);
    assert_int_equal(
        v.key_id,
        cairn__note_key_id("w.example/1", 11, CAIRN_NOTE_ALG_COSIG_V1, k.pk));
    assert_int_not_equal(
        v.key_id,
        cairn__note_key_id("w.example/1", 11, CAIRN_NOTE_ALG_ED25519, k.pk));
    free(vk);

    /* Bad arguments to the encoder. */
    cairn__wr_init(&w, 1024);
    assert_int_equal(cairn__note_vkey_encode(&w, "a b", 3, 1, k.pk),
                     CAIRN_EINVAL);
    assert_int_equal(cairn__note_vkey_encode(&w, "a", 1, 2, k.pk),
                     CAIRN_EINVAL);
    assert_int_equal(w.len, 0);
    cairn__wr_free(&w);
}

static void test_vkey_negative(void **state)
{
    (void)state;
    vkey_fails("", "byte 0: verifier key has no '+'");
    vkey_fails("example.com/foo", "byte 15: verifier key has no '+'");
    vkey_fails("+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
               "byte 0: invalid key name");
    vkey_fails("exa mple+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
               "byte 0: invalid key name");
    vkey_fails("ex\xffz+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
               "byte 0: invalid key name");
    vkey_fails("example.com/foo+530D903A+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcr"
               "nKv3U2k",
               "byte 16: key ID is not 8 lowercase hex digits");
    vkey_fails("example.com/foo+530d903+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrn"
               "Kv3U2k",
               "byte 16: key ID is not 8 lowercase hex digits");
    vkey_fails("example.com/foo+530d903a", "byte 16: key ID is not 8");
    vkey_fails("example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYc"
               "rnKv3U2",
               "byte 25: key is not canonical base64 of 33 bytes");
    vkey_fails("example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYc"
               "rnKv3U2k\n",
               "byte 25: key is not canonical base64 of 33 bytes");
    vkey_fails("example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYc"
               "rnKv3U2!",
               "byte 25: key is not canonical base64 of 33 bytes");
    vkey_fails("example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYc"
               "rnKv3U\xc3\xa9",
               "byte 25: key is not canonical base64 of 33 bytes");
    /* Type 0x02 (ECDSA) with a 32-byte key: "Ak..." */
    vkey_fails("example.com/foo+530d903a+AkkyeRrm56hApGFkyQR4ZCbV54Id2LKaANYc"
               "rnKv3U2k",
               "byte 25: unknown signature type 0x02");
    vkey_fails("example.com/foo+530d903b+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYc"
               "rnKv3U2k",
               "byte 16: key ID 530d903b does not match the key");
    vkey_fails("example.com/fop+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYc"
               "rnKv3U2k",
               "byte 16: key ID 530d903a does not match the key");
    char detail[64];
    cairn_note_vkey v;
    assert_int_equal(cairn__note_vkey_parse(NULL, 0, NULL, detail, 64),
                     CAIRN_EINVAL);
    char big[CAIRN_NOTE_VKEY_MAX + 2];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(
        cairn__note_vkey_parse(big, strlen(big), &v, detail, sizeof(detail)),
        CAIRN_EKEY);
    assert_string_equal(detail, "byte 309: verifier key longer than 309 bytes");
}

/* ---------------------------------------------------------------- */
/* Notes                                                            */

static void test_note_golden(void **state)
{
    (void)state;
    keypair k = key_from(0);
    /* Ed25519 is deterministic: C's note is Go's note, byte for byte. */
    char *mine = sign_note(GO_TEXT, NAME, &k);
    assert_string_equal(mine, GO_NOTE);
    free(mine);

    cairn_note n;
    char detail[256];
    const char *s = GO_NOTE;
    assert_int_equal(
        cairn__note_parse(s, strlen(s), &n, detail, sizeof(detail)), CAIRN_OK);
    assert_ptr_equal(n.text, s);
    assert_int_equal(n.text_len, strlen(GO_TEXT));
    assert_int_equal(n.n_sigs, 1);
    assert_int_equal(n.sigs[0].name_len, strlen(NAME));
    assert_memory_equal(n.sigs[0].name, NAME, strlen(NAME));
    assert_int_equal(n.sigs[0].key_id, 0xa662a817u);
    assert_int_equal(n.sigs[0].sig_len, 64);
    assert_int_equal(cairn__note_verify(&n, NAME, strlen(NAME), k.pk, detail,
                                        sizeof(detail)),
                     CAIRN_OK);
    assert_string_equal(detail, "");

    cairn_wr w;
    cairn__wr_init(&w, CAIRN_NOTE_MAX_BYTES);
    assert_int_equal(cairn__note_encode(&w, &n), CAIRN_OK);
    char *back = wr_take(&w, NULL);
    assert_string_equal(back, s);
    free(back);
}

static void test_spec_example(void **state)
{
    (void)state;
    cairn_note_vkey v;
    cairn_note n;
    char detail[256];
    assert_int_equal(
        cairn__note_vkey_parse(SPEC_VKEY, strlen(SPEC_VKEY), &v, NULL, 0),
        CAIRN_OK);
    assert_int_equal(cairn__note_parse(SPEC_NOTE, strlen(SPEC_NOTE), &n, detail,
                                       sizeof(detail)),
                     CAIRN_OK);
    assert_int_equal(n.text_len, strlen("This is an example message.\n"));
    assert_int_equal(cairn__note_verify(&n, v.name, v.name_len, v.pk, detail,
                                        sizeof(detail)),
                     CAIRN_OK);
}

static void test_note_negative(void **state)
{
    (void)state;
    keypair k = key_from(0);
    char *good = sign_note("hello\n", "a.example", &k);
    size_t glen = strlen(good);
    /* "hello\n" "\n" "— a.example <92 chars>\n": the line starts at 7. */
    assert_int_equal(glen, 7 + 4 + 9 + 1 + 92 + 1);
    const char *b64 = good + 7 + 4 + 10;
    char buf[512];

    note_fails("hello\n\xe2\x80\x93 a.example x\n", 22, CAIRN_ECORRUPT,
               "byte 22: no blank line");
    /* en dash U+2013 instead of the em dash */
    memcpy(buf, good, glen + 1);
    buf[9] = '\x93';
    note_fails(buf, glen, CAIRN_ECORRUPT,
               "byte 7: signature line does not start with an em dash");
    /* ASCII hyphen */
    snprintf(buf, sizeof(buf), "hello\n\n- a.example %s", b64);
    note_fails(buf, strlen(buf), CAIRN_ECORRUPT,
               "byte 7: signature line does not start with an em dash");
    /* em dash without its space */
    snprintf(buf, sizeof(buf),
             "hello\n\n\xe2\x80\x94"
             "a.example %s",
             b64);
    note_fails(buf, strlen(buf), CAIRN_ECORRUPT,
               "byte 7: signature line does not start with an em dash");
    /* missing final newline */
    note_fails(good, glen - 1, CAIRN_ECORRUPT,
               "byte 113: last signature line does not end in a newline");
    /* no blank line at all */
    snprintf(buf, sizeof(buf), "hello\n" DASH "a.example %s", b64);
    note_fails(buf, strlen(buf), CAIRN_ECORRUPT,
               "byte 113: no blank line before the signatures");
    /* nothing after the blank line */
    note_fails("hello\n\n", 7, CAIRN_ECORRUPT, "byte 7: no signature lines");
    note_fails("", 0, CAIRN_ECORRUPT, "byte 0: no blank line");
    /* no space after the name */
    note_fails("hello\n\n" DASH "a.example\n", 21, CAIRN_ECORRUPT,
               "byte 11: signature line has no space after the key name");
    /* invalid names */
    snprintf(buf, sizeof(buf), "hello\n\n" DASH "a+b %s", b64);
    note_fails(buf, strlen(buf), CAIRN_ECORRUPT, "byte 11: invalid key name");
    snprintf(buf, sizeof(buf), "hello\n\n" DASH " %s", b64);
    note_fails(buf, strlen(buf), CAIRN_ECORRUPT, "byte 11: invalid key name");
    snprintf(buf, sizeof(buf), "hello\n\n" DASH "a\xc2\xa0 %s", b64);
    note_fails(buf, strlen(buf), CAIRN_ECORRUPT, "byte 11: invalid key name");
    /* a non-UTF-8 name: the whole note must be UTF-8 */
    snprintf(buf, sizeof(buf), "hello\n\n" DASH "a\xc3\x28 %s", b64);
    note_fails(buf, strlen(buf), CAIRN_ECORRUPT, "byte 12: invalid UTF-8");
    /* two spaces */
    snprintf(buf, sizeof(buf), "hello\n\n" DASH "a.example  %s", b64);
    note_fails(buf, strlen(buf), CAIRN_ECORRUPT,
               "byte 21: signature is not canonical base64");
    /* bad base64 character, empty, short, not a multiple of 4 */
    memcpy(buf, good, glen + 1);
    buf[30] = '!';
    note_fails(buf, glen, CAIRN_ECORRUPT,
               "byte 21: signature is not canonical base64 of 5 to 8192");
    memcpy(buf, good, glen + 1);
    buf[30] = '\xc3';
    buf[31] = '\xa9';
    note_fails(buf, glen, CAIRN_ECORRUPT,
               "byte 21: signature is not canonical base64 of 5 to 8192");
    note_fails("hello\n\n" DASH "a.example \n", 22, CAIRN_ECORRUPT,
               "byte 21: signature is not canonical base64");
    note_fails("hello\n\n" DASH "a.example AAAAAA==\n", 30, CAIRN_ECORRUPT,
               "byte 21: signature is not canonical base64");
    /* 5 bytes (key ID and one byte) is the shortest signature */
    cairn_note n5;
    assert_int_equal(cairn__note_parse("hello\n\n" DASH "a.example AAAAAAA=\n",
                                       30, &n5, NULL, 0),
                     CAIRN_OK);
    assert_int_equal(n5.sigs[0].sig_len, 1);
    note_fails("hello\n\n" DASH "a.example AAAAAAA\n", 29, CAIRN_ECORRUPT,
               "byte 21: signature is not canonical base64");
    /* non-canonical base64: the last character's two unused bits set
     * (68 bytes end in a group of 2: 3 characters and "=") */
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    memcpy(buf, good, glen + 1);
    assert_int_equal(buf[glen - 2], '=');
    const char *at = strchr(alphabet, buf[glen - 3]);
    assert_non_null(at);
    assert_int_equal((at - alphabet) & 3, 0);
    buf[glen - 3] = alphabet[(at - alphabet) | 1];
    note_fails(buf, glen, CAIRN_ECORRUPT,
               "byte 21: signature is not canonical base64");
    /* control characters and bad UTF-8 in the text */
    memcpy(buf, good, glen + 1);
    buf[2] = '\0';
    note_fails(buf, glen, CAIRN_ECORRUPT, "byte 2: control character 0x00");
    buf[2] = '\r';
    note_fails(buf, glen, CAIRN_ECORRUPT, "byte 2: control character 0x0d");
    buf[2] = '\t';
    note_fails(buf, glen, CAIRN_ECORRUPT, "byte 2: control character 0x09");
    buf[2] = '\xff';
    note_fails(buf, glen, CAIRN_ECORRUPT, "byte 2: invalid UTF-8");
    buf[2] = '\xc3';
    note_fails(buf, glen, CAIRN_ECORRUPT, "byte 2: invalid UTF-8");
    /* a duplicate line of the same key */
    char *dup = cat3(good, good + 7, "");
    note_fails(dup, strlen(dup), CAIRN_ECORRUPT,
               "byte 114: second signature line of key a.example+");
    free(dup);
    /* NULL arguments */
    cairn_note n;
    assert_int_equal(cairn__note_parse(NULL, 1, &n, NULL, 0), CAIRN_EINVAL);
    assert_int_equal(cairn__note_parse("x", 1, NULL, NULL, 0), CAIRN_EINVAL);

    /* Empty lines in the text are allowed: the last blank line splits. */
    snprintf(buf, sizeof(buf), "a\n\nb\n\n\n" DASH "a.example %s", b64);
    assert_int_equal(cairn__note_parse(buf, strlen(buf), &n, NULL, 0),
                     CAIRN_OK);
    assert_int_equal(n.text_len, 6); /* "a\n\nb\n\n" */
    free(good);
}

static void test_verify_outcomes(void **state)
{
    (void)state;
    keypair k = key_from(0);
    keypair other = key_from(100);
    char *note = sign_note("hello\n", "a.example", &k);
    cairn_note n;
    char detail[256];
    assert_int_equal(cairn__note_parse(note, strlen(note), &n, NULL, 0),
                     CAIRN_OK);
    uint32_t id =
        cairn__note_key_id("a.example", 9, CAIRN_NOTE_ALG_ED25519, k.pk);
    char want[128];

    /* Another key of the same name: a key mismatch, not tampering. */
    assert_int_equal(cairn__note_verify(&n, "a.example", 9, other.pk, detail,
                                        sizeof(detail)),
                     CAIRN_EKEYMISMATCH);
    snprintf(want, sizeof(want),
             "no signature by key a.example+%08x (signed by a.example+%08x)",
             (unsigned)cairn__note_key_id("a.example", 9, 1, other.pk),
             (unsigned)id);
    assert_string_equal(detail, want);
    /* Same key, another name. */
    assert_int_equal(
        cairn__note_verify(&n, "b.example", 9, k.pk, detail, sizeof(detail)),
        CAIRN_EKEYMISMATCH);
    /* The same key ID under another name is still another key. */
    n.sigs[0].name = "b.example";
    assert_int_equal(
        cairn__note_verify(&n, "a.example", 9, k.pk, detail, sizeof(detail)),
        CAIRN_EKEYMISMATCH);
    n.sigs[0].name = note + 7 + 4;

    /* A changed text: the key's line does not verify. */
    note[0] = 'j';
    assert_int_equal(cairn__note_parse(note, strlen(note), &n, NULL, 0),
                     CAIRN_OK);
    assert_int_equal(
        cairn__note_verify(&n, "a.example", 9, k.pk, detail, sizeof(detail)),
        CAIRN_ETAMPERED);
    snprintf(want, sizeof(want),
             "signature line 1 by key a.example+%08x does not verify",
             (unsigned)id);
    assert_string_equal(detail, want);
    note[0] = 'h';

    /* Lines of unknown keys are ignored, before and after ours. */
    char *by_other = sign_note("hello\n", "b.example", &other);
    char *mixed = cat3(by_other, note + 7, "");
    char *mixed2 = cat3(note, by_other + 7, "");
    assert_int_equal(cairn__note_parse(mixed, strlen(mixed), &n, NULL, 0),
                     CAIRN_OK);
    assert_int_equal(n.n_sigs, 2);
    assert_int_equal(cairn__note_verify(&n, "a.example", 9, k.pk, NULL, 0),
                     CAIRN_OK);
    assert_int_equal(cairn__note_verify(&n, "b.example", 9, other.pk, NULL, 0),
                     CAIRN_OK);
    assert_int_equal(cairn__note_parse(mixed2, strlen(mixed2), &n, NULL, 0),
                     CAIRN_OK);
    assert_int_equal(cairn__note_verify(&n, "a.example", 9, k.pk, NULL, 0),
                     CAIRN_OK);

    /* A line of our name and key ID whose signature has the wrong length
     * (5 bytes: key ID and one byte) is a bad signature of the key. */
    cairn_wr w;
    cairn__wr_init(&w, 4096);
    cairn__wr_bytes(&w, "hello\n\n", 7);
    uint8_t one = 7;
    assert_int_equal(cairn__note_sig_line(&w, "a.example", 9, id, &one, 1),
                     CAIRN_OK);
    size_t len;
    char *shortsig = wr_take(&w, &len);
    assert_int_equal(cairn__note_parse(shortsig, len, &n, NULL, 0), CAIRN_OK);
    assert_int_equal(n.sigs[0].sig_len, 1);
    assert_int_equal(
        cairn__note_verify(&n, "a.example", 9, k.pk, detail, sizeof(detail)),
        CAIRN_ETAMPERED);
    assert_int_equal(cairn__note_verify(NULL, "a", 1, k.pk, NULL, 0),
                     CAIRN_EINVAL);
    assert_int_equal(cairn__note_verify(&n, "a b", 3, k.pk, NULL, 0),
                     CAIRN_EINVAL);
    free(shortsig);
    free(mixed);
    free(mixed2);
    free(by_other);
    free(note);
}

static void test_sign_rejects(void **state)
{
    (void)state;
    keypair k = key_from(0);
    cairn_wr w;
    char detail[256];
    cairn__wr_init(&w, 4096);
    assert_int_equal(
        cairn__note_sign(&w, "hello", 5, "a", 1, k.sk, detail, sizeof(detail)),
        CAIRN_EINVAL);
    assert_string_equal(detail, "byte 5: text does not end in a newline");
    assert_int_equal(cairn__note_sign(&w, "he\rllo\n", 7, "a", 1, k.sk, detail,
                                      sizeof(detail)),
                     CAIRN_EINVAL);
    assert_string_equal(detail, "byte 2: control character 0x0d");
    assert_int_equal(
        cairn__note_sign(&w, "", 0, "a", 1, k.sk, detail, sizeof(detail)),
        CAIRN_EINVAL);
    assert_int_equal(
        cairn__note_sign(&w, "x\n", 2, "a b", 3, k.sk, detail, sizeof(detail)),
        CAIRN_EINVAL);
    assert_string_equal(detail, "invalid key name");
    assert_int_equal(w.len, 0);
    uint8_t sig[CAIRN_NOTE_MAX_SIG];
    memset(sig, 0, sizeof(sig));
    assert_int_equal(cairn__note_sig_line(&w, "a", 1, 1, sig, 0), CAIRN_EINVAL);
    assert_int_equal(
        cairn__note_sig_line(&w, "a", 1, 1, sig, CAIRN_NOTE_MAX_SIG - 3),
        CAIRN_EINVAL);
    assert_int_equal(w.len, 0);
    /* The longest signature a line may carry parses back. */
    cairn__wr_free(&w);
    cairn__wr_init(&w, CAIRN_NOTE_MAX_BYTES);
    cairn__wr_bytes(&w, "x\n\n", 3);
    assert_int_equal(
        cairn__note_sig_line(&w, "a", 1, 1, sig, CAIRN_NOTE_MAX_SIG - 4),
        CAIRN_OK);
    cairn_note n;
    assert_int_equal(cairn__note_parse((const char *)w.p, w.len, &n, NULL, 0),
                     CAIRN_OK);
    assert_int_equal(n.sigs[0].sig_len, CAIRN_NOTE_MAX_SIG - 4);
    assert_int_equal(n.sigs[0].key_id, 1);
    cairn__wr_free(&w);
}

static void test_limits(void **state)
{
    (void)state;
    keypair k = key_from(0);
    /* The longest text signs and parses; one byte more does not. */
    char *text = malloc(CAIRN_NOTE_MAX_TEXT + 2);
    assert_non_null(text);
    memset(text, 'x', CAIRN_NOTE_MAX_TEXT + 1);
    text[CAIRN_NOTE_MAX_TEXT - 1] = '\n';
    text[CAIRN_NOTE_MAX_TEXT] = '\0';
    char *note = sign_note(text, "a", &k);
    cairn_note n;
    char detail[256];
    assert_int_equal(
        cairn__note_parse(note, strlen(note), &n, detail, sizeof(detail)),
        CAIRN_OK);
    assert_int_equal(n.text_len, CAIRN_NOTE_MAX_TEXT);
    assert_int_equal(cairn__note_verify(&n, "a", 1, k.pk, NULL, 0), CAIRN_OK);
    char *longer = cat3("y", note, "");
    note_fails(longer, strlen(longer), CAIRN_ECORRUPT,
               "byte 65536: text longer than 65536 bytes");
    free(longer);
    free(note);
    text[CAIRN_NOTE_MAX_TEXT - 1] = 'x';
    text[CAIRN_NOTE_MAX_TEXT] = '\n';
    cairn_wr w;
    cairn__wr_init(&w, CAIRN_NOTE_MAX_BYTES);
    assert_int_equal(cairn__note_sign(&w, text, CAIRN_NOTE_MAX_TEXT + 1, "a", 1,
                                      k.sk, detail, sizeof(detail)),
                     CAIRN_EINVAL);
    assert_string_equal(detail, "byte 65536: text longer than 65536 bytes");
    cairn__wr_free(&w);
    free(text);

    /* 100 signature lines of distinct keys parse; 101 do not. */
    cairn__wr_init(&w, CAIRN_NOTE_MAX_BYTES);
    cairn__wr_bytes(&w, "t\n\n", 3);
    uint8_t sig[64] = {0};
    for (uint32_t i = 0; i < CAIRN_NOTE_MAX_SIGS; i++) {
        assert_int_equal(cairn__note_sig_line(&w, "k", 1, i, sig, 64),
                         CAIRN_OK);
    }
    assert_int_equal(cairn__note_parse((const char *)w.p, w.len, &n, NULL, 0),
                     CAIRN_OK);
    assert_int_equal(n.n_sigs, CAIRN_NOTE_MAX_SIGS);
    assert_int_equal(cairn__note_verify(&n, "k", 1, k.pk, NULL, 0),
                     CAIRN_EKEYMISMATCH);
    size_t at = w.len;
    assert_int_equal(cairn__note_sig_line(&w, "k", 1, 100, sig, 64), CAIRN_OK);
    char want[64];
    snprintf(want, sizeof(want), "byte %zu: more than 100 signature lines", at);
    note_fails((const char *)w.p, w.len, CAIRN_ECORRUPT, want);
    cairn__wr_free(&w);

    /* The whole note is bounded too. */
    size_t big = CAIRN_NOTE_MAX_BYTES + 1;
    char *huge = malloc(big);
    assert_non_null(huge);
    memset(huge, '\n', big);
    note_fails(huge, big, CAIRN_ECORRUPT,
               "byte 131072: note longer than 131072 bytes");
    free(huge);
}

/* Every single-byte change of a signed note is refused: by the parser, or
 * by the verifier as tampering or a key mismatch.  Never CAIRN_OK. */
static void test_every_byte_change(void **state)
{
    (void)state;
    keypair k = key_from(0);
    char *note = sign_note(GO_TEXT, NAME, &k);
    size_t len = strlen(note);
    cairn_note n;
    static const uint8_t deltas[] = {0x01, 0x02, 0x20, 0x80, 0xff};
    size_t parse_err = 0, tampered = 0, mismatch = 0;
    for (size_t i = 0; i < len; i++) {
        for (size_t d = 0; d < sizeof(deltas); d++) {
            note[i] = (char)((uint8_t)note[i] ^ deltas[d]);
            cairn_err err = cairn__note_parse(note, len, &n, NULL, 0);
            if (err == CAIRN_OK) {
                err = cairn__note_verify(&n, NAME, strlen(NAME), k.pk, NULL, 0);
            } else {
                assert_int_equal(err, CAIRN_ECORRUPT);
            }
            if (err == CAIRN_OK) {
                fail_msg("byte %zu ^ 0x%02x verifies", i, deltas[d]);
            }
            parse_err += err == CAIRN_ECORRUPT;
            tampered += err == CAIRN_ETAMPERED;
            mismatch += err == CAIRN_EKEYMISMATCH;
            note[i] = (char)((uint8_t)note[i] ^ deltas[d]);
        }
        /* every prefix is refused too */
        assert_int_not_equal(cairn__note_parse(note, i, &n, NULL, 0), CAIRN_OK);
    }
    assert_true(parse_err > 0 && tampered > 0 && mismatch > 0);
    free(note);
}

/* ---------------------------------------------------------------- */
/* Checkpoints                                                      */

static void test_checkpoint_golden(void **state)
{
    (void)state;
    cairn_tlog_checkpoint cp;
    char detail[256];
    const char *t = GO_TEXT;
    assert_int_equal(
        cairn__tlog_checkpoint_parse(t, strlen(t), &cp, detail, sizeof(detail)),
        CAIRN_OK);
    assert_int_equal(cp.origin_len, strlen(NAME));
    assert_memory_equal(cp.origin, NAME, strlen(NAME));
    assert_int_equal(cp.size, 42);
    uint8_t root[32];
    cairn__sha256("root", 4, root);
    assert_memory_equal(cp.root, root, 32);
    assert_int_equal(cp.n_ext, 2);
    size_t pos = 0;
    const char *line;
    size_t line_len;
    assert_true(cairn__tlog_checkpoint_next_ext(&cp, &pos, &line, &line_len));
    assert_int_equal(line_len, strlen("cairn-state 3 ") + 44);
    assert_memory_equal(line, "cairn-state 3 ", 14);
    assert_true(cairn__tlog_checkpoint_next_ext(&cp, &pos, &line, &line_len));
    assert_int_equal(line_len, strlen("cairn-time 1764000000123456789"));
    assert_memory_equal(line, "cairn-time 1764000000123456789", line_len);
    assert_false(cairn__tlog_checkpoint_next_ext(&cp, &pos, &line, &line_len));

    cairn_wr w;
    cairn__wr_init(&w, CAIRN_NOTE_MAX_TEXT);
    assert_int_equal(cairn__tlog_checkpoint_encode(&w, &cp), CAIRN_OK);
    char *back = wr_take(&w, NULL);
    assert_string_equal(back, t);
    free(back);

    /* The C2SP example, without extension lines, and the extremes. */
    const char *spec = "example.com/behind-the-sofa\n20852163\n"
                       "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
    assert_int_equal(
        cairn__tlog_checkpoint_parse(spec, strlen(spec), &cp, NULL, 0),
        CAIRN_OK);
    assert_int_equal(cp.size, 20852163);
    assert_int_equal(cp.n_ext, 0);
    assert_int_equal(cp.ext_len, 0);
    assert_false(cairn__tlog_checkpoint_next_ext(&cp, &pos, &line, &line_len));
    const char *zero = "o\n0\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
    assert_int_equal(
        cairn__tlog_checkpoint_parse(zero, strlen(zero), &cp, NULL, 0),
        CAIRN_OK);
    assert_int_equal(cp.size, 0);
    const char *max = "o\n9223372036854775807\n"
                      "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
    assert_int_equal(
        cairn__tlog_checkpoint_parse(max, strlen(max), &cp, NULL, 0), CAIRN_OK);
    assert_int_equal(cp.size, CAIRN_TLOG_MAX_SIZE);
}

static void test_checkpoint_negative(void **state)
{
    (void)state;
#define ROOT "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
    cp_fails("", "byte 0: empty text");
    cp_fails("\n1\n" ROOT "\n", "byte 0: empty origin line");
    cp_fails("o\n", "byte 2: missing tree size line");
    cp_fails("o\n1\n", "byte 4: missing root hash line");
    cp_fails("o\n1\n" ROOT, "byte 48: text does not end in a newline");
    static const char *sizes[] = {"",
                                  "01",
                                  "00",
                                  "+1",
                                  " 1",
                                  "1 ",
                                  "-1",
                                  "1a",
                                  "0x1",
                                  "9223372036854775808",
                                  "18446744073709551616",
                                  "99999999999999999999"};
    for (size_t i = 0; i < CAIRN_ARRAY_LEN(sizes); i++) {
        char buf[128];
        snprintf(buf, sizeof(buf), "o\n%s\n" ROOT "\n", sizes[i]);
        cp_fails(buf, "byte 2: tree size is not a decimal of at most 2^63 - "
                      "1 without leading zeros");
    }
    const char *roots[] = {
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",      /* no padding */
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB=",     /* unused bits */
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==",     /* 31 bytes */
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==", /* 33 bytes */
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA-=",     /* URL alphabet */
        " AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "",
        /* bytes >= 0x80 (here U+0080, valid UTF-8): libsodium 1.0.18's
         * sodium_base642bin decodes this to 32 bytes */
        "AAAAAAAAAA\xc2\x80"
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    };
    for (size_t i = 0; i < CAIRN_ARRAY_LEN(roots); i++) {
        char buf[128];
        snprintf(buf, sizeof(buf), "o\n1\n%s\n", roots[i]);
        cp_fails(buf, "byte 4: root hash is not canonical base64 of 32 bytes");
    }
    /* Two blank lines: an empty extension line. */
    cp_fails("o\n1\n" ROOT "\n\n", "byte 49: empty extension line");
    cp_fails("o\n1\n" ROOT "\next\n\n", "byte 53: empty extension line");
    cp_fails("o\n1\n" ROOT "\nex\x01t\n", "byte 51: control character 0x01");
    cp_fails_n("o\0\n1\n" ROOT "\n", 50, "byte 1: control character 0x00");
    cp_fails("o\xfe\n1\n" ROOT "\n", "byte 1: invalid UTF-8");
    /* The origin may hold spaces (only a SHOULD in the spec). */
    cairn_tlog_checkpoint cp;
    const char *spaced = "my log\n1\n" ROOT "\n";
    assert_int_equal(
        cairn__tlog_checkpoint_parse(spaced, strlen(spaced), &cp, NULL, 0),
        CAIRN_OK);

    /* The encoder refuses what the parser would. */
    cairn_wr w;
    cairn__wr_init(&w, CAIRN_NOTE_MAX_TEXT);
    memset(&cp, 0, sizeof(cp));
    cp.origin = "o";
    cp.origin_len = 1;
    cp.size = CAIRN_TLOG_MAX_SIZE + 1;
    assert_int_equal(cairn__tlog_checkpoint_encode(&w, &cp), CAIRN_EINVAL);
    cp.size = 1;
    cp.origin_len = 0;
    assert_int_equal(cairn__tlog_checkpoint_encode(&w, &cp), CAIRN_EINVAL);
    cp.origin = "o\np";
    cp.origin_len = 3;
    assert_int_equal(cairn__tlog_checkpoint_encode(&w, &cp), CAIRN_EINVAL);
    cp.origin_len = 1;
    cp.ext = "a\n\nb\n";
    cp.ext_len = 5;
    cp.n_ext = 2;
    assert_int_equal(cairn__tlog_checkpoint_encode(&w, &cp), CAIRN_EINVAL);
    cp.ext = "a\nb";
    cp.ext_len = 3;
    assert_int_equal(cairn__tlog_checkpoint_encode(&w, &cp), CAIRN_EINVAL);
    cp.ext = "a\nb\n";
    cp.ext_len = 4;
    cp.n_ext = 1; /* wrong count */
    assert_int_equal(cairn__tlog_checkpoint_encode(&w, &cp), CAIRN_EINVAL);
    assert_int_equal(w.len, 0);
    cp.n_ext = 2;
    assert_int_equal(cairn__tlog_checkpoint_encode(&w, &cp), CAIRN_OK);
    char *s = wr_take(&w, NULL);
    assert_string_equal(s, "o\n1\n" ROOT "\na\nb\n");
    free(s);
#undef ROOT
}

/* ---------------------------------------------------------------- */
/* Cosignatures                                                     */

#define EXT_ROOT "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="

/* cairn's two extension lines of a journal head: the number of the first
 * wrong line, n_ext + 1 when they are missing. */
static size_t cairn_ext(const char *ext, uint64_t *runs, uint64_t *t)
{
    char text[512];
    uint8_t root[32];
    cairn_tlog_checkpoint cp;
    char why[200];
    snprintf(text, sizeof(text), "o\n1\n" EXT_ROOT "\n%s", ext);
    assert_int_equal(
        cairn__tlog_checkpoint_parse(text, strlen(text), &cp, why, sizeof(why)),
        CAIRN_OK);
    return cairn__tlog_cairn_ext_parse(&cp, runs, root, t);
}

static void test_cairn_ext(void **state)
{
    (void)state;
    uint64_t runs = 0, t = 0;
    assert_int_equal(
        cairn_ext("cairn-state 7 " EXT_ROOT "\ncairn-time 0\n", &runs, &t), 0);
    assert_int_equal(runs, 7);
    assert_int_equal(t, 0);
    assert_int_equal(cairn_ext("cairn-state 0 " EXT_ROOT
                               "\ncairn-time 9223372036854775807\n",
                               &runs, &t),
                     0);
    assert_true(t == UINT64_C(9223372036854775807));
    assert_int_equal(cairn_ext("", &runs, &t), 1);
    assert_int_equal(cairn_ext("cairn-state 7 " EXT_ROOT "\n", &runs, &t), 2);
    assert_int_equal(
        cairn_ext("cairn-state 7 " EXT_ROOT "\ncairn-time 1\nx\n", &runs, &t),
        3);
    assert_int_equal(
        cairn_ext("cairn-time 1\ncairn-state 7 " EXT_ROOT "\n", &runs, &t), 1);
    assert_int_equal(
        cairn_ext("cairn-state 07 " EXT_ROOT "\ncairn-time 1\n", &runs, &t), 1);
    assert_int_equal(
        cairn_ext("cairn-state 7  " EXT_ROOT "\ncairn-time 1\n", &runs, &t), 1);
    assert_int_equal(cairn_ext("cairn-state 7 AAAA\ncairn-time 1\n", &runs, &t),
                     1);
    assert_int_equal(cairn_ext("cairn-state 7 " EXT_ROOT
                               "\ncairn-time 9223372036854775808\n",
                               &runs, &t),
                     2);
    assert_int_equal(
        cairn_ext("cairn-state 7 " EXT_ROOT "\ncairn-time -1\n", &runs, &t), 2);
    assert_int_equal(
        cairn_ext("cairn-state 7 " EXT_ROOT "\ncairn-time \n", &runs, &t), 2);
}
#undef EXT_ROOT

static void test_cosig_golden(void **state)
{
    (void)state;
    keypair log = key_from(0);
    keypair wit = key_from(0x20);
    cairn_note n;
    char detail[256];
    const char *s = GO_COSIGNED;
    assert_int_equal(
        cairn__note_parse(s, strlen(s), &n, detail, sizeof(detail)), CAIRN_OK);
    assert_int_equal(n.n_sigs, 2);
    uint64_t ts = 1;
    assert_int_equal(cairn__cosig_verify(&n, "witness.example/w1", 18, wit.pk,
                                         &ts, detail, sizeof(detail)),
                     CAIRN_OK);
    assert_int_equal(ts, 1700000000);
    /* The log's own signature is unaffected by the cosignature line. */
    assert_int_equal(
        cairn__note_verify(&n, NAME, strlen(NAME), log.pk, NULL, 0), CAIRN_OK);
    /* A cosigner key is not a log key: type 0x01 vs 0x04. */
    assert_int_equal(
        cairn__note_verify(&n, "witness.example/w1", 18, wit.pk, NULL, 0),
        CAIRN_EKEYMISMATCH);
    assert_int_equal(
        cairn__cosig_verify(&n, NAME, strlen(NAME), log.pk, &ts, NULL, 0),
        CAIRN_EKEYMISMATCH);
    assert_int_equal(ts, 0);

    /* C's cosignature line is Go's, byte for byte. */
    cairn_wr w;
    cairn__wr_init(&w, 4096);
    assert_int_equal(cairn__cosig_line(&w, GO_TEXT, strlen(GO_TEXT),
                                       "witness.example/w1", 18, 1700000000,
                                       wit.sk),
                     CAIRN_OK);
    char *line = wr_take(&w, NULL);
    assert_string_equal(line, GO_COSIG_LINE);
    free(line);

    /* The signed message, as the spec's example lays it out. */
    cairn__wr_init(&w, 4096);
    const char *cp = "example.com/behind-the-sofa\n20852163\n"
                     "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
    assert_int_equal(cairn__cosig_message(&w, 1679315147, cp, strlen(cp)),
                     CAIRN_OK);
    char *msg = wr_take(&w, NULL);
    assert_string_equal(msg, "cosignature/v1\ntime 1679315147\n"
                             "example.com/behind-the-sofa\n20852163\n"
                             "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n");
    free(msg);
    cairn__wr_init(&w, 4096);
    assert_int_equal(cairn__cosig_message(&w, 0, "x\n", 2), CAIRN_OK);
    msg = wr_take(&w, NULL);
    assert_string_equal(msg, "cosignature/v1\ntime 0\nx\n");
    free(msg);
    cairn__wr_init(&w, 4096);
    assert_int_equal(
        cairn__cosig_message(&w, CAIRN_TLOG_MAX_SIZE + 1, "x\n", 2),
        CAIRN_EINVAL);
    assert_int_equal(cairn__cosig_line(&w, "x\n", 2, "w", 1,
                                       CAIRN_TLOG_MAX_SIZE + 1, wit.sk),
                     CAIRN_EINVAL);
    assert_int_equal(cairn__cosig_line(&w, "x", 1, "w", 1, 1, wit.sk),
                     CAIRN_EINVAL);
    assert_int_equal(cairn__cosig_line(&w, "x\n", 2, "w w", 3, 1, wit.sk),
                     CAIRN_EINVAL);
    assert_int_equal(w.len, 0);
    cairn__wr_free(&w);
}

/* Cosign "x\n" as w with a hand-made payload (timestamp, signature). */
static char *cosigned_by_hand(const keypair *k, uint64_t ts_in_line,
                              uint64_t ts_signed, size_t payload_len)
{
    cairn_wr m;
    cairn__wr_init(&m, 4096);
    assert_int_equal(cairn__cosig_message(&m, ts_signed, "x\n", 2), CAIRN_OK);
    uint8_t payload[8 + 64 + 1] = {0};
    cairn__store64_be(payload, ts_in_line);
    assert_int_equal(cairn__ed25519_sign(payload + 8, m.p, m.len, k->sk),
                     CAIRN_OK);
    cairn__wr_free(&m);
    cairn_wr w;
    cairn__wr_init(&w, 4096);
    cairn__wr_bytes(&w, "x\n\n", 3);
    assert_int_equal(
        cairn__note_sig_line(
            &w, "w", 1,
            cairn__note_key_id("w", 1, CAIRN_NOTE_ALG_COSIG_V1, k->pk), payload,
            payload_len),
        CAIRN_OK);
    return wr_take(&w, NULL);
}

static void test_cosig_negative(void **state)
{
    (void)state;
    keypair wit = key_from(0x20);
    cairn_note n;
    uint64_t ts = 9;
    char detail[256];
    /* By hand, per the spec: verifies. */
    char *s = cosigned_by_hand(&wit, 77, 77, 72);
    assert_int_equal(cairn__note_parse(s, strlen(s), &n, NULL, 0), CAIRN_OK);
    assert_int_equal(
        cairn__cosig_verify(&n, "w", 1, wit.pk, &ts, detail, sizeof(detail)),
        CAIRN_OK);
    assert_int_equal(ts, 77);
    free(s);
    /* The timestamp in the line is not the one signed. */
    s = cosigned_by_hand(&wit, 78, 77, 72);
    assert_int_equal(cairn__note_parse(s, strlen(s), &n, NULL, 0), CAIRN_OK);
    assert_int_equal(
        cairn__cosig_verify(&n, "w", 1, wit.pk, &ts, detail, sizeof(detail)),
        CAIRN_ETAMPERED);
    assert_int_equal(ts, 0);
    assert_non_null(strstr(detail, "cosignature line 1 by w+"));
    free(s);
    /* A timestamp over 2^63 - 1, even if signed. */
    s = cosigned_by_hand(&wit, UINT64_C(1) << 63, 0, 72);
    assert_int_equal(cairn__note_parse(s, strlen(s), &n, NULL, 0), CAIRN_OK);
    assert_int_equal(cairn__cosig_verify(&n, "w", 1, wit.pk, &ts, NULL, 0),
                     CAIRN_ETAMPERED);
    free(s);
    /* A payload of the wrong length (73 bytes). */
    s = cosigned_by_hand(&wit, 77, 77, 73);
    assert_int_equal(cairn__note_parse(s, strlen(s), &n, NULL, 0), CAIRN_OK);
    assert_int_equal(cairn__cosig_verify(&n, "w", 1, wit.pk, &ts, NULL, 0),
                     CAIRN_ETAMPERED);
    free(s);
    /* A changed checkpoint body. */
    char *cosigned = strdup(GO_COSIGNED);
    assert_non_null(cosigned);
    cosigned[strlen(NAME) + 1] = '5'; /* "42" -> "52" */
    assert_int_equal(cairn__note_parse(cosigned, strlen(cosigned), &n, NULL, 0),
                     CAIRN_OK);
    assert_int_equal(
        cairn__cosig_verify(&n, "witness.example/w1", 18, wit.pk, &ts, NULL, 0),
        CAIRN_ETAMPERED);
    free(cosigned);
    assert_int_equal(cairn__cosig_verify(&n, "w", 1, wit.pk, NULL, NULL, 0),
                     CAIRN_EINVAL);
}

/* ---------------------------------------------------------------- */
/* Proofs                                                           */

/* RFC 6962 PATH(m, D[n]) length, by the recursive definition. */
static size_t ref_path_len(uint64_t m, uint64_t n)
{
    if (n <= 1) {
        return 0;
    }
    uint64_t k = 1;
    while (k * 2 < n) {
        k *= 2;
    }
    return 1 + (m < k ? ref_path_len(m, k) : ref_path_len(m - k, n - k));
}

static void test_inclusion_len(void **state)
{
    (void)state;
    for (uint64_t n = 1; n <= 70; n++) {
        for (uint64_t m = 0; m < n; m++) {
            assert_int_equal(cairn__mt_inclusion_len(m, n), ref_path_len(m, n));
        }
    }
    assert_int_equal(cairn__mt_inclusion_len(0, CAIRN_TLOG_MAX_SIZE), 63);
    assert_int_equal(
        cairn__mt_inclusion_len(CAIRN_TLOG_MAX_SIZE - 1, CAIRN_TLOG_MAX_SIZE),
        ref_path_len(CAIRN_TLOG_MAX_SIZE - 1, CAIRN_TLOG_MAX_SIZE));
    assert_int_equal(cairn__mt_inclusion_len(5, 5), 0);
}

static void test_proof_golden(void **state)
{
    (void)state;
    cairn_tlog_proof *p = malloc(sizeof(*p));
    assert_non_null(p);
    char detail[256];
    const char *s = GO_PROOF;
    assert_int_equal(
        cairn__tlog_proof_parse(s, strlen(s), p, detail, sizeof(detail)),
        CAIRN_OK);
    assert_int_equal(p->index, 5);
    assert_int_equal(p->n_hashes, 3);
    assert_int_equal(p->extra_len, 6);
    uint8_t extra[6];
    assert_int_equal(
        cairn__b64_decode(p->extra_b64, p->extra_b64_len, extra, 6), 0);
    assert_memory_equal(extra, "leaf 5", 6);
    assert_int_equal(p->checkpoint.size, 7);
    assert_int_equal(p->note_len, strlen(GO_PROOF_NOTE));
    assert_ptr_equal(p->note, s + strlen(GO_PROOF_HEAD));
    keypair k = key_from(0);
    assert_int_equal(
        cairn__note_verify(&p->parsed, "example.com/log", 15, k.pk, NULL, 0),
        CAIRN_OK);
    /* The leaf hash SHA-256(0x00 || "leaf 5") and the three hashes lead to
     * the root (RFC 6962: index 5 of 7 is a right child, then a left one,
     * then the right subtree of 3 leaves). */
    uint8_t buf[65], h[32];
    buf[0] = 0;
    memcpy(buf + 1, "leaf 5", 6);
    cairn__sha256(buf, 7, h);
    buf[0] = 1;
    memcpy(buf + 1, p->hashes[0], 32); /* leaf 4 */
    memcpy(buf + 33, h, 32);
    cairn__sha256(buf, 65, h);
    memcpy(buf + 1, h, 32);
    memcpy(buf + 33, p->hashes[1], 32); /* leaf 6 */
    cairn__sha256(buf, 65, h);
    memcpy(buf + 1, p->hashes[2], 32); /* leaves 0..3 */
    memcpy(buf + 33, h, 32);
    cairn__sha256(buf, 65, h);
    assert_memory_equal(h, p->checkpoint.root, 32);

    cairn_wr w;
    cairn__wr_init(&w, CAIRN_NOTE_MAX_BYTES * 2);
    assert_int_equal(cairn__tlog_proof_encode(&w, extra, 6, p->index,
                                              (const uint8_t(*)[32])p->hashes,
                                              p->n_hashes, p->note,
                                              p->note_len),
                     CAIRN_OK);
    char *back = wr_take(&w, NULL);
    assert_string_equal(back, s);
    free(back);

    /* Without extra data the line is left out. */
    const char *one = "c2sp.org/tlog-proof@v1\nindex 0\n\n"
                      "o\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n"
                      "\xe2\x80\x94 o AAAAAAAA\n";
    assert_int_equal(
        cairn__tlog_proof_parse(one, strlen(one), p, detail, sizeof(detail)),
        CAIRN_OK);
    assert_null(p->extra_b64);
    assert_int_equal(p->n_hashes, 0);
    cairn__wr_init(&w, CAIRN_NOTE_MAX_BYTES * 2);
    assert_int_equal(
        cairn__tlog_proof_encode(&w, NULL, 0, 0, NULL, 0, p->note, p->note_len),
        CAIRN_OK);
    back = wr_take(&w, NULL);
    assert_string_equal(back, one);
    free(back);
    cairn__wr_init(&w, 1024);
    assert_int_equal(cairn__tlog_proof_encode(
                         &w, NULL, 0, CAIRN_TLOG_MAX_SIZE + 1, NULL, 0, "", 0),
                     CAIRN_EINVAL);
    assert_int_equal(cairn__tlog_proof_encode(&w, NULL, 0, 0, NULL, 64, "", 0),
                     CAIRN_EINVAL);
    assert_int_equal(w.len, 0);
    cairn__wr_free(&w);
    free(p);
}

static void test_proof_negative(void **state)
{
    (void)state;
#define H "gxFfiUeVX6/cKifn9MCFS72Nonuxs+NAXbVxya+Nvho=\n"
    proof_fails("", "byte 0: first line is not c2sp.org/tlog-proof@v1");
    proof_fails("c2sp.org/tlog-proof@v2\nindex 5\n" H H H "\n" GO_PROOF_NOTE,
                "byte 0: first line is not");
    proof_fails("c2sp.org/tlog-proof@v1\nindex 05\n" H H H "\n" GO_PROOF_NOTE,
                "byte 23: expected \"index N\"");
    proof_fails("c2sp.org/tlog-proof@v1\nindex  5\n" H H H "\n" GO_PROOF_NOTE,
                "byte 23: expected \"index N\"");
    proof_fails("c2sp.org/tlog-proof@v1\nextra \nindex 5\n" H H H
                "\n" GO_PROOF_NOTE,
                "byte 29: extra data is not canonical non-empty base64");
    proof_fails("c2sp.org/tlog-proof@v1\nextra bGVhZiA=5\nindex 5\n" H H H
                "\n" GO_PROOF_NOTE,
                "byte 29: extra data is not canonical");
    proof_fails("c2sp.org/tlog-proof@v1\nindex 5\n" H H
                "gxFfiUeVX6/cKifn9MCFS72Nonuxs+NAXbVxya+Nvh=\n"
                "\n" GO_PROOF_NOTE,
                "byte 121: proof hash is not canonical base64 of 32 bytes");
    proof_fails(
        "c2sp.org/tlog-proof@v1\nindex 5\n" H
        "+3+GnOi3tR/fcZ/IwhpHNsmMwWCoJWB\x8f\x92" /* found by fuzz_note */
        "feKf00iYdk=\n" H "\n" GO_PROOF_NOTE,
        "byte 76: proof hash is not canonical base64 of 32 bytes");
    proof_fails("c2sp.org/tlog-proof@v1\nindex 5\n" H H H,
                "byte 166: missing blank line before the checkpoint");
    /* Two hashes where index 5 of 7 needs three. */
    proof_fails("c2sp.org/tlog-proof@v1\nindex 5\n" H H "\n" GO_PROOF_NOTE,
                "byte 122: 2 proof hashes where index 5 in a tree of 7 "
                "needs 3");
    proof_fails("c2sp.org/tlog-proof@v1\nindex 7\n" H H H "\n" GO_PROOF_NOTE,
                "byte 167: index is not below the checkpoint's tree size");
    /* The note and its checkpoint are checked; offsets count from the
     * proof's first byte. */
    proof_fails("c2sp.org/tlog-proof@v1\nindex 5\n" H H H "\n" GO_PROOF_CP,
                "byte 230: no blank line before the signatures");
    proof_fails("c2sp.org/tlog-proof@v1\nindex 0\n\n"
                "o\n01\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n"
                "\xe2\x80\x94 o AAAAAAAA\n",
                "byte 34: tree size is not a decimal");
    /* More than 63 hashes. */
    char *many = malloc(64 * 45 + 64);
    assert_non_null(many);
    strcpy(many, "c2sp.org/tlog-proof@v1\nindex 5\n");
    for (int i = 0; i < 64; i++) {
        strcat(many, H);
    }
    strcat(many, "\n");
    char want[64];
    snprintf(want, sizeof(want), "byte %d: more than 63 proof hashes",
             31 + 63 * 45);
    proof_fails(many, want);
    free(many);
#undef H
}

/* ---------------------------------------------------------------- */
/* The C side of tests/cli/interop_note.sh                          */

static int seed_pair(const char *hex, keypair *k)
{
    uint8_t seed[32];
    if (strlen(hex) != 64 || cairn__unhex(hex, seed, 32) != 0) {
        fprintf(stderr, "test_note: seed must be 64 hex digits\n");
        return -1;
    }
    return cairn__ed25519_seed_keypair(k->pk, k->sk, seed) == CAIRN_OK ? 0 : -1;
}

static int exit_of(cairn_err err)
{
    if (err == CAIRN_OK) {
        return 0;
    }
    if (err == CAIRN_EKEYMISMATCH) {
        return 3;
    }
    if (err == CAIRN_ETAMPERED) {
        return 4;
    }
    return err == CAIRN_ECORRUPT || err == CAIRN_EKEY ? 2 : 1;
}

static int put(const void *p, size_t n)
{
    return fwrite(p, 1, n, stdout) == n && fflush(stdout) == 0 ? 0 : 1;
}

static int report(const char *what, cairn_err err, const char *detail)
{
    if (err != CAIRN_OK) {
        fprintf(stderr, "test_note: %s: %s: %s\n", what, cairn_errname(err),
                detail);
    }
    return exit_of(err);
}

static int interop_note(int argc, char **argv, const char *in, size_t len)
{
    char detail[256] = "";
    cairn_note *n = malloc(sizeof(*n));
    cairn_wr w;
    cairn__wr_init(&w, 2 * CAIRN_NOTE_MAX_BYTES);
    keypair k;
    cairn_err err = CAIRN_EINVAL;
    int rc = 1;
    if (n == NULL) {
        return 1;
    }
    if (strcmp(argv[1], "sign") == 0 && argc == 5 &&
        seed_pair(argv[3], &k) == 0) {
        err = cairn__note_sign(&w, in, len, argv[2], strlen(argv[2]), k.sk,
                               detail, sizeof(detail));
    } else if (strcmp(argv[1], "verify") == 0 && argc == 4) {
        cairn_note_vkey v;
        err = cairn__note_vkey_parse(argv[2], strlen(argv[2]), &v, detail,
                                     sizeof(detail));
        if (err == CAIRN_OK) {
            err = cairn__note_parse(in, len, n, detail, sizeof(detail));
        }
        if (err == CAIRN_OK) {
            err = cairn__note_verify(n, v.name, v.name_len, v.pk, detail,
                                     sizeof(detail));
        }
        if (err == CAIRN_OK) {
            cairn__wr_bytes(&w, n->text, n->text_len);
        }
    } else if (strcmp(argv[1], "cosign") == 0 && argc == 6 &&
               seed_pair(argv[3], &k) == 0) {
        err = cairn__note_parse(in, len, n, detail, sizeof(detail));
        if (err == CAIRN_OK) {
            cairn__wr_bytes(&w, in, len);
            err = cairn__cosig_line(&w, n->text, n->text_len, argv[2],
                                    strlen(argv[2]),
                                    strtoull(argv[4], NULL, 10), k.sk);
        }
    } else if (strcmp(argv[1], "cosig-verify") == 0 && argc == 5) {
        uint8_t pk[32];
        uint64_t ts = 0;
        err = cairn__unhex(argv[3], pk, 32) == 0 ? CAIRN_OK : CAIRN_EINVAL;
        if (err == CAIRN_OK) {
            err = cairn__note_parse(in, len, n, detail, sizeof(detail));
        }
        if (err == CAIRN_OK) {
            err = cairn__cosig_verify(n, argv[2], strlen(argv[2]), pk, &ts,
                                      detail, sizeof(detail));
        }
        if (err == CAIRN_OK) {
            char num[32];
            snprintf(num, sizeof(num), "%llu\n", (unsigned long long)ts);
            cairn__wr_bytes(&w, num, strlen(num));
        }
    }
    rc = report(argv[1], err, detail);
    if (rc == 0) {
        rc = put(w.p, w.len);
    }
    cairn__wr_free(&w);
    free(n);
    return rc;
}

static int interop_proof(const char *vkey, const char *in, size_t len)
{
    char detail[256] = "";
    cairn_tlog_proof *p = malloc(sizeof(*p));
    cairn_note_vkey v;
    if (p == NULL) {
        return 1;
    }
    cairn_err err =
        cairn__note_vkey_parse(vkey, strlen(vkey), &v, detail, sizeof(detail));
    if (err == CAIRN_OK) {
        err = cairn__tlog_proof_parse(in, len, p, detail, sizeof(detail));
    }
    if (err == CAIRN_OK) {
        err = cairn__note_verify(&p->parsed, v.name, v.name_len, v.pk, detail,
                                 sizeof(detail));
    }
    int rc = report("proof", err, detail);
    if (rc == 0) {
        printf("index %llu size %llu hashes %zu extra %zu\n",
               (unsigned long long)p->index,
               (unsigned long long)p->checkpoint.size, p->n_hashes,
               p->extra_len);
    }
    free(p);
    return rc;
}

/* test_note vkey NAME SEED | sign NAME SEED FILE | verify VKEY FILE |
 * cosign NAME SEED TIME FILE | cosig-verify NAME PUBHEX FILE |
 * pubhex SEED | proof VKEY FILE.  Exit 0 ok, 1 usage/I-O, 2 malformed,
 * 3 no signature by the key, 4 a signature of the key does not verify. */
static int interop_main(int argc, char **argv)
{
    keypair k;
    if (cairn__crypto_init() != CAIRN_OK) {
        return 1;
    }
    if (strcmp(argv[1], "pubhex") == 0 && argc == 3) {
        char hex[65];
        if (seed_pair(argv[2], &k) != 0) {
            return 1;
        }
        cairn__hex(k.pk, 32, hex);
        printf("%s\n", hex);
        return 0;
    }
    if (strcmp(argv[1], "vkey") == 0 && argc == 4) {
        cairn_wr w;
        cairn__wr_init(&w, 1024);
        if (seed_pair(argv[3], &k) != 0 ||
            cairn__note_vkey_encode(&w, argv[2], strlen(argv[2]),
                                    CAIRN_NOTE_ALG_ED25519, k.pk) != CAIRN_OK) {
            cairn__wr_free(&w);
            return 1;
        }
        printf("%.*s\n", (int)w.len, (const char *)w.p);
        cairn__wr_free(&w);
        return 0;
    }
    if (argc < 4) {
        fprintf(stderr, "test_note: bad usage (see interop_main)\n");
        return 1;
    }
    size_t len = 0;
    char *in = tu_read_file(argv[argc - 1], &len);
    int rc = strcmp(argv[1], "proof") == 0 && argc == 4
                 ? interop_proof(argv[2], in, len)
                 : interop_note(argc, argv, in, len);
    free(in);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc > 1) {
        return interop_main(argc, argv);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_vkey_golden),
        cmocka_unit_test(test_vkey_negative),
        cmocka_unit_test(test_note_golden),
        cmocka_unit_test(test_spec_example),
        cmocka_unit_test(test_note_negative),
        cmocka_unit_test(test_verify_outcomes),
        cmocka_unit_test(test_sign_rejects),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_every_byte_change),
        cmocka_unit_test(test_checkpoint_golden),
        cmocka_unit_test(test_checkpoint_negative),
        cmocka_unit_test(test_cairn_ext),
        cmocka_unit_test(test_cosig_golden),
        cmocka_unit_test(test_cosig_negative),
        cmocka_unit_test(test_inclusion_len),
        cmocka_unit_test(test_proof_golden),
        cmocka_unit_test(test_proof_negative),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
