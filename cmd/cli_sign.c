/*
 * cli_sign.c - load the signing key; read passwords from the terminal.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#define PASSWORD_MAX 1024

/* Set by a signal during the password prompt (CLI only). */
static volatile sig_atomic_t prompt_signal;

static void on_prompt_signal(int sig)
{
    prompt_signal = sig;
}

void cli_wipe(void *buf, size_t len)
{
    explicit_bzero(buf, len);
}

/* Read one line from @p fd into buf; 0 ok, -2 too long, -3 interrupted,
 * -4 read error. */
static int read_line(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    int rc = 0;
    char c = 0;

    for (;;) {
        ssize_t r = read(fd, &c, 1);
        if (r < 0 && errno == EINTR) {
            if (prompt_signal != 0) {
                rc = -3;
                break;
            }
            continue;
        }
        if (r < 0) {
            rc = -4;
            break;
        }
        if (r == 0 || c == '\n') {
            break;
        }
        if (n + 1 >= cap) {
            rc = -2; /* keep reading to the end of the line */
            continue;
        }
        buf[n++] = c;
    }
    if (n > 0 && buf[n - 1] == '\r') {
        n--;
    }
    buf[n] = '\0';
    cli_wipe(&c, sizeof(c));
    return rc;
}

int cli_tty_password(const char *prompt, char *buf, size_t cap)
{
    struct termios old, quiet;
    struct sigaction sa, old_int, old_term, old_hup;
    int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
    int rc;

    if (fd < 0) {
        return -1;
    }
    if (tcgetattr(fd, &old) != 0) {
        close(fd);
        return -1;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_prompt_signal; /* no SA_RESTART: read() returns */
    sigemptyset(&sa.sa_mask);
    prompt_signal = 0;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    sigaction(SIGHUP, &sa, &old_hup);
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t)ECHO;
    quiet.c_lflag |= (tcflag_t)ECHONL;
    (void)tcsetattr(fd, TCSAFLUSH, &quiet);
    if (write(fd, prompt, strlen(prompt)) < 0) {
        /* the prompt is a courtesy; read anyway */
    }
    rc = read_line(fd, buf, cap);
    (void)tcsetattr(fd, TCSAFLUSH, &old);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGHUP, &old_hup, NULL);
    close(fd);
    if (rc == -3) {
        cli_wipe(buf, cap);
        fputc('\n', stderr);
        cli_die(CLI_EXIT_INTR, "interrupted");
    }
    if (rc != 0) {
        cli_wipe(buf, cap);
        return rc == -2 ? -2 : -1;
    }
    return 0;
}

/* Die unless the password file behind @p fd may hold a secret: a regular
 * file of the caller (or root) that its group and others cannot read. */
static void check_password_file(int fd, const char *path)
{
    struct stat st;

    if (fstat(fd, &st) != 0) {
        cli_die(CLI_EXIT_USAGE, "password file %s: %s", path, strerror(errno));
    }
    if (!S_ISREG(st.st_mode)) {
        cli_die(CLI_EXIT_USAGE,
                "password file %s: not a regular file (use --password-fd "
                "for a pipe)",
                path);
    }
    if ((st.st_mode & 0077) != 0) {
        cli_die(CLI_EXIT_USAGE,
                "password file %s: readable or writable by %s (mode %04o); "
                "refused: chmod 600 it",
                path, (st.st_mode & 0007) != 0 ? "others" : "its group",
                (unsigned)(st.st_mode & 07777));
    }
    if (st.st_uid != geteuid() && st.st_uid != 0) {
        cli_die(CLI_EXIT_USAGE,
                "password file %s: owned by uid %u, not by you (uid %u) or "
                "root; refused",
                path, (unsigned)st.st_uid, (unsigned)geteuid());
    }
}

int cli_option_password(const cli_ctx *ctx, char *buf, size_t cap)
{
    const char *what = ctx->password_file;
    char fdname[32];
    int fd, rc, opened = 0;

    if (ctx->password_file != NULL && ctx->password_fd >= 0) {
        cli_die(CLI_EXIT_USAGE,
                "%s: --password-file and --password-fd exclude each other",
                ctx->cmd->name);
    }
    if (ctx->password_file != NULL && strcmp(ctx->password_file, "-") != 0) {
        fd = open(ctx->password_file,
                  O_RDONLY | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0) {
            cli_die(CLI_EXIT_USAGE, "password file %s: %s", ctx->password_file,
                    strerror(errno));
        }
        opened = 1;
        check_password_file(fd, ctx->password_file);
    } else if (ctx->password_file != NULL) {
        fd = STDIN_FILENO;
        what = "standard input";
    } else if (ctx->password_fd >= 0) {
        fd = ctx->password_fd;
        snprintf(fdname, sizeof(fdname), "descriptor %d", fd);
        what = fdname;
    } else {
        return 0;
    }
    prompt_signal = 0;
    rc = read_line(fd, buf, cap);
    if (opened) {
        close(fd);
    }
    if (rc == -2) {
        cli_wipe(buf, cap);
        cli_die(CLI_EXIT_USAGE, "password from %s: longer than %zu bytes", what,
                cap - 1);
    }
    if (rc != 0) {
        cli_wipe(buf, cap);
        cli_die(CLI_EXIT_USAGE, "password from %s: %s", what,
                errno != 0 ? strerror(errno) : "read failed");
    }
    if (buf[0] == '\0') {
        cli_die(CLI_EXIT_USAGE, "password from %s: empty", what);
    }
    return 1;
}

/* The key `cairn unlock` filed for @p path in the kernel keyring, or NULL
 * (none, expired, keyring unavailable, or not a usable key). */
static cairn_signer *from_keyring(const char *path)
{
    uint8_t tag[CAIRN_KEY_TAG_BYTES];
    uint8_t secret[CAIRN_SIGNER_SECRET_BYTES];
    cairn_signer *signer = NULL;
    int32_t serial = 0;

    if (cairn_secret_key_tag(path, tag, NULL, 0) != CAIRN_OK ||
        cli_keyring_find(tag, &serial) != 0) {
        return NULL;
    }
    if (cli_keyring_read(serial, secret) == 0 &&
        cairn_signer_import_secret(secret, &signer) != CAIRN_OK) {
        signer = NULL;
    }
    cli_wipe(secret, sizeof(secret));
    return signer;
}

/* Load an encrypted key: password from --password-file/--password-fd,
 * $CAIRN_PASSWORD or the terminal. */
static cairn_err load_encrypted(const cli_ctx *ctx, const char *path,
                                cairn_signer **out, char *detail,
                                size_t detail_len)
{
    const char *env = getenv("CAIRN_PASSWORD");
    char *pw;
    char prompt[4200];
    cairn_err err;
    int rc;

    pw = malloc(PASSWORD_MAX);
    if (pw == NULL) {
        cli_die_nomem();
    }
    if (cli_option_password(ctx, pw, PASSWORD_MAX)) {
        err = cairn_signer_load(path, pw, out, detail, detail_len);
        cli_wipe(pw, PASSWORD_MAX);
        free(pw);
        return err;
    }
    if (env != NULL) {
        free(pw);
        return cairn_signer_load(path, env, out, detail, detail_len);
    }
    snprintf(prompt, sizeof(prompt), "Password for %s: ", path);
    rc = cli_tty_password(prompt, pw, PASSWORD_MAX);
    if (rc != 0) {
        free(pw);
        if (rc == -2) {
            cli_die(CLI_EXIT_USAGE, "%s: password longer than %d bytes", path,
                    PASSWORD_MAX - 1);
        }
        cli_die(CLI_EXIT_USAGE,
                "%s: the secret key is encrypted and there is no terminal to "
                "ask for its password: use --password-file or "
                "--password-fd, set CAIRN_PASSWORD, or `cairn unlock` it",
                path);
    }
    err = cairn_signer_load(path, pw, out, detail, detail_len);
    cli_wipe(pw, PASSWORD_MAX);
    free(pw);
    return err;
}

/* As ssh does: a secret key others can read or write is reported, and
 * refused with --strict (exit 2). */
static void check_key_mode(const cli_ctx *ctx, const char *path)
{
    char detail[1024] = "";
    unsigned loose = 0;
    cairn_err err = cairn_key_file_loose(path, &loose, detail, sizeof(detail));
    if (err != CAIRN_OK || loose == 0) {
        return; /* unreadable: loading it says why */
    }
    if (ctx->strict) {
        cli_die(CLI_EXIT_USAGE, "%s; refused (--strict)", detail);
    }
    cli_warn("%s (--strict refuses it)", detail);
}

void cli_warn_unsigned(cli_ctx *ctx)
{
    if (ctx->unsigned_warning != CLI_UNSIGNED_NONE) {
        ctx->unsigned_warning = CLI_UNSIGNED_NONE;
        cli_warn("no signing key (--secret-key or CAIRN_SECRET_KEY): this "
                 "commit is unsigned and the run will never verify");
    }
}

void cli_load_signer(cli_ctx *ctx)
{
    const char *path = ctx->secret_key;
    char detail[1024] = "";
    cairn_err err;

    if (path == NULL) {
        path = getenv("CAIRN_SECRET_KEY");
    }
    if (path == NULL || path[0] == '\0') {
        /* Warned once something is written: not when refused. */
        ctx->unsigned_warning = CLI_UNSIGNED_EXIT;
        return;
    }
    check_key_mode(ctx, path);
    err = cairn_signer_load(path, NULL, &ctx->signer, detail, sizeof(detail));
    if (err == CAIRN_EPASSWORD && ctx->password_file == NULL &&
        ctx->password_fd < 0) {
        ctx->signer = from_keyring(path);
        if (ctx->signer != NULL) {
            return;
        }
    }
    if (err == CAIRN_EPASSWORD) {
        detail[0] = '\0';
        err = load_encrypted(ctx, path, &ctx->signer, detail, sizeof(detail));
    }
    if (err != CAIRN_OK) {
        ctx->signer = NULL;
        cli_die_err(err, path, detail);
    }
}

cairn_signer *cli_load_signer_decrypt(const cli_ctx *ctx, const char *path)
{
    cairn_signer *signer = NULL;
    char detail[1024] = "";
    cairn_err err;

    check_key_mode(ctx, path);
    err = cairn_signer_load(path, NULL, &signer, detail, sizeof(detail));
    if (err == CAIRN_EPASSWORD) {
        detail[0] = '\0';
        err = load_encrypted(ctx, path, &signer, detail, sizeof(detail));
    }
    if (err != CAIRN_OK) {
        cli_die_err(err, path, detail);
    }
    return signer;
}
