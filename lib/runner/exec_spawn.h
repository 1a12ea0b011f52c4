/*
 * exec_spawn.h - what a command is (cairn_exec_spec) and the spawn half
 * of cairn__exec_run (exec_spawn.c: command resolution in the envp PATH,
 * file actions, attributes).  exec.h includes it and adds the waiting,
 * capture and timeouts (exec.c); exec_spawn.c needs nothing of exec.h.
 */
#ifndef CAIRN_EXEC_SPAWN_H
#define CAIRN_EXEC_SPAWN_H

#include "base/common.h"

#include <signal.h>
#include <sys/types.h>

/** What on_progress is told while the leader runs. */
typedef struct cairn_exec_progress {
    pid_t pid;
    uint64_t elapsed_ns;
    uint64_t out_bytes, err_bytes; /**< written so far */
    int has_output;                /**< any byte seen yet */
    uint64_t since_output_ns;      /**< since the last new byte */
} cairn_exec_progress;

typedef struct cairn_exec_spec {
    char *const *argv;   /**< argv[0] searched in envp's PATH */
    char *const *envp;   /**< the complete environment of the child */
    const char *cwd;     /**< NULL: inherit */
    uint64_t timeout_ns; /**< 0: none */
    uint64_t grace_ns;   /**< SIGTERM -> SIGKILL delay; 0: 5 s */
    size_t tail_max;     /**< bytes of each stream's tail kept; 0: 4096;
                              at most 1 MiB (else CAIRN_EINVAL) */
    int keep_fd;         /**< fd >= 3 the child inherits under the same
                              number (lifetime lock; its FD_CLOEXEC in
                              the parent is untouched), or -1 */
    /** Interrupt counter written by the caller's signal handler, or NULL.
     *  At 1: the command gets until min(timeout, now+shutdown_ns) and is
     *  then terminated.  At 2 or more: terminated at once. */
    const volatile sig_atomic_t *interrupts;
    uint64_t shutdown_ns;
    /** A directory (>= 3, owned by the caller and private) for the output
     *  files, or 0/-1: memfd. */
    int output_dir_fd;
    /** Output files the caller made (read-write, empty; duplicated here,
     *  the caller keeps and closes its own), or 0/-1: unnamed ones. */
    int out_fd, err_fd;
    /** The command may leave processes behind on purpose: when the leader
     *  exits on its own, the rest of its group is neither killed nor
     *  waited for (a timeout or an interrupt still terminates the group). */
    int daemon;
    /** Called about every progress_ns while the leader runs (0/NULL:
     *  never). */
    void (*on_progress)(void *ctx, const cairn_exec_progress *progress);
    void *progress_ctx;
    uint64_t progress_ns;
} cairn_exec_spec;

/**
 * Resolve spec->argv[0] and posix_spawn it in its own process group with
 * stdin from /dev/null, stdout on @p out_w, stderr on @p err_w (both >= 3),
 * spec->keep_fd inherited and every other descriptor closed.
 * @return CAIRN_OK with *pid set; CAIRN_ECHILD ("<argv0>: command not
 *         found", "<path>: permission denied", "cwd <dir>: <why>",
 *         "<path>: <why>"); CAIRN_ENOMEM; CAIRN_EIO.
 */
CAIRN_INTERNAL cairn_err cairn__exec_spawn(const cairn_exec_spec *spec,
                                           int out_w, int err_w, pid_t *pid,
                                           char *detail, size_t detail_len);

#endif
