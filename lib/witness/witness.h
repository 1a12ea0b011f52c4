/*
 * witness.h - a checkpoint witness (C2SP tlog-witness semantics, without
 * HTTP): the add-checkpoint request parser, the witness store (one LMDB
 * environment of its own: the last checkpoint cosigned per log origin)
 * and its record codec.  The public calls are cairn_witness_* in
 * include/cairn.h; docs/FORMAT.md section 20 is the exact description.
 */
#ifndef CAIRN_WITNESS_H
#define CAIRN_WITNESS_H

#include "base/common.h"
#include "format/note.h"
#include "store/store.h"

#include <stddef.h>
#include <stdint.h>

/** Most consistency proof lines in a request (tlog-witness). */
#define CAIRN__WITNESS_MAX_PROOF 63
/** Longest request: "old " + 19 digits + "\n", 63 lines of 45 bytes, the
 *  blank line and the longest note. */
#define CAIRN__WITNESS_REQ_MAX                                                 \
    (24u + CAIRN__WITNESS_MAX_PROOF * 45u + 1u + CAIRN_NOTE_MAX_BYTES)
/** Name of the store's one LMDB database. */
#define CAIRN__WITNESS_DB "witness"
/** Version byte of a store record. */
#define CAIRN__WITNESS_REC_VERSION 1

/** A parsed add-checkpoint request; pointers are views into the input. */
typedef struct cairn_witness_req {
    uint64_t old_size;
    uint8_t proof[CAIRN__WITNESS_MAX_PROOF][32];
    size_t n_proof;
    const char *note; /**< the signed checkpoint, verbatim */
    size_t note_len;
    size_t note_offset;       /**< where it starts in the request */
    cairn_note parsed;        /**< the note, parsed */
    cairn_tlog_checkpoint cp; /**< its text, parsed */
} cairn_witness_req;

/**
 * Strict parse of an add-checkpoint request of @p len bytes: at most
 * CAIRN__WITNESS_REQ_MAX bytes; "old <N>\n" (decimal, no leading zero,
 * at most 2^63 - 1); 0..63 lines of canonical base64 of 32 bytes; an
 * empty line; a signed note (cairn__note_parse) whose text is a
 * checkpoint (cairn__tlog_checkpoint_parse), offsets counted from the
 * request's first byte.  Signatures and the proof are not checked here.
 * On failure *out is zeroed.
 * @return CAIRN_OK; CAIRN_EINVAL (detail "byte N: ..."; also NULL).
 */
CAIRN_INTERNAL cairn_err cairn__witness_req_parse(const char *s, size_t len,
                                                  cairn_witness_req *out,
                                                  char *detail,
                                                  size_t detail_len);

/** What the store holds for one origin (docs/FORMAT.md section 20). */
typedef struct cairn_witness_rec {
    uint64_t size;
    uint8_t root[32];
    uint64_t time;       /**< of the cosignature, POSIX seconds */
    uint32_t log_key_id; /**< of (origin, 0x01, log_pk) */
    uint8_t log_pk[32];  /**< the pinned log key */
    const uint8_t *note; /**< the checkpoint note cosigned (a view) */
    size_t note_len;
} cairn_witness_rec;

/** Append the record value of @p rec.  @return the writer's status. */
CAIRN_INTERNAL cairn_err
cairn__witness_rec_encode(cairn_wr *w, const cairn_witness_rec *rec);
/** Strict decode of a record value (exact length, version 1, note 1..
 *  CAIRN_NOTE_MAX_BYTES bytes, size at most 2^63 - 1); rec->note views
 *  @p v.  @return CAIRN_OK; CAIRN_ECORRUPT (detail says what). */
CAIRN_INTERNAL cairn_err cairn__witness_rec_decode(const uint8_t *v, size_t vl,
                                                   cairn_witness_rec *rec,
                                                   char *detail,
                                                   size_t detail_len);

/**
 * Open the witness store in directory @p dir (made, mode 0700, when
 * missing; its parent must exist): the directory must be the effective
 * user's and writable by nobody else; data.mdb and lock.mdb, when
 * present, regular files of that user writable by nobody else, never
 * followed through a symbolic link; LMDB must then hold the data.mdb
 * that was checked.  New files are mode 0600.
 * @return CAIRN_OK with *store; CAIRN_EUNSAFE (detail names the file);
 *         CAIRN_EIO; CAIRN_ESTORE; CAIRN_ECORRUPT; CAIRN_ENOMEM.
 */
CAIRN_INTERNAL cairn_err cairn__witness_store_open(const char *dir,
                                                   cairn_store **store,
                                                   char *detail,
                                                   size_t detail_len);

#endif
