/*
 * verify_witness.c - `cairn verify --witness-key VKEY --min-witnesses N`:
 * the cosignatures (C2SP tlog-cosignature v1) of pinned witnesses on the
 * --anchor files.  A witness counts when it validly cosigned an anchor
 * that the journal's head extends (cairn_anchor_check(), verify_anchor.c);
 * fewer than N distinct witnesses is INCOMPLETE, an invalid cosignature
 * by a pinned witness TAMPERED.  Read by the parent from the anchors'
 * bytes and the child's anchor results (docs/FORMAT.md section 20).
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Longest verifier key file read. */
#define VKEY_FILE_MAX 4096

int cli_vkey_text(const char *arg, char *out, size_t cap)
{
    struct stat st;
    size_t n = strlen(arg);
    if (stat(arg, &st) == 0 && S_ISREG(st.st_mode)) {
        FILE *f = fopen(arg, "r");
        if (f == NULL) {
            return -1;
        }
        char buf[VKEY_FILE_MAX + 1];
        n = fread(buf, 1, VKEY_FILE_MAX, f);
        fclose(f);
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) {
            n--;
        }
        if (n >= cap || memchr(buf, '\n', n) != NULL) {
            return -1;
        }
        memcpy(out, buf, n);
        out[n] = '\0';
        return 0;
    }
    if (n >= cap) {
        return -1;
    }
    memcpy(out, arg, n + 1);
    return 0;
}

void cli_witnesses_add(cli_witnesses *w, const char *arg)
{
    char text[CAIRN_VKEY_MAX + 8], name[CAIRN_WITNESS_NAME_MAX + 1];
    char detail[512] = "";
    uint8_t pk[CAIRN_PUBLIC_KEY_BYTES], type = 0;
    if (cli_vkey_text(arg, text, sizeof(text)) != 0 ||
        cairn_vkey_parse(text, strlen(text), name, sizeof(name), &type, pk,
                         detail, sizeof(detail)) != CAIRN_OK ||
        type != CAIRN_VKEY_COSIGNATURE) {
        cli_die(CLI_EXIT_USAGE,
                "--witness-key %s: not a witness verifier key "
                "NAME+ID+KEY of type 0x04 (`cairn witness --vkey`)%s%s",
                arg, detail[0] != '\0' ? ": " : "", detail);
    }
    for (size_t i = 0; i < w->n; i++) {
        if (strcmp(w->key[i].vkey, text) == 0) {
            return; /* the same witness twice counts once */
        }
    }
    cli_witness_key *k = realloc(w->key, (w->n + 1) * sizeof(*k));
    if (k == NULL) {
        cli_die_nomem();
    }
    w->key = k;
    k = &w->key[w->n++];
    memset(k, 0, sizeof(*k));
    memcpy(k->vkey, text, strlen(text) + 1);
    memcpy(k->name, name, strlen(name) + 1);
    k->anchor = -1;
}

/* Does the head extend anchor @p i (so that its cosignatures count)? */
static int consistent(const cli_anchors *a, size_t i)
{
    return a->err[i] == CAIRN_OK &&
           (a->res[i].status == CAIRN_ANCHOR_OK ||
            a->res[i].status == CAIRN_ANCHOR_UNVERIFIED);
}

void cli_witnesses_check(cli_witnesses *w, const cli_anchors *a)
{
    w->found = 0;
    w->newest = -1;
    for (size_t k = 0; k < w->n; k++) {
        cli_witness_key *key = &w->key[k];
        for (size_t i = 0; i < a->n; i++) {
            uint64_t t = 0;
            char detail[512] = "";
            cairn_err err = cairn_cosignature_verify(
                a->text[i], a->len[i], key->vkey, strlen(key->vkey), &t, detail,
                sizeof(detail));
            if (err == CAIRN_ETAMPERED) {
                key->tampered = 1;
                snprintf(key->why, sizeof(key->why), "%s: %s", a->path[i],
                         detail);
                continue;
            }
            if (err != CAIRN_OK || !consistent(a, i)) {
                continue;
            }
            if (key->anchor < 0 ||
                a->res[i].size > a->res[(size_t)key->anchor].size) {
                key->anchor = (long)i;
                key->time = t;
            }
        }
        if (key->anchor >= 0) {
            w->found++;
            if (w->newest < 0 ||
                a->res[(size_t)key->anchor].size > a->res[w->newest].size) {
                w->newest = key->anchor;
            }
        }
    }
}

cairn_verdict cli_witnesses_verdict(const cli_witnesses *w)
{
    if (w->n == 0) {
        return CAIRN_VERDICT_VERIFIED;
    }
    for (size_t k = 0; k < w->n; k++) {
        if (w->key[k].tampered) {
            return CAIRN_VERDICT_TAMPERED;
        }
    }
    return w->found >= w->min ? CAIRN_VERDICT_VERIFIED
                              : CAIRN_VERDICT_INCOMPLETE;
}

void cli_witnesses_text(FILE *out, const cli_witnesses *w, const cli_anchors *a)
{
    if (w->n == 0) {
        return;
    }
    for (size_t k = 0; k < w->n; k++) {
        const cli_witness_key *key = &w->key[k];
        fputs("witness     : ", out);
        cli_verify_put_text(out, key->name);
        if (key->tampered) {
            fputs(": TAMPERED, an invalid cosignature (", out);
            cli_verify_put_text(out, key->why);
            fputs(")\n", out);
        } else if (key->anchor >= 0) {
            const cairn_anchor_result *r = &a->res[(size_t)key->anchor];
            fprintf(out, ": cosigned %llu records at %llu (",
                    (unsigned long long)r->size, (unsigned long long)key->time);
            cli_verify_put_text(out, a->path[(size_t)key->anchor]);
            fputs(")\n", out);
        } else {
            fputs(": no valid cosignature on an anchor the journal extends\n",
                  out);
        }
    }
    fprintf(out, "witnesses   : %zu of %u required found\n", w->found, w->min);
    if (w->newest >= 0) {
        fprintf(out,
                "witnessed   : %llu records after the newest witnessed "
                "checkpoint (",
                (unsigned long long)a->res[w->newest].records_after);
        cli_verify_put_text(out, a->path[w->newest]);
        fputs(")\n", out);
    } else {
        fputs("witnessed   : no witnessed checkpoint: nothing of the "
              "journal is witnessed\n",
              out);
    }
}

void cli_witnesses_json(json_t *doc, const cli_witnesses *w,
                        const cli_anchors *a)
{
    if (w->n == 0) {
        return;
    }
    json_t *o = json_object(), *list = json_array();
    if (o == NULL || list == NULL) {
        cli_die_nomem();
    }
    for (size_t k = 0; k < w->n; k++) {
        const cli_witness_key *key = &w->key[k];
        json_t *e = json_object();
        if (e == NULL) {
            cli_die_nomem();
        }
        cli_jset(e, "name", cli_jstr(key->name));
        cli_jset(e, "vkey", cli_jstr(key->vkey));
        cli_jset(e, "status",
                 cli_jstr(key->tampered      ? "tampered"
                          : key->anchor >= 0 ? "ok"
                                             : "missing"));
        cli_jset(e, "file",
                 key->anchor >= 0 ? cli_jstr(a->path[(size_t)key->anchor])
                                  : json_null());
        cli_jset(e, "size",
                 key->anchor >= 0 ? cli_ju64(a->res[(size_t)key->anchor].size)
                                  : json_null());
        cli_jset(e, "time",
                 key->anchor >= 0 ? cli_ju64(key->time) : json_null());
        cli_jset(e, "reason", cli_jstr_or_null(key->why));
        if (json_array_append_new(list, e) != 0) {
            cli_die_nomem();
        }
    }
    cli_jset(o, "required", json_integer(w->min));
    cli_jset(o, "found", json_integer((json_int_t)w->found));
    cli_jset(o, "keys", list);
    cli_jset(o, "records_after_witnessed",
             w->newest >= 0 ? cli_ju64(a->res[w->newest].records_after)
                            : json_null());
    cli_jset(doc, "witnesses", o);
}

void cli_witnesses_free(cli_witnesses *w)
{
    free(w->key);
    memset(w, 0, sizeof(*w));
}
