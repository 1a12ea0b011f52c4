/*
 * sys.c - clocks, boot id, host name, process identity and liveness.
 */
#include "base/sys.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <dirent.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

static uint64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    if (clock_gettime(id, &ts) != 0) {
        return 0;
    }
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t cairn__wall_ns(void)
{
    return clock_ns(CLOCK_REALTIME);
}

void cairn__fmt_since(uint64_t wall_ns, char *out, size_t cap)
{
    uint64_t now = cairn__wall_ns();
    time_t secs = (time_t)(wall_ns / 1000000000u);
    struct tm tm;
    char when[32], age[32];
    if (wall_ns == 0 || gmtime_r(&secs, &tm) == NULL ||
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
        cairn__fmt(out, cap, "an unknown time");
        return;
    }
    unsigned long long s = now > wall_ns ? (now - wall_ns) / 1000000000u : 0;
    if (s < 60) {
        cairn__fmt(age, sizeof(age), "%llus", s);
    } else if (s < 3600) {
        cairn__fmt(age, sizeof(age), "%llum%02llus", s / 60, s % 60);
    } else if (s < 86400) {
        cairn__fmt(age, sizeof(age), "%lluh%02llum", s / 3600, s % 3600 / 60);
    } else {
        cairn__fmt(age, sizeof(age), "%llud%02lluh", s / 86400,
                   s % 86400 / 3600);
    }
    cairn__fmt(out, cap, "%s (%s ago)", when, age);
}

uint64_t cairn__mono_ns(void)
{
    return clock_ns(CLOCK_MONOTONIC);
}

cairn_err cairn__boot_id(uint8_t out[CAIRN_BOOT_ID_BYTES])
{
    char *text = NULL;
    size_t len = 0;
    memset(out, 0, CAIRN_BOOT_ID_BYTES);
    cairn_err err = cairn__read_file("/proc/sys/kernel/random/boot_id", 64,
                                     &text, &len, NULL, 0);
    if (err != CAIRN_OK) {
        return err == CAIRN_ENOMEM ? CAIRN_ENOMEM : CAIRN_EIO;
    }
    /* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx\n" */
    char hex[33];
    size_t n = 0;
    for (size_t i = 0; i < len && n < 32; i++) {
        if (text[i] != '-' && text[i] != '\n') {
            hex[n++] = text[i];
        }
    }
    hex[n] = '\0';
    free(text);
    return cairn__unhex(hex, out, CAIRN_BOOT_ID_BYTES) == 0 ? CAIRN_OK
                                                            : CAIRN_EIO;
}

void cairn__hostname(char out[CAIRN_MAX_HOST + 1])
{
    if (gethostname(out, CAIRN_MAX_HOST + 1) != 0) {
        out[0] = '\0';
    }
    out[CAIRN_MAX_HOST] = '\0';
}

cairn_err cairn__proc_start_time(pid_t pid, uint64_t *out)
{
    char path[64];
    char *text = NULL;
    size_t len = 0;
    *out = 0;
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    if (cairn__read_file(path, 4096, &text, &len, NULL, 0) != CAIRN_OK) {
        return CAIRN_EIO;
    }
    /* The command name may hold spaces and ')': fields restart after the
     * last ')'.  Field 3 is the state; starttime is field 22. */
    char *p = strrchr(text, ')');
    int field = 2;
    cairn_err err = CAIRN_EIO;
    while (p != NULL && *p != '\0') {
        if (*p == ' ') {
            field++;
            if (field == 22) {
                char *end = NULL;
                errno = 0;
                unsigned long long v = strtoull(p + 1, &end, 10);
                if (errno == 0 && end != p + 1) {
                    *out = v;
                    err = CAIRN_OK;
                }
                break;
            }
        }
        p++;
    }
    free(text);
    return err;
}

int cairn__proc_alive(uint32_t pid, uint64_t start,
                      const uint8_t boot[CAIRN_BOOT_ID_BYTES], const char *host)
{
    char here[CAIRN_MAX_HOST + 1];
    uint8_t now_boot[CAIRN_BOOT_ID_BYTES];
    cairn__hostname(here);
    if (host[0] != '\0' && strcmp(host, here) != 0) {
        return 1; /* cannot see another host: never assume it died */
    }
    if (cairn__boot_id(now_boot) == CAIRN_OK &&
        memcmp(now_boot, boot, CAIRN_BOOT_ID_BYTES) != 0) {
        return 0; /* claimed during an earlier boot */
    }
    if (pid == 0 || pid > (uint32_t)INT32_MAX) {
        return 0;
    }
    uint64_t now_start = 0;
    if (cairn__proc_start_time((pid_t)pid, &now_start) != CAIRN_OK) {
        /* Unreadable (gone, or out of memory): ask the kernel directly. */
        return kill((pid_t)pid, 0) == 0 || errno == EPERM;
    }
    if (start != 0 && now_start != start) {
        return 0; /* the pid was reused */
    }
    /* A zombie has exited: it can do no more work. */
    char path[64], *text = NULL;
    size_t len = 0;
    snprintf(path, sizeof(path), "/proc/%u/stat", pid);
    cairn_err err = cairn__read_file(path, 4096, &text, &len, NULL, 0);
    if (err == CAIRN_OK) {
        char *p = strrchr(text, ')');
        int zombie = p != NULL && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X');
        free(text);
        return !zombie;
    }
    /* Never declare a claimer dead on a failure to look: only when the
     * kernel says the process is gone. */
    return err == CAIRN_ENOMEM || kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

int cairn__proc_has_open(uint32_t pid, const struct stat *file)
{
    char path[64];
    cairn__fmt(path, sizeof(path), "/proc/%u/fd", pid);
    DIR *d = opendir(path);
    if (d == NULL) {
        return 0;
    }
    int found = 0;
    const struct dirent *e;
    while (!found && (e = readdir(d)) != NULL) {
        char fd_path[96];
        struct stat st;
        if (e->d_name[0] < '0' || e->d_name[0] > '9') {
            continue;
        }
        cairn__fmt(fd_path, sizeof(fd_path), "%s/%s", path, e->d_name);
        found = stat(fd_path, &st) == 0 && st.st_dev == file->st_dev &&
                st.st_ino == file->st_ino;
    }
    closedir(d);
    return found;
}

cairn_err cairn__guard_std_fds(void)
{
    for (int fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) != -1 || errno != EBADF) {
            continue;
        }
        int nfd = open("/dev/null", O_RDWR);
        if (nfd < 0) {
            return CAIRN_EIO;
        }
        if (nfd != fd) {
            /* Lower descriptors were open: this one cannot be below fd. */
            close(nfd);
            return CAIRN_EIO;
        }
    }
    return CAIRN_OK;
}

int cairn__flock_holder(const struct stat *st, long long *pid)
{
    char *text = NULL;
    size_t len = 0;
    *pid = -1;
    if (cairn__read_file("/proc/locks", 1u << 22, &text, &len, NULL, 0) !=
        CAIRN_OK) {
        return -1;
    }
    int held = 0;
    for (char *line = text; !held && line != NULL && *line != '\0';) {
        char *nl = strchr(line, '\n');
        unsigned maj, min;
        unsigned long long ino;
        long long who;
        char kind[16];
        const char *p = strstr(line, "FLOCK");
        if (nl != NULL) {
            *nl = '\0';
        }
        /* "1: FLOCK  ADVISORY  WRITE 123 08:01:456 0 EOF" ("->" lines are
         * waiters: skipped). */
        if (p != NULL && strstr(line, "->") == NULL &&
            sscanf(p, "FLOCK %*s %15s %lld %x:%x:%llu", kind, &who, &maj, &min,
                   &ino) == 5) {
            held = makedev(maj, min) == st->st_dev && (ino_t)ino == st->st_ino;
            if (held) {
                *pid = who;
            }
        }
        line = nl != NULL ? nl + 1 : NULL;
    }
    free(text);
    return held;
}
