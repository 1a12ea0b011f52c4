/*
 * plan_json.h - helpers shared by the plan parser files (plan.c,
 * plan_json.c, plan_op.c, plan_order.c).  Only these files include
 * jansson.h.
 */
#ifndef CAIRN_PLAN_JSON_H
#define CAIRN_PLAN_JSON_H

#include "plan/plan.h"

#include <jansson.h>

/** Room for the longest JSON path we build
 *  ("$.operations[<size_t>].retry.exit_codes[<size_t>]"). */
#define CAIRN_PLAN_PATH_MAX 96
/** Room for a string quoted into a message by cairn__plan_quote(). */
#define CAIRN_PLAN_QUOTE_MAX 280

/** Defaults of an operation's "retry" object. */
#define CAIRN_PLAN_DEFAULT_ATTEMPTS 1u
#define CAIRN_PLAN_DEFAULT_BACKOFF_NS 1000000000ull
#define CAIRN_PLAN_DEFAULT_MAX_BACKOFF_NS 60000000000ull
#define CAIRN_PLAN_MAX_ATTEMPTS 100
#define CAIRN_PLAN_MAX_ARGV 256

/** Where a rejection is described (the caller's detail buffer). */
typedef struct cairn_plan_diag {
    char *detail;
    size_t detail_len;
} cairn_plan_diag;

/** Write "<path>: <message>" into the detail buffer; returns CAIRN_EPLAN. */
CAIRN_INTERNAL cairn_err cairn__plan_fail(const cairn_plan_diag *d,
                                          const char *path, const char *fmt,
                                          ...)
    __attribute__((format(printf, 3, 4)));
/** "expected <want>, got <type of v>"; returns CAIRN_EPLAN. */
CAIRN_INTERNAL cairn_err cairn__plan_type_error(const cairn_plan_diag *d,
                                                const char *path,
                                                const char *want,
                                                const json_t *v);
/** Out of memory: a short detail, returns CAIRN_ENOMEM. */
CAIRN_INTERNAL cairn_err cairn__plan_nomem(const cairn_plan_diag *d);

/** "<parent>.<key>" and "<parent>[<index>]" into out[CAIRN_PLAN_PATH_MAX]. */
CAIRN_INTERNAL void cairn__plan_path_key(char *out, const char *parent,
                                         const char *key);
CAIRN_INTERNAL void cairn__plan_path_index(char *out, const char *parent,
                                           size_t index);

/** Make @p s safe for a one-line message: printable ASCII is kept, '"'
 *  and '\\' are backslash-escaped, other bytes become \xHH; more than 64
 *  bytes are cut and "..." appended.  out holds CAIRN_PLAN_QUOTE_MAX. */
CAIRN_INTERNAL void cairn__plan_quote(const char *s, char *out);

/** "'c'" for a printable character (not space or quote), "0xHH" otherwise. */
CAIRN_INTERNAL void cairn__plan_describe_char(char c, char out[16]);

/** Reject any key of @p obj not in allowed[0..n). */
CAIRN_INTERNAL cairn_err cairn__plan_check_keys(const cairn_plan_diag *d,
                                                const json_t *obj,
                                                const char *path,
                                                const char *const *allowed,
                                                size_t n);

/** Member @p key of @p obj; CAIRN_EPLAN when @p required and missing.
 *  *out is NULL when absent. */
CAIRN_INTERNAL cairn_err cairn__plan_member(const cairn_plan_diag *d,
                                            const json_t *obj, const char *path,
                                            const char *key, int required,
                                            const json_t **out);

/** Validate an id value at @p path and copy it into *out. */
CAIRN_INTERNAL cairn_err cairn__plan_id_value(const cairn_plan_diag *d,
                                              const json_t *v, const char *path,
                                              char **out);
/** Field @p key of @p obj as an id (copied; *out NULL when absent). */
CAIRN_INTERNAL cairn_err cairn__plan_id_field(const cairn_plan_diag *d,
                                              const json_t *obj,
                                              const char *path, const char *key,
                                              int required, char **out);
/** Optional text field (at most CAIRN_MAX_TEXT bytes); validated only. */
CAIRN_INTERNAL cairn_err cairn__plan_text_field(const cairn_plan_diag *d,
                                                const json_t *obj,
                                                const char *path,
                                                const char *key);
/** Optional duration field.  *ns and *text are left alone when absent;
 *  *text (may be NULL) points into the JSON value. */
CAIRN_INTERNAL cairn_err cairn__plan_duration_field(
    const cairn_plan_diag *d, const json_t *obj, const char *path,
    const char *key, uint64_t *ns, const char **text);
/** Integer value in [min, max]. */
CAIRN_INTERNAL cairn_err cairn__plan_int_value(const cairn_plan_diag *d,
                                               const json_t *v,
                                               const char *path, json_int_t min,
                                               json_int_t max, json_int_t *out);

/** Parse operation @p index (JSON value @p v) into @p op, which must be
 *  zeroed; on failure @p op may hold allocations (cairn__plan_op_clear). */
CAIRN_INTERNAL cairn_err cairn__plan_parse_op(const cairn_plan_diag *d,
                                              const json_t *v, size_t index,
                                              cairn_plan_op *op);
/** Free everything @p op owns and zero it. */
CAIRN_INTERNAL void cairn__plan_op_clear(cairn_plan_op *op);

/** Optional argv field @p key of @p obj: a non-empty array of strings,
 *  copied NULL-ended into *out. */
CAIRN_INTERNAL cairn_err cairn__plan_argv_field(const cairn_plan_diag *d,
                                                const json_t *obj,
                                                const char *path,
                                                const char *key,
                                                cairn_argv *out);
/** "env", "pass_env", "env_file", "cwd" of @p obj (plan or operation). */
CAIRN_INTERNAL cairn_err cairn__plan_settings_parse(const cairn_plan_diag *d,
                                                    const json_t *obj,
                                                    const char *path,
                                                    cairn_plan_settings *s);
CAIRN_INTERNAL void cairn__plan_settings_clear(cairn_plan_settings *s);
/** "daemon", "ready", "probe_timeout" of an operation whose kind is set. */
CAIRN_INTERNAL cairn_err cairn__plan_service_fields(const cairn_plan_diag *d,
                                                    const json_t *obj,
                                                    const char *path,
                                                    cairn_plan_op *op);
/** Make the plan-level "cwd" absolute against @p base_dir (absolute), or
 *  set it to @p base_dir when absent, in @p root and in @p plan. */
CAIRN_INTERNAL cairn_err cairn__plan_record_cwd(const cairn_plan_diag *d,
                                                json_t *root, cairn_plan *plan,
                                                const char *base_dir);

/** Cross-operation rules: unique op ids, no mutating operation before the
 *  last preflight, stop/start alternation per target. */
CAIRN_INTERNAL cairn_err cairn__plan_check_order(const cairn_plan_diag *d,
                                                 const cairn_plan *plan);

#endif
