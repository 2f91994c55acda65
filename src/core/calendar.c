/*
 * calendar.c - business-hours arithmetic on top of ICU's time-zone rules.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unicode/ucal.h>
#include <unicode/ustring.h>

#include "calendar.h"

int esc__cal_open(const char *timezone, esc__ucal **out, char *err,
                  size_t errlen)
{
    UChar zone[128];
    size_t n = strlen(timezone);
    *out = NULL;
    if (n == 0 || n >= sizeof(zone) / sizeof(zone[0])) {
        snprintf(err, errlen, "unknown time zone '%s'", timezone);
        return -1;
    }
    u_charsToUChars(timezone, zone, (int32_t)n);
    zone[n] = 0;
    UErrorCode st = U_ZERO_ERROR;
    UChar canon[128];
    UBool system = 0;
    ucal_getCanonicalTimeZoneID(zone, (int32_t)n, canon,
                                (int32_t)(sizeof(canon) / sizeof(canon[0])),
                                &system, &st);
    if (U_FAILURE(st) || !system) {
        snprintf(err, errlen,
                 "unknown time zone '%s' (expected an IANA name such as "
                 "Europe/Paris or America/New_York)", timezone);
        return -1;
    }
    st = U_ZERO_ERROR;
    UCalendar *c = ucal_open(zone, (int32_t)n, "en_US", UCAL_GREGORIAN, &st);
    if (U_FAILURE(st) || !c) {
        snprintf(err, errlen, "cannot open time zone '%s': %s", timezone,
                 u_errorName(st));
        return -1;
    }
    *out = c;
    return 0;
}

esc__ucal *esc__cal_clone(const esc__ucal *proto)
{
    UErrorCode st = U_ZERO_ERROR;
    UCalendar *c = ucal_clone(proto, &st);
    return U_FAILURE(st) ? NULL : c;
}

void esc__cal_close(esc__ucal **c)
{
    if (c && *c) {
        ucal_close(*c);
        *c = NULL;
    }
}

typedef struct local {
    int32_t date;  /* YYYYMMDD */
    int dow;       /* 0: Sunday */
    int minute;    /* of the day */
} local;

static local to_local(esc__ucal *uc, int64_t t)
{
    UErrorCode st = U_ZERO_ERROR;
    ucal_setMillis(uc, (UDate)t * 1000.0, &st);
    local l;
    int32_t y = ucal_get(uc, UCAL_YEAR, &st);
    int32_t m = ucal_get(uc, UCAL_MONTH, &st) + 1;
    int32_t d = ucal_get(uc, UCAL_DATE, &st);
    l.date = y * 10000 + m * 100 + d;
    l.dow = ucal_get(uc, UCAL_DAY_OF_WEEK, &st) - UCAL_SUNDAY;
    l.minute = ucal_get(uc, UCAL_HOUR_OF_DAY, &st) * 60 +
               ucal_get(uc, UCAL_MINUTE, &st);
    return l;
}

/* The Unix time of a local date at a minute of the day (1440: the next
 * midnight). */
static int64_t from_local(esc__ucal *uc, int32_t date, int minute)
{
    UErrorCode st = U_ZERO_ERROR;
    ucal_clear(uc);
    /* Wall-clock time, so that days of a daylight-saving change keep their
     * opening hours. */
    ucal_setDateTime(uc, date / 10000, (date / 100) % 100 - 1, date % 100,
                     minute >= 1440 ? 0 : minute / 60, minute % 60, 0, &st);
    if (minute >= 1440)
        ucal_add(uc, UCAL_DATE, 1, &st);
    return (int64_t)(ucal_getMillis(uc, &st) / 1000.0);
}

int esc__cal_cmp_date(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return x < y ? -1 : x > y;
}

static bool working_day(const esc__calendar *c, const local *l)
{
    if (!((c->days >> l->dow) & 1u))
        return false;
    return !bsearch(&l->date, c->holidays, c->n_holidays, sizeof(int32_t),
                    esc__cal_cmp_date);
}

bool esc__cal_open_at(const esc__calendar *c, esc__ucal *uc, int64_t t)
{
    local l = to_local(uc, t);
    return working_day(c, &l) && l.minute >= c->open_min &&
           l.minute < c->close_min;
}

int64_t esc__cal_add(const esc__calendar *c, esc__ucal *uc, int64_t t,
                     int64_t secs)
{
    int64_t at = t;
    /* A year of days at most: a calendar without opening hours would
     * otherwise never end. */
    for (int day = 0; day < 400; day++) {
        local l = to_local(uc, at);
        if (working_day(c, &l)) {
            int64_t open = from_local(uc, l.date, c->open_min);
            int64_t close = from_local(uc, l.date, c->close_min);
            if (at < open)
                at = open;
            if (at < close) {
                if (secs <= close - at)
                    return at + secs;
                secs -= close - at;
            }
        }
        at = from_local(uc, l.date, 1440);
    }
    return t + secs;
}

int64_t esc__cal_between(const esc__calendar *c, esc__ucal *uc, int64_t from,
                         int64_t to)
{
    int64_t total = 0, at = from;
    /* One step a local day; a span of more than ten years is cut there. */
    for (int day = 0; at < to && day < 3660; day++) {
        local l = to_local(uc, at);
        int64_t next = from_local(uc, l.date, 1440);
        if (working_day(c, &l)) {
            int64_t open = from_local(uc, l.date, c->open_min);
            int64_t close = from_local(uc, l.date, c->close_min);
            int64_t a = at > open ? at : open, b = to < close ? to : close;
            if (b > a)
                total += b - a;
        }
        at = next;
    }
    return total;
}
