/*
 * import_export.c - cairn_import_export(): write the stored bundle of an
 * imported run and its .minisig back, byte for byte as imported (a zstd
 * bundle stays compressed: docs/FORMAT.md section 21).  Split from
 * import.c.
 */
#include "verify/verify.h"

#include "format/import_value.h"
#include "journal/journal.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static cairn_err write_new(const char *path, const uint8_t *p, size_t n,
                           char *detail, size_t detail_len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        return cairn__fail(detail, detail_len, CAIRN_EIO, "%s: cannot create",
                           path);
    }
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(fd, p + done, n - done);
        if (w <= 0) {
            close(fd);
            unlink(path);
            return cairn__fail(detail, detail_len, CAIRN_EIO,
                               "%s: write failed", path);
        }
        done += (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        unlink(path);
        return cairn__fail(detail, detail_len, CAIRN_EIO, "%s: fsync failed",
                           path);
    }
    return CAIRN_OK;
}

cairn_err cairn_import_export(cairn_journal *journal, const char *run_id,
                              const char *path)
{
    if (journal == NULL || run_id == NULL || path == NULL) {
        return CAIRN_EINVAL;
    }
    char sig_path[4096];
    int n = snprintf(sig_path, sizeof(sig_path), "%s.minisig", path);
    if (n < 0 || (size_t)n >= sizeof(sig_path)) {
        return cairn__jfail(journal, CAIRN_EINVAL, "%s: path too long", path);
    }
    cairn_txn *txn = NULL;
    cairn_import_value v;
    cairn_err err = cairn__store_read(journal->store, &txn);
    if (err != CAIRN_OK) {
        return cairn__jfail(journal, err, "%s",
                            cairn__store_detail(journal->store));
    }
    err = cairn__import_load(journal, txn, run_id, &v, NULL, journal->detail,
                             sizeof(journal->detail));
    if (err == CAIRN_OK) {
        err = write_new(path, v.bundle, v.bundle_len, journal->detail,
                        sizeof(journal->detail));
        if (err == CAIRN_OK && v.minisig != NULL) {
            err = write_new(sig_path, v.minisig, v.minisig_len, journal->detail,
                            sizeof(journal->detail));
            if (err != CAIRN_OK) {
                unlink(path);
            }
        }
        cairn__import_value_free(&v);
    }
    cairn__txn_end(txn);
    return err;
}
