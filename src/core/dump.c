/*
 * dump.c - the compiled form of a policy as JSON, for `check --dump`:
 * resolved settings, ranked priorities, the matcher's size, and every
 * condition as the compiler understood it.
 */
#include <stdio.h>
#include <string.h>

#include "compile.h"

static void js(esc__sb *sb, const char *s)
{
    if (s)
        esc__sb_json_str(sb, s, strlen(s));
    else
        esc__sb_puts(sb, "null");
}

/* A duration in the policy's own syntax, exact: "1d12h30m", "0s". */
static void dur(esc__sb *sb, int64_t d)
{
    static const struct {
        char unit;
        int64_t secs;
    } units[] = {{'d', 86400}, {'h', 3600}, {'m', 60}, {'s', 1}};
    if (d < 0) {
        esc__sb_puts(sb, "null");
        return;
    }
    esc__sb_putc(sb, '"');
    if (d == 0)
        esc__sb_puts(sb, "0s");
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (d >= units[i].secs) {
            esc__sb_printf(sb, "%lld%c", (long long)(d / units[i].secs), units[i].unit);
            d %= units[i].secs;
        }
    }
    esc__sb_putc(sb, '"');
}

static void durs(esc__sb *sb, const int64_t *v, size_t n)
{
    esc__sb_putc(sb, '[');
    for (size_t i = 0; i < n; i++) {
        if (i)
            esc__sb_putc(sb, ',');
        dur(sb, v[i]);
    }
    esc__sb_putc(sb, ']');
}

static void strs(esc__sb *sb, const char *const *v, size_t n)
{
    esc__sb_putc(sb, '[');
    for (size_t i = 0; i < n; i++) {
        if (i)
            esc__sb_putc(sb, ',');
        js(sb, v[i]);
    }
    esc__sb_putc(sb, ']');
}

static void value(esc__sb *sb, const esc__value *v)
{
    char buf[32];
    switch (v->t) {
    case ESC__T_BOOL: esc__sb_puts(sb, v->b ? "true" : "false"); break;
    case ESC__T_NUM: esc__sb_printf(sb, "%.15g", v->n); break;
    case ESC__T_DUR:
        esc__duration_format(v->d, buf, sizeof(buf));
        js(sb, buf);
        break;
    case ESC__T_STR: js(sb, v->s); break;
    case ESC__T_LIST: strs(sb, v->items, v->n_items); break;
    default: esc__sb_puts(sb, "null"); break;
    }
}

/* A condition in the expression syntax, fully parenthesised. */
static void cond_text(esc__sb *sb, const esc__cond *c)
{
    if (!c) {
        esc__sb_puts(sb, "true");
        return;
    }
    switch (c->kind) {
    case ESC__C_CONST: esc__sb_puts(sb, c->value ? "true" : "false"); break;
    case ESC__C_AND:
    case ESC__C_OR:
        esc__sb_putc(sb, '(');
        for (size_t i = 0; i < c->n_kids; i++) {
            if (i)
                esc__sb_puts(sb, c->kind == ESC__C_AND ? " and " : " or ");
            cond_text(sb, c->kids[i]);
        }
        esc__sb_putc(sb, ')');
        break;
    case ESC__C_NOT:
        esc__sb_puts(sb, "not ");
        cond_text(sb, c->kids[0]);
        break;
    case ESC__C_TRUTH: esc__sb_puts(sb, c->a.text); break;
    case ESC__C_CMP:
        esc__sb_printf(sb, "%s %s %s", c->a.text, esc__op_text(c->op),
                       c->b.text);
        break;
    }
}

static void cond(esc__sb *sb, const esc__cond *c)
{
    esc__sb t;
    esc__sb_init(&t);
    cond_text(&t, c);
    js(sb, t.buf ? t.buf : "");
    esc__sb_free(&t);
}

static void teams(esc__sb *sb, const esc_policy *p, const uint32_t *v,
                  size_t n)
{
    esc__sb_putc(sb, '[');
    for (size_t i = 0; i < n; i++) {
        if (i)
            esc__sb_putc(sb, ',');
        js(sb, p->teams[v[i]].id);
    }
    esc__sb_putc(sb, ']');
}

/* The notify entries of one priority, team or rule, each with its owner. */
static void notifies(esc__sb *sb, const esc_policy *p, const char *scope,
                     const char *id, const esc__notify *nt, size_t n,
                     bool *first)
{
    for (size_t i = 0; i < n; i++) {
        esc__sb_printf(sb, "%s{\"%s\":", *first ? "" : ",", scope);
        *first = false;
        js(sb, id);
        esc__sb_puts(sb, ",\"on\":[");
        for (size_t k = 0, m = 0; esc__notify_events[k]; k++)
            if (nt[i].on & (1u << k))
                esc__sb_printf(sb, "%s\"%s\"", m++ ? "," : "",
                               esc__notify_events[k]);
        esc__sb_puts(sb, "],\"channel\":");
        js(sb, nt[i].channel);
        esc__sb_puts(sb, ",\"to\":");
        js(sb, nt[i].to);
        esc__sb_puts(sb, ",\"template\":");
        js(sb, nt[i].tmpl >= 0 ? p->templates[nt[i].tmpl].id : NULL);
        esc__sb_printf(sb, ",\"text\":%s,\"when\":",
                       nt[i].has_text ? "true" : "false");
        if (nt[i].when)
            cond(sb, nt[i].when);
        else
            esc__sb_puts(sb, "null");
        esc__sb_putc(sb, '}');
    }
}

char *esc_policy_dump(const esc_policy *p)
{
    if (!p)
        return NULL;
    esc__sb sb;
    esc__sb_init(&sb);
    esc__sb_puts(&sb, "{\"name\":");
    js(&sb, p->name);
    esc__sb_puts(&sb, ",\"settings\":{");
    for (size_t i = 0; i < p->n_settings; i++) {
        if (i)
            esc__sb_putc(&sb, ',');
        js(&sb, p->settings[i].name);
        esc__sb_putc(&sb, ':');
        value(&sb, &p->settings[i].value);
    }
    esc__sb_puts(&sb, "},\"fields\":{");
    for (size_t i = 0; i < p->n_fields; i++) {
        const esc__field *f = &p->fields[i];
        if (i)
            esc__sb_putc(&sb, ',');
        js(&sb, f->name);
        esc__sb_putc(&sb, ':');
        js(&sb, f->integer ? "integer" : esc__type_name(f->type));
    }
    esc__sb_puts(&sb, "},\"levels\":[");
    for (size_t i = 0; i < p->n_levels; i++) {
        const esc__level *l = &p->levels[i];
        esc__sb_printf(&sb, "%s{\"id\":", i ? "," : "");
        js(&sb, l->id);
        esc__sb_puts(&sb, ",\"name\":");
        js(&sb, l->name);
        esc__sb_puts(&sb, ",\"resolve_within\":");
        dur(&sb, l->resolve_within);
        esc__sb_putc(&sb, '}');
    }
    esc__sb_puts(&sb, "],\"calendars\":[");
    for (size_t i = 0; i < p->n_calendars; i++) {
        const esc__calendar *c = &p->calendars[i];
        esc__sb_printf(&sb, "%s{\"id\":", i ? "," : "");
        js(&sb, c->id);
        esc__sb_puts(&sb, ",\"timezone\":");
        js(&sb, c->timezone);
        esc__sb_printf(&sb, ",\"days\":%u,\"hours\":\"%02d:%02d-%02d:%02d\","
                            "\"holidays\":%zu}",
                       c->days, c->open_min / 60, c->open_min % 60,
                       c->close_min / 60, c->close_min % 60, c->n_holidays);
    }
    esc__sb_puts(&sb, "],\"teams\":[");
    for (size_t i = 0; i < p->n_teams; i++) {
        const esc__team *t = &p->teams[i];
        esc__sb_printf(&sb, "%s{\"id\":", i ? "," : "");
        js(&sb, t->id);
        esc__sb_puts(&sb, ",\"name\":");
        js(&sb, t->name);
        if (t->tier)
            esc__sb_printf(&sb, ",\"tier\":%d", t->tier);
        esc__sb_puts(&sb, ",\"respond_within\":");
        dur(&sb, t->respond_within);
        esc__sb_puts(&sb, ",\"resolve_within\":");
        dur(&sb, t->resolve_within);
        esc__sb_puts(&sb, ",\"acknowledge_within\":");
        dur(&sb, t->acknowledge_within);
        esc__sb_puts(&sb, ",\"follow_up\":");
        durs(&sb, t->follow_ups, t->n_follow_ups);
        esc__sb_puts(&sb, ",\"calendar\":");
        js(&sb, t->calendar >= 0 ? p->calendars[t->calendar].id : NULL);
        esc__sb_puts(&sb, ",\"tags\":");
        strs(&sb, t->tags, t->n_tags);
        esc__sb_puts(&sb, ",\"requires\":");
        strs(&sb, t->requires, t->n_requires);
        esc__sb_putc(&sb, '}');
    }
    esc__sb_puts(&sb, "],\"priorities\":[");
    for (size_t i = 0; i < p->n_priorities; i++) {
        const esc__priority *pr = &p->priorities[i];
        esc__sb_printf(&sb, "%s{\"rank\":%zu,\"id\":", i ? "," : "", i + 1);
        js(&sb, pr->id);
        esc__sb_puts(&sb, ",\"respond_within\":");
        dur(&sb, pr->respond_within);
        esc__sb_puts(&sb, ",\"escalate_within\":");
        dur(&sb, pr->escalate_within);
        esc__sb_puts(&sb, ",\"resolve_within\":");
        dur(&sb, pr->resolve_within);
        esc__sb_puts(&sb, ",\"acknowledge_within\":");
        dur(&sb, pr->acknowledge_within);
        esc__sb_puts(&sb, ",\"follow_up\":");
        durs(&sb, pr->follow_ups, pr->n_follow_ups);
        esc__sb_puts(&sb, ",\"calendar\":");
        js(&sb, pr->calendar >= 0 ? p->calendars[pr->calendar].id : NULL);
        esc__sb_printf(&sb, ",\"unsuppressible\":%s}",
                       pr->unsuppressible ? "true" : "false");
    }
    esc__sb_puts(&sb, "],\"default_priority\":");
    js(&sb, p->priorities[p->default_priority].id);
    esc__sb_printf(&sb, ",\"matcher\":{\"patterns\":%zu,\"literals\":%zu,"
                        "\"regexes\":%zu}",
                   p->n_patterns, esc__matcher_literal_count(p->matcher),
                   esc__matcher_regex_count(p->matcher));
    esc__sb_puts(&sb, ",\"signals\":[");
    for (size_t i = 0; i < p->n_signals; i++) {
        const esc__signal *s = &p->signals[i];
        esc__sb_printf(&sb, "%s{\"id\":", i ? "," : "");
        js(&sb, s->id);
        esc__sb_printf(&sb, ",\"phrases\":%zu,\"regexes\":%zu,\"min_hits\":%u"
                            ",\"shouting\":%s}",
                       s->n_phrases, s->n_regexes, s->min_hits,
                       s->shouting ? "true" : "false");
    }
    esc__sb_puts(&sb, "],\"rules\":[");
    for (size_t i = 0; i < p->n_rules; i++) {
        const esc__rule *r = &p->rules[i];
        esc__sb_printf(&sb, "%s{\"id\":", i ? "," : "");
        js(&sb, r->id);
        esc__sb_puts(&sb, ",\"when\":");
        cond(&sb, r->when);
        esc__sb_puts(&sb, ",\"targets\":");
        teams(&sb, p, r->targets, r->n_targets);
        if (r->next_tier)
            esc__sb_puts(&sb, ",\"next_tier\":true");
        esc__sb_puts(&sb, ",\"priority\":");
        js(&sb, p->priorities[r->priority].id);
        esc__sb_printf(&sb, ",\"escalate\":%s,\"stop_conversation\":%s}",
                       r->escalate ? "true" : "false",
                       r->stop_conversation ? "true" : "false");
    }
    esc__sb_puts(&sb, "],\"suppressions\":[");
    for (size_t i = 0; i < p->n_suppressions; i++) {
        const esc__suppression *s = &p->suppressions[i];
        esc__sb_printf(&sb, "%s{\"id\":", i ? "," : "");
        js(&sb, s->id);
        esc__sb_puts(&sb, ",\"when\":");
        cond(&sb, s->when);
        esc__sb_puts(&sb, ",\"except\":");
        if (s->except)
            cond(&sb, s->except);
        else
            esc__sb_puts(&sb, "null");
        esc__sb_puts(&sb, ",\"applies_to\":");
        if (s->applies_to) {
            esc__sb_putc(&sb, '[');
            for (size_t k = 0; k < s->n_applies_to; k++) {
                if (k)
                    esc__sb_putc(&sb, ',');
                js(&sb, p->rules[s->applies_to[k]].id);
            }
            esc__sb_putc(&sb, ']');
        } else {
            js(&sb, "all");
        }
        esc__sb_putc(&sb, '}');
    }
    esc__sb_puts(&sb, "],\"templates\":[");
    for (size_t i = 0; i < p->n_templates; i++) {
        const esc__template *t = &p->templates[i];
        esc__sb_printf(&sb, "%s{\"id\":", i ? "," : "");
        js(&sb, t->id);
        esc__sb_puts(&sb, ",\"for\":");
        teams(&sb, p, t->for_teams, t->n_for);
        esc__sb_puts(&sb, ",\"when\":");
        if (t->when)
            cond(&sb, t->when);
        else
            esc__sb_puts(&sb, "null");
        esc__sb_putc(&sb, '}');
    }
    esc__sb_puts(&sb, "],\"advice\":[");
    for (size_t i = 0; i < p->n_advice; i++) {
        esc__sb_printf(&sb, "%s{\"id\":", i ? "," : "");
        js(&sb, p->advice[i].id);
        esc__sb_puts(&sb, ",\"when\":");
        cond(&sb, p->advice[i].when);
        esc__sb_putc(&sb, '}');
    }
    /* Who hears of what: every notify entry, by its owner. */
    esc__sb_puts(&sb, "],\"notifications\":[");
    bool first = true;
    for (size_t i = 0; i < p->n_priorities; i++)
        notifies(&sb, p, "priority", p->priorities[i].id,
                 p->priorities[i].notify, p->priorities[i].n_notify, &first);
    for (size_t i = 0; i < p->n_teams; i++)
        notifies(&sb, p, "team", p->teams[i].id, p->teams[i].notify,
                 p->teams[i].n_notify, &first);
    for (size_t i = 0; i < p->n_rules; i++)
        notifies(&sb, p, "rule", p->rules[i].id, p->rules[i].notify,
                 p->rules[i].n_notify, &first);
    esc__sb_puts(&sb, "]}");
    return esc__sb_take(&sb, NULL);
}
