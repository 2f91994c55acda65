/*
 * test_text.c - unit tests of the text matcher (src/core/text.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>

#include "escalator.h"
#include "text.h"

/* ---- helpers ------------------------------------------------------------- */

#define MAX_HITS 64

typedef struct hits {
    const char *text;
    size_t n;
    esc__hit h[MAX_HITS];
    size_t stop_after; /* 0: never stop */
} hits;

static int collect(void *ud, const esc__hit *h)
{
    hits *hs = ud;
    if (hs->n < MAX_HITS)
        hs->h[hs->n] = *h;
    hs->n++;
    return hs->stop_after && hs->n >= hs->stop_after;
}

typedef struct phrase_spec {
    const char *text;
    uint32_t id;
    unsigned flags;
} phrase_spec;

/* Builds a matcher from phrases (text NULL ends the list) and regexes. */
static esc__matcher *build(const phrase_spec *phrases, const char *const *regexes,
                           uint32_t first_regex_id)
{
    esc__matcher_builder *b = esc__mb_new();
    assert_non_null(b);
    char err[256];
    for (size_t i = 0; phrases && phrases[i].text; i++)
        assert_int_equal(esc__mb_add_phrase(b, phrases[i].text, phrases[i].id,
                                            phrases[i].flags, err, sizeof(err)),
                         0);
    for (size_t i = 0; regexes && regexes[i]; i++) {
        int off;
        assert_int_equal(esc__mb_add_regex(b, regexes[i],
                                           first_regex_id + (uint32_t)i, err,
                                           sizeof(err), &off),
                         0);
    }
    esc__matcher *m = NULL;
    assert_int_equal(esc__mb_build(b, &m, err, sizeof(err)), 0);
    assert_non_null(m);
    esc__mb_free(&b);
    assert_null(b);
    return m;
}

static esc__matcher *build_lexicon(esc__lexicon lex, uint32_t id)
{
    esc__matcher_builder *b = esc__mb_new();
    char err[256];
    for (const char *const *w = esc__lexicon_words(lex); *w; w++)
        assert_int_equal(esc__mb_add_phrase(b, *w, id, 0, err, sizeof(err)), 0);
    esc__matcher *m = NULL;
    assert_int_equal(esc__mb_build(b, &m, err, sizeof(err)), 0);
    esc__mb_free(&b);
    return m;
}

static void scan(const esc__matcher *m, esc__scratch *s, const char *text,
                 hits *out)
{
    memset(out, 0, sizeof(*out));
    out->text = text;
    assert_int_equal(esc__scan(m, s, text, strlen(text), collect, out), 0);
}

/* Number of hits with this id. */
static size_t count_id(const hits *hs, uint32_t id)
{
    size_t n = 0;
    for (size_t i = 0; i < hs->n && i < MAX_HITS; i++)
        if (hs->h[i].id == id)
            n++;
    return n;
}

/* Asserts that one hit of id quotes exactly `quote` from the text. */
static const esc__hit *expect_quote(const hits *hs, uint32_t id,
                                    const char *quote)
{
    size_t ql = strlen(quote);
    for (size_t i = 0; i < hs->n && i < MAX_HITS; i++) {
        const esc__hit *h = &hs->h[i];
        if (h->id == id && h->end - h->start == ql &&
            memcmp(hs->text + h->start, quote, ql) == 0)
            return h;
    }
    fprintf(stderr, "no hit %u quoting \"%s\" in \"%s\"; hits:\n", id, quote,
            hs->text);
    for (size_t i = 0; i < hs->n && i < MAX_HITS; i++)
        fprintf(stderr, "  %u [%zu,%zu) \"%.*s\"\n", hs->h[i].id,
                hs->h[i].start, hs->h[i].end,
                (int)(hs->h[i].end - hs->h[i].start),
                hs->text + hs->h[i].start);
    fail();
    return NULL;
}

/* Scans text with a one-phrase matcher and returns the number of hits. */
static size_t hits_of(const char *phrase, unsigned flags, const char *text)
{
    phrase_spec p[] = {{phrase, 7, flags}, {NULL, 0, 0}};
    esc__matcher *m = build(p, NULL, 0);
    esc__scratch *s = esc__scratch_new(m);
    hits hs;
    scan(m, s, text, &hs);
    for (size_t i = 0; i < hs.n; i++)
        assert_int_equal(hs.h[i].id, 7);
    esc__scratch_free(&s);
    assert_null(s);
    esc__matcher_free(&m);
    assert_null(m);
    return hs.n;
}

/* ---- phrases ------------------------------------------------------------- */

static void test_inflections(void **state)
{
    (void)state;
    phrase_spec p[] = {{"refund", 1, 0}, {"sue", 2, 0}, {"stop", 3, 0},
                       {NULL, 0, 0}};
    esc__matcher *m = build(p, NULL, 0);
    esc__scratch *s = esc__scratch_new(m);
    hits hs;

    scan(m, s, "I was refunded twice but the refunds never showed", &hs);
    assert_int_equal(count_id(&hs, 1), 2);
    expect_quote(&hs, 1, "refunded");
    expect_quote(&hs, 1, "refunds");

    scan(m, s, "Refunding takes ages", &hs);
    expect_quote(&hs, 1, "Refunding");

    scan(m, s, "I'm suing you. They sued us. She sues.", &hs);
    assert_int_equal(count_id(&hs, 2), 3);
    expect_quote(&hs, 2, "suing");
    expect_quote(&hs, 2, "sued");
    expect_quote(&hs, 2, "sues");

    scan(m, s, "it stopped, then stopping", &hs);
    assert_int_equal(count_id(&hs, 3), 2);

    esc__scratch_free(&s);
    esc__matcher_free(&m);
}

static void test_word_boundaries(void **state)
{
    (void)state;
    assert_int_equal(hits_of("sue", 0, "this issue is one to pursue"), 0);
    assert_int_equal(hits_of("sue", 0, "suede shoes, ensue, sued"), 1);
    assert_int_equal(hits_of("sue", 0, "I will SUE."), 1);
    assert_int_equal(hits_of("sue", 0, "sue"), 1);
    assert_int_equal(hits_of("manager", 0, "the managerial team"), 0);
    assert_int_equal(hits_of("speak to a manager", 0, "speak to a managerial"),
                     0);
}

static void test_multi_word(void **state)
{
    (void)state;
    phrase_spec p[] = {{"speak to a manager", 1, 0}, {NULL, 0, 0}};
    esc__matcher *m = build(p, NULL, 0);
    esc__scratch *s = esc__scratch_new(m);
    hits hs;

    scan(m, s, "I want to SPEAK to   a Manager!", &hs);
    assert_int_equal(hs.n, 1);
    const esc__hit *h = expect_quote(&hs, 1, "SPEAK to   a Manager");
    assert_int_equal(h->start, 10);
    assert_int_equal(h->end, 30);
    assert_false(h->negated);
    assert_false(h->regex);

    scan(m, s, "let me speak\nto a\tmanager, now", &hs);
    expect_quote(&hs, 1, "speak\nto a\tmanager");

    /* Apostrophes inside words and inflections in the middle. */
    scan(m, s, "Speaking to a manager's assistant", &hs);
    expect_quote(&hs, 1, "Speaking to a manager's");

    /* No match across a sentence break, nor with a word in between. */
    scan(m, s, "I'd like to speak to. A manager said no", &hs);
    assert_int_equal(hs.n, 0);
    scan(m, s, "speak to a real manager", &hs);
    assert_int_equal(hs.n, 0);

    esc__scratch_free(&s);
    esc__matcher_free(&m);
}

static void test_case_and_accents(void **state)
{
    (void)state;
    phrase_spec p[] = {{"unacceptable", 1, 0}, {"cafe", 2, 0},
                       {"Ünicode", 3, 0}, {NULL, 0, 0}};
    esc__matcher *m = build(p, NULL, 0);
    esc__scratch *s = esc__scratch_new(m);
    hits hs;

    scan(m, s, "Ünacceptable! UNACCEPTABLE. unacceptable", &hs);
    assert_int_equal(count_id(&hs, 1), 3);
    expect_quote(&hs, 1, "Ünacceptable");
    expect_quote(&hs, 1, "UNACCEPTABLE");

    /* Precomposed and decomposed accents; fullwidth letters. */
    scan(m, s, "Caf\xc3\xa9 or Cafe\xcc\x81 or \xef\xbc\xa3\xef\xbc\xa1\xef\xbc"
               "\xa6\xef\xbc\xa5",
         &hs);
    assert_int_equal(count_id(&hs, 2), 3);
    expect_quote(&hs, 2, "Caf\xc3\xa9");
    expect_quote(&hs, 2, "Cafe\xcc\x81");
    expect_quote(&hs, 2, "\xef\xbc\xa3\xef\xbc\xa1\xef\xbc\xa6\xef\xbc\xa5");

    /* An accented phrase matches the plain spelling. */
    scan(m, s, "unicode", &hs);
    assert_int_equal(count_id(&hs, 3), 1);

    esc__scratch_free(&s);
    esc__matcher_free(&m);
}

static void test_scripts_and_invisibles(void **state)
{
    (void)state;
    phrase_spec p[] = {{"\xe9\x80\x80\xe6\xac\xbe", 1, 0}, /* 退款 */
                       {"refund", 2, 0},
                       {NULL, 0, 0}};
    esc__matcher *m = build(p, NULL, 0);
    esc__scratch *s = esc__scratch_new(m);
    hits hs;

    /* 我要退款！现在 */
    scan(m, s, "\xe6\x88\x91\xe8\xa6\x81\xe9\x80\x80\xe6\xac\xbe\xef\xbc\x81"
               "\xe7\x8e\xb0\xe5\x9c\xa8",
         &hs);
    expect_quote(&hs, 1, "\xe9\x80\x80\xe6\xac\xbe");
    assert_int_equal(hs.n, 1);

    /* A zero-width space or a soft hyphen does not split a word. */
    scan(m, s, "re\xe2\x80\x8b" "fund and re\xc2\xad" "fund", &hs);
    assert_int_equal(count_id(&hs, 2), 2);
    expect_quote(&hs, 2, "re\xe2\x80\x8b" "fund");
    expect_quote(&hs, 2, "re\xc2\xad" "fund");

    esc__scratch_free(&s);
    esc__matcher_free(&m);
}

static void test_typos(void **state)
{
    (void)state;
    phrase_spec p[] = {{"refund", 1, 0},   {"lawyer", 2, 0},
                       {"so angry", 3, 0}, {"manager", 4, 0},
                       {"please", 5, 0},   {"cancel", 6, 0},
                       {NULL, 0, 0}};
    esc__matcher *m = build(p, NULL, 0);
    assert_true(esc__matcher_literal_count(m) > 6);
    esc__scratch *s = esc__scratch_new(m);
    hits hs;

    scan(m, s, "where is my refnd", &hs);
    expect_quote(&hs, 1, "refnd");
    scan(m, s, "I want a reffund", &hs);
    expect_quote(&hs, 1, "reffund");
    scan(m, s, "my refnds", &hs);
    expect_quote(&hs, 1, "refnds");
    scan(m, s, "calling my laywer", &hs);
    expect_quote(&hs, 2, "laywer");
    scan(m, s, "my lawer says", &hs);
    expect_quote(&hs, 2, "lawer");
    scan(m, s, "I am sooooo angry", &hs);
    expect_quote(&hs, 3, "sooooo angry");
    scan(m, s, "SOOO ANGRYYYY!!!", &hs);
    expect_quote(&hs, 3, "SOOO ANGRYYYY");

    /* Built-in chat spellings. */
    scan(m, s, "pls get me a mngr, cancle it", &hs);
    expect_quote(&hs, 5, "pls");
    expect_quote(&hs, 4, "mngr");
    expect_quote(&hs, 6, "cancle");

    /* Variants never become other common words. */
    scan(m, s, "the manger and the layer", &hs);
    assert_int_equal(hs.n, 0);
    /* Nor change the first or last letter. */
    scan(m, s, "awyer lawye", &hs);
    assert_int_equal(count_id(&hs, 2), 0);

    esc__scratch_free(&s);
    esc__matcher_free(&m);
}

static void test_policy_typos(void **state)
{
    (void)state;
    esc__matcher_builder *b = esc__mb_new();
    char err[128];
    assert_int_equal(esc__mb_add_phrase(b, "chargeback", 1, 0, err,
                                        sizeof(err)),
                     0);
    assert_int_equal(esc__mb_add_phrase(b, "wire transfer", 2, 0, err,
                                        sizeof(err)),
                     0);
    assert_int_equal(esc__mb_add_typo(b, "chbk", "chargeback"), 0);
    assert_int_equal(esc__mb_add_typo(b, "Wyre", "wire"), 0);
    /* The policy's entry wins over the built-in one. */
    assert_int_equal(esc__mb_add_typo(b, "pls", "wire"), 0);
    /* Both sides must be single words. */
    assert_int_equal(esc__mb_add_typo(b, "two words", "x"), -1);
    assert_int_equal(esc__mb_add_typo(b, "x", ""), -1);
    assert_int_equal(esc__mb_add_typo(b, "...", "wire"), -1);
    esc__matcher *m = NULL;
    assert_int_equal(esc__mb_build(b, &m, err, sizeof(err)), 0);
    esc__mb_free(&b);
    esc__scratch *s = esc__scratch_new(m);
    hits hs;

    scan(m, s, "I will file a CHBK today", &hs);
    expect_quote(&hs, 1, "CHBK");
    scan(m, s, "sent by wyre transfer", &hs);
    expect_quote(&hs, 2, "wyre transfer");
    scan(m, s, "pls transfer", &hs);
    expect_quote(&hs, 2, "pls transfer");

    esc__scratch_free(&s);
    esc__matcher_free(&m);
}

static void test_negation(void **state)
{
    (void)state;
    phrase_spec p[] = {{"sue", 1, ESC__PHRASE_NEGATABLE},
                       {"cancel", 2, ESC__PHRASE_NEGATABLE},
                       {"lawyer", 3, 0},
                       {NULL, 0, 0}};
    esc__matcher *m = build(p, NULL, 0);
    esc__scratch *s = esc__scratch_new(m);
    hits hs;

    scan(m, s, "I'm not going to sue you", &hs);
    assert_int_equal(hs.n, 1);
    assert_true(hs.h[0].negated);

    scan(m, s, "I will sue you, not kidding", &hs);
    assert_int_equal(hs.n, 1);
    assert_false(hs.h[0].negated);

    scan(m, s, "I don't want to cancel", &hs);
    assert_int_equal(hs.n, 1);
    assert_true(hs.h[0].negated);

    scan(m, s, "I don\xe2\x80\x99t want to cancel", &hs);
    assert_true(hs.h[0].negated);

    scan(m, s, "Not happy. I will sue", &hs);
    assert_int_equal(hs.n, 1);
    assert_false(hs.h[0].negated);

    /* Clause breaks within the window: a comma, "but". */
    scan(m, s, "Not happy, I sue", &hs);
    assert_false(hs.h[0].negated);
    scan(m, s, "no but I cancel", &hs);
    assert_false(hs.h[0].negated);

    /* Only three words back. */
    scan(m, s, "never in a million years cancel", &hs);
    assert_false(hs.h[0].negated);
    scan(m, s, "never ever will cancel", &hs);
    assert_true(hs.h[0].negated);

    /* "can't" is inability, not negation. */
    scan(m, s, "I can't cancel", &hs);
    assert_false(hs.h[0].negated);

    /* Phrases without the flag are never negated. */
    scan(m, s, "I have no lawyer", &hs);
    assert_int_equal(hs.n, 1);
    assert_false(hs.h[0].negated);

    esc__scratch_free(&s);
    esc__matcher_free(&m);
}

static void test_custom_negators(void **state)
{
    (void)state;
    esc__matcher_builder *b = esc__mb_new();
    char err[128];
    assert_int_equal(esc__mb_add_phrase(b, "cancel", 1, ESC__PHRASE_NEGATABLE,
                                        err, sizeof(err)),
                     0);
    assert_int_equal(esc__mb_add_negator(b, "hardly"), 0);
    assert_int_equal(esc__mb_add_negator(b, "two words"), -1);
    esc__matcher *m = NULL;
    assert_int_equal(esc__mb_build(b, &m, err, sizeof(err)), 0);
    esc__mb_free(&b);
    esc__scratch *s = esc__scratch_new(m);
    hits hs;

    scan(m, s, "I would hardly cancel", &hs);
    assert_true(hs.h[0].negated);
    /* The built-in list is replaced. */
    scan(m, s, "I will not cancel", &hs);
    assert_false(hs.h[0].negated);

    esc__scratch_free(&s);
    esc__matcher_free(&m);
}

static void test_exact_phrases(void **state)
{
    (void)state;
    phrase_spec p[] = {{"ass", 1, ESC__PHRASE_EXACT},
                       {"refund policy", 2, ESC__PHRASE_EXACT},
                       {"refund", 3, 0},
                       {NULL, 0, 0}};
    esc__matcher *m = build(p, NULL, 0);
    esc__scratch *s = esc__scratch_new(m);
    hits hs;

    scan(m, s, "as soon as possible, asses, ASS!", &hs);
    assert_int_equal(count_id(&hs, 1), 1);
    expect_quote(&hs, 1, "ASS");

    scan(m, s, "your Refund Policy and refund policies", &hs);
    assert_int_equal(count_id(&hs, 2), 1);
    expect_quote(&hs, 2, "Refund Policy");
    assert_int_equal(count_id(&hs, 3), 2);

    /* No typo variants for exact phrases. */
    scan(m, s, "refnd polcy", &hs);
    assert_int_equal(count_id(&hs, 2), 0);

    esc__scratch_free(&s);
    esc__matcher_free(&m);
}

static void test_profanity_lexicon(void **state)
{
    (void)state;
    esc__matcher *m = build_lexicon(ESC__LEX_PROFANITY, 9);
    esc__scratch *s = esc__scratch_new(m);
    hits hs;

    scan(m, s, "f*ck this", &hs);
    expect_quote(&hs, 9, "f*ck");
    scan(m, s, "what a load of SH*T", &hs);
    expect_quote(&hs, 9, "SH*T");
    scan(m, s, "fck you, wtf, stfu", &hs);
    assert_int_equal(hs.n, 3);
    scan(m, s, "F**KING hell", &hs);
    expect_quote(&hs, 9, "F**KING");
    scan(m, s, "what the HELL is this", &hs);
    expect_quote(&hs, 9, "what the HELL");

    /* Clean text stays clean. */
    scan(m, s, "As soon as possible please assess the class of glass. "
               "He'll call back. Hello! I passed the shipment to Scunthorpe.",
         &hs);
    assert_int_equal(hs.n, 0);
    /* A star outside a word does not mask anything. */
    scan(m, s, "*** note *** f *", &hs);
    assert_int_equal(hs.n, 0);

    esc__scratch_free(&s);
    esc__matcher_free(&m);
}

static void test_anger_lexicon(void **state)
{
    (void)state;
    esc__matcher *m = build_lexicon(ESC__LEX_ANGER, 4);
    esc__scratch *s = esc__scratch_new(m);
    hits hs;

    scan(m, s, "This is RIDICULOUS and I am fed up. What a waste of time, "
               "total rip-off!",
         &hs);
    expect_quote(&hs, 4, "RIDICULOUS");
    expect_quote(&hs, 4, "fed up");
    expect_quote(&hs, 4, "waste of time");
    expect_quote(&hs, 4, "rip-off");
    scan(m, s, "Thanks, that fixed it. Have a nice day.", &hs);
    assert_int_equal(hs.n, 0);

    assert_string_equal(esc__lexicon_name(ESC__LEX_ANGER), "anger");
    assert_string_equal(esc__lexicon_name(ESC__LEX_PROFANITY), "profanity");
    assert_null(esc__lexicon_name(ESC__LEX_COUNT));
    assert_null(esc__lexicon_words(ESC__LEX_COUNT));
    size_t n = 0;
    for (const char *const *w = esc__lexicon_words(ESC__LEX_ANGER); *w; w++)
        n++;
    assert_true(n >= 50);

    esc__scratch_free(&s);
    esc__matcher_free(&m);
}

/* ---- regexes ------------------------------------------------------------- */

static void test_regex_offsets(void **state)
{
    (void)state;
    const char *const re[] = {"order\\s*#?\\s*\\d{5,}", "reference", NULL};
    phrase_spec p[] = {{"order", 1, 0}, {NULL, 0, 0}};
    esc__matcher *m = build(p, re, 100);
    assert_int_equal(esc__matcher_regex_count(m), 2);
    esc__scratch *s = esc__scratch_new(m);
    hits hs;

    /* Multi-byte text before the hit. */
    const char *t = "Caf\xc3\xa9 \xe2\x98\x95 \xe2\x80\x94 ORDER #123456 is late";
    scan(m, s, t, &hs);
    const esc__hit *h = expect_quote(&hs, 100, "ORDER #123456");
    assert_true(h->regex);
    assert_int_equal(h->start, (size_t)(strstr(t, "ORDER") - t));
    expect_quote(&hs, 1, "ORDER");

    /* Accents inside the hit, precomposed and decomposed. */
    scan(m, s, "\xc3\xa9t\xc3\xa9: R\xc3\x89" "F\xc3\x89RENCE 42", &hs);
    expect_quote(&hs, 101, "R\xc3\x89" "F\xc3\x89RENCE");
    scan(m, s, "see Re\xcc\x81" "fe\xcc\x81rence", &hs);
    expect_quote(&hs, 101, "Re\xcc\x81" "fe\xcc\x81rence");

    /* A growing match is reported once, at its longest. */
    scan(m, s, "order 12345678", &hs);
    assert_int_equal(count_id(&hs, 100), 1);
    expect_quote(&hs, 100, "order 12345678");

    esc__scratch_free(&s);
    esc__matcher_free(&m);
}

static void test_regex_errors(void **state)
{
    (void)state;
    esc__matcher_builder *b = esc__mb_new();
    char err[256] = "";
    int off = 99;
    assert_int_equal(esc__mb_add_regex(b, "ab(cd", 1, err, sizeof(err), &off),
                     -1);
    assert_true(strlen(err) > 0);
    assert_int_equal(off, 2);
    off = 99;
    assert_int_equal(esc__mb_add_regex(b, "a*", 1, err, sizeof(err), &off), -1);
    assert_int_equal(off, -1);
    assert_int_equal(esc__mb_add_regex(b, "[z-a]", 1, NULL, 0, NULL), -1);
    assert_int_equal(esc__mb_add_phrase(b, " ... !!", 1, 0, err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "no words"));
    assert_int_equal(esc__mb_add_phrase(b, "", 1, 0, err, sizeof(err)), -1);
    esc__matcher *m = NULL;
    assert_int_equal(esc__mb_build(b, &m, err, sizeof(err)), 0);
    assert_int_equal(esc__matcher_literal_count(m), 0);
    assert_int_equal(esc__matcher_regex_count(m), 0);
    esc__mb_free(&b);
    esc__matcher_free(&m);
}

/* ---- robustness ---------------------------------------------------------- */

static void test_empty_matchers(void **state)
{
    (void)state;
    /* Nothing at all. */
    esc__matcher *m = build(NULL, NULL, 0);
    esc__scratch *s = esc__scratch_new(m);
    assert_non_null(s);
    hits hs;
    scan(m, s, "I will sue you", &hs);
    assert_int_equal(hs.n, 0);
    esc__scratch_free(&s);
    esc__matcher_free(&m);

    /* Regexes only. */
    const char *const re[] = {"sue", NULL};
    m = build(NULL, re, 5);
    s = esc__scratch_new(m);
    scan(m, s, "I will SUE you", &hs);
    assert_int_equal(hs.n, 1);
    expect_quote(&hs, 5, "SUE");
    esc__scratch_free(&s);
    esc__matcher_free(&m);

    /* Freeing NULLs is harmless. */
    esc__matcher_free(&m);
    esc__matcher_free(NULL);
    esc__scratch_free(&s);
    esc__scratch_free(NULL);
    esc__mb_free(NULL);
}

static void test_empty_and_invalid_text(void **state)
{
    (void)state;
    phrase_spec p[] = {{"refund", 1, 0}, {NULL, 0, 0}};
    const char *const re[] = {"r\\w+d", NULL};
    esc__matcher *m = build(p, re, 2);
    esc__scratch *s = esc__scratch_new(m);
    hits hs;

    scan(m, s, "", &hs);
    assert_int_equal(hs.n, 0);
    assert_int_equal(esc__scan(m, s, NULL, 0, collect, &hs), 0);
    assert_int_equal(hs.n, 0);

    /* Invalid bytes separate words. */
    const char *bad = "\xff\xfe" "refund\xc3" "refund\xed\xa0\x80 \xf4\x90\x80"
                      "\x80refund\xe2\x82";
    scan(m, s, bad, &hs);
    assert_int_equal(count_id(&hs, 1), 3);
    for (size_t i = 0; i < hs.n; i++) {
        assert_true(hs.h[i].end <= strlen(bad));
        assert_true(hs.h[i].start < hs.h[i].end);
        assert_memory_equal(bad + hs.h[i].start, "refund", 6);
    }

    /* Every byte value, including NUL, in a random mess. */
    char mess[4096];
    unsigned x = 12345;
    for (size_t i = 0; i < sizeof(mess); i++) {
        x = x * 1103515245u + 12345u;
        mess[i] = (char)(x >> 16);
    }
    memcpy(mess + 1000, " refund ", 8);
    memset(&hs, 0, sizeof(hs));
    hs.text = mess;
    assert_int_equal(esc__scan(m, s, mess, sizeof(mess), collect, &hs), 0);
    assert_true(count_id(&hs, 1) >= 1);

    esc__scratch_free(&s);
    esc__matcher_free(&m);
}

typedef struct counter {
    size_t n;
    size_t last_end;
    bool ordered;
    const char *text;
    bool quotes_ok;
} counter;

static int count_hits(void *ud, const esc__hit *h)
{
    counter *c = ud;
    if (h->end < c->last_end)
        c->ordered = false;
    c->last_end = h->end;
    if (memcmp(c->text + h->start, "refund", 6) != 0 || h->end - h->start != 6)
        c->quotes_ok = false;
    c->n++;
    return 0;
}

static void test_large_text(void **state)
{
    (void)state;
    phrase_spec p[] = {{"refund", 1, 0}, {NULL, 0, 0}};
    esc__matcher *m = build(p, NULL, 0);
    esc__scratch *s = esc__scratch_new(m);

    const char *unit = "Hello, I still want my refund for order 12345. Merci "
                       "\xc3\xa0 vous! ";
    size_t ul = strlen(unit), size = (size_t)10 << 20;
    char *big = malloc(size);
    assert_non_null(big);
    size_t n = 0, reps = 0;
    while (n + ul <= size) {
        memcpy(big + n, unit, ul);
        n += ul;
        reps++;
    }
    counter c = {0, 0, true, big, true};
    assert_int_equal(esc__scan(m, s, big, n, count_hits, &c), 0);
    assert_int_equal(c.n, reps);
    assert_true(c.ordered);
    assert_true(c.quotes_ok);

    /* The scratch is reusable for small texts afterwards. */
    hits hs;
    scan(m, s, "refund", &hs);
    assert_int_equal(hs.n, 1);

    free(big);
    esc__scratch_free(&s);
    esc__matcher_free(&m);
}

static void test_order_and_stop(void **state)
{
    (void)state;
    phrase_spec p[] = {{"refund", 1, 0},
                       {"want a refund", 2, 0},
                       {"a refund", 3, 0},
                       {"refund", 4, 0},
                       {NULL, 0, 0}};
    esc__matcher *m = build(p, NULL, 0);
    esc__scratch *s = esc__scratch_new(m);
    hits hs;

    scan(m, s, "I want a refund. A refund!", &hs);
    /* ids 1 and 4 twice each, 2 once, 3 twice. */
    assert_int_equal(hs.n, 7);
    for (size_t i = 1; i < hs.n; i++)
        assert_true(hs.h[i - 1].end <= hs.h[i].end);
    expect_quote(&hs, 2, "want a refund");

    memset(&hs, 0, sizeof(hs));
    hs.text = "refund refund refund";
    hs.stop_after = 2;
    assert_int_equal(esc__scan(m, s, hs.text, strlen(hs.text), collect, &hs),
                     0);
    assert_int_equal(hs.n, 2);

    /* The same phrase added twice under one id is reported once. */
    phrase_spec d[] = {{"refund", 1, 0}, {"refunds", 1, 0}, {NULL, 0, 0}};
    esc__matcher *m2 = build(d, NULL, 0);
    esc__scratch *s2 = esc__scratch_new(m2);
    scan(m2, s2, "refund", &hs);
    assert_int_equal(hs.n, 1);
    esc__scratch_free(&s2);
    esc__matcher_free(&m2);

    esc__scratch_free(&s);
    esc__matcher_free(&m);
}

/* ---- shouting and content ------------------------------------------------ */

static void test_shouting(void **state)
{
    (void)state;
    esc__shouting sh;
    const char *t = "THIS IS UNACCEPTABLE!!!";
    esc__text_shouting(t, strlen(t), &sh);
    assert_true(sh.caps_ratio > 0.99);
    assert_int_equal(sh.exclaim_run, 3);

    t = "OK!!";
    esc__text_shouting(t, strlen(t), &sh);
    assert_true(sh.caps_ratio == 0.0);
    assert_int_equal(sh.exclaim_run, 2);

    t = "Why?!?! Nobody answers. WHY";
    esc__text_shouting(t, strlen(t), &sh);
    assert_int_equal(sh.exclaim_run, 4);
    assert_true(sh.caps_ratio > 0.25 && sh.caps_ratio < 0.35);

    t = "\xc3\x9c" "BERALL \xc3\x84" "RGER \xc3\x96" "FTER"; /* ÜBERALL ÄRGER ÖFTER */
    esc__text_shouting(t, strlen(t), &sh);
    assert_true(sh.caps_ratio > 0.99);
    assert_int_equal(sh.exclaim_run, 0);

    t = "just a calm lowercase message";
    esc__text_shouting(t, strlen(t), &sh);
    assert_true(sh.caps_ratio == 0.0);

    esc__text_shouting("", 0, &sh);
    assert_true(sh.caps_ratio == 0.0);
    assert_int_equal(sh.exclaim_run, 0);
    esc__text_shouting("\xff!!\xfe!", 5, &sh);
    assert_int_equal(sh.exclaim_run, 2);
}

static size_t shared(const uint64_t *a, size_t na, const uint64_t *b,
                     size_t nb)
{
    size_t i = 0, j = 0, n = 0;
    while (i < na && j < nb) {
        if (a[i] == b[j])
            n++, i++, j++;
        else if (a[i] < b[j])
            i++;
        else
            j++;
    }
    return n;
}

static void test_content(void **state)
{
    (void)state;
    esc__matcher *m = build(NULL, NULL, 0);
    esc__scratch *s = esc__scratch_new(m);
    uint64_t a[64], b[64];

    const char *t1 = "My order hasn't arrived and I was charged twice for it.";
    const char *t2 = "I've been charged twice and the order still has not "
                     "arrived!!";
    size_t na = esc__text_content(m, s, t1, strlen(t1), a, 64);
    size_t nb = esc__text_content(m, s, t2, strlen(t2), b, 64);
    /* order, arriv, charg, twice */
    assert_true(na >= 4 && na <= 5);
    assert_true(nb >= 4 && nb <= 5);
    assert_true(shared(a, na, b, nb) >= 4);
    for (size_t i = 1; i < na; i++)
        assert_true(a[i - 1] < a[i]);

    /* Unrelated messages share nothing. */
    const char *t3 = "Please reset the password of my account";
    size_t nc = esc__text_content(m, s, t3, strlen(t3), b, 64);
    assert_int_equal(nc, 3);
    assert_int_equal(shared(a, na, b, nc), 0);

    /* Stop words only; typo-table words map first ("u" -> "you"). */
    const char *t4 = "and the of to it is u are we you";
    assert_int_equal(esc__text_content(m, s, t4, strlen(t4), a, 64), 0);
    assert_int_equal(esc__text_content(m, s, "", 0, a, 64), 0);

    /* Duplicates collapse, and max is respected. */
    const char *t5 = "refund refunds refunded REFUND";
    assert_int_equal(esc__text_content(m, s, t5, strlen(t5), a, 64), 1);
    assert_int_equal(esc__text_content(m, s, t2, strlen(t2), a, 2), 2);

    esc__scratch_free(&s);
    esc__matcher_free(&m);
}

/* ---- sharing ------------------------------------------------------------- */

static void test_two_scratches(void **state)
{
    (void)state;
    phrase_spec p[] = {{"refund", 1, 0}, {"speak to a manager", 2, 0},
                       {NULL, 0, 0}};
    esc__matcher *m = build(p, NULL, 0);
    esc__scratch *s1 = esc__scratch_new(m);
    esc__scratch *s2 = esc__scratch_new(m);
    hits h1, h2;

    scan(m, s1, "refund please", &h1);
    scan(m, s2, "let me speak to a manager", &h2);
    assert_int_equal(h1.n, 1);
    assert_int_equal(h1.h[0].id, 1);
    assert_int_equal(h2.n, 1);
    assert_int_equal(h2.h[0].id, 2);
    scan(m, s1, "let me speak to a manager", &h1);
    assert_int_equal(h1.h[0].id, h2.h[0].id);
    assert_int_equal(h1.h[0].start, h2.h[0].start);
    assert_int_equal(h1.h[0].end, h2.h[0].end);

    /* A scratch moved to another matcher follows it. */
    phrase_spec q[] = {{"lawyer", 3, 0}, {NULL, 0, 0}};
    const char *const re[] = {"\\d{4}", NULL};
    esc__matcher *m2 = build(q, re, 4);
    scan(m2, s2, "my lawyer, since 2019", &h2);
    assert_int_equal(h2.n, 2);
    scan(m, s2, "refund", &h2);
    assert_int_equal(h2.n, 1);

    esc__scratch_free(&s1);
    esc__scratch_free(&s2);
    esc__matcher_free(&m2);
    esc__matcher_free(&m);
}

typedef struct worker {
    const esc__matcher *m;
    size_t hits;
    int rc;
} worker;

static int count_only(void *ud, const esc__hit *h)
{
    (void)h;
    (*(size_t *)ud)++;
    return 0;
}

static void *work(void *arg)
{
    worker *w = arg;
    esc__scratch *s = esc__scratch_new(w->m);
    const char *texts[] = {"I want a refund", "refunds refunded",
                           "nothing here", "speak to a manager now"};
    for (int i = 0; i < 2000 && w->rc == 0; i++) {
        const char *t = texts[i % 4];
        w->rc = esc__scan(w->m, s, t, strlen(t), count_only, &w->hits);
    }
    esc__scratch_free(&s);
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    phrase_spec p[] = {{"refund", 1, 0}, {"speak to a manager", 2, 0},
                       {NULL, 0, 0}};
    esc__matcher *m = build(p, NULL, 0);
    worker w[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (worker){m, 0, 0};
        assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].rc, 0);
        /* 500 rounds of 1 + 2 + 0 + 1 hits */
        assert_int_equal(w[i].hits, 2000);
    }
    esc__matcher_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inflections),
        cmocka_unit_test(test_word_boundaries),
        cmocka_unit_test(test_multi_word),
        cmocka_unit_test(test_case_and_accents),
        cmocka_unit_test(test_scripts_and_invisibles),
        cmocka_unit_test(test_typos),
        cmocka_unit_test(test_policy_typos),
        cmocka_unit_test(test_negation),
        cmocka_unit_test(test_custom_negators),
        cmocka_unit_test(test_exact_phrases),
        cmocka_unit_test(test_profanity_lexicon),
        cmocka_unit_test(test_anger_lexicon),
        cmocka_unit_test(test_regex_offsets),
        cmocka_unit_test(test_regex_errors),
        cmocka_unit_test(test_empty_matchers),
        cmocka_unit_test(test_empty_and_invalid_text),
        cmocka_unit_test(test_large_text),
        cmocka_unit_test(test_order_and_stop),
        cmocka_unit_test(test_shouting),
        cmocka_unit_test(test_content),
        cmocka_unit_test(test_two_scratches),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
