/*
 * plan.h - the validated in-memory form of a JSON plan
 * (docs/DESIGN.md section 6).
 */
#ifndef CAIRN_PLAN_H
#define CAIRN_PLAN_H

#include "base/common.h"

typedef struct cairn_argv {
    char **v; /**< n strings followed by a NULL (execv style) */
    size_t n; /**< 0: absent */
} cairn_argv;

/** Settings of a command (plan level or per operation; docs/cairn.1,
 *  PLAN FORMAT).  Every field is absent when NULL / 0. */
typedef struct cairn_plan_settings {
    char **env_names; /**< "env": literal variables, in sorted order */
    char **env_values;
    size_t n_env;
    char **pass_env; /**< "pass_env": names from the runner's environment */
    size_t n_pass_env;
    char *env_file; /**< "env_file": KEY=VALUE file read at spawn time */
    char *cwd;      /**< "cwd" */
} cairn_plan_settings;

#define CAIRN_PLAN_MAX_ENV 128      /**< entries of one "env" object */
#define CAIRN_PLAN_MAX_PASS_ENV 64  /**< names of one "pass_env" array */
#define CAIRN_PLAN_MAX_ENV_NAME 128 /**< bytes of a variable name */
#define CAIRN_PLAN_READY_TIMEOUT_DEFAULT 30000000000ull
#define CAIRN_PLAN_READY_INTERVAL_DEFAULT 1000000000ull
#define CAIRN_PLAN_PROBE_TIMEOUT_DEFAULT 300000000000ull

/** What the value of a required output must look like (a "requires"
 *  entry of the plan; docs/cairn-plan.5).  Append-only: the numbers are
 *  stored in the run state (docs/FORMAT.md "Run state"). */
typedef enum cairn_output_type {
    CAIRN_OUTPUT_NONEMPTY = 0, /**< at least one byte (the default) */
    CAIRN_OUTPUT_ANY = 1,      /**< present, may be empty */
    CAIRN_OUTPUT_SHA256 = 2    /**< "sha256:" + 64 lowercase hex, or 64 */
} cairn_output_type;
#define CAIRN_OUTPUT_TYPE_LAST CAIRN_OUTPUT_SHA256
/** Bytes of a "pattern" (a POSIX extended regular expression). */
#define CAIRN_PLAN_MAX_PATTERN 256

/** The rule one required output obeys. */
typedef struct cairn_output_rule {
    cairn_output_type type;
    char *pattern; /**< the whole value must match; NULL: no pattern */
} cairn_output_rule;

typedef struct cairn_plan_op {
    char *id;
    cairn_kind kind;
    char *target;            /**< NULL when absent */
    cairn_argv run;          /**< the command (argv, no shell) */
    cairn_argv probe;        /**< in-doubt probe */
    uint64_t timeout_ns;     /**< 0: none */
    uint32_t attempts;       /**< retry.attempts; default 1 */
    uint64_t backoff_ns;     /**< retry.backoff; default 1 s */
    uint64_t max_backoff_ns; /**< retry.max_backoff; default 60 s */
    int *retry_exit_codes;   /**< retry.exit_codes */
    size_t n_retry_exit_codes;
    char **requires; /**< output keys a completed receipt needs */
    cairn_output_rule *require_rules; /**< n_requires rules, same order */
    size_t n_requires;
    int idempotent;
    cairn_plan_settings settings; /**< env, env_file, pass_env, cwd */
    int daemon;                   /**< may leave processes behind */
    cairn_argv ready;             /**< readiness check (daemon ops) */
    uint64_t ready_timeout_ns;    /**< default 30 s */
    uint64_t ready_interval_ns;   /**< default 1 s */
    uint64_t probe_timeout_ns;    /**< default 5 min */
} cairn_plan_op;

struct cairn_plan {
    uint32_t version; /**< cairn_plan, must be 1 */
    char *plan_id;
    char *run_id;                 /**< NULL when absent */
    uint64_t deadline_ns;         /**< 0: none */
    cairn_plan_settings settings; /**< plan-level env, ..., cwd */
    cairn_plan_op *ops;
    size_t n_ops;
    /** Canonical bytes: the plan without run_id, keys sorted, compact
     *  (docs/FORMAT.md "Canonical plan"); hash = SHA-256 of them. */
    char *canonical;
    size_t canonical_len;
    uint8_t hash[CAIRN_HASH_BYTES];
};

/** True for kinds that change the world (all but preflight). */
CAIRN_INTERNAL int cairn__kind_mutating(cairn_kind kind);
/** Parse a kind word ("preflight", ...); 0 when unknown. */
CAIRN_INTERNAL cairn_kind cairn__kind_parse(const char *word);

/** True when @p name is a valid variable name for "env"/"pass_env"/an
 *  env_file: [A-Za-z_][A-Za-z0-9_]*, at most CAIRN_PLAN_MAX_ENV_NAME bytes,
 *  not starting with "CAIRN_" (those are the runner's). */
CAIRN_INTERNAL int cairn__env_name_ok(const char *name, size_t len);

/** Name of an output type ("nonempty", "any", "sha256"). */
CAIRN_INTERNAL const char *cairn__output_type_name(cairn_output_type type);
/** Parse an output type name; 0 on success, -1 when unknown. */
CAIRN_INTERNAL int cairn__output_type_parse(const char *name,
                                            cairn_output_type *out);
/** True when @p rule is the default (nonempty, no pattern). */
CAIRN_INTERNAL int cairn__output_rule_default(const cairn_output_rule *rule);
/** Does @p pattern compile as a POSIX extended regular expression of at
 *  most CAIRN_PLAN_MAX_PATTERN bytes?  0 when it does; otherwise -1 and
 *  @p why (may be NULL) says why (regerror's text). */
CAIRN_INTERNAL int cairn__output_pattern_check(const char *pattern, char *why,
                                               size_t why_len);
/**
 * Does @p value satisfy @p rule: its type, then its pattern (which must
 * match the whole value)?  @return 0 when it does; -1 otherwise with @p why
 * (may be NULL) naming the rule broken, e.g. "is empty", "is not a sha256
 * digest (expected sha256:<64 lowercase hex> or 64 lowercase hex)", "does
 * not match pattern \"...\"".  The value itself is not quoted.
 */
CAIRN_INTERNAL int cairn__output_check(const cairn_output_rule *rule,
                                       const char *value, char *why,
                                       size_t why_len);
/** Deep copy of @p n names and rules (NULL rules: all default) into
 *  *names and *rules (both NULL when n is 0).  On failure both are NULL. */
CAIRN_INTERNAL cairn_err cairn__requires_copy(char *const *src_names,
                                              const cairn_output_rule *src,
                                              size_t n, char ***names,
                                              cairn_output_rule **rules);
/** Free what cairn__requires_copy() made (NULL-safe). */
CAIRN_INTERNAL void cairn__requires_free(char **names, cairn_output_rule *rules,
                                         size_t n);

/** Parse the canonical plan stored in a CREATE record (the same strict
 *  validation as cairn_plan_parse; run_id stays NULL). */
CAIRN_INTERNAL cairn_err cairn__plan_from_canonical(const char *json,
                                                    size_t len,
                                                    cairn_plan **out,
                                                    char *detail,
                                                    size_t detail_len);

#endif
