/*
 * crash.h - the crash and fault-injection suite (docs/DURABILITY.md).
 *
 * One program, build/tests/crash/crash, runs every scenario and prints a
 * table; it also serves as the workload that the LD_PRELOAD shims
 * (shim.so, mshim.so) are loaded into ("crash --work ...").
 *
 * Rules the suite keeps (crash.md section 1.4): the driver process never
 * opens a journal itself; every journal access happens in a forked child
 * or an exec'd workload, so no LMDB handle ever crosses a fork.  Audits
 * run in a forked child because LMDB may abort() on a damaged file.
 */
#ifndef CAIRN_CRASH_H
#define CAIRN_CRASH_H

#include "cairn.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define CR_MAX_SCEN 16

/* ---- the driver's context and results ------------------------------ */

typedef struct cr_result {
    const char *name;
    uint64_t iterations; /**< states, kills or workload runs */
    uint64_t violations;
    uint64_t known; /**< violations of a tag in $CAIRN_CRASH_XFAIL */
    double seconds;
    int skipped;
    char note[256];
    double slowest_reopen; /**< I6: longest read-write reopen, seconds */
} cr_result;

typedef struct cr_ctx {
    unsigned scale;   /**< CAIRN_CRASH_SCALE: 1 = CI size */
    uint64_t seed;    /**< master seed (CAIRN_CRASH_SEED or time) */
    int asan;         /**< built with AddressSanitizer */
    int keep;         /**< keep every directory (--keep) */
    char exe[4096];   /**< this program */
    char shim[4096];  /**< shim.so next to it */
    char mshim[4096]; /**< mshim.so next to it */
    char pshim[4096]; /**< pshim.so next to it (--perturb) */
    int perturb;      /**< --perturb / $CAIRN_CRASH_PERTURB=1 */
    pid_t load[3];    /**< the perturbation's load processes */
    char cli[4096];   /**< the cairn CLI ($CAIRN or --cli), "" if none */
    int cli_verify;   /**< the CLI has the verify command */
    char root[2048];  /**< scratch directory of this invocation */
    char pub[4096];   /**< the test key pair */
    char sec[4096];
    cairn_pubkey *pk; /**< pinned key for every audit */
    cr_result *cur;   /**< the scenario running now */
    int control;      /**< negative controls: violations are expected
                           (counted, not printed) */
    uint64_t srv_map_size; /**< map size cr_srv_start()'s servers open
                                with (0: the default) */
} cr_ctx;

/** Report a violation of scenario @p c->cur (prints it with the seed). */
void cr_violation(cr_ctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/** A violation caused by a library bug this suite reported, named by
 *  @p tag; listed in $CAIRN_CRASH_XFAIL (comma-separated) it is printed
 *  as KNOWN and counted apart, otherwise it is a violation. */
void cr_violation_known(cr_ctx *c, const char *tag, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/** Print a progress or information line (prefixed by the scenario). */
void cr_note(cr_ctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- perturbation (crash_perturb.c) -------------------------------- */

#define CR_LOAD_PROCS 3
/** With --perturb and not yet perturbed: re-execute this program with
 *  pshim.so preloaded (does not return); 0 when there is nothing to do,
 *  -1 when it could not. */
int cr_perturb_exec(cr_ctx *c, char **argv);
/** Whether scenario @p name is run perturbed (processes race in it). */
int cr_perturb_wanted(const cr_ctx *c, const char *name);
/** With --perturb: perturb calls and start the load beside the suite
 *  (two CPU hogs, one fsync loop). */
void cr_perturb_start(cr_ctx *c);
/** Stop perturbing and the load. */
void cr_perturb_stop(cr_ctx *c);
/** Self-kill rates (per mille of perturbed calls) of a perturbed writer:
 *  in its first 60 calls (opening the journal), and after. */
#define CR_KILL_EARLY 20
#define CR_KILL_LATER 2
/** In a writer child (with --perturb): run on CPU @p cpu only, and let
 *  pshim.so kill it at publication points. */
void cr_perturb_writer(const cr_ctx *c, unsigned cpu);

/* ---- utilities (crash_util.c) --------------------------------------- */

/** splitmix64 step. */
uint64_t cr_rand(uint64_t *state);
/** Uniform in [0, n) (n > 0). */
uint64_t cr_below(uint64_t *state, uint64_t n);
double cr_now(void);
/** Make @p out = root/name-<counter>, created empty. */
void cr_mkdir_fresh(cr_ctx *c, const char *name, char *out, size_t len);
/** rm -rf; best effort. */
void cr_rmtree(const char *path);
/** Remove @p dir unless --keep was given or @p failed. */
void cr_cleanup_dir(cr_ctx *c, const char *dir, int failed);
/** Copy a file; 0 on success. */
int cr_copy_file(const char *from, const char *to);
off_t cr_file_size(const char *path);
/** What a spawned program gets as fds 0-2 (@p close_std below). */
enum { CR_STD_KEEP = 0, CR_STD_CLOSED = 1, CR_STD_NULL = 2 };
/** fork + exec argv with extra environment entries (NAME=VALUE, NULL
 *  terminated); wait.  Returns the wait status, -1 if it could not run.
 *  @p timeout_s > 0 kills it (SIGKILL) after that long.  @p close_std:
 *  CR_STD_KEEP (inherit), CR_STD_CLOSED (closed), CR_STD_NULL
 *  (/dev/null). */
int cr_spawn(char *const argv[], char *const env_extra[], double timeout_s,
             int close_std);
/** fork + exec without waiting; the pid (-1 on failure). */
pid_t cr_start(char *const argv[], char *const env_extra[], int close_std);
/** Describe a wait status ("exit 3", "signal 9"). */
void cr_status_text(int status, char *out, size_t len);
/** Write all of @p len bytes (retrying on EINTR). */
int cr_write_all(int fd, const void *buf, size_t len);
/** An argument vector built from copies (no casts from const). */
typedef struct cr_argv {
    char store[16384];
    size_t used;
    char *v[64];
    size_t n;
} cr_argv;
void cr_argv_init(cr_argv *a);
/** Append a printf-formatted argument. */
void cr_argv_add(cr_argv *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/** Read a whole file into a malloc'd NUL-terminated buffer (NULL). */
char *cr_slurp(const char *path, size_t *len);

/* ---- the ack log (crash_acklog.c) ----------------------------------- */

/*
 * The workload appends one line per event to its ack file (O_APPEND, one
 * write(2) per line, so a SIGKILL never tears a line):
 *   I <run> <n>           about to attempt a transition that would make
 *                         the run hold n records
 *   A <run> <seq> <hash>  the call returned CAIRN_OK; record seq of the
 *                         run has leaf hash <hash> (64 hex)
 *   E <run> <errname> <detail>  the call failed
 *   F <kind> <n> <prev>   (shim) fault injected at counted call n
 *   K <kind> <n> <prev>   (shim) killed after counted call n
 *   H <size> <root>       after an A line: the journal's signed head
 *                         (format 2, meta "head") as the writer read it
 *                         then: tree size N and root (64 hex)
 *   X <text>              the workload saw something impossible
 * <run> is "-" for the journal open itself.
 */
typedef struct cr_ack {
    uint64_t seq;
    uint8_t hash[CAIRN_HASH_BYTES];
    uint64_t order; /**< index among all A lines of the log (0, 1, ...) */
    uint64_t floor; /**< A lines before this transition's I line: those
                         records were committed before it was asked, so
                         their positions must all be smaller */
} cr_ack;

typedef struct cr_run_log {
    char id[CAIRN_MAX_ID + 1];
    uint64_t max_intent; /**< largest n of an I line */
    uint64_t floor;      /**< acks of the log before its latest I line */
    cr_ack *acks;
    size_t n_acks, cap;
} cr_run_log;

/** A signed head an acknowledged writer saw (H line). */
typedef struct cr_head {
    uint64_t size;
    uint8_t root[CAIRN_HASH_BYTES];
} cr_head;

typedef struct cr_log {
    cr_run_log *runs;
    size_t n_runs, cap;
    cr_head *heads; /**< H lines, in log order */
    size_t n_heads, heads_cap;
    uint64_t n_acks, n_intents, n_errors;
    uint64_t fired;     /**< F lines */
    uint64_t killed;    /**< K lines */
    uint64_t anomalies; /**< X lines */
    char first_anomaly[512];
    uint64_t tagged; /**< X lines naming a known bug: "X [tag] ..." */
    char first_tagged[512];
    char tag[32];             /**< the tag of the first of them */
    uint64_t ack_after_fault; /**< an A line between an F and its E */
    char ack_after_fault_text[512];
    int kill_prev_meta; /**< a K line whose previous call was the meta
                             write: the transition in flight committed */
    char kill_run[CAIRN_MAX_ID + 1]; /**< run of the last I before a K */
    uint64_t kill_intent;            /**< n of that I line */
    int open_acked;             /**< an "A -" line (journal open returned OK) */
    char first_fault_error[64]; /**< errname of the E that answered the
                                     first F (before any A) */
    uint64_t absorbed;          /**< an A came first: the fault was absorbed */
    char fault_kind[16];        /**< kind of the first F */
    char last_error[256];       /**< the last E line */
    int skip_i3; /**< set by the caller: only I1 (a truncated log) */
    /* parser state */
    int in_flight, fired_now, await_first;
    char last_run[CAIRN_MAX_ID + 1];
    uint64_t last_intent;
} cr_log;

/** Parse an ack file (missing file: empty log).  0 on success. */
int cr_log_load(const char *path, cr_log *log);
/** Feed one line (without its newline) to @p log (zeroed first). */
void cr_log_feed(cr_log *log, char *line);
void cr_log_free(cr_log *log);
cr_run_log *cr_log_run(cr_log *log, const char *id, int create);

/* ---- audit (crash_audit.c) ------------------------------------------ */

typedef struct cr_snap_run {
    char id[CAIRN_MAX_ID + 1];
    uint64_t n;                        /**< records */
    uint8_t (*hash)[CAIRN_HASH_BYTES]; /**< leaf hash of each record */
    uint64_t *pos;                     /**< position of each record */
} cr_snap_run;

/** What an audit of a directory found. */
typedef struct cr_snap {
    int ok;        /**< every check passed */
    int opened;    /**< the journal opened */
    int crashed;   /**< the audit child died (LMDB abort, SIGBUS) */
    int absent;    /**< the directory holds no data.mdb: no journal was
                        ever put in place there */
    char why[768]; /**< the first failed check */
    cr_snap_run *runs;
    size_t n_runs;
    double open_s; /**< time to open (read-only) */
    uint64_t head_size; /**< the signed head's N (0: no head, no record) */
    uint8_t head_root[CAIRN_HASH_BYTES]; /**< and its log tree root */
} cr_snap;

/** Audit flags. */
#define CR_AUDIT_QUICK 0x1u /**< signatures only for runs in @p verify */

/**
 * Audit @p dir in a forked child: open read-only, then for every run
 * cairn_verify_run() with the pinned key (VERIFIED), cairn_replay_check(),
 * cairn_status() against an own walk of the chain (seqs 0..N-1, each prev
 * the previous hash, head and count equal to the summary), and
 * cairn_verify_directory() (format 2: the stored log tree and state map
 * rebuilt from the records and run states, roots and counts equal to the
 * head's).  Then the format-2 head on its own (crash_tree.c): it parses,
 * is signed by the pinned key, N is the number of records, R the number
 * of runs, the positions are dense 1..N, and the RFC 6962 root the suite
 * computes itself from the records' leaf hashes in position order equals
 * the head's root.  Without CR_AUDIT_QUICK also cairn_verify_all() with
 * the pinned key (what `cairn verify --all --key` runs): VERIFIED.  With
 * CR_AUDIT_QUICK only runs named in @p verify (NULL-terminated) get
 * cairn_verify_run(); the others get the rest.  Last, in every audit,
 * cr_rows_audit() on the raw databases against the head's R and state
 * map root.  Fills @p out; returns 0 (even when checks fail: see
 * out->ok).
 */
int cr_audit(cr_ctx *c, const char *dir, unsigned flags, char *const *verify,
             cr_snap *out);
void cr_snap_free(cr_snap *snap);
const cr_snap_run *cr_snap_find(const cr_snap *snap, const char *id);

/**
 * Check a snapshot against an ack log: I1 (every acked record present,
 * same hash), I3 (no run holds more records than were attempted, every
 * run present was attempted), and when those hold I9 (cr_check_tree():
 * the acknowledgements' order, the acknowledged heads).  A journal that does not open is a
 * violation unless nothing was acknowledged and no data.mdb is in place
 * (a creation cut short leaves none: a new journal is linked into place
 * only once complete and durable).  Each failure is reported with
 * cr_violation(); returns the number found.
 */
unsigned cr_check_acks(cr_ctx *c, const cr_snap *snap, const cr_log *log,
                       const char *where);

/** cr_audit() of @p dir (full) and cr_check_acks() against the log
 *  @p ack, then cr_cli_verify(); returns the violations found. */
unsigned cr_audit_log(cr_ctx *c, const char *dir, const char *ack,
                      const char *where);

/** `cairn -J DIR verify --all --key PUB` (the CLI, when the suite has
 *  one): a violation unless it exits 0 (VERIFIED).  Returns the
 *  violations found (0 or 1). */
unsigned cr_cli_verify(cr_ctx *c, const char *dir, const char *where);
/** The argument vector of that command, with `--checkpoints DIR.ckpt`:
 *  the heads it remembers are kept per directory (a later call on the
 *  same directory refuses a rollback), never shared between copies of
 *  one journal, which have the same journal id (the recover scenario
 *  starts every run from a copy of one template). */
void cr_cli_verify_argv(const cr_ctx *c, const char *dir, cr_argv *argv);

/**
 * The per-operation layout of @p dir from its raw databases
 * (crash_rows.c), independently of the library's readers: every `runs`
 * value a version-2 summary that decodes, with the run number of its
 * key (dense from 1); the RFC 6962 root over the summaries in run order
 * equal to @p state_root and their number to @p head_runs (the signed
 * head's R and state map root); for each run exactly the `oprows` keys
 * 0..n_ops-1, each row decoding, and exactly the complete `otree` nodes
 * of the tree over SHA-256(0x00 || row), each equal to the suite's own
 * hash; that tree's root equal to the summary's ops_root; the summary's
 * op counts, head op, done prefix, attempted end, open preflights and
 * pending list equal to the rows'; a pruned run without rows or nodes;
 * no row or node of a run that does not exist.  Opens its own LMDB
 * environment (read-only): call it with no cairn handle open on @p dir
 * in this process.  Returns 0, or -1 with the first failure in @p why
 * ("rows: run ID: op N ..." / "... op tree node (level L, index I) ...").
 */
int cr_rows_audit(const char *dir, uint64_t head_runs,
                  const uint8_t state_root[CAIRN_HASH_BYTES], char *why,
                  size_t len);

/** cr_rows_audit() of @p dir against its signed head (read with the
 *  pinned key, the handle closed again before the raw databases are
 *  read). */
int cr_rows_audit_dir(cr_ctx *c, const char *dir, char *why, size_t len);

/* ---- the signed head and the log tree (crash_tree.c) ----------------- */

/** RFC 6962 tree hashing, built leaf by leaf (the right edge: one node
 *  per set bit of the size). */
typedef struct cr_mth {
    uint8_t node[64][CAIRN_HASH_BYTES];
    unsigned height[64];
    unsigned top;
    uint64_t size;
} cr_mth;
void cr_mth_init(cr_mth *t);
/** Append the leaf hash @p leaf (SHA-256(0x00 || record)). */
void cr_mth_push(cr_mth *t, const uint8_t leaf[CAIRN_HASH_BYTES]);
/** The root of the leaves pushed so far (SHA-256("") when none). */
void cr_mth_root(const cr_mth *t, uint8_t out[CAIRN_HASH_BYTES]);

/**
 * Check the order and the heads of an ack log against a snapshot:
 * every acknowledged record sits at a position above that of every
 * record acknowledged before it was asked for (acknowledged means
 * committed: the journal's order is the order of the acknowledgements),
 * and every signed head an acknowledged writer saw (H lines) is a prefix
 * of the recovered log tree: its size at most N, and the root of the
 * first `size` leaves equal to its root (no acknowledged head is rolled
 * back or rewritten).  Returns the violations found (reported).
 */
unsigned cr_check_tree(cr_ctx *c, const cr_snap *snap, const cr_log *log,
                       const char *where);

/**
 * In the audit child: the journal's signed head (format 2, meta "head")
 * read with cairn_journal_checkpoint_get() under @p pk must be signed by
 * it, count @p n records and @p runs runs, and its root must equal the
 * RFC 6962 root computed here from the @p n records' leaf hashes
 * @p hash, placed by their positions @p pos (exactly 1..n).  A journal
 * without records may have no head.  Returns 0 and the head's size and
 * root, or -1 with the reason in @p why.
 */
int cr_head_audit(cairn_journal *j, const cairn_pubkey *pk,
                  const uint64_t *pos, const uint8_t (*hash)[CAIRN_HASH_BYTES],
                  uint64_t n, uint64_t runs, uint64_t *size,
                  uint8_t root[CAIRN_HASH_BYTES], char *why, size_t len);

/**
 * I6: in a forked child open @p dir read-write (within 1 s), make one
 * transition on a run that can move (or create a run "live-<tag>"),
 * logged to @p ack, and check that the new record's prev is the old head.
 * Returns 0 when it held (a violation is reported otherwise).
 */
int cr_check_live(cr_ctx *c, const char *dir, const char *tag, const char *ack);

/* ---- the workload (crash_work.c) ------------------------------------ */

typedef struct cr_work {
    cairn_journal *j;
    const char *dir;
    const cairn_signer *signer;
    int ack_fd;
    uint64_t rng;
    int reopen_on_error; /**< sweeps: close and reopen after an error */
    int big;             /**< sometimes attach large evidence */
    uint64_t map_size;   /**< cairn_journal_opts.map_size (0: default) */
    /** Open with CAIRN_OPEN_NO_SHARED_COMMIT: commit in write
     *  transactions of the handle's own (group commit) instead of the
     *  queue shared through commit.shm. */
    int own_commits;
} cr_work;

/** Write one ack-log line (printf format). */
void cr_ack_line(int fd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/** Create run @p run_id (logged). */
cairn_err cr_work_create(cr_work *w, const char *run_id);
/**
 * One transition on @p run_id chosen from its summary (claims, receipts
 * of every outcome, retries, in-doubt resolutions, accept, cancel,
 * timeout, containment and cleanup), logged before and after.
 * *done = 1 when the run can no longer move (nothing written).
 */
cairn_err cr_work_step(cr_work *w, const char *run_id, int *done);
/** Whether cr_work_step() on @p run_id would attempt a transition (the
 *  run exists and is not finished or waiting). */
int cr_work_can_step(cr_work *w, const char *run_id);
/** Open the journal (logged as run "-"); CAIRN_OK or the error. */
cairn_err cr_work_open(cr_work *w);
/** Load the test signer (exits the process on failure). */
cairn_signer *cr_load_signer(const char *sec);

/** A child's endless writer (never returns): opens @p dir, then steps
 *  over runs "c<k>-<x>-<g>" until killed; an error is logged as X. */
void cr_writer_loop(cr_ctx *c, const char *dir, const char *ack, uint64_t seed,
                    unsigned k) __attribute__((noreturn));

/* ---- workloads exec'd under a shim (crash_wl.c) --------------------- */

/** "crash --work ..." entry point; returns the exit status. */
int cr_work_main(int argc, char **argv);

/** Build the argv/env for an exec'd workload and run it; returns the wait
 *  status.  @p kind: "sweep", "recover", "plain".  @p env: extra
 *  NAME=VALUE entries (NULL-terminated) for the shim. */
int cr_run_workload(cr_ctx *c, const char *kind, const char *dir,
                    const char *ack, uint64_t seed, unsigned steps,
                    char *const *env, const char *wrapper);
/** The same argument vector, started without waiting (pid or -1). */
pid_t cr_start_workload(cr_ctx *c, const char *kind, const char *dir,
                        const char *ack, uint64_t seed, unsigned steps);

/* ---- call-N sweeps (crash_sweep.c) ---------------------------------- */

typedef struct cr_sweep {
    const char *label;
    const char *mode;  /**< shim mode; NULL: the allocation shim */
    const char *kinds; /**< CRASH_SHIM_KINDS; NULL: all */
    const char *work;  /**< workload: "sweep" or "recover" */
    unsigned steps;
    uint64_t seed;
    const char *tmpl;  /**< journal to start from (its .ack too), or NULL */
    const char *want;  /**< allowed first errors after a fault, or NULL */
    unsigned max_runs; /**< at scale 1: stride so that runs <= this */
} cr_sweep;

/** Count K with a clean run, then run the workload once for each N (or
 *  with a stride at CI scale) and once for K+1.  Returns the number of
 *  workload runs; *k_out = K. */
uint64_t cr_sweep_run(cr_ctx *c, const cr_sweep *s, long *k_out);
/** cr_sweep_run() over a list; iterations and note of the scenario. */
void cr_sweep_all(cr_ctx *c, const cr_sweep *list, size_t n);

/* ---- command-driven writers (crash_srv.c) ---------------------------- */

typedef struct cr_srv {
    pid_t pid;
    int cmd, rep;
} cr_srv;

/** Fork a writer that opens @p dir (its own handle, logging to @p ack)
 *  and obeys commands ("steps N", "lock RUN", "fork", "quit"). */
int cr_srv_start(cr_ctx *c, cr_srv *srv, const char *dir, const char *ack,
                 const char *prefix, uint64_t seed);
/** Send a command; the answer line into @p out.  0 when it is "ok ...":
 *  for steps, "ok - <data.mdb bytes> <map bytes>". */
int cr_srv_cmd(cr_srv *srv, const char *cmd, char *out, size_t len);
/** quit (or SIGKILL when @p force) and reap. */
void cr_srv_stop(cr_srv *srv, int force);
/** Reader slots of dead processes in @p dir's lock table, counted by a
 *  raw-LMDB child (mdb_reader_list); -1 on failure. */
int cr_stale_readers(const char *dir);

/** Negative controls of scenario 3: the write log of seed 1 replayed as
 *  a broken library would have written it. */
enum cr_pl_control {
    CR_PL_NONE = 0,
    /** the O_DSYNC meta writes are volatile (as MDB_NOMETASYNC would be):
     *  acknowledged records must be found lost */
    CR_PL_META_VOLATILE,
    /** the new data.mdb is in place before it was fsynced (created in
     *  place, or linked before the fsync): torn journals must be found */
    CR_PL_LINK_BEFORE_SYNC,
    /** the directory is never fsynced after the link: acknowledged
     *  records must be found lost with the link */
    CR_PL_DIR_UNSYNCED
};
/** Record the workload of seed 1 once, then replay it over @p states
 *  states as each of the @p n @p controls says; caught[i] = 1 when the
 *  replay of controls[i] found a violation (c->control is set). */
void cr_power_control(cr_ctx *c, uint64_t states, const int *controls, size_t n,
                      unsigned *caught);

/* ---- helpers of scenario 8 (crash_procs.c) -------------------------- */

/** Wait up to @p timeout_s for one byte on @p fd; 0 when it came. */
int cr_wait_byte(int fd, double timeout_s);
/** Fork a child that opens @p dir and makes one transition on @p run
 *  (logged to @p ack); its exit status is the cairn_err.  With @p fd_out
 *  it writes its CLOCK_MONOTONIC finish time to a pipe read there. */
pid_t cr_start_step(cr_ctx *c, const char *dir, const char *ack,
                    const char *run, int *fd_out);
/** The stale-reader and dead-write-lock-holder parts. */
void cr_part_stale(cr_ctx *c);
void cr_part_wlock(cr_ctx *c);
/** Reap @p pid: its exit status (a cairn_err), -1 if it died. */
int cr_step_result(pid_t pid);
/** Six or more transitions by a writer with runs "<prefix>-<k>-<g>"; the
 *  name of one on which the workload's next step is a transition (not a
 *  finished or waiting run) into @p run. */
int cr_prepare_runs(cr_ctx *c, const char *dir, const char *ack,
                    const char *prefix, char *run, size_t len);

/* ---- scenarios ------------------------------------------------------- */

void cr_scen_kill(cr_ctx *c);     /* 1 */
void cr_scen_syscall(cr_ctx *c);  /* 2 */
void cr_scen_power(cr_ctx *c);    /* 3 */
void cr_scen_sync(cr_ctx *c);     /* 4 */
void cr_scen_disk(cr_ctx *c);     /* 5 */
void cr_scen_map(cr_ctx *c);      /* 6 */
void cr_scen_alloc(cr_ctx *c);    /* 7 */
void cr_scen_procs(cr_ctx *c);    /* 8 */
void cr_scen_copy(cr_ctx *c);     /* 9 */
void cr_scen_recover(cr_ctx *c);  /* 10 */
void cr_scen_controls(cr_ctx *c); /* 11: negative controls */

/** Scale a CI count: n * scale, divided by @p asan_div under ASan. */
uint64_t cr_scaled(const cr_ctx *c, uint64_t n, unsigned asan_div);

#endif
