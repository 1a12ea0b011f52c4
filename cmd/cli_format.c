/*
 * cli_format.c - hex, key ids, RFC 3339 times, --since parsing, escaping,
 * texts cut to fit.
 */
#include "cli.h"

#include <stdarg.h>
#include <string.h>
#include <time.h>

#define NS_PER_S 1000000000ull
#define NS_PER_MS 1000000ull

void cli_hex(const uint8_t *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    size_t i;

    for (i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 0x0f];
    }
    out[2 * n] = '\0';
}

void cli_key_id_hex(const uint8_t id[CAIRN_KEY_ID_BYTES], char out[17])
{
    static const char digits[] = "0123456789ABCDEF";
    size_t i;

    /* minisign prints the little-endian keynum as %016llX: last byte
     * first. */
    for (i = 0; i < CAIRN_KEY_ID_BYTES; i++) {
        uint8_t b = id[CAIRN_KEY_ID_BYTES - 1 - i];
        out[2 * i] = digits[b >> 4];
        out[2 * i + 1] = digits[b & 0x0f];
    }
    out[16] = '\0';
}

void cli_time(uint64_t wall_ns, char *out, size_t out_len)
{
    time_t secs;
    struct tm tm;
    char base[32];

    if (wall_ns == 0) {
        snprintf(out, out_len, "-");
        return;
    }
    secs = (time_t)(wall_ns / NS_PER_S);
    if (gmtime_r(&secs, &tm) == NULL ||
        strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
        snprintf(out, out_len, "@%llu", (unsigned long long)wall_ns);
        return;
    }
    snprintf(out, out_len, "%s.%03uZ", base,
             (unsigned)((wall_ns / NS_PER_MS) % 1000u));
}

uint64_t cli_now_ns(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_REALTIME, &ts) != 0 || ts.tv_sec < 0) {
        return 0;
    }
    return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

/* Read exactly @p n digits at *p; -1 if not digits. */
static int digits(const char **p, int n)
{
    int v = 0;
    int i;

    for (i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9') {
            return -1;
        }
        v = v * 10 + (c - '0');
    }
    *p += n;
    return v;
}

static int expect(const char **p, const char *set)
{
    if (**p == '\0' || strchr(set, **p) == NULL) {
        return -1;
    }
    (*p)++;
    return 0;
}

/* Fraction of a second after the '.', up to 9 digits kept. */
static int fraction(const char **p, uint64_t *ns)
{
    uint64_t scale = 100000000u;
    int n = 0;

    *ns = 0;
    while (**p >= '0' && **p <= '9') {
        if (n < 9) {
            *ns += (uint64_t)(**p - '0') * scale;
            scale /= 10;
        }
        n++;
        (*p)++;
    }
    return n > 0 ? 0 : -1;
}

/* Zone: Z, or +HH:MM / -HH:MM.  Offset in seconds east of UTC. */
static int zone(const char **p, long *offset)
{
    int sign, h, m;

    if (**p == 'Z' || **p == 'z') {
        (*p)++;
        *offset = 0;
        return 0;
    }
    if (**p != '+' && **p != '-') {
        return -1;
    }
    sign = **p == '-' ? -1 : 1;
    (*p)++;
    h = digits(p, 2);
    if (h < 0 || h > 23 || expect(p, ":") != 0) {
        return -1;
    }
    m = digits(p, 2);
    if (m < 0 || m > 59) {
        return -1;
    }
    *offset = sign * (h * 3600L + m * 60L);
    return 0;
}

static int parse_rfc3339(const char *text, uint64_t *ns)
{
    static const int mdays[12] = {31, 29, 31, 30, 31, 30,
                                  31, 31, 30, 31, 30, 31};
    const char *p = text;
    struct tm tm;
    uint64_t frac = 0;
    long offset = 0;
    time_t t;

    memset(&tm, 0, sizeof(tm));
    tm.tm_year = digits(&p, 4);
    if (tm.tm_year < 1970 || expect(&p, "-") != 0 ||
        (tm.tm_mon = digits(&p, 2)) < 1 || tm.tm_mon > 12 ||
        expect(&p, "-") != 0 || (tm.tm_mday = digits(&p, 2)) < 1 ||
        tm.tm_mday > mdays[tm.tm_mon - 1] || expect(&p, "Tt ") != 0 ||
        (tm.tm_hour = digits(&p, 2)) < 0 || tm.tm_hour > 23 ||
        expect(&p, ":") != 0 || (tm.tm_min = digits(&p, 2)) < 0 ||
        tm.tm_min > 59 || expect(&p, ":") != 0 ||
        (tm.tm_sec = digits(&p, 2)) < 0 || tm.tm_sec > 60) {
        return -1;
    }
    if (tm.tm_mon == 2 && tm.tm_mday == 29 &&
        (tm.tm_year % 4 != 0 ||
         (tm.tm_year % 100 == 0 && tm.tm_year % 400 != 0))) {
        return -1;
    }
    if (*p == '.' && (p++, fraction(&p, &frac)) != 0) {
        return -1;
    }
    if (zone(&p, &offset) != 0 || *p != '\0') {
        return -1;
    }
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    t = timegm(&tm);
    if (t == (time_t)-1 || t - offset < 0) {
        return -1;
    }
    *ns = (uint64_t)(t - offset) * NS_PER_S + frac;
    return 0;
}

int cli_parse_since(const char *text, uint64_t now_ns, uint64_t *ns)
{
    uint64_t d;

    if (parse_rfc3339(text, ns) == 0) {
        return 0;
    }
    /* "0s" is now. */
    if (cairn_duration_parse(text, CAIRN_DURATION_ZERO, &d, NULL, 0) ==
        CAIRN_OK) {
        *ns = d >= now_ns ? 0 : now_ns - d;
        return 0;
    }
    return -1;
}

int cli_parse_until(const char *text, uint64_t now_ns, uint64_t *ns)
{
    uint64_t d;

    if (parse_rfc3339(text, ns) == 0) {
        return 0;
    }
    if (cairn_duration_parse(text, CAIRN_DURATION_ZERO, &d, NULL, 0) ==
            CAIRN_OK &&
        d <= UINT64_MAX - now_ns) {
        *ns = now_ns + d;
        return 0;
    }
    return -1;
}

int cli_parse_duration(const char *text, uint64_t *ns)
{
    return cairn_duration_parse(text, CAIRN_DURATION_ZERO, ns, NULL, 0) ==
                   CAIRN_OK
               ? 0
               : -1;
}

void cli_put_escaped(FILE *out, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    for (; *p != '\0'; p++) {
        switch (*p) {
        case '"':
            fputs("\\\"", out);
            break;
        case '\\':
            fputs("\\\\", out);
            break;
        case '\n':
            fputs("\\n", out);
            break;
        case '\t':
            fputs("\\t", out);
            break;
        case '\r':
            fputs("\\r", out);
            break;
        default:
            if (*p < 0x20 || *p == 0x7f) {
                fprintf(out, "\\x%02x", *p);
            } else {
                fputc(*p, out);
            }
            break;
        }
    }
}

void cli_textf(char *dst, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(dst, cap, fmt, ap);
    va_end(ap);
}
