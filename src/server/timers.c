/*
 * timers.c - a binary min-heap ordered by due time.
 */
#include "timers.h"

#include <stdlib.h>
#include <string.h>

void timer_heap_init(timer_heap *h) { memset(h, 0, sizeof(*h)); }

void timer_heap_free(timer_heap *h)
{
    for (size_t i = 0; i < h->len; i++)
        timer_entry_free(&h->items[i]);
    free(h->items);
    memset(h, 0, sizeof(*h));
}

static void swap(timer_entry *a, timer_entry *b)
{
    timer_entry t = *a;
    *a = *b;
    *b = t;
}

int timer_heap_push(timer_heap *h, int64_t due, const char *ticket,
                    const char *cause)
{
    if (h->len == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        timer_entry *items = realloc(h->items, cap * sizeof(*items));
        if (!items)
            return -1;
        h->items = items;
        h->cap = cap;
    }
    size_t lt = strlen(ticket), lc = strlen(cause);
    timer_entry e = {due, malloc(lt + lc + 2), NULL};
    if (!e.ticket)
        return -1;
    memcpy(e.ticket, ticket, lt + 1);
    e.cause = e.ticket + lt + 1;
    memcpy(e.cause, cause, lc + 1);
    size_t i = h->len++;
    h->items[i] = e;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (h->items[parent].due <= h->items[i].due)
            break;
        swap(&h->items[parent], &h->items[i]);
        i = parent;
    }
    return 0;
}

const timer_entry *timer_heap_peek(const timer_heap *h)
{
    return h->len ? &h->items[0] : NULL;
}

int timer_heap_pop(timer_heap *h, timer_entry *out)
{
    if (!h->len)
        return -1;
    *out = h->items[0];
    h->items[0] = h->items[--h->len];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < h->len && h->items[l].due < h->items[m].due)
            m = l;
        if (r < h->len && h->items[r].due < h->items[m].due)
            m = r;
        if (m == i)
            break;
        swap(&h->items[m], &h->items[i]);
        i = m;
    }
    return 0;
}

void timer_entry_free(timer_entry *e)
{
    free(e->ticket);
    e->ticket = e->cause = NULL;
}

/* The entries due by `until` form the top of the heap (a parent is never
 * due later than its children): a walk that stops at the first later
 * entry of each branch visits them and their direct children only. */
size_t timer_heap_each_until(const timer_heap *h, int64_t until,
                             void (*fn)(void *arg, const timer_entry *e), void *arg)
{
    size_t n = 0, top = 0;
    size_t *stack = NULL, cap = 0;
    if (!h->len || h->items[0].due > until)
        return 0;
    stack = malloc(64 * sizeof(*stack));
    if (!stack)
        return 0;
    cap = 64;
    stack[top++] = 0;
    while (top) {
        size_t i = stack[--top];
        fn(arg, &h->items[i]);
        n++;
        for (size_t c = 2 * i + 1; c <= 2 * i + 2 && c < h->len; c++) {
            if (h->items[c].due > until)
                continue;
            if (top == cap) {
                size_t *more = realloc(stack, 2 * cap * sizeof(*stack));
                if (!more) {
                    free(stack);
                    return n;
                }
                stack = more;
                cap *= 2;
            }
            stack[top++] = c;
        }
    }
    free(stack);
    return n;
}
