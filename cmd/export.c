/*
 * export.c - cairn export RUN: the run as JSON (one object) or NDJSON (one
 * record per line), or as a signed bundle for offline verification.
 *
 *   cairn export RUN [-o json|ndjson] [--output-file FILE]
 *   cairn export RUN --bundle FILE [--secret-key KEY] [--anchor A]... [--zstd]
 *
 * -o/--format is the common output option; export also takes "ndjson"
 * (and treats the default "text" as json: records have no text form
 * here; `cairn log` prints them as text).  The output file is not -o FILE
 * because -o is the format everywhere.  The JSON object is streamed
 * record by record, so memory does not grow with the run.  An output file
 * is created exclusively (never replaced).
 */
#include "cli.h"
/* cairn_checkpoint_each(): in lib/verify/verify.h until it moves to cairn.h. */

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* snprintf into a fixed buffer, truncating quietly (reports are bounded). */
static void textf(char *dst, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void textf(char *dst, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(dst, cap, fmt, ap);
    va_end(ap);
}

enum {
    OPT_BUNDLE = CLI_OPT_FIRST_LOCAL,
    OPT_OUTPUT_FILE,
    OPT_ANCHOR,
    OPT_ZSTD
};

typedef struct export_out {
    FILE *f;
    const char *path; /* NULL: stdout */
    const cairn_summary *s;
    int ndjson;
    size_t n; /* items written in the current array */
} export_out;

static void put_value(export_out *x, json_t *v)
{
    char *text =
        json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
    json_decref(v);
    if (text == NULL) {
        cli_die_nomem();
    }
    fputs(text, x->f);
    free(text);
}

static int each_record(void *ctx, const cairn_record_view *r)
{
    export_out *x = ctx;
    if (!x->ndjson && x->n++ > 0) {
        fputc(',', x->f);
    }
    put_value(x, cli_json_record(r, x->s));
    if (x->ndjson) {
        fputc('\n', x->f);
    }
    return ferror(x->f) ? 1 : 0;
}

static int each_checkpoint(void *ctx, const cairn_checkpoint_view *cp)
{
    export_out *x = ctx;
    char kid[17];
    json_t *o = json_object();
    if (o == NULL) {
        cli_die_nomem();
    }
    cli_key_id_hex(cp->key_id, kid);
    cli_jset(o, "position", cli_ju64(cp->position));
    cli_jset(o, "seq", cli_ju64(cp->seq));
    cli_jset(o, "head", cli_jhex(cp->head, CAIRN_HASH_BYTES));
    cli_jset(o, "time", cli_jtime(cp->wall_ns));
    cli_jset(o, "wall_ns", cli_ju64(cp->wall_ns));
    cli_jset(o, "signed", json_boolean(cp->is_signed));
    cli_jset(o, "head_sealed", json_boolean(cp->head_sealed));
    cli_jset(o, "key_id",
             cp->is_signed || cp->head_sealed ? cli_jstr(kid) : json_null());
    cli_jset(o, "signature",
             cp->is_signed ? cli_jhex(cp->signature, CAIRN_SIGNATURE_BYTES)
                           : json_null());
    if (x->n++ > 0) {
        fputc(',', x->f);
    }
    put_value(x, o);
    return ferror(x->f) ? 1 : 0;
}

/* The object's fields before "records", without the closing brace. */
static void put_head(cli_ctx *ctx, export_out *x)
{
    const cairn_summary *s = x->s;
    uint8_t id[CAIRN_JOURNAL_ID_BYTES];
    char kid[17];
    char *text;
    json_t *o = json_object();
    if (o == NULL) {
        cli_die_nomem();
    }
    cairn_journal_id(ctx->journal, id);
    cli_key_id_hex(s->key_id, kid);
    cli_jset(o, "run_id", cli_jstr(s->run_id));
    cli_jset(o, "plan_id", cli_jstr(s->plan_id));
    cli_jset(o, "plan_hash", cli_jhex(s->plan_hash, CAIRN_HASH_BYTES));
    cli_jset(o, "journal_id", cli_jhex(id, CAIRN_JOURNAL_ID_BYTES));
    cli_jset(o, "key_id", s->signed_run ? cli_jstr(kid) : json_null());
    text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (text == NULL) {
        cli_die_nomem();
    }
    /* "{...}" without its final '}', then the arrays. */
    fwrite(text, 1, strlen(text) - 1, x->f);
    free(text);
}

static void walk(cli_ctx *ctx, export_out *x)
{
    const char *run = x->s->run_id;
    cairn_err err;
    if (!x->ndjson) {
        put_head(ctx, x);
        fputs(",\"records\":[", x->f);
    }
    x->n = 0;
    err = cairn_record_each(ctx->journal, run, 0, each_record, x);
    if (err == CAIRN_OK && !x->ndjson) {
        fputs("],\"checkpoints\":[", x->f);
        x->n = 0;
        err = cairn_checkpoint_each(ctx->journal, run, each_checkpoint, x);
        fputs("]}\n", x->f);
    }
    if (err != CAIRN_OK) {
        if (x->path != NULL) {
            fclose(x->f);
            unlink(x->path);
        }
        cli_die_run(ctx, err, run);
    }
}

static FILE *open_exclusive(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    FILE *f;
    if (fd < 0) {
        cli_die(errno == EEXIST ? CLI_EXIT_USAGE : CLI_EXIT_ERROR,
                "export: %s: %s%s", path, strerror(errno),
                errno == EEXIST ? " (never overwritten)" : "");
    }
    f = fdopen(fd, "w");
    if (f == NULL) {
        close(fd);
        cli_die_nomem();
    }
    return f;
}

static int export_text(cli_ctx *ctx, const char *run, int ndjson,
                       const char *path)
{
    cairn_summary *s = NULL;
    export_out x = {stdout, path, NULL, ndjson, 0};
    cairn_err err;
    cli_open(ctx);
    err = cairn_status(ctx->journal, run, &s);
    if (err != CAIRN_OK) {
        cli_die_run(ctx, err, run);
    }
    x.s = s;
    if (path != NULL) {
        x.f = open_exclusive(path);
    }
    walk(ctx, &x);
    cairn_summary_free(s);
    if (path != NULL) {
        int bad = ferror(x.f) || fflush(x.f) != 0 || fsync(fileno(x.f)) != 0;
        int e = errno;
        if (fclose(x.f) != 0 || bad) {
            unlink(path);
            cli_die(CLI_EXIT_ERROR, "export: %s: %s", path,
                    strerror(bad ? e : errno));
        }
    }
    return CLI_EXIT_OK;
}

/* An imported run: its stored bundle, byte for byte (no key needed). */
static int is_imported(cli_ctx *ctx, const char *run)
{
    cairn_summary *s = NULL;
    int imported =
        cairn_status(ctx->journal, run, &s) == CAIRN_OK && s->imported;
    cairn_summary_free(s);
    return imported;
}

static void bundle_json(const char *run, const char *path,
                        const cairn_export_result *res, int zstd)
{
    json_t *o = json_object();
    char sig[4200], tp[4200];
    if (o == NULL) {
        cli_die_nomem();
    }
    textf(sig, sizeof(sig), "%s.minisig", path);
    textf(tp, sizeof(tp), "%s.tlog-proof", path);
    cli_jset(o, "run_id", cli_jstr(run));
    cli_jset(o, "bundle", cli_jstr(path));
    cli_jset(o, "signature", cli_jstr(sig));
    cli_jset(o, "version", json_integer(res->version));
    cli_jset(o, "tlog_proof", res->tlog_proof ? cli_jstr(tp) : json_null());
    cli_jset(o, "exported_ns",
             res->version >= 2 ? cli_ju64(res->exported_ns) : json_null());
    cli_jset(o, "state",
             res->version >= 2 ? cli_jstr(cairn_run_state_name(res->state))
                               : json_null());
    cli_jset(o, "tree_size",
             res->version >= 2 ? cli_ju64(res->tree_size) : json_null());
    cli_jset(o, "bytes", cli_ju64(res->bytes));
    cli_jset(o, "raw_bytes", cli_ju64(res->raw_bytes));
    cli_jset(o, "zstd", json_boolean(zstd));
    cli_jprint(o);
}

static int export_bundle(cli_ctx *ctx, const char *run, const char *path,
                         cli_anchors *anchors, int zstd)
{
    const char *env = getenv("CAIRN_SECRET_KEY");
    cairn_export_opts opts = {zstd ? CAIRN_EXPORT_ZSTD : 0u,
                              (const char *const *)anchors->text, anchors->len,
                              anchors->n};
    cairn_export_result res;
    char when[64];
    cairn_err err;
    int have_key = ctx->secret_key != NULL || (env != NULL && env[0] != '\0');
    if (have_key) {
        cli_load_signer(ctx);
    }
    cli_open_journal(ctx, CAIRN_OPEN_READONLY);
    if (is_imported(ctx, run)) {
        /* Its stored bundle and .minisig, byte for byte: nothing to add. */
        if (anchors->n > 0 || zstd) {
            cli_usage_error(ctx,
                            "%s is an imported run: its stored bundle "
                            "is written back as it is (no --anchor, "
                            "no --zstd)",
                            run);
        }
        cli_anchors_free(anchors);
        err = cairn_import_export(ctx->journal, run, path);
        if (err != CAIRN_OK) {
            cli_die_run(ctx, err, run);
        }
        if (ctx->format == CLI_JSON) {
            json_t *o = json_object();
            char sig[4200];
            if (o == NULL) {
                cli_die_nomem();
            }
            textf(sig, sizeof(sig), "%s.minisig", path);
            cli_jset(o, "run_id", cli_jstr(run));
            cli_jset(o, "bundle", cli_jstr(path));
            cli_jset(o, "signature", cli_jstr(sig));
            cli_jset(o, "imported", json_true());
            cli_jprint(o);
        } else {
            printf("bundle      : %s (the imported run's stored bundle)\n"
                   "signature   : %s.minisig\n",
                   path, path);
        }
        return CLI_EXIT_OK;
    }
    if (!have_key) {
        cli_usage_error(ctx, "--bundle needs the run's secret key "
                             "(--secret-key or CAIRN_SECRET_KEY)");
    }
    err = cairn_export_bundle_opts(ctx->journal, run, ctx->signer, path, &opts,
                                   &res);
    cli_anchors_free(anchors);
    if (err != CAIRN_OK) {
        cli_die_run(ctx, err, run);
    }
    if (ctx->format == CLI_JSON) {
        bundle_json(run, path, &res, zstd);
        return CLI_EXIT_OK;
    }
    printf("bundle      : %s (version %u, %llu bytes", path, res.version,
           (unsigned long long)res.bytes);
    if (zstd) {
        printf(", zstd of %llu", (unsigned long long)res.raw_bytes);
    }
    fputs(")\n", stdout);
    printf("signature   : %s.minisig\n", path);
    if (res.version >= 2) {
        cli_time(res.exported_ns, when, sizeof(when));
        printf("tlog-proof  : %s.tlog-proof\n", path);
        printf("exported    : %s (%llu)\n", when,
               (unsigned long long)res.exported_ns);
        printf("run state   : %s\n", cairn_run_state_name(res.state));
        printf("journal head: %llu records\n",
               (unsigned long long)res.tree_size);
    }
    return CLI_EXIT_OK;
}

int cmd_export(cli_ctx *ctx, int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_LONG_COMMON,
        CLI_LONG_WRITE,
        {"bundle", required_argument, NULL, OPT_BUNDLE},
        {"output-file", required_argument, NULL, OPT_OUTPUT_FILE},
        {"anchor", required_argument, NULL, OPT_ANCHOR},
        {"zstd", no_argument, NULL, OPT_ZSTD},
        {0}};
    const char *bundle = NULL, *file = NULL, *run;
    cli_anchors anchors;
    int ndjson = 0, c, zstd = 0;

    memset(&anchors, 0, sizeof(anchors));
    cli_getopt_reset();
    while ((c = getopt_long(argc, argv, CLI_SHORT_COMMON, longopts, NULL)) !=
           -1) {
        if (c == 'o' && strcmp(optarg, "ndjson") == 0) {
            ndjson = 1;
            continue;
        }
        if (cli_common_option(ctx, c, optarg, argv)) {
            ndjson = c == 'o' ? 0 : ndjson;
            continue;
        }
        if (c == OPT_BUNDLE) {
            bundle = optarg;
        } else if (c == OPT_OUTPUT_FILE) {
            file = optarg;
        } else if (c == OPT_ANCHOR) {
            cli_anchors_add(&anchors, optarg);
        } else if (c == OPT_ZSTD) {
            zstd = 1;
        }
    }
    run = cli_one_arg(ctx, argc, argv, "RUN");
    if (bundle != NULL && (file != NULL || ndjson)) {
        cli_usage_error(ctx, "--bundle writes its own file: no ndjson or "
                             "--output-file with it");
    }
    if ((anchors.n > 0 || zstd) && bundle == NULL) {
        cli_usage_error(ctx, "--anchor and --zstd go with --bundle");
    }
    if (bundle != NULL) {
        return export_bundle(ctx, run, bundle, &anchors, zstd);
    }
    return export_text(ctx, run, ndjson, file);
}
