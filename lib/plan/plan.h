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

/**
 * Parse a duration: one or more <integer><unit> groups, units ms, s, m, h,
 * d (e.g. "2h", "1h30m", "500ms").  Must be > 0 and fit in uint64 ns.
 * @return 0 on success, -1 otherwise.
 */
CAIRN_INTERNAL int cairn__duration_parse(const char *text, uint64_t *ns);

/** True when @p name is a valid variable name for "env"/"pass_env"/an
 *  env_file: [A-Za-z_][A-Za-z0-9_]*, at most CAIRN_PLAN_MAX_ENV_NAME bytes,
 *  not starting with "CAIRN_" (those are the runner's). */
CAIRN_INTERNAL int cairn__env_name_ok(const char *name, size_t len);

/** Parse the canonical plan stored in a CREATE record (the same strict
 *  validation as cairn_plan_parse; run_id stays NULL). */
CAIRN_INTERNAL cairn_err cairn__plan_from_canonical(const char *json,
                                                    size_t len,
                                                    cairn_plan **out,
                                                    char *detail,
                                                    size_t detail_len);

#endif
