/* test_witness.c - the witness (lib/witness, docs/FORMAT.md section 20):
 * every outcome of an add-checkpoint request against its store (first
 * cosign, advance with a proof, 409 stale old size, 422 bad proof, same
 * size with another root, rollback, bad or missing log signature,
 * re-keyed origin), malformed requests, unsafe store files, the --note
 * output and cairn_cosignature_verify(). */
#include "testutil.h"

#include "base/crypto.h"
#include "format/merkle.h"
#include "format/note.h"
#include "keys/key.h"
#include "witness/witness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ORIGIN "cairn/journal/00112233445566778899aabbccddeeff"
#define WNAME "witness.example/w1"
#define MAXN 64

/* An in-memory tree of up to MAXN leaves: node (L, i). */
static uint8_t nodes[8][MAXN][32];

static cairn_err get_node(void *ctx, unsigned level, uint64_t index,
                          uint8_t out[32])
{
    (void)ctx;
    memcpy(out, nodes[level][index], 32);
    return CAIRN_OK;
}

static cairn_err put_node(void *ctx, unsigned level, uint64_t index,
                          const uint8_t h[32])
{
    (void)ctx;
    memcpy(nodes[level][index], h, 32);
    return CAIRN_OK;
}

/* Leaves 0..MAXN-1 of a log; @p salt makes another (forked) log. */
static void build_tree(uint8_t salt)
{
    cairn_mt_stream st;
    cairn__mt_stream_init(&st, put_node, NULL);
    for (unsigned i = 0; i < MAXN; i++) {
        uint8_t d[3] = {0, (uint8_t)i, salt}, leaf[32];
        cairn__sha256(d, sizeof(d), leaf);
        assert_int_equal(cairn__mt_stream_push(&st, leaf, NULL, 0), CAIRN_OK);
    }
}

static void root_of(uint64_t n, uint8_t root[32])
{
    assert_int_equal(cairn__mt_root(n, get_node, NULL, root, NULL, 0),
                     CAIRN_OK);
}

typedef struct fixture {
    char *dir;
    char *store;
    cairn_signer *log, *log2, *wkey;
    uint8_t log_pk[32], log2_pk[32], w_pk[32];
    cairn_witness *w;
} fixture;

static cairn_signer *new_signer(uint8_t pk[32])
{
    uint8_t secret[CAIRN_SIGNER_SECRET_BYTES];
    cairn__random(secret, 8);
    assert_int_equal(cairn__ed25519_keypair(pk, secret + 8), CAIRN_OK);
    cairn_signer *s = NULL;
    assert_int_equal(cairn_signer_import_secret(secret, &s), CAIRN_OK);
    return s;
}

static void open_witness(fixture *f)
{
    char detail[512] = "";
    cairn_err err = cairn_witness_open(f->store, f->wkey, WNAME, &f->w, detail,
                                       sizeof(detail));
    if (err != CAIRN_OK) {
        fail_msg("open: %s: %s", cairn_errname(err), detail);
    }
    assert_int_equal(
        cairn_witness_trust_log(f->w, NULL, f->log_pk, detail, sizeof(detail)),
        CAIRN_OK);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->dir = tu_mkdtemp();
    f->store = tu_path(f->dir, "ws");
    f->log = new_signer(f->log_pk);
    f->log2 = new_signer(f->log2_pk);
    f->wkey = new_signer(f->w_pk);
    build_tree(0);
    open_witness(f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    cairn_witness_close(f->w);
    cairn_signer_free(f->log);
    cairn_signer_free(f->log2);
    cairn_signer_free(f->wkey);
    free(f->store);
    tu_rmtree(f->dir);
    free(f);
    return 0;
}

/* A checkpoint note of (origin, n, root) signed by each of @p signers. */
static char *note_of(const char *origin, uint64_t n, const uint8_t root[32],
                     cairn_signer *const *signers, size_t k)
{
    char text[512], b64[64];
    cairn__b64_encode(root, 32, b64, sizeof(b64));
    snprintf(text, sizeof(text), "%s\n%llu\n%s\n", origin,
             (unsigned long long)n, b64);
    cairn_wr w;
    cairn__wr_init(&w, 8192);
    for (size_t i = 0; i < k; i++) {
        if (i == 0) {
            assert_int_equal(cairn__note_sign(&w, text, strlen(text), origin,
                                              strlen(origin), signers[i]->sk,
                                              NULL, 0),
                             CAIRN_OK);
            continue;
        }
        uint8_t sig[64];
        assert_int_equal(
            cairn__ed25519_sign(sig, text, strlen(text), signers[i]->sk),
            CAIRN_OK);
        uint32_t id = cairn__note_key_id(
            origin, strlen(origin), CAIRN_NOTE_ALG_ED25519, signers[i]->pk);
        assert_int_equal(cairn__note_sig_line(&w, origin, strlen(origin), id,
                                              sig, sizeof(sig)),
                         CAIRN_OK);
    }
    cairn__wr_u8(&w, 0);
    return (char *)w.p;
}

/* "old M\n" + the consistency proof from m to n of the tree + "\n" +
 * @p note.  @p flip: change a byte of proof hash 0. */
static char *request(uint64_t m, uint64_t n, const char *note, int flip)
{
    uint8_t proof[64][32];
    size_t count = 0;
    if (m > 0 && m < n) {
        assert_int_equal(cairn__mt_prove_consistency(
                             m, n, get_node, NULL, proof, 64, &count, NULL, 0),
                         CAIRN_OK);
    }
    if (flip && count > 0) {
        proof[0][0] ^= 1;
    }
    size_t cap = 64 + count * 45 + strlen(note) + 1;
    char *r = malloc(cap);
    assert_non_null(r);
    size_t at = (size_t)snprintf(r, cap, "old %llu\n", (unsigned long long)m);
    for (size_t i = 0; i < count; i++) {
        cairn__b64_encode(proof[i], 32, r + at, cap - at);
        at += 44;
        r[at++] = '\n';
    }
    r[at++] = '\n';
    memcpy(r + at, note, strlen(note) + 1);
    return r;
}

typedef struct outcome {
    cairn_err err;
    cairn_witness_result res;
    char *out;
    char detail[1024];
} outcome;

static outcome add_at(fixture *f, const char *req, uint64_t now, unsigned flags)
{
    outcome o;
    memset(&o, 0, sizeof(o));
    size_t len = 0;
    o.err =
        cairn_witness_add_checkpoint(f->w, req, strlen(req), now, flags, &o.out,
                                     &len, &o.res, o.detail, sizeof(o.detail));
    if (o.err == CAIRN_OK) {
        assert_non_null(o.out);
        assert_int_equal(strlen(o.out), len);
    } else {
        assert_null(o.out);
        assert_int_equal(len, 0);
    }
    return o;
}

/* Cosign the log at size n (first from 0, else from @p m). */
static outcome cosign(fixture *f, uint64_t m, uint64_t n, uint64_t now)
{
    uint8_t root[32];
    root_of(n, root);
    cairn_signer *s[] = {f->log};
    char *note = note_of(ORIGIN, n, root, s, 1);
    char *req = request(m, n, note, 0);
    outcome o = add_at(f, req, now, 0);
    free(req);
    free(note);
    return o;
}

static void expect_err(outcome *o, cairn_err want, const char *text)
{
    if (o->err != want) {
        fail_msg("got %s (%s), want %s", cairn_errname(o->err), o->detail,
                 cairn_errname(want));
    }
    if (text != NULL && strstr(o->detail, text) == NULL) {
        fail_msg("detail \"%s\" lacks \"%s\"", o->detail, text);
    }
    free(o->out);
}

static void expect_ok(outcome *o)
{
    if (o->err != CAIRN_OK) {
        fail_msg("got %s: %s", cairn_errname(o->err), o->detail);
    }
    free(o->out);
}

/* The cosignature line in @p line is the witness's on @p note. */
static void check_cosig(fixture *f, const char *note, const char *line,
                        uint64_t want_time)
{
    char vkey[CAIRN_VKEY_MAX], detail[512] = "";
    assert_int_equal(cairn_witness_vkey(f->w_pk, WNAME, vkey, sizeof(vkey)),
                     CAIRN_OK);
    size_t n = strlen(note) + strlen(line) + 1;
    char *both = malloc(n);
    assert_non_null(both);
    snprintf(both, n, "%s%s", note, line);
    uint64_t t = 0;
    cairn_err err = cairn_cosignature_verify(
        both, strlen(both), vkey, strlen(vkey), &t, detail, sizeof(detail));
    if (err != CAIRN_OK) {
        fail_msg("cosignature: %s: %s", cairn_errname(err), detail);
    }
    assert_int_equal(t, want_time);
    /* A changed text no longer verifies under the cosignature. */
    char *p = strstr(both, "\n") + 1;
    *p = *p == '1' ? '2' : '1';
    assert_int_equal(cairn_cosignature_verify(both, strlen(both), vkey,
                                              strlen(vkey), &t, NULL, 0),
                     CAIRN_ETAMPERED);
    free(both);
}

static void test_first_then_advance(void **state)
{
    fixture *f = *state;
    uint8_t root[32];
    root_of(5, root);
    cairn_signer *s[] = {f->log};
    char *note = note_of(ORIGIN, 5, root, s, 1);
    char *req = request(0, 5, note, 0);
    outcome o = add_at(f, req, 1000, 0);
    assert_int_equal(o.err, CAIRN_OK);
    assert_string_equal(o.res.origin, ORIGIN);
    assert_int_equal(o.res.size, 5);
    assert_int_equal(o.res.known, 0);
    assert_int_equal(o.res.time, 1000);
    assert_true(strncmp(o.out, "\xe2\x80\x94 " WNAME " ", 4 + strlen(WNAME)) ==
                0);
    check_cosig(f, note, o.out, 1000);
    free(o.out);
    free(req);
    free(note);

    /* Advance 5 -> 9 with a valid proof; the clock went back: the time
     * stays at the last cosignature's. */
    o = cosign(f, 5, 9, 900);
    assert_int_equal(o.err, CAIRN_OK);
    assert_int_equal(o.res.known, 1);
    assert_int_equal(o.res.witness_size, 5);
    assert_int_equal(o.res.time, 1000);
    expect_ok(&o);
    o = cosign(f, 9, 16, 2000);
    assert_int_equal(o.res.time, 2000);
    expect_ok(&o);
    /* Same size, same root, empty proof: cosigned again. */
    o = cosign(f, 16, 16, 2100);
    expect_ok(&o);

    /* It survives closing the store. */
    cairn_witness_close(f->w);
    f->w = NULL;
    open_witness(f);
    o = cosign(f, 0, 20, 3000);
    assert_int_equal(o.res.witness_size, 16);
    expect_err(&o, CAIRN_ESTALE, "cosigned size 16");
    o = cosign(f, 16, 20, 3000);
    expect_ok(&o);
}

static void test_stale(void **state)
{
    fixture *f = *state;
    outcome o = cosign(f, 0, 7, 100);
    expect_ok(&o);
    o = cosign(f, 0, 9, 100);
    expect_err(&o, CAIRN_ESTALE, "retry from 7");
    assert_int_equal(o.res.witness_size, 7);
    o = cosign(f, 3, 9, 100);
    expect_err(&o, CAIRN_ESTALE, NULL);
    assert_int_equal(o.res.witness_size, 7);
    /* Nothing was stored: 7 -> 9 still goes. */
    o = cosign(f, 7, 9, 100);
    expect_ok(&o);
    /* An unknown origin: the witness's size is 0. */
    uint8_t root[32];
    root_of(4, root);
    cairn_signer *s[] = {f->log};
    char *note = note_of("other.example/log", 4, root, s, 1);
    char *req = request(2, 4, note, 0);
    o = add_at(f, req, 100, 0);
    expect_err(&o, CAIRN_ESTALE, NULL);
    assert_int_equal(o.res.witness_size, 0);
    assert_int_equal(o.res.known, 0);
    free(req);
    free(note);
}

static void test_bad_proof(void **state)
{
    fixture *f = *state;
    outcome o = cosign(f, 0, 6, 100);
    expect_ok(&o);
    uint8_t root[32];
    root_of(11, root);
    cairn_signer *s[] = {f->log};
    char *note = note_of(ORIGIN, 11, root, s, 1);
    char *req = request(6, 11, note, 1);
    o = add_at(f, req, 100, 0);
    expect_err(&o, CAIRN_ETAMPERED, "consistency proof does not show size 6");
    free(req);
    /* A proof of the wrong length is a bad request. */
    req = request(6, 11, note, 0);
    char *blank = strstr(req, "\n\n");
    assert_non_null(blank);
    /* drop the last hash line */
    memmove(blank - 44, blank + 1, strlen(blank + 1) + 1);
    o = add_at(f, req, 100, 0);
    char want[96];
    snprintf(want, sizeof(want), "has %zu hashes, this one %zu",
             cairn__mt_consistency_len(6, 11),
             cairn__mt_consistency_len(6, 11) - 1);
    expect_err(&o, CAIRN_EINVAL, want);
    free(req);
    /* The proof from 0 is empty. */
    free(note);
    o = cosign(f, 6, 11, 100);
    expect_ok(&o);
}

static void test_fork_same_size(void **state)
{
    fixture *f = *state;
    outcome o = cosign(f, 0, 10, 100);
    expect_ok(&o);
    build_tree(1); /* another log with the same origin and key */
    o = cosign(f, 10, 10, 100);
    expect_err(&o, CAIRN_ETAMPERED, "forked: the witness cosigned size 10");
    /* A fork that grew: the proof from 10 to 14 of the other tree. */
    o = cosign(f, 10, 14, 100);
    expect_err(&o, CAIRN_ETAMPERED, "forked");
    build_tree(0);
    o = cosign(f, 10, 14, 100);
    expect_ok(&o);
}

static void test_rollback(void **state)
{
    fixture *f = *state;
    outcome o = cosign(f, 0, 12, 100);
    expect_ok(&o);
    o = cosign(f, 0, 8, 100);
    expect_err(&o, CAIRN_ETAMPERED,
               "rolled back: the witness cosigned size 12");
    o = cosign(f, 12, 8, 100); /* old > size, but a rollback first */
    expect_err(&o, CAIRN_ETAMPERED, "has size 8");
    o = cosign(f, 0, 0, 100);
    expect_err(&o, CAIRN_ETAMPERED, "rolled back");
    /* For an unknown origin, old > size is a bad request. */
    uint8_t root[32];
    root_of(3, root);
    cairn_signer *s[] = {f->log};
    char *note = note_of("fresh.example/log", 3, root, s, 1);
    char *req = request(0, 3, note, 0);
    req[4] = '5';
    o = add_at(f, req, 100, 0);
    expect_err(&o, CAIRN_EINVAL, "old size 5 is larger than the checkpoint");
    free(req);
    free(note);
}

static void test_log_signature(void **state)
{
    fixture *f = *state;
    uint8_t root[32];
    root_of(5, root);
    cairn_signer *s[] = {f->log};
    char *note = note_of(ORIGIN, 5, root, s, 1);
    /* A changed signature byte. */
    char *req = request(0, 5, note, 0);
    char *sig = strstr(req, "\xe2\x80\x94 ");
    sig += strlen(sig) - 10;
    *sig = *sig == 'A' ? 'B' : 'A';
    outcome o = add_at(f, req, 100, 0);
    expect_err(&o, CAIRN_ETAMPERED, "does not verify");
    free(req);
    /* A changed text (size 5 -> 6) under the same signature. */
    req = request(0, 5, note, 0);
    char *size = strstr(req, ORIGIN "\n5\n");
    size[strlen(ORIGIN) + 1] = '6';
    o = add_at(f, req, 100, 0);
    expect_err(&o, CAIRN_ETAMPERED, NULL);
    free(req);
    free(note);
    /* Signed by an unknown key only. */
    cairn_signer *other[] = {f->log2};
    note = note_of(ORIGIN, 5, root, other, 1);
    req = request(0, 5, note, 0);
    o = add_at(f, req, 100, 0);
    expect_err(&o, CAIRN_EKEYMISMATCH, "no signature of a trusted log key");
    free(req);
    free(note);
    /* A key trusted for another origin only. */
    cairn_witness_close(f->w);
    char detail[256] = "";
    assert_int_equal(cairn_witness_open(f->store, f->wkey, WNAME, &f->w, detail,
                                        sizeof(detail)),
                     CAIRN_OK);
    assert_int_equal(cairn_witness_trust_log(f->w, "another.example/log",
                                             f->log_pk, detail, sizeof(detail)),
                     CAIRN_OK);
    o = cosign(f, 0, 5, 100);
    expect_err(&o, CAIRN_EKEYMISMATCH, "trusts no log key for it");
    /* Nothing was stored by any of these. */
    cairn_witness_close(f->w);
    f->w = NULL;
    open_witness(f);
    o = cosign(f, 0, 5, 100);
    expect_ok(&o);
}

static void test_rekeyed_origin(void **state)
{
    fixture *f = *state;
    char detail[256] = "";
    assert_int_equal(cairn_witness_trust_log(f->w, ORIGIN, f->log2_pk, detail,
                                             sizeof(detail)),
                     CAIRN_OK);
    outcome o = cosign(f, 0, 4, 100); /* pins ORIGIN to f->log */
    expect_ok(&o);
    uint8_t root[32];
    root_of(8, root);
    cairn_signer *other[] = {f->log2};
    char *note = note_of(ORIGIN, 8, root, other, 1);
    char *req = request(4, 8, note, 0);
    o = add_at(f, req, 100, 0);
    expect_err(&o, CAIRN_EKEYMISMATCH, "is pinned to log key");
    free(req);
    free(note);
    /* Signed by both, the pinned key's signature counts. */
    cairn_signer *both[] = {f->log2, f->log};
    note = note_of(ORIGIN, 8, root, both, 2);
    req = request(4, 8, note, 0);
    o = add_at(f, req, 100, 0);
    expect_ok(&o);
    free(req);
    free(note);
}

static void test_malformed(void **state)
{
    fixture *f = *state;
    uint8_t root[32];
    root_of(5, root);
    cairn_signer *s[] = {f->log};
    char *note = note_of(ORIGIN, 5, root, s, 1);
    size_t nl = strlen(note);
    char *req = malloc(nl + 64 * 45 + 64);
    assert_non_null(req);
    struct {
        const char *head;
        const char *want;
    } cases[] = {
        {"", "start with \"old <size>\""},
        {"old 05\n\n", "byte 4: the old size"},
        {"old -1\n\n", "byte 4: the old size"},
        {"old 9223372036854775808\n\n", "the old size"},
        {"old 1\n", "byte 6: expected a proof hash"}, /* no blank line */
        {"old 1\nAAAA\n\n", "byte 6: expected a proof hash"},
        {"old 1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA!=\n\n",
         "not canonical base64"},
        {"old 1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB=\n\n",
         "not canonical base64"},
        {"old 1 \n\n", "the old size"},
        {"OLD 1\n\n", "start with"},
    };
    for (size_t i = 0; i < CAIRN_ARRAY_LEN(cases); i++) {
        snprintf(req, nl + 64 * 45 + 64, "%s%s", cases[i].head,
                 i == 4 ? note + 0 : note);
        outcome o = add_at(f, req, 100, 0);
        expect_err(&o, CAIRN_EINVAL, cases[i].want);
    }
    /* 64 proof lines: one too many. */
    size_t at = (size_t)sprintf(req, "old 1\n");
    for (int i = 0; i < 64; i++) {
        at += (size_t)sprintf(req + at,
                              "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n");
    }
    sprintf(req + at, "\n%s", note);
    outcome o = add_at(f, req, 100, 0);
    expect_err(&o, CAIRN_EINVAL, "more than 63 consistency proof lines");
    /* No checkpoint after the blank line, or a note that is no
     * checkpoint: offsets count from the request's first byte. */
    o = add_at(f, "old 0\n\n", 100, 0);
    expect_err(&o, CAIRN_EINVAL, "byte 7");
    o = add_at(f, "old 0\n\nhello\n\n\xe2\x80\x94 a AAAAAAAA\n", 100, 0);
    expect_err(&o, CAIRN_EINVAL, "byte ");
    free(req);
    /* Overlong. */
    size_t big = CAIRN__WITNESS_REQ_MAX + 1;
    char *huge = malloc(big + 1);
    assert_non_null(huge);
    memset(huge, 'A', big);
    memcpy(huge, "old 0\n\n", 7);
    huge[big] = '\0';
    o = add_at(f, huge, 100, 0);
    expect_err(&o, CAIRN_EINVAL, "longer than a request can be");
    free(huge);
    free(note);
    /* Nothing was stored by any of them. */
    o = cosign(f, 0, 5, 100);
    expect_ok(&o);
}

static void test_note_output(void **state)
{
    fixture *f = *state;
    uint8_t root[32];
    root_of(5, root);
    cairn_signer *s[] = {f->log};
    char *note = note_of(ORIGIN, 5, root, s, 1);
    char *req = request(0, 5, note, 0);
    outcome o = add_at(f, req, 500, CAIRN_WITNESS_NOTE);
    assert_int_equal(o.err, CAIRN_OK);
    /* The note, then the cosignature: a note with two lines. */
    assert_true(strncmp(o.out, note, strlen(note)) == 0);
    check_cosig(f, note, o.out + strlen(note), 500);
    /* Cosigning that note again replaces the line, never repeats it. */
    char *again = request(5, 5, o.out, 0);
    free(o.out);
    o = add_at(f, again, 600, CAIRN_WITNESS_NOTE);
    assert_int_equal(o.err, CAIRN_OK);
    cairn_note *parsed = malloc(sizeof(*parsed));
    assert_non_null(parsed);
    assert_int_equal(cairn__note_parse(o.out, strlen(o.out), parsed, NULL, 0),
                     CAIRN_OK);
    assert_int_equal(parsed->n_sigs, 2);
    free(parsed);
    check_cosig(f, note, o.out + strlen(note), 600);
    free(o.out);
    free(again);
    free(req);
    free(note);
}

static void test_keys(void **state)
{
    fixture *f = *state;
    char detail[256] = "";
    /* The witness's own key is no log key. */
    assert_int_equal(
        cairn_witness_trust_log(f->w, NULL, f->w_pk, detail, sizeof(detail)),
        CAIRN_EKEY);
    assert_non_null(strstr(detail, "witness's own key"));
    assert_int_equal(cairn_witness_trust_log(f->w, "bad origin", f->log_pk,
                                             detail, sizeof(detail)),
                     CAIRN_EINVAL);
    /* Names. */
    cairn_witness *w = NULL;
    assert_int_equal(cairn_witness_open(f->store, f->wkey, "a b", &w, detail,
                                        sizeof(detail)),
                     CAIRN_EINVAL);
    assert_null(w);
    assert_int_equal(cairn_witness_open(f->store, f->wkey, "a+b", &w, detail,
                                        sizeof(detail)),
                     CAIRN_EINVAL);
    char vkey[CAIRN_VKEY_MAX];
    assert_int_equal(cairn_witness_vkey(f->w_pk, "", vkey, sizeof(vkey)),
                     CAIRN_EINVAL);
    assert_int_equal(cairn_witness_vkey(f->w_pk, WNAME, vkey, 10),
                     CAIRN_EINVAL);
    assert_int_equal(cairn_witness_vkey(f->w_pk, WNAME, vkey, sizeof(vkey)),
                     CAIRN_OK);
    char name[CAIRN_WITNESS_NAME_MAX + 1];
    uint8_t type = 0, pk[32];
    assert_int_equal(cairn_vkey_parse(vkey, strlen(vkey), name, sizeof(name),
                                      &type, pk, detail, sizeof(detail)),
                     CAIRN_OK);
    assert_string_equal(name, WNAME);
    assert_int_equal(type, CAIRN_VKEY_COSIGNATURE);
    assert_memory_equal(pk, f->w_pk, 32);
    /* A note key is no cosignature key for cairn_cosignature_verify. */
    cairn_wr w1;
    cairn__wr_init(&w1, 1024);
    assert_int_equal(cairn__note_vkey_encode(&w1, ORIGIN, strlen(ORIGIN),
                                             CAIRN_NOTE_ALG_ED25519, f->log_pk),
                     CAIRN_OK);
    uint8_t root[32];
    root_of(5, root);
    cairn_signer *s[] = {f->log};
    char *note = note_of(ORIGIN, 5, root, s, 1);
    assert_int_equal(cairn_cosignature_verify(note, strlen(note),
                                              (const char *)w1.p, w1.len, NULL,
                                              detail, sizeof(detail)),
                     CAIRN_EKEY);
    /* No cosignature by the witness: EKEYMISMATCH. */
    assert_int_equal(cairn_cosignature_verify(note, strlen(note), vkey,
                                              strlen(vkey), NULL, detail,
                                              sizeof(detail)),
                     CAIRN_EKEYMISMATCH);
    assert_int_equal(cairn_cosignature_verify("x", 1, vkey, strlen(vkey), NULL,
                                              detail, sizeof(detail)),
                     CAIRN_ECORRUPT);
    cairn__wr_free(&w1);
    free(note);
}

static void test_unsafe_store(void **state)
{
    fixture *f = *state;
    cairn_witness_close(f->w);
    f->w = NULL;
    char detail[512] = "";
    cairn_witness *w = NULL;
    /* A directory others may write. */
    assert_int_equal(chmod(f->store, 0777), 0);
    assert_int_equal(cairn_witness_open(f->store, f->wkey, WNAME, &w, detail,
                                        sizeof(detail)),
                     CAIRN_EUNSAFE);
    assert_non_null(strstr(detail, "writable by others"));
    assert_int_equal(chmod(f->store, 0700), 0);
    /* data.mdb writable by its group. */
    char *data = tu_path(f->store, "data.mdb");
    assert_int_equal(chmod(data, 0660), 0);
    assert_int_equal(cairn_witness_open(f->store, f->wkey, WNAME, &w, detail,
                                        sizeof(detail)),
                     CAIRN_EUNSAFE);
    assert_non_null(strstr(detail, "data.mdb"));
    assert_int_equal(chmod(data, 0600), 0);
    /* data.mdb a symbolic link: refused, not followed. */
    char *moved = tu_path(f->dir, "elsewhere.mdb");
    assert_int_equal(rename(data, moved), 0);
    assert_int_equal(symlink(moved, data), 0);
    assert_int_equal(cairn_witness_open(f->store, f->wkey, WNAME, &w, detail,
                                        sizeof(detail)),
                     CAIRN_EUNSAFE);
    assert_null(w);
    assert_int_equal(unlink(data), 0);
    assert_int_equal(rename(moved, data), 0);
    /* lock.mdb a symbolic link. */
    char *lock = tu_path(f->store, "lock.mdb");
    char *lmoved = tu_path(f->dir, "elsewhere.lock");
    assert_int_equal(rename(lock, lmoved), 0);
    assert_int_equal(symlink(lmoved, lock), 0);
    assert_int_equal(cairn_witness_open(f->store, f->wkey, WNAME, &w, detail,
                                        sizeof(detail)),
                     CAIRN_EUNSAFE);
    assert_int_equal(unlink(lock), 0);
    assert_int_equal(rename(lmoved, lock), 0);
    /* The store itself a symbolic link to a directory is followed as
     * the user named it (like -J), but a file is no store. */
    char *file = tu_path(f->dir, "plain");
    tu_write_file(file, "x", 1);
    assert_int_not_equal(
        cairn_witness_open(file, f->wkey, WNAME, &w, detail, sizeof(detail)),
        CAIRN_OK);
    assert_null(w);
    open_witness(f);
    free(file);
    free(lock);
    free(lmoved);
    free(moved);
    free(data);
}

static void test_record_codec(void **state)
{
    (void)state;
    cairn_witness_rec rec = {.size = 9,
                             .time = 77,
                             .log_key_id = 0x01020304,
                             .note = (const uint8_t *)"n\n",
                             .note_len = 2};
    memset(rec.root, 0xab, 32);
    memset(rec.log_pk, 0xcd, 32);
    cairn_wr w;
    cairn__wr_init(&w, 4096);
    assert_int_equal(cairn__witness_rec_encode(&w, &rec), CAIRN_OK);
    assert_int_equal(w.len, 89 + 2);
    cairn_witness_rec back;
    assert_int_equal(cairn__witness_rec_decode(w.p, w.len, &back, NULL, 0),
                     CAIRN_OK);
    assert_int_equal(back.size, 9);
    assert_int_equal(back.time, 77);
    assert_int_equal(back.log_key_id, 0x01020304);
    assert_memory_equal(back.note, "n\n", 2);
    char detail[256] = "";
    assert_int_equal(cairn__witness_rec_decode(w.p, w.len - 1, &back, detail,
                                               sizeof(detail)),
                     CAIRN_ECORRUPT);
    w.p[0] = 2;
    assert_int_equal(
        cairn__witness_rec_decode(w.p, w.len, &back, detail, sizeof(detail)),
        CAIRN_ECORRUPT);
    assert_non_null(strstr(detail, "version 2"));
    w.p[0] = 1;
    w.p[1] = 0x80; /* size over 2^63 - 1 */
    assert_int_equal(cairn__witness_rec_decode(w.p, w.len, &back, NULL, 0),
                     CAIRN_ECORRUPT);
    assert_int_equal(cairn__witness_rec_decode(w.p, 10, &back, NULL, 0),
                     CAIRN_ECORRUPT);
    cairn__wr_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_first_then_advance, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_stale, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_proof, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fork_same_size, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rollback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_signature, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rekeyed_origin, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_note_output, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unsafe_store, setup, teardown),
        cmocka_unit_test(test_record_codec),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
