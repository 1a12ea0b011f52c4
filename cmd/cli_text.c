/*
 * cli_text.c - the human-readable forms of summaries, operations and records.
 */
#include "cli.h"

#include <string.h>

const char *cli_op_id(const cairn_summary *s, uint32_t seq)
{
    const cairn_op_view *op = cairn_summary_op(s, seq);

    return op != NULL ? op->id : NULL;
}

static void line_progress(FILE *out, const cairn_summary *s)
{
    uint32_t done = s->counts[CAIRN_OP_COMPLETED] + s->counts[CAIRN_OP_SKIPPED];

    fprintf(out,
            "progress:    %u/%u done (%u completed, %u skipped), %u failed, "
            "%u pending, %u ready, %u blocked\n",
            done, s->total, s->counts[CAIRN_OP_COMPLETED],
            s->counts[CAIRN_OP_SKIPPED], s->counts[CAIRN_OP_FAILED],
            s->counts[CAIRN_OP_PENDING], s->counts[CAIRN_OP_READY],
            s->counts[CAIRN_OP_BLOCKED]);
}

static void line_next(FILE *out, const cairn_summary *s)
{
    const cairn_op_view *op = cairn_summary_op(s, s->next_seq);

    if (!s->has_next) {
        fputs("next:        none\n", out);
        return;
    }
    fprintf(out, "next:        #%u %s (%s) %s", s->next_seq,
            op != NULL ? op->id : "?",
            op != NULL ? cairn_kind_name(op->kind) : "?",
            cairn_op_state_name(s->next_state));
    /* Attempts count from 1: none before the first claim. */
    if (s->next_attempt > 0) {
        fprintf(out, ", attempt %u", s->next_attempt);
    }
    fputc('\n', out);
}

static void line_restart(FILE *out, const cairn_summary *s)
{
    size_t i;

    if (!s->restart_required) {
        fputs("restart:     not required\n", out);
        return;
    }
    fputs("restart:     REQUIRED for", out);
    for (i = 0; i < s->n_restart_targets; i++) {
        fprintf(out, "%s %s", i > 0 ? "," : "", s->restart_targets[i]);
    }
    fputc('\n', out);
}

static void lines_in_doubt(FILE *out, const cairn_summary *s)
{
    size_t i;

    for (i = 0; i < s->n_in_doubt; i++) {
        uint32_t seq = s->in_doubt[i];
        const cairn_op_view *op = cairn_summary_op(s, seq);
        fprintf(out, "IN DOUBT:    #%u %s (%s), attempt %u: its claimer", seq,
                op != NULL ? op->id : "?",
                op != NULL ? cairn_kind_name(op->kind) : "?",
                op != NULL ? op->attempt : 0);
        if (op != NULL && op->holder_pid != 0) {
            fprintf(out, " (pid %u)", op->holder_pid);
        }
        fputs(" is gone\n", out);
        if (s->next_action == CAIRN_NEXT_WAIT_COMMAND) {
            fputs("             but its command still runs (see command:): "
                  "wait for it to end,\n             then `cairn resume` "
                  "(do not resolve while it runs)\n",
                  out);
            continue;
        }
        fputs("             its effect may or may not have happened: check, "
              "then record it with\n",
              out);
        fprintf(out,
                "             cairn resolve %s --op %u --outcome "
                "completed|failed|skipped --reason TEXT\n",
                s->run_id, seq);
    }
}

static void line_signature(FILE *out, const cairn_summary *s)
{
    char kid[17];

    if (!s->signed_run) {
        fputs("signature:   UNSIGNED: this run will never verify\n", out);
        return;
    }
    cli_key_id_hex(s->key_id, kid);
    fprintf(out, "signature:   signed, key id %s\n", kid);
}

/* "held:" when a HOLD stands (with its until time, and whether it still
 * counts), "imported:" for a run imported from a bundle. */
static void line_hold(FILE *out, const cairn_summary *s)
{
    char when[40];

    if (s->imported) {
        fputs("imported:    yes (from a bundle; read-only)\n", out);
    }
    if (!s->held) {
        return;
    }
    cli_time(s->hold_ns, when, sizeof(when));
    fprintf(out, "held:        since %s", when);
    if (s->hold_actor[0] != '\0') {
        fputs(" by \"", out);
        cli_put_escaped(out, s->hold_actor);
        fputc('"', out);
    }
    if (s->hold_until_ns != 0) {
        cli_time(s->hold_until_ns, when, sizeof(when));
        fprintf(out, ", until %s%s", when,
                cairn_hold_active(s, cli_now_ns()) ? "" : " (expired)");
    }
    fputs("; reason \"", out);
    cli_put_escaped(out, s->hold_reason);
    fputs("\"\n", out);
}

void cli_text_tombstone(FILE *out, const cairn_tombstone *t)
{
    char when[40], hash[2 * CAIRN_HASH_BYTES + 1];
    cli_time(t->wall_ns, when, sizeof(when));
    fprintf(out, "pruned:      %s by %s, rule %s: ", when,
            t->actor[0] != '\0' ? t->actor : "(no actor)", t->rule);
    cli_put_escaped(out, t->reason);
    fprintf(out, "\nremoved:     %zu record(s); tombstone at position %llu\n",
            t->n_records, (unsigned long long)t->position);
    cli_hex(t->bundle_sha256, CAIRN_HASH_BYTES, hash);
    fprintf(out, "bundle:      sha256 %s, %llu bytes", hash,
            (unsigned long long)t->bundle_bytes);
    if (t->location[0] != '\0') {
        fputs(" at ", out);
        cli_put_escaped(out, t->location);
    }
    fputc('\n', out);
}

void cli_text_summary(FILE *out, const cairn_summary *s)
{
    char hash[2 * CAIRN_HASH_BYTES + 1];
    char created[40], updated[40];

    cli_hex(s->plan_hash, CAIRN_HASH_BYTES, hash);
    fprintf(out, "run:         %s\n", s->run_id);
    fprintf(out, "plan:        %s (sha256 %s)\n", s->plan_id, hash);
    fprintf(out, "state:       %s%s\n", s->pruned ? "pruned, was " : "",
            cairn_run_state_name(s->state));
    line_hold(out, s);
    fprintf(out, "stopped:     %s; next action: %s\n",
            cairn_stopped_reason_name(s->stopped_reason),
            cairn_next_action_name(s->next_action));
    if (s->preflight_accepted) {
        fprintf(out, "preflight:   accepted (id %s)\n", s->preflight_id);
    } else {
        fputs("preflight:   not accepted\n", out);
    }
    line_progress(out, s);
    line_next(out, s);
    line_restart(out, s);
    lines_in_doubt(out, s);
    fputs("watermarks:  last contiguous ", out);
    if (s->last_contiguous_seq >= 0) {
        fprintf(out, "#%lld", (long long)s->last_contiguous_seq);
    } else {
        fputs("none", out);
    }
    fputs(", last attempted ", out);
    if (s->last_attempted_seq >= 0) {
        fprintf(out, "#%lld\n", (long long)s->last_attempted_seq);
    } else {
        fputs("none\n", out);
    }
    cli_hex(s->head, CAIRN_HASH_BYTES, hash);
    fprintf(out, "records:     %llu, head %s\n", (unsigned long long)s->records,
            hash);
    line_signature(out, s);
    cli_time(s->created_ns, created, sizeof(created));
    cli_time(s->updated_ns, updated, sizeof(updated));
    fprintf(out, "created:     %s\nupdated:     %s\n", created, updated);
}

static int width(const char *s, int min)
{
    size_t n = strlen(s);
    return n > (size_t)min ? (n > 128 ? 128 : (int)n) : min;
}

void cli_text_ops(FILE *out, const cairn_summary *s)
{
    int wid = 2, wtarget = 6;
    size_t i;

    for (i = 0; i < s->n_ops; i++) {
        wid = width(s->ops[i].id, wid);
        wtarget = width(s->ops[i].target, wtarget);
    }
    fprintf(out, "%4s  %-*s  %-9s  %-*s  %-9s  %7s  %s\n", "SEQ", wid, "ID",
            "KIND", wtarget, "TARGET", "STATE", "ATTEMPT", "UPDATED");
    for (i = 0; i < s->n_ops; i++) {
        const cairn_op_view *op = &s->ops[i];
        char updated[40];
        cli_time(op->updated_ns, updated, sizeof(updated));
        char attempt[16] = "-"; /* no attempt yet */
        if (op->attempt > 0) {
            snprintf(attempt, sizeof(attempt), "%u", op->attempt);
        }
        fprintf(out, "%4u  %-*s  %-9s  %-*s  %-9s  %7s  %s\n", op->seq, wid,
                op->id, cairn_kind_name(op->kind), wtarget,
                op->target[0] != '\0' ? op->target : "-",
                op->in_doubt ? "IN-DOUBT" : cairn_op_state_name(op->state),
                attempt, updated);
    }
}

static void put_keys(FILE *out, const char *name, const cairn_kv *kv, size_t n)
{
    size_t i;

    if (n == 0) {
        return;
    }
    fprintf(out, " %s=", name);
    for (i = 0; i < n; i++) {
        if (i > 0) {
            fputc(',', out);
        }
        cli_put_escaped(out, kv[i].key);
    }
}

static void put_op(FILE *out, const cairn_record_view *r,
                   const cairn_summary *s)
{
    const char *id = cli_op_id(s, r->op);

    fprintf(out, " op=%u", r->op);
    if (id != NULL) {
        fprintf(out, "(%s)", id);
    }
    fprintf(out, " attempt=%u", r->attempt);
}

static void record_body(FILE *out, const cairn_record_view *r,
                        const cairn_summary *s)
{
    char hash[2 * CAIRN_HASH_BYTES + 1];

    switch (r->type) {
    case CAIRN_REC_CREATE:
        fprintf(out, " run=%s plan=%s", r->run_id != NULL ? r->run_id : "?",
                r->plan_id != NULL ? r->plan_id : "?");
        if (r->plan_hash != NULL) {
            cli_hex(r->plan_hash, CAIRN_HASH_BYTES, hash);
            fprintf(out, " plan_hash=%s", hash);
        }
        break;
    case CAIRN_REC_ACCEPT:
        fprintf(out, " preflight=%s",
                r->preflight_id != NULL ? r->preflight_id : "?");
        break;
    case CAIRN_REC_CLAIM:
        put_op(out, r, s);
        if (r->claim_kind != CAIRN_CLAIM_NORMAL) {
            fprintf(out, " kind=%s", cairn_claim_kind_name(r->claim_kind));
        }
        fprintf(out, " holder=%u@%s", r->holder_pid,
                r->host != NULL && r->host[0] != '\0' ? r->host : "?");
        break;
    case CAIRN_REC_RECEIPT:
    case CAIRN_REC_RESOLVE:
        put_op(out, r, s);
        fprintf(out, " outcome=%s",
                cairn_op_state_name((cairn_op_state)r->outcome));
        if (r->error_class != CAIRN_CLASS_NONE) {
            fprintf(out, " class=%s", cairn_error_class_name(r->error_class));
        }
        break;
    case CAIRN_REC_RETRY:
        put_op(out, r, s);
        break;
    case CAIRN_REC_CANCEL:
    case CAIRN_REC_TIMEOUT:
    case CAIRN_REC_RELEASE:
    case CAIRN_REC_ROTATE:
        break;
    case CAIRN_REC_HOLD:
        if (r->until_ns != 0) {
            char until[40];
            cli_time(r->until_ns, until, sizeof(until));
            fprintf(out, " until=%s", until);
        }
        break;
    case CAIRN_REC_PRUNE:
        if (r->tombstone != NULL) {
            char hex[2 * CAIRN_HASH_BYTES + 1];
            cli_hex(r->tombstone->bundle_sha256, CAIRN_HASH_BYTES, hex);
            fprintf(out, " rule=%s removed=%llu bundle=sha256:%s",
                    r->tombstone->rule,
                    (unsigned long long)r->tombstone->n_records, hex);
        }
        break;
    }
}

void cli_text_record(FILE *out, const cairn_record_view *r,
                     const cairn_summary *s)
{
    char when[40];

    cli_time(r->wall_ns, when, sizeof(when));
    fprintf(out, "%6llu  %s  %-16s", (unsigned long long)r->seq, when,
            cairn_record_type_name(r->type));
    record_body(out, r, s);
    if (r->actor != NULL && r->actor[0] != '\0') {
        fputs(" actor=\"", out);
        cli_put_escaped(out, r->actor);
        fputc('"', out);
    }
    if (r->reason != NULL && r->reason[0] != '\0') {
        fputs(" reason=\"", out);
        cli_put_escaped(out, r->reason);
        fputc('"', out);
    }
    put_keys(out, "outputs", r->outputs, r->n_outputs);
    put_keys(out, "evidence", r->evidence, r->n_evidence);
    fputc('\n', out);
}

void cli_text_activity(FILE *out, const cairn_summary *s,
                       const cairn_run_holder *h)
{
    char since[40];
    cli_time(h->since_ns, since, sizeof(since));
    switch (h->activity) {
    case CAIRN_ACTIVITY_ACTIVE:
        if (h->verified) {
            fprintf(out, "activity:    active: runner pid %u on %s since %s\n",
                    h->pid, h->host, since);
            return;
        }
        fputs("activity:    active: ", out);
        cli_put_escaped(out, h->detail);
        fputc('\n', out);
        return;
    case CAIRN_ACTIVITY_ABANDONED:
        fputs("activity:    ABANDONED: ", out);
        cli_put_escaped(out, h->detail);
        if (h->has_holder && h->since_ns != 0) {
            fprintf(out, " (it took the run at %s)", since);
        }
        if (s->next_action == CAIRN_NEXT_WAIT_COMMAND) {
            fputs("\n             nobody holds it, but its command still "
                  "runs: wait for it to end (see command:)\n",
                  out);
            return;
        }
        fprintf(out,
                "\n             nobody holds it now: take it over with the "
                "next action above\n             (`cairn resume %s`; "
                "`cairn resolve` for an operation in doubt)\n",
                s->run_id);
        return;
    case CAIRN_ACTIVITY_IDLE:
        fputs("activity:    idle: nobody holds the run\n", out);
        return;
    case CAIRN_ACTIVITY_ENDED:
        fputs("activity:    ended: nobody holds the run\n", out);
        return;
    }
}
