/*
 * test_requires.c - typed required outputs: the rules (nonempty by
 * default, any, sha256, a pattern matching the whole value), their plan
 * form and canonical bytes, the journal refusing a receipt that breaks one
 * (and writing nothing), replay (which leaves the default rule to writers), and
 * the run state encoding of the rules.
 */
#include "testutil.h"

#include "plan/plan.h"
#include "state/state.h"

#include <stdlib.h>
#include <string.h>

#define HEX64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* 0 snap: requires artifact (bare: nonempty), digest (sha256), id
 * (pattern), note (any). */
static const char plan_json[] =
    "{\"cairn_plan\":1,\"plan_id\":\"typed\",\"run_id\":\"typed-1\","
    "\"operations\":[{\"id\":\"snap\",\"kind\":\"snapshot\",\"requires\":["
    "\"artifact\",{\"name\":\"digest\",\"type\":\"sha256\"},"
    "{\"name\":\"id\",\"pattern\":\"[0-9a-f]{8,64}\"},"
    "{\"name\":\"note\",\"type\":\"any\"}]}]}";

static int check(cairn_output_type type, const char *pattern, const char *value,
                 char *why, size_t why_len)
{
    cairn_output_rule rule = {type, (char *)(uintptr_t)pattern};
    why[0] = '\0';
    return cairn__output_check(&rule, value, why, why_len);
}

static void test_rules(void **state)
{
    (void)state;
    char why[512];
    /* nonempty (also the rule of a NULL rule) */
    assert_int_equal(check(CAIRN_OUTPUT_NONEMPTY, NULL, "x", why, 512), 0);
    assert_int_equal(check(CAIRN_OUTPUT_NONEMPTY, NULL, "", why, 512), -1);
    assert_string_equal(why, "is empty (type nonempty)");
    assert_int_equal(cairn__output_check(NULL, "", why, sizeof(why)), -1);
    assert_int_equal(cairn__output_check(NULL, "y", why, sizeof(why)), 0);
    /* any */
    assert_int_equal(check(CAIRN_OUTPUT_ANY, NULL, "", why, 512), 0);
    /* sha256: both spellings, lowercase, exact length */
    assert_int_equal(check(CAIRN_OUTPUT_SHA256, NULL, HEX64, why, 512), 0);
    assert_int_equal(
        check(CAIRN_OUTPUT_SHA256, NULL, "sha256:" HEX64, why, 512), 0);
    const char *bad[] = {"",
                         "sha256:",
                         HEX64 "0",
                         "sha256:" HEX64 "0",
                         "SHA256:" HEX64,
                         "sha512:" HEX64,
                         "0123456789ABCDEF0123456789abcdef0123456789abcdef"
                         "0123456789abcdef",
                         "g123456789abcdef0123456789abcdef0123456789abcdef"
                         "0123456789abcdef",
                         " " HEX64};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(check(CAIRN_OUTPUT_SHA256, NULL, bad[i], why, 512),
                         -1);
        assert_non_null(strstr(why, "is not a sha256 digest"));
    }
    assert_int_equal(check(CAIRN_OUTPUT_SHA256, NULL, "abc", why, 512), -1);
    assert_string_equal(why, "\"abc\" is not a sha256 digest (type sha256: "
                             "\"sha256:\" and 64 lowercase hex digits, or "
                             "the 64 digits alone)");
    /* a pattern matches the whole value, not a part of it */
    const char *p = "[0-9a-f]{8,64}";
    assert_int_equal(check(CAIRN_OUTPUT_NONEMPTY, p, "deadbeef", why, 512), 0);
    assert_int_equal(check(CAIRN_OUTPUT_NONEMPTY, p, "xdeadbeef", why, 512),
                     -1);
    assert_string_equal(why, "\"xdeadbeef\" does not match pattern "
                             "\"[0-9a-f]{8,64}\"");
    assert_int_equal(check(CAIRN_OUTPUT_NONEMPTY, p, "deadbeefx", why, 512),
                     -1);
    assert_int_equal(check(CAIRN_OUTPUT_NONEMPTY, p, "dead", why, 512), -1);
    assert_int_equal(check(CAIRN_OUTPUT_NONEMPTY, "a|ab", "ab", why, 512), 0);
    /* the type is checked before the pattern */
    assert_int_equal(check(CAIRN_OUTPUT_NONEMPTY, "x*", "", why, 512), -1);
    assert_string_equal(why, "is empty (type nonempty)");
    assert_int_equal(check(CAIRN_OUTPUT_ANY, "x*", "", why, 512), 0);
    /* a value is quoted safely and cut */
    assert_int_equal(check(CAIRN_OUTPUT_SHA256, NULL, "a\"\n", why, 512), -1);
    assert_non_null(strstr(why, "\"a\\\"\\x0A\" is not"));
    /* a pattern that cannot compile (only from a hostile state) */
    assert_int_equal(check(CAIRN_OUTPUT_NONEMPTY, "(", "x", why, 512), -1);
    assert_non_null(strstr(why, "cannot be checked: pattern \"(\""));
    assert_int_equal(cairn__output_pattern_check("(", why, 512), -1);
    assert_int_equal(cairn__output_pattern_check("^a+$", why, 512), 0);
    /* What would make regcomp or regexec blow up is refused. */
    assert_int_equal(
        cairn__output_pattern_check("((a{1,100}){1,100}){1,100}", why, 512),
        -1);
    assert_string_equal(why,
                        "nested repetitions expand to more than 4096 atoms");
    assert_int_equal(cairn__output_pattern_check("(a{1,255}){1,17}", why, 512),
                     -1);
    assert_int_equal(
        cairn__output_pattern_check("((a{,100}){,100}){,100}", why, 512), -1);
    assert_int_equal(cairn__output_pattern_check("a{256}", why, 512), -1);
    assert_string_equal(why, "repetition count above 255 at offset 1");
    assert_int_equal(cairn__output_pattern_check("N++", why, 512), -1);
    assert_string_equal(why,
                        "repetition operator right after another at offset 2");
    assert_int_equal(cairn__output_pattern_check("((((((((((((a)+)+)+)+)+)+)+)"
                                                 "+)+)+)+)+)",
                                                 why, 512),
                     -1);
    assert_string_equal(why,
                        "nested repetitions expand to more than 4096 atoms");
    assert_int_equal(cairn__output_pattern_check("(a*)b\\1", why, 512), -1);
    assert_string_equal(why, "back-reference at offset 5 (not part of POSIX "
                             "extended regular expressions)");
    assert_int_equal(cairn__output_pattern_check("(((((((((((((((((((((((("
                                                 "((((((((((a))))))))))))))"
                                                 "))))))))))))))))))))",
                                                 why, 512),
                     -1);
    assert_string_equal(why, "groups nested deeper than 32");
    /* ... but ordinary patterns, bracket expressions included, are not. */
    const char *fine[] = {
        "[0-9a-f]{8,64}",     "sha256:[0-9a-f]{64}",
        "(a{1,16}){1,16}",    "[]{(]{1,255}",
        "[[:digit:]{]+\\{x}", "^/backup/[^/]+\\.tar(\\.zst)?$",
        "a{2,}b{0}c{,3}"};
    for (size_t i = 0; i < sizeof(fine) / sizeof(fine[0]); i++) {
        if (cairn__output_pattern_check(fine[i], why, 512) != 0) {
            print_error("%s: %s\n", fine[i], why);
        }
        assert_int_equal(cairn__output_pattern_check(fine[i], why, 512), 0);
    }
    /* names */
    cairn_output_type t;
    assert_int_equal(cairn__output_type_parse("sha256", &t), 0);
    assert_int_equal(t, CAIRN_OUTPUT_SHA256);
    assert_int_equal(cairn__output_type_parse("md5", &t), -1);
}

static cairn_plan *parse(const char *json)
{
    cairn_plan *plan = NULL;
    char detail[512] = "";
    cairn_err err =
        cairn_plan_parse(json, strlen(json), &plan, detail, sizeof(detail));
    if (err != CAIRN_OK) {
        print_error("%s\n", detail);
    }
    assert_int_equal(err, CAIRN_OK);
    return plan;
}

static void test_plan_form(void **state)
{
    (void)state;
    cairn_plan *p = parse(plan_json);
    const cairn_plan_op *op = &p->ops[0];
    assert_int_equal(op->n_requires, 4);
    assert_string_equal(op->requires[0], "artifact");
    assert_int_equal(op->require_rules[0].type, CAIRN_OUTPUT_NONEMPTY);
    assert_null(op->require_rules[0].pattern);
    assert_string_equal(op->requires[1], "digest");
    assert_int_equal(op->require_rules[1].type, CAIRN_OUTPUT_SHA256);
    assert_string_equal(op->requires[2], "id");
    assert_int_equal(op->require_rules[2].type, CAIRN_OUTPUT_NONEMPTY);
    assert_string_equal(op->require_rules[2].pattern, "[0-9a-f]{8,64}");
    assert_string_equal(op->requires[3], "note");
    assert_int_equal(op->require_rules[3].type, CAIRN_OUTPUT_ANY);
    /* The typed form is kept in the canonical bytes, keys sorted. */
    assert_non_null(strstr(p->canonical,
                           "\"requires\":[\"artifact\",{\"name\":\"digest\","
                           "\"type\":\"sha256\"},{\"name\":\"id\",\"pattern\":"
                           "\"[0-9a-f]{8,64}\"},{\"name\":\"note\",\"type\":"
                           "\"any\"}]"));
    cairn_plan *again = NULL;
    char detail[256];
    assert_int_equal(cairn__plan_from_canonical(p->canonical, p->canonical_len,
                                                &again, detail, sizeof(detail)),
                     CAIRN_OK);
    assert_memory_equal(again->hash, p->hash, CAIRN_HASH_BYTES);
    assert_string_equal(again->ops[0].require_rules[2].pattern,
                        "[0-9a-f]{8,64}");
    cairn_plan_free(again);
    cairn_plan_free(p);

    /* A plan with bare names keeps its canonical bytes as before. */
    p = parse("{\"cairn_plan\":1,\"plan_id\":\"p\",\"operations\":[{\"id\":"
              "\"a\",\"kind\":\"task\",\"requires\":[\"x\",\"y\"]}]}");
    assert_string_equal(p->canonical,
                        "{\"cairn_plan\":1,\"operations\":[{\"id\":\"a\","
                        "\"kind\":\"task\",\"requires\":[\"x\",\"y\"]}],"
                        "\"plan_id\":\"p\"}");
    cairn_plan_free(p);
}

typedef struct fixture {
    char *dir;
    cairn_journal *j;
    cairn_plan *plan;
    char run[CAIRN_MAX_ID + 1];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    char detail[256];
    cairn_claim_result r;
    f->dir = tu_mkdtemp();
    assert_int_equal(cairn_journal_open(f->dir, CAIRN_OPEN_CREATE, &f->j,
                                        detail, sizeof(detail)),
                     CAIRN_OK);
    f->plan = parse(plan_json);
    assert_int_equal(
        cairn_run_create(f->j, f->plan, NULL, f->run, sizeof(f->run)),
        CAIRN_OK);
    assert_int_equal(cairn_accept_preflight(f->j, f->run, "pf", NULL),
                     CAIRN_OK);
    assert_int_equal(
        cairn_claim(f->j, f->run, -1, CAIRN_CLAIM_NORMAL, NULL, NULL, &r),
        CAIRN_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    cairn_journal_close(f->j);
    cairn_plan_free(f->plan);
    tu_rmtree(f->dir);
    free(f);
    return 0;
}

static uint64_t records(fixture *f)
{
    cairn_summary *s = NULL;
    assert_int_equal(cairn_status(f->j, f->run, &s), CAIRN_OK);
    uint64_t n = s->records;
    cairn_summary_free(s);
    return n;
}

/* Complete op 0 with the four outputs (NULL: left out). */
static cairn_err complete(fixture *f, const char *artifact, const char *digest,
                          const char *id, const char *note)
{
    const char *keys[] = {"artifact", "digest", "id", "note"};
    const char *values[] = {artifact, digest, id, note};
    cairn_kv out[4];
    size_t n = 0;
    for (size_t i = 0; i < 4; i++) {
        if (values[i] != NULL) {
            out[n].key = keys[i];
            out[n].value = values[i];
            n++;
        }
    }
    cairn_receipt r = {.seq = 0,
                       .outcome = CAIRN_OUTCOME_COMPLETED,
                       .outputs = out,
                       .n_outputs = n};
    return cairn_receipt_record(f->j, f->run, &r, NULL);
}

static void refused(fixture *f, cairn_err err, const char *want)
{
    assert_int_equal(err, CAIRN_EOUTPUT);
    const char *detail = cairn_journal_errdetail(f->j);
    if (strstr(detail, want) == NULL) {
        print_error("detail: %s\nwant:   %s\n", detail, want);
    }
    assert_non_null(strstr(detail, want));
    assert_int_equal(records(f), 3); /* create, accept, claim */
}

static void test_journal_refuses(void **state)
{
    fixture *f = *state;
    refused(f, complete(f, "", HEX64, "deadbeef", ""),
            "operation 0 (snap): required output \"artifact\" is empty "
            "(type nonempty)");
    refused(f, complete(f, "a.tar", "nothex", "deadbeef", ""),
            "operation 0 (snap): required output \"digest\" \"nothex\" is "
            "not a sha256 digest");
    refused(f, complete(f, "a.tar", HEX64, "DEADBEEF", ""),
            "operation 0 (snap): required output \"id\" \"DEADBEEF\" does "
            "not match pattern \"[0-9a-f]{8,64}\"");
    refused(f, complete(f, "a.tar", HEX64, "deadbeef", NULL),
            "operation 0 (snap) requires output \"note\"");
    assert_int_equal(complete(f, "a.tar", "sha256:" HEX64, "deadbeef", ""),
                     CAIRN_OK);
    assert_int_equal(cairn_replay_check(f->j, f->run), CAIRN_OK);
    cairn_summary *s = NULL;
    assert_int_equal(cairn_status(f->j, f->run, &s), CAIRN_OK);
    assert_int_equal(s->state, CAIRN_RUN_COMPLETED);
    cairn_summary_free(s);
}

/* The rules travel in the run state: encoded only when one is not the
 * default, decoded strictly. */
static void test_state_encoding(void **state)
{
    (void)state;
    cairn_state st, back;
    memset(&st, 0, sizeof(st));
    st.n_ops = 1;
    cairn_op_st op;
    memset(&op, 0, sizeof(op));
    strcpy(op.id, "snap");
    op.kind = CAIRN_KIND_SNAPSHOT;
    op.state = CAIRN_OP_READY;
    char artifact[] = "artifact", id[] = "id", pattern[] = "[a-f]+";
    char *names[] = {artifact, id};
    cairn_output_rule rules[] = {{CAIRN_OUTPUT_NONEMPTY, NULL},
                                 {CAIRN_OUTPUT_SHA256, pattern}};
    op.requires = names;
    op.require_rules = rules;
    op.n_requires = 2;
    st.ops = &op;
    strcpy(st.run_id, "r");
    strcpy(st.plan_id, "p");
    uint8_t *buf;
    size_t len;
    char detail[256];
    assert_int_equal(cairn__state_encode(&st, &buf, &len), CAIRN_OK);
    assert_int_equal(cairn__state_decode(buf, len, &back, detail, 256),
                     CAIRN_OK);
    assert_int_equal(back.ops[0].n_requires, 2);
    assert_int_equal(back.ops[0].require_rules[0].type, CAIRN_OUTPUT_NONEMPTY);
    assert_null(back.ops[0].require_rules[0].pattern);
    assert_int_equal(back.ops[0].require_rules[1].type, CAIRN_OUTPUT_SHA256);
    assert_string_equal(back.ops[0].require_rules[1].pattern, "[a-f]+");
    cairn__state_free(&back);
    /* The last rule's bytes: u8 type 2, str16 "[a-f]+".  An unknown type
     * is corrupt. */
    assert_memory_equal(buf + len - 9, "\x02\x00\x06[a-f]+", 9);
    buf[len - 9] = 3;
    assert_int_equal(cairn__state_decode(buf, len, &back, detail, 256),
                     CAIRN_ECORRUPT);
    assert_non_null(strstr(detail, "requires rule: bad type"));
    free(buf);

    /* Default rules: no flag, no rule bytes (the encoding of before). */
    rules[1].type = CAIRN_OUTPUT_NONEMPTY;
    rules[1].pattern = NULL;
    uint8_t *plain;
    size_t plain_len;
    assert_int_equal(cairn__state_encode(&st, &plain, &plain_len), CAIRN_OK);
    assert_memory_equal(plain + plain_len - 4, "\x00\x02id", 4);
    op.require_rules = NULL;
    uint8_t *none;
    size_t none_len;
    assert_int_equal(cairn__state_encode(&st, &none, &none_len), CAIRN_OK);
    assert_int_equal(none_len, plain_len);
    assert_memory_equal(none, plain, plain_len);
    free(none);
    free(plain);
}

/* The machine (replay) checks the rules a plan spells out; the default
 * rule of a bare name (non-empty) is the writer's, so that a journal
 * written before it existed still replays. */
static void test_writer_and_replay(void **state)
{
    (void)state;
    char artifact[] = "artifact", digest[] = "digest";
    char *names[] = {artifact, digest};
    cairn_output_rule rules[] = {{CAIRN_OUTPUT_NONEMPTY, NULL},
                                 {CAIRN_OUTPUT_SHA256, NULL}};
    cairn_op_st op;
    memset(&op, 0, sizeof(op));
    strcpy(op.id, "snap");
    op.kind = CAIRN_KIND_SNAPSHOT;
    op.state = CAIRN_OP_PENDING;
    op.attempt = 1;
    op.requires = names;
    op.require_rules = rules;
    op.n_requires = 2;
    cairn_state st;
    memset(&st, 0, sizeof(st));
    st.n_ops = 1;
    st.ops = &op;
    char empty[] = "", hex[] = HEX64, bad[] = "abc", reason[] = "";
    cairn_kv kv[2] = {{artifact, empty}, {digest, hex}};
    cairn_record rec;
    memset(&rec, 0, sizeof(rec));
    rec.type = CAIRN_REC_RECEIPT;
    rec.op = 0;
    rec.attempt = 1;
    rec.outcome = CAIRN_OUTCOME_COMPLETED;
    rec.reason = reason;
    rec.outputs.v = kv;
    rec.outputs.n = 2;
    char detail[512];
    /* An empty bare-named output: refused when written, replayed as is. */
    assert_int_equal(cairn__state_check_outcome(&st, &rec, 1, detail, 512),
                     CAIRN_EOUTPUT);
    assert_string_equal(detail, "operation 0 (snap): required output "
                                "\"artifact\" is empty (type nonempty)");
    assert_int_equal(cairn__state_check_outcome(&st, &rec, 0, detail, 512),
                     CAIRN_OK);
    /* A typed rule is checked by both. */
    kv[1].value = bad;
    assert_int_equal(cairn__state_check_outcome(&st, &rec, 0, detail, 512),
                     CAIRN_EOUTPUT);
    assert_non_null(strstr(detail, "\"digest\" \"abc\" is not a sha256"));
    /* The machine's earlier checks keep their order: not the current
     * attempt comes before the outputs, for the writer too. */
    rec.attempt = 2;
    assert_int_equal(cairn__state_check_outcome(&st, &rec, 1, detail, 512),
                     CAIRN_EATTEMPT);
    /* A missing output is refused by both. */
    rec.attempt = 1;
    rec.outputs.n = 1;
    assert_int_equal(cairn__state_check_outcome(&st, &rec, 0, detail, 512),
                     CAIRN_EOUTPUT);
    assert_string_equal(detail,
                        "operation 0 (snap) requires output \"digest\"");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rules),
        cmocka_unit_test(test_plan_form),
        cmocka_unit_test_setup_teardown(test_journal_refuses, setup, teardown),
        cmocka_unit_test(test_state_encoding),
        cmocka_unit_test(test_writer_and_replay),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
