/*
 * cli.h - shared pieces of the cairn command-line tool: the command table
 * entry, the per-invocation context, error reporting, option parsing,
 * journal and signer set-up, and the text and JSON printers.
 *
 * The CLI uses only the public API (include/cairn.h).  Unlike the library
 * it prints and exits: every failure goes through cli_die*(), which releases
 * the journal and wipes the signer before exiting.
 */
#ifndef CAIRN_CLI_H
#define CAIRN_CLI_H

#include "cairn.h"

#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>

/** Exit codes that are not derived from a cairn_err. */
#define CLI_EXIT_OK 0
#define CLI_EXIT_ERROR 1 /**< operational error outside the library */
#define CLI_EXIT_USAGE 2 /**< usage or invalid input */
#define CLI_EXIT_GATE 3  /**< a --require-* gate is not met */
#define CLI_EXIT_INTR 130

/** Output format (-o/--format text|json, --json).  The long form is not
 *  --output: complete and resolve use --output KEY=VALUE. */
typedef enum cli_format { CLI_TEXT = 0, CLI_JSON = 1 } cli_format;

struct cli_command;

/** One invocation: global options, and the resources to release on exit. */
typedef struct cli_ctx {
    const char *journal_opt; /**< -J/--journal, or NULL */
    cli_format format;
    const char *secret_key; /**< --secret-key, or NULL */
    const char *actor;      /**< --actor, or NULL */
    const struct cli_command *cmd;
    char *journal_dir;         /**< resolved directory (malloc'd) */
    cairn_journal *journal;    /**< open journal, or NULL */
    cairn_signer *signer;      /**< loaded signer, or NULL */
    int strict;                /**< --strict: refuse loose permissions */
    int group_readable;        /**< --group-readable (create, run) */
    const char *password_file; /**< --password-file (- : stdin), or NULL */
    int password_fd;           /**< --password-fd N, or -1 */
    const char *hook;          /**< --hook CMD (transitions), or NULL */
    int hook_set;              /**< --hook given (even empty: no hook) */
    /** No signing key: the "unsigned" warning is owed.  CLI_UNSIGNED_EXIT:
     *  printed by a successful exit (a refused command wrote nothing);
     *  CLI_UNSIGNED_WRITE: printed at the runner's first write. */
    int unsigned_warning;
    /** The RUN argument (cli_one_arg() with "RUN"), resolved in place by
     *  cli_open_journal(): see cli_resolve_run(). */
    char run[CAIRN_MAX_ID + 1];
    int run_pending; /**< run holds an argument not yet resolved */
    /** --checkpoints DIR (remembered checkpoints), or NULL. */
    const char *checkpoints_opt;
    int no_remember; /**< --no-remember */
    /** The remembered checkpoint was checked at open (cli_remember_check):
     *  cli_exit() remembers the journal's head (writers; verify itself). */
    int remember_armed;
} cli_ctx;

enum { CLI_UNSIGNED_NONE = 0, CLI_UNSIGNED_EXIT, CLI_UNSIGNED_WRITE };

typedef int (*cli_handler)(cli_ctx *ctx, int argc, char **argv);

/** What a command does to the journal (the command table's flags). */
#define CLI_READS 0x1u   /**< opens it read-only */
#define CLI_WRITES 0x2u  /**< opens it read-write and signs what it writes */
#define CLI_CREATES 0x4u /**< with CLI_WRITES: makes it when missing */
/** Checks the remembered checkpoint before it trusts the journal and
 *  remembers the head after (cli_remember_check(), cli_exit()). */
#define CLI_REMEMBERS 0x8u

/** An entry of the command table (main.c). */
typedef struct cli_command {
    const char *name;
    cli_handler handler;
    unsigned flags;      /**< CLI_READS, CLI_WRITES, CLI_CREATES; 0: the
                              command opens no journal */
    const char *summary; /**< one line for `cairn --help` */
    const char *usage;   /**< synopsis and options, ends with a newline */
} cli_command;

/* Subcommand handlers: argv[0] is the command name. */
int cmd_create(cli_ctx *ctx, int argc, char **argv);
int cmd_accept(cli_ctx *ctx, int argc, char **argv);
int cmd_claim(cli_ctx *ctx, int argc, char **argv);
int cmd_complete(cli_ctx *ctx, int argc, char **argv);
int cmd_fail(cli_ctx *ctx, int argc, char **argv);
int cmd_skip(cli_ctx *ctx, int argc, char **argv);
int cmd_retry(cli_ctx *ctx, int argc, char **argv);
int cmd_resolve(cli_ctx *ctx, int argc, char **argv);
int cmd_cancel(cli_ctx *ctx, int argc, char **argv);
int cmd_hold(cli_ctx *ctx, int argc, char **argv);
int cmd_import(cli_ctx *ctx, int argc, char **argv);
int cmd_release(cli_ctx *ctx, int argc, char **argv);
int cmd_list(cli_ctx *ctx, int argc, char **argv);
int cmd_status(cli_ctx *ctx, int argc, char **argv);
int cmd_show(cli_ctx *ctx, int argc, char **argv);
int cmd_log(cli_ctx *ctx, int argc, char **argv);
int cmd_keygen(cli_ctx *ctx, int argc, char **argv);
int cmd_info(cli_ctx *ctx, int argc, char **argv);
int cmd_stats(cli_ctx *ctx, int argc, char **argv);
int cmd_compact(cli_ctx *ctx, int argc, char **argv);
int cmd_rotate_key(cli_ctx *ctx, int argc, char **argv);
int cmd_prune(cli_ctx *ctx, int argc, char **argv);
int cmd_watermark(cli_ctx *ctx, int argc, char **argv);
int cmd_report(cli_ctx *ctx, int argc, char **argv);
int cmd_run(cli_ctx *ctx, int argc, char **argv);
int cmd_resume(cli_ctx *ctx, int argc, char **argv);
int cmd_verify(cli_ctx *ctx, int argc, char **argv);
int cmd_export(cli_ctx *ctx, int argc, char **argv);
int cmd_verify_bundle(cli_ctx *ctx, int argc, char **argv);
int cmd_unlock(cli_ctx *ctx, int argc, char **argv);
int cmd_lock(cli_ctx *ctx, int argc, char **argv);
int cmd_salvage(cli_ctx *ctx, int argc, char **argv);
int cmd_migrate(cli_ctx *ctx, int argc, char **argv);
int cmd_checkpoint(cli_ctx *ctx, int argc, char **argv);
int cmd_witness(cli_ctx *ctx, int argc, char **argv);

/* Verification report printers shared by verify and verify-bundle
 * (verify_bundle.c). */
void cli_verify_put_text(FILE *out, const char *s);
cairn_pubkey *cli_load_pubkey(const char *path);
/** `--key PATH` given again: load PATH and add it to the pinned set @p set
 *  (NULL: the first key); exits 2 on a bad key file. */
cairn_pubkey *cli_add_pubkey(cairn_pubkey *set, const char *path);
void cli_verify_key_text(FILE *out, const cairn_pubkey *key,
                         const char *key_path);
void cli_verify_run_text(FILE *out, const cairn_verify_report *r);
json_t *cli_verify_key_json(const cairn_pubkey *key, const char *key_path);
json_t *cli_verify_run_json(const cairn_verify_report *r);
/* "first_bad" of a report: null unless TAMPERED; its position (bad_seq)
 * under @p position_key ("seq" for a run, "position" for the directory). */
json_t *cli_verify_first_bad_json(const cairn_verify_report *r,
                                  const char *position_key);
/* The format-2 journal head of a report (nothing / null when the report
 * has none: format 1 prints its note in text). */
void cli_verify_head_text(FILE *out, const cairn_verify_report *r);
json_t *cli_verify_head_json(const cairn_verify_report *r);

/* Anchors and the remembered checkpoint of `verify` (verify_anchor.c).
 * The files are read by the parent, checked by the verifying child,
 * whose results come back through verify.c's pipe. */
typedef struct cli_anchors {
    size_t n;
    const char **path; /**< --anchor FILE, in order */
    char **text;       /**< their bytes (read up front) */
    size_t *len;
    cairn_anchor_result *res; /**< filled from the child */
    int *err;                 /**< cairn_err of each check; -1: none */
    char *checkpoints;        /**< the store, or NULL (--no-remember) */
    int rem_done;             /**< the remembered check ran */
    int rem_err;              /**< its cairn_err */
    cairn_remembered rem;
    char rem_detail[2048];
} cli_anchors;
/** Read FILE (exit 2 naming it when unreadable, not a regular file or
 *  too large) and append it. */
void cli_anchors_add(cli_anchors *a, const char *path);
/** Child side: check every anchor against @p j under @p key. */
void cli_anchors_check(cli_anchors *a, cairn_journal *j,
                       const cairn_pubkey *key);
/** Child side: the remembered checkpoint check (when a store is set). */
void cli_anchors_remembered(cli_anchors *a, cairn_journal *j);
/** Parent side: what the anchors and the remembered checkpoint make of
 *  the verdict (VERIFIED when they add nothing); exits 2 for a malformed
 *  anchor and like cli_die_err() for an unusable store. */
cairn_verdict cli_anchors_verdict(const cli_anchors *a, const char *dir);
void cli_anchors_text(FILE *out, const cli_anchors *a);
/** Add "anchors", "records_after_anchor" and "remembered" to @p doc. */
void cli_anchors_json(json_t *doc, const cli_anchors *a);
void cli_anchors_free(cli_anchors *a);

/* Witness cosignatures on the anchors: `verify --witness-key VKEY
 * --min-witnesses N` (verify_witness.c). */
typedef struct cli_witness_key {
    char vkey[CAIRN_VKEY_MAX];
    char name[CAIRN_WITNESS_NAME_MAX + 1];
    long anchor;   /**< the largest consistent anchor it cosigned, or -1 */
    uint64_t time; /**< that cosignature's time */
    int tampered;  /**< a cosignature of this key does not verify */
    char why[700];
} cli_witness_key;
typedef struct cli_witnesses {
    cli_witness_key *key; /**< distinct pinned witnesses */
    size_t n;
    unsigned min; /**< --min-witnesses */
    size_t found; /**< witnesses with a valid cosignature that counts */
    long newest;  /**< the largest anchor with one, or -1 */
} cli_witnesses;
/** A verifier key given as text or as a file holding it (one line) into
 *  @p out; -1 when too long or unreadable. */
int cli_vkey_text(const char *arg, char *out, size_t cap);
/** Parse --witness-key (a type 0x04 vkey, text or file; exit 2 if not). */
void cli_witnesses_add(cli_witnesses *w, const char *arg);
/** Count, for each pinned witness, its cosignatures on the anchors the
 *  journal's head extends (the anchors' results are filled). */
void cli_witnesses_check(cli_witnesses *w, const cli_anchors *a);
/** VERIFIED, INCOMPLETE (fewer than min found) or TAMPERED (an invalid
 *  cosignature of a pinned witness); VERIFIED without --witness-key. */
cairn_verdict cli_witnesses_verdict(const cli_witnesses *w);
void cli_witnesses_text(FILE *out, const cli_witnesses *w,
                        const cli_anchors *a);
/** Add "witnesses" (required, found, keys, records_after_witnessed). */
void cli_witnesses_json(json_t *doc, const cli_witnesses *w,
                        const cli_anchors *a);
void cli_witnesses_free(cli_witnesses *w);

/* ---------------------------------------------------------------- */
/* Errors and exit (cli_common.c).                                   */

/** Remember @p ctx so that cli_exit() can release what it holds. */
void cli_init(cli_ctx *ctx);
/** Close the journal, wipe and free the signer, flush stdout, exit. */
__attribute__((noreturn)) void cli_exit(int code);
/** "cairn: <message>" on stderr, then cli_exit(code). */
__attribute__((noreturn, format(printf, 2, 3))) void
cli_die(int code, const char *fmt, ...);
/** Print the owed "no signing key" warning once (see unsigned_warning). */
void cli_warn_unsigned(cli_ctx *ctx);
/**
 * Report an error without exiting: "cairn: <message>" (and "cairn: <hint>")
 * on stderr; with -o json one line {"error":{"code":CODE,"exit":EXIT,
 * "message":...,"where":WHERE|null[,"hint":...]}} instead.  @p code is a
 * cairn_errname() or a CLI_E* name (cli_code_name()); @p where and
 * @p hint may be NULL.
 */
__attribute__((format(printf, 5, 6))) void
cli_report(int exit_code, const char *code, const char *where, const char *hint,
           const char *fmt, ...);
/** The JSON error code of a CLI exit code without a cairn_err:
 *  CLI_EUSAGE (2), CLI_EGATE (3), CAIRN_EINTR (130), else CLI_EERROR. */
const char *cli_code_name(int code);
/** cli_report() with @p code and @p where, then cli_exit(exit_code). */
__attribute__((noreturn, format(printf, 4, 5))) void
cli_die_code(int exit_code, const char *code, const char *where,
             const char *fmt, ...);
/** "cairn: warning: <message>" on stderr (-o json: {"warning":{
 *  "message":...}}). */
__attribute__((format(printf, 1, 2))) void cli_warn(const char *fmt, ...);
/**
 * "cairn: <what>: <strerror(err)>[: <detail>]" and exit with
 * cairn_exit_code(err).  @p detail may be NULL or empty.
 */
/** Load a plan from @p path ("-": standard input), recording the current
 *  directory as its working directory (cairn_plan_parse_at()). */
cairn_err cli_read_plan(const char *path, cairn_plan **out, char *detail,
                        size_t detail_len);
__attribute__((noreturn)) void cli_die_err(cairn_err err, const char *what,
                                           const char *detail);
/**
 * A transition or query on the open journal failed: like cli_die_err()
 * with the journal's detail, plus a hint for CAIRN_EKEYMISMATCH naming the
 * key the run is bound to.  @p run may be NULL.
 */
__attribute__((noreturn)) void cli_die_run(cli_ctx *ctx, cairn_err err,
                                           const char *run);
/** Allocation failure: "cairn: out of memory", exit 1. */
__attribute__((noreturn)) void cli_die_nomem(void);

/* ---------------------------------------------------------------- */
/* Options (cli_common.c).                                           */

/** Long option values above any character. */
enum {
    CLI_OPT_JSON = 0x100,
    CLI_OPT_SECRET_KEY,
    CLI_OPT_ACTOR,
    CLI_OPT_STRICT,
    CLI_OPT_GROUP_READABLE,
    CLI_OPT_HOOK,
    CLI_OPT_PASSWORD_FILE,
    CLI_OPT_PASSWORD_FD,
    CLI_OPT_CHECKPOINTS,
    CLI_OPT_NO_REMEMBER,
    CLI_OPT_FIRST_LOCAL /**< first value free for a command's options */
};

/** Short options every command accepts (prefix ':' reports a missing
 *  argument as ':'). */
#define CLI_SHORT_COMMON ":hJ:o:"
/** Long options every command accepts. */
#define CLI_LONG_COMMON                                                        \
    {"help", no_argument, NULL, 'h'},                                          \
        {"journal", required_argument, NULL, 'J'},                             \
        {"format", required_argument, NULL, 'o'},                              \
        {"json", no_argument, NULL, CLI_OPT_JSON},                             \
    {                                                                          \
        "strict", no_argument, NULL, CLI_OPT_STRICT                            \
    }
/** Long options of every command that writes. */
#define CLI_LONG_WRITE                                                         \
    {"secret-key", required_argument, NULL, CLI_OPT_SECRET_KEY},               \
        {"password-file", required_argument, NULL, CLI_OPT_PASSWORD_FILE},     \
        {"password-fd", required_argument, NULL, CLI_OPT_PASSWORD_FD},         \
    {                                                                          \
        "actor", required_argument, NULL, CLI_OPT_ACTOR                        \
    }

/** --checkpoints DIR and --no-remember: every command that remembers
 *  checkpoints (writers, verify). */
#define CLI_LONG_REMEMBER                                                      \
    {"checkpoints", required_argument, NULL, CLI_OPT_CHECKPOINTS},             \
    {                                                                          \
        "no-remember", no_argument, NULL, CLI_OPT_NO_REMEMBER                  \
    }

/** --hook CMD: an option of every command that makes transitions. */
#define CLI_LONG_HOOK                                                          \
    {                                                                          \
        "hook", required_argument, NULL, CLI_OPT_HOOK                          \
    }

/** Reset getopt before a command parses its own options. */
void cli_getopt_reset(void);
/**
 * Handle an option every command accepts (-h, -J, -o/--format, --json,
 * --secret-key, --actor) or a getopt error.  --help prints the usage and
 * exits 0; errors print the problem and the usage on stderr and exit 2.
 * @return 1 when handled, 0 when @p c is the command's own option.
 */
int cli_common_option(cli_ctx *ctx, int c, const char *arg, char **argv);
/** Usage error: "cairn: <cmd>: <message>", the usage on stderr, exit 2. */
__attribute__((noreturn, format(printf, 2, 3))) void
cli_usage_error(const cli_ctx *ctx, const char *fmt, ...);
/** Print the usage of @p cmd to @p out. */
void cli_print_usage(const cli_command *cmd, FILE *out);
/** Set the output format from a -o argument; 0 ok, -1 unknown word. */
int cli_set_format(cli_ctx *ctx, const char *word);
/** The single positional argument (RUN, PLAN ...) left after getopt, or
 *  a usage error naming @p what.  For @p what "RUN" the argument is copied
 *  into ctx->run and that buffer is returned: cli_open_journal() resolves
 *  it in place (cli_resolve_run()), so every command that takes a run id
 *  accepts `latest` and unique prefixes. */
const char *cli_one_arg(cli_ctx *ctx, int argc, char **argv, const char *what);
/** No positional argument allowed. */
void cli_no_args(const cli_ctx *ctx, int argc, char **argv);
/** Parse a decimal uint32 option value or exit 2 naming @p opt. */
uint32_t cli_parse_u32(const cli_ctx *ctx, const char *opt, const char *text);

/** The actor recorded for this command: --actor, $CAIRN_ACTOR, $USER,
 *  the login name of the real uid, or NULL. */
const char *cli_actor(const cli_ctx *ctx);

/** A growable list of key=value pairs from repeated --output/--evidence.
 *  Keys and values point into argv (split in place at the first '='). */
typedef struct cli_kvs {
    cairn_kv *v;
    size_t n, cap;
} cli_kvs;
/** Parse "k=v" (split at the first '='; key non-empty) and append it;
 *  a usage error naming @p opt on a malformed pair. */
void cli_kvs_add(const cli_ctx *ctx, cli_kvs *list, const char *opt,
                 char *text);
void cli_kvs_free(cli_kvs *list);

/* Options of complete, fail, skip and resolve (receipt.c). */
#define CLI_RECEIPT_OUTPUT 0x1u       /**< --output allowed */
#define CLI_RECEIPT_CLASS 0x2u        /**< --class allowed */
#define CLI_RECEIPT_OUTCOME 0x4u      /**< --outcome allowed */
#define CLI_RECEIPT_NEEDS_REASON 0x8u /**< --reason required */
#define CLI_RECEIPT_FORCE 0x10u       /**< --force allowed */

typedef struct cli_receipt_args {
    const char *run;
    cairn_receipt r; /**< outputs/evidence point into the lists below */
    cli_kvs outputs, evidence;
    int have_op, have_class, have_outcome;
    int force;
} cli_receipt_args;

/** Parse RUN --op SEQ [--attempt N] [--id OPID] [--reason TEXT] and, as
 *  @p allow permits, --class, --outcome, --output; --evidence always.
 *  Usage errors exit 2.  Free the lists with cli_kvs_free(). */
void cli_receipt_parse(cli_ctx *ctx, int argc, char **argv, unsigned allow,
                       cli_receipt_args *a);

/* ---------------------------------------------------------------- */
/* Finding runs (cli_runs.c): run ids, list filters.                 */

/** The run ids of the journal in creation order (cli_run_ids_get()). */
typedef struct cli_run_ids {
    char **v;
    size_t n, cap;
} cli_run_ids;
/** Every run id of the open journal, in creation order; dies on error. */
void cli_run_ids_get(cli_ctx *ctx, cli_run_ids *ids);
void cli_run_ids_free(cli_run_ids *ids);

/** Options of the run filter (list, stats). */
enum {
    CLI_OPT_FILTER_STATE = 0x200,
    CLI_OPT_FILTER_PLAN,
    CLI_OPT_FILTER_TARGET,
    CLI_OPT_FILTER_SINCE,
    CLI_OPT_FILTER_UNTIL,
    CLI_OPT_FILTER_ATTENTION,
    CLI_OPT_FILTER_HELD
};
#define CLI_LONG_FILTER                                                        \
    {"state", required_argument, NULL, CLI_OPT_FILTER_STATE},                  \
        {"plan", required_argument, NULL, CLI_OPT_FILTER_PLAN},                \
        {"target", required_argument, NULL, CLI_OPT_FILTER_TARGET},            \
        {"since", required_argument, NULL, CLI_OPT_FILTER_SINCE},              \
        {"until", required_argument, NULL, CLI_OPT_FILTER_UNTIL},              \
        {"attention", no_argument, NULL, CLI_OPT_FILTER_ATTENTION},            \
    {                                                                          \
        "held", no_argument, NULL, CLI_OPT_FILTER_HELD                         \
    }

/** Which runs a command looks at; every option given must match (AND),
 *  repeated --state, --plan, --target match any of their values (OR). */
typedef struct cli_run_filter {
    unsigned states; /**< bit (1 << cairn_run_state); 0: any */
    const char **plans;
    size_t n_plans;
    const char **targets;
    size_t n_targets;
    uint64_t since_ns, until_ns; /**< created in [since, until] */
    int have_since, have_until;
    int attention; /**< only runs cli_run_needs_attention() */
    int held;      /**< only runs whose hold counts now (cairn_hold_active) */
} cli_run_filter;
/** Handle a filter option @p c; 1 when handled, 0 when not a filter
 *  option; a bad value is a usage error naming the option (exit 2). */
int cli_filter_option(cli_ctx *ctx, cli_run_filter *f, int c, const char *arg);
/** Checks across options (--since after --until: exit 2). */
void cli_filter_check(cli_ctx *ctx, const cli_run_filter *f);
/** 1 when the run of @p s passes @p f. */
int cli_filter_match(const cli_run_filter *f, const cairn_summary *s);
void cli_filter_free(cli_run_filter *f);
/** The run needs an operator: failed or needs-attention, an operation in
 *  doubt, or a target to restart (what `status --require-no-attention`
 *  refuses). */
int cli_run_needs_attention(const cairn_summary *s);

/* ---------------------------------------------------------------- */
/* Hooks (cli_hook.c).                                                   */

/** The hook command: --hook (empty: none), else $CAIRN_HOOK, or NULL. */
const char *cli_hook(const cli_ctx *ctx);
/** The JSON event a hook gets in CAIRN_EVENT_JSON: "event"
 *  "state-change", run_id, transition, actor, op (null or the operation),
 *  state, stopped_reason, next_action, summary (as `status -o json`). */
json_t *cli_hook_event(const cairn_summary *s, const char *transition,
                       const char *actor, int has_op, uint32_t seq);
/** Run @p hook for @p s (cairn_hook_run with CAIRN_EVENT_JSON); 0 ok,
 *  -1 failed (@p detail says why). */
int cli_hook_run(cli_ctx *ctx, const char *hook, const cairn_summary *s,
                 const char *transition, int has_op, uint32_t seq,
                 const volatile sig_atomic_t *interrupts, char *detail,
                 size_t detail_len);
/** After a successful transition of command ctx->cmd on @p run (naming
 *  operation @p seq when @p has_op): run the hook if there is one; a
 *  failure is a warning. */
void cli_hook_fire(cli_ctx *ctx, const char *run, int has_op, uint32_t seq);

/* ---------------------------------------------------------------- */
/* Journal and signer (cli_journal.c, cli_sign.c).                   */

/** The journal directory: -J, $CAIRN_DIR, $XDG_STATE_HOME/cairn,
 *  $HOME/.local/state/cairn.  Exits 2 when none can be found. */
const char *cli_journal_dir(cli_ctx *ctx);
/**
 * The journal options for CAIRN_OPEN_* @p flags and the environment:
 * $CAIRN_SHARED_COMMIT "0" adds CAIRN_OPEN_NO_SHARED_COMMIT;
 * $CAIRN_BATCH_MAX and $CAIRN_BATCH_WAIT_US set batch_max and
 * batch_wait_us (a value out of range is ignored); $CAIRN_MAP_SIZE sets
 * map_size.  The library reads no environment: this is where cairn(1)'s
 * variables become options.
 * @return 0; -1 with @p detail ("CAIRN_MAP_SIZE=...: ...") when
 *         $CAIRN_MAP_SIZE is set but not a size in range.
 */
int cli_journal_opts(cairn_journal_opts *opts, unsigned flags, char *detail,
                     size_t detail_len);
/** Exit 1 (CLI_ENOJOURNAL) when @p dir, or the journal in it (data.mdb),
 *  does not exist: "cairn: DIR: no such journal (...)"; else return. */
void cli_die_if_no_journal(const char *dir);
/** The remembered checkpoint store: --checkpoints, $CAIRN_CHECKPOINTS,
 *  $XDG_STATE_HOME/cairn-checkpoints, $HOME/.local/state/cairn-checkpoints;
 *  NULL with --no-remember or when none can be found.  malloc'd. */
char *cli_checkpoints_dir(const cli_ctx *ctx);
/** Before trusting the open journal: the head must extend the checkpoint
 *  remembered for it (cairn_checkpoint_check_remembered()); dies with exit
 *  4 (rolled back, forked, replaced), 6 (unsafe or malformed store) and
 *  arms cli_exit()'s remembering.  Nothing with --no-remember. */
void cli_remember_check(cli_ctx *ctx);
/** Remember the open journal's head now (forward only); @p key: the
 *  pinned key (NULL: the signer's).  Failures are warnings. */
void cli_remember_now(cli_ctx *ctx, const cairn_pubkey *key);
/** Open the journal with CAIRN_OPEN_* @p flags into ctx->journal, or die.
 *  With CAIRN_OPEN_CREATE, missing parent directories are made (0700). */
void cli_open_journal(cli_ctx *ctx, unsigned flags);
/** Load the signer (--secret-key, $CAIRN_SECRET_KEY; password from
 *  $CAIRN_PASSWORD or /dev/tty), or note that the commit will be unsigned
 *  (warned once the command succeeds, never when it is refused).
 *  Call before cli_open_journal(); that function installs it. */
void cli_load_signer(cli_ctx *ctx);
/**
 * Open the journal as the command table says the running command does
 * (ctx->cmd->flags): CLI_WRITES loads the signer and opens read-write
 * (CLI_CREATES: creating the journal when missing), CLI_READS opens
 * read-only.  Dies like cli_open_journal().
 */
void cli_open(cli_ctx *ctx);
/**
 * Read a password from /dev/tty with echo off into @p buf (@p cap bytes,
 * NUL-terminated, newline removed).  SIGINT during the prompt exits 130.
 * @return 0; -1 when there is no terminal; -2 when the line is too long.
 */
int cli_tty_password(const char *prompt, char *buf, size_t cap);
/**
 * Resolve ctx->run once the journal is open (called by cli_open_journal();
 * cli_runs.c).  An exact run id always wins; `latest` is the run created
 * last; otherwise a prefix of exactly one run id stands for that id.  An
 * ambiguous prefix exits 2 naming the candidates; `latest` in a journal
 * without runs exits 2; a text matching nothing is left for the command to
 * report (no such run).
 */
void cli_resolve_run(cli_ctx *ctx);
/** Wipe a buffer that held a secret. */
void cli_wipe(void *buf, size_t len);
/**
 * The password given by --password-file FILE (FILE must be a regular
 * file only its owner can read, owned by the caller or root; "-" reads
 * standard input) or --password-fd N: its first line, into @p buf
 * (@p cap bytes).  Dies with exit 2 naming the file and the reason.
 * @return 1 when a password was read; 0 when neither option was given.
 */
int cli_option_password(const cli_ctx *ctx, char *buf, size_t cap);
/** Load the secret key at @p path, decrypting it with the password from
 *  --password-file/--password-fd, $CAIRN_PASSWORD or /dev/tty, but never
 *  from the kernel keyring (`cairn unlock` uses it).  Dies on failure. */
cairn_signer *cli_load_signer_decrypt(const cli_ctx *ctx, const char *path);

/* ---------------------------------------------------------------- */
/* The kernel keyring (cli_keyring.c).                               */

#define CLI_KEYRING_DESC_LEN (6 + 2 * CAIRN_KEY_TAG_BYTES + 1)
/** The key description "cairn:<tag hex>". */
void cli_keyring_name(const uint8_t tag[CAIRN_KEY_TAG_BYTES],
                      char out[CLI_KEYRING_DESC_LEN]);
/** Search the session, then the user keyring for the key of @p tag.
 *  @return 0 found (*serial); -1 none; -2 keyring unavailable (errno). */
int cli_keyring_find(const uint8_t tag[CAIRN_KEY_TAG_BYTES], int32_t *serial);
/** Read a key's 72-byte payload; 0 ok, -1 (errno) otherwise. */
int cli_keyring_read(int32_t serial, uint8_t out[CAIRN_SIGNER_SECRET_BYTES]);
/** File @p secret under @p tag in the session (or user) keyring with a
 *  timeout.  @return 0 ok (*serial); -1 failed (errno); -2 keyring
 *  unavailable (errno). */
int cli_keyring_add(const uint8_t tag[CAIRN_KEY_TAG_BYTES],
                    const uint8_t secret[CAIRN_SIGNER_SECRET_BYTES],
                    int user_ring, unsigned timeout_s, int32_t *serial);
/** Invalidate a key; 0 ok, -1 (errno) otherwise. */
int cli_keyring_remove(int32_t serial);

/* ---------------------------------------------------------------- */
/* Formatting (cli_format.c).                                        */

/** Lowercase hex of @p n bytes into @p out (2n + 1 bytes). */
void cli_hex(const uint8_t *in, size_t n, char *out);
/** A key id as minisign prints it: %016X of the little-endian keynum. */
void cli_key_id_hex(const uint8_t id[CAIRN_KEY_ID_BYTES], char out[17]);
/** RFC 3339 UTC with milliseconds ("2026-11-24T10:00:00.123Z"), or "-"
 *  for 0.  @p out has at least 32 bytes. */
void cli_time(uint64_t wall_ns, char *out, size_t out_len);
/** Now, in ns since the epoch (CLOCK_REALTIME). */
uint64_t cli_now_ns(void);
/**
 * Parse a point in time for --since: RFC 3339 UTC
 * ("2026-11-24T10:00:00Z", optional fraction) or a duration before now
 * ("90s", "10m", "2h", "1d", "1h30m", "500ms").
 * @return 0 and *ns; -1 when it is neither.
 */
int cli_parse_since(const char *text, uint64_t now_ns, uint64_t *ns);
/** Parse a point in time for --until of `hold`: RFC 3339 UTC, or a
 *  duration after now ("30d", "12h").  0 and *ns; -1 when neither (or
 *  the sum overflows). */
int cli_parse_until(const char *text, uint64_t now_ns, uint64_t *ns);
/** Parse a duration ("90s", "15m", "1h30m", "500ms") with
 *  cairn_duration_parse(), zero allowed (the caller checks its own
 *  range); 0 ok, -1 not one. */
int cli_parse_duration(const char *text, uint64_t *ns);
/** Write @p s to @p out, escaping quotes, backslashes and control bytes. */
void cli_put_escaped(FILE *out, const char *s);
/** vsnprintf() into @p dst[@p cap], cut short (always terminated) when it
 *  does not fit: for texts that may be shortened. */
__attribute__((format(printf, 3, 4))) void cli_textf(char *dst, size_t cap,
                                                     const char *fmt, ...);

/* ---------------------------------------------------------------- */
/* JSON (cli_json.c).                                                */

/** Set obj[key] = value (stolen); dies on allocation failure. */
void cli_jset(json_t *obj, const char *key, json_t *value);
/** Length of the valid UTF-8 sequence at NUL-terminated @p p (1..4), or 0
 *  when it is not one (overlong, surrogate, past U+10FFFF, truncated). */
size_t cli_utf8_len(const unsigned char *p);
/** A JSON string of @p s (invalid UTF-8 bytes become U+FFFD); never
 *  NULL.  @p s NULL gives null. */
json_t *cli_jstr(const char *s);
/** A string, or null when @p s is NULL or empty. */
json_t *cli_jstr_or_null(const char *s);
/** An unsigned integer (a decimal string above 2^63 - 1). */
json_t *cli_ju64(uint64_t v);
/** Hex of @p n bytes as a JSON string. */
json_t *cli_jhex(const uint8_t *in, size_t n);
/** RFC 3339 time, or null for 0. */
json_t *cli_jtime(uint64_t wall_ns);
/** Print @p value compactly on one line to stdout and release it. */
void cli_jprint(json_t *value);

/** The `status -o json` object (docs/DESIGN.md section 3). */
json_t *cli_json_summary(const cairn_summary *s);
/** Add "activity", "holder" (null, or pid, host, since, verified) and
 *  "activity_detail" of @p h to @p o. */
void cli_json_activity(json_t *o, const cairn_run_holder *h);
/** One operation of a summary. */
json_t *cli_json_op(const cairn_op_view *op);
/** One record (`log -o json`); @p s (may be NULL) names operations. */
json_t *cli_json_record(const cairn_record_view *r, const cairn_summary *s);
/** A pruned run's tombstone as text lines ("pruned:", "removed:",
 *  "bundle:"). */
void cli_text_tombstone(FILE *out, const cairn_tombstone *t);
/** A pruned run's tombstone as JSON (what was removed, when, by whom, by
 *  which rule, the bundle's hash, size and location; positions as
 *  ranges). */
json_t *cli_json_tombstone(const cairn_tombstone *t);

/* ---------------------------------------------------------------- */
/* Text (cli_text.c).                                                */

/** The readable status block of a run, including loud in-doubt lines. */
void cli_text_summary(FILE *out, const cairn_summary *s);
/** The operation table of `show`. */
void cli_text_ops(FILE *out, const cairn_summary *s);
/** One `log` line for a record; @p s (may be NULL) names operations. */
void cli_text_record(FILE *out, const cairn_record_view *r,
                     const cairn_summary *s);
/** The `activity:` line of `status`: who works on the run. */
void cli_text_activity(FILE *out, const cairn_summary *s,
                       const cairn_run_holder *h);
/** The id of operation @p seq in @p s, or NULL. */
const char *cli_op_id(const cairn_summary *s, uint32_t seq);

/* ---------------------------------------------------------------- */
/* Why an operation failed (why.c).                                  */

/** At most this many last lines, and bytes, of a stderr tail are shown. */
#define CLI_TAIL_LINES 5
#define CLI_TAIL_BYTES 1024

/**
 * Print the last lines of a journaled stderr tail (@p tail, NULL or "":
 * nothing), each as "<indent>| <line>", control bytes as \xNN.
 * @return the number of lines printed.
 */
int cli_text_tail(FILE *out, const char *indent, const char *tail);

/** What the journal says about one operation's latest failure. */
typedef struct cli_why_op {
    int wanted;
    char *reason; /**< latest failure reason, or NULL */
    uint32_t reason_attempt;
    char *tail; /**< latest non-empty stderr tail, or NULL */
    uint32_t tail_attempt;
} cli_why_op;

typedef struct cli_why {
    cli_why_op *ops; /**< as the summary's ops (by sequence when it has
                          every op) */
    size_t n;
    const cairn_summary *s; /**< the summary loaded for (borrowed) */
} cli_why;

/**
 * Read the receipts and decisions of the failed and in-doubt operations
 * of @p s (or of operation @p only when it is >= 0) into @p w.  Free with
 * cli_why_free() whatever it returns.
 */
cairn_err cli_why_load(cairn_journal *journal, const cairn_summary *s,
                       int64_t only, cli_why *w);
void cli_why_free(cli_why *w);
/** Print, per wanted operation, a "failed:" or "in doubt:" line (when
 *  @p head) with the failure reason, then the stderr tail's last lines. */
void cli_why_text(FILE *out, const cairn_summary *s, const cli_why *w,
                  int head);

#endif
