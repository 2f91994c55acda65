/*
 * calendar.h - business-hours calendars: a time zone, working days, opening
 * hours and holidays. Time-zone rules come from ICU.
 *
 * A compiled calendar holds an ICU calendar that is never used directly:
 * each engine clones it (ICU calendars are not safe to share between
 * threads) and passes its clone to the functions below.
 */
#ifndef ESC_CALENDAR_H
#define ESC_CALENDAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ICU's UCalendar, without including ICU's headers everywhere. */
typedef void *esc__ucal;

typedef struct esc__calendar {
    const char *id;
    const char *timezone;
    unsigned days;         /* bit 0: Sunday ... bit 6: Saturday */
    int open_min;          /* minutes after local midnight */
    int close_min;         /* > open_min; 1440 for midnight */
    int32_t *holidays;     /* local dates as YYYYMMDD, sorted */
    size_t n_holidays;
    esc__ucal *proto;      /* owned; cloned per engine */
} esc__calendar;

/* Opens an ICU calendar for an IANA time-zone name. Returns 0, or -1 with
 * a message in err when the zone is unknown. */
int esc__cal_open(const char *timezone, esc__ucal **out, char *err,
                  size_t errlen);
esc__ucal *esc__cal_clone(const esc__ucal *proto);
/* Orders YYYYMMDD dates (int32_t), for sorting holidays. */
int esc__cal_cmp_date(const void *a, const void *b);
void esc__cal_close(esc__ucal **c);

/* Whether t (Unix seconds) falls inside the calendar's opening hours. */
bool esc__cal_open_at(const esc__calendar *c, esc__ucal *uc, int64_t t);
/* t plus `secs` of opening hours: the time at which that much business time
 * has passed. Returns t + secs when the calendar has no open hours at all
 * within a year. */
int64_t esc__cal_add(const esc__calendar *c, esc__ucal *uc, int64_t t,
                     int64_t secs);
/* The seconds of opening hours in [from, to); 0 when to <= from. */
int64_t esc__cal_between(const esc__calendar *c, esc__ucal *uc, int64_t from,
                         int64_t to);

#endif /* ESC_CALENDAR_H */
