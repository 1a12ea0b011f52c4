/* test_keygen.c - key generation (files, modes, refusal of existing files,
 * fault injection at every file-system step) and interoperability with the
 * stock minisign binary. */
#include "keyutil.h"

#include <dirent.h>
#include <sys/stat.h>

/* Small scrypt parameters (libsodium's minimums) for fast tests. */
static const cairn__keygen_opts small_opts = {32768, 16777216, 0};

/* ------------------------------------------------------------------ */
/* Key generation.                                                     */

static mode_t file_mode(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_mode & 07777;
}

static void test_keygen_unencrypted(void **state)
{
    (void)state;
    mode_t old = umask(022);
    char *dir = tu_mkdtemp();
    char *pub = tu_path(dir, "k.pub");
    char *sec = tu_path(dir, "k.key");
    char detail[512] = "";
    assert_int_equal(cairn_keygen(pub, sec, NULL, detail, sizeof detail),
                     CAIRN_OK);
    assert_int_equal(file_mode(sec), 0600);
    assert_int_equal(file_mode(pub), 0644);
    cairn_pubkey *k = NULL;
    cairn_signer *s = NULL;
    assert_int_equal(cairn_pubkey_load(pub, &k, detail, sizeof detail),
                     CAIRN_OK);
    assert_int_equal(cairn_signer_load(sec, NULL, &s, detail, sizeof detail),
                     CAIRN_OK);
    assert_pair(s, k);
    /* The files are exactly minisign's shape. */
    char *text = tu_read_file(pub, NULL);
    char b64[CAIRN__PUBKEY_FILE_LEN];
    assert_int_equal(cairn__pubkey_file_text(k, b64, sizeof b64), CAIRN_OK);
    assert_string_equal(text, b64);
    free(text);
    text = tu_read_file(sec, NULL);
    const char *head = "untrusted comment: cairn unencrypted secret key\n"
                       "RWQAAEIy"; /* "Ed", no KDF, "B2" */
    assert_true(strncmp(text, head, strlen(head)) == 0);
    free(text);
    cairn_signer_free(s);
    cairn_pubkey_free(k);
    /* A second keygen on the same paths refuses and keeps the files. */
    assert_int_equal(cairn_keygen(pub, sec, NULL, detail, sizeof detail),
                     CAIRN_EEXIST);
    assert_has(detail, "k.key: create: File exists");
    assert_int_equal(access(sec, F_OK), 0);
    assert_int_equal(access(pub, F_OK), 0);
    free(pub);
    free(sec);
    tu_rmtree(dir);
    umask(old);
}

static void test_keygen_encrypted_small(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp();
    char *pub = tu_path(dir, "k.pub");
    char *sec = tu_path(dir, "k.key");
    char detail[512] = "";
    assert_int_equal(cairn__keygen_opts_run(pub, sec, "pw", &small_opts, detail,
                                            sizeof detail),
                     CAIRN_OK);
    assert_int_equal(file_mode(sec) & 077, 0);
    uint8_t bin[158];
    char *text = tu_read_file(sec, NULL);
    char *b64 = line_of(text, 2);
    assert_int_equal(cairn__b64_decode(b64, strlen(b64), bin, sizeof bin), 0);
    assert_memory_equal(bin, "EdScB2", 6);
    assert_int_equal(bin[38 + 1], 0x80); /* opslimit 32768, little-endian */
    assert_int_equal(bin[46 + 3], 0x01); /* memlimit 16 MiB */
    cairn_pubkey *k = NULL;
    cairn_signer *s = NULL;
    assert_int_equal(cairn_pubkey_load(pub, &k, detail, sizeof detail),
                     CAIRN_OK);
    assert_int_equal(cairn_signer_load(sec, "pw", &s, detail, sizeof detail),
                     CAIRN_OK);
    assert_pair(s, k);
    cairn_signer_free(s);
    assert_int_equal(cairn_signer_load(sec, "pW", &s, detail, sizeof detail),
                     CAIRN_EPASSWORD);
    assert_int_equal(cairn_signer_load(sec, NULL, &s, detail, sizeof detail),
                     CAIRN_EPASSWORD);
    cairn_pubkey_free(k);
    free(b64);
    free(text);
    free(pub);
    free(sec);
    tu_rmtree(dir);
}

static void test_keygen_existing_files(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp();
    char *pub = tu_path(dir, "k.pub");
    char *sec = tu_path(dir, "k.key");
    char detail[512] = "";
    /* The public file exists: the secret file made first is removed. */
    tu_write_file(pub, "mine", 4);
    assert_int_equal(cairn_keygen(pub, sec, NULL, detail, sizeof detail),
                     CAIRN_EEXIST);
    assert_has(detail, "k.pub: create: File exists");
    assert_int_equal(access(sec, F_OK), -1);
    char *kept = tu_read_file(pub, NULL);
    assert_string_equal(kept, "mine");
    free(kept);
    unlink(pub);
    /* The secret file exists: nothing else is created. */
    tu_write_file(sec, "mine", 4);
    assert_int_equal(cairn_keygen(pub, sec, NULL, detail, sizeof detail),
                     CAIRN_EEXIST);
    assert_int_equal(access(pub, F_OK), -1);
    /* A dangling symlink is not followed. */
    unlink(sec);
    assert_int_equal(symlink("/nonexistent/target", sec), 0);
    assert_int_equal(cairn_keygen(pub, sec, NULL, detail, sizeof detail),
                     CAIRN_EEXIST);
    assert_int_equal(access(pub, F_OK), -1);
    /* Bad arguments. */
    assert_int_equal(cairn_keygen(pub, pub, NULL, detail, sizeof detail),
                     CAIRN_EINVAL);
    assert_int_equal(cairn_keygen(NULL, sec, NULL, detail, sizeof detail),
                     CAIRN_EINVAL);
    assert_int_equal(cairn_keygen(pub, "", NULL, detail, sizeof detail),
                     CAIRN_EINVAL);
    free(pub);
    free(sec);
    tu_rmtree(dir);
}

/* Count the entries of dir besides . and .. */
static int dir_entries(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            n++;
        }
    }
    closedir(d);
    return n;
}

static void test_keygen_fault_injection(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp();
    char *pub = tu_path(dir, "k.pub");
    char *sec = tu_path(dir, "k.key");
    char detail[512];
    for (int step = 1; step <= 9; step++) {
        cairn__keygen_opts o = small_opts;
        o.fail_step = step;
        detail[0] = '\0';
        cairn_err err =
            cairn__keygen_opts_run(pub, sec, "pw", &o, detail, sizeof detail);
        if (err != CAIRN_EIO) {
            print_error("step %d: %d %s\n", step, err, detail);
        }
        assert_int_equal(err, CAIRN_EIO);
        assert_has(detail, "Input/output error");
        assert_int_equal(dir_entries(dir), 0);
    }
    /* Step 10 does not exist: the run succeeds. */
    cairn__keygen_opts o = small_opts;
    o.fail_step = 10;
    assert_int_equal(
        cairn__keygen_opts_run(pub, sec, NULL, &o, detail, sizeof detail),
        CAIRN_OK);
    /* A real failure: the public key's directory does not exist. */
    char *bad = tu_path(dir, "no/such/dir/k.pub");
    char *sec2 = tu_path(dir, "k2.key");
    assert_int_equal(cairn_keygen(bad, sec2, NULL, detail, sizeof detail),
                     CAIRN_EIO);
    assert_has(detail, "No such file or directory");
    assert_int_equal(access(sec2, F_OK), -1);
    free(bad);
    free(sec2);
    free(pub);
    free(sec);
    tu_rmtree(dir);
}

/* ------------------------------------------------------------------ */
/* Interoperability with the stock minisign binary.                    */

/* cairn_keygen with minisign's default scrypt parameters; stock minisign
 * signs with the key (password on stdin) and cairn verifies. */
static void test_interop_cairn_key_in_minisign(void **state)
{
    (void)state;
    if (!have_minisign()) {
        skip();
    }
    char *dir = tu_mkdtemp();
    char *pub = tu_path(dir, "k.pub");
    char *sec = tu_path(dir, "k.key");
    char *msg = tu_path(dir, "m.txt");
    char detail[512] = "";
    assert_int_equal(
        cairn_keygen(pub, sec, "interop pw", detail, sizeof detail), CAIRN_OK);
    char *text = tu_read_file(sec, NULL);
    char *b64 = line_of(text, 2);
    uint8_t bin[158];
    assert_int_equal(cairn__b64_decode(b64, strlen(b64), bin, sizeof bin), 0);
    /* minisign's OPSLIMIT/MEMLIMIT_SENSITIVE, little-endian. */
    static const uint8_t params[16] = {0, 0, 0, 2,    0, 0, 0, 0,
                                       0, 0, 0, 0x40, 0, 0, 0, 0};
    assert_memory_equal(bin + 38, params, sizeof params);
    tu_write_file(msg, "interop\n", 8);
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "echo 'interop pw' | %s -S -s '%s' -m '%s' -t 'from minisign' "
             ">/dev/null 2>&1",
             MINISIGN, sec, msg);
    assert_int_equal(run(cmd), 0);
    char *sigpath = tu_path(dir, "m.txt.minisig");
    size_t sig_len = 0;
    char *sig = tu_read_file(sigpath, &sig_len);
    cairn_pubkey *k = NULL;
    assert_int_equal(cairn_pubkey_load(pub, &k, detail, sizeof detail),
                     CAIRN_OK);
    char trusted[CAIRN__TRUSTED_COMMENT_MAX + 1];
    assert_int_equal(cairn__minisig_verify(k, "interop\n", 8, sig, sig_len,
                                           trusted, sizeof trusted, detail,
                                           sizeof detail),
                     CAIRN_OK);
    assert_string_equal(trusted, "from minisign");
    cairn_pubkey_free(k);
    free(sig);
    free(sigpath);
    free(b64);
    free(text);
    free(msg);
    free(pub);
    free(sec);
    tu_rmtree(dir);
}

/* Keys made by `minisign -G` (encrypted) and `minisign -G -W` load. */
static void test_interop_minisign_keys(void **state)
{
    (void)state;
    if (!have_minisign()) {
        skip();
    }
    char *dir = tu_mkdtemp();
    char cmd[2048];
    char detail[512] = "";
    snprintf(cmd, sizeof cmd,
             "cd '%s' && printf 'minisign pw\\nminisign pw\\n' | %s -G -p "
             "e.pub -s e.key >/dev/null 2>&1 && %s -G -W -p w.pub -s w.key "
             ">/dev/null 2>&1",
             dir, MINISIGN, MINISIGN);
    assert_int_equal(run(cmd), 0);
    const char *names[2][3] = {{"e.pub", "e.key", "minisign pw"},
                               {"w.pub", "w.key", NULL}};
    for (int i = 0; i < 2; i++) {
        char *pub = tu_path(dir, names[i][0]);
        char *sec = tu_path(dir, names[i][1]);
        cairn_pubkey *k = NULL;
        cairn_signer *s = NULL;
        assert_int_equal(cairn_pubkey_load(pub, &k, detail, sizeof detail),
                         CAIRN_OK);
        cairn_err err =
            cairn_signer_load(sec, names[i][2], &s, detail, sizeof detail);
        if (err != CAIRN_OK) {
            print_error("%s: %s\n", sec, detail);
        }
        assert_int_equal(err, CAIRN_OK);
        assert_pair(s, k);
        cairn_signer_free(s);
        cairn_pubkey_free(k);
        free(pub);
        free(sec);
    }
    tu_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keygen_unencrypted),
        cmocka_unit_test(test_keygen_encrypted_small),
        cmocka_unit_test(test_keygen_existing_files),
        cmocka_unit_test(test_keygen_fault_injection),
        cmocka_unit_test(test_interop_cairn_key_in_minisign),
        cmocka_unit_test(test_interop_minisign_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
