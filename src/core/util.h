/*
 * util.h - small building blocks shared by the core: allocation that aborts
 * on failure, a growable string builder with a sticky error flag, and an
 * arena for per-evaluation memory.
 *
 * Internal names use the esc__ prefix and are not exported from the library.
 */
#ifndef ESC_UTIL_H
#define ESC_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ESC__ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define ESC__PRINTF(f, a) __attribute__((format(printf, f, a)))

/* Allocation failure is not recoverable inside the core: these abort with a
 * message rather than return NULL. */
void *esc__xmalloc(size_t n);
void *esc__xcalloc(size_t n, size_t size);
void *esc__xrealloc(void *p, size_t n);
char *esc__xstrdup(const char *s);
char *esc__xstrndup(const char *s, size_t n);

/* Grows *arr (of element size `size`) so that it holds at least `need`
 * elements; *cap is updated. */
void esc__grow(void **arr, size_t *cap, size_t need, size_t size);
#define ESC__PUSH(arr, n, cap, value)                                       \
    do {                                                                    \
        esc__grow((void **)&(arr), &(cap), (n) + 1, sizeof(*(arr)));        \
        (arr)[(n)++] = (value);                                             \
    } while (0)

/* A string builder. `buf` is always NUL-terminated once anything has been
 * appended; `failed` is set when a length limit was hit. */
typedef struct esc__sb {
    char *buf;
    size_t len;
    size_t cap;
    bool failed;
} esc__sb;

void esc__sb_init(esc__sb *sb);
void esc__sb_free(esc__sb *sb);
void esc__sb_reset(esc__sb *sb);
void esc__sb_putc_slow(esc__sb *sb, char c);
void esc__sb_put_slow(esc__sb *sb, const char *s, size_t n);
/* The builders write most decisions a few bytes at a time: appending while
 * there is room is inline, growing is not. */
static inline void esc__sb_putc(esc__sb *sb, char c)
{
    if (sb->cap - sb->len > 1 && !sb->failed) {
        sb->buf[sb->len++] = c;
        sb->buf[sb->len] = '\0';
        return;
    }
    esc__sb_putc_slow(sb, c);
}
static inline void esc__sb_put(esc__sb *sb, const char *s, size_t n)
{
    if (n < sb->cap - sb->len && !sb->failed) { /* room for n and the NUL */
        __builtin_memcpy(sb->buf + sb->len, s, n);
        sb->len += n;
        sb->buf[sb->len] = '\0';
        return;
    }
    esc__sb_put_slow(sb, s, n);
}
void esc__sb_puts(esc__sb *sb, const char *s);
void esc__sb_printf(esc__sb *sb, const char *fmt, ...) ESC__PRINTF(2, 3);
void esc__sb_vprintf(esc__sb *sb, const char *fmt, va_list ap);
/* Appends s as a JSON string literal, quotes included. Invalid UTF-8 bytes
 * are replaced by U+FFFD. */
void esc__sb_json_str(esc__sb *sb, const char *s, size_t n);
/* Hands the buffer to the caller (malloc'ed) and resets the builder. */
char *esc__sb_take(esc__sb *sb, size_t *len);

/* An arena: many small allocations, released together. */
typedef struct esc__arena_block esc__arena_block;
typedef struct esc__arena {
    esc__arena_block *head;
    size_t used_total;
} esc__arena;

void esc__arena_init(esc__arena *a);
void *esc__arena_alloc(esc__arena *a, size_t n);   /* 16-byte aligned, zeroed */
void *esc__arena_alloc_raw(esc__arena *a, size_t n); /* the same, not cleared */
char *esc__arena_strndup(esc__arena *a, const char *s, size_t n);
char *esc__arena_printf(esc__arena *a, const char *fmt, ...) ESC__PRINTF(2, 3);
/* Keeps the first block for reuse, frees the rest. */
void esc__arena_reset(esc__arena *a);
void esc__arena_free(esc__arena *a);

/* Durations: "90s", "15m", "4h", "3d", "2w", "1h30m", "0". Returns 0 and sets
 * *secs, or -1 when the text is not a duration. */
int esc__duration_parse(const char *s, int64_t *secs);
/* "3d 4h", "15m", "0s"; buf of at least 32 bytes. */
void esc__duration_format(int64_t secs, char *buf, size_t size);
/* "15 minutes", "24 hours", "2 days": for customer-facing text. */
void esc__duration_words(int64_t secs, char *buf, size_t size);

/* A 64-bit FNV-1a hash. */
uint64_t esc__hash64(const void *data, size_t n);

#endif /* ESC_UTIL_H */
