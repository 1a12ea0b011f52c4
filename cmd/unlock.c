/*
 * unlock.c - cairn unlock / cairn lock: keep a decrypted secret key in the
 * Linux kernel keyring for a while, so that the commands of a session pay
 * scrypt once (docs/SECURITY.md "Unlocked keys").
 */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum { OPT_TIMEOUT = CLI_OPT_FIRST_LOCAL, OPT_KEYRING };

#define DEFAULT_TIMEOUT_S 900u      /* 15m */
#define MAX_TIMEOUT_S (7u * 86400u) /* a week */
#define NS_PER_S 1000000000ull

/* The secret key path: --secret-key or $CAIRN_SECRET_KEY. */
static const char *key_path(const cli_ctx *ctx)
{
    const char *path = ctx->secret_key;

    if (path == NULL) {
        path = getenv("CAIRN_SECRET_KEY");
    }
    if (path == NULL || path[0] == '\0') {
        cli_usage_error(ctx, "which key? pass --secret-key FILE or set "
                             "CAIRN_SECRET_KEY");
    }
    return path;
}

static void key_tag(const char *path, uint8_t tag[CAIRN_KEY_TAG_BYTES])
{
    char detail[1024] = "";
    cairn_err err = cairn_secret_key_tag(path, tag, detail, sizeof(detail));

    if (err != CAIRN_OK) {
        cli_die_err(err, path, detail);
    }
}

__attribute__((noreturn)) static void keyring_unavailable(const char *cmd,
                                                          int e)
{
    cli_die(CLI_EXIT_ERROR,
            "%s: the kernel keyring is unavailable here: keyctl: %s "
            "(containers and seccomp profiles often forbid it); use "
            "--password-file or --password-fd instead",
            cmd, strerror(e));
}

static unsigned parse_timeout(const cli_ctx *ctx, const char *text)
{
    uint64_t ns = 0;

    if (cli_parse_duration(text, &ns) != 0) {
        cli_usage_error(ctx, "--timeout: '%s' is not a duration (15m, 1h)",
                        text);
    }
    if (ns < NS_PER_S || ns / NS_PER_S > MAX_TIMEOUT_S) {
        cli_usage_error(ctx, "--timeout: '%s' is not between 1s and 7d", text);
    }
    return (unsigned)(ns / NS_PER_S);
}

/* Decrypt the key and file it in the keyring; die on failure. */
static int32_t file_key(const cli_ctx *ctx, const char *path, int user_ring,
                        unsigned timeout_s, char key_id[17])
{
    uint8_t tag[CAIRN_KEY_TAG_BYTES];
    uint8_t secret[CAIRN_SIGNER_SECRET_BYTES];
    uint8_t id[CAIRN_KEY_ID_BYTES];
    cairn_signer *signer;
    int32_t serial = 0;
    int rc, e;

    key_tag(path, tag);
    signer = cli_load_signer_decrypt(ctx, path);
    cairn_signer_key_id(signer, id);
    cli_key_id_hex(id, key_id);
    if (cairn_signer_export_secret(signer, secret) != CAIRN_OK) {
        cairn_signer_free(signer);
        cli_die(CLI_EXIT_ERROR, "unlock: %s: cannot copy the key", path);
    }
    cairn_signer_free(signer);
    rc = cli_keyring_add(tag, secret, user_ring, timeout_s, &serial);
    e = errno;
    cli_wipe(secret, sizeof(secret));
    if (rc == -2) {
        keyring_unavailable("unlock", e);
    }
    if (rc != 0) {
        cli_die(CLI_EXIT_ERROR,
                "unlock: %s: cannot file the key in the %s "
                "keyring: %s",
                path, user_ring ? "user" : "session", strerror(e));
    }
    return serial;
}

int cmd_unlock(cli_ctx *ctx, int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_LONG_COMMON,
        CLI_LONG_WRITE,
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"keyring", required_argument, NULL, OPT_KEYRING},
        {0}};
    unsigned timeout_s = DEFAULT_TIMEOUT_S;
    int user_ring = 0, c;
    char key_id[17];

    cli_getopt_reset();
    while ((c = getopt_long(argc, argv, CLI_SHORT_COMMON, longopts, NULL)) !=
           -1) {
        if (cli_common_option(ctx, c, optarg, argv)) {
            continue;
        }
        if (c == OPT_TIMEOUT) {
            timeout_s = parse_timeout(ctx, optarg);
        } else if (c == OPT_KEYRING && strcmp(optarg, "session") == 0) {
            user_ring = 0;
        } else if (c == OPT_KEYRING && strcmp(optarg, "user") == 0) {
            user_ring = 1;
        } else if (c == OPT_KEYRING) {
            cli_usage_error(ctx, "--keyring: '%s' is not session or user",
                            optarg);
        }
    }
    cli_no_args(ctx, argc, argv);
    const char *path = key_path(ctx);
    int32_t serial = file_key(ctx, path, user_ring, timeout_s, key_id);
    if (ctx->format == CLI_JSON) {
        json_t *o = json_object();
        if (o == NULL) {
            cli_die_nomem();
        }
        cli_jset(o, "secret_key", cli_jstr(path));
        cli_jset(o, "key_id", cli_jstr(key_id));
        cli_jset(o, "keyring", cli_jstr(user_ring ? "user" : "session"));
        cli_jset(o, "key_serial", json_integer(serial));
        cli_jset(o, "timeout_s", json_integer(timeout_s));
        cli_jprint(o);
    } else {
        printf("unlocked %s (key id %s) for %us: kernel key %d in the %s "
               "keyring; `cairn lock` forgets it\n",
               path, key_id, timeout_s, (int)serial,
               user_ring ? "user" : "session");
    }
    return CLI_EXIT_OK;
}

int cmd_lock(cli_ctx *ctx, int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_LONG_COMMON, CLI_LONG_WRITE, {0}};
    uint8_t tag[CAIRN_KEY_TAG_BYTES];
    int32_t serial = 0;
    int c, found = 0;

    cli_getopt_reset();
    while ((c = getopt_long(argc, argv, CLI_SHORT_COMMON, longopts, NULL)) !=
           -1) {
        if (!cli_common_option(ctx, c, optarg, argv)) {
            cli_usage_error(ctx, "unexpected option");
        }
    }
    cli_no_args(ctx, argc, argv);
    const char *path = key_path(ctx);
    key_tag(path, tag);
    /* The key may be filed in both keyrings: forget every copy. */
    for (;;) {
        int rc = cli_keyring_find(tag, &serial);
        if (rc == -2 && found == 0) {
            keyring_unavailable("lock", errno);
        }
        if (rc != 0) {
            break;
        }
        if (cli_keyring_remove(serial) != 0) {
            cli_die(CLI_EXIT_ERROR, "lock: %s: kernel key %d: %s", path,
                    (int)serial, strerror(errno));
        }
        found++;
    }
    if (ctx->format == CLI_JSON) {
        json_t *o = json_object();
        if (o == NULL) {
            cli_die_nomem();
        }
        cli_jset(o, "secret_key", cli_jstr(path));
        cli_jset(o, "removed", json_integer(found));
        cli_jprint(o);
    } else if (found > 0) {
        printf("locked %s: the unlocked copy is gone\n", path);
    } else {
        printf("%s was not unlocked\n", path);
    }
    return CLI_EXIT_OK;
}
