/*
 * text.h - text matching for signals: normalisation, word stems, typo
 * tolerance, negation, one multi-pattern matcher holding every phrase of a
 * policy, and Vectorscan for its regular expressions.
 *
 * How a message is matched:
 *   1. The text is normalised with utf8proc, code point by code point: case
 *      folding, compatibility decomposition (NFKC), accents and other marks
 *      stripped, default-ignorable code points (zero-width spaces, soft
 *      hyphens) dropped. Invalid UTF-8 bytes are separators. Words are runs
 *      of letters and digits. Apostrophes inside words are dropped ("don't"
 *      -> "dont", "I'm" -> "im"); '*' inside a word is kept so that masked
 *      profanity ("f*ck") stays one word. Each character of a script written
 *      without spaces (Chinese, Japanese kana, Thai, Lao) is a word of its
 *      own, so that phrases in those scripts match inside longer runs.
 *   2. In each word, runs of three or more equal letters shrink to one
 *      ("sooo" -> "so"). The word is mapped through the typo table (built-in
 *      chat spellings such as "pls" and the policy's own `typos:`; keys are
 *      compared with doubled letters squeezed), then reduced to its Snowball
 *      English stem ("refunded", "refunds" -> "refund"). Finally doubled
 *      letters shrink to one in stems of four letters or more ("reffund" ->
 *      "refund", "address" -> "adres"); shorter ones keep them ("ass" is not
 *      "as"). Words longer than 64 bytes are only squeezed. Phrases go
 *      through the same steps.
 *   3. The stems are joined with single spaces into a stream " s1 s2 ... ",
 *      where a sentence break (. ! ? ;) between two words shows as " . ", and
 *      every phrase of the policy, turned into a stream the same way, is a
 *      literal found where it occurs in the text's stream as whole words, so
 *      no phrase matches across a sentence break. The literals are matched a
 *      word at a time (a trie over word ids walked from every word of the
 *      text, which finds exactly the whole-word occurrences a literal
 *      database would: see text.c). The literals also include
 *      typo variants: for each word of six or more ASCII letters, the word
 *      (and its stem) with one interior letter dropped or two different
 *      neighbouring interior letters swapped, never the first or last
 *      letter; a variant is kept only when its stem has five letters or more
 *      and is not the stem of another word of the policy's phrases, of a stop
 *      word, of a negator, or of a built-in list of common words ("lawyer"
 *      never becomes "layer"), and the stems of regular inflections
 *      when the stemmer cuts them shorter than the word ("sue": "sued" and
 *      "suing" stem to "su"). Spaces at both ends make every hit fall on
 *      word boundaries. A hit covers the words of the phrase and reports the
 *      original bytes from the first of them to the last.
 *   4. A phrase flagged ESC__PHRASE_NEGATABLE is reported negated when one of
 *      the negators ("not", "never", "no", "dont", "wont", ...; not "cant")
 *      is among the three words before it with no clause break (. ! ? ; , or
 *      the word "but") in between: "I'm not going to sue" does not count as a
 *      threat.
 *   5. A phrase flagged ESC__PHRASE_EXACT is matched on the words of step 1
 *      only: no typo table, squeezing, stemming or variants (case and accents
 *      still fold). Such phrases are a second set of literals, matched on a
 *      stream of those words.
 *   6. Regular expressions are compiled into a Vectorscan database
 *      (HS_FLAG_CASELESS | HS_FLAG_UTF8 | HS_FLAG_SOM_LEFTMOST) and run over
 *      the normalised text of step 1: case-folded, accents stripped, spacing
 *      and punctuation kept. Write them without accents. A match that grows
 *      from one start ("\d+" over "12345") is reported once, at its longest.
 *      A second database of the same expressions without start-of-match
 *      tracking first tells whether a text matches any at all (most do
 *      not); it reads an ASCII text as it is, and the texts of one ticket
 *      in one pass (esc__regex_prefilter).
 *
 * Hits are reported with byte offsets into the ORIGINAL text, so evidence can
 * quote what the customer wrote: text[start..end).
 *
 * A compiled matcher is immutable and may be shared by threads; each thread
 * scans with its own scratch, whose buffers grow to the largest text seen:
 * scanning a typical message allocates nothing.
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

/* Never NULL: like the rest of the core, it aborts when memory runs out. */
esc__matcher_builder *esc__mb_new(void);
void esc__mb_free(esc__matcher_builder **b);

/*
 * Adds a phrase. `id` is the caller's number for it (reported with each hit).
 * Returns 0, or -1 with a message in err when the phrase has no words or is
 * longer than 4096 bytes. Punctuation in a phrase only matters as a sentence
 * break.
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
 * "manager"); it wins over a built-in entry for the same misspelling.
 * Returns 0, or -1 unless both are single words of at most 64 bytes. */
int esc__mb_add_typo(esc__matcher_builder *b, const char *typo,
                     const char *word);
/* Replaces the built-in negator list with the policy's own when called at
 * least once. Returns 0, or -1 unless `word` is a single word. */
int esc__mb_add_negator(esc__matcher_builder *b, const char *word);

/* Compiles everything added. The builder can be freed afterwards. Returns 0,
 * or ESC_EMATCH with Vectorscan's message in err (ESC_EINVAL without a
 * builder). A builder with nothing in it gives a matcher that finds
 * nothing. */
int esc__mb_build(esc__matcher_builder *b, esc__matcher **out, char *err,
                  size_t errlen);
void esc__matcher_free(esc__matcher **m);

/* Number of literal patterns in the compiled matcher (phrases and their
 * typo variants) and of regexes: for `check --dump`. */
size_t esc__matcher_literal_count(const esc__matcher *m);
size_t esc__matcher_regex_count(const esc__matcher *m);

/* A scratch for scanning with m; NULL when Vectorscan cannot allocate one.
 * A scratch handed another matcher adapts itself to it, at the cost of a
 * reallocation and a cleared word cache each time the matcher changes. */
esc__scratch *esc__scratch_new(const esc__matcher *m);
void esc__scratch_free(esc__scratch **s);

typedef struct esc__hit {
    uint32_t id;    /* the id given to esc__mb_add_phrase/regex */
    size_t start;   /* byte offset into the original text */
    size_t end;     /* one past the last byte */
    bool negated;   /* a negator precedes it (NEGATABLE phrases only) */
    bool regex;     /* reported by a regular expression */
} esc__hit;

/* Called once per hit, in order of `end` (for equal ends, the shorter hit
 * first). Return non-zero to stop. */
typedef int (*esc__hit_fn)(void *ud, const esc__hit *hit);

/*
 * Scans one text (UTF-8; invalid bytes are treated as separators). Returns 0,
 * ESC_EMATCH on a Vectorscan failure, ESC_ELIMIT for a text over 256 MiB,
 * ESC_EINVAL for a missing matcher, scratch or text. Each id is reported at
 * most once per position (start and end); the same phrase may be reported at
 * several positions.
 */
int esc__scan(const esc__matcher *m, esc__scratch *s, const char *text,
              size_t len, esc__hit_fn fn, void *ud);

/*
 * Which of n texts may match one of the matcher's regular expressions, in
 * one Vectorscan pass over all of them joined by line breaks (the texts of
 * one ticket: a pass has a fixed cost that short chat messages would
 * otherwise pay each). may_match[i] is false only when text i matches no
 * expression, which esc__scan_ex() may then be told. Every text is marked
 * when the matcher has an anchored expression, for a text that is not
 * ASCII, and on a Vectorscan failure (ESC_EMATCH). found (NULL, or n
 * flags) says which texts the pass itself marked: a match of the first
 * pass ends in them. Returns 0 or a negative code; the scratch is left as
 * esc__text_content() leaves it.
 */
int esc__regex_prefilter(const esc__matcher *m, esc__scratch *s,
                         const char *const *texts, const size_t *lens,
                         size_t n, bool *may_match, bool *found);

enum {
    /* The text matches no regular expression (esc__regex_prefilter). */
    ESC__SCAN_NO_REGEX_MATCH = 1u << 0,
    /* A match of the first pass ends in the text (esc__regex_prefilter's
     * found): an ASCII text goes straight to the pass with start of
     * match, which alone decides the hits. */
    ESC__SCAN_REGEX_FOUND = 1u << 1
};

/* esc__scan() with flags (ESC__SCAN_*). */
int esc__scan_ex(const esc__matcher *m, esc__scratch *s, const char *text,
                 size_t len, unsigned flags, esc__hit_fn fn, void *ud);

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
 * times"). Writes at most `max` hashes (the smallest) to out and returns how
 * many; 0 for an empty text or one over 256 MiB. Uses the scratch's buffers;
 * the matcher supplies the typo table. The hashes are esc__hash64 of the word
 * forms of step 2, stable across runs.
 */
size_t esc__text_content(const esc__matcher *m, esc__scratch *s,
                         const char *text, size_t len, uint64_t *out,
                         size_t max);

/*
 * The content of the text the last esc__scan() with s read, exactly as
 * esc__text_content() would compute it, from the words that scan already
 * read. Returns false (and leaves *n alone) when that scan did not read
 * words: a matcher without phrases, or nothing scanned since s last served
 * another call; the caller then uses esc__text_content().
 */
bool esc__scan_content(const esc__matcher *m, esc__scratch *s, uint64_t *out,
                       size_t max, size_t *n);

/* Built-in word lists, NULL-terminated, for `lexicon:` signals. Phrases in
 * the lists are matched like policy phrases. Both return NULL for an unknown
 * lexicon. */
typedef enum { ESC__LEX_PROFANITY, ESC__LEX_ANGER, ESC__LEX_COUNT } esc__lexicon;
const char *const *esc__lexicon_words(esc__lexicon lex);
const char *esc__lexicon_name(esc__lexicon lex);

#endif /* ESC_TEXT_H */
