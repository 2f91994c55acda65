/*
 * gen_tickets.c - writes realistic support tickets as JSONL (one ticket a
 * line, the contract of DESIGN.md), deterministic from a seed.
 *
 *   gen_tickets [--seed N] [--count N] [--cfpb FILE.csv] [--now TIME] [--out FILE]
 *
 * Customer text is real: sentences of the consumer complaints in the CFPB
 * sample (shared/data/cfpb-complaints-sample/complaints_sample.csv, read at
 * run time and never copied into the repository), cut into chat-sized
 * messages. When the file is absent the text is generated from a small
 * built-in grammar instead, and the summary line says so.
 *
 * Each ticket has 1 to 20 messages (most conversations are short), replies
 * from agents or the bot, timestamps up to ten days before --now, and a mix
 * of fields, customer tiers and flags. About half the tickets carry one or
 * two "trigger" sentences (see triggers[] below) chosen so that every rule of
 * the meow-mobile and ai-handoff packs fires somewhere in a corpus of a few
 * thousand tickets; bench/run.sh checks that it does.
 *
 * Determinism: ticket i depends only on the seed, i and the text source, so
 * a corpus of N tickets is a prefix of every larger one with the same seed.
 * The last line on stderr is the summary: tickets, bytes, text source.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- a deterministic random stream (SplitMix64) -------------------------- */

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t next64(rng *r)
{
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [0, n); n > 0. */
static uint32_t below(rng *r, uint32_t n)
{
    return (uint32_t)(((next64(r) >> 32) * (uint64_t)n) >> 32);
}

/* Uniform in [0, 1). */
static double unit(rng *r)
{
    return (double)(next64(r) >> 11) * (1.0 / 9007199254740992.0);
}

static bool chance(rng *r, double p)
{
    return unit(r) < p;
}

#define PICK(r, arr) ((arr)[below((r), (uint32_t)(sizeof(arr) / sizeof((arr)[0])))])

/* ---- output buffer ------------------------------------------------------- */

typedef struct out {
    char *p;
    size_t len, cap;
} out;

static void need(out *o, size_t n)
{
    if (o->len + n <= o->cap)
        return;
    size_t cap = o->cap ? o->cap : 1 << 16;
    while (cap < o->len + n)
        cap *= 2;
    o->p = realloc(o->p, cap);
    if (!o->p) {
        fputs("gen_tickets: out of memory\n", stderr);
        exit(1);
    }
    o->cap = cap;
}

static void put(out *o, const char *s, size_t n)
{
    need(o, n);
    memcpy(o->p + o->len, s, n);
    o->len += n;
}

static void puts_(out *o, const char *s)
{
    put(o, s, strlen(s));
}

static void printf_(out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void printf_(out *o, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    put(o, buf, n < (int)sizeof buf ? (size_t)n : sizeof buf - 1);
}

/* Appends s[0..n) as the body of a JSON string (no quotes). Bytes >= 0x80
 * are copied: the text sources are ASCII or valid UTF-8. */
static void json_body(out *o, const char *s, size_t n)
{
    need(o, n * 6);
    char *w = o->p + o->len;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            *w++ = '\\';
            *w++ = (char)c;
        } else if (c == '\n') {
            *w++ = '\\';
            *w++ = 'n';
        } else if (c == '\t') {
            *w++ = '\\';
            *w++ = 't';
        } else if (c < 0x20) {
            w += sprintf(w, "\\u%04x", c);
        } else {
            *w++ = (char)c;
        }
    }
    o->len = (size_t)(w - o->p);
}

static void json_str(out *o, const char *s)
{
    put(o, "\"", 1);
    json_body(o, s, strlen(s));
    put(o, "\"", 1);
}

/* ---- the text source ----------------------------------------------------- */

typedef struct span {
    const char *p;
    uint32_t len;
} span;

/* Sentences of each narrative, in order; subjects from the Issue column. */
typedef struct corpus {
    span *sent;
    size_t n_sent, cap_sent;
    uint32_t *narr_first; /* narrative k: sentences [first[k], first[k+1]) */
    size_t n_narr, cap_narr;
    span *subj;
    size_t n_subj, cap_subj;
    char *data;           /* the CSV file, sentences point into it */
} corpus;

static void *grow(void *p, size_t *cap, size_t need_n, size_t size)
{
    if (need_n <= *cap)
        return p;
    size_t c = *cap ? *cap * 2 : 1024;
    while (c < need_n)
        c *= 2;
    p = realloc(p, c * size);
    if (!p) {
        fputs("gen_tickets: out of memory\n", stderr);
        exit(1);
    }
    *cap = c;
    return p;
}

/* Longest message cut from a sentence, in bytes: chat messages are short. */
#define MSG_MAX 280

static bool is_space(char c)
{
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

/* Adds the sentences of one narrative s[0..n), cut at . ! ? or a line
 * break; long ones are cut at a space before MSG_MAX bytes. */
static void add_narrative(corpus *c, char *s, size_t n)
{
    c->narr_first = grow(c->narr_first, &c->cap_narr, c->n_narr + 2,
                         sizeof(uint32_t));
    c->narr_first[c->n_narr++] = (uint32_t)c->n_sent;
    size_t i = 0;
    while (i < n) {
        while (i < n && is_space(s[i]))
            i++;
        size_t j = i;
        while (j < n && s[j] != '\n') {
            if ((s[j] == '.' || s[j] == '!' || s[j] == '?') &&
                (j + 1 == n || is_space(s[j + 1]))) {
                j++;
                break;
            }
            j++;
        }
        size_t a = i;
        while (a < j) {
            size_t b = j;
            if (b - a > MSG_MAX) {
                b = a + MSG_MAX;
                while (b > a + MSG_MAX / 2 && s[b] != ' ')
                    b--;
            }
            size_t e = b;
            while (e > a && is_space(s[e - 1]))
                e--;
            if (e - a >= 3) {
                c->sent = grow(c->sent, &c->cap_sent, c->n_sent + 1, sizeof(span));
                c->sent[c->n_sent++] = (span){s + a, (uint32_t)(e - a)};
            }
            a = b;
            while (a < j && s[a] == ' ')
                a++;
        }
        i = j;
    }
    c->narr_first[c->n_narr] = (uint32_t)c->n_sent;
    if (c->narr_first[c->n_narr - 1] == c->n_sent)
        c->n_narr--; /* nothing usable */
}

/*
 * Reads the CFPB CSV (RFC 4180: quoted fields with "" and line breaks).
 * Column 3 is Issue, column 5 the consumer's narrative. Returns false when
 * the file cannot be read or holds no narrative.
 */
static bool load_cfpb(corpus *c, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    if (size <= 0) {
        fclose(f);
        return false;
    }
    c->data = malloc((size_t)size + 1);
    if (!c->data || fread(c->data, 1, (size_t)size, f) != (size_t)size) {
        fclose(f);
        return false;
    }
    fclose(f);
    char *p = c->data, *end = c->data + size;
    int col = 0;
    bool header = true;
    while (p < end) {
        /* One field, unquoted in place (quotes removed by copying down). */
        char *start = p, *w = p;
        if (*p == '"') {
            p++;
            for (;;) {
                if (p >= end)
                    break;
                if (*p == '"') {
                    if (p + 1 < end && p[1] == '"') {
                        *w++ = '"';
                        p += 2;
                        continue;
                    }
                    p++;
                    break;
                }
                *w++ = *p++;
            }
        } else {
            while (p < end && *p != ',' && *p != '\n' && *p != '\r')
                *w++ = *p++;
        }
        size_t len = (size_t)(w - start);
        if (!header && col == 5 && len > 0)
            add_narrative(c, start, len);
        if (!header && col == 3 && len > 0 && len < 120) {
            c->subj = grow(c->subj, &c->cap_subj, c->n_subj + 1, sizeof(span));
            c->subj[c->n_subj++] = (span){start, (uint32_t)len};
        }
        if (p < end && *p == ',') {
            p++;
            col++;
        } else {
            while (p < end && (*p == '\r' || *p == '\n'))
                p++;
            col = 0;
            header = false;
        }
    }
    return c->n_narr > 0;
}

/* The fallback text: complaint sentences from a small grammar. */
static const char *const g_open[] = {
    "I have been trying to", "For the last week I tried to", "I called twice to",
    "Your app would not let me", "I was told I could", "Nobody can tell me how to",
    "I paid on time and still could not", "Three agents promised to help me"};
static const char *const g_verb[] = {
    "activate my new line", "transfer my phone number", "get my bill corrected",
    "log into my account", "cancel an extra charge", "set up the eSIM",
    "update my payment card", "get the roaming pack working"};
static const char *const g_close[] = {
    "and it still does not work.", "but the charge is still there.",
    "and I keep getting the same error.", "and nobody has called me back.",
    "which is really frustrating.", "and I need this fixed today.",
    "so please look at my account.", "but the website says something else."};

static void fallback_sentence(rng *r, out *o)
{
    const char *a = PICK(r, g_open), *b = PICK(r, g_verb), *c = PICK(r, g_close);
    json_body(o, a, strlen(a));
    put(o, " ", 1);
    json_body(o, b, strlen(b));
    put(o, " ", 1);
    json_body(o, c, strlen(c));
}

/* ---- conversation pieces ------------------------------------------------- */

static const char *const chat_lines[] = {
    "hello?", "any update?", "pls help", "this is ridiculous", "???", "ok",
    "thanks", "are you still there?", "still waiting", "hi, I need help",
    "can someone look at this", "it happened again", "I already did that",
    "yes", "no", "what do you mean", "that didn't work", "ok I'll try",
    "how long will this take?", "this is the third time I'm writing",
    /* Chat is not all ASCII: curly apostrophes, emoji, accents. */
    "I\u2019m still waiting \U0001F621", "why is this taking so long?? \U0001F644",
    "merci, \u00e7a ne marche toujours pas", "ok \U0001F44D", "Jos\u00e9 here again",
    "it\u2019s been two days\u2026"};

static const char *const agent_lines[] = {
    "Thanks for reaching out, I'm looking into this now.",
    "I'm sorry for the trouble. Let me check your account.",
    "Could you confirm the phone number on the account?",
    "I've reset the connection on our side, please restart your phone.",
    "Thank you for your patience while I review this.",
    "I can see the issue on your account.",
    "Please allow a few minutes for the change to take effect.",
    "I understand how frustrating this is.",
    "Let me know if that helps.",
    "I have added a note to your account."};

static const char *const bot_lines[] = {
    "Hi! I'm Mochi, the virtual assistant. How can I help?",
    "I can help with billing, eSIM and number transfers. What's going on?",
    "Have you tried restarting your device?",
    "Here is an article that may help: Troubleshooting your connection.",
    "I'm checking that for you.",
    "Did that solve your problem?"};

static const char *const system_lines[] = {
    "Ticket created from chat.", "Customer verified by SMS code.",
    "Ticket reassigned to queue l1."};

static const char *const short_subjects[] = {
    "Port-in keeps failing", "Bill is wrong", "No signal", "eSIM not activating",
    "Refund request", "Account locked", "App crashes", "Need help",
    "Cancel my plan", "Charged twice", "Slow service", "Question about my invoice"};

/*
 * Trigger sentences. Together they make every rule of meow-mobile and
 * ai-handoff fire (most rules also fire on fields or on the real complaint
 * text). `from`: 0 customer, 1 agent.
 */
typedef struct trigger {
    const char *text;
    int from;
} trigger;

static const trigger triggers[] = {
    /* meow-mobile */
    {"Someone hacked my account and changed my password.", 0},
    {"The sim swap happened last night and it wasn't me.", 0},
    {"This is an emergency, my daughter is missing and my phone has no service.", 0},
    {"There is no service in the whole city, downdetector shows it everywhere.", 0},
    {"I got a subpoena and the court deadline is Friday.", 0},
    {"I'm a reporter writing a story about your outages.", 0},
    {"I am emailing your CEO about this.", 0},
    {"My port-in was rejected for the 4th time.", 0},
    {"The port request failed 3 times even with the right PIN.", 0},
    {"No signal at home and my neighbors have no service either.", 0},
    {"The app shows an error code E-2041 and my coworkers get the same error code.", 0},
    {"There are charges on my bill I didn't make, this is fraud.", 0},
    {"Someone opened a line in my name, this is identity theft.", 0},
    {"If this isn't fixed I'm going to sue you.", 0},
    {"I have been waiting for 5 days and it is still not working.", 0},
    {"This is a formal request for a copy of my personal data under the CCPA.", 0},
    {"My ex keeps texting me threatening messages from a new number.", 0},
    {"I'm going to cancel my service and switch to Verizon.", 0},
    {"The old carrier won't release my number.", 0},
    {"Every time I open it the app crashes.", 0},
    {"My eSIM is stuck on activating since yesterday.", 0},
    {"The SIM swap failed again, second time today.", 0},
    {"The app shows a different plan than my bill.", 0},
    {"My account was suspended and I want to appeal the suspension.", 0},
    {"Your email said my account was flagged for an acceptable use policy violation.", 0},
    {"I want a refund of $240 for the days without service.", 0},
    {"I will file a chargeback with my bank.", 0},
    {"Can you make an exception and waive the late fee?", 0},
    {"This is my third ticket about this and it has been going on for two weeks now.", 0},
    {"I tried everything and nothing works.", 0},
    {"I want to speak to a manager.", 0},
    {"I haven't tried restarting yet.", 0},
    {"Can you confirm the email on the account?", 1},
    {"This is a known issue and there's a workaround: toggle airplane mode.", 1},
    {"I tried the workaround and the workaround didn't work.", 0},
    {"What I can do is apply a credit today.", 1},
    {"I think I need to escalate this to L2.", 1},
    {"Sorry, that's not my department.", 1},
    /* ai-handoff */
    {"I know where your office is and someone is going to get hurt.", 0},
    {"You useless idiot, this damn shit bot is fucking useless.", 0},
    {"Please reset the password for my husband's account.", 0},
    {"Give me the email of the person who owns that number.", 0},
    {"Can you skip the verification just this once?", 0},
    {"I'm his assistant, send the verification code to this new number.", 0},
    {"The site is down and we are losing thousands in sales.", 0},
    {"Someone logged in from Russia and I didn't change my password.", 0},
    {"Other people's invoices are publicly accessible in my dashboard.", 0},
    {"All our projects disappeared and the files are gone.", 0},
    {"None of our customers can check out, payments are failing.", 0},
    {"I don't feel safe, someone is stalking me.", 0},
    {"I will report you to the CFPB and the attorney general.", 0},
    {"We received a court order about this account.", 0},
    {"I have 200k followers and I will post about this.", 0},
    {"I was charged twice for the last three months.", 0},
    {"A former employee took over our account and won't transfer ownership.", 0},
    {"Under GDPR, delete all my personal data.", 0},
    {"You are selling my data without my consent.", 0},
    {"Everything is so slow, pages take forever to load.", 0},
    {"I'm locked out and can't log in.", 0},
    {"On top of that, another problem: the export is broken too.", 0},
    {"I already escalated this twice and nothing happened.", 0},
    {"I'm thinking of cancelling and moving to a competitor.", 0},
    {"Can I talk to a human please?", 0},
    {"You'll regret this.", 0},
    {"THIS IS UNACCEPTABLE!!! I AM FURIOUS AND DISGUSTED", 0},
    {"I am so angry and frustrated, this is outrageous and infuriating.", 0},
    {"We need a custom contract with different terms and net 60.", 0},
    {"Could you extend the deadline for us?", 0},
    {"Please merge our accounts into one.", 0},
    {"I want to downgrade to monthly billing.", 0},
    {"My card was declined and the payment failed.", 0},
    {"Can you build this custom integration for us?", 0},
    {"Our webhook calls to your API return 500.", 0},
    {"I found a bug: the report shows the wrong time zone.", 0},
    {"I heard you're working on a secret feature, is that true?", 0},
    {"Please add dark mode, it's a deal breaker for our team.", 0},
    {"When will the mobile app be available in Spanish?", 0},
    {"The new design is confusing and lots of our users can't find the export.", 0},
    {"A user is posting spam and fake reviews on our page.", 0},
    {"They copied our content, this is a DMCA copyright issue.", 0},
    {"Just some feedback: I love the new calendar.", 0},
    {"How do I join the beta program?", 0},
    {"Can you explain your data retention policy?", 0},
    {"Could you run a training session for our team?", 0},
    {"We'd like to discuss a partnership as a reseller.", 0},
    {"We want to add seats and upgrade to enterprise.", 0},
    {"Please change the billing address on our account.", 0},
    {"I have a question about my invoice, the line item is wrong.", 0},
    {"I already read the FAQ and the article didn't help.", 0},
    {"I'm just venting, no need to escalate.", 0},
};
#define N_TRIGGERS (sizeof(triggers) / sizeof(triggers[0]))

static const char *const issue_types[] = {
    "esim", "port_in", "payment", "network", "account", "other", "technical",
    "billing", "sim_swap", "outage", "product", "legal", "security"};
static const char *const steps[] = {
    "Restarted device", "Verified PIN", "Reset network settings",
    "Reinstalled the app", "Cleared cache", "Checked coverage map",
    "Re-sent eSIM QR code", "Checked account status"};
static const char *const results[] = {"no change", "correct", "failed", "ok", ""};
static const char *const names[] = {
    "Ana", "Ben", "Chloe", "Dev", "Eli", "Fatima", "Gina", "Hugo", "Ines",
    "Jamal", "Kenji", "Lena", "Marco", "Nora", "Omar", "Priya"};

/* ---- one ticket ---------------------------------------------------------- */

typedef struct gen {
    const corpus *c;     /* NULL: generated text */
    int64_t now;
} gen;

static void put_time(out *o, int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    char buf[32];
    strftime(buf, sizeof buf, "\"%Y-%m-%dT%H:%M:%SZ\"", &tm);
    puts_(o, buf);
}

/* Appends the text of one customer message: one or two consecutive
 * sentences of the ticket's narrative (advancing *pos), or a chat line. */
static void customer_text(const gen *g, rng *r, uint32_t narr, uint32_t *pos,
                          out *o)
{
    if (chance(r, 0.25)) {
        const char *s = PICK(r, chat_lines);
        json_body(o, s, strlen(s));
        return;
    }
    int k = chance(r, 0.3) ? 2 : 1;
    for (int i = 0; i < k; i++) {
        if (i)
            put(o, " ", 1);
        if (!g->c) {
            fallback_sentence(r, o);
            continue;
        }
        const corpus *c = g->c;
        uint32_t first = c->narr_first[narr], last = c->narr_first[narr + 1];
        if (first + *pos >= last)
            *pos = 0; /* the story starts over: customers repeat themselves */
        const span *s = &c->sent[first + *pos];
        (*pos)++;
        json_body(o, s->p, s->len);
    }
}

static void one_ticket(const gen *g, uint64_t seed, uint64_t index, out *o)
{
    rng r = {seed * 0x9E3779B97F4A7C15ull ^ (index + 1) * 0xD1B54A32D192ED03ull};
    next64(&r);

    /* Ticket age: mostly fresh, a tail of stuck ones. */
    double u = unit(&r);
    int64_t age = u < 0.7 ? (int64_t)below(&r, 24 * 3600)
                : u < 0.9 ? 24 * 3600 + (int64_t)below(&r, 2 * 24 * 3600)
                          : 3 * 24 * 3600 + (int64_t)below(&r, 7 * 24 * 3600);
    int64_t created = g->now - age - 60;

    static const char *const channels[] = {"chat", "chat", "chat", "chat", "chat",
                                           "chat", "chat", "chat", "chat", "email",
                                           "email", "email", "email", "web", "web",
                                           "phone", "bot", "bot", "bot", "social"};
    const char *channel = PICK(&r, channels);
    bool bot_channel = !strcmp(channel, "bot") || !strcmp(channel, "chat");

    puts_(o, "{\"id\":");
    printf_(o, "\"T-%" PRIu64 "\"", index + 1);
    puts_(o, ",\"channel\":");
    json_str(o, channel);
    if (chance(&r, 0.85)) {
        puts_(o, ",\"subject\":\"");
        if (g->c && g->c->n_subj && chance(&r, 0.6)) {
            const span *s = &g->c->subj[below(&r, (uint32_t)g->c->n_subj)];
            json_body(o, s->p, s->len);
        } else {
            const char *s = PICK(&r, short_subjects);
            json_body(o, s, strlen(s));
        }
        puts_(o, "\"");
    }
    puts_(o, ",\"created_at\":");
    put_time(o, created);
    static const char *const statuses[] = {"open", "open", "open", "open", "open",
                                           "open", "open", "open", "open", "open",
                                           "open", "new", "new", "new", "new",
                                           "new", "pending", "pending", "escalated",
                                           "resolved"};
    const char *status = chance(&r, 0.01) ? "closed" : PICK(&r, statuses);
    puts_(o, ",\"status\":");
    json_str(o, status);
    double lv = unit(&r);
    if (lv < 0.5)
        puts_(o, ",\"level\":\"l1\"");
    else if (lv < 0.6)
        puts_(o, ",\"level\":\"l2\"");

    /* Customer. */
    const char *name = PICK(&r, names);
    uint32_t cid = below(&r, 900000) + 1000;
    printf_(o, ",\"customer\":{\"id\":\"C-%u\"", cid);
    if (chance(&r, 0.9))
        printf_(o, ",\"email\":\"%c%u@example.com\"", name[0] + 32, cid);
    if (chance(&r, 0.85))
        printf_(o, ",\"name\":\"%s\"", name);
    double tu = unit(&r);
    puts_(o, tu < 0.7 ? ",\"tier\":\"standard\""
             : tu < 0.9 ? ",\"tier\":\"premium\""
                        : ",\"tier\":\"enterprise\"");
    if (chance(&r, 0.6)) {
        puts_(o, ",\"since\":");
        put_time(o, g->now - 86400 * (int64_t)(30 + below(&r, 3000)));
    }
    if (chance(&r, 0.09)) {
        static const char *const flags[] = {"vip", "vip", "vip", "enterprise",
                                            "enterprise", "influencer",
                                            "influencer", "executive"};
        puts_(o, ",\"flags\":[");
        json_str(o, PICK(&r, flags));
        if (chance(&r, 0.2)) {
            puts_(o, ",");
            json_str(o, PICK(&r, flags));
        }
        puts_(o, "]");
    }
    puts_(o, "}");

    /* Messages: 1..20, short conversations most often (P(n) falls like
     * 1/sqrt(n); the mean is about 7). */
    double mu = unit(&r);
    unsigned n = 1 + (unsigned)(20.0 * mu * mu);
    if (n > 20)
        n = 20;
    uint32_t narr = g->c ? below(&r, (uint32_t)g->c->n_narr) : 0;
    uint32_t pos = 0;
    /* Trigger sentences: in about half the tickets, one or two. */
    int n_trig = chance(&r, 0.5) ? (chance(&r, 0.25) ? 2 : 1) : 0;
    const trigger *trig[2] = {NULL, NULL};
    unsigned trig_at[2] = {0, 0};
    for (int k = 0; k < n_trig; k++) {
        trig[k] = &triggers[below(&r, (uint32_t)N_TRIGGERS)];
        trig_at[k] = below(&r, n);
    }
    /* A customer who says the same thing three times (facts.repeats). */
    bool repeat = n >= 5 && chance(&r, 0.06);
    /* A follow-up after a day of silence (facts.customer_gap). */
    bool gap = n >= 3 && age > 32 * 3600 && chance(&r, 0.15);

    int64_t span_s = g->now - created;
    int64_t step_s = span_s / (n + 1);
    int64_t at = created;
    size_t repeat_mark = 0, repeat_len = 0;
    char *repeat_copy = NULL;
    unsigned customer_msgs = 0;

    puts_(o, ",\"messages\":[");
    for (unsigned i = 0; i < n; i++) {
        bool last = i + 1 == n;
        const char *from;
        if (i == 0 || last)
            from = "customer";
        else if (chance(&r, 0.5))
            from = "customer";
        else if (chance(&r, 0.03))
            from = "system";
        else
            from = bot_channel && chance(&r, 0.5) ? "bot" : "agent";
        int trig_here = -1;
        for (int k = 0; k < n_trig; k++)
            if (trig_at[k] == i)
                trig_here = k;
        if (trig_here >= 0)
            from = trig[trig_here]->from ? "agent" : "customer";

        /* Steps of step_s on average; with `gap`, the last message comes a
         * day or more after the one before it. */
        if (gap && last)
            at = g->now - 3600 - (int64_t)below(&r, 3600);
        else if (step_s > 0)
            at += (int64_t)below(&r, (uint32_t)(2 * step_s));
        if (gap && i + 2 == n && at > g->now - 30 * 3600)
            at = g->now - 30 * 3600 - (int64_t)below(&r, 3600);
        if (at < created)
            at = created;
        if (at > g->now)
            at = g->now;

        puts_(o, i ? ",{\"from\":" : "{\"from\":");
        json_str(o, from);
        puts_(o, ",\"at\":");
        put_time(o, at);
        puts_(o, ",\"text\":\"");
        size_t text_start = o->len;
        if (!strcmp(from, "customer")) {
            customer_msgs++;
            if (repeat && repeat_copy && customer_msgs <= 4 && trig_here < 0) {
                put(o, repeat_copy, repeat_len);
                if (chance(&r, 0.5))
                    puts_(o, " Again.");
            } else if (trig_here < 0 || chance(&r, 0.5)) {
                customer_text(g, &r, narr, &pos, o);
                if (trig_here >= 0)
                    put(o, " ", 1);
            }
        } else if (trig_here < 0) {
            const char *s = !strcmp(from, "agent") ? PICK(&r, agent_lines)
                          : !strcmp(from, "bot")   ? PICK(&r, bot_lines)
                                                   : PICK(&r, system_lines);
            json_body(o, s, strlen(s));
        }
        if (trig_here >= 0)
            json_body(o, trig[trig_here]->text, strlen(trig[trig_here]->text));
        if (repeat && !repeat_copy && !strcmp(from, "customer") && o->len > text_start) {
            repeat_mark = text_start;
            repeat_len = o->len - text_start;
            repeat_copy = malloc(repeat_len);
            memcpy(repeat_copy, o->p + repeat_mark, repeat_len);
        }
        puts_(o, "\"}");
    }
    puts_(o, "]");
    free(repeat_copy);

    /* Troubleshooting steps. */
    if (chance(&r, 0.3)) {
        unsigned k = 1 + below(&r, 3);
        puts_(o, ",\"troubleshooting\":[");
        for (unsigned i = 0; i < k; i++) {
            puts_(o, i ? ",{\"step\":" : "{\"step\":");
            json_str(o, PICK(&r, steps));
            const char *res = PICK(&r, results);
            if (*res) {
                puts_(o, ",\"result\":");
                json_str(o, res);
            }
            puts_(o, "}");
        }
        puts_(o, "]");
    }

    /* Fields: the DESIGN.md names, then the packs' own. */
    puts_(o, ",\"fields\":{");
    bool first = true;
#define FIELD(name) (puts_(o, first ? "\"" name "\":" : ",\"" name "\":"), first = false)
    if (chance(&r, 0.7)) {
        FIELD("issue_type");
        json_str(o, PICK(&r, issue_types));
    }
    if (chance(&r, 0.08))
        FIELD("refund_amount"), printf_(o, "%u.%02u", 5 + below(&r, 400), below(&r, 100));
    if (chance(&r, 0.06))
        FIELD("disputed_amount"), printf_(o, "%u", 20 + below(&r, 1200));
    if (chance(&r, 0.05))
        FIELD("port_in_rejections"), printf_(o, "%u", below(&r, 7));
    if (chance(&r, 0.08))
        FIELD("failed_attempts"), printf_(o, "%u", below(&r, 6));
    if (chance(&r, 0.06))
        FIELD("affected_customers"), printf_(o, "%u", 1 + below(&r, 40));
    if (chance(&r, 0.25))
        FIELD("troubleshooting_complete"), puts_(o, chance(&r, 0.6) ? "true" : "false");
    if (chance(&r, 0.08))
        FIELD("known_issue_workaround"), puts_(o, chance(&r, 0.5) ? "true" : "false");
    if (chance(&r, 0.08))
        FIELD("kb_answer_available"), puts_(o, chance(&r, 0.5) ? "true" : "false");
    if (chance(&r, 0.15))
        FIELD("identity_verified"), puts_(o, chance(&r, 0.7) ? "true" : "false");
    if (chance(&r, 0.03))
        FIELD("external_ticket"), printf_(o, "\"ENG-%u\"", 1000 + below(&r, 9000));
    /* meow-mobile's own fields */
    if (chance(&r, 0.01))
        FIELD("security_incident"), puts_(o, "true");
    if (chance(&r, 0.01))
        FIELD("fraud_suspected"), puts_(o, "true");
    if (chance(&r, 0.02)) {
        static const char *const st[] = {"active", "suspended", "past_due", "cancelled"};
        FIELD("account_status");
        json_str(o, PICK(&r, st));
    }
    if (chance(&r, 0.005))
        FIELD("regulatory_deadline"), put_time(o, g->now + 86400 * (1 + below(&r, 10)));
    if (chance(&r, 0.01)) {
        static const char *const ci[] = {"network_provisioning_failure",
                                         "sim_activation_rejected", "number_not_released"};
        FIELD("carrier_issue");
        json_str(o, PICK(&r, ci));
    }
    if (chance(&r, 0.02)) {
        static const char *const ps[] = {"pending", "stuck", "failed", "active"};
        FIELD("provisioning_status");
        json_str(o, PICK(&r, ps));
    }
    if (chance(&r, 0.01))
        FIELD("sim_swap_failures"), printf_(o, "%u", below(&r, 4));
    if (chance(&r, 0.01))
        FIELD("system_error_identified"), puts_(o, "true");
    if (chance(&r, 0.01))
        FIELD("data_inconsistency"), puts_(o, "true");
    if (chance(&r, 0.005))
        FIELD("aup_violation"), puts_(o, "true");
    if (chance(&r, 0.005))
        FIELD("legal_request"), puts_(o, "true");
    if (chance(&r, 0.01))
        FIELD("account_exception_needed"), puts_(o, "true");
    if (chance(&r, 0.01)) {
        FIELD("related_tickets");
        printf_(o, "[\"T-%u\",\"T-%u\"]", below(&r, 99999), below(&r, 99999));
        FIELD("issue_duration_days");
        printf_(o, "%u", 3 + below(&r, 30));
    }
    if (chance(&r, 0.03))
        FIELD("resolvable_with_tools"), puts_(o, chance(&r, 0.5) ? "true" : "false");
    if (chance(&r, 0.03))
        FIELD("needs_customer_info"), puts_(o, chance(&r, 0.5) ? "true" : "false");
    if (chance(&r, 0.02))
        FIELD("workaround_failed"), puts_(o, "true");
    if (chance(&r, 0.05)) {
        FIELD("summary");
        json_str(o, "Customer reports the issue persists after troubleshooting.");
    }
    /* ai-handoff's own fields */
    if (chance(&r, 0.04))
        FIELD("approval_required"), puts_(o, chance(&r, 0.6) ? "true" : "false");
    if (chance(&r, 0.02))
        FIELD("simple_request"), puts_(o, "true");
    if (chance(&r, 0.02))
        FIELD("within_normal_processing"), puts_(o, "true");
    if (chance(&r, 0.02))
        FIELD("prior_escalations"), printf_(o, "%u", below(&r, 4));
    if (chance(&r, 0.05)) {
        FIELD("issue_summary");
        json_str(o, "Customer cannot complete the task described in the chat.");
    }
    if (chance(&r, 0.03)) {
        FIELD("business_impact");
        json_str(o, "Team blocked");
    }
#undef FIELD
    puts_(o, "}}\n");
}

/* ---- main ------------------------------------------------------------------ */

static int64_t parse_now(const char *s)
{
    struct tm tm = {0};
    const char *e = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (!e || *e) {
        fprintf(stderr, "gen_tickets: --now: expected YYYY-MM-DDTHH:MM:SSZ, got '%s'\n", s);
        exit(2);
    }
    return (int64_t)timegm(&tm);
}

static void usage(void)
{
    fputs("usage: gen_tickets [--seed N] [--count N] [--cfpb FILE.csv] "
          "[--now YYYY-MM-DDTHH:MM:SSZ] [--out FILE]\n",
          stderr);
    exit(2);
}

int main(int argc, char **argv)
{
    uint64_t seed = 1, count = 20000;
    const char *cfpb = "../shared/data/cfpb-complaints-sample/complaints_sample.csv";
    const char *now_s = "2026-11-23T12:00:00Z";
    const char *out_path = NULL;
    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc)
            usage();
        if (!strcmp(argv[i], "--seed"))
            seed = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--count"))
            count = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--cfpb"))
            cfpb = argv[++i];
        else if (!strcmp(argv[i], "--now"))
            now_s = argv[++i];
        else if (!strcmp(argv[i], "--out"))
            out_path = argv[++i];
        else
            usage();
    }

    corpus c = {0};
    gen g = {NULL, parse_now(now_s)};
    if (load_cfpb(&c, cfpb))
        g.c = &c;
    else
        fprintf(stderr, "gen_tickets: %s: not readable, using generated text\n", cfpb);

    FILE *f = out_path ? fopen(out_path, "wb") : stdout;
    if (!f) {
        fprintf(stderr, "gen_tickets: %s: %s\n", out_path, strerror(errno));
        return 1;
    }
    out o = {0};
    uint64_t bytes = 0;
    for (uint64_t i = 0; i < count; i++) {
        one_ticket(&g, seed, i, &o);
        if (o.len >= (1u << 20) || i + 1 == count) {
            if (fwrite(o.p, 1, o.len, f) != o.len) {
                fprintf(stderr, "gen_tickets: write error: %s\n", strerror(errno));
                return 1;
            }
            bytes += o.len;
            o.len = 0;
        }
    }
    if (f != stdout && fclose(f) != 0) {
        fprintf(stderr, "gen_tickets: %s: %s\n", out_path, strerror(errno));
        return 1;
    }
    if (g.c)
        fprintf(stderr,
                "corpus: %" PRIu64 " tickets, %" PRIu64 " bytes, seed %" PRIu64
                ", text: CFPB complaints (%zu narratives, %zu sentences)\n",
                count, bytes, seed, c.n_narr, c.n_sent);
    else
        fprintf(stderr,
                "corpus: %" PRIu64 " tickets, %" PRIu64 " bytes, seed %" PRIu64
                ", text: generated (CFPB sample not found)\n",
                count, bytes, seed);
    free(o.p);
    return 0;
}
