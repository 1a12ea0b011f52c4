/*
 * outputs.h - parse the key=value lines a command writes to $CAIRN_OUTPUT.
 */
#ifndef CAIRN_OUTPUTS_H
#define CAIRN_OUTPUTS_H

#include "base/common.h"

/** An owned list of key/value pairs. */
typedef struct cairn_kvlist {
    cairn_kv *v; /**< keys and values are malloc'd strings */
    size_t n;
} cairn_kvlist;

CAIRN_INTERNAL void cairn__kvlist_free(cairn_kvlist *list);

/**
 * Parse @p len bytes of "key=value\n" lines.  Keys: 1..CAIRN_MAX_KV_KEY
 * bytes of [A-Za-z0-9_.-]; values: up to CAIRN_MAX_KV_VALUE bytes, no NUL;
 * empty lines are ignored; at most CAIRN_MAX_KV pairs; a duplicate key, a
 * line without '=', or a NUL byte is an error.  The last line may lack
 * its newline.
 * Bytes are kept verbatim (no trimming; a '\r' before '\n' stays in the
 * value).  On failure *out is empty.
 * @return CAIRN_OK; CAIRN_EINVAL (detail: "line N: missing '='",
 *         "line N: bad key \"k\"" (non-printable bytes as \xNN),
 *         "line N: key longer than 128 bytes",
 *         "line N: value longer than 65536 bytes", "line N: NUL byte",
 *         "line N: duplicate key \"k\"", "more than 256 pairs");
 *         CAIRN_ENOMEM.
 */
CAIRN_INTERNAL cairn_err cairn__outputs_parse(const char *buf, size_t len,
                                              cairn_kvlist *out, char *detail,
                                              size_t detail_len);

#endif
