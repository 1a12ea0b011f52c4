/*
 * crash_controls.c - negative controls: the checks must fail when the
 * journal or the ack log is wrong, or a clean table would prove nothing.
 * Each control damages a copy of a good journal, or a copy of its ack
 * log, and counts as passed only when the audit or the ack checks report
 * it.  Tampering uses raw LMDB in a child process.  The power-loss
 * controls replay scenario 3's write log as a library without the meta
 * page's O_DSYNC, without the fsync before the link of a new journal, or
 * without the directory fsync after it would have written it.
 */
#include "crash.h"

#include "base/bytes.h"
#include "state/state.h"

#include <lmdb.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

enum {
    T_FLIP_FIRST,
    T_FLIP_LAST,
    T_DELETE,
    T_HEAD_FLIP,
    T_HEAD_DELETE,
    T_ROW_DROPPED, /* the row of run 1's last op never written */
    T_ROW_STALE,   /* run 1's op 0 row as before its first claim */
    T_NODE_STALE   /* its op tree leaf as before, the row current */
};

/* Run 1's op 0 row with the dynamic fields it had before its first
 * claim (ready, no attempt, no holder): what a library that dropped the
 * row's rewrite would have left. */
static int stale_row(const MDB_val *cur, uint8_t **out, size_t *out_len)
{
    cairn_op_st op;
    char why[200];
    if (cairn__oprow_decode(cur->mv_data, cur->mv_size, &op, why,
                            sizeof(why)) != CAIRN_OK) {
        return -1;
    }
    op.state = CAIRN_OP_READY;
    op.attempt = 0;
    op.last_class = (cairn_error_class)0;
    op.done_seq = 0;
    op.holder_pid = 0;
    op.holder_start = 0;
    memset(op.holder_boot, 0, sizeof(op.holder_boot));
    op.host[0] = '\0';
    cairn_err err = cairn__oprow_encode(&op, out, out_len);
    cairn__oprow_free(&op);
    return err == CAIRN_OK ? 0 : -1;
}

/* In a child: damage the per-operation layout of run 1 (FORMAT.md 23). */
static void tamper_rows(MDB_env *env, int how)
{
    MDB_txn *txn = NULL;
    MDB_dbi rows, tree;
    MDB_cursor *cur = NULL;
    uint8_t key[17] = {0};
    MDB_val k = {12, key}, v;
    cairn__store64_be(key, 1);
    if (mdb_txn_begin(env, NULL, 0, &txn) ||
        mdb_dbi_open(txn, "oprows", 0, &rows) ||
        mdb_dbi_open(txn, "otree", 0, &tree)) {
        _exit(3);
    }
    if (how == T_ROW_DROPPED) { /* the last row of run 1 */
        cairn__store64_be(key, 2);
        if (mdb_cursor_open(txn, rows, &cur)) {
            _exit(3);
        }
        int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
        rc = rc == 0 ? mdb_cursor_get(cur, &k, &v, MDB_PREV)
                     : mdb_cursor_get(cur, &k, &v, MDB_LAST);
        if (rc != 0) {
            _exit(3);
        }
        _exit(k.mv_size != 12 || cairn__load64_be(k.mv_data) != 1 ||
                      mdb_cursor_del(cur, 0) || mdb_txn_commit(txn)
                  ? 3
                  : 0);
    }
    uint8_t *row = NULL;
    size_t len = 0;
    if (mdb_get(txn, rows, &k, &v) || stale_row(&v, &row, &len) != 0 ||
        (len == v.mv_size && memcmp(row, v.mv_data, len) == 0)) {
        _exit(3); /* op 0 never changed: nothing to make stale */
    }
    if (how == T_ROW_STALE) {
        MDB_val nv = {len, row};
        _exit(mdb_put(txn, rows, &k, &nv, 0) || mdb_txn_commit(txn) ? 3 : 0);
    }
    uint8_t leaf[CAIRN_HASH_BYTES];
    crypto_hash_sha256_state st;
    const uint8_t zero = 0;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, &zero, 1);
    crypto_hash_sha256_update(&st, row, len);
    crypto_hash_sha256_final(&st, leaf);
    key[8] = 0; /* level 0 */
    cairn__store64_be(key + 9, 0);
    MDB_val tk = {17, key}, nv = {CAIRN_HASH_BYTES, leaf};
    _exit(mdb_put(txn, tree, &tk, &nv, 0) || mdb_txn_commit(txn) ? 3 : 0);
}

/* In a child: change meta "head" (the signed head of format 2): flip a
 * byte of its signature line, or delete it. */
static void tamper_head(MDB_env *env, int how)
{
    MDB_txn *txn = NULL;
    MDB_dbi dbi;
    MDB_val k = {4, (void *)(uintptr_t) "head"}, v;
    if (mdb_txn_begin(env, NULL, 0, &txn) ||
        mdb_dbi_open(txn, "meta", 0, &dbi) || mdb_get(txn, dbi, &k, &v)) {
        _exit(3);
    }
    if (how == T_HEAD_DELETE) {
        _exit(mdb_del(txn, dbi, &k, NULL) || mdb_txn_commit(txn) ? 3 : 0);
    }
    uint8_t *copy = malloc(v.mv_size);
    memcpy(copy, v.mv_data, v.mv_size);
    copy[v.mv_size - 10] ^= 0x01; /* inside the signature's base64 */
    MDB_val nv = {v.mv_size, copy};
    _exit(mdb_put(txn, dbi, &k, &nv, 0) || mdb_txn_commit(txn) ? 3 : 0);
}

/* In a child: change the records database of @p dir. */
static int tamper(const char *dir, int how)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        MDB_env *env = NULL;
        MDB_txn *txn = NULL;
        MDB_dbi dbi;
        MDB_cursor *cur = NULL;
        MDB_val k, v;
        if (mdb_env_create(&env) || mdb_env_set_maxdbs(env, 16) ||
            mdb_env_open(env, dir, 0, 0644)) {
            _exit(3);
        }
        if (how == T_HEAD_FLIP || how == T_HEAD_DELETE) {
            tamper_head(env, how);
        }
        if (how >= T_ROW_DROPPED) {
            tamper_rows(env, how);
        }
        if (mdb_txn_begin(env, NULL, 0, &txn) ||
            mdb_dbi_open(txn, "records", 0, &dbi) ||
            mdb_cursor_open(txn, dbi, &cur) ||
            mdb_cursor_get(cur, &k, &v,
                           how == T_FLIP_FIRST ? MDB_FIRST : MDB_LAST)) {
            _exit(3);
        }
        if (how == T_DELETE) {
            mdb_cursor_get(cur, &k, &v, MDB_PREV);
            _exit(mdb_cursor_del(cur, 0) || mdb_txn_commit(txn) ? 3 : 0);
        }
        uint8_t *copy = malloc(v.mv_size);
        memcpy(copy, v.mv_data, v.mv_size);
        copy[v.mv_size / 2] ^= 0x20;
        MDB_val nv = {v.mv_size, copy};
        mdb_cursor_close(cur);
        _exit(mdb_put(txn, dbi, &k, &nv, 0) || mdb_txn_commit(txn) ? 3 : 0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static unsigned ctl_tamper(cr_ctx *c, const char *good, int how)
{
    char dir[4096], from[4200], to[4200];
    cr_snap snap;
    cr_mkdir_fresh(c, "control", dir, sizeof(dir));
    snprintf(from, sizeof(from), "%s/data.mdb", good);
    snprintf(to, sizeof(to), "%s/data.mdb", dir);
    if (cr_copy_file(from, to) != 0 || tamper(dir, how) != 0) {
        cr_rmtree(dir);
        return 0;
    }
    cr_audit(c, dir, 0, NULL, &snap);
    unsigned caught = !snap.ok;
    cr_snap_free(&snap);
    cr_rmtree(dir);
    return caught;
}

/* A per-operation layout control: the damage must be found by the
 * suite's own rows audit alone (@p by 0, in a child; its finding must
 * name the op or the node), by the library's replay and verify inside
 * the full audit, before the rows audit runs (@p by 1), or by the rows
 * audit inside a quick audit, where no run is verified (@p by 2: a stale
 * node that status and replay cannot see). */
static unsigned ctl_rows(cr_ctx *c, const char *good, int how, int by)
{
    char dir[4096], from[4200], to[4200];
    unsigned caught = 0;
    cr_mkdir_fresh(c, "control", dir, sizeof(dir));
    snprintf(from, sizeof(from), "%s/data.mdb", good);
    snprintf(to, sizeof(to), "%s/data.mdb", dir);
    if (cr_copy_file(from, to) != 0 || tamper(dir, how) != 0) {
        cr_rmtree(dir);
        return 0;
    }
    if (by != 0) {
        cr_snap snap;
        cr_audit(c, dir, by == 1 ? 0 : CR_AUDIT_QUICK, NULL, &snap);
        caught = !snap.ok && (strncmp(snap.why, "rows: ", 6) == 0) == (by == 2);
        cr_note(c, "%s: %s", by == 1 ? "library" : "quick audit", snap.why);
        cr_snap_free(&snap);
    } else {
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
            char why[768] = "";
            int rc = cr_rows_audit_dir(c, dir, why, sizeof(why));
            cr_note(c, "rows audit: %s", why);
            fflush(stdout);
            _exit(rc != 0 && (strstr(why, ": op ") != NULL ||
                              strstr(why, "op tree node") != NULL)
                      ? 1
                      : 0);
        }
        int st = 0;
        waitpid(pid, &st, 0);
        caught = WIFEXITED(st) && WEXITSTATUS(st) == 1;
    }
    cr_rmtree(dir);
    return caught;
}

/* The ack checks on a damaged copy of a good log. */
static unsigned ctl_log(cr_ctx *c, const cr_snap *snap, const char *ack,
                        int how)
{
    cr_log log;
    cr_log_load(ack, &log);
    cr_run_log *r = log.n_runs > 0 ? &log.runs[0] : NULL;
    if (r == NULL || r->n_acks == 0) {
        cr_log_free(&log);
        return 0;
    }
    switch (how) {
    case 0:
        r->acks[0].hash[0] ^= 1; /* acked bytes differ */
        break;
    case 1:
        r->acks[r->n_acks - 1].seq += 1000; /* acked record lost */
        break;
    case 2:
        r->max_intent = 0; /* more records than attempted */
        break;
    case 3:
        log.anomalies = 1; /* the workload saw an impossible answer */
        break;
    case 4:
        log.ack_after_fault = 1; /* OK despite an injected fault */
        break;
    case 5:
        log.kill_prev_meta = 1; /* killed after the meta write */
        snprintf(log.kill_run, sizeof(log.kill_run), "%s", r->id);
        log.kill_intent = 1000000;
        break;
    case 6:
        /* the first acknowledgement asked for after all the others: its
         * record should then sit above them all */
        r->acks[0].floor = log.n_acks;
        break;
    case 7:
        if (log.n_heads > 0) { /* a head beyond the journal: rolled back */
            log.heads[log.n_heads - 1].size += 1;
        }
        break;
    default:
        if (log.n_heads > 0) { /* an acknowledged head rewritten */
            log.heads[log.n_heads / 2].root[5] ^= 0x10;
        }
        break;
    }
    uint64_t v0 = c->cur->violations;
    (void)cr_check_acks(c, snap, &log, "control");
    cr_log_free(&log);
    return c->cur->violations > v0;
}

void cr_scen_controls(cr_ctx *c)
{
    static const char *const names[] = {"record byte flipped (first)",
                                        "record byte flipped (last)",
                                        "record deleted",
                                        "acked hash differs",
                                        "acked record lost",
                                        "more records than attempted",
                                        "impossible answer logged",
                                        "OK after an injected fault",
                                        "commit lost after meta write",
                                        "acknowledgements out of order",
                                        "acknowledged head rolled back",
                                        "acknowledged head rewritten",
                                        "signed head's signature flipped",
                                        "signed head deleted",
                                        "power loss, meta not durable",
                                        "power loss, journal in place "
                                        "before its fsync",
                                        "power loss, directory not fsynced "
                                        "after the link",
                                        "op row dropped (rows audit)",
                                        "op row stale (rows audit)",
                                        "op tree node stale (rows audit)",
                                        "op row dropped (library verify)",
                                        "op row stale (library verify)",
                                        "op tree node stale (library "
                                        "verify)",
                                        "op tree node stale (quick audit)"};
    static const int power[] = {CR_PL_META_VOLATILE, CR_PL_LINK_BEFORE_SYNC,
                                CR_PL_DIR_UNSYNCED};
    char dir[4096], ack[4200];
    unsigned caught[24] = {0}, n = 24, ok = 0;
    cr_mkdir_fresh(c, "good", dir, sizeof(dir));
    snprintf(ack, sizeof(ack), "%s.ack", dir);
    int st = cr_run_workload(c, "sweep", dir, ack, c->seed, 20, NULL, NULL);
    cr_snap snap;
    cr_audit(c, dir, 0, NULL, &snap);
    if (st != 0 || !snap.ok) {
        cr_violation(c, "controls: the good journal is not good: %s", snap.why);
        cr_snap_free(&snap);
        return;
    }
    uint64_t v0 = c->cur->violations;
    c->control = 1;
    for (int t = 0; t < 3; t++) {
        caught[t] = ctl_tamper(c, dir, t);
    }
    for (int t = 0; t < 9; t++) {
        caught[3 + t] = ctl_log(c, &snap, ack, t);
    }
    caught[12] = ctl_tamper(c, dir, T_HEAD_FLIP);
    caught[13] = ctl_tamper(c, dir, T_HEAD_DELETE);
    cr_power_control(c, cr_scaled(c, 400, 2), power, 3, caught + 14);
    for (int t = 0; t < 3; t++) {
        caught[17 + t] = ctl_rows(c, dir, T_ROW_DROPPED + t, 0);
        caught[20 + t] = ctl_rows(c, dir, T_ROW_DROPPED + t, 1);
    }
    caught[23] = ctl_rows(c, dir, T_NODE_STALE, 2);
    c->cur->violations = v0;
    c->control = 0;
    for (unsigned i = 0; i < n; i++) {
        ok += caught[i] != 0;
        if (!caught[i]) {
            cr_violation(c, "control not detected: %s", names[i]);
        }
    }
    cr_snap_free(&snap);
    cr_cleanup_dir(c, dir, ok != n);
    c->cur->iterations = n;
    snprintf(c->cur->note, sizeof(c->cur->note),
             "%u of %u negative controls detected", ok, n);
}
