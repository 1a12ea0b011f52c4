/*
 * lookup.c - the lookups the commit path and the readers share: a run's
 * number from its name (in a transaction, or through the handle's name
 * cache from any thread), its stored state, and index entries.
 */
#include "journal/journal.h"
#include "journal/head.h"
#include "journal/oprows.h"

#include "base/bytes.h"

#include <stdlib.h>
#include <stdio.h>
#include <string.h>

/* ---- the name cache (under names_mu) ------------------------------- */

static size_t name_hash(const char *id)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)id; *p; p++) {
        h = (h ^ *p) * 16777619u;
    }
    return h & (CAIRN__NAME_SLOTS - 1);
}

static int name_get(cairn_jsync *s, const char *id, uint64_t *run_num)
{
    int hit = 0;
    pthread_mutex_lock(&s->names_mu);
    for (size_t i = name_hash(id), k = 0; k < CAIRN__NAME_SLOTS; k++) {
        cairn_name_entry *e = &s->names[(i + k) & (CAIRN__NAME_SLOTS - 1)];
        if (e->run_id == NULL) {
            break;
        }
        if (strcmp(e->run_id, id) == 0) {
            *run_num = e->run_num;
            hit = 1;
            break;
        }
    }
    pthread_mutex_unlock(&s->names_mu);
    return hit;
}

/* Remember a name (best effort: a full cache starts over). */
static void name_put(cairn_jsync *s, const char *id, uint64_t run_num)
{
    char *copy = strdup(id);
    if (copy == NULL) {
        return;
    }
    pthread_mutex_lock(&s->names_mu);
    if (s->n_names >= CAIRN__NAME_SLOTS * 3 / 4) {
        for (size_t i = 0; i < CAIRN__NAME_SLOTS; i++) {
            free(s->names[i].run_id);
            s->names[i].run_id = NULL;
        }
        s->n_names = 0;
    }
    size_t i = name_hash(id);
    while (s->names[i].run_id != NULL && strcmp(s->names[i].run_id, id) != 0) {
        i = (i + 1) & (CAIRN__NAME_SLOTS - 1);
    }
    if (s->names[i].run_id == NULL) {
        s->names[i].run_id = copy;
        s->names[i].run_num = run_num;
        s->n_names++;
        copy = NULL;
    }
    pthread_mutex_unlock(&s->names_mu);
    free(copy);
}

static cairn_err lookup_store(cairn_journal *j, const char *run_id, size_t n,
                              uint64_t *run_num, char *detail,
                              size_t detail_len)
{
    cairn_txn *txn = NULL;
    cairn_err err = cairn__store_read(j->store, &txn);
    const uint8_t *v = NULL;
    size_t vl = 0;
    int found = 0;
    if (err == CAIRN_OK) {
        err = cairn__txn_get(txn, CAIRN_DBI_NAMES, run_id, n, &v, &vl, &found);
    }
    if (err == CAIRN_OK && found && vl == 8) {
        *run_num = cairn__load64_be(v);
    }
    int imported =
        err == CAIRN_OK && !found && cairn__import_has(j, txn, run_id, n);
    cairn__txn_end(txn);
    if (err != CAIRN_OK) {
        cairn__fmt(detail, detail_len, "%s", cairn__store_detail(j->store));
    } else if (imported) {
        cairn__fmt(detail, detail_len,
                   "run \"%s\" was imported from a bundle: it is read-only",
                   run_id);
        err = CAIRN_EIMPORTED;
    } else if (!found) {
        cairn__fmt(detail, detail_len, "no run \"%s\"", run_id);
        err = CAIRN_ENORUN;
    } else if (vl != 8) {
        cairn__fmt(detail, detail_len, "run \"%s\": bad name entry", run_id);
        err = CAIRN_ECORRUPT;
    }
    return err;
}

cairn_err cairn__lookup_outside(cairn_journal *j, const char *run_id,
                                uint64_t *run_num, char *detail,
                                size_t detail_len)
{
    *run_num = 0;
    size_t n = strlen(run_id);
    if (n == 0 || n > CAIRN_MAX_ID) {
        cairn__fmt(detail, detail_len, "no run \"%.*s\"",
                   (int)(n > 64 ? 64 : n), run_id);
        return CAIRN_ENORUN;
    }
    if (name_get(j->sync, run_id, run_num)) {
        return CAIRN_OK;
    }
    cairn_err err = lookup_store(j, run_id, n, run_num, detail, detail_len);
    if (err == CAIRN_OK) {
        name_put(j->sync, run_id, *run_num);
    }
    return err;
}

cairn_err cairn__lookup_run(cairn_journal *j, cairn_txn *txn,
                            const char *run_id, uint64_t *run_num)
{
    const uint8_t *v;
    size_t vl;
    int found;
    *run_num = 0;
    size_t n = strlen(run_id);
    if (n == 0 || n > CAIRN_MAX_ID) {
        return cairn__jfail(j, CAIRN_ENORUN, "no run \"%.*s\"",
                            (int)(n > 64 ? 64 : n), run_id);
    }
    cairn_err err =
        cairn__txn_get(txn, CAIRN_DBI_NAMES, run_id, n, &v, &vl, &found);
    if (err != CAIRN_OK) {
        return cairn__jfail(j, err, "%s", cairn__store_detail(j->store));
    }
    if (!found && cairn__import_has(j, txn, run_id, n)) {
        return cairn__jfail(j, CAIRN_EIMPORTED,
                            "run \"%s\" was imported from a bundle: it is "
                            "read-only",
                            run_id);
    }
    if (!found) {
        return cairn__jfail(j, CAIRN_ENORUN, "no run \"%s\"", run_id);
    }
    if (vl != 8) {
        return cairn__jfail(j, CAIRN_ECORRUPT, "run \"%s\": bad name entry",
                            run_id);
    }
    *run_num = cairn__load64_be(v);
    return CAIRN_OK;
}

static cairn_err load_at(cairn_journal *j, cairn_txn *txn, const cairn_head *h,
                         uint64_t run_num, cairn_state *st, uint8_t *leaf,
                         int lazy, char *detail, size_t detail_len)
{
    uint8_t key[8], hash[CAIRN_HASH_BYTES];
    const uint8_t *v;
    size_t vl;
    int found;
    char why[256];
    cairn__store64_be(key, run_num);
    cairn_err err =
        cairn__txn_get(txn, CAIRN_DBI_RUNS, key, sizeof(key), &v, &vl, &found);
    if (err != CAIRN_OK) {
        return cairn__fail(detail, detail_len, err, "%s",
                           cairn__store_detail(j->store));
    }
    if (!found) {
        return cairn__fail(
            detail, detail_len, h != NULL ? CAIRN_ETAMPERED : CAIRN_ECORRUPT,
            "run %llu: state missing", (unsigned long long)run_num);
    }
    if (h != NULL) {
        cairn__state_leaf(v, vl, hash);
        err =
            cairn__head_prove_state(txn, h, run_num, hash, detail, detail_len);
        if (err != CAIRN_OK) {
            return err;
        }
        if (leaf != NULL) {
            memcpy(leaf, hash, CAIRN_HASH_BYTES);
        }
    }
    err = lazy ? cairn__runstate_decode_lazy(txn, v, vl, st, why, sizeof(why))
               : cairn__runstate_decode(txn, v, vl, st, why, sizeof(why));
    if (err == CAIRN_OK && st->run_num != run_num) {
        cairn__state_free(st);
        cairn__fmt(why, sizeof(why), "state names run %llu",
                   (unsigned long long)st->run_num);
        err = CAIRN_ECORRUPT;
    }
    if (err != CAIRN_OK) {
        return cairn__fail(detail, detail_len, err, "run %llu: %s",
                           (unsigned long long)run_num,
                           cairn__why_unprefixed(why, run_num));
    }
    return CAIRN_OK;
}

const char *cairn__why_unprefixed(const char *why, uint64_t run_num)
{
    char prefix[32];
    int n = snprintf(prefix, sizeof(prefix),
                     "run %llu: ", (unsigned long long)run_num);
    if (n > 0 && strncmp(why, prefix, (size_t)n) == 0) {
        return why + n;
    }
    return why;
}

cairn_err cairn__load_state_at(cairn_journal *j, cairn_txn *txn,
                               const cairn_head *h, uint64_t run_num,
                               cairn_state *st, uint8_t *leaf, char *detail,
                               size_t detail_len)
{
    return load_at(j, txn, h, run_num, st, leaf, 0, detail, detail_len);
}

cairn_err cairn__load_state_lazy(cairn_journal *j, cairn_txn *txn,
                                 const cairn_head *h, uint64_t run_num,
                                 cairn_state *st, uint8_t *leaf, char *detail,
                                 size_t detail_len)
{
    return load_at(j, txn, h, run_num, st, leaf, 1, detail, detail_len);
}

cairn_err cairn__state_is_run(const cairn_state *st, const char *run_id,
                              uint64_t run_num, char *detail, size_t detail_len)
{
    if (strcmp(st->run_id, run_id) == 0) {
        return CAIRN_OK;
    }
    return cairn__fail(detail, detail_len, CAIRN_ETAMPERED,
                       "run \"%s\" is run %llu by its name, but that run's "
                       "proven state is run \"%s\"",
                       run_id, (unsigned long long)run_num, st->run_id);
}

cairn_err cairn__load_state(cairn_journal *j, cairn_txn *txn, uint64_t run_num,
                            cairn_state *st, char *detail, size_t detail_len)
{
    if (j->format < 2) {
        return cairn__load_state_at(j, txn, NULL, run_num, st, NULL, detail,
                                    detail_len);
    }
    cairn_head h;
    cairn_err err = cairn__head_load(j, txn, &h, detail, detail_len);
    if (err != CAIRN_OK) {
        return err;
    }
    return cairn__load_state_at(j, txn, &h, run_num, st, NULL, detail,
                                detail_len);
}

cairn_err cairn__index_get(cairn_journal *j, cairn_txn *txn, uint64_t run_num,
                           uint64_t seq, uint64_t *position, int *found)
{
    uint8_t key[16];
    const uint8_t *v;
    size_t vl;
    cairn__store64_be(key, run_num);
    cairn__store64_be(key + 8, seq);
    *position = 0;
    cairn_err err =
        cairn__txn_get(txn, CAIRN_DBI_INDEX, key, sizeof(key), &v, &vl, found);
    if (err != CAIRN_OK) {
        return cairn__jfail(j, err, "%s", cairn__store_detail(j->store));
    }
    if (*found) {
        if (vl != 8) {
            return cairn__jfail(
                j, CAIRN_ECORRUPT, "run %llu seq %llu: bad index entry",
                (unsigned long long)run_num, (unsigned long long)seq);
        }
        *position = cairn__load64_be(v);
    }
    return CAIRN_OK;
}
