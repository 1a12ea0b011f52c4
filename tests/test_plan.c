/* test_plan.c - JSON plans: validation, the bad-plan corpus, canonical
 * bytes and hash, durations, kinds. */
#include "testutil.h"

#include "base/duration.h"
#include "plan/plan.h"

#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SEC 1000000000ull
#define MS 1000000ull

static const char *root_dir(void)
{
    const char *root = getenv("CAIRN_ROOT");
    return root != NULL && root[0] != '\0' ? root : ".";
}

static char *plan_path(const char *sub, const char *name)
{
    char *dir = tu_path(root_dir(), sub);
    char *p = tu_path(dir, name);
    free(dir);
    return p;
}

static cairn_plan *load_good(const char *name)
{
    char *path = plan_path("tests/plans/good", name);
    cairn_plan *plan = NULL;
    char detail[512] = "";
    cairn_err err = cairn_plan_load(path, &plan, detail, sizeof(detail));
    if (err != CAIRN_OK) {
        print_error("%s: %s\n", path, detail);
    }
    assert_int_equal(err, CAIRN_OK);
    assert_non_null(plan);
    free(path);
    return plan;
}

static cairn_plan *parse_ok(const char *json)
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

/* Parse must fail with CAIRN_EPLAN, exactly @p want as detail, *out NULL. */
static void parse_bad(const char *json, size_t len, const char *want)
{
    cairn_plan *plan = (cairn_plan *)(uintptr_t)1;
    char detail[1024] = "";
    assert_int_equal(cairn_plan_parse(json, len, &plan, detail, sizeof(detail)),
                     CAIRN_EPLAN);
    assert_null(plan);
    assert_string_equal(detail, want);
}

static void assert_argv(const cairn_argv *argv, const char *const *want,
                        size_t n)
{
    assert_int_equal(argv->n, n);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(argv->v[i], want[i]);
    }
    assert_null(argv->v[n]);
}

static void assert_canonical_roundtrip(const cairn_plan *plan)
{
    cairn_plan *again = NULL;
    char detail[512] = "";
    assert_int_equal(cairn__plan_from_canonical(plan->canonical,
                                                plan->canonical_len, &again,
                                                detail, sizeof(detail)),
                     CAIRN_OK);
    assert_int_equal(again->canonical_len, plan->canonical_len);
    assert_memory_equal(again->canonical, plan->canonical, plan->canonical_len);
    assert_memory_equal(again->hash, plan->hash, CAIRN_HASH_BYTES);
    assert_null(again->run_id);
    assert_int_equal(again->n_ops, plan->n_ops);
    cairn_plan_free(again);
}

static void test_design_example(void **state)
{
    (void)state;
    cairn_plan *p = load_good("design-example.json");
    assert_int_equal(p->version, 1);
    assert_string_equal(cairn_plan_id(p), "pg-nightly");
    assert_string_equal(cairn_plan_run_id(p), "pg-nightly-2026-11-22");
    assert_int_equal(p->deadline_ns, 2 * 3600 * SEC);
    assert_int_equal(cairn_plan_op_count(p), 5);

    const cairn_plan_op *op = &p->ops[0];
    assert_string_equal(op->id, "check-space");
    assert_int_equal(op->kind, CAIRN_KIND_PREFLIGHT);
    assert_null(op->target);
    assert_argv(&op->run, (const char *const[]){"sh", "-c", "df -P /backup"},
                3);
    assert_int_equal(op->probe.n, 0);
    assert_null(op->probe.v);

    op = &p->ops[1];
    assert_string_equal(op->id, "stop-db");
    assert_int_equal(op->kind, CAIRN_KIND_STOP);
    assert_string_equal(op->target, "db");

    op = &p->ops[2];
    assert_string_equal(op->id, "snapshot-db");
    assert_int_equal(op->kind, CAIRN_KIND_SNAPSHOT);
    assert_argv(&op->run, (const char *const[]){"./snap", "db"}, 2);
    assert_argv(&op->probe, (const char *const[]){"./snap", "--exists", "db"},
                3);
    assert_int_equal(op->timeout_ns, 600 * SEC);
    assert_int_equal(op->attempts, 3);
    assert_int_equal(op->backoff_ns, 2 * SEC);
    assert_int_equal(op->max_backoff_ns, 60 * SEC);
    assert_int_equal(op->n_retry_exit_codes, 0);
    assert_int_equal(op->n_requires, 2);
    assert_string_equal(op->requires[0], "artifact");
    assert_string_equal(op->requires[1], "digest");
    assert_false(op->idempotent);

    assert_int_equal(p->ops[3].kind, CAIRN_KIND_START);
    op = &p->ops[4];
    assert_int_equal(op->kind, CAIRN_KIND_VERIFY);
    assert_true(op->idempotent);
    assert_int_equal(op->timeout_ns, 0);
    assert_canonical_roundtrip(p);
    cairn_plan_free(p);
}

static void test_minimal_defaults(void **state)
{
    (void)state;
    cairn_plan *p = load_good("minimal.json");
    assert_string_equal(p->plan_id, "minimal");
    assert_null(cairn_plan_run_id(p));
    assert_int_equal(p->deadline_ns, 0);
    assert_int_equal(p->n_ops, 1);
    const cairn_plan_op *op = &p->ops[0];
    assert_string_equal(op->id, "only");
    assert_int_equal(op->kind, CAIRN_KIND_TASK);
    assert_null(op->target);
    assert_int_equal(op->run.n, 0);
    assert_null(op->run.v);
    assert_int_equal(op->probe.n, 0);
    assert_int_equal(op->timeout_ns, 0);
    assert_int_equal(op->attempts, 1);
    assert_int_equal(op->backoff_ns, SEC);
    assert_int_equal(op->max_backoff_ns, 60 * SEC);
    assert_null(op->retry_exit_codes);
    assert_int_equal(op->n_retry_exit_codes, 0);
    assert_null(op->requires);
    assert_int_equal(op->n_requires, 0);
    assert_false(op->idempotent);
    const char want[] = "{\"cairn_plan\":1,\"operations\":[{\"id\":\"only\","
                        "\"kind\":\"task\"}],\"plan_id\":\"minimal\"}";
    assert_int_equal(p->canonical_len, strlen(want));
    assert_string_equal(p->canonical, want);
    assert_canonical_roundtrip(p);
    cairn_plan_free(p);
}

static void test_all_keys(void **state)
{
    (void)state;
    cairn_plan *p = load_good("all-keys.json");
    assert_string_equal(p->plan_id, "all.keys:v1@host+x_y-z");
    assert_string_equal(p->run_id, "all-keys-run-0001");
    assert_int_equal(p->deadline_ns,
                     ((24 + 2) * 3600 + 3 * 60 + 4) * SEC + 5 * MS);
    assert_int_equal(p->n_ops, 4);
    assert_int_equal(p->ops[0].timeout_ns, 30 * SEC);
    const cairn_plan_op *op = &p->ops[1];
    assert_string_equal(op->id, "stop-db");
    assert_string_equal(op->target, "db");
    assert_argv(&op->run,
                (const char *const[]){"systemctl", "stop", "postgresql"}, 3);
    assert_argv(
        &op->probe,
        (const char *const[]){"sh", "-c", "! systemctl is-active postgresql"},
        3);
    assert_int_equal(op->timeout_ns, 120 * SEC);
    assert_int_equal(op->attempts, 5);
    assert_int_equal(op->backoff_ns, 500 * MS);
    assert_int_equal(op->max_backoff_ns, 10 * SEC);
    assert_int_equal(op->n_retry_exit_codes, 3);
    assert_int_equal(op->retry_exit_codes[0], 1);
    assert_int_equal(op->retry_exit_codes[1], 75);
    assert_int_equal(op->retry_exit_codes[2], 255);
    assert_int_equal(op->n_requires, 3);
    assert_string_equal(op->requires[0], "stopped_at");
    assert_string_equal(op->requires[1], "pid.file");
    assert_string_equal(op->requires[2], "A-Z_09");
    assert_true(op->idempotent);
    op = &p->ops[2];
    assert_int_equal(op->kind, CAIRN_KIND_START);
    assert_int_equal(op->attempts, 1); /* "retry": {} keeps the defaults */
    assert_int_equal(op->backoff_ns, SEC);
    assert_int_equal(op->max_backoff_ns, 60 * SEC);
    assert_int_equal(op->n_requires, 0);
    assert_false(op->idempotent);
    assert_int_equal(p->ops[3].kind, CAIRN_KIND_CLEANUP);
    assert_canonical_roundtrip(p);
    cairn_plan_free(p);
}

static void test_backoff_defaults(void **state)
{
    (void)state;
    /* Without max_backoff the cap is 60 s, or the backoff when larger. */
    cairn_plan *p = load_good("unicode.json");
    assert_int_equal(p->ops[0].backoff_ns, 120 * SEC);
    assert_int_equal(p->ops[0].max_backoff_ns, 120 * SEC);
    assert_argv(&p->ops[0].run,
                (const char *const[]){"echo", "h\xc3\xa9llo w\xc3\xb6rld",
                                      "\xe2\x98\x83", "\x01"},
                4);
    cairn_plan_free(p);
    p = parse_ok("{\"cairn_plan\":1,\"plan_id\":\"p\",\"operations\":[{\"id\":"
                 "\"a\",\"kind\":\"task\",\"retry\":{\"backoff\":\"30s\"}}]}");
    assert_int_equal(p->ops[0].max_backoff_ns, 60 * SEC);
    cairn_plan_free(p);
    p = parse_ok("{\"cairn_plan\":1,\"plan_id\":\"p\",\"operations\":[{\"id\":"
                 "\"a\",\"kind\":\"task\",\"retry\":{\"backoff\":\"5s\","
                 "\"max_backoff\":\"5s\"}}]}");
    assert_int_equal(p->ops[0].max_backoff_ns, 5 * SEC);
    cairn_plan_free(p);
}

static int has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static size_t list_json(const char *dir, struct dirent ***names)
{
    int n = scandir(dir, names, NULL, alphasort);
    assert_true(n >= 0);
    return (size_t)n;
}

static void test_good_corpus(void **state)
{
    (void)state;
    char *dir = tu_path(root_dir(), "tests/plans/good");
    struct dirent **names;
    size_t n = list_json(dir, &names), count = 0;
    for (size_t i = 0; i < n; i++) {
        if (has_suffix(names[i]->d_name, ".json")) {
            cairn_plan *p = load_good(names[i]->d_name);
            assert_canonical_roundtrip(p);
            cairn_plan_free(p);
            count++;
        }
        free(names[i]);
    }
    free(names);
    free(dir);
    assert_true(count >= 3);
}

static void check_bad_file(const char *dir, const char *name)
{
    char *path = tu_path(dir, name);
    size_t stem = strlen(path) - strlen(".json");
    char *expect_path = malloc(stem + sizeof(".expect"));
    assert_non_null(expect_path);
    memcpy(expect_path, path, stem);
    memcpy(expect_path + stem, ".expect", sizeof(".expect"));
    char *want = tu_read_file(expect_path, NULL);
    size_t wlen = strlen(want);
    assert_true(wlen > 0 && want[wlen - 1] == '\n');
    want[wlen - 1] = '\0';
    assert_null(strchr(want, '\n'));

    cairn_plan *plan = (cairn_plan *)(uintptr_t)1;
    char detail[1024] = "";
    cairn_err err = cairn_plan_load(path, &plan, detail, sizeof(detail));
    if (err != CAIRN_EPLAN || strcmp(detail, want) != 0) {
        print_error("%s:\n  got  %d %s\n  want %s\n", name, err, detail, want);
    }
    assert_int_equal(err, CAIRN_EPLAN);
    assert_null(plan);
    assert_string_equal(detail, want);
    free(want);
    free(expect_path);
    free(path);
}

static void test_bad_corpus(void **state)
{
    (void)state;
    char *dir = tu_path(root_dir(), "tests/plans/bad");
    struct dirent **names;
    size_t n = list_json(dir, &names), plans = 0, expects = 0;
    for (size_t i = 0; i < n; i++) {
        if (has_suffix(names[i]->d_name, ".json")) {
            check_bad_file(dir, names[i]->d_name);
            plans++;
        } else if (has_suffix(names[i]->d_name, ".expect")) {
            expects++;
        }
        free(names[i]);
    }
    free(names);
    free(dir);
    assert_int_equal(plans, expects);
    assert_true(plans >= 45);
}

/* A valid plan of exactly @p size bytes (padded with spaces). */
static char *padded_plan(size_t size)
{
    const char *base = "{\"cairn_plan\":1,\"plan_id\":\"p\",\"operations\":"
                       "[{\"id\":\"a\",\"kind\":\"task\"}]}";
    char *buf = malloc(size + 1);
    assert_non_null(buf);
    memset(buf, ' ', size);
    memcpy(buf, base, strlen(base));
    buf[size] = '\0';
    return buf;
}

static void test_size_limits(void **state)
{
    (void)state;
    char *buf = padded_plan(CAIRN_MAX_PLAN_BYTES);
    cairn_plan *p = parse_ok(buf);
    cairn_plan_free(p);
    free(buf);

    buf = padded_plan(CAIRN_MAX_PLAN_BYTES + 1);
    parse_bad(buf, CAIRN_MAX_PLAN_BYTES + 1,
              "$: plan is larger than 134217728 bytes");
    char *dir = tu_mkdtemp();
    char *path = tu_path(dir, "big.json");
    /* the file's size is checked before it is read: a sparse file */
    tu_write_file(path, buf, 64);
    assert_int_equal(truncate(path, (off_t)CAIRN_MAX_PLAN_BYTES + 1), 0);
    char detail[256];
    p = (cairn_plan *)(uintptr_t)1;
    assert_int_equal(cairn_plan_load(path, &p, detail, sizeof(detail)),
                     CAIRN_EPLAN);
    assert_null(p);
    assert_string_equal(detail, "$: plan is larger than 134217728 bytes");
    free(path);
    tu_rmtree(dir);
    free(buf);
}

/* n operations "o0".."o<n-1>" of kind task, as one JSON text. */
static char *many_ops(size_t n, const char *extra_op)
{
    size_t cap = 64 + n * 48 + (extra_op ? strlen(extra_op) : 0);
    char *buf = malloc(cap);
    assert_non_null(buf);
    size_t len = (size_t)snprintf(
        buf, cap, "{\"cairn_plan\":1,\"plan_id\":\"p\",\"operations\":[");
    for (size_t i = 0; i < n; i++) {
        len += (size_t)snprintf(buf + len, cap - len,
                                "%s{\"id\":\"o%zu\",\"kind\":\"task\"}",
                                i ? "," : "", i);
    }
    snprintf(buf + len, cap - len, "%s%s]}", extra_op ? "," : "",
             extra_op ? extra_op : "");
    return buf;
}

static void test_operation_count(void **state)
{
    (void)state;
    char *buf = many_ops(CAIRN_MAX_OPS, NULL);
    cairn_plan *p = parse_ok(buf);
    assert_int_equal(cairn_plan_op_count(p), CAIRN_MAX_OPS);
    assert_string_equal(p->ops[CAIRN_MAX_OPS - 1].id, "o1048575");
    cairn_plan_free(p);
    free(buf);
    buf = many_ops(CAIRN_MAX_OPS + 1, NULL);
    parse_bad(buf, strlen(buf), "$.operations: more than 1048576 operations");
    free(buf);
    /* A duplicate far from its first use is still found. */
    buf = many_ops(99999, "{\"id\":\"o7\",\"kind\":\"task\"}");
    parse_bad(buf, strlen(buf),
              "$.operations[99999].id: duplicate operation id \"o7\" (first "
              "at $.operations[7])");
    free(buf);
}

static void test_cross_rules_report_first(void **state)
{
    (void)state;
    /* a b b a: the earliest repeated id is reported. */
    const char *dup = "{\"cairn_plan\":1,\"plan_id\":\"p\",\"operations\":["
                      "{\"id\":\"a\",\"kind\":\"task\"},"
                      "{\"id\":\"b\",\"kind\":\"task\"},"
                      "{\"id\":\"b\",\"kind\":\"task\"},"
                      "{\"id\":\"a\",\"kind\":\"task\"}]}";
    parse_bad(dup, strlen(dup),
              "$.operations[2].id: duplicate operation id \"b\" (first at "
              "$.operations[1])");
    /* Target "z" breaks at op 1, target "a" (sorted first) at op 2. */
    const char *pairs = "{\"cairn_plan\":1,\"plan_id\":\"p\",\"operations\":["
                        "{\"id\":\"s1\",\"kind\":\"stop\",\"target\":\"z\"},"
                        "{\"id\":\"s2\",\"kind\":\"stop\",\"target\":\"z\"},"
                        "{\"id\":\"s3\",\"kind\":\"start\",\"target\":\"a\"}]}";
    parse_bad(pairs, strlen(pairs),
              "$.operations[1]: stop of target \"z\", which is already "
              "stopped by $.operations[0]");
    /* The version is checked before unknown keys. */
    const char *v2 = "{\"cairn_plan\":2,\"new_key\":1}";
    parse_bad(v2, strlen(v2),
              "$.cairn_plan: unsupported plan format 2 (expected 1)");
}

static void test_canonical_bytes(void **state)
{
    (void)state;
    const char *in =
        "{ \"operations\": [ {\"kind\": \"task\", \"id\": \"a\",\n"
        "  \"description\": \"caf\\u00e9 \\ud83d\\ude00 \\\"q\\\" \\n\\u007f"
        "\\/\"} ],\n \"run_id\": \"r1\", \"plan_id\": \"p\", "
        "\"cairn_plan\": 1 }\n";
    const char want[] = "{\"cairn_plan\":1,\"operations\":[{\"description\":"
                        "\"caf\\u00E9 \\uD83D\\uDE00 \\\"q\\\" \\n\x7f/\","
                        "\"id\":\"a\",\"kind\":\"task\"}],\"plan_id\":\"p\"}";
    /* SHA-256 of want, computed independently (Python hashlib). */
    const char *want_hash =
        "fb186648b02142c0bc291c3bf46128659a3bc3725a059c323f8af8c451e7d223";
    cairn_plan *p = parse_ok(in);
    assert_string_equal(p->run_id, "r1");
    assert_int_equal(p->canonical_len, sizeof(want) - 1);
    assert_memory_equal(p->canonical, want, sizeof(want) - 1);
    assert_int_equal(p->canonical[p->canonical_len], '\0');
    uint8_t hash[CAIRN_HASH_BYTES];
    char hex[2 * CAIRN_HASH_BYTES + 1];
    cairn_plan_hash(p, hash);
    for (size_t i = 0; i < CAIRN_HASH_BYTES; i++) {
        snprintf(hex + 2 * i, 3, "%02x", hash[i]);
    }
    assert_string_equal(hex, want_hash);
    assert_canonical_roundtrip(p);
    cairn_plan_free(p);
}

static void hash_of(const char *json, uint8_t out[CAIRN_HASH_BYTES])
{
    cairn_plan *p = parse_ok(json);
    cairn_plan_hash(p, out);
    cairn_plan_free(p);
}

static void test_hash_equality(void **state)
{
    (void)state;
    static const char *const same[] = {
        "{\"cairn_plan\":1,\"plan_id\":\"p\",\"operations\":[{\"id\":\"a\","
        "\"kind\":\"task\",\"timeout\":\"5s\"}]}",
        "\n{ \"operations\" : [ { \"timeout\" : \"5s\" , \"kind\" : \"task\","
        "\n\t\"id\" : \"a\" } ] , \"plan_id\" : \"p\", \"cairn_plan\" : 1 }\n",
        "{\"cairn_plan\":1,\"run_id\":\"r-1\",\"plan_id\":\"p\",\"operations\":"
        "[{\"id\":\"a\",\"kind\":\"task\",\"timeout\":\"5s\"}]}",
        "{\"run_id\":\"r-2\",\"cairn_plan\":1,\"plan_id\":\"\\u0070\","
        "\"operations\":[{\"id\":\"a\",\"kind\":\"task\",\"timeout\":\"5s\"}]}",
    };
    static const char *const differ[] = {
        "{\"cairn_plan\":1,\"plan_id\":\"p\",\"operations\":[{\"id\":\"a\","
        "\"kind\":\"task\",\"timeout\":\"6s\"}]}",
        "{\"cairn_plan\":1,\"plan_id\":\"q\",\"operations\":[{\"id\":\"a\","
        "\"kind\":\"task\",\"timeout\":\"5s\"}]}",
        "{\"cairn_plan\":1,\"plan_id\":\"p\",\"operations\":[{\"id\":\"a\","
        "\"kind\":\"verify\",\"timeout\":\"5s\"}]}",
        /* "5000ms" is the same duration but not the same plan text. */
        "{\"cairn_plan\":1,\"plan_id\":\"p\",\"operations\":[{\"id\":\"a\","
        "\"kind\":\"task\",\"timeout\":\"5000ms\"}]}",
        "{\"cairn_plan\":1,\"plan_id\":\"p\",\"operations\":[{\"id\":\"a\","
        "\"kind\":\"task\",\"timeout\":\"5s\",\"idempotent\":false}]}",
    };
    uint8_t first[CAIRN_HASH_BYTES], h[CAIRN_HASH_BYTES];
    hash_of(same[0], first);
    for (size_t i = 1; i < CAIRN_ARRAY_LEN(same); i++) {
        hash_of(same[i], h);
        assert_memory_equal(h, first, CAIRN_HASH_BYTES);
    }
    for (size_t i = 0; i < CAIRN_ARRAY_LEN(differ); i++) {
        hash_of(differ[i], h);
        assert_memory_not_equal(h, first, CAIRN_HASH_BYTES);
    }
}

static void from_canonical_bad(const char *json, const char *want)
{
    cairn_plan *p = (cairn_plan *)(uintptr_t)1;
    char detail[512] = "";
    assert_int_equal(cairn__plan_from_canonical(json, strlen(json), &p, detail,
                                                sizeof(detail)),
                     CAIRN_EPLAN);
    assert_null(p);
    assert_string_equal(detail, want);
}

static void test_from_canonical_strict(void **state)
{
    (void)state;
    const char *not_canonical = "not in canonical form (compact, sorted "
                                "keys, ASCII only)";
    char want[256];
    snprintf(want, sizeof(want), "$: %s", not_canonical);
    from_canonical_bad("{\"plan_id\":\"p\",\"cairn_plan\":1,\"operations\":"
                       "[{\"id\":\"a\",\"kind\":\"task\"}]}",
                       want);
    from_canonical_bad("{\"cairn_plan\":1, \"operations\":[{\"id\":\"a\","
                       "\"kind\":\"task\"}],\"plan_id\":\"p\"}",
                       want);
    from_canonical_bad("{\"cairn_plan\":1,\"operations\":[{\"id\":\"a\","
                       "\"kind\":\"task\"}],\"plan_id\":\"p\"}\n",
                       want);
    from_canonical_bad("{\"cairn_plan\":1,\"operations\":[{\"description\":"
                       "\"caf\xc3\xa9\",\"id\":\"a\",\"kind\":\"task\"}],"
                       "\"plan_id\":\"p\"}",
                       want);
    from_canonical_bad("{\"cairn_plan\":1,\"operations\":[{\"id\":\"a\","
                       "\"kind\":\"task\"}],\"plan_id\":\"p\",\"run_id\":"
                       "\"r\"}",
                       "$: \"run_id\" is not allowed in a canonical plan");
    from_canonical_bad("{\"cairn_plan\":1,\"operations\":[{\"id\":\"a\","
                       "\"kind\":\"tusk\"}],\"plan_id\":\"p\"}",
                       "$.operations[0].kind: unknown kind \"tusk\" (expected "
                       "preflight, stop, start, snapshot, transfer, verify, "
                       "restore, finalize, task or cleanup)");
}

static void test_canonical_too_large(void **state)
{
    (void)state;
    /* 12,000 ops with 1000 four-byte characters each: ~48 MB of input
     * whose \uXXXX\uXXXX escapes take 144 MB. */
    size_t cap = 12000 * 4200 + 128;
    char *buf = malloc(cap);
    assert_non_null(buf);
    size_t len = (size_t)snprintf(
        buf, cap, "{\"cairn_plan\":1,\"plan_id\":\"p\",\"operations\":[");
    for (size_t i = 0; i < 12000; i++) {
        len += (size_t)snprintf(buf + len, cap - len,
                                "%s{\"id\":\"o%zu\",\"kind\":\"task\","
                                "\"run\":[\"echo\",\"",
                                i ? "," : "", i);
        for (size_t j = 0; j < 1000; j++) {
            memcpy(buf + len, "\xf0\x9f\x98\x80", 4);
            len += 4;
        }
        len += (size_t)snprintf(buf + len, cap - len, "\"]}");
    }
    len += (size_t)snprintf(buf + len, cap - len, "]}");
    assert_true(len < CAIRN_MAX_PLAN_BYTES);
    parse_bad(buf, len, "$: canonical form is larger than 134217728 bytes");
    free(buf);
}

struct duration_case {
    const char *text;
    uint64_t ns; /* 0: must be rejected */
};

static void test_durations(void **state)
{
    (void)state;
    static const struct duration_case cases[] = {
        {"1ms", MS},
        {"500ms", 500 * MS},
        {"1s", SEC},
        {"90s", 90 * SEC},
        {"1m", 60 * SEC},
        {"10m", 600 * SEC},
        {"2h", 7200 * SEC},
        {"1h30m", 5400 * SEC},
        {"1d", 86400 * SEC},
        {"1d2h3m4s5ms", 93784 * SEC + 5 * MS},
        {"007s", 7 * SEC},
        {"0s1ms", MS},
        {"1s1s", 2 * SEC},
        {"30m1h", 5400 * SEC},
        {"213503d", 213503ull * 86400 * SEC},
        {"18446744073709ms", 18446744073709ull * MS},
        {"18446744073s709ms", 18446744073709ull * MS},
        {"", 0},
        {"10", 0},
        {"5x", 0},
        {"-1s", 0},
        {"+1s", 0},
        {"1.5s", 0},
        {" 1s", 0},
        {"1s ", 0},
        {"1 s", 0},
        {"0s", 0},
        {"0ms0s0d", 0},
        {"s", 0},
        {"ms", 0},
        {"1S", 0},
        {"1sm", 0},
        {"1mss", 0},
        {"1us", 0},
        {"1ns", 0},
        {"1h30", 0},
        {"213504d", 0},
        {"18446744073710ms", 0},
        {"18446744073709ms1s", 0},
        {"18446744073709551616ms", 0},
        {"99999999999999999999999999s", 0},
        {"1e3s", 0},
        {"0x10s", 0},
    };
    for (size_t i = 0; i < CAIRN_ARRAY_LEN(cases); i++) {
        uint64_t ns = 42;
        int rc = cairn__duration_parse(cases[i].text, &ns);
        if (rc != (cases[i].ns ? 0 : -1) || ns != cases[i].ns) {
            print_error("duration \"%s\": rc %d ns %llu\n", cases[i].text, rc,
                        (unsigned long long)ns);
        }
        assert_int_equal(rc, cases[i].ns ? 0 : -1);
        assert_int_equal(ns, cases[i].ns);
    }
    uint64_t ns = 42;
    assert_int_equal(cairn__duration_parse(NULL, &ns), -1);
    assert_int_equal(ns, 0);
    assert_int_equal(cairn__duration_parse("1s", NULL), -1);
}

/* The exported parser: the same grammar; zero only when the caller says
 * it means something (CAIRN_DURATION_ZERO); a reason for every refusal. */
static void test_duration_public(void **state)
{
    (void)state;
    uint64_t ns = 42;
    char why[CAIRN_DURATION_WHY_MAX];
    assert_int_equal(cairn_duration_parse("1h30m", 0, &ns, why, sizeof(why)),
                     CAIRN_OK);
    assert_int_equal(ns, 5400000000000ull);
    assert_string_equal(why, "");
    assert_int_equal(cairn_duration_parse("0s", 0, &ns, why, sizeof(why)),
                     CAIRN_EINVAL);
    assert_int_equal(ns, 0);
    assert_string_equal(why, "must be greater than zero");
    ns = 42;
    assert_int_equal(
        cairn_duration_parse("0s", CAIRN_DURATION_ZERO, &ns, why, sizeof(why)),
        CAIRN_OK);
    assert_int_equal(ns, 0);
    assert_int_equal(
        cairn_duration_parse("0ms0s0d", CAIRN_DURATION_ZERO, &ns, NULL, 0),
        CAIRN_OK);
    assert_int_equal(
        cairn_duration_parse("2d", CAIRN_DURATION_ZERO, &ns, NULL, 0),
        CAIRN_OK);
    assert_int_equal(ns, 172800000000000ull);
    /* The flag allows zero, nothing else. */
    const char *bad[] = {"", "0", "-0s", "0x", "1s ", "18446744073710ms"};
    for (size_t i = 0; i < CAIRN_ARRAY_LEN(bad); i++) {
        ns = 42;
        assert_int_equal(cairn_duration_parse(bad[i], CAIRN_DURATION_ZERO, &ns,
                                              why, sizeof(why)),
                         CAIRN_EINVAL);
        assert_int_equal(ns, 0);
        assert_true(why[0] != '\0');
    }
    assert_int_equal(cairn_duration_parse("1x", 0, &ns, why, sizeof(why)),
                     CAIRN_EINVAL);
    assert_string_equal(why, "offset 1: expected a unit (ms, s, m, h or d)");
    assert_int_equal(cairn_duration_parse("1s", 0x2u, &ns, why, sizeof(why)),
                     CAIRN_EINVAL);
    assert_int_equal(cairn_duration_parse(NULL, 0, &ns, why, sizeof(why)),
                     CAIRN_EINVAL);
    assert_int_equal(cairn_duration_parse("1s", 0, NULL, why, sizeof(why)),
                     CAIRN_EINVAL);
}

static void test_kinds(void **state)
{
    (void)state;
    for (int k = CAIRN_KIND_PREFLIGHT; k <= CAIRN_KIND_CLEANUP; k++) {
        cairn_kind kind = (cairn_kind)k;
        assert_int_equal(cairn__kind_parse(cairn_kind_name(kind)), kind);
        assert_int_equal(cairn__kind_mutating(kind) != 0,
                         kind != CAIRN_KIND_PREFLIGHT);
    }
    assert_int_equal(cairn__kind_parse("Preflight"), 0);
    assert_int_equal(cairn__kind_parse("unknown"), 0);
    assert_int_equal(cairn__kind_parse(""), 0);
    assert_int_equal(cairn__kind_parse(NULL), 0);
}

static void test_load_and_arguments(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp();
    char *missing = tu_path(dir, "missing.json");
    char detail[512], want[600];
    cairn_plan *p = (cairn_plan *)(uintptr_t)1;
    assert_int_equal(cairn_plan_load(missing, &p, detail, sizeof(detail)),
                     CAIRN_EIO);
    assert_null(p);
    snprintf(want, sizeof(want), "%s: No such file or directory", missing);
    assert_string_equal(detail, want);
    p = (cairn_plan *)(uintptr_t)1;
    assert_int_equal(cairn_plan_load(dir, &p, detail, sizeof(detail)),
                     CAIRN_EIO);
    assert_null(p);
    snprintf(want, sizeof(want), "%s: a directory, not a regular file", dir);
    assert_string_equal(detail, want);
    free(missing);
    tu_rmtree(dir);

    assert_int_equal(cairn_plan_parse(NULL, 0, &p, NULL, 0), CAIRN_EINVAL);
    assert_int_equal(cairn_plan_parse("{}", 2, NULL, NULL, 0), CAIRN_EINVAL);
    assert_int_equal(cairn_plan_load(NULL, &p, NULL, 0), CAIRN_EINVAL);
    /* detail may be NULL, or too small (cut, still terminated). */
    assert_int_equal(cairn_plan_parse("[]", 2, &p, NULL, 0), CAIRN_EPLAN);
    char small[8];
    assert_int_equal(cairn_plan_parse("[]", 2, &p, small, sizeof(small)),
                     CAIRN_EPLAN);
    assert_string_equal(small, "$: expe");
    /* The length is honoured: no NUL terminator needed. */
    const char *text = "{\"cairn_plan\":1,\"plan_id\":\"p\",\"operations\":[{"
                       "\"id\":\"a\",\"kind\":\"task\"}]}garbage";
    assert_int_equal(cairn_plan_parse(text, strlen(text) - 7, &p, NULL, 0),
                     CAIRN_OK);
    cairn_plan_free(p);

    cairn_plan_free(NULL);
    uint8_t hash[CAIRN_HASH_BYTES];
    memset(hash, 0xAA, sizeof(hash));
    cairn_plan_hash(NULL, hash);
    assert_int_equal(hash[0], 0);
    assert_null(cairn_plan_id(NULL));
    assert_null(cairn_plan_run_id(NULL));
    assert_int_equal(cairn_plan_op_count(NULL), 0);
}

/* jansson allocations fail from the Nth on: every outcome is clean. */
static size_t alloc_count, alloc_fail_at;
static void *failing_malloc(size_t n)
{
    return ++alloc_count >= alloc_fail_at ? NULL : malloc(n);
}

static void test_jansson_alloc_failure(void **state)
{
    (void)state;
    char *path = plan_path("tests/plans/good", "all-keys.json");
    size_t len;
    char *text = tu_read_file(path, &len);
    cairn_err err = CAIRN_ENOMEM;
    size_t nomem = 0;
    for (alloc_fail_at = 1; err != CAIRN_OK; alloc_fail_at++) {
        assert_true(alloc_fail_at < 100000);
        alloc_count = 0;
        json_set_alloc_funcs(failing_malloc, free);
        cairn_plan *p = (cairn_plan *)(uintptr_t)1;
        char detail[512] = "";
        err = cairn_plan_parse(text, len, &p, detail, sizeof(detail));
        json_set_alloc_funcs(malloc, free);
        if (err == CAIRN_OK) {
            assert_int_equal(alloc_count, alloc_fail_at - 1);
            cairn_plan_free(p);
            continue;
        }
        /* jansson sometimes reports a failed allocation as a syntax error. */
        assert_true(err == CAIRN_ENOMEM || err == CAIRN_EPLAN);
        assert_null(p);
        if (err == CAIRN_ENOMEM) {
            assert_string_equal(detail, "plan: out of memory");
            nomem++;
        }
    }
    assert_true(nomem > 0);
    free(text);
    free(path);
}

/* env, pass_env, env_file, cwd at both levels; daemon, ready and
 * probe_timeout with their defaults. */
static void test_settings_and_services(void **state)
{
    (void)state;
    cairn_plan *plan =
        parse_ok("{\"cairn_plan\":1,\"plan_id\":\"p\",\"env\":{\"Z\":\"z\","
                 "\"A_1\":\"a b\"},\"pass_env\":[\"HOME\"],\"env_file\":\"e\","
                 "\"cwd\":\"w\",\"operations\":["
                 "{\"id\":\"s\",\"kind\":\"stop\",\"target\":\"db\"},"
                 "{\"id\":\"b\",\"kind\":\"start\",\"target\":\"db\","
                 "\"ready\":{\"run\":[\"ping\"],\"timeout\":\"2m\"},"
                 "\"env\":{\"A_1\":\"op\"},\"cwd\":\"/srv\"},"
                 "{\"id\":\"t\",\"kind\":\"task\",\"daemon\":true,"
                 "\"probe_timeout\":\"10s\"}]}");
    const cairn_plan_settings *ps = &plan->settings;
    assert_int_equal(ps->n_env, 2);
    assert_string_equal(ps->env_names[0], "A_1"); /* sorted */
    assert_string_equal(ps->env_values[0], "a b");
    assert_string_equal(ps->env_names[1], "Z");
    assert_int_equal(ps->n_pass_env, 1);
    assert_string_equal(ps->pass_env[0], "HOME");
    assert_string_equal(ps->env_file, "e");
    assert_string_equal(ps->cwd, "w");
    const cairn_plan_op *stop = &plan->ops[0], *start = &plan->ops[1],
                        *task = &plan->ops[2];
    assert_false(stop->daemon);
    assert_int_equal(stop->probe_timeout_ns, 300 * SEC);
    assert_true(start->daemon); /* kind start */
    assert_string_equal(start->ready.v[0], "ping");
    assert_int_equal(start->ready_timeout_ns, 120 * SEC);
    assert_int_equal(start->ready_interval_ns, 1 * SEC);
    assert_string_equal(start->settings.cwd, "/srv");
    assert_string_equal(start->settings.env_values[0], "op");
    assert_true(task->daemon);
    assert_int_equal(task->ready.n, 0);
    assert_int_equal(task->probe_timeout_ns, 10 * SEC);
    assert_canonical_roundtrip(plan);
    cairn_plan_free(plan);
}

/* cairn_plan_parse_at records the working directory in the canonical plan
 * (so that resumes resolve relative paths the same way). */
static void test_parse_at_records_cwd(void **state)
{
    (void)state;
    static const char none[] = "{\"cairn_plan\":1,\"plan_id\":\"p\","
                               "\"operations\":[{\"id\":\"a\","
                               "\"kind\":\"task\"}]}";
    static const char rel[] = "{\"cairn_plan\":1,\"plan_id\":\"p\","
                              "\"cwd\":\"sub/dir\",\"operations\":[{"
                              "\"id\":\"a\",\"kind\":\"task\"}]}";
    static const char abs[] = "{\"cairn_plan\":1,\"plan_id\":\"p\","
                              "\"cwd\":\"/x\",\"operations\":[{"
                              "\"id\":\"a\",\"kind\":\"task\"}]}";
    cairn_plan *p = NULL;
    char detail[512] = "";
    assert_int_equal(cairn_plan_parse_at(none, strlen(none), "/home/op", &p,
                                         detail, sizeof(detail)),
                     CAIRN_OK);
    assert_string_equal(p->settings.cwd, "/home/op");
    assert_non_null(strstr(p->canonical, "\"cwd\":\"/home/op\""));
    cairn_plan *again = NULL;
    assert_int_equal(cairn__plan_from_canonical(p->canonical, p->canonical_len,
                                                &again, detail, sizeof(detail)),
                     CAIRN_OK);
    assert_string_equal(again->settings.cwd, "/home/op");
    cairn_plan_free(again);
    cairn_plan_free(p);
    assert_int_equal(cairn_plan_parse_at(rel, strlen(rel), "/home/op/", &p,
                                         detail, sizeof(detail)),
                     CAIRN_OK);
    assert_string_equal(p->settings.cwd, "/home/op/sub/dir");
    cairn_plan_free(p);
    assert_int_equal(cairn_plan_parse_at(abs, strlen(abs), "/home/op", &p,
                                         detail, sizeof(detail)),
                     CAIRN_OK);
    assert_string_equal(p->settings.cwd, "/x");
    cairn_plan_free(p);
    p = (cairn_plan *)(uintptr_t)1;
    assert_int_equal(cairn_plan_parse_at(none, strlen(none), "rel", &p, detail,
                                         sizeof(detail)),
                     CAIRN_EINVAL);
    assert_null(p);
    /* Without a base the plan is as written. */
    assert_int_equal(cairn_plan_parse_at(none, strlen(none), NULL, &p, detail,
                                         sizeof(detail)),
                     CAIRN_OK);
    assert_null(p->settings.cwd);
    cairn_plan_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_design_example),
        cmocka_unit_test(test_minimal_defaults),
        cmocka_unit_test(test_all_keys),
        cmocka_unit_test(test_backoff_defaults),
        cmocka_unit_test(test_good_corpus),
        cmocka_unit_test(test_bad_corpus),
        cmocka_unit_test(test_size_limits),
        cmocka_unit_test(test_operation_count),
        cmocka_unit_test(test_cross_rules_report_first),
        cmocka_unit_test(test_canonical_bytes),
        cmocka_unit_test(test_hash_equality),
        cmocka_unit_test(test_from_canonical_strict),
        cmocka_unit_test(test_canonical_too_large),
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_duration_public),
        cmocka_unit_test(test_kinds),
        cmocka_unit_test(test_load_and_arguments),
        cmocka_unit_test(test_jansson_alloc_failure),
        cmocka_unit_test(test_settings_and_services),
        cmocka_unit_test(test_parse_at_records_cwd),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
