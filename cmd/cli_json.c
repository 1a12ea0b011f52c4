/*
 * cli_json.c - the stable JSON documents of the CLI (documented in cairn(1)).
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

void cli_jset(json_t *obj, const char *key, json_t *value)
{
    if (value == NULL || json_object_set_new(obj, key, value) != 0) {
        cli_die_nomem();
    }
}

static json_t *jobj(void)
{
    json_t *o = json_object();
    if (o == NULL) {
        cli_die_nomem();
    }
    return o;
}

static json_t *jarr(void)
{
    json_t *a = json_array();
    if (a == NULL) {
        cli_die_nomem();
    }
    return a;
}

static void jpush(json_t *arr, json_t *value)
{
    if (value == NULL || json_array_append_new(arr, value) != 0) {
        cli_die_nomem();
    }
}

size_t cli_utf8_len(const unsigned char *p)
{
    unsigned c = p[0];
    size_t n, i;
    unsigned long cp;

    if (c < 0x80) {
        return 1;
    }
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2, cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3, cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4, cp = c & 0x07;
    } else {
        return 0;
    }
    for (i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            return 0;
        }
        cp = (cp << 6) | (p[i] & 0x3fu);
    }
    if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (n == 4 && (cp < 0x10000 || cp > 0x10ffff))) {
        return 0;
    }
    return n;
}

json_t *cli_jstr(const char *s)
{
    const unsigned char *p;
    char *clean, *q;
    json_t *v;
    size_t len;

    if (s == NULL) {
        return json_null();
    }
    v = json_string(s);
    if (v != NULL) {
        return v;
    }
    /* Invalid UTF-8 (or no memory): replace bad bytes with U+FFFD. */
    len = strlen(s);
    if (len > SIZE_MAX / 3 - 1 || (clean = malloc(len * 3 + 1)) == NULL) {
        cli_die_nomem();
    }
    for (p = (const unsigned char *)s, q = clean; *p != '\0';) {
        size_t n = cli_utf8_len(p);
        if (n == 0) {
            memcpy(q, "\xef\xbf\xbd", 3);
            q += 3;
            p++;
        } else {
            memcpy(q, p, n);
            q += n;
            p += n;
        }
    }
    *q = '\0';
    v = json_string(clean);
    free(clean);
    if (v == NULL) {
        cli_die_nomem();
    }
    return v;
}

json_t *cli_jstr_or_null(const char *s)
{
    return (s == NULL || s[0] == '\0') ? json_null() : cli_jstr(s);
}

json_t *cli_ju64(uint64_t v)
{
    char buf[24];

    if (v <= (uint64_t)INT64_MAX) {
        return json_integer((json_int_t)v);
    }
    snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
    return json_string(buf);
}

static json_t *ji64(int64_t v)
{
    return json_integer((json_int_t)v);
}

json_t *cli_jhex(const uint8_t *in, size_t n)
{
    char buf[2 * 64 + 1];

    if (n > 64) {
        n = 64;
    }
    cli_hex(in, n, buf);
    return json_string(buf);
}

json_t *cli_jtime(uint64_t wall_ns)
{
    char buf[40];

    if (wall_ns == 0) {
        return json_null();
    }
    cli_time(wall_ns, buf, sizeof(buf));
    return json_string(buf);
}

void cli_jprint(json_t *value)
{
    char *text =
        json_dumps(value, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
    json_decref(value);
    if (text == NULL) {
        cli_die_nomem();
    }
    fputs(text, stdout);
    fputc('\n', stdout);
    free(text);
}

static json_t *summary_next(const cairn_summary *s)
{
    json_t *next;
    const cairn_op_view *op = NULL;

    if (!s->has_next) {
        return json_null();
    }
    op = cairn_summary_op(s, s->next_seq);
    next = jobj();
    cli_jset(next, "seq", cli_ju64(s->next_seq));
    cli_jset(next, "id", op != NULL ? cli_jstr(op->id) : json_null());
    cli_jset(next, "kind",
             op != NULL ? cli_jstr(cairn_kind_name(op->kind)) : json_null());
    cli_jset(next, "state", cli_jstr(cairn_op_state_name(s->next_state)));
    cli_jset(next, "attempt", cli_ju64(s->next_attempt));
    return next;
}

static json_t *summary_counts(const cairn_summary *s)
{
    static const cairn_op_state states[] = {
        CAIRN_OP_BLOCKED,   CAIRN_OP_READY,  CAIRN_OP_PENDING,
        CAIRN_OP_COMPLETED, CAIRN_OP_FAILED, CAIRN_OP_SKIPPED};
    json_t *counts = jobj();
    size_t i;

    for (i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
        cli_jset(counts, cairn_op_state_name(states[i]),
                 cli_ju64(s->counts[states[i]]));
    }
    return counts;
}

static void summary_lists(json_t *o, const cairn_summary *s)
{
    json_t *targets = jarr();
    json_t *doubt = jarr();
    size_t i;

    cli_jset(o, "restart_required", json_boolean(s->restart_required));
    for (i = 0; i < s->n_restart_targets; i++) {
        jpush(targets, cli_jstr(s->restart_targets[i]));
    }
    cli_jset(o, "restart_targets", targets);
    for (i = 0; i < s->n_in_doubt; i++) {
        jpush(doubt, cli_ju64(s->in_doubt[i]));
    }
    cli_jset(o, "in_doubt", doubt);
}

/* null, or the standing hold: reason, actor, since, until (null: none),
 * active (it still counts now). */
static json_t *summary_hold(const cairn_summary *s)
{
    json_t *h;

    if (!s->held) {
        return json_null();
    }
    h = jobj();
    cli_jset(h, "reason", cli_jstr(s->hold_reason));
    cli_jset(h, "actor", cli_jstr_or_null(s->hold_actor));
    cli_jset(h, "since", cli_jtime(s->hold_ns));
    cli_jset(h, "until",
             s->hold_until_ns != 0 ? cli_jtime(s->hold_until_ns) : json_null());
    cli_jset(h, "active", json_boolean(cairn_hold_active(s, cli_now_ns())));
    return h;
}

json_t *cli_json_summary(const cairn_summary *s)
{
    json_t *o = jobj();

    cli_jset(o, "run_id", cli_jstr(s->run_id));
    cli_jset(o, "plan_id", cli_jstr(s->plan_id));
    cli_jset(o, "plan_hash", cli_jhex(s->plan_hash, CAIRN_HASH_BYTES));
    cli_jset(o, "preflight_id", cli_jstr_or_null(s->preflight_id));
    cli_jset(o, "preflight_accepted", json_boolean(s->preflight_accepted));
    cli_jset(o, "state", cli_jstr(cairn_run_state_name(s->state)));
    cli_jset(o, "pruned", json_boolean(s->pruned));
    cli_jset(o, "total", cli_ju64(s->total));
    cli_jset(o, "counts", summary_counts(s));
    cli_jset(o, "next", summary_next(s));
    summary_lists(o, s);
    cli_jset(o, "last_contiguous_seq", ji64(s->last_contiguous_seq));
    cli_jset(o, "last_attempted_seq", ji64(s->last_attempted_seq));
    cli_jset(o, "stopped_reason",
             cli_jstr(cairn_stopped_reason_name(s->stopped_reason)));
    cli_jset(o, "next_action",
             cli_jstr(cairn_next_action_name(s->next_action)));
    cli_jset(o, "records", cli_ju64(s->records));
    cli_jset(o, "head", cli_jhex(s->head, CAIRN_HASH_BYTES));
    cli_jset(o, "signed", json_boolean(s->signed_run));
    if (s->signed_run) {
        char kid[17];
        cli_key_id_hex(s->key_id, kid);
        cli_jset(o, "key_id", json_string(kid));
    } else {
        cli_jset(o, "key_id", json_null());
    }
    cli_jset(o, "created", cli_jtime(s->created_ns));
    cli_jset(o, "updated", cli_jtime(s->updated_ns));
    cli_jset(o, "held", json_boolean(s->held));
    cli_jset(o, "hold", summary_hold(s));
    cli_jset(o, "imported", json_boolean(s->imported));
    return o;
}

json_t *cli_json_op(const cairn_op_view *op)
{
    json_t *o = jobj();

    cli_jset(o, "seq", cli_ju64(op->seq));
    cli_jset(o, "id", cli_jstr(op->id));
    cli_jset(o, "kind", cli_jstr(cairn_kind_name(op->kind)));
    cli_jset(o, "target", cli_jstr_or_null(op->target));
    cli_jset(o, "state", cli_jstr(cairn_op_state_name(op->state)));
    cli_jset(o, "attempt", cli_ju64(op->attempt));
    cli_jset(o, "last_class",
             op->last_class == CAIRN_CLASS_NONE
                 ? json_null()
                 : cli_jstr(cairn_error_class_name(op->last_class)));
    cli_jset(o, "in_doubt", json_boolean(op->in_doubt));
    cli_jset(o, "holder_pid",
             op->holder_pid != 0 ? cli_ju64(op->holder_pid) : json_null());
    cli_jset(o, "updated", cli_jtime(op->updated_ns));
    return o;
}

static json_t *kv_object(const cairn_kv *kv, size_t n)
{
    json_t *o = jobj();
    size_t i;

    for (i = 0; i < n; i++) {
        /* keys are checked by the library; show a bad one safely */
        json_t *k = cli_jstr(kv[i].key);
        if (json_object_set_new(o, json_string_value(k),
                                cli_jstr(kv[i].value)) != 0) {
            cli_die_nomem();
        }
        json_decref(k);
    }
    return o;
}

json_t *cli_json_tombstone(const cairn_tombstone *t)
{
    json_t *o = jobj(), *ranges = json_array();
    if (ranges == NULL) {
        cli_die_nomem();
    }
    for (size_t i = 0; i < t->n_records;) {
        size_t k = i + 1;
        while (k < t->n_records && t->positions[k] == t->positions[k - 1] + 1) {
            k++;
        }
        json_t *r = json_array();
        if (r == NULL || json_array_append_new(r, cli_ju64(t->positions[i])) ||
            json_array_append_new(r, cli_ju64(k - i)) ||
            json_array_append_new(ranges, r)) {
            cli_die_nomem();
        }
        i = k;
    }
    cli_jset(o, "run_id", cli_jstr(t->run_id));
    cli_jset(o, "plan_id", cli_jstr(t->plan_id));
    cli_jset(o, "position", cli_ju64(t->position));
    cli_jset(o, "pruned_ns", cli_ju64(t->wall_ns));
    cli_jset(o, "actor", cli_jstr_or_null(t->actor));
    cli_jset(o, "rule", cli_jstr(t->rule));
    cli_jset(o, "reason", cli_jstr(t->reason));
    cli_jset(o, "policy", cli_jstr_or_null(t->policy));
    cli_jset(o, "final_state", cli_jstr(cairn_run_state_name(t->final_state)));
    cli_jset(o, "records_removed", cli_ju64(t->n_records));
    cli_jset(o, "positions", ranges);
    cli_jset(o, "bundle_sha256", cli_jhex(t->bundle_sha256, CAIRN_HASH_BYTES));
    cli_jset(o, "bundle_bytes", cli_ju64(t->bundle_bytes));
    cli_jset(o, "location", cli_jstr_or_null(t->location));
    cli_jset(o, "plan_sha256", cli_jhex(t->plan_sha256, CAIRN_HASH_BYTES));
    return o;
}

/* Body fields of a record, by type. */
static void record_body(json_t *o, const cairn_record_view *r,
                        const cairn_summary *s)
{
    switch (r->type) {
    case CAIRN_REC_CREATE: {
        json_t *plan = json_loadb(r->plan_json, r->plan_json_len, 0, NULL);
        cli_jset(o, "run_id", cli_jstr(r->run_id));
        cli_jset(o, "plan_id", cli_jstr(r->plan_id));
        cli_jset(o, "plan_hash",
                 r->plan_hash != NULL ? cli_jhex(r->plan_hash, CAIRN_HASH_BYTES)
                                      : json_null());
        cli_jset(o, "plan", plan != NULL ? plan : json_null());
        return;
    }
    case CAIRN_REC_ACCEPT:
        cli_jset(o, "preflight_id", cli_jstr(r->preflight_id));
        break;
    case CAIRN_REC_CLAIM:
        cli_jset(o, "op", cli_ju64(r->op));
        cli_jset(o, "op_id", cli_jstr(cli_op_id(s, r->op)));
        cli_jset(o, "attempt", cli_ju64(r->attempt));
        cli_jset(o, "claim_kind",
                 cli_jstr(cairn_claim_kind_name(r->claim_kind)));
        cli_jset(o, "holder_pid", cli_ju64(r->holder_pid));
        cli_jset(o, "holder_start", cli_ju64(r->holder_start));
        cli_jset(o, "host", cli_jstr_or_null(r->host));
        return;
    case CAIRN_REC_RECEIPT:
    case CAIRN_REC_RESOLVE:
        cli_jset(o, "op", cli_ju64(r->op));
        cli_jset(o, "op_id", cli_jstr(cli_op_id(s, r->op)));
        cli_jset(o, "attempt", cli_ju64(r->attempt));
        cli_jset(o, "outcome",
                 cli_jstr(cairn_op_state_name((cairn_op_state)r->outcome)));
        cli_jset(o, "error_class",
                 r->error_class == CAIRN_CLASS_NONE
                     ? json_null()
                     : cli_jstr(cairn_error_class_name(r->error_class)));
        cli_jset(o, "outputs", kv_object(r->outputs, r->n_outputs));
        cli_jset(o, "evidence", kv_object(r->evidence, r->n_evidence));
        break;
    case CAIRN_REC_RETRY:
        cli_jset(o, "op", cli_ju64(r->op));
        cli_jset(o, "op_id", cli_jstr(cli_op_id(s, r->op)));
        cli_jset(o, "attempt", cli_ju64(r->attempt));
        break;
    case CAIRN_REC_CANCEL:
    case CAIRN_REC_TIMEOUT:
    case CAIRN_REC_RELEASE:
    case CAIRN_REC_ROTATE:
        break;
    case CAIRN_REC_HOLD:
        cli_jset(o, "until",
                 r->until_ns != 0 ? cli_jtime(r->until_ns) : json_null());
        cli_jset(o, "until_ns", cli_ju64(r->until_ns));
        break;
    case CAIRN_REC_PRUNE:
        if (r->tombstone != NULL) {
            cli_jset(o, "tombstone", cli_json_tombstone(r->tombstone));
        }
        break;
    }
    cli_jset(o, "reason", cli_jstr_or_null(r->reason));
}

json_t *cli_json_record(const cairn_record_view *r, const cairn_summary *s)
{
    json_t *o = jobj();
    char boot[2 * CAIRN_BOOT_ID_BYTES + 1];

    cli_jset(o, "seq", cli_ju64(r->seq));
    cli_jset(o, "position", cli_ju64(r->position));
    cli_jset(o, "type", cli_jstr(cairn_record_type_name(r->type)));
    cli_jset(o, "time", cli_jtime(r->wall_ns));
    cli_jset(o, "wall_ns", cli_ju64(r->wall_ns));
    cli_jset(o, "mono_ns", cli_ju64(r->mono_ns));
    cli_hex(r->boot_id, CAIRN_BOOT_ID_BYTES, boot);
    cli_jset(o, "boot_id", json_string(boot));
    cli_jset(o, "prev", cli_jhex(r->prev, CAIRN_HASH_BYTES));
    cli_jset(o, "hash", cli_jhex(r->hash, CAIRN_HASH_BYTES));
    cli_jset(o, "actor", cli_jstr_or_null(r->actor));
    cli_jset(o, "size", cli_ju64(r->encoded_len));
    record_body(o, r, s);
    return o;
}

void cli_json_activity(json_t *o, const cairn_run_holder *h)
{
    json_t *holder = json_null();
    cli_jset(o, "activity", cli_jstr(cairn_activity_name(h->activity)));
    if (h->has_holder) {
        holder = json_object();
        if (holder == NULL) {
            cli_die_nomem();
        }
        cli_jset(holder, "pid", cli_ju64(h->pid));
        cli_jset(holder, "host", cli_jstr_or_null(h->host));
        cli_jset(holder, "since", cli_jtime(h->since_ns));
        cli_jset(holder, "verified", json_boolean(h->verified));
    }
    cli_jset(o, "holder", holder);
    cli_jset(o, "activity_detail", cli_jstr_or_null(h->detail));
}
