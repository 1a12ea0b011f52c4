/*
 * nokeyring.c - LD_PRELOAD shim: the kernel keyring is unavailable, as
 * in a container or under a seccomp profile that forbids it, without
 * either.  The CLI reaches the keyring through syscall(SYS_keyctl) and
 * syscall(SYS_add_key) (cmd/cli_keyring.c); this syscall() fails those
 * two with errno $NOKEYRING_ERRNO (a number; default ENOSYS) and passes
 * every other system call on unchanged.  tests/cli/unlock_nokeyring.sh
 * preloads it.  Built without sanitizers (preloaded ahead of their
 * runtime).
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>

long syscall(long number, ...);

long syscall(long number, ...)
{
    va_list ap;
    long a[6];
    va_start(ap, number);
    for (int i = 0; i < 6; i++) {
        a[i] = va_arg(ap, long);
    }
    va_end(ap);
    if (number == SYS_keyctl || number == SYS_add_key) {
        const char *e = getenv("NOKEYRING_ERRNO");
        errno = e != NULL && e[0] != '\0' ? atoi(e) : ENOSYS;
        return -1;
    }
    /* dlsym's object pointer into a function pointer (POSIX allows it). */
    long (*real)(long, ...) = NULL;
    void *sym = dlsym(RTLD_NEXT, "syscall");
    memcpy(&real, &sym, sizeof(real));
    if (real == NULL) {
        errno = ENOSYS;
        return -1;
    }
    return real(number, a[0], a[1], a[2], a[3], a[4], a[5]);
}
