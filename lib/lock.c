/*
 * lock.c - per-run writer locks: flock(2) on locks/run-<n>.lock, released
 * by the kernel when the holder dies, with holder info inside the file.
 */
#include "sys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static int lock_path(const char *dir, uint64_t run_num, char *out,
                     size_t out_len, int make_dir)
{
    int n = snprintf(out, out_len, "%s/locks", dir);
    if (n < 0 || (size_t)n >= out_len) {
        return -1;
    }
    if (make_dir && mkdir(out, 0755) != 0 && errno != EEXIST) {
        return -1;
    }
    n = snprintf(out, out_len, "%s/locks/run-%llu.lock", dir,
                 (unsigned long long)run_num);
    return n < 0 || (size_t)n >= out_len ? -1 : 0;
}

void cairn__run_lock_holder(const char *dir, uint64_t run_num, char *out,
                            size_t out_len)
{
    char path[4096];
    char *text = NULL;
    size_t len = 0;
    cairn__clear(out, out_len);
    if (lock_path(dir, run_num, path, sizeof(path), 0) != 0 ||
        cairn__read_file(path, 1024, &text, &len, NULL, 0) != CAIRN_OK) {
        return;
    }
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '\n') {
            text[i] = i + 1 == len ? '\0' : ' ';
        }
    }
    cairn__fmt(out, out_len, "%s", text);
    free(text);
}

static void write_holder(int fd)
{
    char host[CAIRN_MAX_HOST + 1], boot_hex[33], text[512];
    uint8_t boot[CAIRN_BOOT_ID_BYTES];
    uint64_t start = 0;
    cairn__hostname(host);
    if (cairn__boot_id(boot) != CAIRN_OK) {
        memset(boot, 0, sizeof(boot));
    }
    cairn__hex(boot, sizeof(boot), boot_hex);
    (void)cairn__proc_start_time(getpid(), &start);
    int n = snprintf(text, sizeof(text),
                     "pid=%d start=%llu boot=%s host=%s since_ns=%llu\n",
                     (int)getpid(), (unsigned long long)start, boot_hex, host,
                     (unsigned long long)cairn__wall_ns());
    if (n > 0 && (size_t)n < sizeof(text) && ftruncate(fd, 0) == 0) {
        /* Holder info is advisory text for humans; the lock is flock. */
        ssize_t w = pwrite(fd, text, (size_t)n, 0);
        (void)w;
    }
}

cairn_err cairn__run_lock(const char *dir, uint64_t run_num, int *fd_out,
                          char *detail, size_t detail_len)
{
    char path[4096];
    *fd_out = -1;
    if (lock_path(dir, run_num, path, sizeof(path), 1) != 0) {
        cairn__fmt(detail, detail_len, "%s/locks: %s", dir, strerror(errno));
        return CAIRN_EIO;
    }
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        cairn__fmt(detail, detail_len, "%s: %s", path, strerror(errno));
        return CAIRN_EIO;
    }
    while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EINTR) {
            continue;
        }
        int e = errno;
        close(fd);
        if (e == EWOULDBLOCK) {
            char holder[512];
            cairn__run_lock_holder(dir, run_num, holder, sizeof(holder));
            cairn__fmt(detail, detail_len, "held by %s",
                       holder[0] ? holder : "another process");
            return CAIRN_ELOCKED;
        }
        cairn__fmt(detail, detail_len, "%s: flock: %s", path, strerror(e));
        return CAIRN_EIO;
    }
    write_holder(fd);
    *fd_out = fd;
    return CAIRN_OK;
}

void cairn__run_unlock(int fd)
{
    if (fd >= 0) {
        close(fd); /* closing the last descriptor releases the flock */
    }
}
