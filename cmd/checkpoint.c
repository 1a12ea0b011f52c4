/*
 * checkpoint.c - cairn checkpoint: print the journal's signed head (a
 * C2SP checkpoint note) verbatim, to keep as an anchor off the host, or
 * (--from OLD) a C2SP tlog-witness add-checkpoint request body for it.
 */
#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

enum { OPT_KEY = CLI_OPT_FIRST_LOCAL, OPT_FROM };

/* Standard padded base64 of @p n bytes into @p out (4 * ceil(n/3) + 1). */
static void b64(const uint8_t *in, size_t n, char *out)
{
    static const char tab[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        v |= i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0u;
        v |= i + 2 < n ? (uint32_t)in[i + 2] : 0u;
        out[o++] = tab[(v >> 18) & 63];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? tab[v & 63] : '=';
    }
    out[o] = '\0';
}

static json_t *to_json(const cairn_journal_checkpoint *cp, int key_pinned,
                       const char *request)
{
    char root[64], sroot[64];
    json_t *o = json_object();
    if (o == NULL) {
        cli_die_nomem();
    }
    b64(cp->root, sizeof(cp->root), root);
    b64(cp->state_root, sizeof(cp->state_root), sroot);
    cli_jset(o, "origin", cli_jstr(cp->origin));
    cli_jset(o, "size", cli_ju64(cp->size));
    cli_jset(o, "root", cli_jstr(root));
    cli_jset(o, "runs", cli_ju64(cp->runs));
    cli_jset(o, "state_root", cli_jstr(sroot));
    cli_jset(o, "time_ns", cli_ju64(cp->time_ns));
    cli_jset(o, "time", cli_jtime(cp->time_ns));
    cli_jset(o, "signed", json_boolean(cp->is_signed));
    cli_jset(o, "key_id",
             cp->is_signed ? cli_jhex(cp->key_id, sizeof(cp->key_id))
                           : json_null());
    cli_jset(o, "signature_checked", json_boolean(key_pinned));
    cli_jset(o, "note", cli_jstr(cp->note));
    if (request != NULL) {
        cli_jset(o, "request", cli_jstr(request));
    }
    return o;
}

static uint64_t parse_from(const cli_ctx *ctx, const char *text)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (text[0] < '0' || text[0] > '9' || *end != '\0' || errno != 0 ||
        v > INT64_MAX) {
        cli_usage_error(ctx, "--from %s: not a tree size (0..2^63-1)", text);
    }
    return (uint64_t)v;
}

/* Refuse (exit 4) a head the pinned key did not sign; warn without one. */
static void check_key(const cli_ctx *ctx, const cairn_journal_checkpoint *cp,
                      const char *key_path)
{
    if (key_path == NULL) {
        cli_warn("no --key: the checkpoint's signature was not checked "
                 "(INCOMPLETE: check it with --key PUB before relying on "
                 "it)");
        return;
    }
    if (!cp->signature_ok) {
        cli_die_code(cairn_exit_code(CAIRN_ETAMPERED),
                     cairn_errname(CAIRN_ETAMPERED), ctx->journal_dir,
                     "checkpoint: the journal's head %s the key %s",
                     cp->is_signed ? "is not signed by"
                                   : "is unsigned, not "
                                     "signed by",
                     key_path);
    }
}

static void die_checkpoint(const cli_ctx *ctx, cairn_err err,
                           const char *detail)
{
    if (err == CAIRN_ENOTHING) {
        cli_die_code(CLI_EXIT_ERROR, "CAIRN_ENOTHING", ctx->journal_dir,
                     "checkpoint: journal %s: %s", ctx->journal_dir, detail);
    }
    if (err == CAIRN_EINVAL && detail[0] != '\0') {
        cli_die_code(CLI_EXIT_USAGE, "CAIRN_EINVAL", ctx->journal_dir,
                     "checkpoint: %s", detail);
    }
    cli_die_err(err, "checkpoint", detail);
}

int cmd_checkpoint(cli_ctx *ctx, int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_LONG_COMMON,
        {"key", required_argument, NULL, OPT_KEY},
        {"from", required_argument, NULL, OPT_FROM},
        {0}};
    const char *key_path = NULL;
    cairn_pubkey *key = NULL;
    int have_from = 0, c;
    uint64_t from = 0;
    cairn_journal_checkpoint cp;
    char detail[1024] = "";
    char *request = NULL;
    size_t len = 0;
    cairn_err err;

    cli_getopt_reset();
    while ((c = getopt_long(argc, argv, CLI_SHORT_COMMON, longopts, NULL)) !=
           -1) {
        if (cli_common_option(ctx, c, optarg, argv)) {
            continue;
        }
        if (c == OPT_KEY) {
            key_path = optarg;
        } else if (c == OPT_FROM) {
            from = parse_from(ctx, optarg);
            have_from = 1;
        }
    }
    cli_no_args(ctx, argc, argv);
    if (key_path != NULL) {
        key = cli_load_pubkey(key_path);
    }
    cli_open(ctx);
    if (have_from) {
        request = malloc(CAIRN_CHECKPOINT_REQUEST_MAX);
        if (request == NULL) {
            cli_die_nomem();
        }
        err = cairn_checkpoint_request(ctx->journal, key, from, &cp, request,
                                       CAIRN_CHECKPOINT_REQUEST_MAX, &len,
                                       detail, sizeof(detail));
    } else {
        err = cairn_journal_checkpoint_get(ctx->journal, key, &cp, detail,
                                           sizeof(detail));
    }
    if (err != CAIRN_OK) {
        die_checkpoint(ctx, err, detail);
    }
    check_key(ctx, &cp, key_path);
    if (ctx->format == CLI_JSON) {
        cli_jprint(to_json(&cp, key != NULL, request));
    } else if (request != NULL) {
        fwrite(request, 1, len, stdout);
    } else {
        fwrite(cp.note, 1, cp.note_len, stdout);
    }
    free(request);
    cairn_pubkey_free(key);
    return CLI_EXIT_OK;
}
