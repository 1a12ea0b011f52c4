/*
 * exec.h - run one command for the runner: posix_spawn in its own process
 * group, no shell, bounded capture of stdout/stderr (written to private
 * unnamed files that are read back as they grow: the command never blocks
 * on the runner and never gets SIGPIPE if the runner dies), timeout with
 * SIGTERM then SIGKILL to the whole group, cooperative interruption.
 *
 * The child: argv[0] without a '/' is searched in the PATH of envp (default
 * "/usr/bin:/bin"; never the parent's PATH), like execvp; names with a '/'
 * are taken relative to cwd.  It leads its own process group (pgid = pid),
 * has an empty signal mask, SIGINT SIGTERM SIGPIPE SIGCHLD SIGHUP SIGQUIT at
 * their default action, stdin from /dev/null, stdout and stderr on two
 * unnamed files (O_TMPFILE in output_dir_fd, else memfd),
 * keep_fd, and no other descriptor (even ones not close-on-exec).
 *
 * Caller's duties: SIGCHLD must not be SIG_IGN and nothing else may reap
 * the child (no waitpid(-1) in a SIGCHLD handler).  Orphaned members of the
 * group are reaped here when the caller is their reaper
 * (PR_SET_CHILD_SUBREAPER, recommended for the runner); otherwise init must
 * reap them.  One call per thread at a time; calls in several threads are
 * fine.
 */
#ifndef CAIRN_EXEC_H
#define CAIRN_EXEC_H

#include "runner/exec_spawn.h"
#include "runner/exec_stream.h"

typedef struct cairn_exec_result {
    pid_t pid;  /**< child pid = its process group id */
    int exited; /**< exited normally: exit_code valid */
    int exit_code;
    int signaled; /**< killed by term_signal */
    int term_signal;
    int timed_out;        /**< we killed it for its timeout */
    int interrupted;      /**< we killed it because of interrupts (its
                               shutdown window ended before its timeout,
                               or a second interrupt) */
    uint64_t duration_ns; /**< spawn to the leader's exit, CLOCK_MONOTONIC */
    cairn_stream_capture out, err;
} cairn_exec_result;

/**
 * Spawn, wait, capture.  Both output files are read as they grow (consumed
 * blocks are punched out); each stream keeps its byte count, SHA-256 and
 * last tail_max bytes; what a leftover writes after the end is not read.  On
 * timeout or interrupt the group gets SIGTERM, then SIGKILL after grace_ns.
 * When the leader exits, the rest of its group is SIGKILLed (after the grace
 * period if a SIGTERM was already sent), and the call waits until the group is
 * empty, or at most min(grace_ns, 1 s) more for members it cannot reap (zombies
 * of another reaper); writers that left the group (setsid) do not hold it up.
 * @param res     out; zeroed first; release with cairn__exec_result_free.
 * @param detail  "" on success, else what went wrong (may be NULL/0).
 * @return CAIRN_OK whenever the child ran (whatever its status);
 *         CAIRN_EINVAL (NULL spec/argv/envp/res, empty argv[0], tail_max
 *         too large, keep_fd not -1 or an open fd >= 3); CAIRN_ECHILD when
 *         it could not be spawned (detail "<argv0>: command not found",
 *         "<path>: permission denied", "cwd <dir>: <why>", "<path>: <why>");
 *         CAIRN_EIO (output file/poll/read/waitpid failed: the group was
 *         SIGKILLed and the leader reaped); CAIRN_ENOMEM.
 * Every process of the group is gone (SIGKILLed if needed) when this
 * returns CAIRN_OK, unless spec->daemon and the leader exited on its own.
 */
CAIRN_INTERNAL cairn_err cairn__exec_run(const cairn_exec_spec *spec,
                                         cairn_exec_result *res, char *detail,
                                         size_t detail_len);
/** Frees the tails; NULL-safe and idempotent. */
CAIRN_INTERNAL void cairn__exec_result_free(cairn_exec_result *res);

#endif
