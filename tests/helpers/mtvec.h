/*
 * mtvec.h - for tests/test_merkle.c: an in-memory node store behind the
 * cairn_mt_get / cairn_mt_put callbacks of format/merkle.h (with get and
 * put counters and failure injection), and the two sides of the interop
 * check with Go's golang.org/x/mod/sumdb/tlog (tests/cli/interop_tlog.sh,
 * tests/interop/tlog_check.go):
 *
 *   test_merkle --tlog-emit        writes leaves, roots and proofs made
 *                                  by cairn (format in tlog_check.go)
 *   test_merkle --tlog-check FILE  checks tlog's roots and proofs (the
 *                                  output of tlog_check) with cairn
 */
#ifndef CAIRN_TEST_MTVEC_H
#define CAIRN_TEST_MTVEC_H

#include "base/common.h"
#include "format/merkle.h"
#include "format/record.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- in-memory node store ---- */

typedef struct mt_mem {
    uint8_t *node[CAIRN_MT_MAX_LEVEL + 1]; /* level L: cap[L] hashes */
    uint8_t *have[CAIRN_MT_MAX_LEVEL + 1];
    uint64_t cap[CAIRN_MT_MAX_LEVEL + 1];
    size_t gets, puts;
    long fail_get_at; /* the get with this number (1-based) fails; 0: none */
    long fail_put_at;
} mt_mem;

static void mt_mem_free(mt_mem *m)
{
    for (unsigned l = 0; l <= CAIRN_MT_MAX_LEVEL; l++) {
        free(m->node[l]);
        free(m->have[l]);
    }
    memset(m, 0, sizeof(*m));
}

static uint8_t *mt_mem_at(mt_mem *m, unsigned level, uint64_t index)
{
    if (level > CAIRN_MT_MAX_LEVEL || index >= m->cap[level] ||
        !m->have[level][index]) {
        return NULL;
    }
    return m->node[level] + index * CAIRN_HASH_BYTES;
}

static cairn_err mt_mem_get(void *ctx, unsigned level, uint64_t index,
                            uint8_t out[CAIRN_HASH_BYTES])
{
    mt_mem *m = ctx;
    m->gets++;
    if (m->fail_get_at > 0 && (long)m->gets == m->fail_get_at) {
        return CAIRN_ESTORE;
    }
    const uint8_t *p = mt_mem_at(m, level, index);
    if (p == NULL) {
        return CAIRN_ECORRUPT;
    }
    memcpy(out, p, CAIRN_HASH_BYTES);
    return CAIRN_OK;
}

static cairn_err mt_mem_put(void *ctx, unsigned level, uint64_t index,
                            const uint8_t h[CAIRN_HASH_BYTES])
{
    mt_mem *m = ctx;
    m->puts++;
    if (m->fail_put_at > 0 && (long)m->puts == m->fail_put_at) {
        return CAIRN_EIO;
    }
    if (level > CAIRN_MT_MAX_LEVEL || index > (UINT64_C(1) << 40)) {
        return CAIRN_EINVAL;
    }
    if (index >= m->cap[level]) {
        uint64_t cap = m->cap[level] ? m->cap[level] : 16;
        while (cap <= index) {
            cap *= 2;
        }
        uint8_t *nn = realloc(m->node[level], (size_t)cap * CAIRN_HASH_BYTES);
        if (nn == NULL) {
            return CAIRN_ENOMEM;
        }
        m->node[level] = nn;
        uint8_t *nh = realloc(m->have[level], (size_t)cap);
        if (nh == NULL) {
            return CAIRN_ENOMEM;
        }
        memset(nh + m->cap[level], 0, (size_t)(cap - m->cap[level]));
        m->have[level] = nh;
        m->cap[level] = cap;
    }
    memcpy(m->node[level] + index * CAIRN_HASH_BYTES, h, CAIRN_HASH_BYTES);
    m->have[level][index] = 1;
    return CAIRN_OK;
}

/* ---- the interop vectors ---- */

#define MTVEC_LEAVES 1100

static uint64_t mtvec_rng(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void mtvec_hex_line(FILE *f, const uint8_t *p, size_t n)
{
    char hx[2 * CAIRN_HASH_BYTES + 1];
    for (size_t i = 0; i < n; i += CAIRN_HASH_BYTES) {
        cairn__hex(p + i, CAIRN_HASH_BYTES, hx);
        fprintf(f, " %s", hx);
    }
    fputc('\n', f);
}

static int mtvec_emit_incl(FILE *f, mt_mem *m, uint64_t n, uint64_t i)
{
    uint8_t proof[CAIRN_MT_MAX_PROOF][CAIRN_HASH_BYTES];
    size_t count;
    if (cairn__mt_prove_inclusion(i, n, mt_mem_get, m, proof,
                                  CAIRN_MT_MAX_PROOF, &count, NULL,
                                  0) != CAIRN_OK) {
        return -1;
    }
    fprintf(f, "incl %llu %llu", (unsigned long long)n, (unsigned long long)i);
    mtvec_hex_line(f, proof[0], count * CAIRN_HASH_BYTES);
    return 0;
}

static int mtvec_emit_cons(FILE *f, mt_mem *m, uint64_t mm, uint64_t n)
{
    uint8_t proof[CAIRN_MT_MAX_PROOF][CAIRN_HASH_BYTES];
    size_t count;
    if (cairn__mt_prove_consistency(mm, n, mt_mem_get, m, proof,
                                    CAIRN_MT_MAX_PROOF, &count, NULL,
                                    0) != CAIRN_OK) {
        return -1;
    }
    fprintf(f, "cons %llu %llu", (unsigned long long)mm, (unsigned long long)n);
    mtvec_hex_line(f, proof[0], count * CAIRN_HASH_BYTES);
    return 0;
}

/* Leaves of random bytes (0..48 of them), their roots for every size,
 * and proofs: all pairs up to size 33, and sampled ones at sizes around
 * powers of two up to MTVEC_LEAVES. */
static int mtvec_emit(FILE *f)
{
    static const uint64_t sizes[] = {63,   64,   65,   127,  128, 129,
                                     255,  256,  257,  511,  512, 513,
                                     1000, 1023, 1024, 1025, 1100};
    mt_mem m = {0};
    uint64_t seed = 0x9e3779b97f4a7c15u;
    int rc = 0;
    for (uint64_t n = 0; n < MTVEC_LEAVES && rc == 0; n++) {
        uint8_t data[48], leaf[CAIRN_HASH_BYTES], root[CAIRN_HASH_BYTES];
        size_t len = (size_t)(mtvec_rng(&seed) % 49);
        for (size_t j = 0; j < len; j++) {
            data[j] = (uint8_t)mtvec_rng(&seed);
        }
        char hx[2 * sizeof(data) + 1];
        cairn__hex(data, len, hx);
        fprintf(f, "leaf %s\n", hx);
        cairn__leaf_hash(data, len, leaf);
        if (cairn__mt_append(n, leaf, NULL, mt_mem_get, mt_mem_put, &m, root,
                             NULL, 0) != CAIRN_OK) {
            rc = -1;
            break;
        }
        cairn__hex(root, sizeof(root), hx);
        fprintf(f, "root %llu %s\n", (unsigned long long)(n + 1), hx);
    }
    for (uint64_t n = 1; n <= 33 && rc == 0; n++) {
        for (uint64_t i = 0; i < n && rc == 0; i++) {
            rc =
                mtvec_emit_incl(f, &m, n, i) | mtvec_emit_cons(f, &m, i + 1, n);
        }
    }
    for (size_t s = 0; s < CAIRN_ARRAY_LEN(sizes) && rc == 0; s++) {
        uint64_t n = sizes[s];
        uint64_t pick[10] = {0, 1, n / 2, n - 2, n - 1};
        for (size_t k = 5; k < 10; k++) {
            pick[k] = mtvec_rng(&seed) % n;
        }
        for (size_t k = 0; k < 10 && rc == 0; k++) {
            rc = mtvec_emit_incl(f, &m, n, pick[k]) |
                 mtvec_emit_cons(f, &m, pick[k] + 1, n);
        }
    }
    mt_mem_free(&m);
    return rc == 0 && fflush(f) == 0 ? 0 : 1;
}

/* Exactly 2n hex digits at @p s (more may follow) into out[n]. */
static int mtvec_unhex(const char *s, uint8_t *out, size_t n)
{
    char buf[2 * 512 + 1];
    if (n > 512 || strnlen(s, 2 * n) != 2 * n) {
        return -1;
    }
    memcpy(buf, s, 2 * n);
    buf[2 * n] = '\0';
    return cairn__unhex(buf, out, n);
}

/* Parse " <64 hex>" words from @p s into out[max]; -1 on a bad word. */
static int mtvec_hashes(const char *s, uint8_t (*out)[CAIRN_HASH_BYTES],
                        size_t max, size_t *count)
{
    *count = 0;
    for (;;) {
        while (*s == ' ') {
            s++;
        }
        if (*s == '\0' || *s == '\n') {
            return 0;
        }
        if (*count == max || mtvec_unhex(s, out[*count], CAIRN_HASH_BYTES) ||
            (s[64] != ' ' && s[64] != '\n' && s[64] != '\0')) {
            return -1;
        }
        (*count)++;
        s += 64;
    }
}

typedef struct mtvec_state {
    mt_mem m;
    uint64_t leaves;
    uint8_t (*leaf)[CAIRN_HASH_BYTES];
    long checks, failures;
} mtvec_state;

static void mtvec_fail(mtvec_state *st, const char *line, const char *why)
{
    st->failures++;
    fprintf(stderr, "test_merkle --tlog-check: FAIL: %s: %.60s\n", why, line);
}

/* One gincl / gcons line: cairn accepts tlog's proof, rejects it with a
 * bit flipped, and would have made the same proof. */
static void mtvec_check_proof(mtvec_state *st, const char *line, int incl,
                              uint64_t a, uint64_t b, const char *rest)
{
    uint8_t p[CAIRN_MT_MAX_PROOF + 1][CAIRN_HASH_BYTES];
    uint8_t mine[CAIRN_MT_MAX_PROOF][CAIRN_HASH_BYTES];
    uint8_t ra[CAIRN_HASH_BYTES], rb[CAIRN_HASH_BYTES];
    size_t count, mcount;
    uint64_t n = incl ? a : b;
    if (mtvec_hashes(rest, p, CAIRN_MT_MAX_PROOF + 1, &count) != 0 ||
        n > st->leaves || (incl ? b >= a : (a == 0 || a > b))) {
        mtvec_fail(st, line, "malformed");
        return;
    }
    st->checks++;
    const uint8_t(*cp)[CAIRN_HASH_BYTES] = (const uint8_t(*)[32])p;
    cairn_err err;
    int ok;
    if (cairn__mt_root(incl ? a : b, mt_mem_get, &st->m, rb, NULL, 0) ||
        (!incl && cairn__mt_root(a, mt_mem_get, &st->m, ra, NULL, 0))) {
        mtvec_fail(st, line, "cannot compute cairn's roots");
        return;
    }
    if (incl) {
        ok = cairn__mt_check_inclusion(b, a, st->leaf[b], cp, count, rb) == 0;
        err = cairn__mt_prove_inclusion(b, a, mt_mem_get, &st->m, mine,
                                        CAIRN_MT_MAX_PROOF, &mcount, NULL, 0);
    } else {
        ok = cairn__mt_check_consistency(a, b, ra, rb, cp, count) == 0;
        err = cairn__mt_prove_consistency(a, b, mt_mem_get, &st->m, mine,
                                          CAIRN_MT_MAX_PROOF, &mcount, NULL, 0);
    }
    if (!ok) {
        mtvec_fail(st, line, "cairn rejects tlog's proof");
    }
    if (err != CAIRN_OK || mcount != count ||
        (count > 0 && memcmp(mine, p, count * CAIRN_HASH_BYTES) != 0)) {
        mtvec_fail(st, line, "cairn's own proof differs from tlog's");
    }
    for (size_t j = 0; j < count; j++) {
        st->checks++;
        p[j][(j * 5) % CAIRN_HASH_BYTES] ^= 0x04;
        ok = incl ? cairn__mt_check_inclusion(b, a, st->leaf[b], cp, count,
                                              rb) == 0
                  : cairn__mt_check_consistency(a, b, ra, rb, cp, count) == 0;
        p[j][(j * 5) % CAIRN_HASH_BYTES] ^= 0x04;
        if (ok) {
            mtvec_fail(st, line,
                       "cairn accepts tlog's proof with a hash "
                       "changed");
        }
    }
}

static int mtvec_line(mtvec_state *st, const char *line)
{
    char word[8];
    unsigned long long a = 0, b = 0;
    int used = 0;
    if (strncmp(line, "leaf", 4) == 0 && (line[4] == ' ' || line[4] == '\n')) {
        const char *hx = line[4] == ' ' ? line + 5 : line + 4;
        size_t len = strcspn(hx, "\n");
        uint8_t data[512];
        if (len % 2 != 0 || len / 2 > sizeof(data) ||
            mtvec_unhex(hx, data, len / 2) != 0 || st->leaves >= 1u << 20) {
            return -1;
        }
        if (st->leaves % 1024 == 0) {
            void *nl = realloc(st->leaf,
                               (size_t)(st->leaves + 1024) * CAIRN_HASH_BYTES);
            if (nl == NULL) {
                return -1;
            }
            st->leaf = nl;
        }
        cairn__leaf_hash(data, len / 2, st->leaf[st->leaves]);
        return cairn__mt_append(st->leaves, st->leaf[st->leaves], NULL,
                                mt_mem_get, mt_mem_put, &st->m, NULL, NULL,
                                0) == CAIRN_OK &&
                       ++st->leaves
                   ? 0
                   : -1;
    }
    if (sscanf(line, "%7s %llu%n", word, &a, &used) != 2) {
        return -1;
    }
    if (strcmp(word, "groot") == 0) {
        uint8_t want[1][CAIRN_HASH_BYTES], got[CAIRN_HASH_BYTES];
        size_t count;
        if (mtvec_hashes(line + used, want, 1, &count) != 0 || count != 1 ||
            a == 0 || a > st->leaves) {
            return -1;
        }
        st->checks++;
        if (cairn__mt_root(a, mt_mem_get, &st->m, got, NULL, 0) != CAIRN_OK ||
            memcmp(got, want[0], CAIRN_HASH_BYTES) != 0) {
            mtvec_fail(st, line, "cairn's root differs from tlog.TreeHash");
        }
        return 0;
    }
    int more = 0;
    if (sscanf(line + used, " %llu%n", &b, &more) != 1) {
        return -1;
    }
    if (strcmp(word, "gincl") == 0 || strcmp(word, "gcons") == 0) {
        mtvec_check_proof(st, line, word[1] == 'i', a, b, line + used + more);
        return 0;
    }
    return -1;
}

static int mtvec_check(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        perror(path);
        return 2;
    }
    mtvec_state st = {0};
    char line[4096];
    long no = 0;
    int rc = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        no++;
        if (strchr(line, '\n') == NULL || mtvec_line(&st, line) != 0) {
            fprintf(stderr,
                    "test_merkle --tlog-check: %s line %ld: "
                    "malformed\n",
                    path, no);
            rc = 2;
            break;
        }
    }
    fclose(f);
    mt_mem_free(&st.m);
    free(st.leaf);
    if (rc == 0 && (st.failures != 0 || st.checks == 0)) {
        rc = 1;
    }
    fprintf(stderr,
            "test_merkle --tlog-check: %ld checks, %ld failed "
            "(%llu leaves)\n",
            st.checks, st.failures, (unsigned long long)st.leaves);
    return rc;
}

#endif
