/*
 * exec_stream.h - the capture of one output stream of a command run by
 * exec.c (exec_stream.c): the child writes to an unnamed file; what the
 * file gained is read back by offset as it grows, counted, hashed, its
 * last bytes kept in a ring of tail_max bytes, and the consumed blocks
 * are punched out of the file.
 */
#ifndef CAIRN_EXEC_STREAM_H
#define CAIRN_EXEC_STREAM_H

#include "base/common.h"
#include "base/crypto.h"

#include <stddef.h>
#include <stdint.h>

typedef struct cairn_stream_capture {
    uint64_t bytes;                   /**< total bytes the command wrote */
    uint8_t sha256[CAIRN_HASH_BYTES]; /**< digest of all of them */
    char *tail; /**< last <= tail_max bytes (malloc'd, NUL-terminated
                     after tail_len, never NULL after CAIRN_OK) */
    size_t tail_len;
} cairn_stream_capture;

/** One stream being captured. */
typedef struct cairn_exec_stream {
    int fd;         /**< the output file (the child's stdout or stderr) */
    uint64_t bytes; /**< read so far = the next offset to read */
    uint64_t punched;
    int no_punch;
    uint64_t last_growth; /**< CLOCK_MONOTONIC of the last new byte */
    cairn_sha256 sha;
    char *ring; /**< cap + 1 bytes */
    size_t cap, pos, len;
} cairn_exec_stream;

/** Start the digest and allocate a ring of @p cap bytes (fd is the
 *  caller's).  @return 0; -1 out of memory. */
CAIRN_INTERNAL int cairn__exec_stream_init(cairn_exec_stream *s, size_t cap);

/** Read what the file gained since the last call, at most @p max_chunks
 *  chunks and never past offset @p limit; @p now (CLOCK_MONOTONIC ns)
 *  stamps new bytes.  @return 0 done for now; -1 a read error. */
CAIRN_INTERNAL int cairn__exec_stream_read_upto(cairn_exec_stream *s,
                                                int max_chunks, uint64_t limit,
                                                uint64_t now);

/** cairn__exec_stream_read_upto() with the per-wake-up bound. */
CAIRN_INTERNAL int cairn__exec_stream_read(cairn_exec_stream *s, uint64_t now);

/** Move the ring, oldest byte first, into @p c with the count and the
 *  digest; @p c owns the tail afterwards. */
CAIRN_INTERNAL void cairn__exec_stream_finish(cairn_exec_stream *s,
                                              cairn_stream_capture *c);

/** Close the file and free the ring (what finish did not take). */
CAIRN_INTERNAL void cairn__exec_stream_close(cairn_exec_stream *s);

#endif
