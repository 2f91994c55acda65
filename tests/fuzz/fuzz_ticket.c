/*
 * fuzz_ticket.c - libFuzzer target for the ticket parser, through the public
 * API. Any input must either parse or be rejected with a filled-in error;
 * crashes, leaks and sanitizer reports are findings.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "escalator.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    esc_ticket *t = NULL;
    esc_error err;
    char buf[1200];

    int rc = esc_ticket_parse((const char *)data, size, "fuzz.json", &t, &err);
    if (rc == 0) {
        if (!t || !esc_ticket_id(t) || !*esc_ticket_id(t))
            abort();
        esc_ticket_free(&t);
        if (t)
            abort();
    } else {
        if (t || err.message[0] == '\0')
            abort();
        if (esc_error_format(&err, buf, sizeof buf) < 0)
            abort();
    }
    return 0;
}
