/*
 * crash_space.c - scenario 5 (disk full on a 2 MiB tmpfs: ENOSPC surfaces
 * as CAIRN_EIO with no ack, the handle then refuses writes, nothing is
 * lost, and after space is freed a reopened handle appends again;
 * creating a journal on the full disk must fail with CAIRN_EIO, leave
 * nothing behind, and work once space is back) and
 * scenario 6 (a 64 KiB map: grow and retry with no gap or duplicate, and a
 * second process picking up the grown map through MDB_MAP_RESIZED).
 *
 * Scenario 5 runs in a child that unshares its mount namespace when it
 * can, so the tmpfs disappears with it; without root it is skipped.
 */
#include "crash.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

/* Fill the file system holding @p path; returns the bytes written. */
static long fill(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    static char buf[65536];
    long total = 0;
    for (size_t chunk = sizeof(buf); fd >= 0 && chunk >= 1; chunk /= 2) {
        ssize_t w;
        while ((w = write(fd, buf, chunk)) > 0) {
            total += w;
        }
    }
    if (fd >= 0) {
        close(fd);
    }
    return total;
}

/* Open (create) a journal in a child: its cairn_err, or -1 when the
 * child died before answering (a signal, or a sanitizer's report). */
static int open_child(const char *dir)
{
    int p[2];
    if (pipe(p) != 0) {
        return -1;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        cairn_journal *j = NULL;
        char detail[512];
        close(p[0]);
        cairn_err err = cairn_journal_open(dir, CAIRN_OPEN_CREATE, &j, detail,
                                           sizeof(detail));
        if (err != CAIRN_OK) {
            printf("    open %s: %s: %s\n", dir, cairn_errname(err), detail);
        }
        unsigned char code = (unsigned char)err;
        (void)!write(p[1], &code, 1);
        cairn_journal_close(j);
        _exit(0);
    }
    close(p[1]);
    unsigned char code = 0;
    ssize_t r = read(p[0], &code, 1);
    close(p[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    return r == 1 ? (int)code : -1;
}

/* What a failed creation left in @p dir (a data.mdb, a temporary
 * .cairn-new-* directory); the count, the names into @p out. */
static int leftovers(const char *dir, char *out, size_t len)
{
    DIR *d = opendir(dir);
    int n = 0;
    size_t used = 0;
    out[0] = '\0';
    for (struct dirent *e; d != NULL && (e = readdir(d)) != NULL;) {
        if (strcmp(e->d_name, "data.mdb") != 0 &&
            strncmp(e->d_name, ".cairn-new-", 11) != 0) {
            continue;
        }
        n++;
        int w = snprintf(out + used, len - used, "%s%s", used ? ", " : "",
                         e->d_name);
        used += w > 0 && (size_t)w < len - used ? (size_t)w : 0;
    }
    if (d != NULL) {
        closedir(d);
    }
    return n;
}

static const char *open_text(int rc, char *buf, size_t len)
{
    if (rc < 0) {
        snprintf(buf, len, "the process died");
    } else {
        snprintf(buf, len, "%s", cairn_errname((cairn_err)rc));
    }
    return buf;
}

/* Step until the disk is full; returns the steps that succeeded, or -1
 * when the error was not the expected one. */
static long until_full(cr_ctx *c, cr_srv *w)
{
    char out[256];
    for (long i = 0; i < 5000; i++) {
        if (cr_srv_cmd(w, "steps 1", out, sizeof(out)) == 0) {
            continue;
        }
        if (strncmp(out, "err CAIRN_EIO", 13) != 0) {
            cr_violation(c,
                         "disk full: a commit failed with \"%s\", "
                         "expected CAIRN_EIO",
                         out);
            return -1;
        }
        if (cr_srv_cmd(w, "steps 1", out, sizeof(out)) == 0 ||
            strncmp(out, "err CAIRN_EFATAL", 16) != 0) {
            cr_violation(c,
                         "disk full: after the failed commit the handle "
                         "answered \"%s\", not CAIRN_EFATAL",
                         out);
            return -1;
        }
        return i;
    }
    cr_violation(c, "disk full: 5000 commits and the disk never filled");
    return -1;
}

static unsigned disk_body(cr_ctx *c, const char *mnt)
{
    char dir[4200], dir2[4200], filler[4200], ack[4200], out[256];
    cr_srv w;
    snprintf(dir, sizeof(dir), "%s/j", mnt);
    snprintf(dir2, sizeof(dir2), "%s/j2", mnt);
    snprintf(filler, sizeof(filler), "%s/fill", mnt);
    snprintf(ack, sizeof(ack), "%s/../disk.ack", mnt);
    unsigned v = 0;
    if (cr_srv_start(c, &w, dir, ack, "d", c->seed) != 0 ||
        cr_srv_cmd(&w, "steps 10", out, sizeof(out)) != 0) {
        cr_violation(c, "disk full: setup failed: %s", out);
        return 1;
    }
    long filled = fill(filler);
    long steps = until_full(c, &w);
    cr_srv_stop(&w, 0);
    v += steps < 0;
    v += cr_audit_log(c, dir, ack, "disk full");
    int created = open_child(dir2);
    char left_text[512];
    int left = leftovers(dir2, left_text, sizeof(left_text));
    unlink(filler);
    v += cr_audit_log(c, dir, ack, "space freed");
    if (cr_srv_start(c, &w, dir, ack, "d", c->seed + 1) != 0 ||
        cr_srv_cmd(&w, "steps 20", out, sizeof(out)) != 0) {
        cr_violation(c,
                     "disk full: appends did not resume after space was "
                     "freed: %s",
                     out);
        v++;
    }
    cr_srv_stop(&w, 0);
    v += cr_audit_log(c, dir, ack, "appends resumed");
    int reopened = open_child(dir2);
    char t1[64], t2[64];
    cr_note(c,
            "filled %ld B; %ld commits then ENOSPC -> CAIRN_EIO, then "
            "CAIRN_EFATAL; journal created on the full disk: %s, "
            "reopened after freeing space: %s",
            filled, steps, open_text(created, t1, sizeof(t1)),
            open_text(reopened, t2, sizeof(t2)));
    if (created != CAIRN_EIO) {
        cr_violation(c,
                     "disk full: creating a journal on a full disk: %s, "
                     "expected CAIRN_EIO",
                     t1);
        v++;
    }
    if (left != 0) {
        cr_violation(c,
                     "disk full: the failed creation left %s in %s "
                     "(expected: nothing)",
                     left_text, dir2);
        v++;
    }
    if (reopened != CAIRN_OK) {
        cr_violation(c,
                     "disk full: a journal whose creation failed for "
                     "lack of space (%s) cannot be created once space is "
                     "back (%s)",
                     t1, t2);
        v++;
    }
    c->cur->iterations = (uint64_t)(steps >= 0 ? steps + 1 : 0);
    return v;
}

void cr_scen_disk(cr_ctx *c)
{
    char mnt[4096], msg[512] = "";
    int p[2];
    cr_mkdir_fresh(c, "disk-mnt", mnt, sizeof(mnt));
    if (pipe(p) != 0) {
        cr_violation(c, "pipe: %s", strerror(errno));
        return;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        int isolated = unshare(CLONE_NEWNS) == 0 &&
                       mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0;
        if (mount("tmpfs", mnt, "tmpfs", 0, "size=2m") != 0) {
            int n = snprintf(msg, sizeof(msg), "S mount -t tmpfs: %s",
                             strerror(errno));
            (void)!write(p[1], msg, (size_t)n);
            _exit(0);
        }
        (void)disk_body(c, mnt);
        if (!isolated) {
            umount2(mnt, MNT_DETACH);
        }
        int n = snprintf(msg, sizeof(msg), "D %llu %llu %llu",
                         (unsigned long long)c->cur->violations,
                         (unsigned long long)c->cur->iterations,
                         (unsigned long long)c->cur->known);
        (void)!write(p[1], msg, (size_t)n);
        _exit(0);
    }
    close(p[1]);
    ssize_t n = read(p[0], msg, sizeof(msg) - 1);
    close(p[0]);
    waitpid(pid, NULL, 0);
    msg[n > 0 ? n : 0] = '\0';
    unsigned long long v = 0, it = 0, known = 0;
    if (msg[0] == 'S') {
        c->cur->skipped = 1;
        snprintf(c->cur->note, sizeof(c->cur->note), "%.200s", msg + 2);
    } else if (sscanf(msg, "D %llu %llu %llu", &v, &it, &known) == 3) {
        c->cur->violations += v;
        c->cur->known += known;
        c->cur->iterations = it;
        snprintf(c->cur->note, sizeof(c->cur->note),
                 "2 MiB tmpfs: commits until ENOSPC (EIO, then EFATAL), "
                 "free, reopen, resume; create on a full disk");
    } else {
        cr_violation(c, "disk full: the scenario's child died");
    }
    cr_rmtree(mnt);
}

static int steps_map(cr_srv *w, unsigned n, unsigned long long *map)
{
    char cmd[32], out[256], word[8], name[64];
    unsigned long long size = 0;
    snprintf(cmd, sizeof(cmd), "steps %u", n);
    if (cr_srv_cmd(w, cmd, out, sizeof(out)) != 0 ||
        sscanf(out, "%7s %63s %llu %llu", word, name, &size, map) != 4) {
        return -1;
    }
    return 0;
}

/* One writer: 64 KiB map, grown by doubling until the work fits. */
static unsigned map_single(cr_ctx *c, const char *dir, const char *ack)
{
    cr_srv w;
    unsigned long long map = 0;
    unsigned n = (unsigned)cr_scaled(c, 300, 3);
    int rc = cr_srv_start(c, &w, dir, ack, "m", c->seed);
    c->srv_map_size = 0;
    rc = rc == 0 ? steps_map(&w, n, &map) : -1;
    cr_srv_stop(&w, 0);
    c->cur->iterations += n;
    cr_note(c, "one writer: %u commits, map 65536 -> %llu B", n, map);
    if (rc != 0 || map <= 65536) {
        cr_violation(c,
                     "map full: the writer failed or the map never grew "
                     "(map %llu)",
                     map);
        return 1;
    }
    return 0;
}

/* Two writers opened with 64 KiB maps take turns growing the file. */
static unsigned map_two(cr_ctx *c, const char *dir, const char *ack)
{
    cr_srv a, b;
    unsigned long long ma = 0, mb = 0, before = 0;
    unsigned n = (unsigned)cr_scaled(c, 120, 3), fails = 0;
    c->srv_map_size = 65536;
    int rc = cr_srv_start(c, &a, dir, ack, "a", c->seed);
    rc |= steps_map(&a, 1, &ma);
    rc |= cr_srv_start(c, &b, dir, ack, "b", c->seed + 1);
    c->srv_map_size = 0;
    rc |= steps_map(&b, 1, &before);
    for (unsigned r = 0; rc == 0 && r < 3; r++) {
        fails += steps_map(&a, n, &ma) != 0;
        fails += steps_map(&b, 2, &mb) != 0; /* MDB_MAP_RESIZED here */
        fails += steps_map(&b, n, &mb) != 0;
        fails += steps_map(&a, 2, &ma) != 0;
        c->cur->iterations += 2 * n + 4;
    }
    cr_srv_stop(&a, 0);
    cr_srv_stop(&b, 0);
    cr_note(c, "two writers: maps %llu (b at start) -> a %llu, b %llu B",
            before, ma, mb);
    if (rc != 0 || fails > 0 || mb <= 65536) {
        cr_violation(c,
                     "map full: %u batches failed with two writers on "
                     "grown maps",
                     fails + (rc != 0));
        return 1;
    }
    return 0;
}

void cr_scen_map(cr_ctx *c)
{
    char dir[4096], ack[4200];
    cr_mkdir_fresh(c, "map", dir, sizeof(dir));
    snprintf(ack, sizeof(ack), "%s.ack", dir);
    c->srv_map_size = 65536;
    unsigned v = map_single(c, dir, ack);
    v += cr_audit_log(c, dir, ack, "one writer, small map");
    cr_cleanup_dir(c, dir, v > 0);
    cr_mkdir_fresh(c, "map", dir, sizeof(dir));
    snprintf(ack, sizeof(ack), "%s.ack", dir);
    v = map_two(c, dir, ack);
    v += cr_audit_log(c, dir, ack, "two writers, small maps");
    cr_cleanup_dir(c, dir, v > 0);
    snprintf(c->cur->note, sizeof(c->cur->note),
             "map size 65536: grow and retry; a second process "
             "adopts the grown map");
}
