/*
 * prune_archive.c - cairn prune's execution: for each run of the plan,
 * archive (cairn_export_bundle_opts(), one zstd frame with --zstd:
 * temporary file, fsync, rename without replacing, directory fsync, then
 * FILE.minisig the same way), re-read and verify the stored copy with the
 * journal's public key (a zstd copy is decompressed to be verified, and
 * must be zstd exactly when --zstd asks), then one durable prune
 * transaction (cairn_prune()) naming the stored file's SHA-256, size and
 * location.
 *
 * Re-runnable: a bundle with its .minisig left by an interrupted prune
 * is verified and reused, never overwritten; a bundle without its
 * .minisig is an export cut short (the library writes the .minisig last)
 * and is removed with its .tlog-proof (bundle version 2) and written
 * again; temporary files of an export cut short (FILE.tmp-*,
 * FILE.minisig.tmp-*, FILE.tlog-proof.tmp-*) are removed.  A run whose copy
 * does not verify is kept and reported.  An exclusive lock on DIR/<journal
 * id>/.prune.lock keeps two prunes of one journal apart; the library's
 * transaction refuses to prune a run twice (CAIRN_EPRUNED: "already done").
 *
 * CAIRN_TEST_PRUNE_KILL_AT=export|verify|prune (tests only) SIGKILLs the
 * process right after that phase of the first run it reaches.
 */
#include "prune.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

void prune_sha256(const void *in, size_t len, uint8_t out[CAIRN_HASH_BYTES])
{
    crypto_hash_sha256(out, in, len);
}

static void kill_at(const char *phase)
{
    const char *at = getenv("CAIRN_TEST_PRUNE_KILL_AT");
    if (at != NULL && strcmp(at, phase) == 0) {
        fflush(stdout);
        (void)raise(SIGKILL);
    }
}

static void fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0) {
        int e = errno;
        if (fd >= 0) {
            close(fd);
        }
        cli_die(CLI_EXIT_ERROR, "prune: %s: fsync: %s", dir, strerror(e));
    }
    close(fd);
}

static void make_dir(const char *dir)
{
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        cli_die(CLI_EXIT_ERROR, "prune: --archive: %s: %s", dir,
                strerror(errno));
    }
}

int prune_archive_lock(const prune_policy *p, const char *journal_id)
{
    char lock[4300], sub[4200];
    snprintf(sub, sizeof(sub), "%s/%s", p->archive, journal_id);
    make_dir(sub);
    fsync_dir(p->archive);
    snprintf(lock, sizeof(lock), "%s/.prune.lock", sub);
    /* The archive may be shared: never follow a planted link, and lock
     * only a regular file of our own. */
    int fd = open(lock, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        cli_die(CLI_EXIT_ERROR, "prune: %s: %s", lock,
                errno == ELOOP ? "a symbolic link, not the lock file"
                               : strerror(errno));
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
        close(fd);
        cli_die(CLI_EXIT_ERROR,
                "prune: %s: not a regular file of this user: refusing to "
                "use it as the lock",
                lock);
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        cli_die_code(5, "CLI_EBUSY", lock,
                     "prune: %s: another prune of this journal is running",
                     lock);
    }
    return fd;
}

/* The files an export writes next to the bundle: FILE.minisig (last),
 * and FILE.tlog-proof (bundle version 2, before the .minisig). */
static const char *const companions[] = {"", ".minisig", ".tlog-proof"};

/* Remove what an export cut short left of @p bundle: FILE, FILE.minisig,
 * FILE.tlog-proof when @p finished_too, and always their temporary files
 * (NAME.tmp-*). */
static void remove_partial(const char *sub, const char *bundle,
                           int finished_too)
{
    const char *name = strrchr(bundle, '/') + 1;
    char pre[CAIRN_MAX_ID + 64];
    int removed = 0;
    DIR *d = opendir(sub);
    struct dirent *e;
    if (d == NULL) {
        cli_die(CLI_EXIT_ERROR, "prune: %s: %s", sub, strerror(errno));
    }
    while ((e = readdir(d)) != NULL) {
        for (size_t i = 0; i < sizeof(companions) / sizeof(companions[0]);
             i++) {
            snprintf(pre, sizeof(pre), "%s%s", name, companions[i]);
            size_t n = strlen(pre);
            int tmp = strncmp(e->d_name, pre, n) == 0 &&
                      strncmp(e->d_name + n, ".tmp-", 5) == 0;
            int whole = finished_too && strcmp(e->d_name, pre) == 0;
            if (tmp || whole) {
                removed += unlinkat(dirfd(d), e->d_name, 0) == 0;
                break;
            }
        }
    }
    closedir(d);
    if (removed > 0) {
        fsync_dir(sub);
    }
}

/* SHA-256 and size of the stored bundle. */
static int hash_file(const char *path, uint8_t out[CAIRN_HASH_BYTES],
                     uint64_t *size)
{
    crypto_hash_sha256_state st;
    unsigned char buf[65536];
    ssize_t got;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        return -1;
    }
    crypto_hash_sha256_init(&st);
    *size = 0;
    while ((got = read(fd, buf, sizeof(buf))) != 0) {
        if (got < 0) {
            if (errno == EINTR) {
                continue;
            }
            close(fd);
            return -1;
        }
        crypto_hash_sha256_update(&st, buf, (unsigned long long)got);
        *size += (uint64_t)got;
    }
    close(fd);
    crypto_hash_sha256_final(&st, out);
    return 0;
}

static void skip(prune_run *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void skip(prune_run *r, const char *fmt, ...)
{
    va_list ap;
    r->outcome = 2;
    va_start(ap, fmt);
    (void)vsnprintf(r->note, sizeof(r->note), fmt, ap);
    va_end(ap);
}

/* Export the run unless a finished bundle is there; 0 ok, -1 skipped. */
static int archive_run(cli_ctx *ctx, const prune_policy *p, const char *sub,
                       prune_run *r)
{
    char sig[4300];
    snprintf(sig, sizeof(sig), "%s.minisig", r->bundle);
    int have_bundle = access(r->bundle, F_OK) == 0;
    int have_sig = access(sig, F_OK) == 0;
    if (have_bundle && have_sig) {
        remove_partial(sub, r->bundle, 0); /* older attempts' temporaries */
        snprintf(r->note, sizeof(r->note), "bundle reused");
        return 0;
    }
    /* The library writes the .minisig last: without both, what is there
     * is an export cut short, never a finished archive. */
    remove_partial(sub, r->bundle, 1);
    cairn_export_opts opts = {p->zstd ? CAIRN_EXPORT_ZSTD : 0u, NULL, NULL, 0};
    cairn_err err = cairn_export_bundle_opts(
        ctx->journal, r->run_id, ctx->signer, r->bundle, &opts, NULL);
    if (err != CAIRN_OK) {
        skip(r, "archive failed: %s: %s", cairn_strerror(err),
             cairn_journal_errdetail(ctx->journal));
        return -1;
    }
    snprintf(r->note, sizeof(r->note), "archived");
    return 0;
}

/* Re-read the stored copy and verify it; 0 ok, -1 skipped. */
static int verify_copy(const prune_policy *p, prune_run *r,
                       const cairn_pubkey *key)
{
    cairn_verify_report rep;
    cairn_bundle_info info;
    char detail[1024] = "";
    char head[2 * CAIRN_HASH_BYTES + 1];
    cairn_bundle_verify_opts opts = {key, 0, NULL, NULL, 0};
    cairn_err err = cairn_verify_bundle_opts(r->bundle, &opts, &rep, &info,
                                             detail, sizeof(detail));
    if (err != CAIRN_OK) {
        skip(r, "the archived copy does not verify: %s: %s",
             cairn_strerror(err), detail);
        return -1;
    }
    if (rep.verdict != CAIRN_VERDICT_VERIFIED) {
        skip(r, "the archived copy does not verify: %s: %s",
             cairn_verdict_name(rep.verdict), rep.reason);
        return -1;
    }
    if (strcmp(rep.run_id, r->run_id) != 0 || rep.records != r->records ||
        memcmp(rep.head, r->head, CAIRN_HASH_BYTES) != 0) {
        cli_hex(rep.head, CAIRN_HASH_BYTES, head);
        skip(r,
             "the archived copy is of another run or another length "
             "(run %s, head %s): kept, the file is left as it is",
             rep.run_id, head);
        return -1;
    }
    if ((info.compressed != 0) != (p->zstd != 0)) {
        skip(r,
             "the archived copy is %s, --zstd asks for %s: kept, the file is "
             "left as it is",
             info.compressed ? "zstd-compressed" : "not compressed",
             p->zstd ? "a zstd bundle" : "a plain bundle");
        return -1;
    }
    return 0;
}

static void prune_one(cli_ctx *ctx, const prune_policy *p, prune_set *set,
                      const char *sub, prune_run *r, const cairn_pubkey *key)
{
    cairn_prune_info info;
    if (archive_run(ctx, p, sub, r) != 0) {
        return;
    }
    kill_at("export");
    if (verify_copy(p, r, key) != 0) {
        return;
    }
    memset(&info, 0, sizeof(info));
    if (hash_file(r->bundle, info.bundle_sha256, &info.bundle_bytes) != 0) {
        skip(r, "reading the archived copy: %s", strerror(errno));
        return;
    }
    kill_at("verify");
    info.rule = r->why;
    info.reason = p->reason;
    info.policy = set->policy_text;
    info.location = r->bundle;
    memcpy(info.plan_sha256, set->plan_hash, CAIRN_HASH_BYTES);
    cairn_actor_info who = {cli_actor(ctx), NULL};
    cairn_err err = cairn_prune(ctx->journal, r->run_id, &info, &who);
    if (err == CAIRN_EPRUNED) {
        r->outcome = 1;
        snprintf(r->note, sizeof(r->note), "already pruned (by another prune)");
        return;
    }
    if (err != CAIRN_OK) {
        skip(r, "prune refused: %s: %s", cairn_strerror(err),
             cairn_journal_errdetail(ctx->journal));
        return;
    }
    kill_at("prune");
    r->outcome = 1;
}

size_t prune_execute(cli_ctx *ctx, const prune_policy *p, prune_set *set,
                     const cairn_pubkey *key)
{
    char sub[4200];
    size_t skipped = 0;
    snprintf(sub, sizeof(sub), "%s/%s", p->archive, set->journal_id);
    for (size_t i = 0; i < set->n; i++) {
        prune_run *r = &set->v[i];
        if (r->verdict != PRUNE_SELECT) {
            continue;
        }
        prune_one(ctx, p, set, sub, r, key);
        skipped += r->outcome == 2;
    }
    return skipped;
}
