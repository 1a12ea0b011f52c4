/*
 * mshim.c - LD_PRELOAD allocation-failure injector for the crash suite
 * (scenario 7).  Once armed by the workload (crashmshim_arm(), found by
 * dlsym), the N-th call of malloc/calloc/realloc/posix_memalign/
 * aligned_alloc/memalign fails once with ENOMEM; every other call goes to
 * glibc's __libc_* allocator (no dlsym, so no recursion at start-up).
 * Not for sanitizer builds: ASan and Valgrind bring their own allocator.
 *
 * Environment: CRASH_MSHIM_N (1-based), CRASH_MSHIM_OUT (event file: an
 * "F malloc n -" line when the failure is injected, "C n" at exit).
 * CRASH_MSHIM_PATH (instead of N): once armed, the first allocation after
 * every open() of that path fails (the buffer the file is read into), so
 * that reading that file always fails for lack of memory.  open() goes
 * straight to the system call here.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);
extern void *__libc_memalign(size_t align, size_t n);

static struct {
    long target;
    long count;
    int armed;
    int acted;
    int out_fd;
    int pending; /* the path was just opened: fail the next allocation */
    char path[256];
} M = {0, 0, 0, 0, -1, 0, ""};

__attribute__((constructor)) static void mshim_init(void)
{
    const char *n = getenv("CRASH_MSHIM_N");
    const char *out = getenv("CRASH_MSHIM_OUT");
    const char *path = getenv("CRASH_MSHIM_PATH");
    M.target = n != NULL ? strtol(n, NULL, 10) : 0;
    if (path != NULL && strlen(path) < sizeof(M.path)) {
        memcpy(M.path, path, strlen(path) + 1);
    }
    if (out != NULL) {
        M.out_fd = open(out, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    }
}

__attribute__((destructor)) static void mshim_fini(void)
{
    char line[64];
    if (M.out_fd >= 0) {
        int len = snprintf(line, sizeof(line), "C %ld\n", M.count);
        (void)!write(M.out_fd, line, (size_t)len);
    }
}

void crashmshim_arm(void);
void crashmshim_arm(void)
{
    M.armed = 1;
}

/* Nonzero when this allocation must fail. */
static int fail_now(void)
{
    if (!M.armed) {
        return 0;
    }
    M.count++;
    if (M.pending) {
        M.pending = 0;
    } else if (M.acted || M.target <= 0 || M.count != M.target) {
        return 0;
    } else {
        M.acted = 1;
    }
    if (M.out_fd >= 0) {
        char line[64];
        int len = snprintf(line, sizeof(line), "F malloc %ld -\n", M.count);
        (void)!write(M.out_fd, line, (size_t)len);
    }
    errno = ENOMEM;
    return 1;
}

void *malloc(size_t n)
{
    return fail_now() ? NULL : __libc_malloc(n);
}

void *calloc(size_t n, size_t size)
{
    return fail_now() ? NULL : __libc_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
    return fail_now() ? NULL : __libc_realloc(p, n);
}

int posix_memalign(void **out, size_t align, size_t n)
{
    if (fail_now()) {
        return ENOMEM;
    }
    void *p = __libc_memalign(align, n);
    if (p == NULL) {
        return ENOMEM;
    }
    *out = p;
    return 0;
}

void *aligned_alloc(size_t align, size_t n)
{
    return fail_now() ? NULL : __libc_memalign(align, n);
}

void *memalign(size_t align, size_t n);
void *memalign(size_t align, size_t n)
{
    return fail_now() ? NULL : __libc_memalign(align, n);
}

static int open_path(const char *path, int flags, va_list ap)
{
    mode_t mode = 0;
    if ((flags & O_CREAT) != 0 || (flags & O_TMPFILE) == O_TMPFILE) {
        mode = (mode_t)va_arg(ap, int);
    }
    if (M.path[0] != '\0' && path != NULL && strcmp(path, M.path) == 0) {
        M.pending = M.armed;
    }
    return (int)syscall(SYS_openat, AT_FDCWD, path, flags, mode);
}

int open(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    int fd = open_path(path, flags, ap);
    va_end(ap);
    return fd;
}

int open64(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    int fd = open_path(path, flags, ap);
    va_end(ap);
    return fd;
}
