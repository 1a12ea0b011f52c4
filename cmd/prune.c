/*
 * prune.c - cairn prune: remove ended runs by retention rules, each one
 * archived to a verified bundle first and replaced by a signed prune
 * record (the tombstone) that `verify` accounts for.
 *
 *   cairn prune --archive DIR --reason TEXT [RULES] [--zstd] [--dry-run]
 *               [--confirm HASH] [--key PUB] [--secret-key KEY]
 *
 * Options and output here; the selection and the plan in prune_select.c;
 * archive, re-verify and the prune transaction in prune_archive.c.
 * Without --dry-run or --confirm the plan is executed as computed (a
 * timer can run it); --dry-run prints the plan and its SHA-256, and
 * --confirm HASH executes only a plan with that hash (exit 3 otherwise,
 * nothing done).
 */
#include "prune.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum {
    OPT_KEEP_LAST = CLI_OPT_FIRST_LOCAL,
    OPT_KEEP_WITHIN,
    OPT_KEEP_FAILED_WITHIN,
    OPT_MAX_SIZE,
    OPT_ARCHIVE,
    OPT_REASON,
    OPT_KEY,
    OPT_DRY_RUN,
    OPT_CONFIRM,
    OPT_ZSTD
};

#define TERMINAL_STATES                                                        \
    ((1u << CAIRN_RUN_COMPLETED) | (1u << CAIRN_RUN_FAILED) |                  \
     (1u << CAIRN_RUN_TIMED_OUT) | (1u << CAIRN_RUN_CANCELLED))

/* SIZE: digits and an optional binary unit (B, K/KiB, M/MiB, G/GiB,
 * T/TiB); 0 ok, -1 not a size. */
static int parse_size(const char *text, uint64_t *out)
{
    static const struct {
        const char *a, *b;
        unsigned shift;
    } units[] = {{"", "B", 0},
                 {"K", "KiB", 10},
                 {"M", "MiB", 20},
                 {"G", "GiB", 30},
                 {"T", "TiB", 40}};
    char *end;
    if (text[0] < '0' || text[0] > '9') {
        return -1;
    }
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0) {
        return -1;
    }
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(end, units[i].a) == 0 || strcmp(end, units[i].b) == 0) {
            if (v > (UINT64_MAX >> units[i].shift)) {
                return -1;
            }
            *out = (uint64_t)v << units[i].shift;
            return 0;
        }
    }
    return -1;
}

static void parse_duration(cli_ctx *ctx, const char *opt, const char *arg,
                           uint64_t *ns)
{
    if (cli_parse_duration(arg, ns) != 0 || *ns == 0) {
        cli_usage_error(ctx,
                        "%s: '%s' is not a duration above zero (units ms, s, "
                        "m, h, d: 7d, 36h, 1d12h)",
                        opt, arg);
    }
}

static void policy_text(const prune_policy *p, char *out, size_t cap)
{
    size_t len = 0;
    out[0] = '\0';
#define PUT(...)                                                               \
    do {                                                                       \
        if (len < cap) {                                                       \
            int w_ = snprintf(out + len, cap - len, __VA_ARGS__);              \
            len += w_ > 0 ? (size_t)w_ : 0;                                    \
        }                                                                      \
    } while (0)
    if (p->have_keep_last) {
        PUT("%skeep-last=%u", len ? ";" : "", p->keep_last);
    }
    if (p->keep_within_text != NULL) {
        PUT("%skeep-within=%s", len ? ";" : "", p->keep_within_text);
    }
    if (p->keep_failed_within_text != NULL) {
        PUT("%skeep-failed-within=%s", len ? ";" : "",
            p->keep_failed_within_text);
    }
    if (p->filter.states != 0) {
        PUT("%sstate=", len ? ";" : "");
        const char *sep = "";
        for (unsigned s = 1; s <= CAIRN_RUN_CANCELLED; s++) {
            if ((p->filter.states & (1u << s)) != 0) {
                PUT("%s%s", sep, cairn_run_state_name((cairn_run_state)s));
                sep = ",";
            }
        }
    }
    for (size_t i = 0; i < p->filter.n_plans; i++) {
        PUT("%s%s%s", i == 0 ? (len ? ";plan=" : "plan=") : ",",
            p->filter.plans[i], "");
    }
    if (p->have_max_size) {
        PUT("%smax-journal-size=%llu", len ? ";" : "",
            (unsigned long long)p->max_size);
    }
#undef PUT
}

static void parse_options(cli_ctx *ctx, int argc, char **argv, prune_policy *p)
{
    static const struct option longopts[] = {
        CLI_LONG_COMMON,
        CLI_LONG_WRITE,
        {"state", required_argument, NULL, CLI_OPT_FILTER_STATE},
        {"plan", required_argument, NULL, CLI_OPT_FILTER_PLAN},
        {"keep-last", required_argument, NULL, OPT_KEEP_LAST},
        {"keep-within", required_argument, NULL, OPT_KEEP_WITHIN},
        {"keep-failed-within", required_argument, NULL, OPT_KEEP_FAILED_WITHIN},
        {"max-journal-size", required_argument, NULL, OPT_MAX_SIZE},
        {"archive", required_argument, NULL, OPT_ARCHIVE},
        {"reason", required_argument, NULL, OPT_REASON},
        {"key", required_argument, NULL, OPT_KEY},
        {"dry-run", no_argument, NULL, OPT_DRY_RUN},
        {"confirm", required_argument, NULL, OPT_CONFIRM},
        {"zstd", no_argument, NULL, OPT_ZSTD},
        {0}};
    int c;
    cli_getopt_reset();
    while ((c = getopt_long(argc, argv, CLI_SHORT_COMMON, longopts, NULL)) !=
           -1) {
        switch (c) {
        case OPT_KEEP_LAST:
            p->keep_last = cli_parse_u32(ctx, "--keep-last", optarg);
            p->have_keep_last = 1;
            break;
        case OPT_KEEP_WITHIN:
            parse_duration(ctx, "--keep-within", optarg, &p->keep_within_ns);
            p->keep_within_text = optarg;
            break;
        case OPT_KEEP_FAILED_WITHIN:
            parse_duration(ctx, "--keep-failed-within", optarg,
                           &p->keep_failed_within_ns);
            p->keep_failed_within_text = optarg;
            break;
        case OPT_MAX_SIZE:
            if (parse_size(optarg, &p->max_size) != 0) {
                cli_usage_error(ctx,
                                "--max-journal-size: '%s' is not a size "
                                "(bytes, or with K, M, G, T: binary units)",
                                optarg);
            }
            p->max_size_text = optarg;
            p->have_max_size = 1;
            break;
        case OPT_ARCHIVE:
            p->archive = optarg;
            break;
        case OPT_REASON:
            p->reason = optarg;
            break;
        case OPT_KEY:
            p->key_path = optarg;
            break;
        case OPT_DRY_RUN:
            p->dry_run = 1;
            break;
        case OPT_CONFIRM:
            p->confirm = optarg;
            break;
        case OPT_ZSTD:
            p->zstd = 1;
            break;
        default:
            if (!cli_filter_option(ctx, &p->filter, c, optarg)) {
                (void)cli_common_option(ctx, c, optarg, argv);
            }
            break;
        }
    }
    cli_no_args(ctx, argc, argv);
}

static void check_options(cli_ctx *ctx, prune_policy *p)
{
    if ((p->filter.states & ~TERMINAL_STATES) != 0) {
        cli_usage_error(ctx, "--state: only ended runs are pruned (completed, "
                             "failed, timed-out, cancelled)");
    }
    if (!p->have_keep_last && p->keep_within_text == NULL &&
        p->keep_failed_within_text == NULL && p->filter.states == 0 &&
        !p->have_max_size) {
        cli_usage_error(ctx, "refusing an empty policy: give at least one of "
                             "--keep-last, --keep-within, "
                             "--keep-failed-within, --state, "
                             "--max-journal-size");
    }
    if (p->archive == NULL || p->archive[0] == '\0') {
        cli_usage_error(ctx, "--archive DIR is required: every pruned run is "
                             "archived to a verified bundle first");
    }
    if (p->reason == NULL || p->reason[0] == '\0') {
        cli_usage_error(ctx, "--reason TEXT is required (it is signed into "
                             "each prune record)");
    }
    if (p->dry_run && p->confirm != NULL) {
        cli_usage_error(ctx, "--dry-run and --confirm exclude each other");
    }
    if (p->confirm != NULL && strlen(p->confirm) != 2 * CAIRN_HASH_BYTES) {
        cli_usage_error(ctx,
                        "--confirm: '%s' is not a plan SHA-256 (64 hex "
                        "digits, from --dry-run)",
                        p->confirm);
    }
    char *abs = realpath(p->archive, NULL);
    if (abs == NULL) {
        cli_die(CLI_EXIT_USAGE, "prune: --archive %s: %s", p->archive,
                strerror(errno));
    }
    p->archive = abs;
    p->archive_owned = abs;
}

/* ---- the public key the copies are verified with -------------------- */

static void b64(const uint8_t *in, size_t n, char *out)
{
    static const char t[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        v |= i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0;
        v |= i + 2 < n ? in[i + 2] : 0;
        out[o++] = t[(v >> 18) & 63];
        out[o++] = t[(v >> 12) & 63];
        out[o++] = i + 1 < n ? t[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? t[v & 63] : '=';
    }
    out[o] = '\0';
}

static cairn_pubkey *load_key(cli_ctx *ctx, const prune_policy *p)
{
    uint8_t raw[2 + CAIRN_KEY_ID_BYTES + CAIRN_PUBLIC_KEY_BYTES];
    char text[80], detail[256];
    cairn_pubkey *key = NULL;
    if (p->key_path != NULL) {
        return cli_load_pubkey(p->key_path);
    }
    raw[0] = 'E';
    raw[1] = 'd';
    cairn_signer_key_id(ctx->signer, raw + 2);
    cairn_signer_public_key(ctx->signer, raw + 2 + CAIRN_KEY_ID_BYTES);
    b64(raw, sizeof(raw), text);
    if (cairn_pubkey_parse(text, &key, detail, sizeof(detail)) != CAIRN_OK) {
        cli_die(CLI_EXIT_ERROR, "prune: the signer's public key: %s", detail);
    }
    return key;
}

/* ---- output ----------------------------------------------------------- */

static const char *action_word(const prune_run *r)
{
    switch (r->verdict) {
    case PRUNE_SELECT:
        return r->outcome == 1   ? "pruned"
               : r->outcome == 2 ? "SKIPPED"
                                 : "prune";
    case PRUNE_KEEP:
        return "keep";
    case PRUNE_NOT_PRUNABLE:
        return "not-prunable";
    case PRUNE_DONE_BEFORE:
        return "pruned-before";
    case PRUNE_OUT_OF_SCOPE:
        return "out-of-scope";
    }
    return "?";
}

static void print_text(const prune_policy *p, const prune_set *set, int done)
{
    uint64_t n = 0, records = 0, bytes = 0;
    size_t counts[6] = {0};
    char size[32];
    for (size_t i = 0; i < set->n; i++) {
        const prune_run *r = &set->v[i];
        counts[r->verdict]++;
        if (r->verdict == PRUNE_DONE_BEFORE ||
            r->verdict == PRUNE_OUT_OF_SCOPE) {
            continue;
        }
        prune_bytes_text(r->bytes, size, sizeof(size));
        printf("%-13s %-32s %-20s %-10s ", action_word(r), r->run_id,
               r->plan_id,
               r->have_state ? cairn_run_state_name(r->state) : "-");
        if (r->verdict == PRUNE_SELECT) {
            n++;
            records += r->records;
            bytes += r->bytes;
            printf("%llu records, %s: %s\n", (unsigned long long)r->records,
                   size, r->why);
            printf("%-13s -> %s%s%s\n", "", r->bundle, r->note[0] ? ": " : "",
                   r->note);
        } else {
            printf("%s\n", r->why);
        }
    }
    prune_bytes_text(bytes, size, sizeof(size));
    printf("policy        : %s\n", set->policy_text);
    printf("archive       : %s/%s%s\n", p->archive, set->journal_id,
           p->zstd ? " (zstd bundles)" : "");
    printf("prune plan    : %llu runs, %llu records, %s of records\n",
           (unsigned long long)n, (unsigned long long)records, size);
    printf("plan sha256   : %s\n", set->plan_sha256);
    printf("runs          : %zu selected, %zu kept by a rule, %zu not "
           "prunable, %zu pruned before, %zu of other plans\n",
           counts[PRUNE_SELECT], counts[PRUNE_KEEP], counts[PRUNE_NOT_PRUNABLE],
           counts[PRUNE_DONE_BEFORE], counts[PRUNE_OUT_OF_SCOPE]);
    if (p->have_max_size) {
        char now[32], after[32];
        prune_bytes_text(set->journal_record_bytes, now, sizeof(now));
        prune_bytes_text(set->estimated_after, after, sizeof(after));
        printf("record bytes  : %s now, %s after (max-journal-size %s)%s\n",
               now, after, p->max_size_text,
               set->estimated_after > p->max_size
                   ? ": STILL OVER, the rest is kept or not prunable"
                   : "");
    }
    if (p->dry_run) {
        printf("dry run: nothing archived or pruned; execute exactly this "
               "plan with --confirm %s\n",
               set->plan_sha256);
    } else if (n == 0) {
        printf("nothing to prune\n");
    }
    (void)done;
}

static void print_json(const prune_policy *p, const prune_set *set)
{
    json_t *o = json_object(), *runs = json_array();
    size_t pruned = 0, skipped = 0;
    if (o == NULL || runs == NULL) {
        cli_die_nomem();
    }
    for (size_t i = 0; i < set->n; i++) {
        const prune_run *r = &set->v[i];
        json_t *x = json_object();
        if (x == NULL) {
            cli_die_nomem();
        }
        cli_jset(x, "run_id", cli_jstr(r->run_id));
        cli_jset(x, "plan_id", cli_jstr_or_null(r->plan_id));
        cli_jset(x, "state",
                 r->have_state ? cli_jstr(cairn_run_state_name(r->state))
                               : json_null());
        cli_jset(x, "action", cli_jstr(action_word(r)));
        cli_jset(x, "why", cli_jstr(r->why));
        if (r->verdict == PRUNE_SELECT && !p->dry_run) {
            cli_jset(x, "note", cli_jstr(r->note));
        }
        pruned += r->outcome == 1;
        skipped += r->outcome == 2;
        if (json_array_append_new(runs, x) != 0) {
            cli_die_nomem();
        }
    }
    cli_jset(o, "dry_run", json_boolean(p->dry_run));
    cli_jset(o, "plan_sha256", cli_jstr(set->plan_sha256));
    cli_jset(o, "plan", json_incref(set->plan));
    cli_jset(o, "runs", runs);
    if (p->have_max_size) {
        cli_jset(o, "record_bytes", cli_ju64(set->journal_record_bytes));
        cli_jset(o, "record_bytes_after", cli_ju64(set->estimated_after));
    }
    if (!p->dry_run) {
        cli_jset(o, "pruned", cli_ju64(pruned));
        cli_jset(o, "skipped", cli_ju64(skipped));
    }
    cli_jprint(o);
}

int cmd_prune(cli_ctx *ctx, int argc, char **argv)
{
    prune_policy p;
    prune_set set;
    memset(&p, 0, sizeof(p));
    memset(&set, 0, sizeof(set));
    parse_options(ctx, argc, argv, &p);
    check_options(ctx, &p);
    policy_text(&p, set.policy_text, sizeof(set.policy_text));
    if (p.dry_run) {
        cli_open_journal(ctx, CAIRN_OPEN_READONLY);
    } else {
        cli_load_signer(ctx);
        if (ctx->signer == NULL) {
            cli_usage_error(ctx, "pruning needs the journal's secret key "
                                 "(--secret-key or CAIRN_SECRET_KEY) to "
                                 "sign the bundles and prune records");
        }
        cli_open_journal(ctx, 0);
        uint8_t jid[CAIRN_JOURNAL_ID_BYTES];
        char hex[2 * CAIRN_JOURNAL_ID_BYTES + 1];
        cairn_journal_id(ctx->journal, jid);
        cli_hex(jid, sizeof(jid), hex);
        (void)prune_archive_lock(&p, hex); /* held until exit */
    }
    p.now_ns = cli_now_ns();
    /* Tests only: the "now" the ages are measured from, in ns since the
     * epoch, so that a test can age runs without waiting days. */
    const char *now = getenv("CAIRN_TEST_PRUNE_NOW");
    if (now != NULL && now[0] != '\0') {
        p.now_ns = strtoull(now, NULL, 10);
    }
    prune_select(ctx, &p, &set);
    prune_plan_build(&p, &set);
    if (p.confirm != NULL && strcasecmp(p.confirm, set.plan_sha256) != 0) {
        cli_die_code(CLI_EXIT_GATE, "CLI_EGATE", NULL,
                     "prune: the prune plan changed since the dry run (plan "
                     "sha256 now %s, --confirm %s): nothing done",
                     set.plan_sha256, p.confirm);
    }
    size_t skipped = 0;
    if (!p.dry_run) {
        cairn_pubkey *key = load_key(ctx, &p);
        skipped = prune_execute(ctx, &p, &set, key);
        cairn_pubkey_free(key);
    }
    if (ctx->format == CLI_JSON) {
        print_json(&p, &set);
    } else {
        print_text(&p, &set, !p.dry_run);
    }
    if (skipped > 0) {
        cli_report(CLI_EXIT_ERROR, "CLI_EERROR", NULL, NULL,
                   "prune: %zu run(s) kept because their archive or prune "
                   "failed (see SKIPPED above)",
                   skipped);
    }
    prune_set_free(&set);
    cli_filter_free(&p.filter);
    free(p.archive_owned);
    return skipped > 0 ? CLI_EXIT_ERROR : CLI_EXIT_OK;
}
