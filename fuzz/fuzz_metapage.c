/*
 * fuzz_metapage.c - libFuzzer target for the LMDB meta pages that
 * `cairn verify --snapshot` reads itself (lib/store/store_snapshot.c),
 * from a data.mdb that may be damaged or hostile.
 * Target: cairn__store_meta_psize and cairn__store_meta_pick (lib/store/
 * store_snapshot.c) on the input as the first bytes of data.mdb; pick
 * also with a page size taken from the last input byte (512 << 0..7);
 * then cairn__store_check_pages_mem (lib/store/store_pages.c, the walk of
 * cairn_journal_check_pages) on the input as a whole data.mdb.
 * Invariants: an accepted page size is a power of two in 512..65536 that
 * meta page 0 states at offset 40; an accepted pair has both pages inside
 * the input, current is the slot of the higher txnid (0 on a tie), txnid
 * and last_pg are that page's u64 at offsets 144 and 136, and each page's
 * u64 page number is its slot; a refusal leaves the result zeroed.  The
 * page walk returns CAIRN_OK only when the meta pages are accepted, and
 * otherwise CAIRN_ECORRUPT with a detail that starts "data.mdb: " (or
 * CAIRN_ENOMEM); it reads no byte past the input.
 */
#include "store/store.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t u64_at(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

static void check_pick(const uint8_t *data, size_t size, uint32_t psize)
{
    cairn__store_meta m;
    memset(&m, 0xa5, sizeof(m));
    if (cairn__store_meta_pick(data, size, psize, &m) != 0) {
        cairn__store_meta zero;
        memset(&zero, 0, sizeof(zero));
        if (memcmp(&m, &zero, sizeof(m)) != 0) {
            abort();
        }
        return;
    }
    if (m.psize != psize || psize < 512 || psize > 65536 ||
        (psize & (psize - 1)) != 0 || size < 2 * (size_t)psize ||
        m.current > 1) {
        abort();
    }
    const uint8_t *p0 = data, *p1 = data + psize;
    uint64_t t0 = u64_at(p0 + 144), t1 = u64_at(p1 + 144);
    const uint8_t *cur = m.current == 1 ? p1 : p0;
    if (u64_at(p0) != 0 || u64_at(p1) != 1 ||
        m.current != (t1 > t0 ? 1u : 0u) || m.txnid != u64_at(cur + 144) ||
        m.last_pg != u64_at(cur + 136)) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint32_t psize = cairn__store_meta_psize(data, size);
    if (psize != 0) {
        uint32_t stated;
        if (size < 152 || psize < 512 || psize > 65536 ||
            (psize & (psize - 1)) != 0) {
            abort();
        }
        memcpy(&stated, data + 40, sizeof(stated));
        if (stated != psize) {
            abort();
        }
        check_pick(data, size, psize);
    }
    if (size > 0) {
        check_pick(data, size, 512u << (data[size - 1] % 8));
    }
    check_pick(data, size, 0);

    char detail[512];
    cairn__store_meta m;
    cairn_err err =
        cairn__store_check_pages_mem(data, size, detail, sizeof(detail));
    if (err == CAIRN_OK) {
        if (detail[0] != '\0' || psize == 0 ||
            cairn__store_meta_pick(data, size, psize, &m) != 0) {
            abort();
        }
    } else if (err != CAIRN_ENOMEM &&
               (err != CAIRN_ECORRUPT ||
                strncmp(detail, "data.mdb: ", 10) != 0)) {
        abort();
    }
    return 0;
}
