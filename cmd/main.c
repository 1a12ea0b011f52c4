/*
 * main.c - cairn: global options and the command table.
 *
 *   cairn [-J DIR] [-o text|json] COMMAND [ARGS ...]
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

static int cmd_help(cli_ctx *ctx, int argc, char **argv);

/* Usage texts of the commands defined in this file. */
static const char usage_help[] = "usage: cairn help [COMMAND]\n"
                                 "\n"
                                 "Print the list of commands, or the usage "
                                 "of COMMAND.\n";

/*
 * The command table, in the order `cairn --help` lists them: name,
 * handler, what the command does to the journal (CLI_READS, CLI_WRITES,
 * CLI_CREATES: cli_open() opens it accordingly), summary, usage.
 */
static const cli_command commands[] = {
    {"create", cmd_create, CLI_WRITES | CLI_REMEMBERS | CLI_CREATES,
     "create a run of a plan; print its run id",
     "usage: cairn create [--secret-key FILE] [--actor NAME]\n"
     "                    [--group-readable] PLAN\n"
     "\n"
     "Validate PLAN (a JSON file, or - for standard input) and journal a new\n"
     "run of it.  Prints the run id ({\"run_id\": ...} with -o json).  A\n"
     "journal made now is private (0700/0600); --group-readable lets its\n"
     "group read it (0750/0640).\n"},
    {"accept-preflight", cmd_accept, CLI_WRITES | CLI_REMEMBERS,
     "accept the completed preflight of a run",
     "usage: cairn accept-preflight RUN --id ID [--reason TEXT]\n"
     "                              [--secret-key FILE] [--actor NAME]\n"},
    {"claim", cmd_claim, CLI_WRITES | CLI_REMEMBERS,
     "claim the next (or a given) operation",
     "usage: cairn claim RUN [--op SEQ] [--holder-pid PID]\n"
     "                   [--containment | --cleanup]\n"
     "                   [--secret-key FILE] [--actor NAME]\n"
     "\n"
     "Mark an operation pending before its effect starts; prints its\n"
     "sequence ({\"seq\":N,\"id\":\"...\",\"attempt\":K} with -o json).\n"
     "The holder (default: the parent process) is the process that does\n"
     "the work; when it is gone while the operation is pending, the\n"
     "operation is in doubt.\n"},
    {"complete", cmd_complete, CLI_WRITES | CLI_REMEMBERS,
     "record that an attempt completed",
     "usage: cairn complete RUN --op SEQ [--attempt N] [--id OPID]\n"
     "                      [--output KEY=VALUE ...] [--evidence KEY=VALUE "
     "...]\n"
     "                      [--secret-key FILE] [--actor NAME]\n"},
    {"fail", cmd_fail, CLI_WRITES | CLI_REMEMBERS,
     "record that an attempt failed",
     "usage: cairn fail RUN --op SEQ --reason TEXT "
     "[--class retryable|terminal]\n"
     "                  [--attempt N] [--id OPID] [--evidence KEY=VALUE ...]\n"
     "                  [--secret-key FILE] [--actor NAME]\n"
     "\n"
     "The class defaults to terminal.\n"},
    {"skip", cmd_skip, CLI_WRITES | CLI_REMEMBERS,
     "record that an attempt was skipped",
     "usage: cairn skip RUN --op SEQ --reason TEXT [--attempt N] [--id OPID]\n"
     "                  [--evidence KEY=VALUE ...]\n"
     "                  [--secret-key FILE] [--actor NAME]\n"},
    {"retry", cmd_retry, CLI_WRITES | CLI_REMEMBERS,
     "move a failed operation back to ready",
     "usage: cairn retry RUN --op SEQ --reason TEXT\n"
     "                   [--secret-key FILE] [--actor NAME]\n"
     "       cairn retry --all-failed --plan ID --reason TEXT\n"
     "                   [--secret-key FILE] [--actor NAME]\n"
     "\n"
     "--all-failed: retry the first failed operation of every run of plan\n"
     "ID that has not ended, one transition per run, one line per run.\n"
     "Exit: 0 when every retry was journaled (or none was needed), else the\n"
     "exit code of the first that failed.\n"},
    {"resolve", cmd_resolve, CLI_WRITES | CLI_REMEMBERS,
     "decide the outcome of an in-doubt operation",
     "usage: cairn resolve RUN --op SEQ --outcome completed|failed|skipped\n"
     "                     --reason TEXT [--class retryable|terminal]\n"
     "                     [--attempt N] [--id OPID]\n"
     "                     [--output KEY=VALUE ...] [--evidence KEY=VALUE "
     "...]\n"
     "                     [--secret-key FILE] [--actor NAME]\n"},
    {"cancel", cmd_cancel, CLI_WRITES | CLI_REMEMBERS,
     "end a run (cancelled, or timed out)",
     "usage: cairn cancel RUN [--reason TEXT] [--timed-out] [--timeout D]\n"
     "                    [--secret-key FILE] [--actor NAME]\n"
     "\n"
     "A run held by a live runner is stopped first: its runner (only once\n"
     "the kernel confirms it holds the run) gets SIGTERM, stops as on any\n"
     "SIGTERM (outcome journaled, containment done), and the cancel is\n"
     "recorded when it has let go.  --timeout D: wait at most D (default\n"
     "2m), then exit 5 with nothing recorded.\n"},
    {"hold", cmd_hold, CLI_WRITES | CLI_REMEMBERS, "keep a run from retention",
     "usage: cairn hold RUN --reason TEXT [--until TIME|DUR]\n"
     "                  [--secret-key FILE] [--actor NAME]\n"
     "\n"
     "Append a signed HOLD record to RUN: `cairn prune` refuses a held run\n"
     "(CAIRN_EHELD) until `cairn release`, or until TIME passes (RFC 3339\n"
     "UTC, or a duration from now: 30d, 12h); an expired hold no longer\n"
     "counts.  Any run state, ended runs included; the run itself is\n"
     "unchanged.  --reason: 1..1024 bytes, required.\n"
     "Exit: 0 held; 2 already held (release it first), no such run, an\n"
     "imported run, or usage; 5 locked by a live writer.\n"},
    {"release", cmd_release, CLI_WRITES | CLI_REMEMBERS,
     "lift the hold of a run",
     "usage: cairn release RUN --reason TEXT\n"
     "                     [--secret-key FILE] [--actor NAME]\n"
     "\n"
     "Append a signed RELEASE record to RUN, held or held until a time that\n"
     "passed.  Exit: 0 released; 2 not held, no such run, an imported run,\n"
     "or usage; 5 locked by a live writer.\n"},
    {"run", cmd_run, CLI_WRITES | CLI_REMEMBERS | CLI_CREATES,
     "create a run of a plan and execute it",
     "usage: cairn run PLAN|- [--manual-accept] [--max-steps N]\n"
     "                 [--shutdown-timeout D] [--heartbeat D] [--hook CMD]\n"
     "                 [-q|--quiet]\n"
     "                 [--dry-run] [--secret-key FILE] [--actor NAME]\n"
     "                 [--group-readable]\n"
     "\n"
     "Create a run of PLAN (\"-\": standard input; the current directory\n"
     "is recorded as the plan's working directory) and execute its\n"
     "operations in order: claim,\n"
     "run the command (own process group, clean environment, key=value\n"
     "outputs written to $CAIRN_OUTPUT), journal the receipt.  Prints the\n"
     "run id on stdout first, progress and the summary on stderr; with\n"
     "-o json, one JSON event per line on stdout, ending with\n"
     "{\"event\":\"summary\",...}.\n"
     "\n"
     "--manual-accept       stop once the preflight completed (exit 7) until\n"
     "                      `cairn accept-preflight`, then `cairn resume`\n"
     "--max-steps N         stop after N operations (exit 0, resume later)\n"
     "--shutdown-timeout D  after SIGINT/SIGTERM/SIGHUP, let the running\n"
     "                      command finish within D (default 30s); a second\n"
     "                      signal stops it at once; stopped targets are\n"
     "                      then restarted (containment) before exit 130\n"
     "--heartbeat D         show a line per D while a command runs (time,\n"
     "                      bytes, last output; default interval 10s,\n"
     "                      never journaled)\n"
     "--hook CMD            run `sh -c CMD` on every run state change, with\n"
     "                      CAIRN_RUN_STATE, CAIRN_NEXT_ACTION ... set\n"
     "                      (default: $CAIRN_HOOK; see cairn(1) HOOKS)\n"
     "-q, --quiet           print only the final summary\n"
     "--dry-run             print what would run; write nothing\n"
     "\n"
     "Exit: 0 completed (or --max-steps reached), 1 failed (containment and\n"
     "cleanup done), 2 invalid plan, run exists, or usage, 5 locked by\n"
     "another runner or a live command tree, 7 needs an operator, 130\n"
     "interrupted (outcome journaled).\n"},
    {"resume", cmd_resume, CLI_WRITES | CLI_REMEMBERS,
     "continue a run after a stop or a crash",
     "usage: cairn resume RUN [--if-needed] [--max-steps N]\n"
     "                    [--shutdown-timeout D] [--heartbeat D] [--hook CMD]\n"
     "                    [-q|--quiet] [--secret-key FILE] [--actor NAME]\n"
     "\n"
     "Continue RUN with the plan stored in its first record.  An operation\n"
     "left in doubt by a dead runner is settled by its probe, run again if\n"
     "it is idempotent, and otherwise left for `cairn resolve` (exit 7).  A\n"
     "failed (retryable) operation is tried again; a halted run gets the\n"
     "containment and cleanup it still owes.  Options and exit codes as for\n"
     "`cairn run`; a run that had already ended (completed, cancelled or\n"
     "timed out; any containment it owed done) exits 3, \"nothing to do\".\n"
     "\n"
     "--if-needed           exit 0 with a one-line note when the run had\n"
     "                      already ended (for cron and timers); 7 still\n"
     "                      when a target stays stopped or an operation is\n"
     "                      in doubt\n"},
    {"list", cmd_list, CLI_READS, "list the runs of the journal",
     "usage: cairn list [--state S[,S...]] [--plan ID] [--target T]\n"
     "                  [--since TIME] [--until TIME] [--attention] [--held]\n"
     "\n"
     "One line per run: run id, plan id, state, activity (active pid N,\n"
     "ABANDONED, idle, ended), done/total, last update.\n"
     "--state S    runs in state S (awaiting-preflight, running, completed,\n"
     "             failed, needs-attention, timed-out, cancelled)\n"
     "--plan ID    runs of plan ID\n"
     "--target T   runs whose plan has an operation on target T\n"
     "--since, --until TIME  runs created then or later / earlier: RFC 3339\n"
     "             UTC (2026-11-24T10:00:00Z) or a duration ago (7d, 2h)\n"
     "--attention  runs that need an operator (failed, needs-attention, an\n"
     "             operation in doubt, a target to restart)\n"
     "--held       runs held by `cairn hold` (a hold that still counts)\n"
     "Repeated options of one kind match any of their values; different\n"
     "options must all match.  RUN arguments of every command also take\n"
     "`latest` (the run created last) or a unique prefix of a run id.\n"},
    {"status", cmd_status, CLI_READS, "print the resume summary of a run",
     "usage: cairn status RUN [--require-complete] [--require-no-attention]\n"
     "\n"
     "--require-complete      exit 3 unless the run completed and no target\n"
     "                        needs a restart\n"
     "--require-no-attention  exit 3 if the run is failed or needs "
     "attention,\n"
     "                        an operation is in doubt, a target needs a\n"
     "                        restart, or the run is abandoned\n"},
    {"show", cmd_show, CLI_READS, "print a run and its operations",
     "usage: cairn show RUN [--op SEQ]\n"
     "\n"
     "With --op, print that operation and every record about it.\n"},
    {"log", cmd_log, CLI_READS, "print the records of a run",
     "usage: cairn log RUN [-f|--follow] [--since TIME] [--type T[,T...]]\n"
     "                 [--op SEQ|ID] [--actor NAME]\n"
     "\n"
     "TIME is RFC 3339 (2026-11-24T10:00:00Z) or a duration ago (10m, 2h).\n"
     "--type: records of these types (create, accept-preflight, claim,\n"
     "receipt, retry, resolve, cancel, timeout, hold, release); --op:\n"
     "records about that operation; --actor: records written by NAME.\n"
     "--follow polls for new records every 200 ms until interrupted.\n"},
    {"keygen", cmd_keygen, 0, "write a new minisign key pair",
     "usage: cairn keygen -p PUBFILE -s SECFILE [--no-password]\n"
     "\n"
     "The password comes from CAIRN_PASSWORD, else from two prompts on the\n"
     "terminal.  Existing files are never overwritten.\n"},
    {"verify", cmd_verify, CLI_READS, "verify runs against a pinned public key",
     "usage: cairn verify (RUN | --all [--jobs N]) [--key PUBFILE]\n"
     "                    [--anchor FILE]...\n\nCheck "
     "a run, or "
     "every run and the directory's structure (--all):\nrecord encoding, the "
     "hash chain from the genesis hash, every\ncheckpoint and its signature "
     "under the pinned key, a replay of the\nstate machine against the "
     "materialised state, and that every record\nis sealed.  Without --key the "
     "verdict is at best INCOMPLETE.\nExit: 0 VERIFIED, 3 INCOMPLETE, 4 "
     "TAMPERED, 6 ERROR (with --all the\nworst: TAMPERED, ERROR, INCOMPLETE); "
     "2 for a bad key file.\n--jobs N: threads for --all (default 0: one "
     "per CPU).\n--key may be given several times: each run and the head "
     "are checked\nwith the pinned key they name; one signed by none of "
     "them is a key\nmismatch (INCOMPLETE, exit 3), not tampering.\n"
     "--anchor FILE: a checkpoint saved by `cairn checkpoint`; the\n"
     "journal must extend it (else TAMPERED: rollback, fork, other-journal;\n"
     "unverified without --key), and the report says how many records\n"
     "follow the newest anchor.  A malformed anchor file is exit 2.\n"
     "--witness-key VKEY (repeatable) [--min-witnesses N]: at least N\n"
     "(default 1) of these witnesses (`cairn witness --vkey`) must have a\n"
     "valid cosignature on an --anchor file the journal extends (fewer:\n"
     "INCOMPLETE; an invalid one: TAMPERED).\n"},
    {"checkpoint", cmd_checkpoint, CLI_READS,
     "print the journal's signed checkpoint (an anchor to keep off the host)",
     "usage: cairn checkpoint [--key PUBFILE] [--from OLD]\n"
     "\n"
     "Print the journal's current head verbatim: a C2SP tlog-checkpoint\n"
     "signed note (origin cairn/journal/<id>, records, log root, the\n"
     "cairn-state and cairn-time lines, the Ed25519 signature), so that\n"
     "`cairn checkpoint > anchor.note` saves an anchor for\n"
     "`cairn verify --anchor`.  --key checks the signature under PUBFILE\n"
     "first (exit 4 when the head is not signed by it); without --key a\n"
     "warning says it was not checked.  --from OLD prints a C2SP\n"
     "tlog-witness add-checkpoint request body instead: \"old OLD\", the\n"
     "consistency proof from size OLD to the head (base64 hashes, one a\n"
     "line, built from the stored tree nodes and checked against the\n"
     "head's root), an empty line and the note.  -o json: origin, size,\n"
     "root, runs, state_root, time, signed, key_id, note (and request).\n"
     "Exit 0; 1 an empty journal (no head yet); 2 OLD larger than the\n"
     "journal; 4 not signed by the key, or a bad head; 6 a format-1\n"
     "journal (`cairn migrate`).\n"},
    {"export", cmd_export, CLI_READS,
     "export a run as JSON, NDJSON or a signed bundle",
     "usage: cairn export RUN [-o json|ndjson] [--output-file FILE]\n       "
     "cairn export RUN --bundle FILE [--secret-key KEY] [--anchor A]...\n"
     "                         [--zstd]\n"
     "\njson (the default): "
     "one object with the run's records and\ncheckpoints; ndjson: one record "
     "per line.  --bundle verifies the run\nwith the key first, then writes "
     "FILE and FILE.minisig, which\n`minisign -V -p PUB -m FILE` checks.  "
     "From a format-2 journal the\nbundle (version 2) also carries the export "
     "time, the signed journal\nhead, the inclusion proof of the run's last "
     "record and the run's\nproven state, and FILE.tlog-proof (a C2SP "
     "tlog-proof) is written\ntoo.  --anchor A (repeatable): a checkpoint of "
     "the journal kept\noff the host; the bundle carries the consistency "
     "proof from it\n(exit 2: malformed or another journal's; exit 4: the "
     "journal is\nnot consistent with it).  --zstd stores FILE zstd-compressed "
     "(the\n.minisig signs it as stored).  Files are never overwritten.\nAn "
     "imported run (cairn import) "
     "writes its stored bundle back, byte\nfor byte, without a key.\n"},
    {"import", cmd_import, CLI_WRITES,
     "make a bundle's run readable in this journal",
     "usage: cairn import BUNDLE [--key PUBFILE] [--no-signature]\n"
     "\n"
     "Verify BUNDLE (and BUNDLE.minisig) with the checks of verify-bundle\n"
     "under the pinned key, then store it: its run answers list (marked\n"
     "IMPORTED), status, show, log, export --bundle (the stored bundle,\n"
     "byte for byte) and verify (which re-verifies the stored bundle under\n"
     "the key verify pins).  Imported runs are read-only: every transition\n"
     "on them exits 2 (CAIRN_EIMPORTED).  Anything but VERIFIED imports\n"
     "nothing.  Exit: 0 imported; 2 a run of that id exists, or usage; 3\n"
     "INCOMPLETE (no --key, or no .minisig without --no-signature); 4\n"
     "TAMPERED; 1 the bundle cannot be read.\n"},
    {"verify-bundle", cmd_verify_bundle, 0, "verify an exported bundle offline",
     "usage: cairn verify-bundle FILE [--key PUBFILE] [--no-signature]\n"
     "                           [--anchor A]...\n"
     "\n"
     "Verify a bundle without the journal, and its detached signature\n"
     "FILE.minisig (which names the record count and head, so that a bundle\n"
     "cut back to an earlier commit is caught).  A missing or unreadable\n"
     "FILE.minisig makes the verdict at best INCOMPLETE (exit 3) unless\n"
     "--no-signature says not to check it.  FILE must be a regular file of\n"
     "at most 1 GiB.  A version-2 bundle also proves its run's last record\n"
     "and state under the journal's signed head, and prints the export\n"
     "time and the run state; FILE.tlog-proof, when present, must match.\n"
     "--anchor A (repeatable): a newer checkpoint of the journal; a bundle\n"
     "that predates it is at best INCOMPLETE (re-export), one that is not\n"
     "consistent with it TAMPERED.  Exit codes as for verify.  --key may\n"
     "be repeated: the key the bundle names counts; a bundle of another\n"
     "key is a key mismatch (INCOMPLETE, exit 3).\n"},
    {"info", cmd_info, CLI_READS, "print facts about the journal directory",
     "usage: cairn info\n"
     "\n"
     "Journal id, format, creation time, counts of runs, records and\n"
     "checkpoints, and the LMDB map and page figures.\n"},
    {"stats", cmd_stats, CLI_READS, "print run and journal statistics",
     "usage: cairn stats [--prom FILE] [--state S] [--plan ID] [--target T]\n"
     "                   [--since TIME] [--until TIME] [--attention]\n"
     "\n"
     "Per plan and for all runs: runs by state, attempts, retries and\n"
     "failures with their rates, operations in doubt, and attempt durations\n"
     "(claim to receipt) per operation kind (p50, p95, max); the journal's\n"
     "size and growth per day.  The filters are those of `cairn list`.\n"
     "--prom FILE writes the Prometheus text format instead (node_exporter\n"
     "textfile collector), replacing FILE atomically; - for stdout.\n"},
    {"rotate-key", cmd_rotate_key, CLI_WRITES | CLI_REMEMBERS,
     "hand the journal over to a new signing key (signed by the old)",
     "usage: cairn rotate-key --new-secret-key FILE [--reason TEXT]\n"
     "                        [--secret-key FILE] [--actor NAME]\n"
     "\n"
     "Append a ROTATE record to the journal's signed history: it names the\n"
     "new key (key id and public key) and the position from which it signs,\n"
     "and is signed by the current key (--secret-key or CAIRN_SECRET_KEY)\n"
     "and by the new one (--new-secret-key, alias --new-key); that commit's\n"
     "head and everything after are signed by the new key.  Writers must\n"
     "then hold the new key (the old one is refused, exit 2, nothing\n"
     "written); runs still open continue under it; `verify --key` with the\n"
     "old or the new public key verifies through the rotation.  No other\n"
     "writer may have the journal open (exit 5).  Prints the key ids and\n"
     "the position.\n"
     "Exit: 0 rotated; 2 usage, bad key file, the key given is not the\n"
     "journal's, or the new key is the current one; 4 the journal does not\n"
     "verify under the current key; 5 another writer has it open.\n"},
    {"compact", cmd_compact, 0, "return the journal's free space to the disk",
     "usage: cairn compact [--dry-run]\n"
     "\n"
     "Rewrite data.mdb without its free pages (LMDB's compacting copy):\n"
     "the copy is written next to it, synced and compared with the journal\n"
     "(every key and value of every database) before it replaces data.mdb\n"
     "atomically.  The journal must be idle: exit 5 while a writer (run,\n"
     "resume, a transition) has it open, or when it is replaced, any\n"
     "process at all; writers that start meanwhile are refused (exit 5).\n"
     "Prints the size before and after.  --dry-run prints the bytes it\n"
     "would free and writes nothing.\n"},
    {"prune", cmd_prune, CLI_WRITES | CLI_REMEMBERS,
     "archive, then remove ended runs by retention rules (signed)",
     "usage: cairn prune --archive DIR --reason TEXT\n"
     "                   [--keep-last N] [--keep-within DUR]\n"
     "                   [--keep-failed-within DUR] [--state S[,S...]]\n"
     "                   [--plan ID ...] [--max-journal-size SIZE]\n"
     "                   [--zstd] [--dry-run | --confirm HASH] [--key PUB]\n"
     "                   [--secret-key FILE] [--actor NAME]\n"
     "\n"
     "Prune only ended runs (completed, failed, timed-out, cancelled) with\n"
     "nothing pending or in doubt, not held, not imported, not active.\n"
     "--keep-last N keeps the N newest ended runs of each plan;\n"
     "--keep-within DUR keeps runs that ended less than DUR ago (failed\n"
     "runs: --keep-failed-within DUR when given); --state selects only\n"
     "runs in these states; --plan limits prune to these plans;\n"
     "--max-journal-size prunes the oldest selected runs only until the\n"
     "journal's record bytes are under SIZE (K, M, G: binary units).  At\n"
     "least one rule is required.  Each run is exported to\n"
     "DIR/<journal id>/<run>.cairn (+ .minisig; with --zstd a zstd bundle,\n"
     "<run>.cairn.zst), the stored copy is verified with the journal's\n"
     "key (--key PUB, default the signer's), then one signed prune\n"
     "record replaces the run.  A run whose copy\n"
     "fails is kept (exit 1).  --dry-run prints the plan and its SHA-256;\n"
     "--confirm HASH executes only that plan (exit 3 if it changed).\n"
     "Without either the plan is executed as computed.  Every line names\n"
     "the rule that selected or kept the run, or why it is not prunable.\n"},
    {"watermark", cmd_watermark, CLI_READS,
     "where the previous runs of a plan stopped",
     "usage: cairn watermark PLAN_ID\n"
     "\n"
     "For an incremental plan generator: of the runs of PLAN_ID, newest\n"
     "first, the newest one that claimed an operation (its state, last\n"
     "contiguous done position and last attempted position, with the\n"
     "operations' ids) and the newest completed one.  Runs started by\n"
     "`cairn run`/`resume` get the same as CAIRN_PREV_* (their own run left\n"
     "out).  Exit 0, also when the plan has no runs.\n"},
    {"report", cmd_report, CLI_READS,
     "write an HTML page about a run or a plan's runs",
     "usage: cairn report RUN --html FILE [--key PUBFILE]\n"
     "       cairn report --plan PLAN_ID [--last N] --html FILE "
     "[--key PUBFILE]\n"
     "\n"
     "Write one self-contained HTML page (no script, nothing loaded from\n"
     "the network): the signature verdict and key id, each target's\n"
     "downtime, a timeline of the attempts, retries, in-doubt windows and\n"
     "why attempts failed.  --plan shows the last N runs of a plan (default\n"
     "10, newest first).  FILE is replaced atomically; \"-\" is stdout.\n"
     "Without --key the verdict is at best NOT VERIFIED.  Exit 0 once the\n"
     "page is written, whatever the verdict (use `cairn verify` to gate).\n"},
    {"salvage", cmd_salvage, 0, "export the intact runs of a damaged journal",
     "usage: cairn salvage SRC --bundles DIR --key PUB [--secret-key KEY]\n"
     "\n"
     "Read the journal SRC (never written: a private copy of data.mdb is\n"
     "read, in child processes that may die on a corrupt page) and export\n"
     "every run that verifies under PUB as DIR/RUN.cairn and\n"
     "DIR/RUN.cairn.minisig (DIR: new or empty), each checked again from\n"
     "the file.  Prints what was salvaged and what was lost (run, records,\n"
     "the first unreadable sequence, why).  Exit 0 when every run was\n"
     "salvaged, 6 when some were lost or the list of runs is unreadable,\n"
     "4 when a lost run is TAMPERED.\n"},
    {"migrate", cmd_migrate, 0,
     "build a format-2 journal from a format-1 journal",
     "usage: cairn migrate NEW --key PUB [--secret-key KEY]\n"
     "       cairn migrate NEW            (a journal of unsigned runs only)\n"
     "\n"
     "Read the format-1 journal (-J, CAIRN_DIR ...; never written), verify\n"
     "a private copy of it as `verify --all` does, and build the format-2\n"
     "journal NEW (new or empty) from that copy: the same journal id,\n"
     "records, run states and checkpoints, plus the log tree, the state\n"
     "map and one head signed with KEY.  Every run must verify under PUB\n"
     "and be signed by it.  Without --key only a journal whose runs are\n"
     "all unsigned migrates, to an unsigned (unsafe) journal.  Exit 0\n"
     "when NEW was made; 4 TAMPERED and 3 INCOMPLETE (nothing made);\n"
     "2 a run of another key, an unsigned run with --key, NEW holds a\n"
     "journal, or the journal is format 2 already.\n"},
    {"witness", cmd_witness, 0,
     "cosign a log checkpoint that extends the last one cosigned",
     "usage: cairn witness --secret-key KEY --name NAME --log-key PUB ...\n"
     "                     [--store DIR] [--output FILE] [--note] REQUEST|-\n"
     "       cairn witness --vkey --name NAME (--secret-key KEY | --key PUB)\n"
     "\n"
     "Read a C2SP tlog-witness add-checkpoint request (`old N`, the\n"
     "consistency proof lines, a blank line, the signed checkpoint; what\n"
     "`cairn checkpoint --from N` prints) from REQUEST or standard input\n"
     "(-), and cosign the checkpoint (C2SP tlog-cosignature v1) when it is\n"
     "signed by a --log-key (key name = its origin; the first key seen for\n"
     "an origin is pinned) and extends the checkpoint this witness cosigned\n"
     "last for its origin.  Prints the cosignature line (--note: the whole\n"
     "checkpoint with the line added) on standard output or into FILE,\n"
     "only after the new checkpoint is stored durably in the witness store\n"
     "(--store DIR, default $XDG_STATE_HOME/cairn-witness or\n"
     "~/.local/state/cairn-witness: an LMDB store of the user, writable by\n"
     "nobody else).\n"
     "\n"
     "--secret-key KEY  the witness's own minisign secret key (never a log\n"
     "                  key; --password-file/--password-fd, CAIRN_PASSWORD,\n"
     "                  `cairn unlock` as for any key)\n"
     "--name NAME       the witness's key name (no space or '+')\n"
     "--log-key PUB     a log it accepts: a minisign public key file, or a\n"
     "                  verifier key NAME+ID+KEY (type 0x01) whose name is\n"
     "                  the origin (repeatable)\n"
     "--vkey            print the witness's verifier key (type 0x04) for\n"
     "                  `cairn verify --witness-key`\n"
     "\n"
     "Exit: 0 cosigned; 2 bad request (malformed, old size above the\n"
     "checkpoint's, a proof of the wrong length); 3 the old size is not the\n"
     "size the witness cosigned last (that size is printed on standard\n"
     "output, -o json {\"size\":N}: ask again with it); 4 refused: no valid\n"
     "signature of an accepted log key (or of the key the origin is pinned\n"
     "to), a checkpoint smaller than the last cosigned (rollback), the same\n"
     "size with another root or a proof that does not hold (fork).\n"},
    {"unlock", cmd_unlock, 0,
     "keep a decrypted secret key in the kernel keyring",
     "usage: cairn unlock [--secret-key FILE] [--timeout D]\n"
     "                    [--keyring session|user]\n"
     "                    [--password-file FILE | --password-fd N]\n"
     "\n"
     "Decrypt the secret key (--secret-key or CAIRN_SECRET_KEY) once and\n"
     "keep it in the Linux kernel keyring (default: the session keyring)\n"
     "for D (default 15m, at most 7d): later commands that sign with that\n"
     "key file find it there and do not ask for the password.  The key is\n"
     "never written to a file.  Exit 1 when the keyring is unavailable.\n"},
    {"lock", cmd_lock, 0, "forget a key `cairn unlock` kept",
     "usage: cairn lock [--secret-key FILE]\n"
     "\n"
     "Invalidate the kernel keyring copy of the secret key (exit 0 also\n"
     "when there was none).\n"},
    {"help", cmd_help, 0, "print help for a command", usage_help},
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static const cli_command *find_command(const char *name)
{
    size_t i;

    for (i = 0; i < N_COMMANDS; i++) {
        if (strcmp(commands[i].name, name) == 0) {
            return &commands[i];
        }
    }
    return NULL;
}

static void print_main_usage(FILE *out)
{
    size_t i;

    fputs("usage: cairn [-J DIR] [-o text|json] COMMAND [ARGS ...]\n"
          "       cairn --help | --version | help COMMAND\n"
          "\n"
          "Global options (also accepted after the command):\n"
          "  -J, --journal DIR   journal directory (default: $CAIRN_DIR,\n"
          "                      $XDG_STATE_HOME/cairn, "
          "~/.local/state/cairn)\n"
          "  -o, --format FMT    text (default) or json\n"
          "      --json          same as -o json\n"
          "      --strict        refuse (exit 6) a journal others can write,\n"
          "                      and (exit 2) a secret key others can read\n"
          "\n"
          "Commands:\n",
          out);
    for (i = 0; i < N_COMMANDS; i++) {
        fprintf(out, "  %-18s %s\n", commands[i].name, commands[i].summary);
    }
    fputs("\nSee cairn(1) and `cairn COMMAND --help`.\n", out);
}

static int cmd_help(cli_ctx *ctx, int argc, char **argv)
{
    static const struct option longopts[] = {CLI_LONG_COMMON, {0}};
    const cli_command *cmd;
    int c;

    cli_getopt_reset();
    while ((c = getopt_long(argc, argv, CLI_SHORT_COMMON, longopts, NULL)) !=
           -1) {
        cli_common_option(ctx, c, optarg, argv);
    }
    if (optind >= argc) {
        print_main_usage(stdout);
        return CLI_EXIT_OK;
    }
    if (optind + 1 < argc) {
        cli_usage_error(ctx, "unexpected argument '%s'", argv[optind + 1]);
    }
    cmd = find_command(argv[optind]);
    if (cmd == NULL) {
        cli_die(CLI_EXIT_USAGE, "help: unknown command '%s'", argv[optind]);
    }
    cli_print_usage(cmd, stdout);
    return CLI_EXIT_OK;
}

/* Global options, before the command; returns the command's index. */
static int parse_global(cli_ctx *ctx, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {"journal", required_argument, NULL, 'J'},
        {"format", required_argument, NULL, 'o'},
        {"json", no_argument, NULL, CLI_OPT_JSON},
        {"strict", no_argument, NULL, CLI_OPT_STRICT},
        {0}};
    int c;

    opterr = 0;
    while ((c = getopt_long(argc, argv, "+:hVJ:o:", longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
            print_main_usage(stdout);
            cli_exit(CLI_EXIT_OK);
        case 'V':
            printf("cairn %s (journal format %d)\n", CAIRN_VERSION_STRING,
                   CAIRN_FORMAT_VERSION);
            cli_exit(CLI_EXIT_OK);
        case 'J':
            ctx->journal_opt = optarg;
            break;
        case 'o':
            if (cli_set_format(ctx, optarg) != 0) {
                cli_die(CLI_EXIT_USAGE,
                        "unknown output format '%s' (text, json)", optarg);
            }
            break;
        case CLI_OPT_JSON:
            ctx->format = CLI_JSON;
            break;
        case CLI_OPT_STRICT:
            ctx->strict = 1;
            break;
        case ':':
            cli_die(CLI_EXIT_USAGE, "option '%s' needs an argument",
                    argv[optind - 1]);
        default:
            cli_report(CLI_EXIT_USAGE, "CLI_EUSAGE", NULL, NULL,
                       "unknown option '%s'", argv[optind - 1]);
            if (ctx->format != CLI_JSON) {
                print_main_usage(stderr);
            }
            cli_exit(CLI_EXIT_USAGE);
        }
    }
    return optind;
}

/* -o json anywhere on the line makes even the errors found before it
 * is parsed (an unknown option earlier on the line) JSON. */
static void json_early(cli_ctx *ctx, int argc, char **argv)
{
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--json") == 0 || strcmp(a, "-ojson") == 0 ||
            strcmp(a, "--format=json") == 0 ||
            ((strcmp(a, "-o") == 0 || strcmp(a, "--format") == 0) &&
             i + 1 < argc && strcmp(argv[i + 1], "json") == 0)) {
            ctx->format = CLI_JSON;
        }
    }
}

int main(int argc, char **argv)
{
    cli_ctx ctx;
    const cli_command *cmd;
    int first;

    memset(&ctx, 0, sizeof(ctx));
    ctx.password_fd = -1;
    cli_init(&ctx);
    json_early(&ctx, argc, argv);
    first = parse_global(&ctx, argc, argv);
    if (first >= argc) {
        cli_report(CLI_EXIT_USAGE, "CLI_EUSAGE", NULL, NULL, "missing command");
        if (ctx.format != CLI_JSON) {
            print_main_usage(stderr);
        }
        cli_exit(CLI_EXIT_USAGE);
    }
    cmd = find_command(argv[first]);
    if (cmd == NULL) {
        cli_die(CLI_EXIT_USAGE, "unknown command '%s' (see cairn --help)",
                argv[first]);
    }
    ctx.cmd = cmd;
    cli_exit(cmd->handler(&ctx, argc - first, argv + first));
}
