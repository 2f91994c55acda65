/*
 * text.h - text matching for signals: normalisation, word stems, typo
 * tolerance, negation, and one multi-pattern matcher (Vectorscan) holding
 * every phrase of a policy.
 *
 * How a message is matched:
 *   1. The text is normalised with utf8proc (NFKC, case folding, accents
 *      stripped) and split into words. Apostrophes inside words are dropped
 *      ("don't" -> "dont", "I'm" -> "im"); '*' inside a word is kept so that
 *      masked profanity ("f*ck") stays one word. Runs of three or more equal
 *      letters shrink to one ("sooo" -> "so"), then doubled letters to one
 *      ("reffund" -> "refund", "address" -> "adres"), on both sides.
 *   2. Each word is mapped through the typo table (built-in chat spellings
 *      such as "pls" and the policy's own `typos:`), then reduced to its
 *      Snowball English stem ("refunded", "refunds" -> "refund").
 *   3. The stems are joined with single spaces into a stream " s1 s2 ... "
 *      and scanned once by one Vectorscan literal database that holds every
 *      phrase of the policy (each phrase stemmed the same way, as " p1 p2 "),
 *      plus, for each word of six or more letters, its variants with one
 *      interior letter dropped or two neighbouring interior letters swapped:
 *      the typos of fast typing. Spaces at both ends make every hit fall on
 *      word boundaries.
 *   4. A phrase flagged ESC__PHRASE_NEGATABLE is reported negated when one of
 *      the negators ("not", "never", "no", "dont", "wont", ...) stands within
 *      the three words before it with no clause break (. ! ? ; , or "but")
 *      in between: "I'm not going to sue" does not count as a threat.
 *   5. Regular expressions are compiled into a second Vectorscan database
 *      and run over the normalised (folded, unstemmed) text.
 *
 * Hits are reported with byte offsets into the ORIGINAL text, so evidence can
 * quote what the customer wrote.
 *
 * A compiled matcher is immutable and may be shared by threads; each thread
 * scans with its own scratch.
 */
#ifndef ESC_TEXT_H
#define ESC_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct esc__matcher esc__matcher;
typedef struct esc__matcher_builder esc__matcher_builder;
typedef struct esc__scratch esc__scratch;

enum {
    ESC__PHRASE_NEGATABLE = 1u << 0, /* negators before it cancel the hit */
    ESC__PHRASE_EXACT = 1u << 1      /* no stemming, no typo variants */
};

esc__matcher_builder *esc__mb_new(void);
void esc__mb_free(esc__matcher_builder **b);

/*
 * Adds a phrase. `id` is the caller's number for it (reported with each hit).
 * Returns 0, or -1 with a message in err when the phrase has no words.
 */
int esc__mb_add_phrase(esc__matcher_builder *b, const char *phrase,
                       uint32_t id, unsigned flags, char *err, size_t errlen);
/*
 * Adds a regular expression (PCRE syntax as Vectorscan accepts it), matched
 * case-insensitively against the normalised text. Returns 0, or -1 with
 * Vectorscan's message in err (and *err_offset set to the byte offset in
 * `regex` when known, else -1). The expression is compiled once here to
 * validate it.
 */
int esc__mb_add_regex(esc__matcher_builder *b, const char *regex, uint32_t id,
                      char *err, size_t errlen, int *err_offset);
/* Maps a misspelling to the intended word for this policy ("mngr" ->
 * "manager"). Both are single words. */
int esc__mb_add_typo(esc__matcher_builder *b, const char *typo,
                     const char *word);
/* Replaces the built-in negator list with the policy's own when called at
 * least once. */
int esc__mb_add_negator(esc__matcher_builder *b, const char *word);

/* Compiles everything added. The builder can be freed afterwards. */
int esc__mb_build(esc__matcher_builder *b, esc__matcher **out, char *err,
                  size_t errlen);
void esc__matcher_free(esc__matcher **m);

/* Number of literal patterns in the compiled database (phrases and their
 * typo variants) and of regexes: for `check --dump`. */
size_t esc__matcher_literal_count(const esc__matcher *m);
size_t esc__matcher_regex_count(const esc__matcher *m);

esc__scratch *esc__scratch_new(const esc__matcher *m);
void esc__scratch_free(esc__scratch **s);

typedef struct esc__hit {
    uint32_t id;    /* the id given to esc__mb_add_phrase/regex */
    size_t start;   /* byte offset into the original text */
    size_t end;     /* one past the last byte */
    bool negated;   /* a negator precedes it (NEGATABLE phrases only) */
    bool regex;     /* reported by a regular expression */
} esc__hit;

/* Called once per hit, in order of `end`. Return non-zero to stop. */
typedef int (*esc__hit_fn)(void *ud, const esc__hit *hit);

/*
 * Scans one text (UTF-8; invalid bytes are treated as separators). Returns 0,
 * ESC_EMATCH on a Vectorscan failure. Each phrase id is reported at most once
 * per position; the same phrase may be reported at several positions.
 */
int esc__scan(const esc__matcher *m, esc__scratch *s, const char *text,
              size_t len, esc__hit_fn fn, void *ud);

/*
 * Features of a message used by the anger signal and the sentiment fact:
 * the share of letters in upper case among messages with at least 12
 * letters (0 otherwise), and the longest run of '!' and '?'.
 */
typedef struct esc__shouting {
    double caps_ratio;
    unsigned exclaim_run;
} esc__shouting;
void esc__text_shouting(const char *text, size_t len, esc__shouting *out);

/*
 * The content of a message as a sorted, de-duplicated set of 64-bit hashes
 * of its stems, stop words left out (for "the same problem described three
 * times"). Writes at most `max` hashes to out and returns how many. Uses the
 * scratch's buffers; the matcher supplies the typo table.
 */
size_t esc__text_content(const esc__matcher *m, esc__scratch *s,
                         const char *text, size_t len, uint64_t *out,
                         size_t max);

/* Built-in word lists, NULL-terminated, for `lexicon:` signals. Phrases in
 * the lists are matched like policy phrases. */
typedef enum { ESC__LEX_PROFANITY, ESC__LEX_ANGER, ESC__LEX_COUNT } esc__lexicon;
const char *const *esc__lexicon_words(esc__lexicon lex);
const char *esc__lexicon_name(esc__lexicon lex);

#endif /* ESC_TEXT_H */
