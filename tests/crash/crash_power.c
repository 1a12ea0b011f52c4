/*
 * crash_power.c - scenario 3: power loss simulated by write-log replay
 * (T3).  The workload runs once per seed under shim.so in log mode, which
 * records every write to data.mdb (offset and bytes), a barrier after each
 * successful fdatasync/fsync, the writes made through the O_DSYNC
 * descriptor (durable when they return), and the workload's ack lines.
 *
 * A crash state is a log index c.  Its image: every write before the last
 * barrier before c, every O_DSYNC write before c, and each other write
 * between that barrier and c applied, dropped, or torn (a random subset of
 * its 512-byte sectors), in log order.  The image is audited read-only in
 * a forked child; every ack logged before c must be in it (I1), nothing
 * past the intents (I3), and it must verify (I2, I4, I5).  Identical
 * images (same barrier and same choices) are audited once.  Two worker
 * processes share the states.  Model limits: 512-byte sector atomicity,
 * honest flushes, file-system metadata (sizes, directories) not modelled.
 */
#include "crash.h"
#include "crypto.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define SECTOR 512u
#define WORKERS 2
#define CACHE_SLOTS 4096u

typedef struct pl_entry {
    char type;
    uint64_t off;
    uint32_t len;
    const uint8_t *data;
} pl_entry;

typedef struct pl_log {
    uint8_t *raw;
    pl_entry *e;
    size_t n;
    long *last_barrier; /* [c]: index of the last B before c, or -1 */
} pl_log;

typedef struct pl_image {
    uint8_t *buf;
    size_t size, cap;
} pl_image;

/* Direct-mapped cache: image key -> audit result. */
typedef struct pl_cache {
    uint8_t key[CACHE_SLOTS][16];
    uint8_t used[CACHE_SLOTS];
    cr_snap snap[CACHE_SLOTS];
} pl_cache;

typedef struct pl_stats {
    uint64_t states, audits, volatile_writes, torn, unopenable;
    uint64_t recreate_failed; /* pre-creation states a RW open cannot fix */
} pl_stats;

static int pl_load(const char *path, pl_log *log)
{
    size_t len = 0;
    memset(log, 0, sizeof(*log));
    log->raw = (uint8_t *)cr_slurp(path, &len);
    if (log->raw == NULL) {
        return -1;
    }
    size_t cap = 0;
    for (size_t p = 0; p + 16 <= len;) {
        uint32_t n;
        uint64_t off;
        memcpy(&n, log->raw + p + 4, 4);
        memcpy(&off, log->raw + p + 8, 8);
        if (p + 16 + n > len) {
            return -1;
        }
        if (log->n == cap) {
            cap = cap ? cap * 2 : 1024;
            pl_entry *ne = realloc(log->e, cap * sizeof(*ne));
            if (ne == NULL) {
                return -1;
            }
            log->e = ne;
        }
        log->e[log->n++] =
            (pl_entry){(char)log->raw[p], off, n, log->raw + p + 16};
        p += 16 + n;
    }
    log->last_barrier = malloc((log->n + 1) * sizeof(long));
    if (log->last_barrier == NULL) {
        return -1;
    }
    long b = -1;
    for (size_t c = 0; c <= log->n; c++) {
        log->last_barrier[c] = b;
        if (c < log->n && log->e[c].type == 'B') {
            b = (long)c;
        }
    }
    return 0;
}

static void pl_free(pl_log *log)
{
    free(log->raw);
    free(log->e);
    free(log->last_barrier);
}

static int img_apply(pl_image *img, uint64_t off, const uint8_t *data,
                     size_t len)
{
    size_t end = (size_t)off + len;
    if (end > img->cap) {
        size_t cap = img->cap ? img->cap : 65536;
        while (cap < end) {
            cap *= 2;
        }
        uint8_t *nb = realloc(img->buf, cap);
        if (nb == NULL) {
            return -1;
        }
        memset(nb + img->cap, 0, cap - img->cap);
        img->buf = nb;
        img->cap = cap;
    }
    memcpy(img->buf + off, data, len);
    img->size = end > img->size ? end : img->size;
    return 0;
}

/* dst = src; bytes past src's end read as zero (a hole of the file). */
static int img_copy(pl_image *dst, const pl_image *src)
{
    size_t old = dst->size;
    dst->size = 0;
    if (src->size > 0 && img_apply(dst, 0, src->buf, src->size) != 0) {
        return -1;
    }
    dst->size = src->size;
    if (old > src->size) {
        memset(dst->buf + src->size, 0, old - src->size);
    }
    return 0;
}

/* Apply a random subset of the write's sectors (file-aligned). */
static void apply_torn(pl_image *img, const pl_entry *e, uint64_t *rng,
                       cairn_blake2b *key, pl_stats *st)
{
    uint64_t pos = e->off, end = e->off + e->len;
    st->torn++;
    while (pos < end) {
        uint64_t next = (pos / SECTOR + 1) * SECTOR;
        next = next < end ? next : end;
        uint8_t bit = (uint8_t)cr_below(rng, 2);
        cairn__blake2b512_update(key, &bit, 1);
        if (bit) {
            (void)img_apply(img, pos, e->data + (pos - e->off),
                            (size_t)(next - pos));
        }
        pos = next;
    }
}

typedef struct pl_state {
    uint64_t index; /* state number within the seed */
    size_t c;       /* crash index */
} pl_state;

typedef struct pl_worker {
    cr_ctx *c;
    const pl_log *log;
    uint64_t seed;
    char imgdir[4096];
    pl_image base, img;
    size_t base_upto; /* entries [0, base_upto) applied to base */
    cr_log acks;      /* ack lines before the current state */
    size_t acks_upto;
    pl_cache *cache;
    pl_stats st;
    int dsync_volatile; /* negative control: O_DSYNC writes not durable */
} pl_worker;

/* Bring base up to the last barrier before c and the ack log up to c. */
static void advance(pl_worker *w, size_t c)
{
    long b = w->log->last_barrier[c];
    for (; b >= 0 && w->base_upto < (size_t)b; w->base_upto++) {
        const pl_entry *e = &w->log->e[w->base_upto];
        if (e->type == 'W' || e->type == 'D') {
            (void)img_apply(&w->base, e->off, e->data, e->len);
        }
    }
    for (; w->acks_upto < c; w->acks_upto++) {
        const pl_entry *e = &w->log->e[w->acks_upto];
        if (e->type != 'A' || e->len == 0 || e->len > 1000) {
            continue;
        }
        char line[1024];
        memcpy(line, e->data, e->len);
        line[e->len] = '\0';
        line[strcspn(line, "\n")] = '\0';
        cr_log_feed(&w->acks, line);
    }
}

/* Build the image of state @p s; its identity goes into @p key. */
static void build(pl_worker *w, const pl_state *s, uint8_t key[16])
{
    uint64_t rng = w->seed ^ (s->index * 0xd1b54a32d192ed03u);
    rng = cr_rand(&rng); /* decorrelate neighbouring state numbers */
    long b = w->log->last_barrier[s->c];
    cairn_blake2b h;
    cairn__blake2b512_init(&h);
    cairn__blake2b512_update(&h, &b, sizeof(b));
    (void)img_copy(&w->img, &w->base);
    for (size_t i = b < 0 ? 0 : (size_t)b; i < s->c; i++) {
        const pl_entry *e = &w->log->e[i];
        if (e->type == 'D' && !w->dsync_volatile) {
            cairn__blake2b512_update(&h, &i, sizeof(i));
            (void)img_apply(&w->img, e->off, e->data, e->len);
            continue;
        }
        if (e->type != 'W' && e->type != 'D') {
            continue;
        }
        w->st.volatile_writes++;
        uint8_t choice = (uint8_t)cr_below(&rng, 3);
        cairn__blake2b512_update(&h, &i, sizeof(i));
        cairn__blake2b512_update(&h, &choice, 1);
        if (choice == 1) {
            (void)img_apply(&w->img, e->off, e->data, e->len);
        } else if (choice == 2) {
            apply_torn(&w->img, e, &rng, &h, &w->st);
        }
    }
    uint8_t full[64];
    cairn__blake2b512_final(&h, full);
    memcpy(key, full, 16);
}

static int write_image(pl_worker *w)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/data.mdb", w->imgdir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        return -1;
    }
    int rc = cr_write_all(fd, w->img.buf, w->img.size);
    return close(fd) == 0 ? rc : -1;
}

static const cr_snap *audit_image(pl_worker *w, const uint8_t key[16])
{
    uint32_t slot;
    memcpy(&slot, key, sizeof(slot));
    slot %= CACHE_SLOTS;
    pl_cache *cache = w->cache;
    if (cache->used[slot] && memcmp(cache->key[slot], key, 16) == 0) {
        return &cache->snap[slot];
    }
    if (cache->used[slot]) {
        cr_snap_free(&cache->snap[slot]);
    }
    cache->used[slot] = 0;
    if (write_image(w) != 0) {
        return NULL;
    }
    w->st.audits++;
    cr_audit(w->c, w->imgdir, 0, NULL, &cache->snap[slot]);
    memcpy(cache->key[slot], key, 16);
    cache->used[slot] = 1;
    return &cache->snap[slot];
}

static void keep_failed(pl_worker *w, const pl_state *s)
{
    char dir[4096], from[4200], to[4200];
    cr_mkdir_fresh(w->c, "power-fail", dir, sizeof(dir));
    snprintf(from, sizeof(from), "%s/data.mdb", w->imgdir);
    snprintf(to, sizeof(to), "%s/data.mdb", dir);
    (void)write_image(w);
    (void)cr_copy_file(from, to);
    printf("    power-loss state %llu (seed %llu, crash index %zu, last "
           "barrier %ld): image kept in %s\n",
           (unsigned long long)s->index, (unsigned long long)w->seed, s->c,
           w->log->last_barrier[s->c], dir);
}

/* A state from before the journal's creation was acknowledged: opening
 * it read-write (as the next `cairn create` would) must work. */
static void recreate(pl_worker *w, const pl_state *s, const char *where)
{
    if (write_image(w) != 0) {
        return;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        cairn_journal *j = NULL;
        char detail[512];
        cairn_err err = cairn_journal_open(w->imgdir, CAIRN_OPEN_CREATE, &j,
                                           detail, sizeof(detail));
        cairn_journal_close(j);
        _exit((int)err);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    if (getenv("CRASH_VERBOSE") != NULL) {
        cr_note(w->c, "recreate: state %llu c=%zu size=%zu status 0x%x",
                (unsigned long long)s->index, s->c, w->img.size, (unsigned)st);
    }
    if (WIFEXITED(st) && WEXITSTATUS(st) == CAIRN_OK) {
        return;
    }
    char text[64];
    cr_status_text(st, text, sizeof(text));
    w->st.recreate_failed++;
    cr_violation_known(w->c, "create-torn",
                       "%s: power lost while the journal was being "
                       "created; opening it again fails (%s%s%s)",
                       where, text, WIFEXITED(st) ? ": " : "",
                       WIFEXITED(st) ? cairn_errname((cairn_err)WEXITSTATUS(st))
                                     : "");
    if (!w->c->control && w->st.recreate_failed == 1) {
        keep_failed(w, s);
    }
}

static void one_state(pl_worker *w, const pl_state *s)
{
    uint8_t key[16];
    char where[128];
    advance(w, s->c);
    build(w, s, key);
    const cr_snap *snap = audit_image(w, key);
    w->st.states++;
    snprintf(where, sizeof(where), "seed %llu state %llu (crash index %zu)",
             (unsigned long long)w->seed, (unsigned long long)s->index, s->c);
    if (snap == NULL) {
        cr_violation(w->c, "%s: cannot write the image", where);
        return;
    }
    w->st.unopenable += !snap->opened;
    if (cr_check_acks(w->c, snap, &w->acks, where) > 0 && !w->c->control) {
        keep_failed(w, s);
    }
    if (!snap->opened && !w->acks.open_acked && !w->c->control) {
        recreate(w, s, where);
    }
}

static int by_crash_index(const void *a, const void *b)
{
    const pl_state *x = a, *y = b;
    return x->c < y->c ? -1 : x->c > y->c ? 1 : 0;
}

static void worker(cr_ctx *c, const pl_log *log, uint64_t seed,
                   const pl_state *states, size_t n, unsigned id, int fd,
                   int control)
{
    pl_worker w;
    memset(&w, 0, sizeof(w));
    w.dsync_volatile = control;
    w.c = c;
    w.log = log;
    w.seed = seed;
    w.cache = calloc(1, sizeof(*w.cache));
    if (w.cache == NULL) {
        _exit(3);
    }
    cr_mkdir_fresh(c, "power-img", w.imgdir, sizeof(w.imgdir));
    for (size_t i = id; i < n; i += WORKERS) {
        one_state(&w, &states[i]);
    }
    char line[256];
    int len = snprintf(
        line, sizeof(line), "%llu %llu %llu %llu %llu %llu %llu\n",
        (unsigned long long)w.st.states, (unsigned long long)w.st.audits,
        (unsigned long long)w.st.volatile_writes, (unsigned long long)w.st.torn,
        (unsigned long long)w.st.unopenable,
        (unsigned long long)c->cur->violations,
        (unsigned long long)c->cur->known);
    (void)!write(fd, line, (size_t)len);
    cr_cleanup_dir(c, w.imgdir, 0);
    _exit(0);
}

/* Read one worker's totals and reap it. */
static void collect(cr_ctx *c, int fd, pid_t pid, uint64_t before,
                    uint64_t known, pl_stats *total)
{
    char buf[256] = "";
    unsigned long long v[7] = {0};
    ssize_t r = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    int status = 0;
    waitpid(pid, &status, 0);
    if (r <= 0 || sscanf(buf, "%llu %llu %llu %llu %llu %llu %llu", &v[0],
                         &v[1], &v[2], &v[3], &v[4], &v[5], &v[6]) != 7) {
        cr_violation(c, "power-loss worker %d died (status 0x%x)", (int)pid,
                     (unsigned)status);
        return;
    }
    total->states += v[0];
    total->audits += v[1];
    total->volatile_writes += v[2];
    total->torn += v[3];
    total->unopenable += v[4];
    c->cur->violations += v[5] - before;
    c->cur->known += v[6] - known;
}

/* Fork the workers over @p states and add up what they found. */
static void replay(cr_ctx *c, const pl_log *log, uint64_t seed,
                   const pl_state *states, size_t n, pl_stats *total,
                   int control)
{
    int fds[WORKERS];
    pid_t pids[WORKERS];
    uint64_t before = c->cur->violations, known = c->cur->known;
    fflush(stdout);
    for (unsigned i = 0; i < WORKERS; i++) {
        int p[2];
        if (pipe(p) != 0) {
            cr_violation(c, "pipe: %s", strerror(errno));
            return;
        }
        pids[i] = fork();
        if (pids[i] == 0) {
            close(p[0]);
            worker(c, log, seed, states, n, i, p[1], control);
        }
        close(p[1]);
        fds[i] = p[0];
    }
    for (unsigned i = 0; i < WORKERS; i++) {
        collect(c, fds[i], pids[i], before, known, total);
    }
}

/* Run the logged workload for @p seed; 0 when it went well. */
static int record(cr_ctx *c, uint64_t seed, char *dir, size_t dlen, char *wlog,
                  size_t wlen)
{
    char ack[4200];
    cr_argv env;
    cr_mkdir_fresh(c, "power", dir, dlen);
    snprintf(ack, sizeof(ack), "%s.ack", dir);
    snprintf(wlog, wlen, "%s.wlog", dir);
    cr_argv_init(&env);
    cr_argv_add(&env, "LD_PRELOAD=%s", c->shim);
    cr_argv_add(&env, "CRASH_SHIM_DIR=%s", dir);
    cr_argv_add(&env, "CRASH_SHIM_MODE=log");
    cr_argv_add(&env, "CRASH_SHIM_LOG=%s", wlog);
    cr_argv_add(&env, "CRASH_SHIM_ACK=%s", ack);
    int status = cr_run_workload(c, "sweep", dir, ack, seed, 30, env.v, NULL);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        cr_violation(c, "seed %llu: the logged workload failed (0x%x)",
                     (unsigned long long)seed, (unsigned)status);
        return -1;
    }
    /* The journal as the workload left it must pass too. */
    cr_snap snap;
    cr_log log;
    cr_audit(c, dir, 0, NULL, &snap);
    cr_log_load(ack, &log);
    unsigned v = cr_check_acks(c, &snap, &log, "logged workload");
    cr_snap_free(&snap);
    cr_log_free(&log);
    return v == 0 ? 0 : -1;
}

static void one_seed(cr_ctx *c, uint64_t seed, uint64_t n, pl_stats *total,
                     int control)
{
    char dir[4096], wlog[4200];
    pl_log log;
    if (record(c, seed, dir, sizeof(dir), wlog, sizeof(wlog)) != 0) {
        return;
    }
    if (pl_load(wlog, &log) != 0 || log.n == 0) {
        cr_violation(c, "seed %llu: the write log is unreadable",
                     (unsigned long long)seed);
        return;
    }
    pl_state *states = calloc(n, sizeof(*states));
    uint64_t rng = seed ^ 0x706f776572u;
    for (uint64_t i = 0; states != NULL && i < n; i++) {
        states[i].index = i;
        states[i].c = (size_t)cr_below(&rng, log.n + 1);
    }
    if (states != NULL) {
        qsort(states, n, sizeof(*states), by_crash_index);
        replay(c, &log, seed, states, n, total, control);
    }
    cr_note(c, "seed %llu: %zu log entries, %llu states",
            (unsigned long long)seed, log.n, (unsigned long long)n);
    free(states);
    pl_free(&log);
    cr_cleanup_dir(c, dir, 0);
}

void cr_scen_power(cr_ctx *c)
{
    uint64_t total = cr_scaled(c, 10000, 5);
    uint64_t seeds[4] = {1, 2, 3, c->seed};
    pl_stats st;
    memset(&st, 0, sizeof(st));
    cr_note(c, "seeds 1, 2, 3 and %llu", (unsigned long long)c->seed);
    for (size_t i = 0; i < 4; i++) {
        one_seed(c, seeds[i], total / 4, &st, 0);
    }
    c->cur->iterations = st.states;
    snprintf(c->cur->note, sizeof(c->cur->note),
             "%llu images audited, %llu volatile writes (%llu torn), "
             "%llu pre-creation states unopenable",
             (unsigned long long)st.audits,
             (unsigned long long)st.volatile_writes,
             (unsigned long long)st.torn, (unsigned long long)st.unopenable);
}

void cr_power_control(cr_ctx *c, uint64_t states)
{
    pl_stats st;
    memset(&st, 0, sizeof(st));
    one_seed(c, 1, states, &st, 1);
}
