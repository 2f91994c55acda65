/*
 * ticket.h - the ticket model behind the opaque esc_ticket of the public API.
 *
 * A ticket is parsed once from JSON (jansson) and is immutable afterwards.
 * Every string is owned by the ticket. Times are Unix seconds; ESC__NO_TIME
 * marks one that was absent.
 */
#ifndef ESC_TICKET_H
#define ESC_TICKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "escalator.h"

#define ESC__NO_TIME INT64_MIN

typedef enum {
    ESC__FROM_CUSTOMER,
    ESC__FROM_AGENT,
    ESC__FROM_BOT,
    ESC__FROM_SYSTEM
} esc__from;

typedef enum {
    ESC__CH_CHAT,
    ESC__CH_EMAIL,
    ESC__CH_PHONE,
    ESC__CH_WEB,
    ESC__CH_BOT,
    ESC__CH_SOCIAL,
    ESC__CH_COUNT
} esc__channel;

typedef enum {
    ESC__ST_NEW,
    ESC__ST_OPEN,
    ESC__ST_PENDING,
    ESC__ST_ESCALATED,
    ESC__ST_RESOLVED,
    ESC__ST_CLOSED,
    ESC__ST_COUNT
} esc__status;

typedef struct esc__message {
    esc__from from;
    int64_t at;       /* ESC__NO_TIME when absent */
    const char *text; /* NUL-terminated, valid UTF-8 */
    size_t len;
    size_t index;     /* position in the input "messages" array */
} esc__message;

typedef struct esc__step {
    const char *step;
    const char *result; /* "" when absent */
} esc__step;

struct esc_ticket {
    char *id;
    esc__channel channel;    /* default ESC__CH_WEB when absent */
    bool has_channel;
    char *subject;           /* "" when absent */
    int64_t created_at;      /* ESC__NO_TIME when absent */
    esc__status status;      /* default ESC__ST_OPEN */
    char *level;             /* NULL when absent */

    struct {
        char *id, *email, *name, *tier; /* NULL when absent */
        int64_t since;                  /* ESC__NO_TIME when absent */
        char **flags;
        size_t n_flags;
    } customer;

    esc__message *messages;  /* in input order */
    size_t n_messages;

    esc__step *steps;        /* "troubleshooting" */
    size_t n_steps;

    /* "fields" as parsed: an object (possibly empty), never NULL. Values are
     * checked against the policy's declared field types at evaluation. */
    json_t *fields;

    json_t *root;            /* the whole document; owns the strings above
                                that are not separately allocated */
};

const char *esc__channel_name(esc__channel c);
const char *esc__status_name(esc__status s);
const char *esc__from_name(esc__from f);
/* Returns the enum value, or -1 when the name is unknown. */
int esc__channel_from_name(const char *s);
int esc__status_from_name(const char *s);
int esc__from_from_name(const char *s);

/*
 * esc_ticket_parse() for a document parsed already (the service holds its
 * tickets as jansson values): the same checks, the same errors with JSON
 * pointers. The ticket takes a reference to root and points into it: root
 * must not change while the ticket lives.
 */
int esc__ticket_from_json(json_t *root, const char *name, esc_ticket **out,
                          esc_error *err);

/*
 * The members of a decision named in keys (NULL-terminated) as one object,
 * in the order of the decision's JSON text, each parsed from that text alone:
 * what the service reads of a decision, without the rest (its note,
 * suggestions and tags, which it stores and answers as text). NULL when out
 * of memory.
 */
json_t *esc__decision_members(const esc_decision *d, const char *const *keys);

#endif /* ESC_TICKET_H */
