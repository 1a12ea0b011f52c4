/*
 * remember.c - the remembered checkpoint store (docs/FORMAT.md section
 * 18.2): a directory outside the journal directory where writers and
 * verifiers keep the newest checkpoint they accepted per journal, and
 * which journal they last saw in each journal directory.  Before a
 * command trusts a journal, its head must extend what was remembered: a
 * journal rolled back to an older copy, forked, or replaced by another
 * journal is refused.
 *
 * Files:  <hex id>.note    the checkpoint note, verbatim (the head)
 *         dir-<32 hex>     "<hex id>\n<journal directory>\n", named by
 *                          the first 16 bytes of SHA-256 of that path
 *         lock             flock()ed exclusively while a file is replaced
 * The store is hostile-aware like a journal directory: opened with
 * O_NOFOLLOW, every file regular, owned by the caller and not writable
 * by group or others.  The caller names the directory: the library reads
 * no environment.
 */
#include "verify/anchor.h"

#include "base/crypto.h"
#include "journal/head.h"
#include "journal/journal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define NOTE_SUFFIX ".note"
#define MAP_PREFIX "dir-"
#define FILE_MAX 4096u

typedef struct store {
    const char *dir;
    int dfd;
    char id_hex[2 * CAIRN_JOURNAL_ID_BYTES + 1];
    char note_name[2 * CAIRN_JOURNAL_ID_BYTES + sizeof(NOTE_SUFFIX)];
    char map_name[sizeof(MAP_PREFIX) + 32];
    char jdir[PATH_MAX];
} store;

static cairn_err unsafe(const char *dir, const char *name, const char *why,
                        char *detail, size_t detail_len)
{
    return cairn__fail(detail, detail_len, CAIRN_EUNSAFE,
                       "remembered checkpoints %s%s%s: %s", dir,
                       name[0] != '\0' ? "/" : "", name, why);
}

/* Owned by the caller, not writable by group or others, of @p type. */
static cairn_err check_st(const struct stat *st, mode_t type, const char *dir,
                          const char *name, char *detail, size_t detail_len)
{
    if ((st->st_mode & S_IFMT) != type) {
        return unsafe(dir, name,
                      type == S_IFDIR ? "not a directory"
                                      : "not a regular "
                                        "file",
                      detail, detail_len);
    }
    if (st->st_uid != geteuid()) {
        return unsafe(dir, name, "not owned by the user running cairn", detail,
                      detail_len);
    }
    if ((st->st_mode & 022) != 0) {
        return unsafe(dir, name, "writable by group or others", detail,
                      detail_len);
    }
    return CAIRN_OK;
}

static cairn_err io_fail(const char *dir, const char *name, const char *what,
                         int e, char *detail, size_t detail_len)
{
    return cairn__fail(detail, detail_len, CAIRN_EIO,
                       "remembered checkpoints %s%s%s: %s: %s", dir,
                       name[0] != '\0' ? "/" : "", name, what, strerror(e));
}

/* Make @p dir and its missing parents (0700). */
static void make_dirs(const char *dir)
{
    char buf[PATH_MAX];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof(buf)) {
        return;
    }
    memcpy(buf, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] == '/' || buf[i] == '\0') {
            char c = buf[i];
            buf[i] = '\0';
            (void)mkdir(buf, 0700);
            buf[i] = c;
        }
    }
}

static cairn_err store_open(cairn_journal *j, const char *dir, int create,
                            store *s, int *exists, char *detail,
                            size_t detail_len)
{
    struct stat st;
    uint8_t digest[CAIRN_HASH_BYTES];
    memset(s, 0, sizeof(*s));
    s->dir = dir;
    s->dfd = -1;
    *exists = 0;
    cairn__hex(j->journal_id, CAIRN_JOURNAL_ID_BYTES, s->id_hex);
    cairn__fmt(s->note_name, sizeof(s->note_name), "%s" NOTE_SUFFIX, s->id_hex);
    if (realpath(j->dir, s->jdir) == NULL) {
        cairn__fmt(s->jdir, sizeof(s->jdir), "%s", j->dir);
    }
    cairn__sha256(s->jdir, strlen(s->jdir), digest);
    memcpy(s->map_name, MAP_PREFIX, sizeof(MAP_PREFIX) - 1);
    cairn__hex(digest, 16, s->map_name + sizeof(MAP_PREFIX) - 1);
    if (create) {
        make_dirs(dir);
    }
    s->dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (s->dfd < 0) {
        int e = errno;
        if (e == ENOENT && !create) {
            return CAIRN_OK;
        }
        if (e == ELOOP || e == ENOTDIR) {
            return unsafe(dir, "", "a symbolic link or not a directory", detail,
                          detail_len);
        }
        return io_fail(dir, "", "open", e, detail, detail_len);
    }
    *exists = 1;
    if (fstat(s->dfd, &st) != 0) {
        return io_fail(dir, "", "fstat", errno, detail, detail_len);
    }
    return check_st(&st, S_IFDIR, dir, "", detail, detail_len);
}

static void store_close(store *s)
{
    if (s->dfd >= 0) {
        close(s->dfd);
    }
    s->dfd = -1;
}

/* Read file @p name of the store whole (at most FILE_MAX bytes) into
 * @p buf; *found 0 when it does not exist. */
static cairn_err read_file(const store *s, const char *name, char *buf,
                           size_t *len, int *found, char *detail,
                           size_t detail_len)
{
    struct stat st;
    *found = 0;
    *len = 0;
    int fd =
        openat(s->dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        if (e == ENOENT) {
            return CAIRN_OK;
        }
        return e == ELOOP
                   ? unsafe(s->dir, name, "a symbolic link", detail, detail_len)
                   : io_fail(s->dir, name, "open", e, detail, detail_len);
    }
    cairn_err err =
        fstat(fd, &st) != 0
            ? io_fail(s->dir, name, "fstat", errno, detail, detail_len)
            : check_st(&st, S_IFREG, s->dir, name, detail, detail_len);
    if (err == CAIRN_OK && (st.st_size <= 0 || st.st_size > FILE_MAX)) {
        err = cairn__fail(detail, detail_len, CAIRN_ECORRUPT,
                          "remembered checkpoint %s/%s: %lld bytes (1..%u)",
                          s->dir, name, (long long)st.st_size, FILE_MAX);
    }
    while (err == CAIRN_OK && *len < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + *len, (size_t)st.st_size - *len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            err = io_fail(s->dir, name, "read", n < 0 ? errno : EIO, detail,
                          detail_len);
        } else {
            *len += (size_t)n;
        }
    }
    close(fd);
    *found = err == CAIRN_OK;
    return err;
}

static void fmt_time(uint64_t ns, char *out, size_t cap)
{
    time_t t = (time_t)(ns / 1000000000u);
    struct tm tm;
    if (ns == 0 || gmtime_r(&t, &tm) == NULL ||
        strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
        cairn__fmt(out, cap, "at an unknown time");
    }
}

/* The remembered checkpoint of journal @p hex (file <hex>.note). */
static cairn_err load_note(const store *s, const char *name, const char *origin,
                           cairn__anchor_note *a, int *found, char *detail,
                           size_t detail_len)
{
    char buf[FILE_MAX + 1], why[300];
    size_t len;
    cairn_err err = read_file(s, name, buf, &len, found, detail, detail_len);
    if (err != CAIRN_OK || !*found) {
        return err;
    }
    err = cairn__anchor_parse(buf, len, a, why, sizeof(why));
    if (err == CAIRN_OK && strcmp(a->origin, origin) != 0) {
        cairn__fmt(why, sizeof(why), "its origin is \"%s\", not \"%s\"",
                   a->origin, origin);
        err = CAIRN_ECORRUPT;
    }
    if (err != CAIRN_OK) {
        return cairn__fail(detail, detail_len, CAIRN_ECORRUPT,
                           "remembered checkpoint %s/%s is malformed: %s "
                           "(remove it only if you know why)",
                           s->dir, name, why);
    }
    return CAIRN_OK;
}

/* The journal last remembered in this directory: *found, and its hex id. */
static cairn_err load_map(const store *s,
                          char hex[2 * CAIRN_JOURNAL_ID_BYTES + 1], int *found,
                          char *detail, size_t detail_len)
{
    char buf[FILE_MAX + 1];
    size_t len, h = 2 * CAIRN_JOURNAL_ID_BYTES;
    uint8_t id[CAIRN_JOURNAL_ID_BYTES];
    cairn_err err =
        read_file(s, s->map_name, buf, &len, found, detail, detail_len);
    if (err != CAIRN_OK || !*found) {
        return err;
    }
    int bad = len < h + 2 || buf[h] != '\n' || buf[len - 1] != '\n';
    if (!bad) {
        buf[h] = '\0';
        bad = cairn__unhex(buf, id, CAIRN_JOURNAL_ID_BYTES) != 0;
    }
    if (!bad) {
        cairn__hex(id, CAIRN_JOURNAL_ID_BYTES, hex);
        bad = memcmp(hex, buf, h) != 0; /* lowercase only */
    }
    if (bad) {
        return cairn__fail(detail, detail_len, CAIRN_ECORRUPT,
                           "remembered checkpoints %s/%s is malformed: not "
                           "\"<32 hex journal id>\\n<directory>\\n\"",
                           s->dir, s->map_name);
    }
    return CAIRN_OK;
}

/* ---- the check ------------------------------------------------------------
 */

/* Another journal was remembered in this directory. */
static cairn_err replaced(const store *s, const char *hex,
                          const cairn_journal_checkpoint *head, char *detail,
                          size_t detail_len)
{
    char origin[CAIRN_ORIGIN_MAX], name[sizeof(s->note_name)], what[700];
    char when[40], root[2 * CAIRN_HASH_BYTES + 1];
    cairn__anchor_note a;
    int found = 0;
    cairn__fmt(origin, sizeof(origin), CAIRN__ORIGIN_PREFIX "%s", hex);
    cairn__fmt(name, sizeof(name), "%s" NOTE_SUFFIX, hex);
    cairn_err err = load_note(s, name, origin, &a, &found, detail, detail_len);
    if (err != CAIRN_OK) {
        return err;
    }
    what[0] = '\0';
    if (found) {
        fmt_time(a.time_ns, when, sizeof(when));
        cairn__hash_hex(a.root, root);
        cairn__fmt(what, sizeof(what),
                   " (remembered checkpoint %s/%s: %llu records, root "
                   "%.16s..., written %s)",
                   s->dir, name, (unsigned long long)a.size, root, when);
    }
    return cairn__fail(detail, detail_len, CAIRN_ETAMPERED,
                       "journal replaced: %s held journal %s%s; it now holds "
                       "journal %s with %llu records.  If the old journal "
                       "was retired on purpose, remove %s/%s",
                       s->jdir, hex, what, s->id_hex,
                       (unsigned long long)head->size, s->dir, s->map_name);
}

/* The head (read with @p key) against what @p s remembers. */
static cairn_err check_in(cairn_journal *j, cairn_txn *txn, const store *s,
                          const cairn_pubkey *key, cairn_remembered *out,
                          cairn_journal_checkpoint *head, char *detail,
                          size_t detail_len)
{
    char origin[CAIRN_ORIGIN_MAX], hex[2 * CAIRN_JOURNAL_ID_BYTES + 1];
    char when[40], e[2 * CAIRN_HASH_BYTES + 1], f[2 * CAIRN_HASH_BYTES + 1];
    cairn__anchor_note a;
    int found = 0, ok = 0;
    cairn_err err = cairn__anchor_head(j, txn, key, head, detail, detail_len);
    if (err != CAIRN_OK && err != CAIRN_ENOTHING) {
        return err;
    }
    out->head_size = head->size;
    err = load_map(s, hex, &found, detail, detail_len);
    if (err == CAIRN_OK && found && strcmp(hex, s->id_hex) != 0) {
        err = replaced(s, hex, head, detail, detail_len);
    }
    cairn__anchor_origin(j->journal_id, origin);
    if (err == CAIRN_OK) {
        err =
            load_note(s, s->note_name, origin, &a, &found, detail, detail_len);
    }
    if (err != CAIRN_OK || !found) {
        return err;
    }
    out->found = 1;
    cairn__fmt(out->path, sizeof(out->path), "%s/%s", s->dir, s->note_name);
    out->size = a.size;
    memcpy(out->root, a.root, CAIRN_HASH_BYTES);
    out->time_ns = a.time_ns;
    err = cairn__anchor_consistent(txn, a.size, a.root, head->size, head->root,
                                   &ok);
    if (err != CAIRN_OK || ok) {
        return err;
    }
    fmt_time(a.time_ns, when, sizeof(when));
    cairn__hash_hex(a.root, e);
    cairn__hash_hex(head->root, f);
    if (a.size > head->size) {
        return cairn__fail(detail, detail_len, CAIRN_ETAMPERED,
                           "journal rolled back: remembered checkpoint (%s) "
                           "has %llu records, root %.16s..., written %s; the "
                           "journal now has %llu",
                           out->path, (unsigned long long)a.size, e, when,
                           (unsigned long long)head->size);
    }
    return cairn__fail(detail, detail_len, CAIRN_ETAMPERED,
                       "journal forked: remembered checkpoint (%s) has %llu "
                       "records, root %.16s..., written %s; the journal now "
                       "has %llu records, root %.16s..., which do not extend "
                       "it",
                       out->path, (unsigned long long)a.size, e, when,
                       (unsigned long long)head->size, f);
}

cairn_err cairn_checkpoint_check_remembered(cairn_journal *journal,
                                            const char *dir,
                                            cairn_remembered *out, char *detail,
                                            size_t detail_len)
{
    cairn_remembered tmp;
    cairn_journal_checkpoint head;
    store s;
    int exists = 0;
    cairn_txn *txn = NULL;
    cairn__clear(detail, detail_len);
    if (out == NULL) {
        out = &tmp;
    }
    memset(out, 0, sizeof(*out));
    if (journal == NULL || dir == NULL || dir[0] == '\0') {
        return CAIRN_EINVAL;
    }
    if (journal->format < 2) {
        return cairn__fail(detail, detail_len, CAIRN_EVERSION,
                           "journal format %u has no signed head: run "
                           "`cairn migrate` to make it format 2",
                           (unsigned)journal->format);
    }
    cairn_err err =
        store_open(journal, dir, 0, &s, &exists, detail, detail_len);
    if (err == CAIRN_OK && exists) {
        err = cairn__store_read(journal->store, &txn);
        if (err != CAIRN_OK) {
            cairn__fail(detail, detail_len, err, "%s",
                        cairn__store_detail(journal->store));
        } else {
            err = check_in(journal, txn, &s, NULL, out, &head, detail,
                           detail_len);
            cairn__txn_end(txn);
        }
    }
    store_close(&s);
    return err;
}

/* ---- remembering -----------------------------------------------------------
 */

/* Replace file @p name by @p data: a temporary file, fsync, rename. */
static cairn_err write_file(const store *s, const char *name, const char *data,
                            size_t len, char *detail, size_t detail_len)
{
    char tmp[128];
    size_t done = 0;
    cairn__fmt(tmp, sizeof(tmp), "%s.tmp", name);
    (void)unlinkat(s->dfd, tmp, 0);
    int fd = openat(s->dfd, tmp,
                    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        return io_fail(s->dir, tmp, "create", errno, detail, detail_len);
    }
    while (done < len) {
        ssize_t n = write(fd, data + done, len - done);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            int e = n < 0 ? errno : EIO;
            close(fd);
            (void)unlinkat(s->dfd, tmp, 0);
            return io_fail(s->dir, tmp, "write", e, detail, detail_len);
        }
        done += (size_t)n;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        int e = errno;
        (void)unlinkat(s->dfd, tmp, 0);
        return io_fail(s->dir, tmp, "fsync", e, detail, detail_len);
    }
    if (renameat(s->dfd, tmp, s->dfd, name) != 0) {
        int e = errno;
        (void)unlinkat(s->dfd, tmp, 0);
        return io_fail(s->dir, name, "rename", e, detail, detail_len);
    }
    return CAIRN_OK;
}

static cairn_err lock_store(const store *s, int *fd, char *detail,
                            size_t detail_len)
{
    struct stat st;
    *fd =
        openat(s->dfd, "lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (*fd < 0) {
        return errno == ELOOP
                   ? unsafe(s->dir, "lock", "a symbolic link", detail,
                            detail_len)
                   : io_fail(s->dir, "lock", "open", errno, detail, detail_len);
    }
    cairn_err err =
        fstat(*fd, &st) != 0
            ? io_fail(s->dir, "lock", "fstat", errno, detail, detail_len)
            : check_st(&st, S_IFREG, s->dir, "lock", detail, detail_len);
    while (err == CAIRN_OK && flock(*fd, LOCK_EX) != 0) {
        if (errno != EINTR) {
            err = io_fail(s->dir, "lock", "flock", errno, detail, detail_len);
        }
    }
    return err;
}

/* Is @p head authenticated (see cairn_checkpoint_remember())? */
static int authenticated(const cairn_journal *j, const cairn_pubkey *pinned,
                         const cairn_journal_checkpoint *head)
{
    if (pinned != NULL || j->signer != NULL) {
        return head->signature_ok;
    }
    return !head->is_signed;
}

static cairn_err remember_in(cairn_journal *j, cairn_txn *txn, const store *s,
                             const cairn_pubkey *key, int *written,
                             char *detail, size_t detail_len)
{
    cairn_remembered r;
    cairn_journal_checkpoint head;
    char map[2 * CAIRN_JOURNAL_ID_BYTES + PATH_MAX + 4];
    memset(&r, 0, sizeof(r));
    cairn_err err = check_in(j, txn, s, key, &r, &head, detail, detail_len);
    if (err != CAIRN_OK || head.size == 0) {
        return err == CAIRN_ENOTHING ? CAIRN_OK : err;
    }
    if (!authenticated(j, key, &head)) {
        return cairn__fail(detail, detail_len, CAIRN_EINCOMPLETE,
                           "the journal's head is not authenticated by the "
                           "key: not remembered");
    }
    if (!r.found || r.size < head.size) {
        err = write_file(s, s->note_name, head.note, head.note_len, detail,
                         detail_len);
        *written = err == CAIRN_OK;
    }
    cairn__fmt(map, sizeof(map), "%s\n%s\n", s->id_hex, s->jdir);
    if (err == CAIRN_OK) {
        err = write_file(s, s->map_name, map, strlen(map), detail, detail_len);
    }
    if (err == CAIRN_OK && fsync(s->dfd) != 0) {
        err = io_fail(s->dir, "", "fsync", errno, detail, detail_len);
    }
    return err;
}

cairn_err cairn_checkpoint_remember(cairn_journal *journal, const char *dir,
                                    const cairn_pubkey *pinned, int *written,
                                    char *detail, size_t detail_len)
{
    store s;
    int exists = 0, lock_fd = -1, w = 0;
    cairn_pubkey signer_key = {0}; /* one key: .next NULL */
    cairn_txn *txn = NULL;
    cairn__clear(detail, detail_len);
    if (written != NULL) {
        *written = 0;
    }
    if (journal == NULL || dir == NULL || dir[0] == '\0') {
        return CAIRN_EINVAL;
    }
    if (pinned == NULL && journal->signer != NULL) {
        memcpy(signer_key.key_id, journal->signer->key_id,
               sizeof(signer_key.key_id));
        memcpy(signer_key.pk, journal->signer->pk, sizeof(signer_key.pk));
        pinned = &signer_key;
    }
    cairn_err err =
        store_open(journal, dir, 1, &s, &exists, detail, detail_len);
    if (err == CAIRN_OK) {
        err = lock_store(&s, &lock_fd, detail, detail_len);
    }
    if (err == CAIRN_OK) {
        err = cairn__store_read(journal->store, &txn);
        if (err != CAIRN_OK) {
            cairn__fail(detail, detail_len, err, "%s",
                        cairn__store_detail(journal->store));
        }
    }
    if (err == CAIRN_OK) {
        err = remember_in(journal, txn, &s, pinned, &w, detail, detail_len);
        cairn__txn_end(txn);
    }
    if (lock_fd >= 0) {
        close(lock_fd);
    }
    store_close(&s);
    if (written != NULL) {
        *written = w;
    }
    return err;
}
