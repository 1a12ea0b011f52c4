/*
 * verify_bundle.c - cairn verify-bundle FILE [--key PUB] [--no-signature]
 * [--anchor A]... [-J DIR]: verify an exported bundle, its detached
 * signature FILE.minisig and (version 2) FILE.tlog-proof without any
 * journal directory (with -J DIR the bundle must also be the archive of a
 * pruned run of DIR, matching its tombstone); and the report printers it
 * shares with `cairn verify`.
 */
#include "cli.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* snprintf into a fixed buffer, truncating quietly (reports are bounded). */
static void textf(char *dst, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void textf(char *dst, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(dst, cap, fmt, ap);
    va_end(ap);
}

enum { OPT_KEY = CLI_OPT_FIRST_LOCAL, OPT_NO_SIGNATURE, OPT_ANCHOR };

/* ---- printers ----------------------------------------------------------- */

void cli_verify_put_text(FILE *out, const char *s)
{
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c == 0x7f) {
            fprintf(out, "\\x%02x", c);
        } else {
            fputc(c, out);
        }
    }
}

cairn_pubkey *cli_load_pubkey(const char *path)
{
    cairn_pubkey *key = NULL;
    char detail[1024] = "";
    cairn_err err = cairn_pubkey_load(path, &key, detail, sizeof(detail));
    if (err != CAIRN_OK) {
        cli_die(CLI_EXIT_USAGE, "--key %s: %s%s%s", path, cairn_strerror(err),
                detail[0] != '\0' ? ": " : "", detail);
    }
    return key;
}

cairn_pubkey *cli_add_pubkey(cairn_pubkey *set, const char *path)
{
    cairn_pubkey *key = cli_load_pubkey(path);
    if (set == NULL) {
        return key;
    }
    cairn_pubkey_add(set, key);
    return set;
}

void cli_verify_key_text(FILE *out, const cairn_pubkey *key,
                         const char *key_path)
{
    char fp[80], kid[17];
    uint8_t id[CAIRN_KEY_ID_BYTES];
    if (key == NULL) {
        fputs("key         : not pinned (no --key): signatures not checked, "
              "verdict at best INCOMPLETE\n",
              out);
        return;
    }
    cairn_pubkey_fingerprint(key, fp, sizeof(fp));
    cairn_pubkey_key_id(key, id);
    cli_key_id_hex(id, kid);
    fprintf(out, "key         : ed25519 %s  keyid=%s  source=pinned: --key ",
            fp, kid);
    cli_verify_put_text(out, key_path);
    fputc('\n', out);
}

static void first_bad_text(FILE *out, const cairn_verify_report *r)
{
    if (r->verdict != CAIRN_VERDICT_TAMPERED) {
        return;
    }
    if (r->has_bad) {
        fprintf(out, "first bad   : seq %llu  field %s\n",
                (unsigned long long)r->bad_seq, r->bad_field);
    } else if (r->has_node) {
        fprintf(out, "first bad   : field %s  node level %u index %llu\n",
                r->bad_field, r->bad_level, (unsigned long long)r->bad_index);
    } else {
        fprintf(out, "first bad   : field %s\n", r->bad_field);
    }
    if (r->expected[0] != '\0') {
        fputs("expected    : ", out);
        cli_verify_put_text(out, r->expected);
        fputc('\n', out);
    }
    if (r->found[0] != '\0') {
        fputs("found       : ", out);
        cli_verify_put_text(out, r->found);
        fputc('\n', out);
    }
}

/* What the head's signature check came to, in one word. */
static const char *head_signature(const cairn_verify_report *r)
{
    const cairn_verify_head *h = &r->journal_head;
    if (!h->is_signed) {
        return "unsigned";
    }
    if (h->signature_ok) {
        return "verified";
    }
    if (h->key_mismatch) {
        return "key-mismatch";
    }
    return r->verdict == CAIRN_VERDICT_TAMPERED && r->key_pinned
               ? "not-verified"
               : "not-checked";
}

void cli_verify_head_text(FILE *out, const cairn_verify_report *r)
{
    const cairn_verify_head *h = &r->journal_head;
    char root[2 * CAIRN_HASH_BYTES + 1], sroot[2 * CAIRN_HASH_BYTES + 1];
    char kid[9];
    if (r->format == 1) {
        fputs("format      : 1 (no journal-wide head: deletion of a whole "
              "run or a rollback is not detectable)\n",
              out);
        return;
    }
    if (r->format != 2 || !h->present) {
        return;
    }
    cli_hex(h->root, CAIRN_HASH_BYTES, root);
    cli_hex(h->state_root, CAIRN_HASH_BYTES, sroot);
    cli_hex(h->key_id, sizeof(h->key_id), kid);
    fprintf(out,
            "journal head: format 2, %llu records, %llu runs, time_ns %llu\n"
            "log root    : %s\nstate root  : %s\n",
            (unsigned long long)h->size, (unsigned long long)h->runs,
            (unsigned long long)h->time_ns, root, sroot);
    if (h->is_signed) {
        fprintf(out, "head sig    : %s (note key id %s)\n", head_signature(r),
                kid);
    } else {
        fputs("head sig    : unsigned (the journal is unsigned, unsafe)\n",
              out);
    }
}

json_t *cli_verify_head_json(const cairn_verify_report *r)
{
    const cairn_verify_head *h = &r->journal_head;
    json_t *o;
    if (r->format != 2 || !h->present) {
        return json_null();
    }
    o = json_object();
    if (o == NULL) {
        cli_die_nomem();
    }
    cli_jset(o, "size", cli_ju64(h->size));
    cli_jset(o, "root", cli_jhex(h->root, CAIRN_HASH_BYTES));
    cli_jset(o, "runs", cli_ju64(h->runs));
    cli_jset(o, "state_root", cli_jhex(h->state_root, CAIRN_HASH_BYTES));
    cli_jset(o, "time_ns", cli_ju64(h->time_ns));
    cli_jset(o, "signed", json_boolean(h->is_signed));
    cli_jset(o, "key_id",
             h->is_signed ? cli_jhex(h->key_id, sizeof(h->key_id))
                          : json_null());
    cli_jset(o, "signature", cli_jstr(head_signature(r)));
    return o;
}

void cli_verify_run_text(FILE *out, const cairn_verify_report *r)
{
    char kid[17], head[2 * CAIRN_HASH_BYTES + 1];
    fputs("run         : ", out);
    cli_verify_put_text(out, r->run_id);
    fputc('\n', out);
    cli_key_id_hex(r->key_id, kid);
    fprintf(out, "run key     : %s\n",
            r->run_signed ? kid : "none (unsigned run)");
    fprintf(out, "records     : %llu\n", (unsigned long long)r->records);
    fprintf(out, "checkpoints : %llu  signatures: ",
            (unsigned long long)r->checkpoints);
    if (r->key_mismatch) {
        fputs("not checked (key mismatch: signed by another key)", out);
    } else if (r->key_pinned) {
        fprintf(out, "%llu valid under the pinned key",
                (unsigned long long)r->signatures_ok);
    } else {
        fputs("not checked (key not pinned)", out);
    }
    fprintf(out, "; %llu sealed by the journal head; %llu unsigned\n",
            (unsigned long long)r->head_sealed,
            (unsigned long long)r->unsigned_checkpoints);
    fprintf(out, "replay      : %s\n",
            r->replay_ok ? "OK" : "not proven (see verdict)");
    fprintf(out, "unsealed    : %llu record(s) after the last checkpoint\n",
            (unsigned long long)r->unsealed);
    if (r->records > 0) {
        cli_hex(r->head, CAIRN_HASH_BYTES, head);
        fprintf(out, "head        : %s\n", head);
    }
    if (r->pruned) {
        fprintf(out,
                "pruned      : PRUNED: %llu record(s) removed, tombstone at "
                "position %llu (`cairn log` shows what, when, by whom and "
                "where the bundle is)\n",
                (unsigned long long)r->pruned_records,
                (unsigned long long)r->prune_position);
    }
    cli_verify_head_text(out, r);
    first_bad_text(out, r);
    fprintf(out, "verdict     : %s (", cairn_verdict_name(r->verdict));
    cli_verify_put_text(out, r->reason);
    fprintf(out, ")   exit %d\n", cairn_verdict_exit_code(r->verdict));
}

json_t *cli_verify_key_json(const cairn_pubkey *key, const char *key_path)
{
    char fp[80], kid[17], source[4200];
    uint8_t id[CAIRN_KEY_ID_BYTES];
    json_t *o;
    if (key == NULL) {
        return json_null();
    }
    o = json_object();
    if (o == NULL) {
        cli_die_nomem();
    }
    cairn_pubkey_fingerprint(key, fp, sizeof(fp));
    cairn_pubkey_key_id(key, id);
    cli_key_id_hex(id, kid);
    textf(source, sizeof(source), "pinned: --key %s", key_path);
    cli_jset(o, "fingerprint", cli_jstr(fp));
    cli_jset(o, "key_id", cli_jstr(kid));
    cli_jset(o, "source", cli_jstr(source));
    return o;
}

json_t *cli_verify_first_bad_json(const cairn_verify_report *r,
                                  const char *position_key)
{
    json_t *o;
    if (r->verdict != CAIRN_VERDICT_TAMPERED) {
        return json_null();
    }
    o = json_object();
    if (o == NULL) {
        cli_die_nomem();
    }
    cli_jset(o, position_key, r->has_bad ? cli_ju64(r->bad_seq) : json_null());
    cli_jset(o, "field", cli_jstr(r->bad_field));
    cli_jset(o, "expected", cli_jstr(r->expected));
    cli_jset(o, "found", cli_jstr(r->found));
    if (r->has_node) {
        json_t *node = json_object();
        if (node == NULL) {
            cli_die_nomem();
        }
        cli_jset(node, "level", json_integer(r->bad_level));
        cli_jset(node, "index", cli_ju64(r->bad_index));
        cli_jset(o, "node", node);
    } else {
        cli_jset(o, "node", json_null());
    }
    return o;
}

json_t *cli_verify_run_json(const cairn_verify_report *r)
{
    char kid[17];
    json_t *o = json_object();
    if (o == NULL) {
        cli_die_nomem();
    }
    cli_key_id_hex(r->key_id, kid);
    cli_jset(o, "run_id", cli_jstr(r->run_id));
    cli_jset(o, "verdict", cli_jstr(cairn_verdict_name(r->verdict)));
    cli_jset(o, "exit_code", json_integer(cairn_verdict_exit_code(r->verdict)));
    cli_jset(o, "reason", cli_jstr(r->reason));
    cli_jset(o, "records", cli_ju64(r->records));
    cli_jset(o, "checkpoints", cli_ju64(r->checkpoints));
    cli_jset(o, "signatures_ok", cli_ju64(r->signatures_ok));
    cli_jset(o, "head_sealed", cli_ju64(r->head_sealed));
    cli_jset(o, "unsigned_checkpoints", cli_ju64(r->unsigned_checkpoints));
    cli_jset(o, "unsealed", cli_ju64(r->unsealed));
    cli_jset(o, "key_pinned", json_boolean(r->key_pinned));
    cli_jset(o, "fingerprint", cli_jstr_or_null(r->fingerprint));
    cli_jset(o, "run_signed", json_boolean(r->run_signed));
    cli_jset(o, "run_key_id", r->run_signed ? cli_jstr(kid) : json_null());
    cli_jset(o, "key_mismatch", json_boolean(r->key_mismatch));
    cli_jset(o, "replay_ok", json_boolean(r->replay_ok));
    cli_jset(o, "head",
             r->records > 0 ? cli_jhex(r->head, CAIRN_HASH_BYTES)
                            : json_null());
    cli_jset(o, "first_bad", cli_verify_first_bad_json(r, "seq"));
    cli_jset(o, "format",
             r->format != 0 ? json_integer(r->format) : json_null());
    cli_jset(o, "journal_head", cli_verify_head_json(r));
    cli_jset(o, "pruned", json_boolean(r->pruned));
    if (r->pruned) {
        cli_jset(o, "prune_position", cli_ju64(r->prune_position));
        cli_jset(o, "pruned_records", cli_ju64(r->pruned_records));
    }
    return o;
}

/* What became of FILE.minisig, in one word and a sentence. */
static const char *signature_state(const cairn_verify_report *r,
                                   const cairn_pubkey *key, int no_signature,
                                   const char *why, const char **text)
{
    if (no_signature) {
        *text = "not checked (--no-signature): the bundle may be cut back "
                "to an earlier commit";
        return "not-checked";
    }
    if (key == NULL) {
        *text = "not checked (key not pinned)";
        return "not-checked";
    }
    if (why[0] != '\0') {
        *text = "missing or unreadable: not checked, verdict at best "
                "INCOMPLETE (--no-signature accepts that)";
        return "missing";
    }
    if (r->verdict == CAIRN_VERDICT_TAMPERED &&
        strncmp(r->bad_field, "minisig", 7) == 0) {
        *text = "does not verify";
        return "bad";
    }
    if (r->verdict == CAIRN_VERDICT_TAMPERED ||
        r->verdict == CAIRN_VERDICT_ERROR) {
        *text = "not checked (the bundle itself does not verify)";
        return "not-checked";
    }
    *text = "verified (trusted comment matches)";
    return "verified";
}

static const char *tlog_proof_word(const cairn_bundle_info *b)
{
    return b->tlog_proof > 0 ? "matches"
                             : (b->tlog_proof < 0 ? "differs" : "absent");
}

/* What a version-2 bundle adds: export time, the proven run state,
 * FILE.tlog-proof, anchors. */
static void bundle_text(const cairn_bundle_info *b, const cli_anchors *a)
{
    char when[64];
    if (b->version == 0) {
        return;
    }
    printf("version     : %u", b->version);
    if (b->compressed) {
        printf(" (zstd: %llu bytes stored, %llu decompressed)",
               (unsigned long long)b->stored_bytes,
               (unsigned long long)b->bytes);
    }
    fputc('\n', stdout);
    if (b->version < 2) {
        return;
    }
    cli_time(b->exported_ns, when, sizeof(when));
    printf("exported    : %s (%llu)\n", when,
           (unsigned long long)b->exported_ns);
    if (b->state_proven) {
        printf("run state   : %s  done %u/%u  failed %u  in doubt %u "
               "(proven under the journal head)\n",
               cairn_run_state_name(b->state), b->done, b->total, b->failed,
               b->in_doubt);
    } else {
        fputs("run state   : not proven (see verdict)\n", stdout);
    }
    printf("tlog-proof  : %s\n", tlog_proof_word(b));
    for (size_t i = 0; i < b->n_anchors; i++) {
        printf("anchor      : %s (%llu records): %s: ",
               i < a->n ? a->path[i] : "?",
               (unsigned long long)b->anchors[i].size,
               cairn_verdict_name(b->anchors[i].verdict));
        cli_verify_put_text(stdout, b->anchors[i].reason);
        fputc('\n', stdout);
    }
}

static json_t *bundle_json(const cairn_bundle_info *b, const cli_anchors *a)
{
    json_t *o = json_object(), *st = NULL, *arr = json_array();
    if (o == NULL || arr == NULL) {
        cli_die_nomem();
    }
    cli_jset(o, "version", json_integer(b->version));
    cli_jset(o, "zstd", json_boolean(b->compressed));
    cli_jset(o, "stored_bytes", cli_ju64(b->stored_bytes));
    cli_jset(o, "bytes", cli_ju64(b->bytes));
    cli_jset(o, "exported_ns",
             b->version >= 2 ? cli_ju64(b->exported_ns) : json_null());
    cli_jset(o, "exported",
             b->version >= 2 ? cli_jtime(b->exported_ns) : json_null());
    if (b->state_proven) {
        st = json_object();
        if (st == NULL) {
            cli_die_nomem();
        }
        cli_jset(st, "state", cli_jstr(cairn_run_state_name(b->state)));
        cli_jset(st, "done", json_integer(b->done));
        cli_jset(st, "total", json_integer(b->total));
        cli_jset(st, "failed", json_integer(b->failed));
        cli_jset(st, "in_doubt", json_integer(b->in_doubt));
    }
    cli_jset(o, "run_state", st != NULL ? st : json_null());
    cli_jset(o, "tlog_proof",
             b->version >= 2 ? cli_jstr(tlog_proof_word(b)) : json_null());
    for (size_t i = 0; i < b->n_anchors; i++) {
        json_t *x = json_object();
        if (x == NULL) {
            cli_die_nomem();
        }
        cli_jset(x, "file", cli_jstr(i < a->n ? a->path[i] : ""));
        cli_jset(x, "size", cli_ju64(b->anchors[i].size));
        cli_jset(x, "verdict",
                 cli_jstr(cairn_verdict_name(b->anchors[i].verdict)));
        cli_jset(x, "reason", cli_jstr(b->anchors[i].reason));
        if (json_array_append_new(arr, x) != 0) {
            cli_die_nomem();
        }
    }
    cli_jset(o, "anchors", arr);
    return o;
}

int cmd_verify_bundle(cli_ctx *ctx, int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_LONG_COMMON,
        {"key", required_argument, NULL, OPT_KEY},
        {"no-signature", no_argument, NULL, OPT_NO_SIGNATURE},
        {"anchor", required_argument, NULL, OPT_ANCHOR},
        {0}};
    const char *key_path = NULL, *path, *state, *state_text;
    cairn_pubkey *key = NULL;
    cairn_verify_report r;
    cairn_bundle_info info;
    cli_anchors anchors;
    char detail[1024] = "";
    cairn_err err;
    int c, no_signature = 0;

    memset(&anchors, 0, sizeof(anchors));
    cli_getopt_reset();
    while ((c = getopt_long(argc, argv, CLI_SHORT_COMMON, longopts, NULL)) !=
           -1) {
        if (cli_common_option(ctx, c, optarg, argv)) {
            continue;
        }
        if (c == OPT_KEY) { /* several: the bundle's own key counts */
            key = cli_add_pubkey(key, optarg);
            key_path = key_path != NULL ? key_path : optarg;
        } else if (c == OPT_NO_SIGNATURE) {
            no_signature = 1;
        } else if (c == OPT_ANCHOR) {
            cli_anchors_add(&anchors, optarg);
        }
    }
    path = cli_one_arg(ctx, argc, argv, "FILE");
    unsigned flags = no_signature ? CAIRN_BUNDLE_NO_SIGNATURE : 0u;
    cairn_bundle_verify_opts opts = {
        key, flags, (const char *const *)anchors.text, anchors.len, anchors.n};
    if (ctx->journal_opt != NULL && anchors.n > 0) {
        cli_usage_error(ctx, "-J (the tombstone of a pruned run) and "
                             "--anchor are checked one at a time: run "
                             "verify-bundle twice");
    }
    err = cairn_verify_bundle_opts(path, &opts, &r, &info, detail,
                                   sizeof(detail));
    if (ctx->journal_opt != NULL && (err == CAIRN_OK || err == CAIRN_EBUNDLE)) {
        /* -J DIR: the bundle is the archive of a pruned run of DIR and
         * must match its tombstone (this checks the bundle again). */
        cli_open_journal(ctx, CAIRN_OPEN_READONLY);
        detail[0] = '\0';
        err = cairn_verify_bundle_pruned(ctx->journal, path, key, flags, &r,
                                         detail, sizeof(detail));
    }
    if (err != CAIRN_OK && err != CAIRN_EBUNDLE) {
        cairn_pubkey_free(key);
        cli_anchors_free(&anchors);
        cli_die_err(err, path, detail);
    }
    if (err != CAIRN_OK) {
        detail[0] = '\0'; /* the parse error is in the report */
    }
    state = signature_state(&r, key, no_signature, detail, &state_text);
    if (detail[0] != '\0') {
        cli_warn("%s: the detached signature was not checked, so the bundle "
                 "is not VERIFIED (--no-signature to accept that)",
                 detail);
    }
    if (ctx->format == CLI_JSON) {
        json_t *doc = cli_verify_run_json(&r);
        cli_jset(doc, "bundle", cli_jstr(path));
        cli_jset(doc, "key", cli_verify_key_json(key, key_path));
        cli_jset(doc, "signature", cli_jstr(state));
        cli_jset(doc, "bundle_info", bundle_json(&info, &anchors));
        if (r.pruned) {
            cli_jset(doc, "tombstone_position", cli_ju64(r.prune_position));
        }
        cli_jprint(doc);
    } else {
        fputs("bundle      : ", stdout);
        cli_verify_put_text(stdout, path);
        fputc('\n', stdout);
        cli_verify_key_text(stdout, key, key_path);
        fputs("signature   : ", stdout);
        fputs(state_text, stdout);
        fputc('\n', stdout);
        bundle_text(&info, &anchors);
        cli_verify_run_text(stdout, &r);
    }
    cairn_pubkey_free(key);
    cli_anchors_free(&anchors);
    return cairn_verdict_exit_code(r.verdict);
}
