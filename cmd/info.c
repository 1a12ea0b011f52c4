/*
 * info.c - cairn info: facts about the journal directory.
 */
#include "cli.h"

#include <string.h>

static void print_text(const char *dir, const cairn_journal_info *in)
{
    char id[2 * CAIRN_JOURNAL_ID_BYTES + 1], created[40];
    cli_hex(in->journal_id, sizeof(in->journal_id), id);
    cli_time(in->created_ns, created, sizeof(created));
    printf("journal:     %s\n", dir);
    printf("id:          %s\n", id);
    printf("format:      %u\n", in->format);
    printf("created:     %s\n", created);
    printf("runs:        %llu\n", (unsigned long long)in->runs);
    printf("records:     %llu\n", (unsigned long long)in->records);
    printf("checkpoints: %llu\n", (unsigned long long)in->checkpoints);
    printf("lmdb:        map %llu bytes, page %llu bytes, %llu pages used, "
           "last txn %llu, %u reader%s\n",
           (unsigned long long)in->map_size, (unsigned long long)in->page_size,
           (unsigned long long)in->pages_used,
           (unsigned long long)in->last_txnid, in->readers,
           in->readers == 1 ? "" : "s");
}

static json_t *to_json(const char *dir, const cairn_journal_info *in)
{
    json_t *o = json_object();
    if (o == NULL) {
        cli_die_nomem();
    }
    cli_jset(o, "journal", cli_jstr(dir));
    cli_jset(o, "journal_id", cli_jhex(in->journal_id, sizeof(in->journal_id)));
    cli_jset(o, "format", cli_ju64(in->format));
    cli_jset(o, "created", cli_jtime(in->created_ns));
    cli_jset(o, "runs", cli_ju64(in->runs));
    cli_jset(o, "records", cli_ju64(in->records));
    cli_jset(o, "checkpoints", cli_ju64(in->checkpoints));
    cli_jset(o, "map_size", cli_ju64(in->map_size));
    cli_jset(o, "page_size", cli_ju64(in->page_size));
    cli_jset(o, "pages_used", cli_ju64(in->pages_used));
    cli_jset(o, "last_txnid", cli_ju64(in->last_txnid));
    cli_jset(o, "readers", cli_ju64(in->readers));
    return o;
}

int cmd_info(cli_ctx *ctx, int argc, char **argv)
{
    static const struct option longopts[] = {CLI_LONG_COMMON, {0}};
    cairn_journal_info in;
    int c;

    cli_getopt_reset();
    while ((c = getopt_long(argc, argv, CLI_SHORT_COMMON, longopts, NULL)) !=
           -1) {
        (void)cli_common_option(ctx, c, optarg, argv);
    }
    cli_no_args(ctx, argc, argv);
    cli_open(ctx);
    cairn_err err = cairn_journal_info_get(ctx->journal, &in);
    if (err != CAIRN_OK) {
        cli_die_run(ctx, err, NULL);
    }
    if (ctx->format == CLI_JSON) {
        cli_jprint(to_json(ctx->journal_dir, &in));
    } else {
        print_text(ctx->journal_dir, &in);
    }
    return CLI_EXIT_OK;
}
