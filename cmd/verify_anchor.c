/*
 * verify_anchor.c - `cairn verify --anchor FILE` and the remembered
 * checkpoint of verify (docs/FORMAT.md section 18): reading the anchor
 * files, checking them in the verifying child (cairn_anchor_check(),
 * cairn_checkpoint_check_remembered()), and the verdict and report lines
 * they add in the parent.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A signed note is at most 128 KiB (docs/FORMAT.md section 15). */
#define ANCHOR_MAX 131072

static void *grow(void *p, size_t n, size_t size)
{
    void *q = realloc(p, n * size);
    if (q == NULL) {
        cli_die_nomem();
    }
    return q;
}

void cli_anchors_add(cli_anchors *a, const char *path)
{
    struct stat st;
    char *buf;
    size_t got = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        cli_die(CLI_EXIT_USAGE, "--anchor %s: %s", path, strerror(errno));
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        cli_die(CLI_EXIT_USAGE, "--anchor %s: not a regular file", path);
    }
    if (st.st_size <= 0 || st.st_size > ANCHOR_MAX) {
        cli_die(CLI_EXIT_USAGE,
                "--anchor %s: %lld bytes, a checkpoint note has 1..%d", path,
                (long long)st.st_size, ANCHOR_MAX);
    }
    buf = malloc((size_t)st.st_size + 1);
    if (buf == NULL) {
        cli_die_nomem();
    }
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            cli_die(CLI_EXIT_USAGE, "--anchor %s: %s", path,
                    r < 0 ? strerror(errno) : "shorter than its size");
        }
        got += (size_t)r;
    }
    close(fd);
    buf[got] = '\0';
    a->path = grow(a->path, a->n + 1, sizeof(*a->path));
    a->text = grow(a->text, a->n + 1, sizeof(*a->text));
    a->len = grow(a->len, a->n + 1, sizeof(*a->len));
    a->res = grow(a->res, a->n + 1, sizeof(*a->res));
    a->err = grow(a->err, a->n + 1, sizeof(*a->err));
    a->path[a->n] = path;
    a->text[a->n] = buf;
    a->len[a->n] = got;
    memset(&a->res[a->n], 0, sizeof(a->res[a->n]));
    a->err[a->n] = -1;
    a->n++;
}

void cli_anchors_check(cli_anchors *a, cairn_journal *j,
                       const cairn_pubkey *key)
{
    for (size_t i = 0; i < a->n; i++) {
        a->err[i] =
            (int)cairn_anchor_check(j, key, a->text[i], a->len[i], &a->res[i]);
    }
}

void cli_anchors_remembered(cli_anchors *a, cairn_journal *j)
{
    if (a->checkpoints == NULL) {
        return;
    }
    a->rem_done = 1;
    a->rem_err = (int)cairn_checkpoint_check_remembered(
        j, a->checkpoints, &a->rem, a->rem_detail, sizeof(a->rem_detail));
}

static cairn_verdict status_verdict(cairn_anchor_status s)
{
    switch (s) {
    case CAIRN_ANCHOR_OK:
        return CAIRN_VERDICT_VERIFIED;
    case CAIRN_ANCHOR_UNVERIFIED:
        return CAIRN_VERDICT_INCOMPLETE;
    case CAIRN_ANCHOR_OTHER_JOURNAL:
    case CAIRN_ANCHOR_BAD_SIGNATURE:
    case CAIRN_ANCHOR_ROLLBACK:
    case CAIRN_ANCHOR_FORK:
        return CAIRN_VERDICT_TAMPERED;
    }
    return CAIRN_VERDICT_TAMPERED;
}

cairn_verdict cli_anchors_verdict(const cli_anchors *a, const char *dir)
{
    cairn_verdict v = CAIRN_VERDICT_VERIFIED;
    char what[4200];
    for (size_t i = 0; i < a->n; i++) {
        cairn_err err = (cairn_err)a->err[i];
        if (a->err[i] < 0) {
            v = CAIRN_VERDICT_ERROR; /* the child never checked it */
        } else if (err == CAIRN_ECORRUPT) {
            cli_die_code(CLI_EXIT_USAGE, "CAIRN_ECORRUPT", a->path[i],
                         "--anchor %s: not a cairn checkpoint: %s", a->path[i],
                         a->res[i].reason);
        } else if (err == CAIRN_ETAMPERED) {
            v = CAIRN_VERDICT_TAMPERED; /* the journal's own head */
        } else if (err != CAIRN_OK) {
            snprintf(what, sizeof(what), "--anchor %s", a->path[i]);
            cli_die_err(err, what, a->res[i].reason);
        } else if (status_verdict(a->res[i].status) == CAIRN_VERDICT_TAMPERED) {
            v = CAIRN_VERDICT_TAMPERED;
        } else if (status_verdict(a->res[i].status) ==
                       CAIRN_VERDICT_INCOMPLETE &&
                   v == CAIRN_VERDICT_VERIFIED) {
            v = CAIRN_VERDICT_INCOMPLETE;
        }
    }
    if (a->rem_done && a->rem_err == CAIRN_ETAMPERED) {
        v = CAIRN_VERDICT_TAMPERED;
    } else if (a->rem_done && a->rem_err != CAIRN_OK &&
               a->rem_err != CAIRN_EVERSION) {
        snprintf(what, sizeof(what), "journal %s", dir);
        cli_die_err((cairn_err)a->rem_err, what, a->rem_detail);
    }
    return v;
}

/* The consistent anchor with the most records, or -1. */
static long newest(const cli_anchors *a)
{
    long best = -1;
    for (size_t i = 0; i < a->n; i++) {
        int ok = a->err[i] == CAIRN_OK &&
                 (a->res[i].status == CAIRN_ANCHOR_OK ||
                  a->res[i].status == CAIRN_ANCHOR_UNVERIFIED);
        if (ok && (best < 0 || a->res[i].size > a->res[(size_t)best].size)) {
            best = (long)i;
        }
    }
    return best;
}

void cli_anchors_text(FILE *out, const cli_anchors *a)
{
    char when[40];
    for (size_t i = 0; i < a->n; i++) {
        const cairn_anchor_result *r = &a->res[i];
        cli_time(r->time_ns, when, sizeof(when));
        fputs("anchor      : ", out);
        cli_verify_put_text(out, a->path[i]);
        if (a->err[i] != CAIRN_OK) {
            fputs(": TAMPERED (", out);
        } else {
            fprintf(out, ": %s, %llu records at %s (",
                    cairn_anchor_status_name(r->status),
                    (unsigned long long)r->size, when);
        }
        cli_verify_put_text(out, r->reason);
        fputs(")\n", out);
    }
    long b = newest(a);
    if (b >= 0) {
        fprintf(out, "anchored    : %llu records after the newest anchor (",
                (unsigned long long)a->res[b].records_after);
        cli_verify_put_text(out, a->path[b]);
        fputs(")\n", out);
    } else if (a->n > 0) {
        fputs("anchored    : no anchor is extended by the journal\n", out);
    }
    if (!a->rem_done) {
        return;
    }
    fputs("remembered  : ", out);
    if (a->rem_err != CAIRN_OK) {
        fputs("TAMPERED (", out);
        cli_verify_put_text(out, a->rem_detail);
        fputs(")\n", out);
    } else if (!a->rem.found) {
        fputs("none for this journal yet\n", out);
    } else {
        cli_time(a->rem.time_ns, when, sizeof(when));
        cli_verify_put_text(out, a->rem.path);
        fprintf(out, ": %llu records at %s; the journal (%llu) extends it\n",
                (unsigned long long)a->rem.size, when,
                (unsigned long long)a->rem.head_size);
    }
}

static json_t *anchor_json(const cli_anchors *a, size_t i)
{
    const cairn_anchor_result *r = &a->res[i];
    json_t *o = json_object();
    if (o == NULL) {
        cli_die_nomem();
    }
    cli_jset(o, "file", cli_jstr(a->path[i]));
    cli_jset(o, "status",
             a->err[i] == CAIRN_OK
                 ? cli_jstr(cairn_anchor_status_name(r->status))
                 : cli_jstr("tampered-head"));
    cli_jset(o, "size", cli_ju64(r->size));
    cli_jset(o, "root", cli_jhex(r->root, sizeof(r->root)));
    cli_jset(o, "time", cli_jtime(r->time_ns));
    cli_jset(o, "signed", json_boolean(r->is_signed));
    cli_jset(o, "signature_ok", json_boolean(r->signature_ok));
    cli_jset(o, "cosignatures", cli_ju64(r->cosignatures));
    cli_jset(o, "journal_size", cli_ju64(r->head_size));
    cli_jset(o, "records_after", cli_ju64(r->records_after));
    cli_jset(o, "reason", cli_jstr(r->reason));
    return o;
}

void cli_anchors_json(json_t *doc, const cli_anchors *a)
{
    json_t *list = json_array(), *rem;
    long b = newest(a);
    if (list == NULL) {
        cli_die_nomem();
    }
    for (size_t i = 0; i < a->n; i++) {
        if (json_array_append_new(list, anchor_json(a, i)) != 0) {
            cli_die_nomem();
        }
    }
    cli_jset(doc, "anchors", list);
    cli_jset(doc, "records_after_anchor",
             b >= 0 ? cli_ju64(a->res[b].records_after) : json_null());
    if (!a->rem_done) {
        cli_jset(doc, "remembered", json_null());
        return;
    }
    rem = json_object();
    if (rem == NULL) {
        cli_die_nomem();
    }
    cli_jset(rem, "status",
             cli_jstr(a->rem_err != CAIRN_OK ? "tampered"
                      : a->rem.found         ? "ok"
                                             : "none"));
    cli_jset(rem, "file", a->rem.found ? cli_jstr(a->rem.path) : json_null());
    cli_jset(rem, "size", a->rem.found ? cli_ju64(a->rem.size) : json_null());
    cli_jset(rem, "time", cli_jtime(a->rem.time_ns));
    cli_jset(rem, "reason", cli_jstr_or_null(a->rem_detail));
    cli_jset(doc, "remembered", rem);
}

void cli_anchors_free(cli_anchors *a)
{
    for (size_t i = 0; i < a->n; i++) {
        free(a->text[i]);
    }
    free(a->path);
    free(a->text);
    free(a->len);
    free(a->res);
    free(a->err);
    free(a->checkpoints);
    memset(a, 0, sizeof(*a));
}
