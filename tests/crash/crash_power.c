/*
 * crash_power.c - scenario 3: power loss simulated by write-log replay
 * (T3).  The workload runs once per seed under shim.so in log mode, which
 * records every write to a data.mdb (offset and bytes, and which inode),
 * a barrier after each successful fdatasync/fsync of it, the writes made
 * through the O_DSYNC descriptor (durable when they return), the moment
 * DIR/data.mdb came into existence (P: the link of the new journal, built
 * in DIR/.cairn-new-XXXXXX, into place), each fsync of the directory (S)
 * and the workload's ack lines.  Only the published inode's writes are
 * replayed (crash_plog.c).
 *
 * A crash state is a log index c.  Its image: every write before the last
 * barrier before c, every O_DSYNC write before c, and each other write
 * between that barrier and c applied, dropped, or torn (a random subset of
 * its 512-byte sectors), in log order.  If the publication is not before c
 * there is no journal: the directory is empty, or holds the temporary
 * directory with that image; opening it with CAIRN_OPEN_CREATE must make
 * a fresh, empty journal.  Between the publication and the next directory
 * fsync the link may or may not be on disk (chosen at random per state).
 * Otherwise the image is DIR/data.mdb: it must open read-only (it was
 * complete and fsynced before it was linked) and is audited in a forked
 * child; every ack logged before c must be in it (I1), nothing past the
 * intents (I3), and it must verify (I2, I4, I5).  Identical images are
 * audited once.  Two worker processes share the states.  Model limits:
 * 512-byte sector atomicity, honest flushes, file sizes not modelled, and
 * directory operations durable in order (a link is on disk once the
 * directory is fsynced, and no later link or rename is durable before an
 * earlier one).
 */
#include "crash_pl.h"
#include "base/crypto.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define SECTOR 512u
#define WORKERS 2
#define CACHE_SLOTS 4096u
#define MAX_KEPT 5

/* Direct-mapped cache: state key -> audit result. */
typedef struct pl_cache {
    uint8_t key[CACHE_SLOTS][16];
    uint8_t used[CACHE_SLOTS];
    cr_snap snap[CACHE_SLOTS];
} pl_cache;

/* Totals a worker reports (in this order). */
enum {
    PS_STATES,   /* crash states checked */
    PS_AUDITS,   /* distinct published images audited */
    PS_VOLATILE, /* volatile writes replayed */
    PS_TORN,     /* of them torn */
    PS_UNOPENED, /* published images that did not open (violations) */
    PS_PREPUB,   /* states before the publication */
    PS_LOST,     /* states whose link was not yet on disk */
    PS_CREATES,  /* distinct fresh creations checked */
    PS_N
};

typedef struct pl_state {
    uint64_t index; /* state number within the seed */
    size_t c;       /* crash index */
} pl_state;

/* What a crash state holds. */
enum { ST_PUBLISHED, ST_UNPUBLISHED, ST_LINK_LOST };

typedef struct pl_worker {
    cr_ctx *c;
    const pl_log *log;
    uint64_t seed;
    char imgdir[4096]; /* published images: imgdir/data.mdb */
    char predir[4096]; /* states without a journal */
    pl_image base, img;
    size_t base_upto; /* entries [0, base_upto) applied to base */
    cr_log acks;      /* ack lines before the current state */
    size_t acks_upto;
    pl_cache *cache;
    uint64_t st[PS_N];
    unsigned kept;
    int control; /* enum cr_pl_control */
} pl_worker;

/* Apply a random subset of the write's sectors (file-aligned). */
static void apply_torn(pl_worker *w, const pl_entry *e, uint64_t *rng,
                       cairn_blake2b *key)
{
    uint64_t pos = e->off, end = e->off + e->len;
    w->st[PS_TORN]++;
    while (pos < end) {
        uint64_t next = (pos / SECTOR + 1) * SECTOR;
        next = next < end ? next : end;
        uint8_t bit = (uint8_t)cr_below(rng, 2);
        cairn__blake2b512_update(key, &bit, 1);
        if (bit) {
            (void)pl_img_apply(&w->img, pos, e->data + (pos - e->off),
                               (size_t)(next - pos));
        }
        pos = next;
    }
}

/* Bring base up to the last barrier before c and the ack log up to c. */
static void advance(pl_worker *w, size_t c)
{
    long b = w->log->last_barrier[c];
    for (; b >= 0 && w->base_upto < (size_t)b; w->base_upto++) {
        const pl_entry *e = &w->log->e[w->base_upto];
        if (e->type == 'W' || e->type == 'D') {
            (void)pl_img_apply(&w->base, e->off, e->data, e->len);
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

/* Which kind of state @p s is; *leftover: whether the unpublished file
 * is in the directory. */
static int state_kind(const pl_worker *w, const pl_state *s, int *leftover)
{
    const pl_log *log = w->log;
    uint64_t rng = w->seed ^ ((s->index + 1) * 0xa0761d6478bd642fu);
    rng = cr_rand(&rng);
    *leftover = 1;
    if (log->pub >= 0 && s->c <= (size_t)log->pub) {
        /* The temporary directory's own entry may be lost too. */
        *leftover = (int)cr_below(&rng, 2);
        return ST_UNPUBLISHED;
    }
    if (s->c <= log->dirsync && cr_below(&rng, 2) == 0) {
        return ST_LINK_LOST;
    }
    return ST_PUBLISHED;
}

/* Build the file's image in state @p s; the state's identity (its kind
 * @p mode and every choice) goes into @p key. */
static void build(pl_worker *w, const pl_state *s, uint8_t mode,
                  uint8_t key[16])
{
    uint64_t rng = w->seed ^ (s->index * 0xd1b54a32d192ed03u);
    rng = cr_rand(&rng); /* decorrelate neighbouring state numbers */
    long b = w->log->last_barrier[s->c];
    cairn_blake2b h;
    cairn__blake2b512_init(&h);
    cairn__blake2b512_update(&h, &mode, 1);
    cairn__blake2b512_update(&h, &b, sizeof(b));
    (void)pl_img_copy(&w->img, &w->base);
    for (size_t i = b < 0 ? 0 : (size_t)b; i < s->c; i++) {
        const pl_entry *e = &w->log->e[i];
        if (e->type == 'D' && w->control != CR_PL_META_VOLATILE) {
            cairn__blake2b512_update(&h, &i, sizeof(i));
            (void)pl_img_apply(&w->img, e->off, e->data, e->len);
            continue;
        }
        if (e->type != 'W' && e->type != 'D') {
            continue;
        }
        w->st[PS_VOLATILE]++;
        uint8_t choice = (uint8_t)cr_below(&rng, 3);
        cairn__blake2b512_update(&h, &i, sizeof(i));
        cairn__blake2b512_update(&h, &choice, 1);
        if (choice == 1) {
            (void)pl_img_apply(&w->img, e->off, e->data, e->len);
        } else if (choice == 2) {
            apply_torn(w, e, &rng, &h);
        }
    }
    uint8_t full[64];
    cairn__blake2b512_final(&h, full);
    memcpy(key, full, 16);
}

/* The cache slot of @p key; *hit when it holds that key's result. */
static cr_snap *cache_slot(pl_cache *cache, const uint8_t key[16], int *hit)
{
    uint32_t slot;
    memcpy(&slot, key, sizeof(slot));
    slot %= CACHE_SLOTS;
    *hit = cache->used[slot] && memcmp(cache->key[slot], key, 16) == 0;
    if (!*hit) {
        if (cache->used[slot]) {
            cr_snap_free(&cache->snap[slot]);
        }
        memcpy(cache->key[slot], key, 16);
        cache->used[slot] = 1;
    }
    return &cache->snap[slot];
}

/* Keep the state as power loss left it (before any reopening) in a new
 * directory: the published image, or the unpublished leftover. */
static void keep_state(pl_worker *w, const pl_state *s, int kind, int leftover)
{
    char dir[4096], path[4200];
    if (w->c->control || w->kept++ >= MAX_KEPT) {
        return;
    }
    cr_mkdir_fresh(w->c, "power-fail", dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/data.mdb", dir);
    if (kind == ST_PUBLISHED) {
        (void)pl_img_write(&w->img, path);
    } else if (leftover) {
        (void)pl_place_leftover(dir, w->log->from, &w->img);
    }
    printf("    power-loss state %llu (seed %llu, crash index %zu, last "
           "barrier %ld): the directory it leaves kept in %s\n",
           (unsigned long long)s->index, (unsigned long long)w->seed, s->c,
           w->log->last_barrier[s->c], dir);
}

/* A state with no journal in place: a fresh one must be made. */
static void unpublished(pl_worker *w, const pl_state *s, int kind, int leftover,
                        const uint8_t key[16], const char *where)
{
    int hit = 0;
    w->st[kind == ST_LINK_LOST ? PS_LOST : PS_PREPUB]++;
    cr_snap *snap = cache_slot(w->cache, key, &hit);
    if (!hit) {
        w->st[PS_CREATES]++;
        pl_fresh_create(w->c, w->predir, w->log->from, &w->img, leftover, snap);
    }
    if (!snap->ok) {
        cr_violation(w->c, "%s: power lost %s: %s", where,
                     kind == ST_LINK_LOST
                         ? "before the link of the new journal reached the "
                           "disk"
                         : "before the new journal was linked into place",
                     snap->why);
    } else if (cr_check_acks(w->c, snap, &w->acks, where) == 0) {
        return;
    }
    keep_state(w, s, kind, leftover);
}

/* A state with the journal in place: its image must open and audit. */
static void published(pl_worker *w, const pl_state *s, const uint8_t key[16],
                      const char *where)
{
    char path[4200];
    int hit = 0;
    cr_snap *snap = cache_slot(w->cache, key, &hit);
    if (!hit) {
        snprintf(path, sizeof(path), "%s/data.mdb", w->imgdir);
        w->st[PS_AUDITS]++;
        memset(snap, 0, sizeof(*snap));
        if (pl_img_write(&w->img, path) != 0) {
            snprintf(snap->why, sizeof(snap->why), "cannot write %.700s", path);
        } else {
            cr_audit(w->c, w->imgdir, 0, NULL, snap);
        }
    }
    w->st[PS_UNOPENED] += !snap->opened;
    if (!snap->opened) {
        cr_violation(w->c,
                     "%s: DIR/data.mdb is in place but does not open (a "
                     "new journal must be complete and durable before it "
                     "appears): %s",
                     where, snap->why);
    } else if (cr_check_acks(w->c, snap, &w->acks, where) == 0) {
        return;
    }
    keep_state(w, s, ST_PUBLISHED, 1);
}

static void one_state(pl_worker *w, const pl_state *s)
{
    uint8_t key[16];
    char where[160];
    int leftover = 1;
    int kind = state_kind(w, s, &leftover);
    advance(w, s->c);
    if (leftover) {
        build(w, s, (uint8_t)kind, key);
    } else {
        memset(key, 0, sizeof(key)); /* an empty directory: no image */
        key[0] = 0xe0;
    }
    w->st[PS_STATES]++;
    snprintf(where, sizeof(where), "seed %llu state %llu (crash index %zu)",
             (unsigned long long)w->seed, (unsigned long long)s->index, s->c);
    if (kind == ST_PUBLISHED) {
        published(w, s, key, where);
    } else {
        unpublished(w, s, kind, leftover, key, where);
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
    w.control = control;
    w.c = c;
    w.log = log;
    w.seed = seed;
    w.cache = calloc(1, sizeof(*w.cache));
    if (w.cache == NULL) {
        _exit(3);
    }
    cr_mkdir_fresh(c, "power-img", w.imgdir, sizeof(w.imgdir));
    /* Fresh creations fsync several times: on a tmpfs when there is one
     * (what is checked there is the library's logic, not the disk). */
    snprintf(w.predir, sizeof(w.predir), "/dev/shm/cairn-crash-new-XXXXXX");
    if (mkdtemp(w.predir) == NULL) {
        cr_mkdir_fresh(c, "power-new", w.predir, sizeof(w.predir));
    }
    for (size_t i = id; i < n; i += WORKERS) {
        one_state(&w, &states[i]);
    }
    char line[512];
    int len = 0;
    for (int k = 0; k < PS_N; k++) {
        len += snprintf(line + len, sizeof(line) - (size_t)len, "%llu ",
                        (unsigned long long)w.st[k]);
    }
    len += snprintf(line + len, sizeof(line) - (size_t)len, "%llu %llu\n",
                    (unsigned long long)c->cur->violations,
                    (unsigned long long)c->cur->known);
    (void)!write(fd, line, (size_t)len);
    cr_cleanup_dir(c, w.imgdir, 0);
    cr_cleanup_dir(c, w.predir, 0);
    _exit(0);
}

/* Read one worker's totals and reap it. */
static void collect(cr_ctx *c, int fd, pid_t pid, uint64_t before,
                    uint64_t known, uint64_t total[PS_N])
{
    char buf[512] = "";
    unsigned long long v[PS_N + 2] = {0};
    ssize_t r = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    int status = 0, got = 0;
    waitpid(pid, &status, 0);
    char *p = buf;
    for (int k = 0; r > 0 && k < PS_N + 2; k++) {
        char *end = NULL;
        v[k] = strtoull(p, &end, 10);
        got += end != p;
        p = end;
    }
    if (got != PS_N + 2) {
        cr_violation(c, "power-loss worker %d died (status 0x%x)", (int)pid,
                     (unsigned)status);
        return;
    }
    for (int k = 0; k < PS_N; k++) {
        total[k] += v[k];
    }
    c->cur->violations += v[PS_N] - before;
    c->cur->known += v[PS_N + 1] - known;
}

/* Fork the workers over @p states and add up what they found. */
static void replay(cr_ctx *c, const pl_log *log, uint64_t seed,
                   const pl_state *states, size_t n, uint64_t total[PS_N],
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

/* The write log of @p wlog, or a violation saying why it cannot be
 * replayed; 0 when loaded. */
static int load(cr_ctx *c, uint64_t seed, const char *wlog, int control,
                pl_log *log)
{
    int rc = pl_load(wlog, control, log);
    if (rc == PL_UNPUBLISHED) {
        cr_violation(c,
                     "seed %llu: the write log never shows DIR/data.mdb "
                     "appear (no link, rename or creating open)",
                     (unsigned long long)seed);
    } else if (rc != 0 || log->n == 0) {
        cr_violation(c, "seed %llu: the write log is unreadable",
                     (unsigned long long)seed);
    } else if (log->n_pub > 1) {
        cr_violation(c,
                     "seed %llu: DIR/data.mdb was put in place %u times "
                     "(an existing journal was replaced)",
                     (unsigned long long)seed, log->n_pub);
    } else {
        return 0;
    }
    pl_free(log);
    return -1;
}

/* Replay the write log @p wlog of @p seed over @p n random states. */
static void replay_log(cr_ctx *c, uint64_t seed, const char *wlog, uint64_t n,
                       uint64_t total[PS_N], int control)
{
    pl_log log;
    if (load(c, seed, wlog, control, &log) != 0) {
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
    cr_note(c,
            "seed %llu: %zu log entries, published at %ld, directory "
            "fsynced at %zu, %llu states",
            (unsigned long long)seed, log.n, log.pub, log.dirsync,
            (unsigned long long)n);
    free(states);
    pl_free(&log);
}

static void one_seed(cr_ctx *c, uint64_t seed, uint64_t n, uint64_t total[PS_N])
{
    char dir[4096], wlog[4200];
    if (pl_record(c, seed, dir, sizeof(dir), wlog, sizeof(wlog)) == 0) {
        replay_log(c, seed, wlog, n, total, CR_PL_NONE);
    }
    cr_cleanup_dir(c, dir, 0);
}

void cr_scen_power(cr_ctx *c)
{
    uint64_t total = cr_scaled(c, 10000, 5);
    uint64_t seeds[4] = {1, 2, 3, c->seed};
    uint64_t st[PS_N] = {0};
    cr_note(c, "seeds 1, 2, 3 and %llu", (unsigned long long)c->seed);
    for (size_t i = 0; i < 4; i++) {
        one_seed(c, seeds[i], total / 4, st);
    }
    c->cur->iterations = st[PS_STATES];
    snprintf(
        c->cur->note, sizeof(c->cur->note),
        "%llu images audited, %llu volatile writes (%llu torn); "
        "%llu states before the link, %llu with the link lost: "
        "%llu fresh creates checked",
        (unsigned long long)st[PS_AUDITS], (unsigned long long)st[PS_VOLATILE],
        (unsigned long long)st[PS_TORN], (unsigned long long)st[PS_PREPUB],
        (unsigned long long)st[PS_LOST], (unsigned long long)st[PS_CREATES]);
}

void cr_power_control(cr_ctx *c, uint64_t states, const int *controls, size_t n,
                      unsigned *caught)
{
    char dir[4096], wlog[4200];
    uint64_t st[PS_N] = {0};
    if (pl_record(c, 1, dir, sizeof(dir), wlog, sizeof(wlog)) == 0) {
        for (size_t i = 0; i < n; i++) {
            uint64_t before = c->cur->violations;
            replay_log(c, 1, wlog, states, st, controls[i]);
            caught[i] = c->cur->violations > before;
            cr_note(c, "power-loss control %d: %llu violations found",
                    controls[i],
                    (unsigned long long)(c->cur->violations - before));
        }
    }
    cr_cleanup_dir(c, dir, 0);
}
