/*
 * inbound.c - Zendesk's webhook events to escalator's tickets, messages and
 * events (see notify.h and docs/notifications.md).
 *
 * A Zendesk event webhook posts {"type": "zen:event-type:ticket.created",
 * "id", "time", "subject": "zen:ticket:ID", "detail": {the ticket}, "event":
 * {what changed}}. Tickets become "zendesk-ID".
 */
#include "notify.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static const char *jstr(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static bool ieq(const char *a, const char *b)
{
    return a && b && !strcasecmp(a, b);
}

/* Zendesk's status to the ticket contract's, or NULL. */
static const char *status_of(const char *s)
{
    if (ieq(s, "new"))
        return "new";
    if (ieq(s, "open"))
        return "open";
    if (ieq(s, "pending") || ieq(s, "hold") || ieq(s, "on-hold"))
        return "pending";
    if (ieq(s, "solved"))
        return "resolved";
    if (ieq(s, "closed"))
        return "closed";
    return NULL;
}

/* Zendesk's via.channel to the contract's channel. */
static const char *channel_of(const char *c)
{
    if (ieq(c, "email") || ieq(c, "mail"))
        return "email";
    if (ieq(c, "chat") || ieq(c, "messaging") || ieq(c, "native_messaging") ||
        ieq(c, "sunshine_conversations_api"))
        return "chat";
    if (ieq(c, "voice") || ieq(c, "phone") || ieq(c, "phone_call_inbound"))
        return "phone";
    if (ieq(c, "twitter") || ieq(c, "facebook") || ieq(c, "instagram_direct") ||
        ieq(c, "whatsapp"))
        return "social";
    return "web";
}

/* A string of an id that Zendesk sends as a string or a number. */
static bool id_text(json_t *v, char *out, size_t size)
{
    if (json_is_string(v))
        snprintf(out, size, "%s", json_string_value(v));
    else if (json_is_integer(v))
        snprintf(out, size, "%lld", (long long)json_integer_value(v));
    else
        return false;
    for (const char *p = out; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_')
            return false;
    return *out != '\0';
}

int notify_zendesk_map(json_t *payload, char *ticket_id, size_t id_size,
                       json_t **body, char *err, size_t size, const char **where)
{
    *body = NULL;
    *where = "";
    const char *type = jstr(payload, "type");
    json_t *detail = json_object_get(payload, "detail");
    json_t *event = json_object_get(payload, "event");
    char zid[96];
    if (!type || strncmp(type, "zen:event-type:", 15)) {
        *where = "/type";
        snprintf(err, size, "expected a Zendesk event type (zen:event-type:...)");
        return -1;
    }
    type += 15;
    if (strncmp(type, "ticket.", 7))
        return INBOUND_IGNORE;
    if (!json_is_object(detail) || !id_text(json_object_get(detail, "id"), zid, sizeof(zid))) {
        *where = "/detail/id";
        snprintf(err, size, "expected the ticket's id (letters, digits, '-', '_')");
        return -1;
    }
    snprintf(ticket_id, id_size, "zendesk-%s", zid);
    const char *time = jstr(payload, "time");
    if (!strcmp(type, "ticket.created")) {
        json_t *doc = json_pack("{s:s, s:s, s:s}", "id", ticket_id, "channel",
                                channel_of(jstr(json_object_get(detail, "via"), "channel")),
                                "status", "new");
        const char *st = status_of(jstr(detail, "status"));
        if (st)
            json_object_set_new(doc, "status", json_string(st));
        if (jstr(detail, "subject"))
            json_object_set(doc, "subject", json_object_get(detail, "subject"));
        const char *created = jstr(detail, "created_at") ? jstr(detail, "created_at") : time;
        if (created)
            json_object_set_new(doc, "created_at", json_string(created));
        json_t *cust = json_object();
        char rid[96];
        if (id_text(json_object_get(detail, "requester_id"), rid, sizeof(rid)))
            json_object_set_new(cust, "id", json_string(rid));
        json_t *req = json_object_get(detail, "requester");
        if (jstr(req, "email"))
            json_object_set(cust, "email", json_object_get(req, "email"));
        if (jstr(req, "name"))
            json_object_set(cust, "name", json_object_get(req, "name"));
        json_object_set_new(doc, "customer", cust);
        json_t *msgs = json_array();
        if (jstr(detail, "description") && *jstr(detail, "description")) {
            json_t *m = json_pack("{s:s, s:O}", "from", "customer", "text",
                                  json_object_get(detail, "description"));
            if (created)
                json_object_set_new(m, "at", json_string(created));
            json_array_append_new(msgs, m);
        }
        json_object_set_new(doc, "messages", msgs);
        *body = doc;
        return INBOUND_TICKET;
    }
    if (!strcmp(type, "ticket.comment_added")) {
        json_t *c = json_object_get(event, "comment");
        const char *text = jstr(c, "body");
        if (!text) {
            *where = "/event/comment/body";
            snprintf(err, size, "required string is missing");
            return -1;
        }
        json_t *author = json_object_get(c, "author");
        bool staff = json_is_true(json_object_get(author, "is_staff"));
        *body = json_pack("{s:s, s:s}", "from", staff ? "agent" : "customer", "text", text);
        if (time)
            json_object_set_new(*body, "at", json_string(time));
        return INBOUND_MESSAGE;
    }
    if (!strcmp(type, "ticket.priority_changed")) {
        /* Zendesk's priority is the help desk's view, not the policy's
         * decision: it becomes fields.zendesk_priority for rules to read. */
        json_t *cur = json_object_get(event, "current");
        const char *pr = json_is_string(cur) ? json_string_value(cur) : jstr(detail, "priority");
        *body = json_pack("{s:{s:o}}", "fields", "zendesk_priority",
                          pr && *pr ? json_string(pr) : json_null());
        return INBOUND_UPDATE;
    }
    if (!strcmp(type, "ticket.group_assignment_changed")) {
        /* The group that has the ticket is its level: a group named after
         * a team of the policy (or its id) puts the ticket at that team. */
        json_t *cur = json_object_get(event, "current");
        char level[96];
        const char *name = json_is_object(cur) ? jstr(cur, "name") : NULL;
        if (name && *name) {
            snprintf(level, sizeof(level), "%s", name);
        } else if (!id_text(json_is_object(cur) ? json_object_get(cur, "id") : cur, level,
                            sizeof(level)) &&
                   !id_text(json_object_get(detail, "group_id"), level, sizeof(level))) {
            *where = "/event/current";
            snprintf(err, size, "expected the group (an id, or {id, name})");
            return -1;
        }
        /* "Level 2" -> "level_2": a name as the policy spells its ids. */
        for (char *q = level; *q; q++)
            *q = isalnum((unsigned char)*q) ? (char)tolower((unsigned char)*q) : '_';
        *body = json_pack("{s:s}", "level", level);
        return INBOUND_UPDATE;
    }
    if (!strcmp(type, "ticket.agent_assignment_changed")) {
        /* An agent took the ticket: the escalation is acknowledged. */
        json_t *cur = json_object_get(event, "current");
        char agent[96];
        if (!id_text(json_is_object(cur) ? json_object_get(cur, "id") : cur, agent,
                     sizeof(agent)) &&
            !id_text(json_object_get(detail, "assignee_id"), agent, sizeof(agent)))
            return INBOUND_IGNORE; /* unassigned */
        char by[128];
        snprintf(by, sizeof(by), "zendesk-agent-%s", agent);
        *body = json_pack("{s:s, s:s}", "type", "acknowledge", "by", by);
        return INBOUND_EVENT;
    }
    if (!strcmp(type, "ticket.tags_changed")) {
        /* The ticket's tags after the change, as fields.zendesk_tags. */
        json_t *tags = json_object_get(detail, "tags"), *t, *list;
        size_t i;
        if (!json_is_array(tags)) {
            /* Only what changed: merged into the stored tags. */
            json_t *add = json_object_get(event, "tags_added");
            json_t *del = json_object_get(event, "tags_removed");
            if (!json_is_array(add) && !json_is_array(del)) {
                *where = "/detail/tags";
                snprintf(err, size, "expected the ticket's tags (a list of strings), or "
                                    "event.tags_added and event.tags_removed");
                return -1;
            }
            *body = json_pack("{s:o, s:o}", "tags_added",
                              json_is_array(add) ? json_deep_copy(add) : json_array(),
                              "tags_removed",
                              json_is_array(del) ? json_deep_copy(del) : json_array());
            return INBOUND_UPDATE;
        }
        list = json_array();
        json_array_foreach(tags, i, t)
        {
            if (json_is_string(t))
                json_array_append(list, t);
        }
        *body = json_pack("{s:{s:o}}", "fields", "zendesk_tags", list);
        return INBOUND_UPDATE;
    }
    if (!strcmp(type, "ticket.status_changed")) {
        json_t *cur = json_object_get(event, "current");
        const char *s = json_is_string(cur) ? json_string_value(cur) : jstr(cur, "status");
        const char *st = status_of(s);
        if (!st) {
            *where = "/event/current";
            snprintf(err, size, "expected a Zendesk status (new, open, pending, hold, "
                                "solved, closed)");
            return -1;
        }
        if (!strcmp(st, "new"))
            return INBOUND_IGNORE;
        *body = json_pack("{s:s, s:s, s:s}", "type", "status", "status", st, "by", "zendesk");
        return INBOUND_EVENT;
    }
    return INBOUND_IGNORE;
}
