/*
 * verify_cosig.c - cairn_cosignature_verify(): a pinned witness's
 * cosignature (C2SP tlog-cosignature v1, Ed25519) on a signed checkpoint.
 */
#include "format/note.h"

#include <stdlib.h>
#include <string.h>

cairn_err cairn_cosignature_verify(const char *note, size_t note_len,
                                   const char *vkey, size_t vkey_len,
                                   uint64_t *time, char *detail,
                                   size_t detail_len)
{
    if (time != NULL) {
        *time = 0;
    }
    if (note == NULL || vkey == NULL) {
        return cairn__fail(detail, detail_len, CAIRN_EINVAL,
                           "missing argument");
    }
    cairn_note_vkey k;
    cairn_err err =
        cairn__note_vkey_parse(vkey, vkey_len, &k, detail, detail_len);
    if (err != CAIRN_OK) {
        return err;
    }
    if (k.alg != CAIRN_NOTE_ALG_COSIG_V1) {
        return cairn__fail(detail, detail_len, CAIRN_EKEY,
                           "verifier key %s is of type 0x%02x, not a "
                           "cosignature key (0x04)",
                           k.name, (unsigned)k.alg);
    }
    cairn_note *n = malloc(sizeof(*n));
    if (n == NULL) {
        return CAIRN_ENOMEM;
    }
    err = cairn__note_parse(note, note_len, n, detail, detail_len);
    cairn_tlog_checkpoint cp;
    if (err == CAIRN_OK) {
        err = cairn__tlog_checkpoint_parse(n->text, n->text_len, &cp, detail,
                                           detail_len);
    }
    uint64_t t = 0;
    if (err == CAIRN_OK) {
        err = cairn__cosig_verify(n, k.name, k.name_len, k.pk, &t, detail,
                                  detail_len);
    }
    if (err == CAIRN_OK && time != NULL) {
        *time = t;
    }
    free(n);
    return err;
}

cairn_err cairn_vkey_parse(const char *text, size_t len, char *name,
                           size_t name_len, uint8_t *type,
                           uint8_t pk[CAIRN_PUBLIC_KEY_BYTES], char *detail,
                           size_t detail_len)
{
    if (text == NULL || name == NULL || type == NULL || pk == NULL ||
        name_len < CAIRN_WITNESS_NAME_MAX + 1) {
        return cairn__fail(detail, detail_len, CAIRN_EINVAL,
                           "missing argument");
    }
    name[0] = '\0';
    cairn_note_vkey k;
    cairn_err err = cairn__note_vkey_parse(text, len, &k, detail, detail_len);
    if (err != CAIRN_OK) {
        return err;
    }
    memcpy(name, k.name, k.name_len + 1);
    *type = k.alg;
    memcpy(pk, k.pk, CAIRN_PUBLIC_KEY_BYTES);
    return CAIRN_OK;
}
