/*
 * err.c - error names, messages and CLI exit codes: the one table.
 */
#include "base/common.h"

typedef struct err_entry {
    const char *name;
    const char *message;
    int exit_code;
} err_entry;

/* Indexed by cairn_err; a test walks every value. */
static const err_entry err_table[CAIRN_ERR_COUNT_] = {
    [CAIRN_OK] = {"CAIRN_OK", "success", 0},
    [CAIRN_EINVAL] = {"CAIRN_EINVAL", "invalid argument", 2},
    [CAIRN_ENOMEM] = {"CAIRN_ENOMEM", "out of memory", 1},
    [CAIRN_EIO] = {"CAIRN_EIO", "input/output error", 1},
    [CAIRN_ESTORE] = {"CAIRN_ESTORE", "storage (LMDB) error", 1},
    [CAIRN_EFATAL] = {"CAIRN_EFATAL",
                      "journal handle unusable after a failed commit", 1},
    [CAIRN_ECORRUPT] = {"CAIRN_ECORRUPT", "journal corrupt", 6},
    [CAIRN_EVERSION] = {"CAIRN_EVERSION", "unsupported format version", 6},
    [CAIRN_ELOCKED] = {"CAIRN_ELOCKED", "run is locked by a live writer", 5},
    [CAIRN_ENORUN] = {"CAIRN_ENORUN", "no such run", 2},
    [CAIRN_EEXIST] = {"CAIRN_EEXIST", "already exists", 2},
    [CAIRN_EPLAN] = {"CAIRN_EPLAN", "invalid plan", 2},
    [CAIRN_EPLAN_MISMATCH] = {"CAIRN_EPLAN_MISMATCH",
                              "plan does not match the run", 2},
    [CAIRN_ENOOP] = {"CAIRN_ENOOP", "no such operation", 2},
    [CAIRN_EORDER] = {"CAIRN_EORDER", "out of order: not the head operation",
                      2},
    [CAIRN_ESTATE] = {"CAIRN_ESTATE",
                      "operation state does not allow this transition", 2},
    [CAIRN_ENOTHING] = {"CAIRN_ENOTHING", "no operation can be claimed", 2},
    [CAIRN_EPREFLIGHT] = {"CAIRN_EPREFLIGHT", "preflight not accepted", 2},
    [CAIRN_EPREFLIGHT_OPEN] = {"CAIRN_EPREFLIGHT_OPEN",
                               "a preflight operation is not completed", 2},
    [CAIRN_EPREFLIGHT_ID] = {"CAIRN_EPREFLIGHT_ID",
                             "a different preflight id was accepted", 2},
    [CAIRN_ENOTPENDING] = {"CAIRN_ENOTPENDING", "operation is not pending", 2},
    [CAIRN_EATTEMPT] = {"CAIRN_EATTEMPT", "receipt is for another attempt", 2},
    [CAIRN_EOPID] = {"CAIRN_EOPID", "receipt names another operation id", 2},
    [CAIRN_EOUTPUT] = {"CAIRN_EOUTPUT",
                       "a required output is missing or invalid", 2},
    [CAIRN_EREASON] = {"CAIRN_EREASON", "a reason or error class is required",
                       2},
    [CAIRN_ENOTFAILED] = {"CAIRN_ENOTFAILED", "operation is not failed", 2},
    [CAIRN_ENOTINDOUBT] = {"CAIRN_ENOTINDOUBT", "operation is not in doubt", 2},
    [CAIRN_EFINISHED] = {"CAIRN_EFINISHED", "run is finished", 2},
    [CAIRN_ECONTAIN] = {"CAIRN_ECONTAIN",
                        "containment or cleanup claim not allowed", 2},
    [CAIRN_EKEY] = {"CAIRN_EKEY", "key file malformed or unusable", 2},
    [CAIRN_EPASSWORD] = {"CAIRN_EPASSWORD", "wrong or missing password", 2},
    [CAIRN_EKEYMISMATCH] = {"CAIRN_EKEYMISMATCH",
                            "signing key does not match the run's key", 2},
    [CAIRN_ECRYPTO] = {"CAIRN_ECRYPTO", "cryptographic operation failed", 1},
    [CAIRN_ETAMPERED] = {"CAIRN_ETAMPERED", "tampering detected", 4},
    [CAIRN_EINCOMPLETE] = {"CAIRN_EINCOMPLETE",
                           "integrity could not be fully proven", 3},
    [CAIRN_ECHILD] = {"CAIRN_ECHILD", "command could not be run", 1},
    [CAIRN_EINTR] = {"CAIRN_EINTR", "interrupted", 130},
    [CAIRN_EATTENTION] = {"CAIRN_EATTENTION", "run needs attention", 7},
    [CAIRN_EFAILED] = {"CAIRN_EFAILED", "run failed", 1},
    [CAIRN_EBUNDLE] = {"CAIRN_EBUNDLE", "bundle malformed", 6},
    [CAIRN_EUNSAFE] = {"CAIRN_EUNSAFE", "unsafe journal file", 6},
    [CAIRN_EHELD] = {"CAIRN_EHELD", "run is held", 2},
    [CAIRN_EIMPORTED] = {"CAIRN_EIMPORTED", "run is imported (read-only)", 2},
    [CAIRN_ESTALE] = {"CAIRN_ESTALE",
                      "the old size is not the size the witness cosigned", 3},
};

static const err_entry *entry(cairn_err err)
{
    if ((unsigned)err >= (unsigned)CAIRN_ERR_COUNT_ ||
        err_table[err].name == NULL) {
        return NULL;
    }
    return &err_table[err];
}

const char *cairn_strerror(cairn_err err)
{
    const err_entry *e = entry(err);
    return e != NULL ? e->message : "unknown error";
}

const char *cairn_errname(cairn_err err)
{
    const err_entry *e = entry(err);
    return e != NULL ? e->name : "CAIRN_E?";
}

int cairn_exit_code(cairn_err err)
{
    const err_entry *e = entry(err);
    return e != NULL ? e->exit_code : 1;
}
