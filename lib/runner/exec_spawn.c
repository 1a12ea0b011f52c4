/*
 * exec_spawn.c - start one command: resolve argv[0] in the PATH of the
 * child's environment (never the parent's), then posix_spawn it in its own
 * process group with a clean signal state and exactly the descriptors it
 * should have.
 */
#include "runner/exec_spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define EXEC_DEFAULT_PATH "/usr/bin:/bin"

/* The PATH value of @p envp (the first PATH= entry), or the default. */
static const char *env_path(char *const *envp)
{
    for (size_t i = 0; envp[i] != NULL; i++) {
        if (strncmp(envp[i], "PATH=", 5) == 0) {
            return envp[i] + 5;
        }
    }
    return EXEC_DEFAULT_PATH;
}

/* 0: an executable regular file; ENOENT: nothing there; EACCES: there but
 * not executable (or not searchable, or not a regular file). */
static int probe(int dirfd, const char *path)
{
    struct stat st;
    if (fstatat(dirfd, path, &st, 0) != 0) {
        return errno == EACCES ? EACCES : ENOENT;
    }
    if (!S_ISREG(st.st_mode)) {
        return EACCES;
    }
    if (faccessat(dirfd, path, X_OK, AT_EACCESS) != 0) {
        return EACCES;
    }
    return 0;
}

static cairn_err not_found(const char *argv0, char *detail, size_t detail_len)
{
    cairn__fmt(detail, detail_len, "%s: command not found", argv0);
    return CAIRN_ECHILD;
}

static cairn_err denied(const char *path, char *detail, size_t detail_len)
{
    cairn__fmt(detail, detail_len, "%s: permission denied", path);
    return CAIRN_ECHILD;
}

/* Like execvp's search: the first executable candidate wins; when none is
 * found but one exists without execute permission, that one is reported.
 * An empty PATH element means the working directory.  Relative names are
 * resolved against @p dirfd, the child's future working directory. */
static cairn_err resolve(const char *argv0, const char *pathvar, int dirfd,
                         char *out, size_t cap, char *detail, size_t detail_len)
{
    if (strchr(argv0, '/') != NULL) {
        int r = probe(dirfd, argv0);
        if (r == ENOENT || cairn__strlcpy(out, argv0, cap) != CAIRN_OK) {
            return not_found(argv0, detail, detail_len);
        }
        return r == 0 ? CAIRN_OK : denied(argv0, detail, detail_len);
    }
    int seen_denied = 0;
    char cand[PATH_MAX];
    const char *p = pathvar;
    for (;;) {
        const char *colon = strchr(p, ':');
        size_t dlen = colon != NULL ? (size_t)(colon - p) : strlen(p);
        const char *dir = dlen > 0 ? p : ".";
        int n = -1;
        if (dlen < sizeof cand) {
            n = snprintf(cand, sizeof cand, "%.*s/%s", (int)(dlen ? dlen : 1),
                         dir, argv0);
        }
        if (n > 0 && (size_t)n < sizeof cand) {
            int r = probe(dirfd, cand);
            if (r == 0 || (r == EACCES && !seen_denied)) {
                if (cairn__strlcpy(out, cand, cap) != CAIRN_OK) {
                    return not_found(argv0, detail, detail_len);
                }
                if (r == 0) {
                    return CAIRN_OK;
                }
                seen_denied = 1;
            }
        }
        if (colon == NULL) {
            break;
        }
        p = colon + 1;
    }
    return seen_denied ? denied(out, detail, detail_len)
                       : not_found(argv0, detail, detail_len);
}

/* Child descriptors: 0 = /dev/null, 1 = out_w, 2 = err_w, keep_fd (close-
 * on-exec cleared in the child only), nothing else. */
static int build_actions(posix_spawn_file_actions_t *fa, int dirfd, int out_w,
                         int err_w, int keep_fd)
{
    int r = 0;
    if (dirfd >= 0) {
        r = posix_spawn_file_actions_addfchdir_np(fa, dirfd);
    }
    if (r == 0) {
        r = posix_spawn_file_actions_addopen(fa, 0, "/dev/null", O_RDONLY, 0);
    }
    if (r == 0) {
        r = posix_spawn_file_actions_adddup2(fa, out_w, 1);
    }
    if (r == 0) {
        r = posix_spawn_file_actions_adddup2(fa, err_w, 2);
    }
    if (r != 0 || keep_fd < 0) {
        return r != 0 ? r : posix_spawn_file_actions_addclosefrom_np(fa, 3);
    }
    /* dup2(fd, fd) clears FD_CLOEXEC (POSIX 2024, glibc >= 2.29). */
    r = posix_spawn_file_actions_adddup2(fa, keep_fd, keep_fd);
    for (int fd = 3; r == 0 && fd < keep_fd; fd++) {
        r = posix_spawn_file_actions_addclose(fa, fd);
    }
    if (r == 0) {
        r = posix_spawn_file_actions_addclosefrom_np(fa, keep_fd + 1);
    }
    return r;
}

/* Own process group (pgid = pid), empty signal mask, and the signals a
 * runner typically handles or ignores back to their default action. */
static int build_attr(posix_spawnattr_t *at)
{
    static const int defaults[] = {SIGINT,  SIGTERM, SIGPIPE,
                                   SIGCHLD, SIGHUP,  SIGQUIT};
    sigset_t mask;
    sigset_t def;
    sigemptyset(&mask);
    sigemptyset(&def);
    for (size_t i = 0; i < CAIRN_ARRAY_LEN(defaults); i++) {
        sigaddset(&def, defaults[i]);
    }
    int r = posix_spawnattr_setflags(at, (short)(POSIX_SPAWN_SETPGROUP |
                                                 POSIX_SPAWN_SETSIGMASK |
                                                 POSIX_SPAWN_SETSIGDEF));
    if (r == 0) {
        r = posix_spawnattr_setpgroup(at, 0);
    }
    if (r == 0) {
        r = posix_spawnattr_setsigmask(at, &mask);
    }
    if (r == 0) {
        r = posix_spawnattr_setsigdefault(at, &def);
    }
    return r;
}

static cairn_err spawn_error(int r, const char *path, char *detail,
                             size_t detail_len)
{
    switch (r) {
    case ENOENT:
        cairn__fmt(detail, detail_len, "%s: command not found", path);
        break;
    case EACCES:
        cairn__fmt(detail, detail_len, "%s: permission denied", path);
        break;
    default:
        cairn__fmt(detail, detail_len, "%s: %s", path, strerror(r));
        break;
    }
    return CAIRN_ECHILD;
}

static cairn_err do_spawn(const cairn_exec_spec *spec, const char *path,
                          int dirfd, int out_w, int err_w, pid_t *pid,
                          char *detail, size_t detail_len)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    int r = posix_spawn_file_actions_init(&fa);
    if (r != 0) {
        cairn__fmt(detail, detail_len, "posix_spawn: %s", strerror(r));
        return r == ENOMEM ? CAIRN_ENOMEM : CAIRN_EIO;
    }
    r = posix_spawnattr_init(&at);
    if (r != 0) {
        posix_spawn_file_actions_destroy(&fa);
        cairn__fmt(detail, detail_len, "posix_spawn: %s", strerror(r));
        return r == ENOMEM ? CAIRN_ENOMEM : CAIRN_EIO;
    }
    cairn_err e = CAIRN_OK;
    r = build_actions(&fa, dirfd, out_w, err_w, spec->keep_fd);
    if (r == 0) {
        r = build_attr(&at);
    }
    if (r != 0) {
        cairn__fmt(detail, detail_len, "posix_spawn setup: %s", strerror(r));
        e = r == ENOMEM ? CAIRN_ENOMEM : CAIRN_EIO;
    } else {
        r = posix_spawn(pid, path, &fa, &at, spec->argv, spec->envp);
        if (r != 0) {
            e = spawn_error(r, path, detail, detail_len);
        }
    }
    posix_spawnattr_destroy(&at);
    posix_spawn_file_actions_destroy(&fa);
    return e;
}

cairn_err cairn__exec_spawn(const cairn_exec_spec *spec, int out_w, int err_w,
                            pid_t *pid, char *detail, size_t detail_len)
{
    int dirfd = -1;
    if (spec->cwd != NULL) {
        dirfd = open(spec->cwd, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dirfd < 0) {
            cairn__fmt(detail, detail_len, "cwd %s: %s", spec->cwd,
                       strerror(errno));
            return CAIRN_ECHILD;
        }
    }
    char path[PATH_MAX];
    cairn_err e = resolve(spec->argv[0], env_path(spec->envp),
                          dirfd >= 0 ? dirfd : AT_FDCWD, path, sizeof path,
                          detail, detail_len);
    if (e == CAIRN_OK) {
        e = do_spawn(spec, path, dirfd, out_w, err_w, pid, detail, detail_len);
    }
    if (dirfd >= 0) {
        close(dirfd);
    }
    return e;
}
