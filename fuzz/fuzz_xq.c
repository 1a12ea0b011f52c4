/*
 * fuzz_xq.c - libFuzzer target for the shared commit queue's payload
 * decoders (a payload sits in DIR/commit.shm, which any process that can
 * write the journal directory can scribble on).
 * Target: cairn__xq_payload_parse and cairn__xq_state_tail
 * (lib/commit/xq_write.c), the first on the whole input, the second on the
 * input and on a parsed payload's state.
 * Invariants: a parsed payload's views lie inside the input, in order,
 * and cover it exactly (the rows after the state and its u32 n_rows,
 * each row inside them); last_pos (8 bytes) lies inside its state; a
 * parsed state tail leaves 8 bytes for last_pos inside the input.
 */
#include "commit/xq_write.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_tail(const uint8_t *p, size_t len)
{
    uint64_t next = 0;
    const uint8_t *head = NULL;
    size_t off = 0;
    if (cairn__xq_state_tail(p, len, &next, &head, &off) != 0) {
        return;
    }
    if (off > len || len - off < 8 || head < p ||
        head + CAIRN_HASH_BYTES > p + off) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    xpayload pl;
    check_tail(data, size);
    if (cairn__xq_payload_parse(data, size, &pl) != 0) {
        return 0;
    }
    const uint8_t *end = data + size;
    if (pl.prev != data + 16 || pl.cp < pl.prev || pl.rec < pl.cp ||
        pl.state < pl.rec || pl.state + pl.state_len + 4 != pl.rows ||
        pl.rows + pl.rows_len != end || pl.rec + pl.rec_len != pl.state ||
        pl.last_pos_off > pl.state_len || pl.state_len - pl.last_pos_off < 8) {
        abort();
    }
    size_t at = 0;
    for (uint32_t i = 0; i < pl.n_rows; i++) {
        if (pl.rows_len - at < 8) {
            abort();
        }
        size_t rl = (size_t)pl.rows[at + 4] << 24 |
                    (size_t)pl.rows[at + 5] << 16 |
                    (size_t)pl.rows[at + 6] << 8 | pl.rows[at + 7];
        if (rl == 0 || pl.rows_len - at - 8 < rl) {
            abort();
        }
        at += 8 + rl;
    }
    if (at != pl.rows_len) {
        abort();
    }
    check_tail(pl.state, pl.state_len);
    return 0;
}
