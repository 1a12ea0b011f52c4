/*
 * report_tables.c - the tables of a run on `cairn report`'s page:
 * operations, in-doubt windows and attempts, with the data- attributes
 * that scripts (and tests/cli/report_html.sh) read.
 */
#include "report.h"

#define NS_PER_MS 1000000ull

static void put_op_row(FILE *out, const rpt_run *run, const rpt_op *op)
{
    const cairn_op_view *v = op->view;
    uint32_t retries = v->attempt > 0 ? v->attempt - 1 : 0;

    fprintf(out, "<tr class=\"op st-%s\" data-seq=\"%u\" data-id=\"",
            cairn_op_state_name(v->state), v->seq);
    rpt_put_text(out, v->id);
    fprintf(out,
            "\" data-kind=\"%s\" data-state=\"%s\" data-attempts=\"%u\" "
            "data-retries=\"%u\" data-in-doubt=\"%d\"><td class=\"num\">%u"
            "</td><td>",
            cairn_kind_name(v->kind), cairn_op_state_name(v->state), v->attempt,
            retries, v->in_doubt, v->seq);
    rpt_put_text(out, v->id);
    fprintf(out, "</td><td>%s</td><td>", cairn_kind_name(v->kind));
    rpt_put_text(out, v->target);
    fprintf(out, "</td><td class=\"state\">%s%s</td><td class=\"num\">%u",
            cairn_op_state_name(v->state), v->in_doubt ? " IN DOUBT" : "",
            v->attempt);
    if (op->operator_retries > 0) {
        fprintf(out, " (%u by an operator)", op->operator_retries);
    }
    fputs("</td><td class=\"num\">", out);
    if (op->n_attempts > 0) {
        const rpt_attempt *a = &op->attempts[op->n_attempts - 1];
        rpt_put_duration(out, rpt_duration(&op->attempts[0].start,
                                           a->ended ? &a->end : &run->last));
    }
    fputs("</td></tr>\n", out);
}

void rpt_put_ops(FILE *out, const rpt_run *run)
{
    fputs("<h3>Operations</h3>\n<table class=\"ops\">\n<tr><th>#</th><th>id"
          "</th><th>kind</th><th>target</th><th>state</th><th>attempts</th>"
          "<th>first claim to last outcome</th></tr>\n",
          out);
    for (size_t i = 0; i < run->s->n_ops; i++) {
        put_op_row(out, run, &run->ops[i]);
    }
    fputs("</table>\n", out);
}

static void put_attempt(FILE *out, const rpt_run *run, const rpt_op *op,
                        const rpt_attempt *a)
{
    fprintf(out,
            "<tr class=\"attempt\" data-seq=\"%u\" data-attempt=\"%u\" "
            "data-outcome=\"%s\" data-resolved=\"%d\" data-ms=\"%llu\">"
            "<td class=\"num\">#%u</td><td>",
            op->view->seq, a->attempt, rpt_outcome_word(a), a->resolved,
            (unsigned long long)(rpt_duration(&a->start,
                                              a->ended ? &a->end : &run->last) /
                                 NS_PER_MS),
            op->view->seq);
    rpt_put_text(out, op->view->id);
    fprintf(out, "</td><td class=\"num\">%u%s</td><td class=\"t\">", a->attempt,
            a->claim_kind == CAIRN_CLAIM_NORMAL
                ? ""
                : (a->claim_kind == CAIRN_CLAIM_CONTAINMENT ? " containment"
                                                            : " cleanup"));
    rpt_put_time(out, a->start.wall_ns);
    fputs("</td><td class=\"num\">", out);
    rpt_put_duration(out,
                     rpt_duration(&a->start, a->ended ? &a->end : &run->last));
    fprintf(out, "</td><td class=\"%s\">%s", rpt_attempt_class(a),
            rpt_outcome_word(a));
    if (a->ended && a->error_class != CAIRN_CLASS_NONE) {
        fprintf(out, " (%s)", cairn_error_class_name(a->error_class));
    }
    if (a->resolved) {
        fputs(" &middot; resolved by ", out);
        rpt_put_text(out, a->actor[0] != '\0' ? a->actor : "?");
    }
    fputs("</td><td>", out);
    if (a->ended) {
        rpt_put_text(out, a->reason[0] != '\0' ? a->reason : a->status_text);
    }
    if (a->stderr_tail != NULL && a->outcome != CAIRN_OUTCOME_COMPLETED) {
        /* open for the attempt that left the operation failed */
        int last = a == &op->attempts[op->n_attempts - 1] &&
                   op->view->state == CAIRN_OP_FAILED;
        fprintf(out, "<details%s><summary>stderr (last lines)</summary><pre>",
                last ? " open" : "");
        rpt_put_text(out, a->stderr_tail);
        fputs("</pre></details>", out);
    }
    fputs("</td></tr>\n", out);
}

void rpt_put_attempts(FILE *out, const rpt_run *run)
{
    fputs("<h3>Attempts</h3>\n<table class=\"attempts\">\n<tr><th>#</th>"
          "<th>operation</th><th>attempt</th><th>claimed</th><th>took</th>"
          "<th>outcome</th><th>why</th></tr>\n",
          out);
    for (size_t i = 0; i < run->s->n_ops; i++) {
        const rpt_op *op = &run->ops[i];
        for (size_t k = 0; k < op->n_attempts; k++) {
            put_attempt(out, run, op, &op->attempts[k]);
        }
    }
    fputs("</table>\n", out);
}

void rpt_put_doubt(FILE *out, const rpt_run *run)
{
    int any = 0;

    fputs("<h3>In-doubt windows</h3>\n", out);
    for (size_t i = 0; i < run->s->n_ops; i++) {
        const rpt_op *op = &run->ops[i];
        for (size_t k = 0; k < op->n_attempts; k++) {
            const rpt_attempt *a = &op->attempts[k];
            int open =
                !a->ended && op->view->in_doubt && k + 1 == op->n_attempts;
            if (!a->resolved && !open) {
                continue;
            }
            if (!any) {
                fputs("<table class=\"doubt\">\n<tr><th>operation</th><th>"
                      "attempt</th><th>claimed</th><th>settled</th><th>"
                      "window</th></tr>\n",
                      out);
                any = 1;
            }
            fprintf(out,
                    "<tr class=\"in-doubt\" data-seq=\"%zu\" "
                    "data-attempt=\"%u\" data-open=\"%d\"><td>#%zu ",
                    i, a->attempt, open, i);
            rpt_put_text(out, op->view->id);
            fprintf(out, "</td><td class=\"num\">%u</td><td>", a->attempt);
            rpt_put_time(out, a->start.wall_ns);
            fputs("</td><td>", out);
            if (open) {
                fputs("<b class=\"alert\">STILL IN DOUBT</b>: decide with "
                      "<code>cairn resolve</code></td><td>",
                      out);
            } else {
                rpt_put_time(out, a->end.wall_ns);
                fputs(" (", out);
                rpt_put_text(out, rpt_outcome_word(a));
                fputs(")</td><td class=\"num\">", out);
                rpt_put_duration(out, rpt_duration(&a->start, &a->end));
            }
            fputs("</td></tr>\n", out);
        }
    }
    fputs(any ? "</table>\n"
              : "<p class=\"none\">No operation was ever in doubt.</p>\n",
          out);
}
