/*
 * cli_anchor.c - --anchor FILE for export --bundle and verify-bundle: read
 * each anchor checkpoint (a C2SP signed note, as `cairn checkpoint`
 * prints it) whole, bounded, without blocking on a FIFO.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ANCHOR_MAX 131072 /* a signed note's limit (docs/FORMAT.md 15) */

void cli_anchor_add(const cli_ctx *ctx, cli_anchors *a, const char *path)
{
    struct stat st;
    char *buf;
    ssize_t got;
    size_t len = 0;
    int fd;
    if (a->n >= CAIRN_BUNDLE_MAX_ANCHORS) {
        cli_usage_error(ctx, "at most %d --anchor files",
                        CAIRN_BUNDLE_MAX_ANCHORS);
    }
    fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0) {
        cli_die(CLI_EXIT_USAGE, "--anchor %s: %s", path, strerror(errno));
    }
    if (!S_ISREG(st.st_mode) || st.st_size > ANCHOR_MAX) {
        close(fd);
        cli_die(CLI_EXIT_USAGE,
                "--anchor %s: not a regular file of at most %d bytes", path,
                ANCHOR_MAX);
    }
    buf = malloc(ANCHOR_MAX + 1);
    if (buf == NULL) {
        close(fd);
        cli_die_nomem();
    }
    while ((got = read(fd, buf + len, ANCHOR_MAX + 1 - len)) > 0) {
        len += (size_t)got;
        if (len > ANCHOR_MAX) {
            break;
        }
    }
    close(fd);
    if (got < 0 || len > ANCHOR_MAX) {
        free(buf);
        cli_die(CLI_EXIT_USAGE, "--anchor %s: %s", path,
                got < 0 ? strerror(errno) : "too large");
    }
    a->path[a->n] = path;
    a->text[a->n] = buf;
    a->len[a->n] = len;
    a->n++;
}

void cli_anchors_free(cli_anchors *a)
{
    for (size_t i = 0; i < a->n; i++) {
        free(a->text[i]);
    }
    a->n = 0;
}
