/*
 * killrename.c - LD_PRELOAD shim: SIGKILL the process at the N-th
 * renameat2(2) call, right before or right after it, as a power cut or
 * an OOM kill would stop it there.  The bundle export renames its
 * temporary files into place (call 1: the bundle, call 2: its
 * .tlog-proof (version 2), call 3: its .minisig; lib/verify/export_io.c),
 * so tests/cli/prune.sh uses this to stop a prune after the bundle's
 * temporary file was written and fsynced (KILLRENAME_AT=1,
 * KILLRENAME_WHEN=before), after the bundle was published without its
 * companions (1, after), with its .tlog-proof only (2, after) and with
 * both (3, after).
 *
 * Environment: KILLRENAME_AT=N (1-based; unset or 0: never),
 * KILLRENAME_WHEN=before|after (default after).  Built without
 * sanitizers (preloaded ahead of their runtime).
 */
#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int renameat2(int olddirfd, const char *oldpath, int newdirfd,
              const char *newpath, unsigned int flags);

static int calls;

int renameat2(int olddirfd, const char *oldpath, int newdirfd,
              const char *newpath, unsigned int flags)
{
    int (*real)(int, const char *, int, const char *, unsigned int);
    const char *at = getenv("KILLRENAME_AT");
    const char *when = getenv("KILLRENAME_WHEN");
    int n = at != NULL ? atoi(at) : 0;
    int before = when != NULL && strcmp(when, "before") == 0;
    *(void **)(&real) = dlsym(RTLD_NEXT, "renameat2");
    calls++;
    if (n > 0 && calls == n && before) {
        fflush(NULL);
        raise(SIGKILL);
    }
    int rc = real(olddirfd, oldpath, newdirfd, newpath, flags);
    if (n > 0 && calls == n && !before) {
        fflush(NULL);
        raise(SIGKILL);
    }
    return rc;
}
