/*
 * fuzz_env_file.c - Target: cairn__env_file_parse(), the parser of a
 * plan's "env_file" (read when a command is spawned; the file may be
 * anyone's).  Aborts when an accepted file yields an entry that is not
 * NAME=VALUE with a valid name, a value holding a newline, a duplicate
 * name, more variables than the file has lines, or when a rejection gives
 * no reason.
 */
#include "runner/runner.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1);
    runner_env env;
    char why[256] = "";
    if (buf == NULL) {
        return 0;
    }
    memcpy(buf, data, size);
    memset(&env, 0, sizeof(env));
    size_t lines = 1;
    for (size_t i = 0; i < size; i++) {
        lines += data[i] == '\n';
    }
    cairn_err err = cairn__env_file_parse(buf, size, &env, why, sizeof(why));
    if (err != CAIRN_OK && why[0] == '\0') {
        abort();
    }
    if (err == CAIRN_OK && env.n > lines) {
        abort();
    }
    for (size_t i = 0; err == CAIRN_OK && i < env.n; i++) {
        const char *eq = strchr(env.v[i], '=');
        if (eq == NULL ||
            !cairn__env_name_ok(env.v[i], (size_t)(eq - env.v[i])) ||
            strchr(eq, '\n') != NULL) {
            abort();
        }
        for (size_t k = 0; k < i; k++) {
            size_t n = (size_t)(eq - env.v[i]) + 1;
            if (strncmp(env.v[k], env.v[i], n) == 0) {
                abort();
            }
        }
    }
    if (env.n < RUNNER_ENV_MAX + 1 && env.v[env.n] != NULL && env.n > 0) {
        abort();
    }
    cairn__runner_env_free(&env);
    free(buf);
    return 0;
}
