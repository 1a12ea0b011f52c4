/*
 * import.c - cairn import BUNDLE [--key PUB] [--no-signature]: verify a
 * bundle as `cairn verify-bundle` does, then make its run readable in this
 * journal, read-only (cairn_import(); docs/FORMAT.md section 21).
 * Anything but VERIFIED imports nothing and exits with the verdict's code.
 */
#include "cli.h"

enum { OPT_KEY = CLI_OPT_FIRST_LOCAL, OPT_NO_SIGNATURE };

int cmd_import(cli_ctx *ctx, int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_LONG_COMMON,
        {"key", required_argument, NULL, OPT_KEY},
        {"no-signature", no_argument, NULL, OPT_NO_SIGNATURE},
        {0}};
    const char *key_path = NULL, *path;
    cairn_pubkey *key = NULL;
    cairn_verify_report r;
    cairn_err err;
    int c, no_signature = 0;

    cli_getopt_reset();
    while ((c = getopt_long(argc, argv, CLI_SHORT_COMMON, longopts, NULL)) !=
           -1) {
        if (cli_common_option(ctx, c, optarg, argv)) {
            continue;
        }
        if (c == OPT_KEY) {
            key_path = optarg;
        } else if (c == OPT_NO_SIGNATURE) {
            no_signature = 1;
        } else {
            cli_usage_error(ctx, "unexpected option");
        }
    }
    path = cli_one_arg(ctx, argc, argv, "BUNDLE");
    if (key_path != NULL) {
        key = cli_load_pubkey(key_path);
    }
    cli_open_journal(ctx, 0);
    err = cairn_import(ctx->journal, path, key,
                       no_signature ? CAIRN_BUNDLE_NO_SIGNATURE : 0u, &r);
    if (err == CAIRN_ETAMPERED || err == CAIRN_EINCOMPLETE) {
        fprintf(stderr, "cairn: import %s: not imported: the bundle is %s\n",
                path, cairn_verdict_name(r.verdict));
        if (ctx->format == CLI_JSON) {
            json_t *doc = cli_verify_run_json(&r);
            cli_jset(doc, "bundle", cli_jstr(path));
            cli_jset(doc, "imported", json_false());
            cli_jprint(doc);
        } else {
            cli_verify_key_text(stdout, key, key_path);
            cli_verify_run_text(stdout, &r);
        }
        cairn_pubkey_free(key);
        return cairn_verdict_exit_code(r.verdict);
    }
    cairn_pubkey_free(key);
    if (err != CAIRN_OK) {
        cli_die_err(err, path, cairn_journal_errdetail(ctx->journal));
    }
    if (ctx->format == CLI_JSON) {
        json_t *doc = cli_verify_run_json(&r);
        cli_jset(doc, "bundle", cli_jstr(path));
        cli_jset(doc, "imported", json_true());
        cli_jprint(doc);
    } else {
        printf("imported    : %s (%llu records, read-only)\n", r.run_id,
               (unsigned long long)r.records);
    }
    return CLI_EXIT_OK;
}
