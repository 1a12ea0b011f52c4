/*
 * exec_stream.c - the capture of one output stream of a command (see
 * exec_stream.h): what its file gained is read back by offset, hashed,
 * its last bytes kept in a ring, and the consumed blocks punched out.
 */
#include "runner/exec_stream.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EXEC_READ_CHUNK 16384
#define EXEC_READS_PER_WAKE 64
#define EXEC_PUNCH_BYTES (1u << 20) /* free consumed blocks in this step */

int cairn__exec_stream_init(cairn_exec_stream *s, size_t cap)
{
    cairn__sha256_init(&s->sha);
    s->cap = cap;
    s->ring = malloc(cap + 1);
    return s->ring == NULL ? -1 : 0;
}

static void stream_feed(cairn_exec_stream *s, const char *buf, size_t n)
{
    s->bytes += n; /* the caller's read offset too */
    cairn__sha256_update(&s->sha, buf, n);
    if (n >= s->cap) {
        memcpy(s->ring, buf + (n - s->cap), s->cap);
        s->pos = 0;
        s->len = s->cap;
        return;
    }
    size_t first = s->cap - s->pos < n ? s->cap - s->pos : n;
    memcpy(s->ring + s->pos, buf, first);
    memcpy(s->ring, buf + first, n - first);
    s->pos = (s->pos + n) % s->cap;
    s->len = s->len + n < s->cap ? s->len + n : s->cap;
}

/* Free the file blocks already consumed (the offsets stay valid). */
static void stream_punch(cairn_exec_stream *s)
{
    uint64_t done = s->bytes & ~(uint64_t)4095;
    if (s->no_punch || done - s->punched < EXEC_PUNCH_BYTES) {
        return;
    }
    if (fallocate(s->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                  (off_t)s->punched, (off_t)(done - s->punched)) != 0) {
        s->no_punch = 1;
        return;
    }
    s->punched = done;
}

/* Reads what the file gained since the last call, at most @p max_chunks
 * chunks and never past @p limit.  0 when done for now; -1 on a read
 * error. */
int cairn__exec_stream_read_upto(cairn_exec_stream *s, int max_chunks,
                                 uint64_t limit, uint64_t now)
{
    char buf[EXEC_READ_CHUNK];
    for (int i = 0; i < max_chunks && s->bytes < limit; i++) {
        uint64_t want = limit - s->bytes;
        ssize_t n =
            pread(s->fd, buf, want < sizeof buf ? (size_t)want : sizeof buf,
                  (off_t)s->bytes);
        if (n > 0) {
            stream_feed(s, buf, (size_t)n);
            s->last_growth = now;
        } else if (n == 0) {
            break;
        } else if (errno != EINTR) {
            return -1;
        }
    }
    stream_punch(s);
    return 0;
}

int cairn__exec_stream_read(cairn_exec_stream *s, uint64_t now)
{
    return cairn__exec_stream_read_upto(s, EXEC_READS_PER_WAKE, UINT64_MAX,
                                        now);
}

static void reverse(char *p, size_t n)
{
    for (size_t i = 0; i < n / 2; i++) {
        char t = p[i];
        p[i] = p[n - 1 - i];
        p[n - 1 - i] = t;
    }
}

/* Moves the ring, oldest byte first, into the capture. */
void cairn__exec_stream_finish(cairn_exec_stream *s, cairn_stream_capture *c)
{
    if (s->len == s->cap && s->pos > 0) {
        reverse(s->ring, s->pos);
        reverse(s->ring + s->pos, s->cap - s->pos);
        reverse(s->ring, s->cap);
    }
    s->ring[s->len] = '\0';
    c->bytes = s->bytes;
    cairn__sha256_final(&s->sha, c->sha256);
    c->tail = s->ring;
    c->tail_len = s->len;
    s->ring = NULL;
}

void cairn__exec_stream_close(cairn_exec_stream *s)
{
    if (s->fd >= 0) {
        close(s->fd);
        s->fd = -1;
    }
    free(s->ring);
    s->ring = NULL;
}
