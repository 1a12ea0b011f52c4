/*
 * jdir.c - files in a journal directory, opened relative to a directory
 * descriptor without following symbolic links, checked for type and owner
 * before use (see jdir.h).
 */
#include "base/jdir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

mode_t cairn__jdir_file_mode(const struct stat *data_st)
{
    return (mode_t)(0600 | (data_st->st_mode & 0040));
}

mode_t cairn__jdir_dir_mode(const struct stat *data_st)
{
    return (mode_t)(0700 | ((data_st->st_mode & 0040) != 0 ? 0050 : 0));
}

static void describe(char *out, size_t cap, const char *dir, const char *name)
{
    if (name == NULL) {
        cairn__fmt(out, cap, "%s", dir);
    } else {
        cairn__fmt(out, cap, "%s/%s", dir, name);
    }
}

cairn_err cairn__jdir_check(const struct stat *st, int want_dir,
                            const char *dir, const char *name, char *detail,
                            size_t detail_len)
{
    char what[4200];
    describe(what, sizeof(what), dir, name);
    if (want_dir ? !S_ISDIR(st->st_mode) : !S_ISREG(st->st_mode)) {
        cairn__fmt(detail, detail_len, "%s: not a %s; refusing to use it", what,
                   want_dir ? "directory" : "regular file");
        return CAIRN_EUNSAFE;
    }
    if (st->st_uid != geteuid()) {
        cairn__fmt(detail, detail_len,
                   "%s: owned by uid %u, not by this user (uid %u); "
                   "refusing to use it",
                   what, (unsigned)st->st_uid, (unsigned)geteuid());
        return CAIRN_EUNSAFE;
    }
    return CAIRN_OK;
}

unsigned cairn__jdir_loose(const struct stat *st, int is_dir, const char *dir,
                           const char *name, char *detail, size_t detail_len)
{
    if ((st->st_mode & 0022) == 0) {
        return 0;
    }
    if (detail != NULL && detail_len > 0 && detail[0] == '\0') {
        char what[4200];
        describe(what, sizeof(what), dir, name);
        cairn__fmt(detail, detail_len, "%s is writable by %s (mode %04o)", what,
                   (st->st_mode & 0002) != 0 ? "others" : "its group",
                   (unsigned)(st->st_mode & 07777));
    }
    return is_dir ? CAIRN_LOOSE_DIR : CAIRN_LOOSE_FILE;
}

cairn_err cairn__jdir_open(const char *dir, int *dfd, struct stat *st,
                           char *detail, size_t detail_len)
{
    *dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (*dfd < 0) {
        int e = errno;
        cairn__fmt(detail, detail_len, "%s: %s", dir, strerror(e));
        errno = e; /* for the caller's message */
        return e == ENOTDIR ? CAIRN_EUNSAFE : CAIRN_EIO;
    }
    cairn_err err = CAIRN_OK;
    if (fstat(*dfd, st) != 0) {
        cairn__fmt(detail, detail_len, "%s: %s", dir, strerror(errno));
        err = CAIRN_EIO;
    } else {
        err = cairn__jdir_check(st, 1, dir, NULL, detail, detail_len);
    }
    if (err != CAIRN_OK) {
        close(*dfd);
        *dfd = -1;
    }
    return err;
}

cairn_err cairn__jdir_openat(int dfd, const char *dir, const char *name,
                             int flags, mode_t mode, int want_dir, int *fd,
                             struct stat *st, int *err_no, char *detail,
                             size_t detail_len)
{
    struct stat local;
    struct stat *s = st != NULL ? st : &local;
    flags |= O_NOFOLLOW | O_CLOEXEC | (want_dir ? O_DIRECTORY : O_NONBLOCK);
    if (err_no != NULL) {
        *err_no = 0;
    }
    *fd = openat(dfd, name, flags, mode);
    if (*fd < 0) {
        int e = errno;
        if (err_no != NULL) {
            *err_no = e;
        }
        struct stat l;
        if (e == ELOOP || (want_dir && e == ENOTDIR)) {
            int link = e == ELOOP ||
                       (fstatat(dfd, name, &l, AT_SYMLINK_NOFOLLOW) == 0 &&
                        S_ISLNK(l.st_mode));
            cairn__fmt(detail, detail_len, "%s/%s: %s; refusing to %s it", dir,
                       name, link ? "is a symbolic link" : "not a directory",
                       link ? "follow" : "use");
            return CAIRN_EUNSAFE;
        }
        cairn__fmt(detail, detail_len, "%s/%s: %s", dir, name, strerror(e));
        return e == ENOMEM ? CAIRN_ENOMEM : CAIRN_EIO;
    }
    cairn_err err = CAIRN_OK;
    if (fstat(*fd, s) != 0) {
        cairn__fmt(detail, detail_len, "%s/%s: %s", dir, name, strerror(errno));
        err = CAIRN_EIO;
    } else {
        err = cairn__jdir_check(s, want_dir, dir, name, detail, detail_len);
    }
    if (err == CAIRN_OK && !want_dir) {
        int fl = fcntl(*fd, F_GETFL);
        if (fl == -1 || fcntl(*fd, F_SETFL, fl & ~O_NONBLOCK) != 0) {
            cairn__fmt(detail, detail_len, "%s/%s: %s", dir, name,
                       strerror(errno));
            err = CAIRN_EIO;
        }
    }
    if (err != CAIRN_OK) {
        close(*fd);
        *fd = -1;
    }
    return err;
}

cairn_err cairn__jdir_stat(int dfd, const char *dir, const char *name,
                           int want_dir, struct stat *st, int *exists,
                           char *detail, size_t detail_len)
{
    *exists = 0;
    if (fstatat(dfd, name, st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT) {
            return CAIRN_OK;
        }
        cairn__fmt(detail, detail_len, "%s/%s: %s", dir, name, strerror(errno));
        return CAIRN_EIO;
    }
    *exists = 1;
    if (S_ISLNK(st->st_mode)) {
        cairn__fmt(detail, detail_len,
                   "%s/%s: is a symbolic link; refusing to follow it", dir,
                   name);
        return CAIRN_EUNSAFE;
    }
    return cairn__jdir_check(st, want_dir, dir, name, detail, detail_len);
}

cairn_err cairn__jdir_subdir(int dfd, const char *dir, const char *name,
                             mode_t mode, int *fd, char *detail,
                             size_t detail_len)
{
    *fd = -1;
    if (mkdirat(dfd, name, mode) != 0 && errno != EEXIST) {
        cairn__fmt(detail, detail_len, "%s/%s: mkdir: %s", dir, name,
                   strerror(errno));
        return CAIRN_EIO;
    }
    return cairn__jdir_openat(dfd, dir, name, O_RDONLY, 0, 1, fd, NULL, NULL,
                              detail, detail_len);
}

int cairn__jdir_mapped(dev_t dev, ino_t ino)
{
    /* thread-self: /proc/self is empty once the main thread exited */
    FILE *f = fopen("/proc/thread-self/maps", "re");
    if (f == NULL) {
        f = fopen("/proc/self/maps", "re");
    }
    if (f == NULL) {
        return -1;
    }
    char line[4400];
    int found = 0;
    while (!found && fgets(line, sizeof(line), f) != NULL) {
        unsigned maj = 0, min = 0;
        unsigned long long inode = 0;
        /* start-end perms offset major:minor inode [path] */
        if (sscanf(line, "%*s %*s %*s %x:%x %llu", &maj, &min, &inode) == 3 &&
            inode == (unsigned long long)ino && maj == major(dev) &&
            min == minor(dev)) {
            found = 1;
        }
        size_t n = strlen(line);
        while (n > 0 && line[n - 1] != '\n' && fgets(line, sizeof(line), f)) {
            n = strlen(line); /* the rest of an over-long line */
        }
    }
    fclose(f);
    return found;
}

void cairn__escape_text(const char *in, size_t len, char *out, size_t out_len)
{
    static const char hexd[] = "0123456789abcdef";
    size_t o = 0;
    if (out_len == 0) {
        return;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        int plain = c >= 0x20 && c < 0x7f && c != '\\';
        size_t need = plain ? 1 : c == '\\' ? 2 : 4;
        if (o + need >= out_len) {
            break;
        }
        if (plain) {
            out[o++] = (char)c;
        } else if (c == '\\') {
            out[o++] = '\\';
            out[o++] = '\\';
        } else {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hexd[c >> 4];
            out[o++] = hexd[c & 15];
        }
    }
    out[o] = '\0';
}
