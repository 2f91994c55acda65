/*
 * time.c - RFC 3339 timestamps to and from Unix seconds, by calendar
 * arithmetic alone: no time zone database, no locale, no libc time calls.
 */
#include "escalator.h"

#include <stdbool.h>

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const int64_t yoe = y - era * 400;
    const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* The inverse of days_from_civil. */
static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const int64_t doe = z - era * 146097;
    const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/* Reads exactly n decimal digits at *s and advances past them; false when
 * any of them is not a digit. */
static bool digits(const char **s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        char c = (*s)[i];
        if (c < '0' || c > '9')
            return false;
        v = v * 10 + (c - '0');
    }
    *s += n;
    *out = v;
    return true;
}

static bool expect(const char **s, char c)
{
    if (**s != c)
        return false;
    (*s)++;
    return true;
}

/*
 * Accepts "YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)" and nothing else: the
 * separator may be 'T', 't' or a space, the zone 'Z' or 'z'. A fraction of
 * any length is truncated to whole seconds. Leap seconds (":60") are
 * rejected. Returns ESC_EINVAL, leaving *out untouched, for anything else.
 */
ESC_EXTERN int esc_time_parse(const char *s, int64_t *out)
{
    int year, mon, day, hour, min, sec, off_h = 0, off_m = 0, sign = 0;

    if (!s || !out)
        return ESC_EINVAL;
    if (!digits(&s, 4, &year) || !expect(&s, '-') || !digits(&s, 2, &mon) ||
        !expect(&s, '-') || !digits(&s, 2, &day))
        return ESC_EINVAL;
    if (*s != 'T' && *s != 't' && *s != ' ')
        return ESC_EINVAL;
    s++;
    if (!digits(&s, 2, &hour) || !expect(&s, ':') || !digits(&s, 2, &min) ||
        !expect(&s, ':') || !digits(&s, 2, &sec))
        return ESC_EINVAL;
    if (*s == '.') {
        s++;
        if (*s < '0' || *s > '9')
            return ESC_EINVAL;
        while (*s >= '0' && *s <= '9')
            s++;
    }
    if (*s == 'Z' || *s == 'z') {
        s++;
    } else if (*s == '+' || *s == '-') {
        sign = *s == '-' ? -1 : 1;
        s++;
        if (!digits(&s, 2, &off_h) || !expect(&s, ':') ||
            !digits(&s, 2, &off_m))
            return ESC_EINVAL;
    } else {
        return ESC_EINVAL;
    }
    if (*s != '\0')
        return ESC_EINVAL;

    if (mon < 1 || mon > 12 || day < 1 || day > days_in_month(year, mon) ||
        hour > 23 || min > 59 || sec > 59 || off_h > 23 || off_m > 59)
        return ESC_EINVAL;

    int64_t t = days_from_civil(year, mon, day) * 86400 + hour * 3600 +
                min * 60 + sec;
    t -= sign * (off_h * 3600 + off_m * 60);
    *out = t;
    return 0;
}

/* Two decimal digits of v (0 to 99). */
static void put2(char *p, int v)
{
    p[0] = (char)('0' + v / 10);
    p[1] = (char)('0' + v % 10);
}

/* Writes "YYYY-MM-DDTHH:MM:SSZ". ESC_EINVAL when buf is shorter than 21
 * bytes or the year falls outside 0000-9999. */
ESC_EXTERN int esc_time_format(int64_t t, char *buf, size_t size)
{
    /* 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z */
    const int64_t min_t = -62167219200, max_t = 253402300799;

    if (!buf || size < 21)
        return ESC_EINVAL;
    if (t < min_t || t > max_t) {
        buf[0] = '\0';
        return ESC_EINVAL;
    }
    int64_t days = t / 86400, secs = t % 86400;
    if (secs < 0) {
        secs += 86400;
        days--;
    }
    int64_t y;
    int m, d;
    civil_from_days(days, &y, &m, &d);
    /* Every decision writes a few of these: the digits directly, as
     * "%04d-%02d-%02dT%02d:%02d:%02dZ" would (the year is 0 to 9999). */
    int yy = (int)y, hh = (int)(secs / 3600), mi = (int)(secs / 60 % 60),
        ss = (int)(secs % 60);
    buf[0] = (char)('0' + yy / 1000);
    buf[1] = (char)('0' + yy / 100 % 10);
    buf[2] = (char)('0' + yy / 10 % 10);
    buf[3] = (char)('0' + yy % 10);
    buf[4] = '-';
    put2(buf + 5, m);
    buf[7] = '-';
    put2(buf + 8, d);
    buf[10] = 'T';
    put2(buf + 11, hh);
    buf[13] = ':';
    put2(buf + 14, mi);
    buf[16] = ':';
    put2(buf + 17, ss);
    buf[19] = 'Z';
    buf[20] = '\0';
    return 0;
}
