/*
 * runner_lock.c - the per-run files of the runner in the journal
 * directory.  The command-lifetime lock: an exclusive flock on
 * <journal>/locks/run-<n>.cmd that every command inherits, so that it
 * stays held while any process of a command tree lives, even after the
 * runner died.  Finding it held means "a command tree of a dead runner is
 * still running": we name the processes that hold it (from /proc).  And
 * the $CAIRN_OUTPUT files, <journal>/tmp/run-<n>.out-XXXXXX: those a
 * killed runner left behind are removed when the run is taken again.
 */
#include "runner.h"

#include "jdir.h"
#include "journal.h"
#include "sys.h"

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

/* Does process @p pid have a descriptor on the file (dev, ino)? */
static int holds(const char *pid, const struct stat *lock)
{
    char path[64];
    cairn__fmt(path, sizeof(path), "/proc/%s/fd", pid);
    DIR *d = opendir(path);
    if (d == NULL) {
        return 0;
    }
    int found = 0;
    const struct dirent *e;
    while (!found && (e = readdir(d)) != NULL) {
        char fd_path[96];
        struct stat st;
        if (!all_digits(e->d_name)) {
            continue;
        }
        cairn__fmt(fd_path, sizeof(fd_path), "/proc/%s/fd/%s", pid, e->d_name);
        found = stat(fd_path, &st) == 0 && st.st_dev == lock->st_dev &&
                st.st_ino == lock->st_ino;
    }
    closedir(d);
    return found;
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
            !holds(e->d_name, &lock)) {
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

void cairn__runner_lock_note(int fd, const runner_cmd *cmd)
{
    char text[512];
    int n = snprintf(text, sizeof(text),
                     "runner pid %d, operation %u (%s) attempt %u%s, "
                     "since_ns %llu\n",
                     (int)getpid(), cmd->seq, cmd->op->id, cmd->attempt,
                     cmd->probe ? " probe" : "",
                     (unsigned long long)cairn__wall_ns());
    if (n > 0 && (size_t)n < sizeof(text) && ftruncate(fd, 0) == 0) {
        /* Advisory text for the refusal message; the lock is the flock. */
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

cairn_err cairn__runner_output_file(cairn_runner *r, char *path, size_t cap)
{
    int n = snprintf(path, cap, "%s/tmp", r->j->dir);
    if (n < 0 || (size_t)n >= cap) {
        errno = ENAMETOOLONG;
        return CAIRN_EIO;
    }
    if (mkdir(path, 0700) != 0 && errno != EEXIST) {
        return CAIRN_EIO;
    }
    n = snprintf(path, cap, "%s/tmp/run-%llu.out-XXXXXX", r->j->dir,
                 (unsigned long long)r->run_num);
    if (n < 0 || (size_t)n >= cap) {
        errno = ENAMETOOLONG;
        return CAIRN_EIO;
    }
    int fd = mkostemp(path, O_CLOEXEC); /* mode 0600 */
    if (fd < 0) {
        return CAIRN_EIO;
    }
    close(fd);
    return CAIRN_OK;
}

void cairn__runner_sweep_outputs(cairn_runner *r)
{
    char dir[RUNNER_PATH_MAX], prefix[64];
    cairn__fmt(dir, sizeof(dir), "%s/tmp", r->j->dir);
    cairn__fmt(prefix, sizeof(prefix), "run-%llu.out-",
               (unsigned long long)r->run_num);
    DIR *d = opendir(dir);
    if (d == NULL) {
        return;
    }
    size_t len = strlen(prefix);
    const struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, prefix, len) == 0) {
            (void)unlinkat(dirfd(d), e->d_name, 0);
        }
    }
    closedir(d);
}
