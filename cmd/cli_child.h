/*
 * cli_child.h - a forked reader and its pipe (cli_child.c).  LMDB may
 * abort() or crash on a corrupt page, so the commands that read a journal
 * that may be damaged (verify, salvage, migrate) do it in a child, which
 * reports through a pipe in fixed-size messages; the parent prints and
 * names what the child could not say when it died.
 */
#ifndef CAIRN_CLI_CHILD_H
#define CAIRN_CLI_CHILD_H

#include <stddef.h>
#include <sys/types.h>

/**
 * pipe() and fork() (stdout and stderr flushed first; a failure of either
 * is cli_die(CLI_EXIT_ERROR)).  In the child: returns 0, *fd the write
 * end, its stderr @p errfd when that is >= 0; the child ends with _exit().
 * In the parent: returns the child's pid, *fd the read end (the caller
 * closes it, then cli_child_wait()).
 */
pid_t cli_child_fork(int *fd, int errfd);

/** In the child: write message @p m of @p n bytes whole, or _exit(5)
 *  when the pipe is gone (the parent stopped listening). */
void cli_child_send(int fd, const void *m, size_t n);

/** In the parent: read one message of @p n bytes into @p m.
 *  @return 1 a whole message; 0 the end of the pipe; -1 a read error or
 *  a torn message (the child died while writing). */
int cli_child_recv(int fd, void *m, size_t n);

/** In the parent: wait for child @p pid (through EINTR); its wait
 *  status. */
int cli_child_wait(pid_t pid);

#endif
