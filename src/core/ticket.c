/*
 * ticket.c - the ticket model: JSON text (the contract in DESIGN.md) parsed
 * with jansson and validated once into an immutable esc_ticket.
 *
 * Strings of the ticket point into the jansson document it keeps (t->root),
 * or at static empty strings; only the arrays of messages, steps and flags
 * are allocated separately. esc_ticket_free() releases all of it.
 *
 * Every rejection fills the caller's esc_error: line and column for JSON
 * syntax, a JSON pointer (RFC 6901) and a message that says what was
 * expected and what was found for anything else.
 */
#include "ticket.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static const char *const channel_names[ESC__CH_COUNT] = {
    "chat", "email", "phone", "web", "bot", "social"};
static const char *const status_names[ESC__ST_COUNT] = {
    "new", "open", "pending", "escalated", "resolved", "closed"};
static const char *const from_names[] = {"customer", "agent", "bot", "system"};

#define CHANNELS_EXPECTED "chat, email, phone, web, bot or social"
#define STATUSES_EXPECTED "new, open, pending, escalated, resolved or closed"
#define FROMS_EXPECTED "customer, agent, bot or system"
#define TIMESTAMP_EXPECTED "expected RFC 3339, e.g. 2026-11-20T10:00:00Z"
#define DATE_EXPECTED "expected RFC 3339, e.g. 2024-01-01 or 2024-01-01T00:00:00Z"

/* Quoted values in messages are cut after this many bytes of input. */
#define QUOTE_MAX 64

static int name_index(const char *const *names, size_t n, const char *s)
{
    if (!s)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], s) == 0)
            return (int)i;
    return -1;
}

const char *esc__channel_name(esc__channel c)
{
    return (unsigned)c < ESC__CH_COUNT ? channel_names[c] : "unknown";
}

const char *esc__status_name(esc__status s)
{
    return (unsigned)s < ESC__ST_COUNT ? status_names[s] : "unknown";
}

const char *esc__from_name(esc__from f)
{
    return (unsigned)f < ESC__ARRAY_LEN(from_names) ? from_names[f]
                                                      : "unknown";
}

int esc__channel_from_name(const char *s)
{
    return name_index(channel_names, ESC__CH_COUNT, s);
}

int esc__status_from_name(const char *s)
{
    return name_index(status_names, ESC__ST_COUNT, s);
}

int esc__from_from_name(const char *s)
{
    return name_index(from_names, ESC__ARRAY_LEN(from_names), s);
}

/* ---- errors -------------------------------------------------------------- */

typedef struct parser {
    esc_error *err; /* NULL when the caller wants no details */
} parser;

static void error_message(esc_error *err, const char *fmt, va_list ap)
{
    vsnprintf(err->message, sizeof err->message, fmt, ap);
}

/* Records a problem at a JSON pointer and returns `code`. */
static int fail_at(parser *p, int code, const char *pointer, const char *fmt,
                   ...) ESC__PRINTF(4, 5);
static int fail_at(parser *p, int code, const char *pointer, const char *fmt,
                   ...)
{
    if (p->err) {
        snprintf(p->err->pointer, sizeof p->err->pointer, "%s", pointer);
        va_list ap;
        va_start(ap, fmt);
        error_message(p->err, fmt, ap);
        va_end(ap);
    }
    return code;
}

static const char *type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
        return "true";
    case JSON_FALSE:
        return "false";
    case JSON_NULL:
        break;
    }
    return "null";
}

static int fail_type(parser *p, const char *pointer, const char *expected,
                     const json_t *found)
{
    return fail_at(p, ESC_ETICKET, pointer, "expected %s, found %s", expected,
                   type_name(found));
}

/* A value as a JSON string literal for a message, cut after QUOTE_MAX bytes
 * (on a character boundary) with "..." inside the quotes. */
static void quote(const char *s, size_t n, char *buf, size_t size)
{
    esc__sb sb;
    bool cut = n > QUOTE_MAX;
    if (cut) {
        n = QUOTE_MAX;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    esc__sb_init(&sb);
    esc__sb_json_str(&sb, s, n);
    if (cut) {
        sb.len--;
        esc__sb_puts(&sb, "...\"");
    }
    snprintf(buf, size, "%s", sb.buf);
    esc__sb_free(&sb);
}

/* Appends "/token" to a pointer, escaping '~' and '/' as RFC 6901 asks. */
static void pointer_push(esc__sb *ptr, const char *token)
{
    esc__sb_putc(ptr, '/');
    for (const char *c = token; *c; c++) {
        if (*c == '~')
            esc__sb_puts(ptr, "~0");
        else if (*c == '/')
            esc__sb_puts(ptr, "~1");
        else
            esc__sb_putc(ptr, *c);
    }
}

/* Writes prefix + "/" + i to buf (size >= strlen(prefix) + 22): the pointer
 * of an array item, without snprintf() (one per message otherwise). */
static void item_pointer(char *buf, const char *prefix, size_t i)
{
    size_t n = strlen(prefix);
    memcpy(buf, prefix, n);
    buf[n++] = '/';
    char digits[24];
    size_t d = 0;
    do {
        digits[d++] = (char)('0' + i % 10);
        i /= 10;
    } while (i);
    while (d)
        buf[n++] = digits[--d];
    buf[n] = '\0';
}

/* ---- typed members --------------------------------------------------------
 * Each getter reads obj[key], whose pointer is base + "/" + key. An absent
 * member, or an optional one that is null, leaves *out as it was. */

#define MEMBER_PTR(buf, base, key) \
    snprintf((buf), sizeof(buf), "%s/%s", (base), (key))

static bool has_nul(const json_t *s)
{
    return strlen(json_string_value(s)) != json_string_length(s);
}

/* A string member; `out` receives a pointer into the document. */
/* get_string(), and *len (when not NULL) the string's length: a message's
 * text is looked up once. */
static int get_string_n(parser *p, const json_t *obj, const char *base,
                        const char *key, bool required, const char **out,
                        size_t *len)
{
    char ptr[256];
    json_t *v = json_object_get(obj, key);

    if (!v || (json_is_null(v) && !required)) {
        if (required) {
            MEMBER_PTR(ptr, base, key);
            return fail_at(p, ESC_ETICKET, ptr, "required string is missing");
        }
        return 0;
    }
    if (!json_is_string(v)) {
        MEMBER_PTR(ptr, base, key);
        return fail_type(p, ptr, "a string", v);
    }
    if (has_nul(v)) {
        MEMBER_PTR(ptr, base, key);
        return fail_at(p, ESC_ETICKET, ptr,
                       "string contains a NUL character (\\u0000), which is "
                       "not supported");
    }
    *out = json_string_value(v);
    if (len)
        *len = json_string_length(v);
    return 0;
}

static int get_string(parser *p, const json_t *obj, const char *base,
                      const char *key, bool required, const char **out)
{
    return get_string_n(p, obj, base, key, required, out, NULL);
}

/* A string member naming one of `names`; *out is left alone when absent. */
static int get_enum(parser *p, const json_t *obj, const char *base,
                    const char *key, bool required, const char *what,
                    int (*lookup)(const char *), const char *expected,
                    int *out, bool *present)
{
    const char *s = NULL;
    int rc = get_string(p, obj, base, key, required, &s);
    if (rc || !s)
        return rc;
    int v = lookup(s);
    if (v < 0) {
        char ptr[256], q[QUOTE_MAX * 6 + 8];
        MEMBER_PTR(ptr, base, key);
        quote(s, strlen(s), q, sizeof q);
        return fail_at(p, ESC_ETICKET, ptr, "unknown %s %s (expected %s)",
                       what, q, expected);
    }
    *out = v;
    if (present)
        *present = true;
    return 0;
}

/* A timestamp member; with `date_ok` a bare "YYYY-MM-DD" (midnight UTC) is
 * accepted too. */
static int get_time(parser *p, const json_t *obj, const char *base,
                    const char *key, bool date_ok, int64_t *out)
{
    const char *s = NULL;
    int rc = get_string(p, obj, base, key, false, &s);
    if (rc || !s)
        return rc;
    size_t n = strlen(s);
    if (esc_time_parse(s, out) == 0)
        return 0;
    if (date_ok && n == 10) {
        char full[32];
        snprintf(full, sizeof full, "%sT00:00:00Z", s);
        if (esc_time_parse(full, out) == 0)
            return 0;
    }
    char ptr[256], q[QUOTE_MAX * 6 + 8];
    MEMBER_PTR(ptr, base, key);
    quote(s, n, q, sizeof q);
    return fail_at(p, ESC_ETICKET, ptr, "invalid %s %s (%s)",
                   date_ok ? "date" : "timestamp", q,
                   date_ok ? DATE_EXPECTED : TIMESTAMP_EXPECTED);
}

/* An array member; *out stays NULL when absent or null. */
static int get_array(parser *p, const json_t *obj, const char *base,
                     const char *key, json_t **out)
{
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_array(v)) {
        char ptr[256];
        MEMBER_PTR(ptr, base, key);
        return fail_type(p, ptr, "an array", v);
    }
    *out = v;
    return 0;
}

/* ---- sections ------------------------------------------------------------ */

static int parse_customer(parser *p, esc_ticket *t)
{
    json_t *c = json_object_get(t->root, "customer");
    json_t *flags = NULL;
    const char *s;
    int rc;

    if (!c || json_is_null(c))
        return 0;
    if (!json_is_object(c))
        return fail_type(p, "/customer", "an object", c);

    static const char *const keys[] = {"id", "email", "name", "tier"};
    char **slots[] = {&t->customer.id, &t->customer.email, &t->customer.name,
                      &t->customer.tier};
    for (size_t i = 0; i < ESC__ARRAY_LEN(keys); i++) {
        s = NULL;
        if ((rc = get_string(p, c, "/customer", keys[i], false, &s)))
            return rc;
        *slots[i] = (char *)s;
    }
    if ((rc = get_time(p, c, "/customer", "since", true, &t->customer.since)))
        return rc;
    if ((rc = get_array(p, c, "/customer", "flags", &flags)) || !flags)
        return rc;

    size_t n = json_array_size(flags);
    if (n == 0)
        return 0;
    t->customer.flags = esc__xcalloc(n, sizeof(char *));
    for (size_t i = 0; i < n; i++) {
        json_t *f = json_array_get(flags, i);
        char ptr[64];
        item_pointer(ptr, "/customer/flags", i);
        if (!json_is_string(f))
            return fail_type(p, ptr, "a string", f);
        if (has_nul(f))
            return fail_at(p, ESC_ETICKET, ptr,
                           "string contains a NUL character (\\u0000), which "
                           "is not supported");
        t->customer.flags[t->customer.n_flags++] =
            (char *)json_string_value(f);
    }
    return 0;
}

static int parse_messages(parser *p, esc_ticket *t)
{
    json_t *arr = NULL;
    int rc = get_array(p, t->root, "", "messages", &arr);
    if (rc || !arr)
        return rc;

    size_t n = json_array_size(arr);
    if (n > ESC_TICKET_MAX_MESSAGES)
        return fail_at(p, ESC_ELIMIT, "/messages",
                       "too many messages: %zu (the limit is %u)", n,
                       ESC_TICKET_MAX_MESSAGES);
    if (n == 0)
        return 0;
    t->messages = esc__xcalloc(n, sizeof(esc__message));
    for (size_t i = 0; i < n; i++) {
        json_t *m = json_array_get(arr, i);
        esc__message *msg = &t->messages[i];
        char base[48];
        int from = 0;
        const char *text = NULL;

        item_pointer(base, "/messages", i);
        if (!json_is_object(m))
            return fail_type(p, base, "an object", m);
        if ((rc = get_enum(p, m, base, "from", true, "sender",
                           esc__from_from_name, FROMS_EXPECTED, &from, NULL)))
            return rc;
        msg->at = ESC__NO_TIME;
        if ((rc = get_time(p, m, base, "at", false, &msg->at)))
            return rc;
        size_t len = 0;
        if ((rc = get_string_n(p, m, base, "text", true, &text, &len)))
            return rc;
        msg->from = (esc__from)from;
        msg->text = text;
        msg->len = len;
        msg->index = i;
        t->n_messages = i + 1;
    }
    return 0;
}

static int parse_troubleshooting(parser *p, esc_ticket *t)
{
    json_t *arr = NULL;
    int rc = get_array(p, t->root, "", "troubleshooting", &arr);
    if (rc || !arr)
        return rc;

    size_t n = json_array_size(arr);
    if (n == 0)
        return 0;
    t->steps = esc__xcalloc(n, sizeof(esc__step));
    for (size_t i = 0; i < n; i++) {
        json_t *s = json_array_get(arr, i);
        esc__step *step = &t->steps[i];
        char base[48];

        item_pointer(base, "/troubleshooting", i);
        if (!json_is_object(s))
            return fail_type(p, base, "an object", s);
        step->result = "";
        if ((rc = get_string(p, s, base, "step", true, &step->step)) ||
            (rc = get_string(p, s, base, "result", false, &step->result)))
            return rc;
        t->n_steps = i + 1;
    }
    return 0;
}

/* Strings anywhere under "fields" must not hold NUL either: the engine
 * reads them as C strings. `ptr` holds the pointer of v. */
static int check_field_strings(parser *p, json_t *v, esc__sb *ptr)
{
    size_t mark = ptr->len;
    int rc = 0;

    if (json_is_string(v)) {
        if (has_nul(v))
            return fail_at(p, ESC_ETICKET, ptr->buf ? ptr->buf : "",
                           "string contains a NUL character (\\u0000), which "
                           "is not supported");
    } else if (json_is_object(v)) {
        const char *key;
        json_t *member;
        json_object_foreach(v, key, member) {
            pointer_push(ptr, key);
            rc = check_field_strings(p, member, ptr);
            ptr->len = mark;
            ptr->buf[mark] = '\0';
            if (rc)
                return rc;
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *item;
        json_array_foreach(v, i, item) {
            esc__sb_printf(ptr, "/%zu", i);
            rc = check_field_strings(p, item, ptr);
            ptr->len = mark;
            ptr->buf[mark] = '\0';
            if (rc)
                return rc;
        }
    }
    return 0;
}

static int parse_fields(parser *p, esc_ticket *t)
{
    json_t *f = json_object_get(t->root, "fields");
    if (!f || json_is_null(f)) {
        if (json_object_set_new(t->root, "fields", json_object()) != 0)
            return fail_at(p, ESC_ENOMEM, "", "out of memory");
        t->fields = json_object_get(t->root, "fields");
        return 0;
    }
    if (!json_is_object(f))
        return fail_type(p, "/fields", "an object", f);
    t->fields = f;

    esc__sb ptr;
    esc__sb_init(&ptr);
    esc__sb_puts(&ptr, "/fields");
    int rc = check_field_strings(p, f, &ptr);
    esc__sb_free(&ptr);
    return rc;
}

static int parse_document(parser *p, esc_ticket *t)
{
    json_t *root = t->root;
    const char *s;
    int v, rc;

    s = NULL;
    if ((rc = get_string(p, root, "", "id", true, &s)))
        return rc;
    if (!*s)
        return fail_at(p, ESC_ETICKET, "/id",
                       "expected a non-empty string, found \"\"");
    t->id = (char *)s;

    v = ESC__CH_WEB;
    if ((rc = get_enum(p, root, "", "channel", false, "channel",
                       esc__channel_from_name, CHANNELS_EXPECTED, &v,
                       &t->has_channel)))
        return rc;
    t->channel = (esc__channel)v;

    s = "";
    if ((rc = get_string(p, root, "", "subject", false, &s)))
        return rc;
    t->subject = (char *)s;

    if ((rc = get_time(p, root, "", "created_at", false, &t->created_at)))
        return rc;

    v = ESC__ST_OPEN;
    if ((rc = get_enum(p, root, "", "status", false, "status",
                       esc__status_from_name, STATUSES_EXPECTED, &v, NULL)))
        return rc;
    t->status = (esc__status)v;

    s = NULL;
    if ((rc = get_string(p, root, "", "level", false, &s)))
        return rc;
    t->level = (char *)s;

    if ((rc = parse_customer(p, t)) || (rc = parse_messages(p, t)) ||
        (rc = parse_troubleshooting(p, t)) || (rc = parse_fields(p, t)))
        return rc;
    return 0;
}

/* ---- syntax -------------------------------------------------------------- */

static bool all_space(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
            return false;
    return true;
}

/* The 1-based line and column (in characters) of byte `off`. */
static void text_position(const char *s, size_t off, int *line, int *col)
{
    int l = 1, c = 0;
    for (size_t i = 0; i <= off; i++) {
        unsigned char b = (unsigned char)s[i];
        if (i < off && b == '\n') {
            l++;
            c = 0;
        } else if ((b & 0xC0) != 0x80) {
            c++;
        }
    }
    *line = l;
    *col = c;
}

/* Turns jansson's report into ours: its line and column, and its text after
 * "invalid JSON: ", except where a plainer sentence says more. `skipped` is
 * the length of a byte order mark left out before json, counted as one
 * character of line 1. */
static int fail_syntax(parser *p, const json_error_t *je, const char *json,
                       size_t len, size_t skipped)
{
    enum json_error_code code = json_error_code(je);
    int rc = code == json_error_out_of_memory ? ESC_ENOMEM : ESC_ETICKET;
    esc_error *err = p->err;
    const char *nul = memchr(json, '\0', len);
    size_t pos = je->position > 0 ? (size_t)je->position : 0;

    if (!err)
        return rc;
    err->line = je->line > 0 ? je->line : 1;
    err->col = je->column > 0 ? je->column : 1;
    if (code == json_error_out_of_memory) {
        snprintf(err->message, sizeof err->message, "out of memory");
    } else if (all_space(json, len)) {
        snprintf(err->message, sizeof err->message,
                 "invalid JSON: the input is empty");
    } else if (nul && (size_t)(nul - json) <= pos) {
        /* jansson takes a NUL byte for the end of the text */
        size_t off = (size_t)(nul - json);
        text_position(json, off, &err->line, &err->col);
        if (err->line == 1 && skipped)
            err->col++;
        snprintf(err->message, sizeof err->message,
                 "invalid JSON: NUL byte at byte offset %zu", off + skipped);
        return rc;
    } else if (code == json_error_invalid_utf8 && pos < len) {
        /* Here and for control characters, jansson places the column on the
         * last good character and the position on the bad byte. */
        err->col = je->column + 1;
        snprintf(err->message, sizeof err->message,
                 "invalid JSON: invalid UTF-8 byte 0x%02x at byte offset %zu",
                 (unsigned char)json[pos], pos + skipped);
    } else if (strncmp(je->text, "control character ", 18) == 0 &&
               pos < len) {
        err->col = je->column + 1;
        snprintf(err->message, sizeof err->message,
                 "invalid JSON: control character 0x%02x in a string must be "
                 "escaped (byte offset %zu)",
                 (unsigned char)json[pos], pos + skipped);
    } else {
        snprintf(err->message, sizeof err->message, "invalid JSON: %s",
                 je->text);
    }
    if (err->line == 1 && skipped)
        err->col++;
    return rc;
}

/* ---- the public API ------------------------------------------------------ */

static int ticket_from_root(parser *p, json_t *root, esc_ticket **out);

/* Clears *err and names the input in it. */
static void error_start(esc_error *err, const char *name)
{
    if (!err)
        return;
    memset(err, 0, sizeof *err);
    if (name) {
        /* what snprintf("%s") writes, without its cost on every ticket */
        size_t n = strnlen(name, sizeof err->where - 1);
        memcpy(err->where, name, n);
    }
}

ESC_EXTERN int esc_ticket_parse(const char *json, size_t len, const char *name,
                                esc_ticket **out, esc_error *err)
{
    parser p = {err};
    json_error_t je;

    error_start(err, name);
    if (!out)
        return fail_at(&p, ESC_EINVAL, "", "no place for the ticket");
    *out = NULL;
    if (!json && len)
        return fail_at(&p, ESC_EINVAL, "", "no JSON text");
    if (!json)
        json = "";
    if (len > ESC_TICKET_MAX_BYTES)
        return fail_at(&p, ESC_ELIMIT, "",
                       "ticket is %zu bytes, more than the limit of %u bytes",
                       len, ESC_TICKET_MAX_BYTES);

    /* A UTF-8 byte order mark is allowed and ignored (RFC 8259, 8.1). */
    size_t bom = len >= 3 && memcmp(json, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
    json += bom;
    len -= bom;
    json_t *root = json_loadb(json, len,
                              JSON_REJECT_DUPLICATES | JSON_DECODE_ANY |
                                  JSON_ALLOW_NUL,
                              &je);
    if (!root)
        return fail_syntax(&p, &je, json, len, bom);
    if (!json_is_object(root)) {
        int rc = fail_at(&p, ESC_ETICKET, "",
                         "expected a ticket object, found %s",
                         type_name(root));
        json_decref(root);
        return rc;
    }

    return ticket_from_root(&p, root, out);
}

/* Builds the ticket on a parsed document, whose reference it takes over. */
static int ticket_from_root(parser *p, json_t *root, esc_ticket **out)
{
    esc_ticket *t = esc__xcalloc(1, sizeof *t);
    t->root = root;
    t->subject = "";
    t->channel = ESC__CH_WEB;
    t->status = ESC__ST_OPEN;
    t->created_at = ESC__NO_TIME;
    t->customer.since = ESC__NO_TIME;

    int rc = parse_document(p, t);
    if (rc) {
        esc_ticket_free(&t);
        return rc;
    }
    *out = t;
    return 0;
}

int esc__ticket_from_json(json_t *root, const char *name, esc_ticket **out,
                          esc_error *err)
{
    parser p = {err};
    error_start(err, name);
    if (!out)
        return fail_at(&p, ESC_EINVAL, "", "no place for the ticket");
    *out = NULL;
    if (!json_is_object(root))
        return fail_at(&p, ESC_ETICKET, "", "expected a ticket object, found %s",
                       type_name(root));
    return ticket_from_root(&p, json_incref(root), out);
}

ESC_EXTERN void esc_ticket_free(esc_ticket **t)
{
    if (!t || !*t)
        return;
    esc_ticket *tk = *t;
    free(tk->customer.flags);
    free(tk->messages);
    free(tk->steps);
    json_decref(tk->root);
    free(tk);
    *t = NULL;
}

ESC_EXTERN const char *esc_ticket_id(const esc_ticket *t)
{
    return t ? t->id : NULL;
}
