/*
 * export.c - cairn export RUN: the run as JSON (one object) or NDJSON (one
 * record per line), or as a signed bundle for offline verification.
 *
 *   cairn export RUN [-o json|ndjson] [--output-file FILE]
 *   cairn export RUN --bundle FILE [--secret-key KEY]
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

enum { OPT_BUNDLE = CLI_OPT_FIRST_LOCAL, OPT_OUTPUT_FILE };

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
    cli_jset(o, "key_id", cp->is_signed ? cli_jstr(kid) : json_null());
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

static int export_bundle(cli_ctx *ctx, const char *run, const char *path)
{
    const char *env = getenv("CAIRN_SECRET_KEY");
    cairn_err err;
    int have_key = ctx->secret_key != NULL || (env != NULL && env[0] != '\0');
    if (have_key) {
        cli_load_signer(ctx);
    }
    cli_open_journal(ctx, CAIRN_OPEN_READONLY);
    if (is_imported(ctx, run)) {
        err = cairn_import_export(ctx->journal, run, path);
    } else if (!have_key) {
        cli_usage_error(ctx, "--bundle needs the run's secret key "
                             "(--secret-key or CAIRN_SECRET_KEY)");
    } else {
        err = cairn_export_bundle(ctx->journal, run, ctx->signer, path);
    }
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
        cli_jprint(o);
    } else {
        printf("bundle      : %s\nsignature   : %s.minisig\n", path, path);
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
        {0}};
    const char *bundle = NULL, *file = NULL, *run;
    int ndjson = 0, c;

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
        }
    }
    run = cli_one_arg(ctx, argc, argv, "RUN");
    if (bundle != NULL && (file != NULL || ndjson)) {
        cli_usage_error(ctx, "--bundle writes its own file: no ndjson or "
                             "--output-file with it");
    }
    if (bundle != NULL) {
        return export_bundle(ctx, run, bundle);
    }
    return export_text(ctx, run, ndjson, file);
}
