/*
 * util.c - allocation wrappers, the string builder, the arena, durations and
 * hashing shared by the core.
 */
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* ---- allocation ---------------------------------------------------------- */

_Noreturn static void oom(void)
{
    fputs("escalator: out of memory\n", stderr);
    abort();
}

void *esc__xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom();
    return p;
}

void *esc__xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        oom();
    return p;
}

void *esc__xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom();
    return q;
}

char *esc__xstrdup(const char *s)
{
    return esc__xstrndup(s, strlen(s));
}

/* Copies at most n bytes, stopping early at a NUL, and terminates them. */
char *esc__xstrndup(const char *s, size_t n)
{
    n = strnlen(s, n);
    if (n == SIZE_MAX)
        oom();
    char *p = esc__xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void esc__grow(void **arr, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return;
    size_t ncap = *cap ? *cap : 8;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2)
            oom();
        ncap *= 2;
    }
    if (size && ncap > SIZE_MAX / size)
        oom();
    *arr = esc__xrealloc(*arr, ncap * size);
    *cap = ncap;
}

/* ---- string builder ------------------------------------------------------ */

/* A builder refuses to grow past this; it then sets `failed` and keeps what
 * it had. */
#define SB_MAX_LEN ((size_t)1 << 40)

void esc__sb_init(esc__sb *sb)
{
    sb->buf = NULL;
    sb->len = 0;
    sb->cap = 0;
    sb->failed = false;
}

void esc__sb_free(esc__sb *sb)
{
    free(sb->buf);
    esc__sb_init(sb);
}

void esc__sb_reset(esc__sb *sb)
{
    sb->len = 0;
    sb->failed = false;
    if (sb->buf)
        sb->buf[0] = '\0';
}

/* Makes room for n more bytes plus the terminator; false when the limit
 * would be passed. */
static bool sb_reserve(esc__sb *sb, size_t n)
{
    if (sb->failed)
        return false;
    if (n > SB_MAX_LEN - sb->len) {
        sb->failed = true;
        return false;
    }
    size_t need = sb->len + n + 1;
    if (need > sb->cap) {
        size_t ncap = sb->cap ? sb->cap : 64;
        while (ncap < need)
            ncap *= 2;
        sb->buf = esc__xrealloc(sb->buf, ncap);
        sb->cap = ncap;
    }
    return true;
}

/* esc__sb_put() without room: grows the buffer first. */
void esc__sb_put_slow(esc__sb *sb, const char *s, size_t n)
{
    if (!sb_reserve(sb, n))
        return;
    if (n)
        memcpy(sb->buf + sb->len, s, n);
    sb->len += n;
    sb->buf[sb->len] = '\0';
}

void esc__sb_putc_slow(esc__sb *sb, char c)
{
    esc__sb_put_slow(sb, &c, 1);
}

void esc__sb_puts(esc__sb *sb, const char *s)
{
    esc__sb_put(sb, s, strlen(s));
}

/* Writes the decimal digits of v at the end of d; returns where they
 * start. d[0] stays free for a sign. */
static size_t u64_digits(char d[24], unsigned long long v)
{
    size_t i = 24;
    do {
        d[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return i;
}

/* Appends the decimal digits of v (and a '-' when neg). */
static void sb_put_uint(esc__sb *sb, unsigned long long v, bool neg)
{
    char buf[24];
    size_t i = u64_digits(buf, v);
    if (neg)
        buf[--i] = '-';
    esc__sb_put(sb, buf + i, sizeof buf - i);
}

static void sb_put_int(esc__sb *sb, long long v)
{
    sb_put_uint(sb, v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v,
                v < 0);
}

/* The conversions the builder formats itself, with the same output as
 * printf: %s %d %u %ld %lu %zu %% and %.15g; SPEC_OTHER for anything else.
 * *len receives the length of the conversion after the '%'. */
enum { SPEC_OTHER, SPEC_S, SPEC_D, SPEC_U, SPEC_LD, SPEC_LU, SPEC_ZU,
       SPEC_PCT, SPEC_G15 };

static int conv_spec(const char *f, size_t *len)
{
    switch (f[0]) {
    case 's': *len = 1; return SPEC_S;
    case 'd': *len = 1; return SPEC_D;
    case 'u': *len = 1; return SPEC_U;
    case '%': *len = 1; return SPEC_PCT;
    case 'l':
        *len = 2;
        return f[1] == 'd' ? SPEC_LD : f[1] == 'u' ? SPEC_LU : SPEC_OTHER;
    case 'z':
        *len = 2;
        return f[1] == 'u' ? SPEC_ZU : SPEC_OTHER;
    case '.':
        *len = 4;
        return f[1] == '1' && f[2] == '5' && f[3] == 'g' ? SPEC_G15
                                                          : SPEC_OTHER;
    default:
        return SPEC_OTHER;
    }
}

/*
 * The formats of the core are mostly strings and integers, which printf
 * formats slowly; this writes them directly, in one pass over fmt. Returns
 * false, leaving the builder as it found it, when fmt has a conversion
 * conv_spec() does not know.
 */
static bool sb_fast_printf(esc__sb *sb, const char *fmt, va_list *ap)
{
    size_t len0 = sb->len;
    bool failed0 = sb->failed;
    const char *f = fmt;
    for (;;) {
        const char *pct = strchrnul(f, '%');
        esc__sb_put(sb, f, (size_t)(pct - f));
        if (!*pct)
            return true;
        size_t len;
        switch (conv_spec(pct + 1, &len)) {
        case SPEC_S: {
            const char *s = va_arg(*ap, const char *);
            esc__sb_puts(sb, s ? s : "(null)");
            break;
        }
        case SPEC_D: sb_put_int(sb, va_arg(*ap, int)); break;
        case SPEC_U: sb_put_uint(sb, va_arg(*ap, unsigned), false); break;
        case SPEC_LD: sb_put_int(sb, va_arg(*ap, long)); break;
        case SPEC_LU: sb_put_uint(sb, va_arg(*ap, unsigned long), false); break;
        case SPEC_ZU: sb_put_uint(sb, va_arg(*ap, size_t), false); break;
        case SPEC_PCT: esc__sb_putc(sb, '%'); break;
        case SPEC_G15: {
            double v = va_arg(*ap, double);
            /* An integer below 1e15 prints as its digits ("-0" for minus
             * zero): %.15g switches to an exponent only from 1e15. */
            if (v > -1e15 && v < 1e15 && v == (double)(long long)v) {
                if (v == 0 && signbit(v))
                    esc__sb_puts(sb, "-0");
                else
                    sb_put_int(sb, (long long)v);
            } else {
                char buf[64];
                int n = snprintf(buf, sizeof buf, "%.15g", v);
                if (n > 0)
                    esc__sb_put(sb, buf, (size_t)n < sizeof buf ? (size_t)n
                                                                : sizeof buf - 1);
            }
            break;
        }
        default:
            /* Undone: vsnprintf() formats the whole of fmt instead. */
            sb->len = len0;
            sb->failed = failed0;
            if (sb->buf)
                sb->buf[len0] = '\0';
            return false;
        }
        f = pct + 1 + len;
    }
}

void esc__sb_vprintf(esc__sb *sb, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    bool done = sb_fast_printf(sb, fmt, &ap2);
    va_end(ap2);
    if (done)
        return;
    if (!sb_reserve(sb, 64))
        return;
    size_t room = sb->cap - sb->len;
    va_copy(ap2, ap);
    int n = vsnprintf(sb->buf + sb->len, room, fmt, ap2);
    va_end(ap2);
    if (n < 0) {
        sb->buf[sb->len] = '\0';
        sb->failed = true;
        return;
    }
    if ((size_t)n >= room) {
        if (!sb_reserve(sb, (size_t)n)) {
            sb->buf[sb->len] = '\0';
            return;
        }
        vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
    }
    sb->len += (size_t)n;
}

void esc__sb_printf(esc__sb *sb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    esc__sb_vprintf(sb, fmt, ap);
    va_end(ap);
}

/* Length of the valid UTF-8 sequence at s[0..n), or 0 when it is invalid
 * (overlong forms, surrogates and code points above U+10FFFF included).
 * *skip receives how many bytes the replacement character stands for: the
 * maximal ill-formed prefix, at least one byte. */
static size_t utf8_seq(const unsigned char *s, size_t n, size_t *skip)
{
    unsigned char c = s[0];
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF;

    *skip = 1;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else {
        return 0;
    }
    for (size_t i = 1; i < len; i++) {
        if (i >= n)
            return 0;
        unsigned char b = s[i];
        if (b < lo || b > hi)
            return 0;
        lo = 0x80;
        hi = 0xBF;
        *skip = i + 1;
    }
    return len;
}

/* The bytes of x (8 bytes of a string, loaded little-endian) that need a
 * look in a JSON string: a control character, '"', '\\' or a byte >= 0x80
 * each set the top bit of their byte. The "has a byte less than" and "has a
 * zero byte" tests can mark a byte wrongly only above one that is rightly
 * marked, so the lowest mark is always exact. */
static inline uint64_t json_special8(uint64_t x)
{
    const uint64_t ones = 0x0101010101010101ull;
    const uint64_t high = 0x8080808080808080ull;
    uint64_t q = x ^ (ones * '"'), b = x ^ (ones * '\\');
    return (((x - ones * 0x20) & ~x) | ((q - ones) & ~q) |
            ((b - ones) & ~b) | x) & high;
}

/* 1 for the bytes a JSON string holds as they are: not a control
 * character, '"', '\\' nor a byte of a multi-byte sequence (>= 0x80),
 * which is checked. */
static const unsigned char json_plain[256] = {
#define R16(v) v, v, v, v, v, v, v, v, v, v, v, v, v, v, v, v
    R16(0), R16(0),
    1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* '"' */
    R16(1), R16(1),
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, /* '\\' */
    R16(1), R16(1),
    R16(0), R16(0), R16(0), R16(0), R16(0), R16(0), R16(0), R16(0),
#undef R16
};

/* The index of the first byte from i on that is not plain (see
 * json_plain), or n. */
static inline size_t json_plain_run(const unsigned char *p, size_t i, size_t n)
{
#if defined(__SSE2__)
    /* 16 bytes at a time: a control character is one whose unsigned
     * maximum with 0x1f is 0x1f; the top bit marks a byte >= 0x80. */
    const __m128i ctl = _mm_set1_epi8(0x1f), quote = _mm_set1_epi8('"'),
                  bslash = _mm_set1_epi8('\\');
    while (i + 16 <= n) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
        __m128i m = _mm_or_si128(_mm_cmpeq_epi8(_mm_max_epu8(v, ctl), ctl),
                                 _mm_or_si128(_mm_cmpeq_epi8(v, quote),
                                              _mm_cmpeq_epi8(v, bslash)));
        unsigned bits = (unsigned)_mm_movemask_epi8(_mm_or_si128(m, v));
        if (bits)
            return i + (size_t)__builtin_ctz(bits);
        i += 16;
    }
#endif
#if defined(__GNUC__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    while (i + 8 <= n) {
        uint64_t x;
        memcpy(&x, p + i, 8);
        uint64_t m = json_special8(x);
        if (m)
            return i + (size_t)__builtin_ctzll(m) / 8;
        i += 8;
    }
#endif
    while (i < n && json_plain[p[i]])
        i++;
    return i;
}

void esc__sb_json_str(esc__sb *sb, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, from = 0; /* bytes from `from` to i are copied as they are */

    esc__sb_putc(sb, '"');
    for (;;) {
        i = json_plain_run(p, i, n);
        if (i >= n)
            break;

        unsigned char c = p[i];
        const char *esc;
        size_t esc_len = 2; /* 3 for U+FFFD, 6 for another control */
        char ubuf[7];
        size_t skip = 1;
        if (c >= 0x80) {
            size_t seq = utf8_seq(p + i, n - i, &skip);
            if (seq) {
                i += seq;
                continue;
            }
            esc = "\xEF\xBF\xBD";
            esc_len = 3;
        } else if (c == '"') {
            esc = "\\\"";
        } else if (c == '\\') {
            esc = "\\\\";
        } else if (c == '\n') {
            esc = "\\n";
        } else if (c == '\r') {
            esc = "\\r";
        } else if (c == '\t') {
            esc = "\\t";
        } else if (c == '\b') {
            esc = "\\b";
        } else if (c == '\f') {
            esc = "\\f";
        } else {
            ubuf[0] = '\\';
            ubuf[1] = 'u';
            ubuf[2] = '0';
            ubuf[3] = '0';
            ubuf[4] = hex[c >> 4];
            ubuf[5] = hex[c & 15];
            ubuf[6] = '\0';
            esc = ubuf;
            esc_len = 6;
        }
        esc__sb_put(sb, s + from, i - from);
        esc__sb_put(sb, esc, esc_len);
        i += skip;
        from = i;
    }
    esc__sb_put(sb, s + from, n - from);
    esc__sb_putc(sb, '"');
}

char *esc__sb_take(esc__sb *sb, size_t *len)
{
    char *buf = sb->buf;
    size_t n = sb->len;
    if (!buf)
        buf = esc__xcalloc(1, 1);
    if (len)
        *len = n;
    esc__sb_init(sb);
    return buf;
}

/* ---- arena --------------------------------------------------------------- */

#define ARENA_ALIGN 16
#define ARENA_BLOCK ((size_t)64 * 1024)
/* Allocations larger than this get a block of their own, so that one big
 * string does not waste the rest of a shared block. */
#define ARENA_BIG (ARENA_BLOCK / 4)

struct esc__arena_block {
    esc__arena_block *next;
    size_t size; /* usable bytes in data */
    size_t used;
    _Alignas(ARENA_ALIGN) unsigned char data[];
};

void esc__arena_init(esc__arena *a)
{
    a->head = NULL;
    a->used_total = 0;
}

static esc__arena_block *arena_block_new(size_t size)
{
    if (size > SIZE_MAX - sizeof(esc__arena_block))
        oom();
    esc__arena_block *b = esc__xmalloc(sizeof(*b) + size);
    b->next = NULL;
    b->size = size;
    b->used = 0;
    return b;
}

/*
 * The head block is the one being filled. Big allocations are linked in
 * behind it, so the head stays the current block; the oldest block (the
 * tail) is always a standard one, which reset keeps.
 */
/* n bytes (at least one) from the arena, 16-byte aligned, not cleared. */
static void *arena_take(esc__arena *a, size_t n)
{
    if (n == 0)
        n = 1;
    if (n > SIZE_MAX - ARENA_ALIGN)
        oom();
    size_t need = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    void *p;

    if (!a->head)
        a->head = arena_block_new(ARENA_BLOCK);
    if (need > ARENA_BIG) {
        esc__arena_block *b = arena_block_new(need);
        b->used = need;
        b->next = a->head->next;
        a->head->next = b;
        p = b->data;
    } else {
        if (a->head->size - a->head->used < need) {
            esc__arena_block *b = arena_block_new(ARENA_BLOCK);
            b->next = a->head;
            a->head = b;
        }
        p = a->head->data + a->head->used;
        a->head->used += need;
    }
    a->used_total += need;
    return p;
}

void *esc__arena_alloc(esc__arena *a, size_t n)
{
    void *p = arena_take(a, n);
    memset(p, 0, n ? n : 1);
    return p;
}

void *esc__arena_alloc_raw(esc__arena *a, size_t n)
{
    return arena_take(a, n);
}

char *esc__arena_strndup(esc__arena *a, const char *s, size_t n)
{
    n = strnlen(s, n);
    if (n == SIZE_MAX)
        oom();
    char *p = arena_take(a, n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *esc__arena_printf(esc__arena *a, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return esc__arena_alloc(a, 1);
    char *p = esc__arena_alloc(a, (size_t)n + 1);
    if ((size_t)n < sizeof small) {
        memcpy(p, small, (size_t)n);
    } else {
        va_start(ap, fmt);
        vsnprintf(p, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    return p;
}

void esc__arena_reset(esc__arena *a)
{
    esc__arena_block *b = a->head;
    if (!b)
        return;
    while (b->next) {
        esc__arena_block *next = b->next;
        free(b);
        b = next;
    }
    b->used = 0;
    a->head = b;
    a->used_total = 0;
}

void esc__arena_free(esc__arena *a)
{
    esc__arena_block *b = a->head;
    while (b) {
        esc__arena_block *next = b->next;
        free(b);
        b = next;
    }
    esc__arena_init(a);
}

/* ---- durations ----------------------------------------------------------- */

#define MINUTE ((int64_t)60)
#define HOUR (60 * MINUTE)
#define DAY (24 * HOUR)
#define WEEK (7 * DAY)

/*
 * Each number carries a unit, units come from largest to smallest and each
 * at most once ("1h30m", not "30m1h" or "1h1h"); "0" alone is zero.
 */
int esc__duration_parse(const char *s, int64_t *secs)
{
    static const struct {
        char unit;
        int64_t secs;
    } units[] = {{'w', WEEK}, {'d', DAY}, {'h', HOUR}, {'m', MINUTE},
                 {'s', 1}};
    int64_t total = 0;
    size_t next_unit = 0;

    if (!s || !*s)
        return -1;
    if (strcmp(s, "0") == 0) {
        *secs = 0;
        return 0;
    }
    while (*s) {
        if (*s < '0' || *s > '9')
            return -1;
        int64_t v = 0;
        while (*s >= '0' && *s <= '9') {
            int d = *s - '0';
            if (v > (INT64_MAX - d) / 10)
                return -1;
            v = v * 10 + d;
            s++;
        }
        size_t u = next_unit;
        while (u < ESC__ARRAY_LEN(units) && units[u].unit != *s)
            u++;
        if (u == ESC__ARRAY_LEN(units))
            return -1;
        if (v > INT64_MAX / units[u].secs)
            return -1;
        v *= units[u].secs;
        if (v > INT64_MAX - total)
            return -1;
        total += v;
        next_unit = u + 1;
        s++;
    }
    *secs = total;
    return 0;
}

/* Appends the decimal digits of v at buf + off; returns the new offset.
 * buf has room for the digits (callers write into 64 bytes). */
static size_t put_u64(char *buf, size_t off, uint64_t v)
{
    char d[24];
    size_t i = u64_digits(d, v);
    memcpy(buf + off, d + i, sizeof d - i);
    return off + (sizeof d - i);
}

static size_t put_text(char *buf, size_t off, const char *s)
{
    size_t n = strlen(s);
    memcpy(buf + off, s, n);
    return off + n;
}

/* Copies the n bytes of text into buf as snprintf() would: truncated to
 * size - 1 bytes and terminated. The duration texts are written into a
 * local buffer and copied out, which keeps snprintf()'s truncation for short
 * buffers without its cost on every decision. */
static void copy_out(char *buf, size_t size, const char *text, size_t n)
{
    if (n >= size)
        n = size - 1;
    memcpy(buf, text, n);
    buf[n] = '\0';
}

/* The largest two non-zero units among d h m s, truncated; negative
 * durations get a leading '-'. */
void esc__duration_format(int64_t secs, char *buf, size_t size)
{
    static const struct {
        char unit;
        int64_t secs;
    } units[] = {{'d', DAY}, {'h', HOUR}, {'m', MINUTE}, {'s', 1}};
    char out[64];
    uint64_t v;
    size_t off = 0;
    int parts = 0;

    if (!buf || size == 0)
        return;
    if (secs < 0) {
        v = (uint64_t)(-(secs + 1)) + 1;
        out[off++] = '-';
    } else {
        v = (uint64_t)secs;
    }
    if (v == 0) {
        copy_out(buf, size, "0s", 2);
        return;
    }
    for (size_t i = 0; i < ESC__ARRAY_LEN(units) && parts < 2; i++) {
        uint64_t q = v / (uint64_t)units[i].secs;
        if (q == 0)
            continue;
        v -= q * (uint64_t)units[i].secs;
        if (parts)
            out[off++] = ' ';
        off = put_u64(out, off, q);
        out[off++] = units[i].unit;
        parts++;
    }
    copy_out(buf, size, out, off);
}

/* "N unit" or "N units" at out + off; returns the new offset. */
static size_t words_unit(char *out, size_t off, uint64_t n, const char *unit)
{
    off = put_u64(out, off, n);
    out[off++] = ' ';
    off = put_text(out, off, unit);
    if (n != 1)
        out[off++] = 's';
    return off;
}

/*
 * Customer-facing: hours up to 72 hours ("48 hours"), then days ("4 days",
 * "4 days and 6 hours"), whole weeks as weeks ("1 week", "2 weeks"). A
 * remainder is named in the next smaller unit and truncated below it.
 * Negative durations read as "0 seconds".
 */
void esc__duration_words(int64_t secs, char *buf, size_t size)
{
    uint64_t v = secs < 0 ? 0 : (uint64_t)secs;
    uint64_t major, minor = 0;
    const char *major_unit, *minor_unit = NULL;
    char out[80];

    if (!buf || size == 0)
        return;
    if (v >= (uint64_t)WEEK && v % (uint64_t)WEEK == 0) {
        major = v / (uint64_t)WEEK;
        major_unit = "week";
    } else if (v > 72 * (uint64_t)HOUR) {
        major = v / (uint64_t)DAY;
        major_unit = "day";
        minor = v % (uint64_t)DAY / (uint64_t)HOUR;
        minor_unit = "hour";
    } else if (v >= (uint64_t)HOUR) {
        major = v / (uint64_t)HOUR;
        major_unit = "hour";
        minor = v % (uint64_t)HOUR / (uint64_t)MINUTE;
        minor_unit = "minute";
    } else if (v >= (uint64_t)MINUTE) {
        major = v / (uint64_t)MINUTE;
        major_unit = "minute";
        minor = v % (uint64_t)MINUTE;
        minor_unit = "second";
    } else {
        major = v;
        major_unit = "second";
    }
    size_t off = words_unit(out, 0, major, major_unit);
    if (minor) {
        off = put_text(out, off, " and ");
        off = words_unit(out, off, minor, minor_unit);
    }
    copy_out(buf, size, out, off);
}

/* ---- hashing ------------------------------------------------------------- */

uint64_t esc__hash64(const void *data, size_t n)
{
    const unsigned char *p = data;
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}
