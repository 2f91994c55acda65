/*
 * timers.h - the in-memory min-heap of due times that drives the service's
 * timers. The store holds the truth (timers table); the heap only says which
 * (ticket, cause) to look at next, so a stale entry (a timer cancelled or
 * moved since it was pushed) is checked against the store and skipped.
 * Not thread-safe: the service lock guards it.
 */
#ifndef ESC_SERVER_TIMERS_H
#define ESC_SERVER_TIMERS_H

#include <stddef.h>
#include <stdint.h>

/* One allocation holds both strings: "ticket\0cause\0", ticket at its
 * start (24 bytes an entry and one small block: what an open timer costs). */
typedef struct timer_entry {
    int64_t due;
    char *ticket; /* owned by the heap until popped; frees both */
    char *cause;  /* inside ticket's block */
} timer_entry;

typedef struct timer_heap {
    timer_entry *items;
    size_t len, cap;
} timer_heap;

void timer_heap_init(timer_heap *h);
void timer_heap_free(timer_heap *h);
/* Copies ticket and cause. Returns 0, or -1 when out of memory. */
int timer_heap_push(timer_heap *h, int64_t due, const char *ticket,
                    const char *cause);
/* The earliest entry, or NULL when empty. */
const timer_entry *timer_heap_peek(const timer_heap *h);
/* Removes the earliest entry into *out, which the caller frees with
 * timer_entry_free(). Returns 0, or -1 when empty. */
int timer_heap_pop(timer_heap *h, timer_entry *out);
void timer_entry_free(timer_entry *e);
/* Calls fn for each entry due at or before `until`, in no particular
 * order, without changing the heap; the work is proportional to their
 * number, not to the heap's. Returns how many it visited. */
size_t timer_heap_each_until(const timer_heap *h, int64_t until,
                             void (*fn)(void *arg, const timer_entry *e), void *arg);

#endif
