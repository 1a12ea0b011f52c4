/*
 * remember.c - the remembered checkpoint store (docs/FORMAT.md section
 * 18.2): a directory outside the journal directory where writers and
 * verifiers keep the newest checkpoint they accepted per journal, and
 * which journal they last saw in each journal directory.  Before a
 * command trusts a journal, its head must extend what was remembered: a
 * journal rolled back to an older copy, forked, or replaced by another
 * journal is refused.
 *
 * The files and how they are read and written: remember_dir.h.  The
 * caller names the directory: the library reads no environment.
 */
#include "verify/anchor_note.h"
#include "verify/checkpoint.h"
#include "verify/remember_dir.h"

#include "journal/head.h"
#include "journal/journal.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void fmt_time(uint64_t ns, char *out, size_t cap)
{
    time_t t = (time_t)(ns / 1000000000u);
    struct tm tm;
    if (ns == 0 || gmtime_r(&t, &tm) == NULL ||
        strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
        cairn__fmt(out, cap, "at an unknown time");
    }
}

/* The remembered checkpoint of journal @p hex (file <hex>.note). */
static cairn_err load_note(const cairn__remember_dir *s, const char *name,
                           const char *origin, cairn__anchor_note *a,
                           int *found, char *detail, size_t detail_len)
{
    char buf[CAIRN__REMEMBER_FILE_MAX + 1], why[300];
    size_t len;
    cairn_err err =
        cairn__remember_dir_read(s, name, buf, &len, found, detail, detail_len);
    if (err != CAIRN_OK || !*found) {
        return err;
    }
    err = cairn__anchor_parse(buf, len, a, why, sizeof(why));
    if (err == CAIRN_OK && strcmp(a->origin, origin) != 0) {
        cairn__fmt(why, sizeof(why), "its origin is \"%s\", not \"%s\"",
                   a->origin, origin);
        err = CAIRN_ECORRUPT;
    }
    if (err != CAIRN_OK) {
        return cairn__fail(detail, detail_len, CAIRN_ECORRUPT,
                           "remembered checkpoint %s/%s is malformed: %s "
                           "(remove it only if you know why)",
                           s->dir, name, why);
    }
    return CAIRN_OK;
}

/* The journal last remembered in this directory: *found, and its hex id. */
static cairn_err load_map(const cairn__remember_dir *s,
                          char hex[2 * CAIRN_JOURNAL_ID_BYTES + 1], int *found,
                          char *detail, size_t detail_len)
{
    char buf[CAIRN__REMEMBER_FILE_MAX + 1];
    size_t len, h = 2 * CAIRN_JOURNAL_ID_BYTES;
    uint8_t id[CAIRN_JOURNAL_ID_BYTES];
    cairn_err err = cairn__remember_dir_read(s, s->map_name, buf, &len, found,
                                             detail, detail_len);
    if (err != CAIRN_OK || !*found) {
        return err;
    }
    int bad = len < h + 2 || buf[h] != '\n' || buf[len - 1] != '\n';
    if (!bad) {
        buf[h] = '\0';
        bad = cairn__unhex(buf, id, CAIRN_JOURNAL_ID_BYTES) != 0;
    }
    if (!bad) {
        cairn__hex(id, CAIRN_JOURNAL_ID_BYTES, hex);
        bad = memcmp(hex, buf, h) != 0; /* lowercase only */
    }
    if (bad) {
        return cairn__fail(detail, detail_len, CAIRN_ECORRUPT,
                           "remembered checkpoints %s/%s is malformed: not "
                           "\"<32 hex journal id>\\n<directory>\\n\"",
                           s->dir, s->map_name);
    }
    return CAIRN_OK;
}

/* ---- the check ------------------------------------------------------------
 */

/* Another journal was remembered in this directory. */
static cairn_err replaced(const cairn__remember_dir *s, const char *hex,
                          const cairn_journal_checkpoint *head, char *detail,
                          size_t detail_len)
{
    char origin[CAIRN_ORIGIN_MAX], name[sizeof(s->note_name)], what[700];
    char when[40], root[2 * CAIRN_HASH_BYTES + 1];
    cairn__anchor_note a;
    int found = 0;
    cairn__fmt(origin, sizeof(origin), CAIRN__ORIGIN_PREFIX "%s", hex);
    cairn__fmt(name, sizeof(name), "%s" CAIRN__REMEMBER_NOTE_SUFFIX, hex);
    cairn_err err = load_note(s, name, origin, &a, &found, detail, detail_len);
    if (err != CAIRN_OK) {
        return err;
    }
    what[0] = '\0';
    if (found) {
        fmt_time(a.time_ns, when, sizeof(when));
        cairn__hash_hex(a.root, root);
        cairn__fmt(what, sizeof(what),
                   " (remembered checkpoint %s/%s: %llu records, root "
                   "%.16s..., written %s)",
                   s->dir, name, (unsigned long long)a.size, root, when);
    }
    return cairn__fail(detail, detail_len, CAIRN_ETAMPERED,
                       "journal replaced: %s held journal %s%s; it now holds "
                       "journal %s with %llu records.  If the old journal "
                       "was retired on purpose, remove %s/%s",
                       s->jdir, hex, what, s->id_hex,
                       (unsigned long long)head->size, s->dir, s->map_name);
}

/* The head (read with @p key) against what @p s remembers. */
static cairn_err check_in(cairn_journal *j, cairn_txn *txn,
                          const cairn__remember_dir *s, const cairn_pubkey *key,
                          cairn_remembered *out, cairn_journal_checkpoint *head,
                          char *detail, size_t detail_len)
{
    char origin[CAIRN_ORIGIN_MAX], hex[2 * CAIRN_JOURNAL_ID_BYTES + 1];
    char when[40], e[2 * CAIRN_HASH_BYTES + 1], f[2 * CAIRN_HASH_BYTES + 1];
    cairn__anchor_note a;
    int found = 0, ok = 0;
    cairn_err err = cairn__anchor_head(j, txn, key, head, detail, detail_len);
    if (err != CAIRN_OK && err != CAIRN_ENOTHING) {
        return err;
    }
    out->head_size = head->size;
    err = load_map(s, hex, &found, detail, detail_len);
    if (err == CAIRN_OK && found && strcmp(hex, s->id_hex) != 0) {
        err = replaced(s, hex, head, detail, detail_len);
    }
    cairn__anchor_origin(j->journal_id, origin);
    if (err == CAIRN_OK) {
        err =
            load_note(s, s->note_name, origin, &a, &found, detail, detail_len);
    }
    if (err != CAIRN_OK || !found) {
        return err;
    }
    out->found = 1;
    cairn__fmt(out->path, sizeof(out->path), "%s/%s", s->dir, s->note_name);
    out->size = a.size;
    memcpy(out->root, a.root, CAIRN_HASH_BYTES);
    out->time_ns = a.time_ns;
    err = cairn__anchor_consistent(txn, a.size, a.root, head->size, head->root,
                                   &ok);
    if (err != CAIRN_OK || ok) {
        return err;
    }
    fmt_time(a.time_ns, when, sizeof(when));
    cairn__hash_hex(a.root, e);
    cairn__hash_hex(head->root, f);
    if (a.size > head->size) {
        return cairn__fail(detail, detail_len, CAIRN_ETAMPERED,
                           "journal rolled back: remembered checkpoint (%s) "
                           "has %llu records, root %.16s..., written %s; the "
                           "journal now has %llu",
                           out->path, (unsigned long long)a.size, e, when,
                           (unsigned long long)head->size);
    }
    return cairn__fail(detail, detail_len, CAIRN_ETAMPERED,
                       "journal forked: remembered checkpoint (%s) has %llu "
                       "records, root %.16s..., written %s; the journal now "
                       "has %llu records, root %.16s..., which do not extend "
                       "it",
                       out->path, (unsigned long long)a.size, e, when,
                       (unsigned long long)head->size, f);
}

cairn_err cairn_checkpoint_check_remembered(cairn_journal *journal,
                                            const char *dir,
                                            cairn_remembered *out, char *detail,
                                            size_t detail_len)
{
    cairn_remembered tmp;
    cairn_journal_checkpoint head;
    cairn__remember_dir s;
    int exists = 0;
    cairn_txn *txn = NULL;
    cairn__clear(detail, detail_len);
    if (out == NULL) {
        out = &tmp;
    }
    memset(out, 0, sizeof(*out));
    if (journal == NULL || dir == NULL || dir[0] == '\0') {
        return CAIRN_EINVAL;
    }
    if (journal->format < 2) {
        return cairn__fail(detail, detail_len, CAIRN_EVERSION,
                           "journal format %u has no signed head: run "
                           "`cairn migrate` to make it format 2",
                           (unsigned)journal->format);
    }
    cairn_err err = cairn__remember_dir_open(journal, dir, 0, &s, &exists,
                                             detail, detail_len);
    if (err == CAIRN_OK && exists) {
        err = cairn__anchor_read(journal, &txn, detail, detail_len);
        if (err == CAIRN_OK) {
            err = check_in(journal, txn, &s, NULL, out, &head, detail,
                           detail_len);
            cairn__txn_end(txn);
        }
    }
    cairn__remember_dir_close(&s);
    return err;
}

/* ---- remembering -----------------------------------------------------------
 */

/* Is @p head authenticated (see cairn_checkpoint_remember())? */
static int authenticated(const cairn_journal *j, const cairn_pubkey *pinned,
                         const cairn_journal_checkpoint *head)
{
    if (pinned != NULL || j->signer != NULL) {
        return head->signature_ok;
    }
    return !head->is_signed;
}

static cairn_err remember_in(cairn_journal *j, cairn_txn *txn,
                             const cairn__remember_dir *s,
                             const cairn_pubkey *key, int *written,
                             char *detail, size_t detail_len)
{
    cairn_remembered r;
    cairn_journal_checkpoint head;
    char map[2 * CAIRN_JOURNAL_ID_BYTES + PATH_MAX + 4];
    memset(&r, 0, sizeof(r));
    cairn_err err = check_in(j, txn, s, key, &r, &head, detail, detail_len);
    if (err != CAIRN_OK || head.size == 0) {
        return err == CAIRN_ENOTHING ? CAIRN_OK : err;
    }
    if (!authenticated(j, key, &head)) {
        return cairn__fail(detail, detail_len, CAIRN_EINCOMPLETE,
                           "the journal's head is not authenticated by the "
                           "key: not remembered");
    }
    if (!r.found || r.size < head.size) {
        err = cairn__remember_dir_write(s, s->note_name, head.note,
                                        head.note_len, detail, detail_len);
        *written = err == CAIRN_OK;
    }
    cairn__fmt(map, sizeof(map), "%s\n%s\n", s->id_hex, s->jdir);
    if (err == CAIRN_OK) {
        err = cairn__remember_dir_write(s, s->map_name, map, strlen(map),
                                        detail, detail_len);
    }
    if (err == CAIRN_OK) {
        err = cairn__remember_dir_sync(s, detail, detail_len);
    }
    return err;
}

cairn_err cairn_checkpoint_remember(cairn_journal *journal, const char *dir,
                                    const cairn_pubkey *pinned, int *written,
                                    char *detail, size_t detail_len)
{
    cairn__remember_dir s;
    int exists = 0, lock_fd = -1, w = 0;
    cairn_pubkey signer_key = {0}; /* one key: .next NULL */
    cairn_txn *txn = NULL;
    cairn__clear(detail, detail_len);
    if (written != NULL) {
        *written = 0;
    }
    if (journal == NULL || dir == NULL || dir[0] == '\0') {
        return CAIRN_EINVAL;
    }
    if (pinned == NULL && journal->signer != NULL) {
        memcpy(signer_key.key_id, journal->signer->key_id,
               sizeof(signer_key.key_id));
        memcpy(signer_key.pk, journal->signer->pk, sizeof(signer_key.pk));
        pinned = &signer_key;
    }
    cairn_err err = cairn__remember_dir_open(journal, dir, 1, &s, &exists,
                                             detail, detail_len);
    if (err == CAIRN_OK) {
        err = cairn__remember_dir_lock(&s, &lock_fd, detail, detail_len);
    }
    if (err == CAIRN_OK) {
        err = cairn__anchor_read(journal, &txn, detail, detail_len);
    }
    if (err == CAIRN_OK) {
        err = remember_in(journal, txn, &s, pinned, &w, detail, detail_len);
        cairn__txn_end(txn);
    }
    if (lock_fd >= 0) {
        close(lock_fd);
    }
    cairn__remember_dir_close(&s);
    if (written != NULL) {
        *written = w;
    }
    return err;
}
