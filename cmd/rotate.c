/*
 * rotate.c - cairn rotate-key --new-secret-key FILE [--reason TEXT]: hand
 * the journal over from its signing key (--secret-key or
 * CAIRN_SECRET_KEY) to a new one (cairn_rotate_key(), docs/FORMAT.md
 * section 24).
 */
#include "cli.h"

#include <stdlib.h>

enum { OPT_NEW_KEY = CLI_OPT_FIRST_LOCAL, OPT_REASON };

static json_t *to_json(const uint8_t old_id[], const uint8_t new_id[],
                       uint64_t pos)
{
    char o[17], n[17];
    json_t *obj = json_object();
    if (obj == NULL) {
        cli_die_nomem();
    }
    cli_key_id_hex(old_id, o);
    cli_key_id_hex(new_id, n);
    cli_jset(obj, "old_key_id", cli_jstr(o));
    cli_jset(obj, "new_key_id", cli_jstr(n));
    cli_jset(obj, "position", cli_ju64(pos));
    return obj;
}

int cmd_rotate_key(cli_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        CLI_LONG_COMMON,
        CLI_LONG_WRITE,
        {"new-secret-key", required_argument, NULL, OPT_NEW_KEY},
        {"new-key", required_argument, NULL, OPT_NEW_KEY},
        {"reason", required_argument, NULL, OPT_REASON},
        {0}};
    cairn_actor_info who = {NULL, NULL};
    const char *new_path = NULL;
    uint8_t old_id[CAIRN_KEY_ID_BYTES], new_id[CAIRN_KEY_ID_BYTES];
    uint64_t pos = 0;
    int c;

    cli_getopt_reset();
    while ((c = getopt_long(argc, argv, CLI_SHORT_COMMON, opts, NULL)) != -1) {
        if (cli_common_option(ctx, c, optarg, argv)) {
            continue;
        }
        if (c == OPT_NEW_KEY) {
            new_path = optarg;
        } else if (c == OPT_REASON) {
            who.reason = optarg;
        } else {
            cli_usage_error(ctx, "unexpected option");
        }
    }
    if (new_path == NULL) {
        cli_usage_error(ctx, "--new-secret-key FILE is required");
    }
    cli_no_args(ctx, argc, argv);
    cli_open(ctx);
    if (ctx->signer == NULL) {
        cli_die_code(2, "CAIRN_EKEYMISMATCH", "rotate-key",
                     "rotate-key: the rotation is signed by the journal's "
                     "current secret key: pass it with --secret-key or "
                     "CAIRN_SECRET_KEY");
    }
    cairn_signer *new_key = cli_load_signer_decrypt(ctx, new_path);
    who.actor = cli_actor(ctx);
    cairn_signer_key_id(ctx->signer, old_id);
    cairn_signer_key_id(new_key, new_id);
    cairn_err err = cairn_rotate_key(ctx->journal, new_key, &who, &pos);
    if (err != CAIRN_OK) {
        /* The handle still signs with the old key: wipe the new one. */
        cairn_signer_free(new_key);
        cli_die_run(ctx, err, NULL);
    }
    /* The handle signs with the new key now: keep it, drop the old. */
    cairn_signer_free(ctx->signer);
    ctx->signer = new_key;
    if (ctx->format == CLI_JSON) {
        cli_jprint(to_json(old_id, new_id, pos));
    } else {
        char o[17], n[17];
        cli_key_id_hex(old_id, o);
        cli_key_id_hex(new_id, n);
        printf("rotated: key %s -> key %s from position %llu\n", o, n,
               (unsigned long long)pos);
    }
    return CLI_EXIT_OK;
}
