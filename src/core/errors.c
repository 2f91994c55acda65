/*
 * errors.c - names of error codes, the library version, and the one way an
 * esc_error is written out.
 */
#include "escalator.h"

#include <stdio.h>

ESC_EXTERN const char *esc_strerror(int err)
{
    switch (err) {
#define ESC__ERRNO_CASE(name, value, text) \
    case value:                            \
        return text;
        ESC_ERRNO_MAP(ESC__ERRNO_CASE)
#undef ESC__ERRNO_CASE
    default:
        return "unknown error";
    }
}

ESC_EXTERN const char *esc_version(void)
{
    return ESC_VERSION_STRING;
}

/*
 * The forms, by what is known about the place:
 *   line > 0            "where:line:col: message" (":col" left out when 0)
 *   pointer non-empty   "where: pointer: message"
 *   otherwise           "where: message"
 * An empty `where` is left out together with its separator. Returns what
 * snprintf returns: the full length, which may exceed size - 1 when buf was
 * too small (the text is then truncated); ESC_EINVAL when err is NULL.
 */
ESC_EXTERN int esc_error_format(const esc_error *err, char *buf, size_t size)
{
    if (!err || (!buf && size))
        return ESC_EINVAL;
    /* The fields are read only up to their array size, terminated or not. */
    const int wn = (int)sizeof(err->where), pn = (int)sizeof(err->pointer),
              mn = (int)sizeof(err->message);
    const char *where = err->where;
    const char *sep = where[0] ? ":" : "";

    if (err->line > 0) {
        if (err->col > 0)
            return snprintf(buf, size, "%.*s%s%d:%d: %.*s", wn, where, sep,
                            err->line, err->col, mn, err->message);
        return snprintf(buf, size, "%.*s%s%d: %.*s", wn, where, sep,
                        err->line, mn, err->message);
    }
    sep = where[0] ? ": " : "";
    if (err->pointer[0])
        return snprintf(buf, size, "%.*s%s%.*s: %.*s", wn, where, sep, pn,
                        err->pointer, mn, err->message);
    return snprintf(buf, size, "%.*s%s%.*s", wn, where, sep, mn,
                    err->message);
}
