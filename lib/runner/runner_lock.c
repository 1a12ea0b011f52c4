/*
 * runner_lock.c - the per-run files of the runner in the journal
 * directory.  The command-lifetime lock: an exclusive flock on
 * <journal>/locks/run-<n>.cmd that every command inherits, so that it
 * stays held while any process of a command tree lives, even after the
 * runner died.  Finding it held means "a command tree of a dead runner is
 * still running": we name the processes that hold it (from /proc).  And
 * the $CAIRN_OUTPUT files, <journal>/tmp/run-<n>.out-<random>: tmp/ must
 * be a directory of ours with mode 0700 (never followed through a
 * symlink), the files are created O_EXCL relative to its descriptor and
 * read back through the descriptor we created; those a killed runner left
 * behind are removed when the run is taken again.
 */
#include "runner/runner.h"

#include "base/crypto.h"
#include "base/jdir.h"
#include "journal/journal.h"
#include "store/store.h"
#include "base/sys.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define HOLDERS_SHOWN 4

static int all_digits(const char *s)
{
    if (*s == '\0') {
        return 0;
    }
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9') {
            return 0;
        }
    }
    return 1;
}

/* "pid 123 (sleep, pgid 120)" for a holder. */
static void describe_pid(const char *pid, char *out, size_t cap)
{
    char path[64], comm[64] = "?";
    char *text = NULL;
    size_t len = 0;
    long pgid = -1;
    cairn__fmt(path, sizeof(path), "/proc/%s/comm", pid);
    if (cairn__read_file(path, 256, &text, &len, NULL, 0) == CAIRN_OK) {
        /* A process names itself: escape what it chose. */
        cairn__escape_text(text, strcspn(text, "\n"), comm, sizeof(comm));
        free(text);
    }
    cairn__fmt(path, sizeof(path), "/proc/%s/stat", pid);
    if (cairn__read_file(path, 4096, &text, &len, NULL, 0) == CAIRN_OK) {
        const char *p = strrchr(text, ')');
        char state;
        long ppid;
        if (p == NULL ||
            sscanf(p + 1, " %c %ld %ld", &state, &ppid, &pgid) != 3) {
            pgid = -1;
        }
        free(text);
    }
    cairn__fmt(out, cap, "pid %s (%s, pgid %ld)", pid, comm, pgid);
}

/* The processes (other than us) that hold the lock file open. */
static void list_holders(const cairn_runner *r, const char *name, char *out,
                         size_t cap)
{
    struct stat lock;
    char sub[RUNNER_PATH_MAX], why[64];
    DIR *d;
    int exists = 0;
    cairn__clear(out, cap);
    cairn__fmt(sub, sizeof(sub), "%s/locks", r->j->dir);
    int ldfd = -1;
    if (cairn__jdir_openat(r->j->dfd, r->j->dir, "locks", O_RDONLY, 0, 1, &ldfd,
                           NULL, NULL, why, sizeof(why)) != CAIRN_OK) {
        return;
    }
    cairn_err err =
        cairn__jdir_stat(ldfd, sub, name, 0, &lock, &exists, why, sizeof(why));
    close(ldfd);
    if (err != CAIRN_OK || !exists || (d = opendir("/proc")) == NULL) {
        return;
    }
    char self[32];
    cairn__fmt(self, sizeof(self), "%d", (int)getpid());
    int shown = 0;
    size_t used = 0;
    const struct dirent *e;
    while (shown < HOLDERS_SHOWN && (e = readdir(d)) != NULL) {
        if (!all_digits(e->d_name) || strcmp(e->d_name, self) == 0 ||
            !cairn__proc_has_open((uint32_t)strtoul(e->d_name, NULL, 10),
                                  &lock)) {
            continue;
        }
        char one[160];
        describe_pid(e->d_name, one, sizeof(one));
        cairn__fmt(out + used, cap - used, "%s%s", shown ? ", " : "", one);
        used = strlen(out);
        shown++;
    }
    closedir(d);
}

static void cmd_lock_name(const cairn_runner *r, char *out, size_t cap)
{
    cairn__fmt(out, cap, "run-%llu.cmd", (unsigned long long)r->run_num);
}

static cairn_err refuse(cairn_runner *r)
{
    char note[512] = "", who[700], name[64], text[400];
    cmd_lock_name(r, name, sizeof(name));
    cairn__lock_text(r->j->dfd, r->j->dir, name, text, sizeof(text));
    if (text[0] != '\0') {
        cairn__fmt(note, sizeof(note), " (%s)", text);
    }
    list_holders(r, name, who, sizeof(who));
    return cairn__jfail(
        r->j, CAIRN_ELOCKED,
        "a process started by an earlier command of run %s is still "
        "running%s: %s holds %s; wait for it to end or kill it, then "
        "resume",
        r->run_id, note, who[0] != '\0' ? who : "a process", r->cmd_lock);
}

cairn_err cairn__runner_lock_cmd(cairn_runner *r, int *fd_out)
{
    char name[64], why[CAIRN__DETAIL_MAX];
    cmd_lock_name(r, name, sizeof(name));
    cairn_err err = cairn__lock_file(r->j->dfd, r->j->dir, &r->j->data_st, name,
                                     fd_out, why, sizeof(why));
    if (err == CAIRN_ELOCKED) {
        return refuse(r);
    }
    if (err != CAIRN_OK) {
        return cairn__jfail(r->j, err, "%s", why);
    }
    return CAIRN_OK;
}

void cairn__runner_lock_note(const cairn_runner *r, int fd,
                             const runner_cmd *cmd,
                             const cairn_exec_progress *pr)
{
    char text[900];
    uint64_t now = cairn__wall_ns();
    uint64_t last = pr != NULL && pr->has_output && now > pr->since_output_ns
                        ? now - pr->since_output_ns
                        : 0;
    char since[64];
    cairn__fmt_since(cmd->since_ns, since, sizeof(since));
    char *paren = strstr(since, " (");
    if (paren != NULL) {
        *paren = '\0'; /* the age is computed when the note is read */
    }
    int n = snprintf(text, sizeof(text),
                     "runner pid %d, operation %u (%s) attempt %u%s, since %s\n"
                     "since_ns=%llu\nheartbeat_ns=%llu\nlast_output_ns=%llu\n"
                     "stdout_bytes=%llu\nstderr_bytes=%llu\nop=%u\nattempt=%u\n"
                     "stdout_file=%s\nstderr_file=%s\n",
                     (int)getpid(), cmd->seq, cmd->op->id, cmd->attempt,
                     cmd->probe ? " probe" : "", since,
                     (unsigned long long)cmd->since_ns, (unsigned long long)now,
                     (unsigned long long)last,
                     (unsigned long long)(pr != NULL ? pr->out_bytes : 0),
                     (unsigned long long)(pr != NULL ? pr->err_bytes : 0),
                     cmd->seq, cmd->attempt, r->out_name[0], r->out_name[1]);
    if (n > 0 && (size_t)n < sizeof(text) && ftruncate(fd, 0) == 0) {
        /* Advisory text for refusals and status; the lock is the flock. */
        ssize_t w = pwrite(fd, text, (size_t)n, 0);
        (void)w;
    }
}

void cairn__runner_unlock_cmd(int fd)
{
    if (fd >= 0) {
        close(fd);
    }
}

/* Is the open directory @p fd private to us (ours, no group or other
 * access)?  *why says what is wrong. */
static int private_dir(int fd, char *why, size_t cap)
{
    struct stat st;
    if (fstat(fd, &st) != 0) {
        cairn__fmt(why, cap, "fstat: %s", strerror(errno));
        return 0;
    }
    if (!S_ISDIR(st.st_mode)) {
        cairn__fmt(why, cap, "not a directory");
        return 0;
    }
    if (st.st_uid != geteuid()) {
        cairn__fmt(why, cap, "owned by uid %u, not by this user (uid %u)",
                   (unsigned)st.st_uid, (unsigned)geteuid());
        return 0;
    }
    if ((st.st_mode & 077) != 0) {
        cairn__fmt(why, cap, "mode %04o lets other users in (want 0700)",
                   (unsigned)(st.st_mode & 07777));
        return 0;
    }
    return 1;
}

cairn_err cairn__runner_tmp_open(cairn_runner *r)
{
    if (r->tmp_fd > 0) {
        return CAIRN_OK;
    }
    char path[RUNNER_PATH_MAX], why[160];
    cairn__fmt(path, sizeof(path), "%s/tmp", r->j->dir);
    int flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
    int fd = open(path, flags);
    if (fd < 0 && errno == ENOENT) {
        if (mkdir(path, 0700) != 0 && errno != EEXIST) {
            return cairn__jfail(r->j, CAIRN_EIO, "%s: mkdir: %s", path,
                                strerror(errno));
        }
        fd = open(path, flags);
    }
    if (fd < 0) {
        int e = errno;
        struct stat st;
        if (e != ELOOP && e != ENOTDIR) {
            return cairn__jfail(r->j, CAIRN_EIO, "%s: %s", path, strerror(e));
        }
        return cairn__jfail(r->j, CAIRN_ECORRUPT,
                            "%s: %s, refused (the runner's output files must "
                            "be private)",
                            path,
                            lstat(path, &st) == 0 && S_ISLNK(st.st_mode)
                                ? "a symbolic link"
                                : "not a directory");
    }
    if (!private_dir(fd, why, sizeof(why))) {
        close(fd);
        return cairn__jfail(r->j, CAIRN_ECORRUPT,
                            "%s: %s: refused (the runner's output files "
                            "must be private; remove it, cairn recreates "
                            "it 0700)",
                            path, why);
    }
    r->tmp_fd = fd;
    return CAIRN_OK;
}

void cairn__runner_tmp_close(cairn_runner *r)
{
    if (r->tmp_fd > 0) {
        close(r->tmp_fd);
    }
    r->tmp_fd = -1;
}

cairn_err cairn__runner_tmp_file(cairn_runner *r, const char *kind, char *name,
                                 size_t cap, int *fd_out)
{
    *fd_out = -1;
    for (int tries = 0; tries < 16; tries++) {
        uint8_t rnd[8];
        char hex[2 * sizeof(rnd) + 1];
        cairn__random(rnd, sizeof(rnd));
        cairn__hex(rnd, sizeof(rnd), hex);
        int n = snprintf(name, cap, "run-%llu.%s-%s",
                         (unsigned long long)r->run_num, kind, hex);
        if (n < 0 || (size_t)n >= cap) {
            errno = ENAMETOOLONG;
            return CAIRN_EIO;
        }
        int fd =
            openat(r->tmp_fd, name,
                   O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd >= 0) {
            *fd_out = fd;
            return CAIRN_OK;
        }
        if (errno != EEXIST) {
            return CAIRN_EIO;
        }
    }
    return CAIRN_EIO;
}

void cairn__runner_tmp_unlink(cairn_runner *r, const char *name)
{
    if (name[0] != '\0' && r->tmp_fd > 0 && strchr(name, '/') == NULL) {
        (void)unlinkat(r->tmp_fd, name, 0);
    }
}

cairn_err cairn__runner_output_file(cairn_runner *r, char *path, size_t cap,
                                    int *fd_out)
{
    char name[96];
    cairn_err err =
        cairn__runner_tmp_file(r, "out", name, sizeof(name), fd_out);
    if (err != CAIRN_OK) {
        return err;
    }
    int n = snprintf(path, cap, "%s/tmp/%s", r->jdir, name);
    if (n < 0 || (size_t)n >= cap) {
        cairn__runner_tmp_unlink(r, name);
        close(*fd_out);
        *fd_out = -1;
        errno = ENAMETOOLONG;
        return CAIRN_EIO;
    }
    return CAIRN_OK;
}

void cairn__runner_output_done(cairn_runner *r, const char *path, int fd)
{
    const char *name = strrchr(path, '/');
    if (name != NULL && r->tmp_fd > 0) {
        (void)unlinkat(r->tmp_fd, name + 1, 0);
    }
    if (fd >= 0) {
        close(fd);
    }
}

void cairn__runner_sweep_outputs(cairn_runner *r)
{
    char prefix[64];
    int fd = r->tmp_fd > 0 ? fcntl(r->tmp_fd, F_DUPFD_CLOEXEC, 3) : -1;
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (d == NULL) {
        if (fd >= 0) {
            close(fd);
        }
        return;
    }
    cairn__fmt(prefix, sizeof(prefix), "run-%llu.",
               (unsigned long long)r->run_num);
    size_t len = strlen(prefix);
    const struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, prefix, len) == 0 &&
            strcmp(e->d_name, r->orphan_name[0]) != 0 &&
            strcmp(e->d_name, r->orphan_name[1]) != 0) {
            (void)unlinkat(dirfd(d), e->d_name, 0);
        }
    }
    closedir(d);
}

/* Is a flock held on (dev, ino)?  -1 when /proc/locks cannot be read. */
static int flock_held(const struct stat *st)
{
    long long pid;
    return cairn__flock_holder(st, &pid);
}

/* "for 1h12m, last output 3s ago (stdout N B, stderr M B)" from the
 * runner's note, when it has heartbeat fields. */
static void describe_note(const char *text, char *out, size_t cap)
{
    unsigned long long since = 0, beat = 0, last = 0, ob = 0, eb = 0;
    const char *p;
    cairn__clear(out, cap);
    if ((p = strstr(text, "\nsince_ns=")) != NULL) {
        since = strtoull(p + 10, NULL, 10);
    }
    if ((p = strstr(text, "\nheartbeat_ns=")) != NULL) {
        beat = strtoull(p + 14, NULL, 10);
    }
    if ((p = strstr(text, "\nlast_output_ns=")) != NULL) {
        last = strtoull(p + 16, NULL, 10);
    }
    if ((p = strstr(text, "\nstdout_bytes=")) != NULL) {
        ob = strtoull(p + 14, NULL, 10);
    }
    if ((p = strstr(text, "\nstderr_bytes=")) != NULL) {
        eb = strtoull(p + 14, NULL, 10);
    }
    uint64_t now = cairn__wall_ns();
    char run[32] = "?", ago[32] = "", beat_ago[32] = "?";
    if (since != 0 && now > since) {
        cairn__runner_fmt_ns(now - since, run, sizeof(run));
    }
    if (beat != 0 && now > beat) {
        cairn__runner_fmt_ns(now - beat, beat_ago, sizeof(beat_ago));
    }
    if (last != 0 && now > last) {
        cairn__runner_fmt_ns(now - last, ago, sizeof(ago));
    }
    cairn__fmt(out, cap,
               "running for %s, %s%s%s (stdout %llu B, stderr %llu B; "
               "runner heartbeat %s ago)",
               run, ago[0] ? "last output " : "no output yet", ago,
               ago[0] ? " ago" : "", ob, eb, beat_ago);
}

cairn_err cairn_run_command_alive(cairn_journal *journal, const char *run_id,
                                  int *alive, char *what, size_t what_len)
{
    cairn_runner r;
    cairn__clear(what, what_len);
    if (alive == NULL || journal == NULL || run_id == NULL) {
        return CAIRN_EINVAL;
    }
    *alive = 0;
    cairn__runner_init(&r, journal, NULL);
    cairn__fmt(r.run_id, sizeof(r.run_id), "%s", run_id);
    cairn_txn *txn = NULL;
    cairn_err err = cairn__store_read(journal->store, &txn);
    if (err != CAIRN_OK) {
        return cairn__jfail(journal, err, "%s",
                            cairn__store_detail(journal->store));
    }
    err = cairn__lookup_run(journal, txn, run_id, &r.run_num);
    cairn__txn_end(txn);
    if (err != CAIRN_OK) {
        return err;
    }
    cairn__fmt(r.cmd_lock, sizeof(r.cmd_lock), "%s/locks/run-%llu.cmd",
               journal->dir, (unsigned long long)r.run_num);
    /* Relative to the checked directory, never following a link, and the
     * note read through the descriptor whose inode was checked. */
    char name[64], rel[80];
    cmd_lock_name(&r, name, sizeof(name));
    cairn__fmt(rel, sizeof(rel), "locks/%s", name);
    int fd = openat(journal->dfd, rel,
                    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
        flock_held(&st) != 1) {
        if (fd >= 0) {
            close(fd);
        }
        return CAIRN_OK;
    }
    *alive = 1;
    char who[700], note[512] = "", how[256] = "", text[4097];
    list_holders(&r, name, who, sizeof(who));
    ssize_t n = pread(fd, text, sizeof(text) - 1, 0);
    close(fd);
    if (n > 0) {
        text[n] = '\0';
        describe_note(text, how, sizeof(how));
        /* The first line, escaped: the file's text may be planted. */
        cairn__escape_text(text, strcspn(text, "\n"), note, sizeof(note));
    }
    cairn__fmt(what, what_len, "%s%s%s; %s; held by %s", note,
               note[0] ? ", " : "", how, r.cmd_lock,
               who[0] != '\0' ? who : "a process");
    return CAIRN_OK;
}
