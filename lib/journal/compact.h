/*
 * compact.h - cairn_journal_compact() with a test hook (compact.c).
 */
#ifndef CAIRN_COMPACT_H
#define CAIRN_COMPACT_H

#include "base/common.h"

/** The phases a compaction reports to its hook, in order. */
typedef enum cairn__compact_phase {
    CAIRN__COMPACT_LOCKED = 0, /**< writers excluded, nothing written */
    /** a database copied into the temporary file, the rebuild not done
     *  (reported after each named database) */
    CAIRN__COMPACT_REBUILDING = 1,
    CAIRN__COMPACT_COPIED = 2,   /**< temporary copy written, not synced */
    CAIRN__COMPACT_SYNCED = 3,   /**< copy renumbered and fsynced */
    CAIRN__COMPACT_VERIFIED = 4, /**< copy compared with the journal */
    CAIRN__COMPACT_RENAMED = 5,  /**< renamed over data.mdb, dir not synced */
    CAIRN__COMPACT_DONE = 6      /**< directory fsynced, locks still held */
} cairn__compact_phase;

#define CAIRN__COMPACT_PHASES 7

/** Tests only: called at each phase (a crash test kills itself there). */
typedef void (*cairn__compact_hook)(void *ctx, cairn__compact_phase phase);

/** cairn_journal_compact() calling @p hook (may be NULL) at each phase. */
CAIRN_INTERNAL cairn_err cairn__journal_compact(
    const char *dir, unsigned flags, cairn__compact_hook hook, void *hook_ctx,
    cairn_compact_result *out, char *detail, size_t detail_len);

#endif
