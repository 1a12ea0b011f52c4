/*
 * exec_priv.h - private to lib/exec*.c: the spawn half of cairn__exec_run
 * (command resolution in the envp PATH, file actions, attributes).
 */
#ifndef CAIRN_EXEC_PRIV_H
#define CAIRN_EXEC_PRIV_H

#include "runner/exec.h"

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
