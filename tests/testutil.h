/* testutil.h - helpers shared by the cmocka suites. */
#ifndef CAIRN_TESTUTIL_H
#define CAIRN_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the three headers above first. */
#include <cmocka.h>

#include "cairn.h"

/** Make a fresh temporary directory (mkdtemp under $TMPDIR or /tmp);
 *  returns a malloc'd path.  Fails the test on error. */
char *tu_mkdtemp(void);
/** rm -rf @p path (best effort) and free it. */
void tu_rmtree(char *path);
/** Write @p len bytes to @p path (created or truncated). */
void tu_write_file(const char *path, const void *data, size_t len);
/** Read a whole file; returns malloc'd bytes (NUL-terminated). */
char *tu_read_file(const char *path, size_t *len);
/** path join into a malloc'd string */
char *tu_path(const char *dir, const char *name);

#endif
