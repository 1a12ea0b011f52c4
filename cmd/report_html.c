/*
 * report_html.c - the self-contained HTML page of `cairn report`: inline
 * CSS, no script, no external resource (a Content-Security-Policy forbids
 * any), so it renders the same offline and in a mail attachment.
 *
 * Everything taken from the journal is escaped by rpt_put_text()
 * (report_text.c): the journal is untrusted, and a command's stderr
 * holding "<script>" must show as text.  The figures a test compares are
 * repeated in data- attributes (data-state, data-attempts, data-downtime-ms,
 * data-verdict ...).
 */
#include "report.h"

#include <string.h>

#define NS_PER_MS 1000000ull

/* The run's records span 0..TIMELINE_END percent of a lane; what is
 * still open (no outcome, a target still down) runs on to 100.  The
 * axis label of the last record sits at 96 % too (report_css.c). */
#define TIMELINE_END 96.0

/* Position of @p wall_ns on the run's timeline, in percent. */
static double pos(const rpt_run *run, uint64_t wall_ns)
{
    uint64_t t0 = run->first.wall_ns, t1 = run->last.wall_ns;
    if (wall_ns <= t0 || t1 <= t0) {
        return 0.0;
    }
    if (wall_ns >= t1) {
        return TIMELINE_END;
    }
    return (double)(wall_ns - t0) * TIMELINE_END / (double)(t1 - t0);
}

/* A bar from @p from to @p to, or to the lane's end when @p open. */
static void put_bar(FILE *out, const rpt_run *run, uint64_t from, uint64_t to,
                    int open, const char *cls, const char *title)
{
    double left = pos(run, from), right = open ? 100.0 : pos(run, to);
    fprintf(out,
            "<span class=\"bar %s\" style=\"left:%.3f%%;width:%.3f%%\" "
            "title=\"",
            cls, left, right > left ? right - left : 0.0);
    rpt_put_text(out, title);
    fputs("\"></span>", out);
}

/* ---- sections ------------------------------------------------------------ */

static void put_verdict(FILE *out, const rpt_run *run)
{
    const cairn_verify_report *v = &run->verify;
    const char *label = rpt_verdict_label(v);
    char kid[17] = "";

    if (run->s->signed_run) {
        cli_key_id_hex(run->s->key_id, kid);
    }
    fprintf(out,
            "<div class=\"verdict v-%s\" data-verdict=\"%s\" "
            "data-label=\"%s\" data-key-id=\"%s\">\n<b>Signature: %s</b> ",
            v->verdict == CAIRN_VERDICT_VERIFIED   ? "ok"
            : v->verdict == CAIRN_VERDICT_TAMPERED ? "bad"
                                                   : "warn",
            cairn_verdict_name(v->verdict), label, kid, label);
    if (run->s->signed_run) {
        fprintf(out, "&middot; run signed with key id <code>%s</code> ", kid);
    } else {
        fputs("&middot; the run is not signed: nothing proves its records "
              "unchanged ",
              out);
    }
    fprintf(out, "&middot; %llu records, %llu signatures valid",
            (unsigned long long)v->records,
            (unsigned long long)v->signatures_ok);
    if (v->head_sealed > 0) {
        fprintf(out, ", %llu checkpoints sealed by the journal head",
                (unsigned long long)v->head_sealed);
    }
    if (v->reason[0] != '\0') {
        fputs("<br>", out);
        rpt_put_text(out, v->reason);
    }
    fputs("\n</div>\n", out);
}

/* Why the run stopped at its next operation, when that one failed. */
static void put_why(FILE *out, const rpt_run *run)
{
    const cairn_summary *s = run->s;
    if (!s->has_next || s->next_seq >= s->n_ops ||
        s->ops[s->next_seq].state != CAIRN_OP_FAILED) {
        return;
    }
    const rpt_op *op = &run->ops[s->next_seq];
    const rpt_attempt *a =
        op->n_attempts > 0 ? &op->attempts[op->n_attempts - 1] : NULL;
    fprintf(out, "<dt>stopped at</dt><dd class=\"alert\">#%u ", s->next_seq);
    rpt_put_text(out, op->view->id);
    fprintf(out, " failed (%s)", cairn_error_class_name(op->view->last_class));
    if (a != NULL && a->ended) {
        fputs(": ", out);
        rpt_put_text(out, a->reason[0] != '\0' ? a->reason : a->status_text);
    }
    fputs("</dd>\n", out);
}

static void put_facts(FILE *out, const rpt_run *run)
{
    const cairn_summary *s = run->s;
    char hash[2 * CAIRN_HASH_BYTES + 1];

    cli_hex(s->plan_hash, CAIRN_HASH_BYTES, hash);
    fputs("<dl class=\"facts\">\n<dt>plan</dt><dd>", out);
    rpt_put_text(out, s->plan_id);
    fprintf(out, " <small>sha256 %s</small></dd>\n<dt>started</dt><dd>", hash);
    rpt_put_time(out, run->first.wall_ns);
    fputs("</dd>\n<dt>last record</dt><dd>", out);
    rpt_put_time(out, run->last.wall_ns);
    fputs(" (", out);
    rpt_put_duration(out, rpt_duration(&run->first, &run->last));
    fprintf(out,
            " after the start)</dd>\n<dt>operations</dt><dd>%u: %u "
            "completed, %u skipped, %u failed, %u pending, %u ready, %u "
            "blocked</dd>\n",
            s->total, s->counts[CAIRN_OP_COMPLETED],
            s->counts[CAIRN_OP_SKIPPED], s->counts[CAIRN_OP_FAILED],
            s->counts[CAIRN_OP_PENDING], s->counts[CAIRN_OP_READY],
            s->counts[CAIRN_OP_BLOCKED]);
    fprintf(out, "<dt>next action</dt><dd>%s</dd>\n",
            cairn_next_action_name(s->next_action));
    put_why(out, run);
    if (run->ended_by_record) {
        fprintf(out, "<dt>%s</dt><dd>",
                run->end_type == CAIRN_REC_TIMEOUT ? "timed out" : "cancelled");
        rpt_put_time(out, run->end_at.wall_ns);
        fputs(" ", out);
        rpt_put_text(out, run->end_reason);
        fputs("</dd>\n", out);
    }
    fputs("<dt>restart required</dt><dd>", out);
    for (size_t i = 0; i < s->n_restart_targets; i++) {
        fputs(i > 0 ? ", " : "<b class=\"alert\">YES: ", out);
        rpt_put_text(out, s->restart_targets[i]);
    }
    fputs(s->n_restart_targets > 0 ? "</b>" : "no", out);
    fputs("</dd>\n</dl>\n", out);
}

static void put_downtime(FILE *out, const rpt_run *run)
{
    fputs("<h3>Downtime</h3>\n", out);
    if (run->n_downtimes == 0) {
        fputs("<p class=\"none\">No target was stopped.</p>\n", out);
        return;
    }
    fputs("<table class=\"downtime\">\n<tr><th>target</th><th>down from (stop "
          "claimed)</th><th>up again (start completed)</th><th>downtime"
          "</th></tr>\n",
          out);
    for (size_t i = 0; i < run->n_downtimes; i++) {
        const rpt_downtime *d = &run->downtimes[i];
        fputs("<tr class=\"down\" data-target=\"", out);
        rpt_put_text(out, d->target);
        fprintf(out,
                "\" data-stop-seq=\"%u\" data-start-seq=\"%u\" "
                "data-downtime-ms=\"%llu\" data-open=\"%d\"><td>",
                d->stop_seq, d->start_seq,
                (unsigned long long)(d->ns / NS_PER_MS), d->open);
        rpt_put_text(out, d->target);
        fputs("</td><td>", out);
        rpt_put_time(out, d->from.wall_ns);
        fputs("</td><td>", out);
        if (d->open) {
            fputs("<b class=\"alert\">NOT STARTED</b>", out);
        } else {
            rpt_put_time(out, d->to.wall_ns);
        }
        fputs("</td><td class=\"num\">", out);
        fputs(d->open ? "at least " : "", out);
        rpt_put_duration(out, d->ns);
        fputs(d->open ? " (until the last record)" : "", out);
        fputs("</td></tr>\n", out);
    }
    fputs("</table>\n", out);
}

static void put_lane(FILE *out, const rpt_run *run, const rpt_op *op)
{
    for (size_t k = 0; k < op->n_attempts; k++) {
        const rpt_attempt *a = &op->attempts[k];
        char title[256];
        uint64_t end = a->ended ? a->end.wall_ns : run->last.wall_ns;
        snprintf(title, sizeof(title), "attempt %u: %s%s", a->attempt,
                 rpt_outcome_word(a),
                 a->resolved ? " (resolved after doubt)" : "");
        put_bar(out, run, a->start.wall_ns, end, !a->ended,
                rpt_attempt_class(a), title);
    }
}

static void put_timeline(FILE *out, const rpt_run *run)
{
    const cairn_summary *s = run->s;

    fputs("<h3>Timeline</h3>\n<div class=\"timeline\">\n<div class=\"row "
          "axis\"><span class=\"label\"></span><span class=\"lane\"><span "
          "class=\"t0\">",
          out);
    rpt_put_time(out, run->first.wall_ns);
    fputs("</span><span class=\"t1\">+", out);
    rpt_put_duration(out, rpt_duration(&run->first, &run->last));
    fputs("</span></span></div>\n", out);
    for (size_t i = 0; i < run->n_downtimes; i++) {
        const rpt_downtime *d = &run->downtimes[i];
        fputs("<div class=\"row\"><span class=\"label down\">", out);
        rpt_put_text(out, d->target);
        fputs(" down</span><span class=\"lane\">", out);
        put_bar(out, run, d->from.wall_ns, d->to.wall_ns, d->open,
                d->open ? "b-down b-open" : "b-down",
                d->open ? "down, not started again" : "downtime");
        fputs("</span></div>\n", out);
    }
    for (size_t i = 0; i < s->n_ops; i++) {
        fprintf(out, "<div class=\"row\"><span class=\"label\">#%zu ", i);
        rpt_put_text(out, s->ops[i].id);
        fputs("</span><span class=\"lane\">", out);
        put_lane(out, run, &run->ops[i]);
        fputs("</span></div>\n", out);
    }
    fputs("</div>\n<p class=\"legend\"><span class=\"key b-completed\"></span>"
          "completed <span class=\"key b-retryable\"></span>failed, retryable "
          "<span class=\"key b-terminal\"></span>failed, terminal <span "
          "class=\"key b-skipped\"></span>skipped <span class=\"key "
          "b-pending\"></span>no outcome yet <span class=\"key b-completed "
          "b-resolved\"></span>settled after doubt <span class=\"key "
          "b-down\"></span>target down</p>\n",
          out);
}

static void put_run(FILE *out, const rpt_run *run)
{
    const cairn_summary *s = run->s;

    fputs("<section class=\"run\" data-run-id=\"", out);
    rpt_put_text(out, s->run_id);
    fprintf(out, "\" data-state=\"%s\" data-records=\"%llu\">\n<h2>Run <code>",
            cairn_run_state_name(s->state), (unsigned long long)run->records);
    rpt_put_text(out, s->run_id);
    fprintf(out, "</code> <span class=\"state r-%s\">%s</span></h2>\n",
            cairn_run_state_name(s->state), cairn_run_state_name(s->state));
    put_verdict(out, run);
    put_facts(out, run);
    put_downtime(out, run);
    put_timeline(out, run);
    rpt_put_ops(out, run);
    rpt_put_doubt(out, run);
    rpt_put_attempts(out, run);
    fputs("</section>\n", out);
}

static void put_overview(FILE *out, const rpt_page *page)
{
    fputs("<table class=\"overview\">\n<tr><th>run</th><th>state</th><th>"
          "started</th><th>took</th><th>downtime</th><th>signature</th></tr>\n",
          out);
    for (size_t i = 0; i < page->n_runs; i++) {
        const rpt_run *run = &page->runs[i];
        fputs("<tr><td><code>", out);
        rpt_put_text(out, run->s->run_id);
        fprintf(out, "</code></td><td>%s</td><td>",
                cairn_run_state_name(run->s->state));
        rpt_put_time(out, run->first.wall_ns);
        fputs("</td><td class=\"num\">", out);
        rpt_put_duration(out, rpt_duration(&run->first, &run->last));
        fputs("</td><td>", out);
        for (size_t k = 0; k < run->n_downtimes; k++) {
            fputs(k > 0 ? "; " : "", out);
            rpt_put_text(out, run->downtimes[k].target);
            fputs(run->downtimes[k].open ? " at least " : " ", out);
            rpt_put_duration(out, run->downtimes[k].ns);
        }
        fprintf(out, "</td><td>%s</td></tr>\n",
                rpt_verdict_label(&run->verify));
    }
    fputs("</table>\n", out);
}

int rpt_write_html(FILE *out, const rpt_page *page)
{
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta "
          "charset=\"utf-8\">\n<meta http-equiv=\"Content-Security-Policy\" "
          "content=\"default-src 'none'; style-src 'unsafe-inline'\">\n"
          "<meta name=\"viewport\" content=\"width=device-width\">\n<title>"
          "cairn report: ",
          out);
    rpt_put_text(out, page->title_plan != NULL ? page->title_plan
                      : page->n_runs > 0       ? page->runs[0].s->run_id
                                               : "");
    fprintf(out,
            "</title>\n<style>%s</style>\n</head>\n<body>\n<header>"
            "<h1>cairn report",
            rpt_css);
    if (page->title_plan != NULL) {
        fputs(": plan <code>", out);
        rpt_put_text(out, page->title_plan);
        fprintf(out, "</code>, last %zu run%s", page->n_runs,
                page->n_runs == 1 ? "" : "s");
    }
    fputs("</h1>\n<p class=\"meta\">generated ", out);
    rpt_put_time(out, page->generated_ns);
    fputs(" by cairn " CAIRN_VERSION_STRING " &middot; ", out);
    if (page->key_pinned) {
        fprintf(out, "pinned key id <code>%s</code> (", page->key_id);
        rpt_put_text(out, page->fingerprint);
        fputs(")", out);
    } else {
        fputs("no public key given (<code>--key</code>): signatures not "
              "checked",
              out);
    }
    fputs("</p>\n</header>\n", out);
    if (page->title_plan != NULL) {
        put_overview(out, page);
    }
    for (size_t i = 0; i < page->n_runs; i++) {
        put_run(out, &page->runs[i]);
    }
    fputs("</body>\n</html>\n", out);
    return ferror(out) ? 1 : 0;
}
