/*
 * create.c - cairn create PLAN: validate a plan and journal a new run.
 */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Read a plan from standard input (at most CAIRN_MAX_PLAN_BYTES). */
static cairn_err plan_from_stdin(const char *base, cairn_plan **out,
                                 char *detail, size_t detail_len)
{
    size_t cap = (size_t)CAIRN_MAX_PLAN_BYTES + 1;
    char *buf = malloc(cap);
    size_t len;
    cairn_err err;

    if (buf == NULL) {
        cli_die_nomem();
    }
    len = fread(buf, 1, cap, stdin);
    if (ferror(stdin)) {
        snprintf(detail, detail_len, "read: %s", strerror(errno));
        free(buf);
        return CAIRN_EIO;
    }
    if (len == cap) {
        snprintf(detail, detail_len, "larger than %u bytes",
                 (unsigned)CAIRN_MAX_PLAN_BYTES);
        free(buf);
        return CAIRN_EPLAN;
    }
    err = cairn_plan_parse_at(buf, len, base, out, detail, detail_len);
    free(buf);
    return err;
}

cairn_err cli_read_plan(const char *path, cairn_plan **out, char *detail,
                        size_t detail_len)
{
    char *base = getcwd(NULL, 0);
    cairn_err err;

    if (base == NULL) {
        snprintf(detail, detail_len,
                 "cannot record the working directory: getcwd: %s",
                 strerror(errno));
        return CAIRN_EIO;
    }
    if (strcmp(path, "-") == 0) {
        err = plan_from_stdin(base, out, detail, detail_len);
    } else {
        err = cairn_plan_load_at(path, base, out, detail, detail_len);
    }
    free(base);
    return err;
}

static cairn_plan *load_plan(const char *path)
{
    cairn_plan *plan = NULL;
    char detail[1024] = "";
    cairn_err err = cli_read_plan(path, &plan, detail, sizeof(detail));

    if (err == CAIRN_EPLAN) {
        cli_die(cairn_exit_code(err), "%s: %s", path,
                detail[0] != '\0' ? detail : cairn_strerror(err));
    }
    if (err != CAIRN_OK) {
        cli_die_err(err, path, detail);
    }
    return plan;
}

int cmd_create(cli_ctx *ctx, int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_LONG_COMMON,
        CLI_LONG_WRITE,
        CLI_LONG_REMEMBER,
        CLI_LONG_HOOK,
        {"group-readable", no_argument, NULL, CLI_OPT_GROUP_READABLE},
        {0}};
    char run_id[CAIRN_MAX_ID + 1];
    char wanted[CAIRN_MAX_ID + 1] = "";
    cairn_actor_info who = {NULL, NULL};
    cairn_plan *plan;
    const char *path;
    cairn_err err;
    int c;

    cli_getopt_reset();
    while ((c = getopt_long(argc, argv, CLI_SHORT_COMMON, longopts, NULL)) !=
           -1) {
        if (!cli_common_option(ctx, c, optarg, argv)) {
            cli_usage_error(ctx, "unexpected option");
        }
    }
    path = cli_one_arg(ctx, argc, argv, "PLAN");
    /* Validate before touching the journal: an invalid plan writes
     * nothing, not even a new directory. */
    plan = load_plan(path);
    if (cairn_plan_run_id(plan) != NULL) {
        snprintf(wanted, sizeof(wanted), "%s", cairn_plan_run_id(plan));
    }
    cli_open(ctx);
    who.actor = cli_actor(ctx);
    err = cairn_run_create(ctx->journal, plan, &who, run_id, sizeof(run_id));
    cairn_plan_free(plan);
    if (err != CAIRN_OK) {
        cli_die_run(ctx, err, wanted[0] != '\0' ? wanted : path);
    }
    if (ctx->format == CLI_JSON) {
        json_t *o = json_object();
        if (o == NULL) {
            cli_die_nomem();
        }
        cli_jset(o, "run_id", cli_jstr(run_id));
        cli_jprint(o);
    } else {
        printf("%s\n", run_id);
    }
    cli_hook_fire(ctx, run_id, 0, 0);
    return CLI_EXIT_OK;
}
