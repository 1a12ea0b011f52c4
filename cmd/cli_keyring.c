/*
 * cli_keyring.c - the Linux kernel keyring as the holder of an unlocked
 * secret key (`cairn unlock`, `cairn lock`, and every command that signs).
 *
 * Direct add_key(2)/keyctl(2) system calls: no library.  A key of type
 * "user" named "cairn:<32 hex digits of the key file's tag>" holds the 72
 * bytes of cairn_signer_export_secret().  Keyring payloads live in kernel
 * memory (never swapped to a file by cairn); the key expires after its
 * timeout (KEYCTL_SET_TIMEOUT) and `cairn lock` invalidates it.
 */
#include "cli.h"

#include <errno.h>
#include <linux/keyctl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Permission bits (keyutils.h spells them; linux/keyctl.h does not). */
#define PERM_POS_ALL 0x3f000000u
#define PERM_USR_VIEW 0x00010000u
#define PERM_USR_READ 0x00020000u
#define PERM_USR_SEARCH 0x00080000u

#define DESC_LEN (6 + 2 * CAIRN_KEY_TAG_BYTES + 1)

static void describe(const uint8_t tag[CAIRN_KEY_TAG_BYTES], char out[DESC_LEN])
{
    memcpy(out, "cairn:", 6);
    cli_hex(tag, CAIRN_KEY_TAG_BYTES, out + 6);
}

static long keyctl5(int cmd, unsigned long a2, unsigned long a3,
                    unsigned long a4, unsigned long a5)
{
    return syscall(SYS_keyctl, cmd, a2, a3, a4, a5);
}

/* errno values that mean "no keyring here" (no kernel support, or a
 * seccomp filter), not "no such key" or "not searchable by you". */
static int unavailable(int e)
{
    return e == ENOSYS || e == EPERM || e == EOPNOTSUPP;
}

void cli_keyring_name(const uint8_t tag[CAIRN_KEY_TAG_BYTES],
                      char out[CLI_KEYRING_DESC_LEN])
{
    describe(tag, out);
}

int cli_keyring_find(const uint8_t tag[CAIRN_KEY_TAG_BYTES], int32_t *serial)
{
    static const int rings[] = {KEY_SPEC_SESSION_KEYRING,
                                KEY_SPEC_USER_KEYRING};
    char desc[DESC_LEN];
    int blocked = 0;

    describe(tag, desc);
    *serial = 0;
    for (size_t i = 0; i < sizeof(rings) / sizeof(rings[0]); i++) {
        long id = keyctl5(KEYCTL_SEARCH, (unsigned long)(long)rings[i],
                          (unsigned long)"user", (unsigned long)desc, 0);
        if (id > 0) {
            *serial = (int32_t)id;
            return 0;
        }
        if (unavailable(errno)) {
            blocked = errno;
        }
    }
    if (blocked != 0) {
        errno = blocked;
        return -2;
    }
    return -1;
}

int cli_keyring_read(int32_t serial, uint8_t out[CAIRN_SIGNER_SECRET_BYTES])
{
    uint8_t buf[CAIRN_SIGNER_SECRET_BYTES + 1];
    long n = keyctl5(KEYCTL_READ, (unsigned long)serial, (unsigned long)buf,
                     sizeof(buf), 0);
    int rc = -1;

    if (n == CAIRN_SIGNER_SECRET_BYTES) {
        memcpy(out, buf, CAIRN_SIGNER_SECRET_BYTES);
        rc = 0;
    } else if (n >= 0) {
        errno = EBADMSG; /* not a key cairn filed */
    }
    cli_wipe(buf, sizeof(buf));
    return rc;
}

int cli_keyring_add(const uint8_t tag[CAIRN_KEY_TAG_BYTES],
                    const uint8_t secret[CAIRN_SIGNER_SECRET_BYTES],
                    int user_ring, unsigned timeout_s, int32_t *serial)
{
    char desc[DESC_LEN];
    int ring = user_ring ? KEY_SPEC_USER_KEYRING : KEY_SPEC_SESSION_KEYRING;
    unsigned long perm = PERM_POS_ALL | PERM_USR_VIEW;
    long id;

    describe(tag, desc);
    *serial = 0;
    /* The keyring that is there, without creating one: a process with no
     * session keyring would otherwise get a new one that dies with it;
     * lookups then fall back to the user-session keyring, and so do we. */
    id = keyctl5(KEYCTL_GET_KEYRING_ID, (unsigned long)(long)ring, 0, 0, 0);
    if (id < 0) {
        return unavailable(errno) ? -2 : -1;
    }
    id = syscall(SYS_add_key, "user", desc, secret,
                 (size_t)CAIRN_SIGNER_SECRET_BYTES, (int32_t)id);
    if (id < 0) {
        return unavailable(errno) ? -2 : -1;
    }
    *serial = (int32_t)id;
    if (user_ring) {
        /* Found through @u from another session, the key is not
         * possessed: the user needs read and search rights. */
        perm |= PERM_USR_READ | PERM_USR_SEARCH;
    }
    if (keyctl5(KEYCTL_SETPERM, (unsigned long)id, perm, 0, 0) != 0 ||
        keyctl5(KEYCTL_SET_TIMEOUT, (unsigned long)id, timeout_s, 0, 0) != 0) {
        int e = errno;
        (void)cli_keyring_remove((int32_t)id);
        errno = e;
        return -1;
    }
    return 0;
}

int cli_keyring_remove(int32_t serial)
{
    if (keyctl5(KEYCTL_INVALIDATE, (unsigned long)serial, 0, 0, 0) == 0) {
        return 0;
    }
    /* Before Linux 3.5: revoke (reads fail at once), then unlink. */
    if (keyctl5(KEYCTL_REVOKE, (unsigned long)serial, 0, 0, 0) != 0) {
        return -1;
    }
    (void)keyctl5(KEYCTL_UNLINK, (unsigned long)serial,
                  (unsigned long)(long)KEY_SPEC_SESSION_KEYRING, 0, 0);
    (void)keyctl5(KEYCTL_UNLINK, (unsigned long)serial,
                  (unsigned long)(long)KEY_SPEC_USER_KEYRING, 0, 0);
    return 0;
}
