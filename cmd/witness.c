/*
 * witness.c - cairn witness: cosign a log's checkpoint when it extends
 * the last one this witness cosigned (C2SP tlog-witness add-checkpoint,
 * read from a file or standard input; the cosignature on standard output
 * or --output FILE), and cairn witness --vkey: the witness's verifier key.
 *
 *   cairn checkpoint --from N | ssh host cairn witness --secret-key K \
 *       --name NAME --log-key PUB - > cosig
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Longest request read (a request is at most about 134 KB). */
#define REQUEST_MAX (256u * 1024u)

enum {
    OPT_STORE = CLI_OPT_FIRST_LOCAL,
    OPT_NAME,
    OPT_LOG_KEY,
    OPT_OUTPUT,
    OPT_NOTE,
    OPT_VKEY,
    OPT_KEY
};

typedef struct witness_args {
    const char *store;
    const char *name;
    const char **log_keys;
    size_t n_log_keys;
    const char *output;
    const char *key; /* --key PUB for --vkey */
    const char *request;
    int note, vkey;
} witness_args;

/* ${XDG_STATE_HOME:-$HOME/.local/state}/cairn-witness, its parents made. */
static char *default_store(void)
{
    const char *base = getenv("XDG_STATE_HOME");
    char buf[4096];
    if (base != NULL && base[0] == '/') {
        snprintf(buf, sizeof(buf), "%s", base);
    } else {
        const char *home = getenv("HOME");
        const struct passwd *pw = NULL;
        if (home == NULL || home[0] == '\0') {
            pw = getpwuid(getuid());
            home = pw != NULL ? pw->pw_dir : NULL;
        }
        if (home == NULL || home[0] == '\0') {
            cli_die(CLI_EXIT_USAGE, "witness: no store directory: pass "
                                    "--store DIR (HOME is not set)");
        }
        snprintf(buf, sizeof(buf), "%s/.local/state", home);
    }
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (mkdir(buf, 0700) != 0 && errno != EEXIST) {
                cli_die(CLI_EXIT_ERROR, "witness: cannot create %s: %s", buf,
                        strerror(errno));
            }
            *p = c;
            if (c == '\0') {
                break;
            }
        }
    }
    size_t n = strlen(buf) + sizeof("/cairn-witness");
    char *dir = malloc(n);
    if (dir == NULL) {
        cli_die_nomem();
    }
    snprintf(dir, n, "%s/cairn-witness", buf);
    return dir;
}

/* Read all of @p fd (at most @p max bytes) into a malloc'd buffer. */
static char *read_fd(int fd, size_t max, size_t *len, const char *what)
{
    size_t cap = 8192, n = 0;
    char *buf = malloc(cap);
    if (buf == NULL) {
        cli_die_nomem();
    }
    for (;;) {
        if (n == cap) {
            if (cap > max) {
                free(buf);
                cli_die(CLI_EXIT_USAGE, "%s: longer than %zu bytes", what, max);
            }
            char *p = realloc(buf, cap * 2);
            if (p == NULL) {
                free(buf);
                cli_die_nomem();
            }
            buf = p;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            int e = errno;
            free(buf);
            cli_die(CLI_EXIT_ERROR, "%s: %s", what, strerror(e));
        }
        if (r == 0) {
            break;
        }
        n += (size_t)r;
    }
    if (n > max) {
        free(buf);
        cli_die(CLI_EXIT_USAGE, "%s: longer than %zu bytes", what, max);
    }
    *len = n;
    return buf;
}

static char *read_path(const char *path, size_t max, size_t *len)
{
    if (strcmp(path, "-") == 0) {
        return read_fd(STDIN_FILENO, max, len, "standard input");
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        cli_die(CLI_EXIT_USAGE, "%s: %s", path, strerror(errno));
    }
    char *buf = read_fd(fd, max, len, path);
    close(fd);
    return buf;
}

/* --log-key: a minisign public key file (any origin), or an Ed25519
 * verifier key (text or file) whose name is the origin it signs. */
static void trust_log_key(cairn_witness *w, const char *arg)
{
    char detail[1024] = "", text[CAIRN_VKEY_MAX + 8];
    char name[CAIRN_WITNESS_NAME_MAX + 1];
    uint8_t pk[CAIRN_PUBLIC_KEY_BYTES], type = 0;
    const char *origin = NULL;
    cairn_pubkey *key = NULL;
    cairn_err err = cairn_pubkey_load(arg, &key, NULL, 0);
    if (err == CAIRN_OK) {
        cairn_pubkey_bytes(key, pk);
        cairn_pubkey_free(key);
    } else {
        if (cli_vkey_text(arg, text, sizeof(text)) != 0 ||
            cairn_vkey_parse(text, strlen(text), name, sizeof(name), &type, pk,
                             detail, sizeof(detail)) != CAIRN_OK ||
            type != CAIRN_VKEY_ED25519) {
            cli_die(CLI_EXIT_USAGE,
                    "--log-key %s: neither a minisign public key file nor a "
                    "log verifier key (type 0x01)%s%s",
                    arg, detail[0] != '\0' ? ": " : "", detail);
        }
        origin = name;
    }
    err = cairn_witness_trust_log(w, origin, pk, detail, sizeof(detail));
    if (err != CAIRN_OK) {
        cli_die_err(err, "--log-key", detail);
    }
}

static void parse_args(cli_ctx *ctx, int argc, char **argv, witness_args *a)
{
    static const struct option longs[] = {
        CLI_LONG_COMMON,
        {"secret-key", required_argument, NULL, CLI_OPT_SECRET_KEY},
        {"password-file", required_argument, NULL, CLI_OPT_PASSWORD_FILE},
        {"password-fd", required_argument, NULL, CLI_OPT_PASSWORD_FD},
        {"store", required_argument, NULL, OPT_STORE},
        {"name", required_argument, NULL, OPT_NAME},
        {"log-key", required_argument, NULL, OPT_LOG_KEY},
        {"output", required_argument, NULL, OPT_OUTPUT},
        {"note", no_argument, NULL, OPT_NOTE},
        {"vkey", no_argument, NULL, OPT_VKEY},
        {"key", required_argument, NULL, OPT_KEY},
        {NULL, 0, NULL, 0}};
    int c;
    a->log_keys = calloc((size_t)argc + 1, sizeof(*a->log_keys));
    if (a->log_keys == NULL) {
        cli_die_nomem();
    }
    cli_getopt_reset();
    while ((c = getopt_long(argc, argv, CLI_SHORT_COMMON, longs, NULL)) != -1) {
        if (cli_common_option(ctx, c, optarg, argv)) {
            continue;
        }
        switch (c) {
        case OPT_STORE:
            a->store = optarg;
            break;
        case OPT_NAME:
            a->name = optarg;
            break;
        case OPT_LOG_KEY:
            a->log_keys[a->n_log_keys++] = optarg;
            break;
        case OPT_OUTPUT:
            a->output = optarg;
            break;
        case OPT_NOTE:
            a->note = 1;
            break;
        case OPT_VKEY:
            a->vkey = 1;
            break;
        case OPT_KEY:
            a->key = optarg;
            break;
        default:
            cli_usage_error(ctx, "unexpected option");
        }
    }
    if (a->name == NULL) {
        cli_usage_error(ctx, "--name NAME (the witness's key name) is "
                             "required");
    }
    if (a->vkey) {
        cli_no_args(ctx, argc, argv);
        if ((a->key == NULL) == (ctx->secret_key == NULL)) {
            cli_usage_error(ctx, "--vkey needs --key PUB or --secret-key "
                                 "KEY (one of them)");
        }
        return;
    }
    if (a->key != NULL) {
        cli_usage_error(ctx, "--key is for --vkey (the witness signs with "
                             "--secret-key)");
    }
    if (ctx->secret_key == NULL || ctx->secret_key[0] == '\0') {
        cli_usage_error(ctx, "--secret-key KEY (the witness's own key) is "
                             "required");
    }
    if (a->n_log_keys == 0) {
        cli_usage_error(ctx, "at least one --log-key PUB is required (the "
                             "logs this witness accepts)");
    }
    a->request = cli_one_arg(ctx, argc, argv,
                             "REQUEST (a file, or - for "
                             "standard input)");
}

static void print_vkey(cli_ctx *ctx, const witness_args *a)
{
    uint8_t pk[CAIRN_PUBLIC_KEY_BYTES];
    char vkey[CAIRN_VKEY_MAX];
    if (a->key != NULL) {
        cairn_pubkey *key = cli_load_pubkey(a->key);
        cairn_pubkey_bytes(key, pk);
        cairn_pubkey_free(key);
    } else {
        cli_load_signer(ctx);
        cairn_signer_public_key(ctx->signer, pk);
    }
    if (cairn_witness_vkey(pk, a->name, vkey, sizeof(vkey)) != CAIRN_OK) {
        cli_die(CLI_EXIT_USAGE,
                "--name %s: not a key name (1..255 bytes, no space, '+' or "
                "control character)",
                a->name);
    }
    if (ctx->format == CLI_JSON) {
        json_t *o = json_object();
        if (o == NULL) {
            cli_die_nomem();
        }
        cli_jset(o, "name", cli_jstr(a->name));
        cli_jset(o, "vkey", cli_jstr(vkey));
        cli_jprint(o);
    } else {
        printf("%s\n", vkey);
    }
    cli_exit(CLI_EXIT_OK);
}

/* Write @p text to @p path whole or not at all (a temporary file renamed
 * into place after fsync), or to standard output when @p path is NULL. */
static void emit(const char *path, const char *text, size_t len)
{
    if (path == NULL) {
        if (fwrite(text, 1, len, stdout) != len || fflush(stdout) != 0) {
            cli_die(CLI_EXIT_ERROR, "standard output: %s", strerror(errno));
        }
        return;
    }
    size_t n = strlen(path) + 32;
    char *tmp = malloc(n);
    if (tmp == NULL) {
        cli_die_nomem();
    }
    snprintf(tmp, n, "%s.tmp.%ld", path, (long)getpid());
    int fd =
        open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
    int ok = fd >= 0;
    for (size_t off = 0; ok && off < len;) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        ok = w > 0;
        off += ok ? (size_t)w : 0;
    }
    ok = ok && fsync(fd) == 0;
    int e = errno;
    if (fd >= 0 && close(fd) != 0) {
        ok = 0;
    }
    ok = ok && rename(tmp, path) == 0;
    if (!ok) {
        e = errno != 0 ? errno : e;
        unlink(tmp);
        free(tmp);
        cli_die(CLI_EXIT_ERROR,
                "--output %s: %s (the cosignature was stored by the "
                "witness: ask again with the same request and the "
                "witness's size as old size)",
                path, strerror(e));
    }
    free(tmp);
}

static void print_ok(const cli_ctx *ctx, const witness_args *a,
                     const cairn_witness_result *r, const char *out, size_t len)
{
    if (ctx->format != CLI_JSON) {
        emit(a->output, out, len);
        return;
    }
    json_t *o = json_object();
    if (o == NULL) {
        cli_die_nomem();
    }
    cli_jset(o, "origin", cli_jstr(r->origin));
    cli_jset(o, "old_size", cli_ju64(r->old_size));
    cli_jset(o, "size", cli_ju64(r->size));
    cli_jset(o, "time", cli_ju64(r->time));
    cli_jset(o, a->note ? "note" : "cosignature", cli_jstr(out));
    char *text =
        json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
    json_decref(o);
    if (text == NULL) {
        cli_die_nomem();
    }
    size_t n = strlen(text);
    char *line = malloc(n + 2);
    if (line == NULL) {
        cli_die_nomem();
    }
    memcpy(line, text, n);
    line[n] = '\n';
    line[n + 1] = '\0';
    free(text);
    emit(a->output, line, n + 1);
    free(line);
}

/* 409: the witness's size on standard output (text/x.tlog.size: the
 * decimal and a newline; -o json: {"size":N,...}), the reason on stderr,
 * exit 3. */
__attribute__((noreturn)) static void
stale(const cli_ctx *ctx, const cairn_witness_result *r, const char *detail)
{
    if (ctx->format == CLI_JSON) {
        json_t *o = json_object();
        if (o == NULL) {
            cli_die_nomem();
        }
        cli_jset(o, "size", cli_ju64(r->witness_size));
        cli_jset(o, "origin", cli_jstr(r->origin));
        cli_jset(o, "old_size", cli_ju64(r->old_size));
        cli_jprint(o);
    } else {
        printf("%llu\n", (unsigned long long)r->witness_size);
    }
    cli_die_code(cairn_exit_code(CAIRN_ESTALE), "CAIRN_ESTALE", "witness",
                 "witness: %s", detail);
}

int cmd_witness(cli_ctx *ctx, int argc, char **argv)
{
    witness_args a;
    memset(&a, 0, sizeof(a));
    parse_args(ctx, argc, argv, &a);
    if (a.vkey) {
        print_vkey(ctx, &a);
    }
    size_t len = 0;
    char *req = read_path(a.request, REQUEST_MAX, &len);
    cli_load_signer(ctx);
    char *dir = a.store != NULL ? strdup(a.store) : default_store();
    if (dir == NULL) {
        cli_die_nomem();
    }
    cairn_witness *w = NULL;
    char detail[2048] = "";
    cairn_err err = cairn_witness_open(dir, ctx->signer, a.name, &w, detail,
                                       sizeof(detail));
    if (err != CAIRN_OK) {
        cli_die_err(err, "witness store", detail);
    }
    for (size_t i = 0; i < a.n_log_keys; i++) {
        trust_log_key(w, a.log_keys[i]);
    }
    cairn_witness_result r;
    char *out = NULL;
    size_t out_len = 0;
    err = cairn_witness_add_checkpoint(w, req, len, 0,
                                       a.note ? CAIRN_WITNESS_NOTE : 0, &out,
                                       &out_len, &r, detail, sizeof(detail));
    cairn_witness_close(w);
    free(req);
    free(dir);
    free(a.log_keys);
    if (err == CAIRN_OK) {
        print_ok(ctx, &a, &r, out, out_len);
        free(out);
        return CLI_EXIT_OK;
    }
    if (err == CAIRN_ESTALE) {
        stale(ctx, &r, detail);
    }
    if (err == CAIRN_EKEYMISMATCH) {
        /* tlog-witness 403/404: no signature of a log this witness
         * accepts (or of the key the origin is pinned to). */
        cli_die_code(4, "CAIRN_EKEYMISMATCH", "witness", "witness: refused: %s",
                     detail);
    }
    if (err == CAIRN_EINVAL) {
        cli_die_code(CLI_EXIT_USAGE, "CAIRN_EINVAL", "witness",
                     "witness: bad request: %s", detail);
    }
    cli_die_err(err, "witness", detail);
}
