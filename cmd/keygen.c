/*
 * keygen.c - cairn keygen -p PUB -s SECRET [--no-password]: a minisign key
 * pair, the secret key scrypt-encrypted unless --no-password.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

#define PASSWORD_MAX 1024

enum { OPT_NO_PASSWORD = CLI_OPT_FIRST_LOCAL };

/* Ask twice on the terminal; dies when there is none or they differ. */
static void ask_password(char *pw, char *again)
{
    int rc =
        cli_tty_password("Password for the new secret key: ", pw, PASSWORD_MAX);
    if (rc == 0) {
        rc = cli_tty_password("Password (again): ", again, PASSWORD_MAX);
    }
    if (rc == 0 && strcmp(pw, again) != 0) {
        rc = -3;
    }
    if (rc == 0) {
        return;
    }
    cli_wipe(pw, PASSWORD_MAX);
    cli_wipe(again, PASSWORD_MAX);
    if (rc == -2) {
        cli_die(CLI_EXIT_USAGE, "keygen: password longer than %d bytes",
                PASSWORD_MAX - 1);
    }
    if (rc == -3) {
        cli_die(CLI_EXIT_USAGE, "keygen: the passwords do not match");
    }
    cli_die(CLI_EXIT_USAGE,
            "keygen: no terminal to ask for a password: set "
            "CAIRN_PASSWORD, or pass --no-password for an unencrypted key");
}

static void report(const cli_ctx *ctx, const char *pub, const char *sec)
{
    cairn_pubkey *key = NULL;
    char detail[512] = "";
    uint8_t id[CAIRN_KEY_ID_BYTES];
    char kid[17];
    cairn_err err = cairn_pubkey_load(pub, &key, detail, sizeof(detail));

    if (err != CAIRN_OK) {
        cli_die_err(err, pub, detail);
    }
    cairn_pubkey_key_id(key, id);
    cairn_pubkey_free(key);
    cli_key_id_hex(id, kid);
    if (ctx->format == CLI_JSON) {
        json_t *o = json_object();
        if (o == NULL) {
            cli_die_nomem();
        }
        cli_jset(o, "public_key", cli_jstr(pub));
        cli_jset(o, "secret_key", cli_jstr(sec));
        cli_jset(o, "key_id", cli_jstr(kid));
        cli_jprint(o);
    } else {
        printf("public key: %s\nsecret key: %s\nkey id: %s\n", pub, sec, kid);
    }
}

/* Get the password (unless @p no_password) and write the key pair. */
static cairn_err generate(const char *pub, const char *sec, int no_password,
                          char *detail, size_t detail_len)
{
    const char *password = NULL;
    char *pw = NULL, *again = NULL;
    cairn_err err;

    if (!no_password) {
        password = getenv("CAIRN_PASSWORD");
        if (password == NULL) {
            pw = calloc(1, PASSWORD_MAX);
            again = calloc(1, PASSWORD_MAX);
            if (pw == NULL || again == NULL) {
                cli_die_nomem();
            }
            ask_password(pw, again);
            cli_wipe(again, PASSWORD_MAX);
            password = pw;
        }
        if (password[0] == '\0') {
            cli_die(CLI_EXIT_USAGE, "keygen: empty password: pass "
                                    "--no-password for an unencrypted key");
        }
    }
    err = cairn_keygen(pub, sec, password, detail, detail_len);
    if (pw != NULL) {
        cli_wipe(pw, PASSWORD_MAX);
    }
    free(pw);
    free(again);
    return err;
}

int cmd_keygen(cli_ctx *ctx, int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_LONG_COMMON,
        {"public-key", required_argument, NULL, 'p'},
        {"secret-key", required_argument, NULL, 's'},
        {"no-password", no_argument, NULL, OPT_NO_PASSWORD},
        {0}};
    const char *pub = NULL, *sec = NULL;
    char detail[1024] = "";
    int no_password = 0, c;
    cairn_err err;

    cli_getopt_reset();
    while ((c = getopt_long(argc, argv, CLI_SHORT_COMMON "p:s:", longopts,
                            NULL)) != -1) {
        if (cli_common_option(ctx, c, optarg, argv)) {
            continue;
        }
        if (c == 'p') {
            pub = optarg;
        } else if (c == 's') {
            sec = optarg;
        } else if (c == OPT_NO_PASSWORD) {
            no_password = 1;
        }
    }
    cli_no_args(ctx, argc, argv);
    if (pub == NULL || sec == NULL || pub[0] == '\0' || sec[0] == '\0') {
        cli_usage_error(ctx, "-p PUBFILE and -s SECFILE are required");
    }
    if (strcmp(pub, sec) == 0) {
        cli_usage_error(ctx, "the public and secret key files must differ");
    }
    err = generate(pub, sec, no_password, detail, sizeof(detail));
    if (err != CAIRN_OK) {
        cli_die_err(err, "keygen", detail);
    }
    report(ctx, pub, sec);
    return CLI_EXIT_OK;
}
