/*
 * why.c - why an operation failed, in text: the last lines of the stderr
 * tail a receipt carries (evidence stderr_tail, or orphan_stderr_tail of a
 * decision about an in-doubt operation), escaped and bounded, for the
 * runner's failure line, `status` and `show --op`.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

/* Write @p n bytes of @p p, every control byte (and DEL) as \xNN, so that
 * nothing a command printed reaches the terminal as a control sequence. */
static void put_safe(FILE *out, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c < 0x20 || c == 0x7f) {
            fprintf(out, "\\x%02x", c);
        } else {
            fputc(c, out);
        }
    }
}

int cli_text_tail(FILE *out, const char *indent, const char *tail)
{
    size_t len = tail != NULL ? strlen(tail) : 0;
    size_t start, lines = 0, i;

    /* Ignore trailing newlines and carriage returns. */
    while (len > 0 && (tail[len - 1] == '\n' || tail[len - 1] == '\r')) {
        len--;
    }
    if (len == 0) {
        return 0;
    }
    /* The last CLI_TAIL_LINES lines, at most CLI_TAIL_BYTES bytes. */
    start = len > CLI_TAIL_BYTES ? len - CLI_TAIL_BYTES : 0;
    for (i = len; i > start; i--) {
        if (tail[i - 1] == '\n') {
            if (++lines == CLI_TAIL_LINES) {
                start = i;
                break;
            }
        }
    }
    /* Cut at a line start when the byte bound fell inside a line. */
    if (start > 0 && tail[start - 1] != '\n') {
        const char *nl = memchr(tail + start, '\n', len - start);
        if (nl != NULL) {
            start = (size_t)(nl - tail) + 1;
        }
    }
    lines = 0;
    for (i = start; i < len;) {
        const char *nl = memchr(tail + i, '\n', len - i);
        size_t end = nl != NULL ? (size_t)(nl - tail) : len;
        size_t n = end - i;
        if (n > 0 && tail[i + n - 1] == '\r') {
            n--;
        }
        fprintf(out, "%s| ", indent);
        put_safe(out, tail + i, n);
        fputc('\n', out);
        lines++;
        i = end + 1;
    }
    return (int)lines;
}

void cli_why_free(cli_why *w)
{
    if (w == NULL || w->ops == NULL) {
        return;
    }
    for (size_t i = 0; i < w->n; i++) {
        free(w->ops[i].reason);
        free(w->ops[i].tail);
    }
    free(w->ops);
    w->ops = NULL;
    w->n = 0;
}

static char *dup_or_die(const char *s)
{
    char *p = strdup(s != NULL ? s : "");
    if (p == NULL) {
        cli_die_nomem();
    }
    return p;
}

static const char *find_kv(const cairn_kv *kv, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(kv[i].key, key) == 0) {
            return kv[i].value;
        }
    }
    return NULL;
}

static int why_record(void *arg, const cairn_record_view *r)
{
    cli_why *w = arg;
    cli_why_op *o;
    const char *tail;

    if (r->type != CAIRN_REC_RECEIPT && r->type != CAIRN_REC_RESOLVE) {
        return 0;
    }
    const cairn_op_view *v = cairn_summary_op(w->s, r->op);
    if (v == NULL || !w->ops[v - w->s->ops].wanted) {
        return 0;
    }
    o = &w->ops[v - w->s->ops];
    /* The latest failure's reason; the latest stderr that said anything. */
    if (r->outcome == CAIRN_OUTCOME_FAILED && r->reason != NULL &&
        r->reason[0] != '\0') {
        free(o->reason);
        o->reason = dup_or_die(r->reason);
        o->reason_attempt = r->attempt;
    }
    tail = find_kv(r->evidence, r->n_evidence, "stderr_tail");
    if (tail == NULL || tail[0] == '\0') {
        tail = find_kv(r->evidence, r->n_evidence, "orphan_stderr_tail");
    }
    if (tail != NULL && tail[0] != '\0') {
        free(o->tail);
        o->tail = dup_or_die(tail);
        o->tail_attempt = r->attempt;
    }
    return 0;
}

cairn_err cli_why_load(cairn_journal *journal, const cairn_summary *s,
                       int64_t only, cli_why *w)
{
    size_t i;
    int any = 0;

    memset(w, 0, sizeof(*w));
    if (s->n_ops == 0) {
        return CAIRN_OK;
    }
    w->ops = calloc(s->n_ops, sizeof(*w->ops));
    if (w->ops == NULL) {
        cli_die_nomem();
    }
    w->n = s->n_ops;
    w->s = s;
    for (i = 0; i < s->n_ops; i++) {
        const cairn_op_view *op = &s->ops[i];
        w->ops[i].wanted = only >= 0
                               ? (int64_t)op->seq == only
                               : op->state == CAIRN_OP_FAILED || op->in_doubt;
        any |= w->ops[i].wanted;
    }
    if (!any) {
        return CAIRN_OK;
    }
    return cairn_record_each(journal, s->run_id, 0, why_record, w);
}

/* "why:" lines of one operation; nothing when nothing was journaled. */
static void text_op(FILE *out, const cairn_op_view *op, const cli_why_op *o,
                    int head)
{
    uint32_t seq = op->seq;

    if (head) {
        fprintf(out, "%-13s#%u %s (%s)",
                op->in_doubt ? "in doubt:" : "failed:", seq, op->id,
                cairn_kind_name(op->kind));
        if (o->reason != NULL) {
            fprintf(out, ", attempt %u: ", o->reason_attempt);
            put_safe(out, o->reason, strlen(o->reason));
        }
        fputc('\n', out);
    }
    if (o->tail != NULL) {
        fprintf(out, "             stderr of attempt %u (last lines):\n",
                o->tail_attempt);
        (void)cli_text_tail(out, "             ", o->tail);
    }
}

void cli_why_text(FILE *out, const cairn_summary *s, const cli_why *w, int head)
{
    for (size_t i = 0; i < w->n && i < s->n_ops; i++) {
        if (w->ops[i].wanted &&
            (w->ops[i].reason != NULL || w->ops[i].tail != NULL)) {
            text_op(out, &s->ops[i], &w->ops[i], head);
        }
    }
}
