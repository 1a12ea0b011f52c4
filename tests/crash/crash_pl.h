/*
 * crash_pl.h - internals of scenario 3 (power loss by write-log replay):
 * the write log as the replayer sees it (crash_plog.c) and the worker
 * that builds and audits crash states (crash_power.c).
 *
 * The journal's file is the data.mdb inode that was published as
 * DIR/data.mdb (the log's P record): writes to it before publication were
 * made under its temporary name DIR/.cairn-new-XXXXXX/data.mdb.  A crash
 * state c (the log entries [0, c) happened) holds a journal only when the
 * publication is among them, and, until the directory was fsynced after
 * it (an S record), the link itself may be lost.
 */
#ifndef CAIRN_CRASH_PL_H
#define CAIRN_CRASH_PL_H

#include "crash.h"

#include <stddef.h>
#include <stdint.h>

typedef struct pl_entry {
    char type; /* W D B P S A, see shim.c */
    uint8_t fno;
    uint64_t off;
    uint32_t len;
    const uint8_t *data;
} pl_entry;

typedef struct pl_log {
    uint8_t *raw;
    pl_entry *e; /* only the journal's file, P, S and A records */
    size_t n;
    long *last_barrier; /* [c]: index of the last B before c, or -1 */
    long pub;           /* index of the P record; -1: published at 0 */
    size_t dirsync;     /* first S after pub (n when none) */
    unsigned n_pub;     /* P records seen (more than one: replaced) */
    char from[512];     /* where the file was before (relative to DIR) */
} pl_log;

typedef struct pl_image {
    uint8_t *buf;
    size_t size, cap;
} pl_image;

/** Run the workload of @p seed under shim.so in log mode in a fresh
 *  directory (into @p dir), its write log into @p wlog; then audit the
 *  journal it left against its ack log.  0 when all of it went well (a
 *  violation is reported otherwise). */
int pl_record(cr_ctx *c, uint64_t seed, char *dir, size_t dlen, char *wlog,
              size_t wlen);

/** pl_load() results besides 0. */
#define PL_UNREADABLE (-1)
#define PL_UNPUBLISHED (-2)

/**
 * Load the write log at @p path, keep the entries of the published file
 * and the P, S and A records.  @p control (enum cr_pl_control) changes
 * the log the way a broken library would have written it.  0, or
 * PL_UNREADABLE, or PL_UNPUBLISHED (no P record: no journal appeared).
 */
int pl_load(const char *path, int control, pl_log *log);
void pl_free(pl_log *log);

/** Write @p len bytes at @p off into the image (growing it, zeros for
 *  the hole); 0 or -1. */
int pl_img_apply(pl_image *img, uint64_t off, const uint8_t *data, size_t len);
/** dst = src; bytes past src's end read as zero. */
int pl_img_copy(pl_image *dst, const pl_image *src);
/** The image as a file at @p path (created or truncated); 0 or -1. */
int pl_img_write(const pl_image *img, const char *path);

/** The unpublished file @p img at DIR/@p from (a path relative to DIR),
 *  its directories made; nothing when @p from is not inside DIR.  0 or
 *  -1. */
int pl_place_leftover(const char *dir, const char *from, const pl_image *img);

/**
 * A state without a published journal: @p dir is emptied; with
 * @p leftover the unpublished file @p img is left at DIR/@p from (the
 * temporary directory a crashed creation leaves behind).  Then, in a
 * child, cairn_journal_open(CAIRN_OPEN_CREATE) must succeed, and the
 * audit must find a fresh, empty, verifiable journal.  @p out as from
 * cr_audit(); out->ok is 0 (with out->why) when any of it failed.
 */
void pl_fresh_create(cr_ctx *c, const char *dir, const char *from,
                     const pl_image *img, int leftover, cr_snap *out);

#endif
