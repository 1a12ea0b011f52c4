/*
 * compact.c - cairn compact: return a journal's free pages to the file
 * system (cairn_journal_compact()), or, with --dry-run, say how many
 * bytes that would free.
 */
#include "cli.h"

#include <string.h>

enum { OPT_DRY_RUN = CLI_OPT_FIRST_LOCAL };

static void print_text(const cairn_compact_result *r, int dry)
{
    uint64_t freed =
        r->size_before > r->size_after ? r->size_before - r->size_after : 0;
    if (dry) {
        printf("would free %llu bytes: data.mdb %llu bytes now, %llu bytes "
               "compacted (dry run: nothing written)\n",
               (unsigned long long)freed, (unsigned long long)r->size_before,
               (unsigned long long)r->size_after);
    } else {
        printf("freed %llu bytes: data.mdb %llu bytes before, %llu bytes "
               "after\n",
               (unsigned long long)freed, (unsigned long long)r->size_before,
               (unsigned long long)r->size_after);
    }
}

static json_t *to_json(const char *dir, const cairn_compact_result *r, int dry)
{
    json_t *o = json_object();
    if (o == NULL) {
        cli_die_nomem();
    }
    uint64_t freed =
        r->size_before > r->size_after ? r->size_before - r->size_after : 0;
    cli_jset(o, "journal", cli_jstr(dir));
    cli_jset(o, "dry_run", json_boolean(dry));
    cli_jset(o, "size_before", cli_ju64(r->size_before));
    cli_jset(o, "size_after", cli_ju64(r->size_after));
    cli_jset(o, "freed", cli_ju64(freed));
    cli_jset(o, "page_size", cli_ju64(r->page_size));
    return o;
}

int cmd_compact(cli_ctx *ctx, int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_LONG_COMMON, {"dry-run", no_argument, NULL, OPT_DRY_RUN}, {0}};
    int c, dry = 0;

    cli_getopt_reset();
    while ((c = getopt_long(argc, argv, CLI_SHORT_COMMON, longopts, NULL)) !=
           -1) {
        if (c == OPT_DRY_RUN) {
            dry = 1;
        } else {
            (void)cli_common_option(ctx, c, optarg, argv);
        }
    }
    cli_no_args(ctx, argc, argv);
    const char *dir = cli_journal_dir(ctx);
    cli_die_if_no_journal(dir);
    cairn_compact_result r;
    char detail[1024];
    cairn_err err = cairn_journal_compact(dir, dry ? CAIRN_COMPACT_DRY_RUN : 0,
                                          &r, detail, sizeof(detail));
    if (err != CAIRN_OK) {
        cli_die_code(cairn_exit_code(err), cairn_errname(err), dir,
                     "compact: %s", detail[0] ? detail : cairn_strerror(err));
    }
    if (ctx->format == CLI_JSON) {
        cli_jprint(to_json(dir, &r, dry));
    } else {
        print_text(&r, dry);
    }
    return CLI_EXIT_OK;
}
