/*
 * plan.c - from an outbox event to its deliveries, inside the transaction
 * that wrote the event (see notify.h). Each delivery stores the whole
 * message it will send, so that what goes out after a restart is what the
 * decision said, whatever happened to the ticket since.
 */
#include "notify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "escalator.h"

int64_t notify_now_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static const char *jstr(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

json_t *notify_policy_info(const char *dump)
{
    json_t *d = dump ? json_loads(dump, 0, NULL) : NULL, *x;
    json_t *prios = json_array(), *teams = json_object();
    size_t i;
    json_array_foreach(json_object_get(d, "priorities"), i, x)
    {
        if (jstr(x, "id"))
            json_array_append_new(prios, json_string(jstr(x, "id")));
    }
    json_array_foreach(json_object_get(d, "teams"), i, x)
    {
        const char *id = jstr(x, "id"), *name = jstr(x, "name");
        if (id)
            json_object_set_new(teams, id, json_string(name ? name : id));
    }
    /* Lifecycle entries: whether the policy names any (else the setting
     * notify_events decides); and each team's entries, which tell the
     * team of a manual escalation and of a chain step that reach it. */
    bool lifecycle = false;
    json_t *team_notify = json_object();
    json_array_foreach(json_object_get(d, "notifications"), i, x)
    {
        json_t *on = json_object_get(x, "on"), *e;
        size_t k;
        json_array_foreach(on, k, e)
        {
            if (json_string_value(e) && strcmp(json_string_value(e), "escalated"))
                lifecycle = true;
        }
        const char *team = jstr(x, "team"), *channel = jstr(x, "channel");
        if (!team || !channel)
            continue;
        json_t *list = json_object_get(team_notify, team);
        if (!list) {
            list = json_array();
            json_object_set_new(team_notify, team, list);
        }
        json_array_append_new(list, json_pack("{s:s, s:s, s:O, s:b}", "channel", channel,
                                              "to", jstr(x, "to") ? jstr(x, "to") : channel,
                                              "on", on ? on : json_null(), "conditional",
                                              json_object_get(x, "when") &&
                                                  !json_is_null(json_object_get(x, "when"))));
    }
    json_decref(d);
    return json_pack("{s:o, s:o, s:b, s:o}", "priorities", prios, "teams", teams,
                     "lifecycle", lifecycle, "team_notify", team_notify);
}

/* Whether a decision's notification answers event: entries without "on"
 * answer the escalation only. */
static bool answers(json_t *n, const char *event)
{
    json_t *on = json_object_get(n, "on"), *e;
    size_t i;
    if (!on)
        return !strcmp(event, "escalated");
    json_array_foreach(on, i, e)
    {
        if (json_string_value(e) && !strcmp(json_string_value(e), event))
            return true;
    }
    return false;
}

/* A team's short name: "Level 2: Technical Support" -> "Level 2". */
static void team_short(json_t *policy, const char *team, char *out, size_t size)
{
    const char *name = team ? jstr(json_object_get(policy, "teams"), team) : NULL;
    if (!name)
        name = team ? team : "support";
    size_t n = strcspn(name, ":");
    snprintf(out, size, "%.*s", (int)n, name);
}

static const char *severity(json_t *policy, const char *priority)
{
    json_t *list = json_object_get(policy, "priorities"), *x;
    size_t i;
    static const char *const sev[] = {"critical", "error", "warning", "info"};
    json_array_foreach(list, i, x)
    {
        if (priority && !strcmp(json_string_value(x), priority))
            return sev[i < 3 ? i : 3];
    }
    return "error";
}

static bool listed(const char *list, const char *word)
{
    size_t n = strlen(word);
    if (list && !strcmp(list, "all"))
        return true;
    for (const char *p = list ? list : ""; *p;) {
        p += strspn(p, ", ");
        size_t len = strcspn(p, ", ");
        if (len == n && !strncmp(p, word, n))
            return true;
        p += len;
    }
    return false;
}

/* Appends to out the {channel, to} of team's entries that answer event
 * unconditionally (a condition needs a decision about the team); event
 * NULL: whatever event they answer, each (channel, to) once. */
static void team_entries(json_t *policy, const char *team, const char *event, json_t *out)
{
    json_t *list = json_object_get(json_object_get(policy, "team_notify"), team), *n, *o;
    size_t i, k;
    json_array_foreach(list, i, n)
    {
        bool dup = false;
        json_array_foreach(event ? NULL : out, k, o)
        {
            dup |= !strcmp(jstr(o, "channel"), jstr(n, "channel")) &&
                   !strcmp(jstr(o, "to"), jstr(n, "to"));
        }
        if (!dup && (!event || answers(n, event)) &&
            !json_is_true(json_object_get(n, "conditional")) &&
            strcmp(jstr(n, "channel"), "customer"))
            json_array_append_new(out, json_pack("{s:O, s:O}", "channel",
                                                 json_object_get(n, "channel"), "to",
                                                 json_object_get(n, "to")));
    }
}

static json_t *time_json(json_t *v)
{
    char buf[40];
    if (json_is_integer(v) && esc_time_format(json_integer_value(v), buf, sizeof(buf)) == 0)
        return json_string(buf);
    if (json_is_string(v))
        return json_incref(v);
    return json_null();
}

/* The part of the ticket a message carries. */
static json_t *ticket_part(json_t *doc, const char *id)
{
    json_t *t = json_pack("{s:s}", "id", id);
    static const char *const keys[] = {"subject", "channel", "status", "level", "customer",
                                       "fields", "created_at", NULL};
    for (size_t i = 0; keys[i]; i++)
        if (json_object_get(doc, keys[i]))
            json_object_set(t, keys[i], json_object_get(doc, keys[i]));
    return t;
}

static void fact_of(const char *channel, const char *to, const char *text, char out[33])
{
    size_t a = strlen(channel), b = strlen(to), c = strlen(text);
    char *buf = malloc(a + b + c + 3);
    unsigned char mac[32];
    if (!buf) {
        snprintf(out, 33, "%s", "0");
        return;
    }
    memcpy(buf, channel, a + 1);
    memcpy(buf + a + 1, to, b + 1);
    memcpy(buf + a + b + 2, text, c + 1);
    notify_hmac_sha256("escalator-fact", 14, buf, a + b + c + 2, mac);
    free(buf);
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", mac[i]);
}

/* own_key: the delivery's idempotency key; NULL: OUTBOX_KEY:CHANNEL:TO. */
static int add_keyed(store *st, const notify_event *ev, const char *own_key,
                     const char *event, const char *channel, const char *to,
                     const char *fact, json_t *msg, const char *state, int *added)
{
    char key[1024];
    if (own_key)
        snprintf(key, sizeof(key), "%s", own_key);
    else
        snprintf(key, sizeof(key), "%s:%s:%s", ev->outbox_key, channel, to);
    json_t *row = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:O, s:s, s:I, s:I, s:I}",
                            "idempotency_key", key, "outbox_key", ev->outbox_key,
                            "ticket_id", ev->ticket, "event", event, "channel", channel,
                            "recipient", to, "fact", fact, "message", msg, "state", state,
                            "next_attempt_ms", (json_int_t)ev->now_ms, "created_at",
                            (json_int_t)ev->now, "updated_ms", (json_int_t)ev->now_ms);
    if (!row)
        return STORE_ERROR;
    if (!strcmp(state, "returned"))
        json_object_set_new(row, "delivered_ms", json_integer(ev->now_ms));
    int rc = st->ops->delivery_add(st, row);
    json_decref(row);
    if (rc == STORE_OK)
        (*added)++;
    return rc == STORE_NOTFOUND ? STORE_OK : rc;
}

static int add(store *st, const notify_event *ev, const char *event, const char *channel,
               const char *to, const char *fact, json_t *msg, const char *state,
               int *added)
{
    return add_keyed(st, ev, NULL, event, channel, to, fact, msg, state, added);
}

static bool chat_like(json_t *doc)
{
    const char *ch = jstr(doc, "channel");
    return ch && (!strcmp(ch, "chat") || !strcmp(ch, "bot") || !strcmp(ch, "social"));
}

/* One delivery per notification of the decision. */
static int plan_escalation(store *st, const notify_event *ev, json_t *base, int *added)
{
    json_t *list = ev->decision ? json_object_get(ev->decision, "notifications") : NULL;
    if (!json_is_array(list))
        list = json_object_get(ev->data, "notifications");
    json_t *n;
    size_t i;
    char team[128], sub[600];
    team_short(ev->policy, jstr(base, "team"), team, sizeof(team));
    json_t *fields = json_object_get(json_object_get(base, "ticket"), "fields");
    const char *subject = jstr(json_object_get(base, "ticket"), "subject");
    const char *issue = jstr(fields, "issue_type") ? jstr(fields, "issue_type")
                        : subject                  ? subject
                                                   : "support request";
    snprintf(sub, sizeof(sub), "Escalation to %s - %s - Ticket #%s", team, issue, ev->ticket);
    json_object_set_new(base, "subject", json_string(sub));
    snprintf(sub, sizeof(sub), "Re: %s - Escalated to specialist team",
             subject ? subject : "Your request");
    json_object_set_new(base, "customer_subject", json_string(sub));
    const char *cmsg = ev->decision ? jstr(ev->decision, "customer_message") : NULL;
    if (cmsg)
        json_object_set_new(base, "customer_message", json_string(cmsg));
    int rc = STORE_OK;
    json_t *all = json_array();
    const char *cause = jstr(ev->data, "cause");
    if (cause && !strncmp(cause, "manual:", 7) && jstr(ev->data, "team")) {
        /* Someone escalated by hand: the receiving team's own entries
         * tell it, whatever the decision says. */
        char text[1400], who[128];
        team_short(ev->policy, jstr(ev->data, "team"), who, sizeof(who));
        snprintf(text, sizeof(text), "Escalated by hand to %s: ticket %s%s%s%s. Reason:%s",
                 who, ev->ticket, subject ? " (" : "", subject ? subject : "",
                 subject ? ")" : "", cause + 7);
        team_entries(ev->policy, jstr(ev->data, "team"), "escalated", all);
        /* A team that names nobody for escalations is told through the
         * recipients of its other entries (its follow-ups, its pager). */
        if (!json_array_size(all))
            team_entries(ev->policy, jstr(ev->data, "team"), NULL, all);
        json_array_foreach(all, i, n)
        {
            json_object_set_new(n, "text", json_string(text));
        }
    }
    json_array_extend(all, json_is_array(list) ? list : NULL);
    json_array_foreach(all, i, n)
    {
        const char *channel = jstr(n, "channel"), *to = jstr(n, "to");
        const char *text = jstr(n, "text") ? jstr(n, "text") : "";
        if (!channel || rc != STORE_OK || !answers(n, "escalated"))
            continue;
        if (!to)
            to = !strcmp(channel, "customer") ? "customer" : channel;
        char fact[33];
        fact_of(channel, to, text, fact);
        /* The same fact told to the same recipient once is enough. */
        int seen = st->ops->delivery_fact_seen(st, ev->ticket, channel, to, fact);
        if (seen == STORE_ERROR)
            rc = seen;
        if (seen != STORE_NOTFOUND)
            continue;
        json_t *msg = json_deep_copy(base);
        json_object_set_new(msg, "text", json_string(text));
        bool to_customer = !strcmp(channel, "customer");
        rc = add(st, ev, "escalated", channel, to, fact, msg,
                 to_customer && chat_like(ev->doc) ? "returned" : "pending", added);
        json_decref(msg);
    }
    json_decref(all);
    return rc;
}

/* Whom a lifecycle event tells: each (channel, recipient) that heard of
 * the ticket's escalation, the customer excepted. */
static json_t *escalation_audience(store *st, const char *ticket)
{
    json_t *filter = json_pack("{s:s, s:s, s:i}", "ticket", ticket, "event", "escalated",
                               "limit", 1000);
    json_t *rows = NULL, *r, *out = json_array(), *seen = json_object();
    size_t i;
    if (st->ops->deliveries_list(st, filter, &rows) != STORE_OK) {
        json_decref(filter);
        json_decref(out);
        json_decref(seen);
        return NULL;
    }
    json_decref(filter);
    json_array_foreach(rows, i, r)
    {
        const char *ch = jstr(r, "channel"), *to = jstr(r, "recipient");
        if (!strcmp(ch, "customer") || !strcmp(to, "customer"))
            continue;
        char k[600];
        snprintf(k, sizeof(k), "%s\n%s", ch, to);
        json_t *known = json_object_get(seen, k);
        if (known) {
            /* The latest escalation's key: what a pager acknowledges. */
            json_object_set(known, "key", json_object_get(r, "idempotency_key"));
            continue;
        }
        json_t *a = json_pack("{s:s, s:s, s:O}", "channel", ch, "to", to, "key",
                              json_object_get(r, "idempotency_key"));
        json_object_set(seen, k, a);
        json_array_append_new(out, a);
    }
    json_decref(rows);
    json_decref(seen);
    return out;
}

/* The notifications of the decision behind the ticket's latest
 * escalation (its outbox payload keeps them), or NULL. */
static json_t *escalation_entries(store *st, const char *ticket)
{
    json_t *rows = NULL, *found = NULL;
    if (st->ops->outbox_list(st, ticket, &rows) != STORE_OK)
        return NULL;
    for (size_t i = json_array_size(rows); i-- > 0 && !found;) {
        json_t *r = json_array_get(rows, i);
        if (!jstr(r, "kind") || strcmp(jstr(r, "kind"), "escalation"))
            continue;
        json_t *pl = json_object_get(r, "payload");
        json_t *own = json_is_string(pl) ? json_loads(json_string_value(pl), 0, NULL)
                                         : json_incref(pl);
        json_t *list = json_object_get(own, "notifications");
        if (json_is_array(list))
            found = json_incref(list);
        json_decref(own);
    }
    json_decref(rows);
    return found;
}

/* The policy's audience of a lifecycle event: the entries of the
 * escalation's decision whose `on` names it; and the unconditional entries
 * of the team concerned: for a chain step the team the chain moved to,
 * else the team that has the escalation or owns the follow-up. Each item is
 * {channel, to, key (the escalation's delivery to it, for a pager's
 * acknowledge), text (when the entry has its own)}. */
static json_t *policy_audience(store *st, const notify_event *ev, const char *event)
{
    json_t *known = escalation_audience(st, ev->ticket);
    if (!known)
        return NULL;
    json_t *entries = escalation_entries(st, ev->ticket), *cands = json_array(), *n;
    size_t i, k;
    json_array_foreach(entries, i, n)
    {
        if (!jstr(n, "channel") || !answers(n, event) || !strcmp(jstr(n, "channel"), "customer"))
            continue;
        /* A team's follow-up entry reminds that team of its own follow-ups. */
        const char *owner = jstr(ev->data, "follow_up_team");
        if (!strcmp(event, "follow_up") && jstr(n, "team") && owner &&
            strcmp(jstr(n, "team"), owner))
            continue;
        json_t *c = json_pack("{s:s, s:s}", "channel", jstr(n, "channel"), "to",
                              jstr(n, "to") ? jstr(n, "to") : jstr(n, "channel"));
        if (json_is_true(json_object_get(n, "own_text")) && jstr(n, "text"))
            json_object_set(c, "text", json_object_get(n, "text"));
        json_array_append_new(cands, c);
    }
    json_decref(entries);
    const char *to = jstr(ev->data, "to"), *from = jstr(ev->data, "team");
    if (!strcmp(event, "chain_step")) {
        if (to && (!from || strcmp(to, from)))
            team_entries(ev->policy, to, "chain_step", cands);
    } else {
        /* The team that has the escalation (or owns the follow-up) hears
         * through its own entries, also when it got the ticket by hand or
         * up the chain rather than by a decision. */
        const char *owner = !strcmp(event, "follow_up") && jstr(ev->data, "follow_up_team")
                                ? jstr(ev->data, "follow_up_team")
                                : from;
        if (owner)
            team_entries(ev->policy, owner, event, cands);
    }
    json_t *out = json_array(), *c, *a;
    json_array_foreach(cands, i, c)
    {
        bool dup = false;
        json_array_foreach(out, k, a)
        {
            dup |= !strcmp(jstr(a, "channel"), jstr(c, "channel")) &&
                   !strcmp(jstr(a, "to"), jstr(c, "to"));
        }
        if (dup)
            continue;
        json_t *item = json_deep_copy(c);
        json_array_foreach(known, k, a)
        {
            if (!strcmp(jstr(a, "channel"), jstr(c, "channel")) &&
                !strcmp(jstr(a, "to"), jstr(c, "to")))
                json_object_set(item, "key", json_object_get(a, "key"));
        }
        json_array_append_new(out, item);
    }
    json_decref(cands);
    json_decref(known);
    return out;
}

static int plan_lifecycle(store *st, const notify_event *ev, json_t *base, int *added)
{
    const char *id = ev->ticket;
    const char *subject = jstr(json_object_get(base, "ticket"), "subject");
    char team[128], text[1200], sub[600], label[64], other[128];
    team_short(ev->policy, jstr(base, "team"), team, sizeof(team));
    const char *rb = jstr(base, "respond_by");
    const char *k = ev->kind;
    char about[700];
    snprintf(about, sizeof(about), "ticket %s%s%s%s", id, subject ? " (" : "",
             subject ? subject : "", subject ? ")" : "");
    if (!strcmp(k, "sla_warning")) {
        snprintf(label, sizeof(label), "SLA warning");
        snprintf(text, sizeof(text), "SLA warning: %s with %s must be answered by %s.", about,
                 team, rb ? rb : "its deadline");
    } else if (!strcmp(k, "sla_breach")) {
        snprintf(label, sizeof(label), "SLA breached");
        snprintf(text, sizeof(text), "SLA breached: %s was not answered by %s by %s.", about,
                 team, rb ? rb : "its deadline");
    } else if (!strcmp(k, "follow_up")) {
        const char *ft = jstr(ev->data, "follow_up_team");
        team_short(ev->policy, ft ? ft : jstr(base, "team"), other, sizeof(other));
        snprintf(label, sizeof(label), "Follow-up due");
        snprintf(text, sizeof(text),
                 "Follow-up due: %s is with %s; check on it and update the customer.", about,
                 other);
    } else if (!strcmp(k, "ack_timeout")) {
        const char *to = jstr(ev->data, "to");
        const char *from = jstr(ev->data, "team");
        snprintf(label, sizeof(label), "Not acknowledged");
        if (to && from && strcmp(to, from)) {
            team_short(ev->policy, to, other, sizeof(other));
            snprintf(text, sizeof(text),
                     "Not acknowledged: %s did not take %s in time; escalated up the chain "
                     "to %s.", team, about, other);
        } else {
            json_t *rep = json_object_get(ev->data, "repeat");
            snprintf(text, sizeof(text),
                     "Not acknowledged: %s has not taken %s yet (reminder %lld).", team,
                     about, (long long)(json_is_integer(rep) ? json_integer_value(rep) : 1));
        }
    } else if (!strcmp(k, "resolution_breach")) {
        json_t *by = json_object_get(ev->data, "resolve_by");
        char when[32] = "its target";
        if (json_is_integer(by))
            esc_time_format(json_integer_value(by), when, sizeof(when));
        snprintf(label, sizeof(label), "Resolution target missed");
        snprintf(text, sizeof(text), "Resolution target missed: %s with %s was not resolved by %s.",
                 about, team, when);
    } else if (!strcmp(k, "acknowledged")) {
        const char *by = jstr(ev->data, "by");
        snprintf(label, sizeof(label), "Acknowledged");
        snprintf(text, sizeof(text), "Acknowledged: %s took %s for %s.", by ? by : "someone",
                 about, team);
    } else {
        return STORE_OK;
    }
    snprintf(sub, sizeof(sub), "%s - Ticket #%s - %s", label, id, team);
    json_object_set_new(base, "subject", json_string(sub));
    json_object_set_new(base, "text", json_string(text));
    /* The policy's entries for the event; without any in the policy, the
     * escalation's audience for the events of the setting notify_events. */
    const char *event = !strcmp(k, "ack_timeout") ? "chain_step" : k;
    bool by_policy = json_is_true(json_object_get(ev->policy, "lifecycle"));
    if (!by_policy && !listed(ev->events, k))
        return STORE_OK;
    json_t *aud = by_policy ? policy_audience(st, ev, event) : escalation_audience(st, id), *a;
    if (!aud)
        return STORE_ERROR;
    size_t i;
    int rc = STORE_OK;
    json_array_foreach(aud, i, a)
    {
        if (rc != STORE_OK)
            break;
        char fact[33];
        fact_of(ev->outbox_key, jstr(a, "channel"), jstr(a, "to"), fact);
        json_t *msg = json_deep_copy(base);
        if (jstr(a, "text"))
            json_object_set(msg, "text", json_object_get(a, "text"));
        if (!strcmp(k, "acknowledged") && jstr(a, "key")) {
            /* A pager acknowledges the incident its escalation opened
             * rather than opening another. */
            json_object_set_new(msg, "pager_action", json_string("acknowledge"));
            json_object_set(msg, "pager_dedup_key", json_object_get(a, "key"));
        }
        rc = add(st, ev, k, jstr(a, "channel"), jstr(a, "to"), fact, msg, "pending", added);
        json_decref(msg);
    }
    json_decref(aud);
    return rc;
}

/* The ticket is resolved or closed: every incident its pages opened is
 * resolved, with the key of the trigger that opened it. */
static int plan_resolved(store *st, const notify_event *ev, json_t *base, int *added)
{
    json_t *filter = json_pack("{s:s, s:i}", "ticket", ev->ticket, "limit", 1000);
    json_t *rows = NULL, *r;
    size_t i;
    int rc = st->ops->deliveries_list(st, filter, &rows);
    json_decref(filter);
    if (rc != STORE_OK)
        return rc;
    char text[800];
    const char *subject = jstr(json_object_get(base, "ticket"), "subject");
    snprintf(text, sizeof(text), "Resolved: ticket %s%s%s%s is %s.", ev->ticket,
             subject ? " (" : "", subject ? subject : "", subject ? ")" : "",
             jstr(ev->data, "status") ? jstr(ev->data, "status") : "resolved");
    json_object_set_new(base, "text", json_string(text));
    json_array_foreach(rows, i, r)
    {
        const char *ch = jstr(r, "channel"), *to = jstr(r, "recipient");
        if (rc != STORE_OK || !ch || !to || strcmp(notify_default_kind(ch), "pager"))
            continue;
        json_t *m = json_object_get(r, "message");
        json_t *own = json_is_string(m) ? json_loads(json_string_value(m), 0, NULL)
                                        : json_incref(m);
        bool trigger = !jstr(own, "pager_action");
        json_decref(own);
        if (!trigger || !jstr(r, "idempotency_key"))
            continue;
        json_t *msg = json_deep_copy(base);
        json_object_set_new(msg, "pager_action", json_string("resolve"));
        json_object_set(msg, "pager_dedup_key", json_object_get(r, "idempotency_key"));
        /* One resolve per incident: its key is the trigger's, suffixed. */
        char key[1100];
        snprintf(key, sizeof(key), "%s:resolve", jstr(r, "idempotency_key"));
        char fact[33];
        fact_of(ev->outbox_key, ch, jstr(r, "idempotency_key"), fact);
        rc = add_keyed(st, ev, key, "resolved", ch, to, fact, msg, "pending", added);
        json_decref(msg);
    }
    json_decref(rows);
    return rc;
}

int notify_plan(store *st, const notify_event *ev, int *added)
{
    *added = 0;
    bool escalation = !strcmp(ev->kind, "escalation");
    json_t *dec = ev->decision;
    const char *priority = dec && jstr(dec, "priority") ? jstr(dec, "priority")
                           : jstr(ev->data, "priority") ? jstr(ev->data, "priority")
                                                        : ev->priority;
    const char *team = jstr(ev->data, "team");
    if (!team && dec)
        team = json_string_value(json_array_get(json_object_get(dec, "targets"), 0));
    json_t *rb = json_object_get(ev->data, "respond_by");
    if (!rb && dec)
        rb = json_object_get(dec, "respond_by");
    char now[40] = "";
    esc_time_format(ev->now, now, sizeof(now));
    json_t *base = json_pack("{s:s, s:s, s:o, s:o, s:s, s:o, s:o, s:o}", "event",
                             escalation ? "escalated" : ev->kind, "at", now, "ticket",
                             ticket_part(ev->doc, ev->ticket), "priority",
                             priority ? json_string(priority) : json_null(), "severity",
                             severity(ev->policy, priority), "team",
                             team ? json_string(team) : json_null(), "team_name",
                             team && jstr(json_object_get(ev->policy, "teams"), team)
                                 ? json_string(jstr(json_object_get(ev->policy, "teams"), team))
                                 : json_null(),
                             "respond_by", time_json(rb));
    if (!base)
        return STORE_ERROR;
    if (dec && json_object_get(dec, "targets"))
        json_object_set(base, "targets", json_object_get(dec, "targets"));
    int rc = escalation                       ? plan_escalation(st, ev, base, added)
             : !strcmp(ev->kind, "resolved") ? plan_resolved(st, ev, base, added)
                                             : plan_lifecycle(st, ev, base, added);
    json_decref(base);
    return rc;
}
