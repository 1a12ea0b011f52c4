/*
 * duration.h - the one duration parser: "500ms", "30s", "1h30m", "2d"
 * (plan durations, the runner's CLI options, `log --since`).  Exported as
 * cairn_duration_parse() for the CLI.
 */
#ifndef CAIRN_DURATION_H
#define CAIRN_DURATION_H

#include "base/common.h"

/** Room for the reason cairn__duration_check() gives. */
#define CAIRN_DURATION_WHY_MAX 96

/**
 * Parse one or more <digits><unit> groups, units ms, s, m, h, d, summed
 * into uint64 nanoseconds.  No sign, no spaces, no fractions; every step
 * is overflow-checked.  The total must be > 0 unless @p flags has
 * CAIRN_DURATION_ZERO.
 * @param ns   receives the value; 0 on failure.
 * @param why  optional (CAIRN_DURATION_WHY_MAX bytes): why @p text was
 *             rejected ("offset 2: expected a unit ...").
 * @return 0, or -1 when @p text is not a duration.
 */
CAIRN_INTERNAL int cairn__duration_check(const char *text, unsigned flags,
                                         uint64_t *ns, char *why,
                                         size_t why_len);
/** cairn__duration_check() with flags 0 and no reason; -1 also for NULL
 *  @p text (then *ns = 0) or NULL @p ns. */
CAIRN_INTERNAL int cairn__duration_parse(const char *text, uint64_t *ns);

#endif
