/*
 * crash_acklog.c - parse the workload's ack log (format in crash.h).
 */
#include "crash.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

cr_run_log *cr_log_run(cr_log *log, const char *id, int create)
{
    for (size_t i = 0; i < log->n_runs; i++) {
        if (strcmp(log->runs[i].id, id) == 0) {
            return &log->runs[i];
        }
    }
    if (!create || strlen(id) > CAIRN_MAX_ID) {
        return NULL;
    }
    if (log->n_runs == log->cap) {
        size_t cap = log->cap ? log->cap * 2 : 16;
        cr_run_log *n = realloc(log->runs, cap * sizeof(*n));
        if (n == NULL) {
            return NULL;
        }
        log->runs = n;
        log->cap = cap;
    }
    cr_run_log *r = &log->runs[log->n_runs++];
    memset(r, 0, sizeof(*r));
    memcpy(r->id, id, strlen(id) + 1);
    return r;
}

static int unhex32(const char *s, uint8_t out[CAIRN_HASH_BYTES])
{
    for (size_t i = 0; i < CAIRN_HASH_BYTES; i++) {
        unsigned v;
        if (sscanf(s + 2 * i, "%2x", &v) != 1) {
            return -1;
        }
        out[i] = (uint8_t)v;
    }
    return s[2 * CAIRN_HASH_BYTES] == '\0' ? 0 : -1;
}

static int add_ack(cr_log *log, cr_run_log *r, uint64_t seq, const char *hex)
{
    if (r->n_acks == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 32;
        cr_ack *n = realloc(r->acks, cap * sizeof(*n));
        if (n == NULL) {
            return -1;
        }
        r->acks = n;
        r->cap = cap;
    }
    cr_ack *a = &r->acks[r->n_acks];
    a->seq = seq;
    a->order = log->n_acks;
    a->floor = r->floor;
    if (unhex32(hex, a->hash) != 0) {
        return -1;
    }
    r->n_acks++;
    return 0;
}

static void line_ack(cr_log *log, const char *run, const char *rest,
                     const char *line)
{
    unsigned long long seq;
    char hex[80];
    if (log->fired_now && log->ack_after_fault++ == 0) {
        snprintf(log->ack_after_fault_text, sizeof(log->ack_after_fault_text),
                 "%s", line);
    }
    log->in_flight = log->fired_now = 0;
    log->absorbed += log->await_first ? 1u : 0u;
    log->await_first = 0;
    if (strcmp(run, "-") == 0) {
        log->open_acked = 1;
        return;
    }
    int end = 0;
    /* Exactly "SEQ HASH": a SIGKILL can tear a line at a page boundary of
     * the log (write(2) stops between pages), and the next writer's line
     * then continues it; such a line is no acknowledgement. */
    if (sscanf(rest, "%llu %79s%n", &seq, hex, &end) != 2 ||
        rest[end] != '\0' || strlen(hex) != 2 * CAIRN_HASH_BYTES) {
        return;
    }
    cr_run_log *r = cr_log_run(log, run, 1);
    if (r != NULL && add_ack(log, r, seq, hex) == 0) {
        log->n_acks++;
    }
}

static void line_intent(cr_log *log, const char *run, const char *rest)
{
    unsigned long long n = strtoull(rest, NULL, 10);
    log->in_flight = 1;
    log->fired_now = 0;
    snprintf(log->last_run, sizeof(log->last_run), "%s", run);
    log->last_intent = n;
    log->n_intents++;
    if (strcmp(run, "-") != 0) {
        cr_run_log *r = cr_log_run(log, run, 1);
        if (r != NULL && n > r->max_intent) {
            r->max_intent = n;
        }
        if (r != NULL) {
            r->floor = log->n_acks;
        }
    }
}

/* "H SIZE ROOT" exactly (a torn line is no head). */
static void line_head(cr_log *log, const char *line)
{
    unsigned long long size;
    char hex[80];
    int end = 0;
    cr_head h;
    if (sscanf(line, "H %llu %79s%n", &size, hex, &end) != 2 ||
        line[end] != '\0' || unhex32(hex, h.root) != 0) {
        return;
    }
    h.size = size;
    if (log->n_heads == log->heads_cap) {
        size_t cap = log->heads_cap ? log->heads_cap * 2 : 64;
        cr_head *n = realloc(log->heads, cap * sizeof(*n));
        if (n == NULL) {
            return;
        }
        log->heads = n;
        log->heads_cap = cap;
    }
    log->heads[log->n_heads++] = h;
}

static void line_shim(cr_log *log, char tag, const char *run, const char *rest)
{
    if (tag == 'F') {
        log->fired++;
        /* An allocation failure may be absorbed: an OK after it is not
         * dishonest by itself (the audit checks what was stored). */
        log->fired_now = strcmp(run, "malloc") != 0;
        if (log->fault_kind[0] == '\0') {
            snprintf(log->fault_kind, sizeof(log->fault_kind), "%.15s", run);
            log->await_first = 1;
        }
        return;
    }
    log->killed++;
    char prev[32] = "";
    unsigned long long n;
    if (sscanf(rest, "%llu %31s", &n, prev) == 2 && strcmp(run, "meta") == 0 &&
        log->in_flight) {
        log->kill_prev_meta = 1;
        snprintf(log->kill_run, sizeof(log->kill_run), "%s", log->last_run);
        log->kill_intent = log->last_intent;
    }
}

static void parse_line(cr_log *log, char *line)
{
    char tag = line[0];
    char run[CAIRN_MAX_ID + 1] = "";
    const char *rest = "";
    if (tag == '\0' || line[1] != ' ') {
        return;
    }
    if (tag == 'X' && line[2] == '[') {
        if (log->tagged++ == 0) {
            size_t n = strcspn(line + 3, "]");
            snprintf(log->tag, sizeof(log->tag), "%.*s",
                     (int)(n < sizeof(log->tag) ? n : sizeof(log->tag) - 1),
                     line + 3);
            snprintf(log->first_tagged, sizeof(log->first_tagged), "%s",
                     line + 2);
        }
        return;
    }
    if (tag == 'H') {
        line_head(log, line);
        return;
    }
    if (tag == 'X') {
        if (log->anomalies++ == 0) {
            snprintf(log->first_anomaly, sizeof(log->first_anomaly), "%s",
                     line + 2);
        }
        return;
    }
    char *sp = strchr(line + 2, ' ');
    size_t n = sp != NULL ? (size_t)(sp - (line + 2)) : strlen(line + 2);
    if (n > CAIRN_MAX_ID) {
        return;
    }
    memcpy(run, line + 2, n);
    run[n] = '\0';
    rest = sp != NULL ? sp + 1 : "";
    switch (tag) {
    case 'I':
        line_intent(log, run, rest);
        break;
    case 'A':
        line_ack(log, run, rest, line);
        break;
    case 'E':
        log->n_errors++;
        snprintf(log->last_error, sizeof(log->last_error), "%s", rest);
        if (log->await_first) {
            log->await_first = 0;
            sscanf(rest, "%63s", log->first_fault_error);
        }
        log->in_flight = log->fired_now = 0;
        break;
    case 'F':
    case 'K':
        line_shim(log, tag, run, rest);
        break;
    default:
        break;
    }
}

void cr_log_feed(cr_log *log, char *line)
{
    parse_line(log, line);
}

int cr_log_load(const char *path, cr_log *log)
{
    memset(log, 0, sizeof(*log));
    size_t len = 0;
    char *text = cr_slurp(path, &len);
    if (text == NULL) {
        return 0;
    }
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        parse_line(log, line);
    }
    free(text);
    return 0;
}

void cr_log_free(cr_log *log)
{
    for (size_t i = 0; i < log->n_runs; i++) {
        free(log->runs[i].acks);
    }
    free(log->runs);
    free(log->heads);
    memset(log, 0, sizeof(*log));
}
