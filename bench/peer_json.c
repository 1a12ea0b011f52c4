/*
 * peer_json.c - the journal as canic-backup keeps it: one JSON document
 * rewritten whole and atomically on every transition (write a fixed
 * sibling "<name>.tmp", fsync it, rename it over the journal, fsync the
 * directory), doing the same per-transition work (SHA-256 chain, one
 * Ed25519 signature).  Each step costs O(records so far): measured at
 * several journal sizes.
 */
#include "bench.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct jrec {
    uint64_t seq, wall;
    uint8_t prev[32];
    size_t len;
} jrec;

typedef struct jdoc {
    jrec *recs;
    size_t n, cap;
    uint8_t cp[130];
    char *text; /* the serialised document */
    size_t text_cap;
    const uint8_t *filler;
} jdoc;

static void hex(char *out, const uint8_t *in, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

/* Pretty-printed like serde_json::to_writer_pretty: one record per
 * object, its bytes in hex. */
static size_t serialise(jdoc *d)
{
    size_t need = 256 + d->n * (2 * 4096 + 256);
    if (need > d->text_cap) {
        free(d->text);
        d->text = malloc(need);
        d->text_cap = need;
        if (d->text == NULL) {
            bn_die("out of memory");
        }
    }
    char *p = d->text, h[2 * 4096 + 1];
    p += sprintf(p, "{\n  \"journal_version\": 1,\n  \"records\": [");
    for (size_t i = 0; i < d->n; i++) {
        const jrec *r = &d->recs[i];
        char prev[65];
        hex(prev, r->prev, 32);
        hex(h, d->filler, r->len - 48);
        p += sprintf(p,
                     "%s\n    {\n      \"seq\": %llu,\n      \"wall_ns\": "
                     "%llu,\n      \"prev\": \"%s\",\n      \"body\": "
                     "\"%s\"\n    }",
                     i ? "," : "", (unsigned long long)r->seq,
                     (unsigned long long)r->wall, prev, h);
    }
    hex(h, d->cp, 130);
    p += sprintf(p, "\n  ],\n  \"checkpoint\": \"%s\"\n}\n", h);
    return (size_t)(p - d->text);
}

static void write_atomic(const char *dir, const jdoc *d, size_t len)
{
    char path[4096], tmp[4200];
    snprintf(path, sizeof(path), "%s/backup-execution-journal.json", dir);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, d->text, len) != (ssize_t)len || fsync(fd) != 0 ||
        close(fd) != 0 || rename(tmp, path) != 0) {
        bn_die("json: writing %s failed", tmp);
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || fsync(dfd) != 0) {
        bn_die("json: fsync of %s failed", dir);
    }
    close(dfd);
}

/* Append the next transition to the document (in memory). */
static void add(jdoc *d, const bn_env *env, bn_peer_run *r)
{
    uint8_t rec[4096];
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 64;
        d->recs = realloc(d->recs, d->cap * sizeof(jrec));
        if (d->recs == NULL) {
            bn_die("out of memory");
        }
    }
    jrec *j = &d->recs[d->n++];
    memcpy(j->prev, r->head, 32);
    j->seq = r->seq;
    j->wall = bn_now_ns();
    j->len = bn_peer_step(r, env, rec, d->cp);
}

void bn_json(const bn_env *env)
{
    static const size_t sizes[] = {10, 100, 1000, 10000};
    char *dir = bn_fresh_dir(env->root, "json");
    jdoc d;
    bn_peer_run r;
    memset(&d, 0, sizeof(d));
    bn_peer_init(&r, env, 1);
    d.filler = r.filler;
    for (size_t k = 0; k < 4; k++) {
        size_t steps = sizes[k] >= 10000 ? 5 : 15, bytes = 0;
        double lat[16];
        if (env->quick && sizes[k] >= 10000) {
            break;
        }
        while (d.n < sizes[k]) {
            add(&d, env, &r); /* grow the journal without timing */
        }
        for (size_t i = 0; i < steps; i++) {
            uint64_t t0 = bn_now_ns();
            add(&d, env, &r);
            bytes = serialise(&d);
            write_atomic(dir, &d, bytes);
            lat[i] = (double)(bn_now_ns() - t0) / 1000.0;
        }
        char key[96];
        snprintf(key, sizeof(key), "JSON transition at %zu records", sizes[k]);
        bn_sample(key, "us", bn_median(lat, steps));
        snprintf(key, sizeof(key), "  bytes rewritten per transition at %zu",
                 sizes[k]);
        bn_sample(key, "bytes", (double)bytes);
    }
    free(d.recs);
    free(d.text);
    bn_rmtree(dir);
    free(dir);
}
