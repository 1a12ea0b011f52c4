/*
 * key_gen.c - generate a key pair and write it as minisign files.
 *
 * Both files are created with O_CREAT|O_EXCL (secret 0600, public 0644),
 * written fully, fsynced, closed, then their directory is fsynced.  On any
 * failure every file created here is removed again.
 */
#include "keys/key.h"

#include "base/bytes.h"
#include "base/crypto.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SECKEY_BIN 158u
#define SECRET_OFF 54u
#define SECRET_LEN 104u
#define SECKEY_B64 212u
#define SEC_COMMENT_ENC "untrusted comment: cairn encrypted secret key\n"
#define SEC_COMMENT_RAW "untrusted comment: cairn unencrypted secret key\n"
#define SEC_TEXT_CAP 320u

/* Fill the 158-byte secret key structure; returns the public key. */
static cairn_err build_plain(uint8_t *bin, int encrypted,
                             uint8_t pk[CAIRN_PUBLIC_KEY_BYTES])
{
    uint8_t *keynum = bin + SECRET_OFF;
    uint8_t *sk = keynum + CAIRN_KEY_ID_BYTES;
    memset(bin, 0, SECKEY_BIN);
    bin[0] = 'E';
    bin[1] = 'd';
    if (encrypted) {
        bin[2] = 'S';
        bin[3] = 'c';
        cairn__random(bin + 6, 32);
    }
    bin[4] = 'B';
    bin[5] = '2';
    cairn__random(keynum, CAIRN_KEY_ID_BYTES);
    if (cairn__ed25519_keypair(pk, sk) != CAIRN_OK) {
        return CAIRN_ECRYPTO;
    }
    cairn__seckey_checksum(keynum, sk, sk + 64);
    return CAIRN_OK;
}

/* Encrypt the secret part with scrypt; like minisign, halve the parameters
 * while scrypt fails for lack of memory. */
static cairn_err encrypt(uint8_t *bin, const char *password, uint64_t opslimit,
                         uint64_t memlimit, char *detail, size_t detail_len)
{
    uint8_t *stream = cairn__secure_alloc(SECRET_LEN);
    if (stream == NULL) {
        return CAIRN_ENOMEM;
    }
    cairn_err err;
    for (;;) {
        err = cairn__scrypt(stream, SECRET_LEN, password, strlen(password),
                            bin + 6, opslimit, memlimit);
        if (err == CAIRN_OK || opslimit / 2 < 32768u ||
            memlimit / 2 < 16777216u) {
            break;
        }
        opslimit /= 2;
        memlimit /= 2;
    }
    if (err == CAIRN_OK) {
        cairn__store64_le(bin + 38, opslimit);
        cairn__store64_le(bin + 46, memlimit);
        for (size_t i = 0; i < SECRET_LEN; i++) {
            bin[SECRET_OFF + i] ^= stream[i];
        }
    } else {
        cairn__fmt(detail, detail_len,
                   "scrypt key derivation failed: not enough memory");
    }
    cairn__memzero(stream, SECRET_LEN);
    cairn__secure_free(stream);
    return err;
}

/* One file being written. */
typedef struct kg_file {
    const char *path;
    int fd;
    int created;
} kg_file;

/* Fault injection and the error detail. */
typedef struct kg_ctx {
    int step;
    int fail_step;
    char *detail;
    size_t detail_len;
} kg_ctx;

static cairn_err io_fail(kg_ctx *c, const char *path, const char *what,
                         int errnum)
{
    cairn__fmt(c->detail, c->detail_len, "%s: %s: %s", path, what,
               strerror(errnum));
    return errnum == EEXIST ? CAIRN_EEXIST : CAIRN_EIO;
}

/* Advance the step counter: 1 when this step must fail (injected). */
static int injected(kg_ctx *c)
{
    c->step++;
    return c->step == c->fail_step;
}

static cairn_err kg_create(kg_file *f, mode_t mode, kg_ctx *c)
{
    if (injected(c)) {
        return io_fail(c, f->path, "create", EIO);
    }
    f->fd = open(f->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
                 mode);
    if (f->fd < 0) {
        return io_fail(c, f->path, "create", errno);
    }
    f->created = 1;
    return CAIRN_OK;
}

static cairn_err kg_write(kg_file *f, const char *p, size_t len, kg_ctx *c)
{
    if (injected(c)) {
        return io_fail(c, f->path, "write", EIO);
    }
    while (len > 0) {
        ssize_t n = write(f->fd, p, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return io_fail(c, f->path, "write", n < 0 ? errno : EIO);
        }
        p += n;
        len -= (size_t)n;
    }
    return CAIRN_OK;
}

static cairn_err kg_fsync(kg_file *f, kg_ctx *c)
{
    if (injected(c)) {
        return io_fail(c, f->path, "fsync", EIO);
    }
    if (fsync(f->fd) != 0) {
        return io_fail(c, f->path, "fsync", errno);
    }
    return CAIRN_OK;
}

static cairn_err kg_close(kg_file *f, kg_ctx *c)
{
    int fail = injected(c);
    int rc = close(f->fd);
    int errnum = errno;
    f->fd = -1;
    if (fail || rc != 0) {
        return io_fail(c, f->path, "close", fail ? EIO : errnum);
    }
    return CAIRN_OK;
}

/* The directory part of path ("." when none), malloc'd. */
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    size_t n = slash == NULL ? 1 : (slash == path ? 1 : (size_t)(slash - path));
    char *dir = malloc(n + 1);
    if (dir == NULL) {
        return NULL;
    }
    memcpy(dir, slash == NULL ? "." : path, n);
    dir[n] = '\0';
    return dir;
}

static int fsync_dir(const char *path)
{
    char *dir = dir_of(path);
    if (dir == NULL) {
        errno = ENOMEM;
        return -1;
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = fd < 0 ? -1 : fsync(fd);
    int errnum = errno;
    if (fd >= 0) {
        close(fd);
    }
    free(dir);
    errno = errnum;
    return rc;
}

static cairn_err kg_sync_dirs(const kg_file *sec, const kg_file *pub, kg_ctx *c)
{
    if (injected(c)) {
        return io_fail(c, sec->path, "fsync directory", EIO);
    }
    if (fsync_dir(sec->path) != 0) {
        return io_fail(c, sec->path, "fsync directory", errno);
    }
    if (fsync_dir(pub->path) != 0) {
        return io_fail(c, pub->path, "fsync directory", errno);
    }
    return CAIRN_OK;
}

/* Undo: close what is open, remove what was created. */
static void kg_undo(kg_file *f)
{
    if (f->fd >= 0) {
        close(f->fd);
        f->fd = -1;
    }
    if (f->created) {
        unlink(f->path);
        f->created = 0;
        (void)fsync_dir(f->path);
    }
}

static cairn_err write_pair(const char *pub_path, const char *pub_text,
                            const char *sec_path, const char *sec_text,
                            kg_ctx *c)
{
    kg_file sec = {sec_path, -1, 0};
    kg_file pub = {pub_path, -1, 0};
    cairn_err err = kg_create(&sec, 0600, c);
    if (err == CAIRN_OK) {
        err = kg_create(&pub, 0644, c);
    }
    if (err == CAIRN_OK) {
        err = kg_write(&sec, sec_text, strlen(sec_text), c);
    }
    if (err == CAIRN_OK) {
        err = kg_fsync(&sec, c);
    }
    if (err == CAIRN_OK) {
        err = kg_write(&pub, pub_text, strlen(pub_text), c);
    }
    if (err == CAIRN_OK) {
        err = kg_fsync(&pub, c);
    }
    if (err == CAIRN_OK) {
        err = kg_close(&sec, c);
    }
    if (err == CAIRN_OK) {
        err = kg_close(&pub, c);
    }
    if (err == CAIRN_OK) {
        err = kg_sync_dirs(&sec, &pub, c);
    }
    if (err != CAIRN_OK) {
        kg_undo(&sec);
        kg_undo(&pub);
    }
    return err;
}

/* Build both file texts; sec_text is secure memory of SEC_TEXT_CAP. */
static cairn_err make_texts(const char *password,
                            const cairn__keygen_opts *opts, char *sec_text,
                            char pub_text[CAIRN__PUBKEY_FILE_LEN], char *detail,
                            size_t detail_len)
{
    uint8_t pk[CAIRN_PUBLIC_KEY_BYTES];
    cairn_pubkey pub = {0};
    uint8_t *bin = cairn__secure_alloc(SECKEY_BIN);
    if (bin == NULL) {
        return CAIRN_ENOMEM;
    }
    cairn_err err = build_plain(bin, password != NULL, pk);
    if (err == CAIRN_OK) {
        memcpy(pub.key_id, bin + SECRET_OFF, CAIRN_KEY_ID_BYTES);
        memcpy(pub.pk, pk, sizeof pk);
        err = cairn__pubkey_file_text(&pub, pub_text, CAIRN__PUBKEY_FILE_LEN);
    }
    if (err == CAIRN_OK && password != NULL) {
        err = encrypt(bin, password, opts->opslimit, opts->memlimit, detail,
                      detail_len);
    }
    if (err == CAIRN_OK) {
        size_t n = strlen(password != NULL ? SEC_COMMENT_ENC : SEC_COMMENT_RAW);
        memcpy(sec_text, password != NULL ? SEC_COMMENT_ENC : SEC_COMMENT_RAW,
               n);
        cairn__b64_encode(bin, SECKEY_BIN, sec_text + n, SEC_TEXT_CAP - n - 1);
        memcpy(sec_text + n + SECKEY_B64, "\n", 2);
    }
    cairn__memzero(bin, SECKEY_BIN);
    cairn__secure_free(bin);
    return err;
}

cairn_err cairn__keygen_opts_run(const char *pub_path, const char *sec_path,
                                 const char *password,
                                 const cairn__keygen_opts *opts, char *detail,
                                 size_t detail_len)
{
    static const cairn__keygen_opts defaults = {CAIRN__KDF_OPSLIMIT_DEFAULT,
                                                CAIRN__KDF_MEMLIMIT_DEFAULT, 0};
    char pub_text[CAIRN__PUBKEY_FILE_LEN];
    if (pub_path == NULL || sec_path == NULL || pub_path[0] == '\0' ||
        sec_path[0] == '\0' || strcmp(pub_path, sec_path) == 0) {
        cairn__fmt(detail, detail_len,
                   "keygen: two different, non-empty paths are required");
        return CAIRN_EINVAL;
    }
    if (cairn__crypto_init() != CAIRN_OK) {
        cairn__fmt(detail, detail_len, "keygen: libsodium failed to start");
        return CAIRN_ECRYPTO;
    }
    if (opts == NULL) {
        opts = &defaults;
    }
    char *sec_text = cairn__secure_alloc(SEC_TEXT_CAP);
    if (sec_text == NULL) {
        return CAIRN_ENOMEM;
    }
    cairn_err err =
        make_texts(password, opts, sec_text, pub_text, detail, detail_len);
    if (err == CAIRN_OK) {
        kg_ctx c = {0, opts->fail_step, detail, detail_len};
        err = write_pair(pub_path, pub_text, sec_path, sec_text, &c);
    }
    cairn__memzero(sec_text, SEC_TEXT_CAP);
    cairn__secure_free(sec_text);
    return err;
}

cairn_err cairn_keygen(const char *pub_path, const char *sec_path,
                       const char *password, char *detail, size_t detail_len)
{
    return cairn__keygen_opts_run(pub_path, sec_path, password, NULL, detail,
                                  detail_len);
}
