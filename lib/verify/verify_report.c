/*
 * verify_report.c - verdict names and exit codes, and filling a
 * cairn_verify_report.
 */
#include "verify/verify.h"

#include <stdarg.h>
#include <string.h>

const char *cairn_verdict_name(cairn_verdict verdict)
{
    switch (verdict) {
    case CAIRN_VERDICT_VERIFIED:
        return "VERIFIED";
    case CAIRN_VERDICT_TAMPERED:
        return "TAMPERED";
    case CAIRN_VERDICT_INCOMPLETE:
        return "INCOMPLETE";
    case CAIRN_VERDICT_ERROR:
        return "ERROR";
    }
    return "UNKNOWN";
}

int cairn_verdict_exit_code(cairn_verdict verdict)
{
    switch (verdict) {
    case CAIRN_VERDICT_VERIFIED:
        return 0;
    case CAIRN_VERDICT_TAMPERED:
        return 4;
    case CAIRN_VERDICT_INCOMPLETE:
        return 3;
    case CAIRN_VERDICT_ERROR:
        return 6;
    }
    return 6;
}

void cairn__hash_hex(const uint8_t h[CAIRN_HASH_BYTES],
                     char out[2 * CAIRN_HASH_BYTES + 1])
{
    cairn__hex(h, CAIRN_HASH_BYTES, out);
}

void cairn__report_init(cairn_verify_report *rep, const char *run_id,
                        const cairn_pubkey *pinned)
{
    memset(rep, 0, sizeof(*rep));
    rep->verdict = CAIRN_VERDICT_ERROR;
    if (run_id != NULL) {
        cairn__fmt(rep->run_id, sizeof(rep->run_id), "%s", run_id);
    }
    if (pinned != NULL) {
        rep->key_pinned = 1;
        cairn_pubkey_fingerprint(pinned, rep->fingerprint,
                                 sizeof(rep->fingerprint));
    }
}

void cairn__report_tampered(cairn_verify_report *rep, int has_seq, uint64_t seq,
                            const char *field, const char *expected,
                            const char *found, const char *fmt, ...)
{
    va_list ap;
    rep->verdict = CAIRN_VERDICT_TAMPERED;
    rep->has_bad = has_seq != 0;
    rep->bad_seq = has_seq ? seq : 0;
    cairn__fmt(rep->bad_field, sizeof(rep->bad_field), "%s",
               field != NULL ? field : "");
    cairn__fmt(rep->expected, sizeof(rep->expected), "%s",
               expected != NULL ? expected : "");
    cairn__fmt(rep->found, sizeof(rep->found), "%s",
               found != NULL ? found : "");
    va_start(ap, fmt);
    cairn__vfmt(rep->reason, sizeof(rep->reason), fmt, ap);
    va_end(ap);
}

void cairn__report_error(cairn_verify_report *rep, const char *fmt, ...)
{
    va_list ap;
    rep->verdict = CAIRN_VERDICT_ERROR;
    rep->has_bad = 0;
    va_start(ap, fmt);
    cairn__vfmt(rep->reason, sizeof(rep->reason), fmt, ap);
    va_end(ap);
}
