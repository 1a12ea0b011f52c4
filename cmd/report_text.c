/*
 * report_text.c - escaping and the small figures of `cairn report`'s page:
 * every string from the journal goes through rpt_put_text().
 */
#include "report.h"

#include <string.h>

#define NS_PER_MS 1000000ull

/* ---- escaping ------------------------------------------------------------ */

/* @p s as HTML text or attribute value: & < > " ' as references, other
 * control bytes (but newline and tab) as \xNN, invalid UTF-8 as U+FFFD. */
void rpt_put_text(FILE *out, const char *s)
{
    const unsigned char *p = (const unsigned char *)(s != NULL ? s : "");

    while (*p != '\0') {
        size_t n = cli_utf8_len(p);
        switch (n == 1 ? *p : 0x100u) {
        case '&':
            fputs("&amp;", out);
            break;
        case '<':
            fputs("&lt;", out);
            break;
        case '>':
            fputs("&gt;", out);
            break;
        case '"':
            fputs("&quot;", out);
            break;
        case '\'':
            fputs("&#39;", out);
            break;
        default:
            if (n == 0) {
                fputs("\xef\xbf\xbd", out);
                n = 1;
            } else if (n == 1 && ((*p < 0x20 && *p != '\n' && *p != '\t') ||
                                  *p == 0x7f)) {
                fprintf(out, "\\x%02X", *p);
            } else {
                fwrite(p, 1, n, out);
            }
        }
        p += n == 0 ? 1 : n;
    }
}

/* ---- figures ------------------------------------------------------------- */

void rpt_put_duration(FILE *out, uint64_t ns)
{
    uint64_t ms = ns / NS_PER_MS;

    if (ms < 1000) {
        fprintf(out, "%llu ms", (unsigned long long)ms);
    } else if (ms < 60000) {
        fprintf(out, "%llu.%03llu s", (unsigned long long)(ms / 1000),
                (unsigned long long)(ms % 1000));
    } else if (ms < 3600000) {
        fprintf(out, "%llu min %llu s", (unsigned long long)(ms / 60000),
                (unsigned long long)(ms / 1000 % 60));
    } else {
        fprintf(out, "%llu h %llu min", (unsigned long long)(ms / 3600000),
                (unsigned long long)(ms / 60000 % 60));
    }
}

void rpt_put_time(FILE *out, uint64_t wall_ns)
{
    char buf[40];
    cli_time(wall_ns, buf, sizeof(buf));
    rpt_put_text(out, buf);
}

const char *rpt_attempt_class(const rpt_attempt *a)
{
    if (!a->ended) {
        return "b-pending";
    }
    switch (a->outcome) {
    case CAIRN_OUTCOME_COMPLETED:
        return a->resolved ? "b-completed b-resolved" : "b-completed";
    case CAIRN_OUTCOME_FAILED:
        if (a->error_class == CAIRN_CLASS_RETRYABLE) {
            return a->resolved ? "b-retryable b-resolved" : "b-retryable";
        }
        return a->resolved ? "b-terminal b-resolved" : "b-terminal";
    case CAIRN_OUTCOME_SKIPPED:
        return a->resolved ? "b-skipped b-resolved" : "b-skipped";
    }
    return "b-pending";
}

const char *rpt_outcome_word(const rpt_attempt *a)
{
    if (!a->ended) {
        return "pending";
    }
    return cairn_op_state_name((cairn_op_state)a->outcome);
}
