/*
 * text.c - the text matcher: normalisation and word forms, phrase matching
 * on words, the regex databases (Vectorscan), negation, and the message
 * features built on the same tokeniser (shouting, content hashes).
 *
 * A text is read once, code point by code point. Each code point is
 * normalised on its own (case folding, compatibility decomposition, marks
 * stripped) so that every word keeps the byte range of the original text it
 * came from. The pass produces, each only when the matcher needs it:
 *   - the token table: per word, its original byte range, the word ids of
 *     its form and of its normalised spelling, whether a sentence break
 *     comes before it, its clause number and whether its form is a
 *     negator's (for negation), its content hash; for the builder, the
 *     range of its form in the stem stream and of its spelling in the exact
 *     stream;
 *   - for the builder only (a scan reads the token table alone), the stem
 *     stream " f1 f2 . f3 ", where a lone "." marks a sentence break
 *     (. ! ? ;) so that no phrase matches across one, and the exact stream,
 *     the same with the normalised words themselves, for
 *     ESC__PHRASE_EXACT phrases;
 *   - the normalised text with, per byte, the offset in the original of the
 *     code point it came from, for the regular expressions.
 * Phrases are matched on the token table, word by word: every literal (a
 * phrase or a typo variant, " w1 w2 . w3 ") is a path in a trie whose edges
 * are word ids, and a scan walks the trie from each token. A literal is a
 * whole-word substring of its stream exactly when its words are consecutive
 * tokens (sentence breaks included), so the walk finds the same hits a
 * literal database over the streams would, without the per-byte scan of one
 * (see BENCHMARKS.md: the phrase databases of a pack hold 25,000 literals and
 * were the largest cost of an evaluation). Vectorscan runs the regular
 * expressions: first a database without start-of-match tracking over the
 * texts of a ticket (esc__regex_prefilter) or over one text, then, only for
 * a text where that one matched, the database with it.
 */
#include "text.h"

#include <hs/hs.h>
#include <libstemmer.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "escalator.h"
#include "util.h"

/* Lists defined in lexicon.c, NULL-terminated. */
extern const char *const esc__text_builtin_typos[];
extern const char *const esc__text_builtin_negators[];
extern const char *const esc__text_stop_words[];
extern const char *const esc__text_variant_deny[];

/* Case folding, compatibility decomposition (NFKC without the final
 * composition, which stripping the marks makes moot), accents and other
 * marks stripped, default-ignorable code points (zero-width spaces and
 * joiners, soft hyphens) dropped so that they cannot split a word. */
#define NORM_OPTS                                                           \
    ((utf8proc_option_t)(UTF8PROC_CASEFOLD | UTF8PROC_COMPOSE |             \
                         UTF8PROC_COMPAT | UTF8PROC_STRIPMARK |             \
                         UTF8PROC_IGNORE))
/* Longest decomposition of one code point that is kept; longer ones (a few
 * Arabic ligatures) are treated as separators. */
#define NORM_MAX 24
/* Words longer than this (in normalised bytes) are neither looked up in the
 * typo table nor stemmed, only squeezed. */
#define WORD_MAX 64
/* Typo variants are made for words of at least VARIANT_MIN letters, and
 * kept when their form has at least VARIANT_FORM_MIN. */
#define VARIANT_MIN 6
#define VARIANT_FORM_MIN 5
/* Largest text esc__scan and esc__text_content accept: keeps every offset,
 * including those into the (longer) normalised text, within 32 bits. */
#define TEXT_MAX ((size_t)256 << 20)
/* Words considered before a negatable phrase. */
#define NEG_WINDOW 3

/* The word cache of a scratch: word -> word ids, content hash and kind of
 * its form, two entries a set (see put_form), 32 bytes an entry (512 KiB):
 * big enough that the vocabulary of a stream of conversations stays in it
 * (2,048 slots missed one word in eight on the benchmark corpus, and a
 * miss costs a stemmer call), small enough to leave most of a core's
 * second-level cache to the rest. A set is one cache line. Words of up to
 * 15 bytes are kept (longer ones were 0.02 % of the benchmark corpus's
 * words). */
#define CACHE_SLOTS 16384
#define CACHE_STR 15

/* Word ids of the trie: 0 is a word no literal has, 1 the sentence break. */
#define WORD_NONE 0u
#define WORD_BREAK 1u
/* The trie's roots: literals of the stem stream and of the exact stream. */
#define ROOT_STEM 1u
#define ROOT_EXACT 2u

/* ---- small string sets and maps ----------------------------------------- */

typedef struct sm_ent {
    uint64_t h;
    char *k; /* NULL: empty slot */
    uint32_t klen;
    uint32_t v;
} sm_ent;

/* Open-addressing map from byte strings (copied) to a uint32. */
typedef struct strmap {
    sm_ent *e;
    size_t cap; /* power of two, or 0 */
    size_t n;
} strmap;

static uint64_t str_hash(const char *s, size_t n)
{
    return esc__hash64(s, n);
}

static void sm_free(strmap *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free(m->e[i].k);
    free(m->e);
    memset(m, 0, sizeof(*m));
}

static const sm_ent *sm_get(const strmap *m, const char *k, size_t n,
                            uint64_t h)
{
    if (m->cap == 0)
        return NULL;
    for (size_t i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        const sm_ent *e = &m->e[i];
        if (!e->k)
            return NULL;
        if (e->h == h && e->klen == n && memcmp(e->k, k, n) == 0)
            return e;
    }
}

static bool sm_has(const strmap *m, const char *k, size_t n)
{
    return sm_get(m, k, n, str_hash(k, n)) != NULL;
}

static void sm_grow(strmap *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 64;
    sm_ent *ne = esc__xcalloc(ncap, sizeof(*ne));
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->e[i].k)
            continue;
        size_t j = m->e[i].h & (ncap - 1);
        while (ne[j].k)
            j = (j + 1) & (ncap - 1);
        ne[j] = m->e[i];
    }
    free(m->e);
    m->e = ne;
    m->cap = ncap;
}

/* Adds k -> v unless k is present. Returns the value stored for k and sets
 * *added. */
static uint32_t sm_put(strmap *m, const char *k, size_t n, uint32_t v,
                       bool *added)
{
    uint64_t h = str_hash(k, n);
    const sm_ent *old = sm_get(m, k, n, h);
    if (old) {
        if (added)
            *added = false;
        return old->v;
    }
    if ((m->n + 1) * 2 > m->cap)
        sm_grow(m);
    size_t i = h & (m->cap - 1);
    while (m->e[i].k)
        i = (i + 1) & (m->cap - 1);
    m->e[i].h = h;
    m->e[i].k = esc__xstrndup(k, n);
    m->e[i].klen = (uint32_t)n;
    m->e[i].v = v;
    m->n++;
    if (added)
        *added = true;
    return v;
}

/* ---- the compiled matcher ----------------------------------------------- */

typedef struct target {
    uint32_t id;
    bool negatable;
} target;

typedef struct str {
    char *s;
    uint32_t len;
} str;

/*
 * Literals as word sequences. A node is reached by the words of one literal
 * prefix from its root; node_lit[node] is that literal's index + 1 when the
 * prefix is a whole literal (0 otherwise), with NODE_PARENT set when the node
 * has children (literal indexes stay far below 2^31: a policy's literals
 * number in the tens of thousands). The edges (node, word id) -> child live
 * in one open-addressing table keyed by node << 32 | word id (0 marks a free
 * slot: nodes start at 1).
 *
 * Four probes of the edge table in five find no child, and the table is
 * megabytes, so each costs a cache miss. The bits of node_lit that literal
 * indexes leave free (at least 8 of the 31) are a filter of the node's
 * children: bit (word id % kid_bits) set for each, above the literal's bits,
 * and a walk probes the table only for a word whose bit is set.
 */
#define NODE_PARENT 0x80000000u

typedef struct wedge {
    uint64_t key;        /* node << 32 | word id; 0: free */
    uint32_t child;
} wedge;

typedef struct wtrie {
    strmap vocab;        /* word (form or spelling) -> word id >= 2 */
    wedge *edges;
    size_t edge_cap;     /* power of two, or 0 */
    size_t n_edges;
    uint32_t *node_lit;
    size_t n_nodes, cap_nodes; /* nodes 0 (none), ROOT_STEM, ROOT_EXACT ... */
    /* The roots' children by word id (index 0 for ROOT_STEM, 1 for
     * ROOT_EXACT; n_words entries each, 0 for none): the first step of
     * every walk, without a probe of the edge table. */
    uint32_t *first[2];
    size_t n_words;
    bool kid_filter;     /* node_lit carries the filter of children */
    uint32_t lit_mask;   /* the literal's bits of node_lit */
    uint32_t kid_shift;  /* the filter's first bit */
    uint32_t kid_bits;   /* and how many (8 or 16) */
} wtrie;

struct esc__matcher {
    uint64_t serial; /* tells scratches which matcher they were sized for */

    /* Literals of the stem stream then of the exact stream; literal i has
     * nwords[i] words and the targets targets[first[i] .. first[i + 1]). */
    size_t n_lit_stem, n_lit_exact;
    uint32_t *lit_nwords;
    uint32_t *lit_first;
    target *targets;
    wtrie trie;

    /* The regular expressions: re_db reports matches with their start
     * (HS_FLAG_SOM_LEFTMOST); re_pre, the same expressions without it, only
     * tells whether a text has a match at all, and is much cheaper. */
    hs_database_t *re_db, *re_pre;
    uint32_t *re_ids;
    size_t n_re;
    /* No expression is anchored (^, $, \\A, \\Z, \\z, \\G): a text's
     * matches are found in it as well when it stands between line breaks in
     * a longer text (esc__regex_prefilter). */
    bool re_joinable;

    strmap typos;    /* squeezed key -> index into typo_vals */
    str *typo_vals;  /* normalised, runs of three letters squeezed */
    size_t n_typos, cap_typos;

    str *negators;   /* word forms */
    size_t n_negators;

    uint64_t *stop;  /* sorted hashes of the stop words' forms */
    size_t n_stop;
};

struct esc__matcher_builder {
    struct sb_stemmer *stemmer;
    struct {
        char *text;
        uint32_t id;
        unsigned flags;
    } *phrases;
    size_t n_phrases, cap_phrases;
    struct {
        char *re;
        uint32_t id;
    } *regexes;
    size_t n_regexes, cap_regexes;
    str *typos; /* pairs: typo, word */
    size_t n_typos, cap_typos;
    str *negators;
    size_t n_negators, cap_negators;
};

/* ---- token buffers ------------------------------------------------------ */

typedef struct tok {
    uint64_t ch;             /* content hash: esc__hash64 of the form */
    uint32_t ostart, oend;   /* in the original text */
    uint32_t sstart, send;   /* form in the stem stream (want_forms) */
    uint32_t xstart, xend;   /* normalised word in the exact stream */
    uint32_t clause;
    uint32_t sid, xid;       /* word ids of the form and of the normalised
                                word (with a word cache; else WORD_NONE) */
    bool brk;                /* a sentence break comes before the word */
    bool stop;               /* the form is a stop word's */
    bool neg;                /* the form is a negator's; ch, stop and neg
                                are set with a word cache only */
} tok;

typedef struct buf {
    char *p;
    size_t len, cap;
} buf;

typedef struct tokbuf {
    tok *toks;
    size_t n, cap;
    buf s;      /* stem stream */
    buf x;      /* exact stream */
    buf norm;   /* normalised text */
    uint32_t *map;  /* per normalised byte: offset of its code point */
    size_t map_cap;
    buf word;   /* the word being read */
} tokbuf;

typedef struct cache_ent {
    char k[CACHE_STR];  /* the word: at least 8 bytes of the entry follow
                           its first byte (word_eq reads 8 at a time) */
    uint8_t meta;       /* its length (0: empty), CACHE_STOP, CACHE_NEG */
    uint32_t sid, xid;  /* word ids of its form and of the word */
    uint64_t ch;        /* content hash of its form (a token's ch) */
} cache_ent;

/* The form is a stop word's, a negator's. */
#define CACHE_STOP 0x40u
#define CACHE_NEG 0x80u
#define CACHE_LEN 0x3Fu

struct esc__scratch {
    uint64_t serial;
    hs_scratch_t *hs;
    struct sb_stemmer *stemmer;
    tokbuf tb;
    cache_ent *cache; /* word -> form, valid for the matcher of `serial` */
    esc__hit *hits;
    size_t n_hits, cap_hits;
    buf joined;       /* esc__regex_prefilter's texts, joined */
    size_t *ends;     /* ... and the offset where each of them ends */
    size_t cap_ends;
    size_t *re_last;  /* per regex: index in hits of its last hit */
    size_t cap_re_last;
    uint64_t *hashes;
    size_t cap_hashes;
    /* What tb holds of the text the last esc__scan() read: SCANNED_NONE
     * (nothing usable), SCANNED_EMPTY (an empty text) or SCANNED_WORDS (its
     * token table, forms included). */
    enum { SCANNED_NONE, SCANNED_EMPTY, SCANNED_WORDS } scanned;
};

static inline void buf_need(buf *b, size_t extra)
{
    if (b->len + extra > b->cap)
        esc__grow((void **)&b->p, &b->cap, b->len + extra, 1);
}

static inline void buf_put(buf *b, const char *s, size_t n)
{
    buf_need(b, n);
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

#if defined(__GNUC__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define WORDWISE 1
#else
#define WORDWISE 0
#endif

/* Appends s[0..n) to b, copying 8 bytes at a time: s must be followed by
 * at least 7 readable bytes (a word cache entry, or a word in a buffer kept
 * padded). Words are short, and a memcpy() call of a few bytes cost more
 * than the copy. Leaves room for 8 more bytes after b->len. */
static inline void buf_put_word(buf *b, const char *s, size_t n)
{
    buf_need(b, n + 8);
    if (WORDWISE) {
        char *d = b->p + b->len;
        for (size_t i = 0; i < n; i += 8) {
            uint64_t x;
            memcpy(&x, s + i, 8);
            memcpy(d + i, &x, 8);
        }
    } else {
        memcpy(b->p + b->len, s, n);
    }
    b->len += n;
}

/* Whether a[0..n) and b[0..n) are equal, both followed by at least 7
 * readable bytes. */
static inline bool word_eq(const char *a, const char *b, size_t n)
{
    if (!WORDWISE)
        return memcmp(a, b, n) == 0;
    size_t i = 0;
    uint64_t x, y;
    for (; i + 8 <= n; i += 8) {
        memcpy(&x, a + i, 8);
        memcpy(&y, b + i, 8);
        if (x != y)
            return false;
    }
    if (i == n)
        return true;
    memcpy(&x, a + i, 8);
    memcpy(&y, b + i, 8);
    return ((x ^ y) & (~0ull >> (64 - 8 * (n - i)))) == 0;
}

static inline void buf_putc(buf *b, char c)
{
    buf_need(b, 1);
    b->p[b->len++] = c;
}

static void tokbuf_free(tokbuf *t)
{
    free(t->toks);
    free(t->s.p);
    free(t->x.p);
    free(t->norm.p);
    free(t->map);
    free(t->word.p);
    memset(t, 0, sizeof(*t));
}

/* ---- word forms ---------------------------------------------------------- */

static inline bool is_lower(unsigned char c)
{
    return c >= 'a' && c <= 'z';
}

/* Runs of three or more equal ASCII letters become one letter. */
static size_t squeeze3(const char *in, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && in[j] == in[i])
            j++;
        if (j - i >= 3 && is_lower((unsigned char)in[i]))
            out[o++] = in[i];
        else
            for (size_t k = i; k < j; k++)
                out[o++] = in[k];
        i = j;
    }
    return o;
}

/* In words of four bytes or more, runs of equal ASCII letters become one
 * letter ("reffund" -> "refund"); shorter words keep them ("ass", "too"). */
static size_t squeeze2(char *w, size_t n)
{
    if (n < 4)
        return n;
    size_t o = 1;
    for (size_t i = 1; i < n; i++) {
        if (w[i] == w[o - 1] && is_lower((unsigned char)w[i]))
            continue;
        w[o++] = w[i];
    }
    return o;
}

typedef struct formctx {
    const esc__matcher *m;      /* supplies the typo table; may be partial */
    struct sb_stemmer *stemmer;
    cache_ent *cache;           /* NULL: none; else m is complete, and the
                                   words are looked up in its trie (a cache
                                   entry always holds the word ids) */
} formctx;

/* The word a normalised word stands for, before stemming: runs of three
 * letters squeezed, then mapped through the typo table. Writes at most
 * WORD_MAX bytes; n <= WORD_MAX. */
static size_t source_word(const esc__matcher *m, const char *w, size_t n,
                          char *out)
{
    size_t a = squeeze3(w, n, out);
    if (m && m->n_typos) {
        char key[WORD_MAX];
        memcpy(key, out, a);
        size_t k = squeeze2(key, a);
        const sm_ent *e = sm_get(&m->typos, key, k, str_hash(key, k));
        if (e) {
            const str *v = &m->typo_vals[e->v];
            memcpy(out, v->s, v->len);
            return v->len;
        }
    }
    return a;
}

/* Stem, then squeeze doubled letters. in[0..n) with n <= WORD_MAX; out has
 * room for WORD_MAX + 8 bytes. */
static size_t stem_squeeze(struct sb_stemmer *st, const char *in, size_t n,
                           char *out)
{
    const sb_symbol *r = sb_stemmer_stem(st, (const sb_symbol *)in, (int)n);
    if (!r) {
        fputs("escalator: out of memory in the stemmer\n", stderr);
        abort();
    }
    size_t len = (size_t)sb_stemmer_length(st);
    if (len == 0 || len > WORD_MAX + 8) {
        memcpy(out, in, n);
        len = n;
    } else {
        memcpy(out, r, len);
    }
    return squeeze2(out, len);
}

/* The word id of w[0..n), or WORD_NONE when no literal has that word. */
static inline uint32_t word_id(const wtrie *t, const char *w, size_t n)
{
    if (n == 1 && w[0] == '.')
        return WORD_BREAK;
    const sm_ent *e = sm_get(&t->vocab, w, n, str_hash(w, n));
    return e ? e->v : WORD_NONE;
}

/* The word cache's hash of w[0..n), n <= CACHE_STR: eight bytes at a time
 * (any hash serves: entries compare their whole key). w must be followed by
 * at least 8 readable bytes: the last bytes are read as one word and the
 * bytes past n masked off (as a byte-by-byte copy into zeroed memory would
 * leave them, on a little-endian machine). */
static inline uint64_t cache_hash(const char *w, size_t n)
{
    uint64_t h = (uint64_t)n * 0x9E3779B97F4A7C15ull;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t x;
        memcpy(&x, w + i, 8);
        h = (h ^ x) * 0xBF58476D1CE4E5B9ull;
        h ^= h >> 29;
    }
    uint64_t x = 0;
    if (n > i) {
#if defined(__GNUC__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        memcpy(&x, w + i, 8);
        x &= ~0ull >> (64 - 8 * (n - i));
#else
        memcpy(&x, w + i, n - i);
#endif
    }
    h = (h ^ x) * 0x94D049BB133111EBull;
    return h ^ (h >> 32);
}

/* Whether h is the content hash of a stop word's form. */
static bool is_stop(const esc__matcher *m, uint64_t h)
{
    size_t lo = 0, hi = m->n_stop;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->stop[mid] == h)
            return true;
        if (m->stop[mid] < h)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

static bool is_negator(const esc__matcher *m, const char *f, size_t n)
{
    for (size_t i = 0; i < m->n_negators; i++)
        if (m->negators[i].len == n && memcmp(m->negators[i].s, f, n) == 0)
            return true;
    return false;
}

/* The word ids of a form and of the word it came from, in fc's matcher,
 * the form's content hash (see content_hashes) and whether it is a stop
 * word's or a negator's, into k. */
static void form_ids(const formctx *fc, const char *form, size_t fn,
                     const char *w, size_t n, tok *k)
{
    k->sid = k->xid = WORD_NONE;
    k->ch = 0;
    k->stop = k->neg = false;
    if (fc->cache) {
        k->sid = word_id(&fc->m->trie, form, fn);
        k->xid = word_id(&fc->m->trie, w, n);
        k->ch = esc__hash64(form, fn);
        k->stop = is_stop(fc->m, k->ch);
        k->neg = is_negator(fc->m, form, fn);
    }
}

/* Sets what form_ids() sets in tk for the normalised word w[0..n) and,
 * with `keep`, appends its form to b (else b may serve as scratch space).
 * With a word cache and n <= CACHE_STR, h is cache_hash(w, n). */
static void put_form(const formctx *fc, const char *w, size_t n, uint64_t h,
                     buf *b, bool keep, tok *tk)
{
    if (n > WORD_MAX) {
        buf_need(b, n);
        char *form = b->p + b->len;
        size_t k = squeeze3(w, n, form);
        size_t fn = squeeze2(form, k);
        form_ids(fc, form, fn, w, n, tk);
        if (keep)
            b->len += fn;
        return;
    }
    cache_ent *ce = NULL;
    /* The cache keeps no form: a token table with forms is built without. */
    if (fc->cache && !keep && n <= CACHE_STR) {
        /* Two entries a set, side by side, the one used last first. With
         * one entry a hash, the 5,400 distinct words of the benchmark
         * corpus's first 3,000 tickets collided often enough to double the
         * stemmer calls (11,200 for 368,000 words; 6,400 with two). */
        ce = &fc->cache[h & (CACHE_SLOTS - 2)];
        for (int k = 0; k < 2; k++) {
            cache_ent *e = &ce[k];
            if ((e->meta & CACHE_LEN) == n && word_eq(e->k, w, n)) {
                tk->sid = e->sid;
                tk->xid = e->xid;
                tk->ch = e->ch;
                tk->stop = (e->meta & CACHE_STOP) != 0;
                tk->neg = (e->meta & CACHE_NEG) != 0;
                if (k) {
                    cache_ent first = ce[0];
                    ce[0] = ce[1];
                    ce[1] = first;
                }
                return;
            }
        }
    }
    char src[WORD_MAX], form[WORD_MAX + 8];
    size_t sn = source_word(fc->m, w, n, src);
    size_t fn = stem_squeeze(fc->stemmer, src, sn, form);
    if (keep)
        buf_put(b, form, fn);
    form_ids(fc, form, fn, w, n, tk);
    if (ce) {
        ce[1] = ce[0]; /* the set's older entry makes room */
        ce->ch = tk->ch;
        ce->meta = (uint8_t)(n | (tk->stop ? CACHE_STOP : 0) | (tk->neg ? CACHE_NEG : 0));
        memcpy(ce->k, w, n);
        ce->sid = tk->sid;
        ce->xid = tk->xid;
    }
}

/* ---- the tokeniser ------------------------------------------------------- */

enum {
    CL_SEP,    /* anything else: ends a word */
    CL_WORD,   /* letter or digit */
    CL_APOS,   /* dropped inside a word */
    CL_STAR,   /* kept inside a word */
    CL_COMMA,  /* clause break */
    CL_SENT,   /* sentence break, also a clause break */
    CL_IDEO    /* a word on its own: scripts written without spaces */
};

#define S CL_SEP
#define W CL_WORD
#define A CL_APOS
#define T CL_STAR
#define C CL_COMMA
#define P CL_SENT
/* Classes of the ASCII characters. */
static const unsigned char ascii_class[128] = {
    S, S, S, S, S, S, S, S, S, S, S, S, S, S, S, S,
    S, S, S, S, S, S, S, S, S, S, S, S, S, S, S, S,
    S, P, S, S, S, S, S, A, S, S, T, S, C, S, P, S,
    W, W, W, W, W, W, W, W, W, W, S, P, S, S, S, P,
    S, W, W, W, W, W, W, W, W, W, W, W, W, W, W, W,
    W, W, W, W, W, W, W, W, W, W, W, S, S, S, S, S,
    S, W, W, W, W, W, W, W, W, W, W, W, W, W, W, W,
    W, W, W, W, W, W, W, W, W, W, W, S, S, S, S, S,
};
#undef S
#undef W
#undef A
#undef T
#undef C
#undef P

/* 1 for the bytes that are CL_WORD in ascii_class (ASCII letters and
 * digits), 0 for the rest, bytes >= 0x80 included. */
static const unsigned char ascii_word[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0,
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0,
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0,
};

static inline unsigned char ascii_fold(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + ('a' - 'A')) : c;
}

static unsigned cp_class(utf8proc_int32_t cp)
{
    if (cp < 128)
        return ascii_class[cp];
    if ((cp >= 0x3040 && cp <= 0x30FF) ||   /* Hiragana, Katakana */
        (cp >= 0x3400 && cp <= 0x4DBF) ||   /* CJK extension A */
        (cp >= 0x4E00 && cp <= 0x9FFF) ||   /* CJK unified ideographs */
        (cp >= 0xF900 && cp <= 0xFAFF) ||   /* CJK compatibility */
        (cp >= 0x20000 && cp <= 0x3134F) || /* CJK extensions B-G */
        (cp >= 0x0E00 && cp <= 0x0EFF))     /* Thai, Lao */
        return utf8proc_category(cp) == UTF8PROC_CATEGORY_LO ||
                       utf8proc_category(cp) == UTF8PROC_CATEGORY_LM
                   ? CL_IDEO
                   : CL_SEP;
    switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
        return CL_WORD;
    default:
        break;
    }
    switch (cp) {
    case 0x2018: /* left single quotation mark */
    case 0x2019: /* right single quotation mark */
    case 0x02BC: /* modifier letter apostrophe */
        return CL_APOS;
    case 0x3002: /* ideographic full stop */
    case 0xFF61: /* halfwidth ideographic full stop */
        return CL_SENT;
    case 0x3001: /* ideographic comma */
        return CL_COMMA;
    default:
        return CL_SEP;
    }
}

typedef struct tokenizer {
    formctx fc;
    tokbuf *tb;
    /* want_forms: the stem stream, which the builder reads (a scan reads
     * the tokens alone); want_exact needs it. */
    bool want_tokens, want_forms, want_exact, want_norm;

    int state;   /* ST_* */
    bool single; /* the word is one CL_IDEO character */
    size_t stars;
    uint32_t wstart, wend;
    bool sent_break, clause_break;
    uint32_t clause;
} tokenizer;

enum { ST_OUT, ST_WORD, ST_APOS, ST_STARS };

/* Appends the token of a word to the streams. */
static void put_token(tokenizer *t, tok *k, const char *w, size_t n,
                      uint64_t h, bool sent_break)
{
    tokbuf *tb = t->tb;
    k->brk = sent_break;
    if (sent_break && t->want_forms) {
        buf_put(&tb->s, ". ", 2);
        if (t->want_exact)
            buf_put(&tb->x, ". ", 2);
    }
    k->sstart = (uint32_t)tb->s.len;
    put_form(&t->fc, w, n, h, &tb->s, t->want_forms, k);
    k->send = (uint32_t)tb->s.len;
    if (t->want_forms)
        buf_putc(&tb->s, ' ');
    if (t->want_exact) {
        k->xstart = (uint32_t)tb->x.len;
        buf_put_word(&tb->x, w, n);
        k->xend = (uint32_t)tb->x.len;
        buf_putc(&tb->x, ' ');
    } else {
        k->xstart = k->xend = 0;
    }
}

static void emit_word(tokenizer *t)
{
    tokbuf *tb = t->tb;
    buf_need(&tb->word, 8); /* cache_hash() reads up to 8 bytes past the end */
    const char *w = tb->word.p;
    size_t n = tb->word.len;
    bool brk = tb->n > 0 && t->sent_break;
    if (t->clause_break || (n == 3 && memcmp(w, "but", 3) == 0))
        t->clause++;
    t->sent_break = t->clause_break = false;
    if (tb->n == tb->cap)
        esc__grow((void **)&tb->toks, &tb->cap, tb->n + 1, sizeof(tok));
    tok *k = &tb->toks[tb->n++];
    k->ostart = t->wstart;
    k->oend = t->wend;
    k->clause = t->clause;
    put_token(t, k, w, n,
              t->fc.cache && n <= CACHE_STR ? cache_hash(w, n) : 0, brk);
}

static inline void end_word(tokenizer *t)
{
    if (t->state != ST_OUT) {
        emit_word(t);
        t->state = ST_OUT;
    }
}

/* Feeds one normalised code point of class cl, whose UTF-8 bytes are
 * u[0..n), produced by the original bytes [os, oe). */
static inline void feed(tokenizer *t, unsigned cl, const char *u, size_t n,
                        uint32_t os, uint32_t oe)
{
    switch (cl) {
    case CL_IDEO:
        end_word(t);
        t->tb->word.len = 0;
        t->wstart = os;
        buf_put(&t->tb->word, u, n);
        t->wend = oe;
        t->state = ST_WORD;
        t->single = true;
        break;
    case CL_WORD:
        if (t->single && t->state != ST_OUT)
            end_word(t);
        t->single = false;
        if (t->state == ST_OUT) {
            t->tb->word.len = 0;
            t->wstart = os;
        } else if (t->state == ST_STARS) {
            buf_need(&t->tb->word, t->stars);
            memset(t->tb->word.p + t->tb->word.len, '*', t->stars);
            t->tb->word.len += t->stars;
        }
        buf_put(&t->tb->word, u, n);
        t->wend = oe;
        t->state = ST_WORD;
        break;
    case CL_APOS:
        if (t->state == ST_WORD)
            t->state = ST_APOS;
        else
            end_word(t);
        break;
    case CL_STAR:
        if (t->state == ST_WORD) {
            t->state = ST_STARS;
            t->stars = 1;
        } else if (t->state == ST_STARS) {
            t->stars++;
        } else {
            end_word(t);
        }
        break;
    case CL_SENT:
        end_word(t);
        t->sent_break = t->clause_break = true;
        break;
    case CL_COMMA:
        end_word(t);
        t->clause_break = true;
        break;
    default:
        end_word(t);
        break;
    }
}

/* Appends u[0..n) to the normalised text, produced by the code point at
 * original offset os, with `rest` original bytes still to read. Keeps room
 * for one byte per remaining original byte (and the final map entry), which
 * the ASCII path of tokenize() relies on. */
static void norm_put(tokbuf *tb, const char *u, size_t n, uint32_t os,
                     size_t rest)
{
    size_t need = tb->norm.len + n + rest + 1;
    if (need > tb->norm.cap)
        esc__grow((void **)&tb->norm.p, &tb->norm.cap, need, 1);
    if (need > tb->map_cap)
        esc__grow((void **)&tb->map, &tb->map_cap, need, sizeof(uint32_t));
    memcpy(tb->norm.p + tb->norm.len, u, n);
    for (size_t i = 0; i < n; i++)
        tb->map[tb->norm.len + i] = os;
    tb->norm.len += n;
}

/* Whether text[0..len) is all ASCII. */
static bool all_ascii(const char *text, size_t len)
{
    size_t i = 0;
    uint64_t acc = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t x;
        memcpy(&x, text + i, 8);
        acc |= x;
    }
    for (; i < len; i++)
        acc |= (unsigned char)text[i];
    return (acc & 0x8080808080808080ull) == 0;
}

/* The normalised text of an ASCII text, as tokenize() writes it with
 * want_norm (each byte folded to lower case and mapped to itself), leaving
 * the token table alone. */
static void norm_ascii(tokbuf *tb, const char *text, size_t len)
{
    tb->norm.len = 0;
    norm_put(tb, "", 0, 0, len);
    for (size_t i = 0; i < len; i++) {
        tb->norm.p[i] = (char)ascii_fold((unsigned char)text[i]);
        tb->map[i] = (uint32_t)i;
    }
    tb->norm.len = len;
    tb->map[len] = (uint32_t)len;
}

/* Reads text[0..len) (len <= TEXT_MAX) into t->tb. */
static void tokenize(tokenizer *t, const char *text, size_t len)
{
    tokbuf *tb = t->tb;
    tb->n = 0;
    tb->s.len = tb->x.len = tb->norm.len = 0;
    buf_putc(&tb->s, ' ');
    if (t->want_exact)
        buf_putc(&tb->x, ' ');
    t->state = ST_OUT;
    t->stars = 0;
    t->sent_break = t->clause_break = false;
    t->clause = 0;
    if (t->want_norm)
        norm_put(tb, "", 0, 0, len);

    const unsigned char *p = (const unsigned char *)text;
    size_t i = 0;
    while (i < len) {
        unsigned char c = p[i];
        if (c < 0x80) {
            unsigned cl = ascii_class[c];
            if (cl == CL_WORD && !t->single &&
                (t->state == ST_OUT || t->state == ST_WORD)) {
                /* A run of ASCII letters and digits, in one go. */
                size_t j = i + 1;
                while (j < len && ascii_word[p[j]])
                    j++;
                if (t->want_tokens) {
                    buf *w = &tb->word;
                    if (t->state == ST_OUT) {
                        w->len = 0;
                        t->wstart = (uint32_t)i;
                    }
                    /* Letters and digits: setting bit 5 folds a capital
                     * and leaves the rest alone, 8 bytes at a time; the
                     * word is stored in the same 8-byte pieces that
                     * cache_hash() reads back. */
                    buf_need(w, j - i + 8);
                    char *dst = w->p + w->len;
                    size_t k = i;
                    for (; k + 8 <= j || (k < j && k + 8 <= len); k += 8) {
                        uint64_t x;
                        memcpy(&x, p + k, 8);
                        x |= 0x2020202020202020ull;
                        memcpy(dst + (k - i), &x, 8);
                    }
                    for (; k < j; k++)
                        dst[k - i] = (char)ascii_fold(p[k]);
                    w->len += j - i;
                    t->wend = (uint32_t)j;
                    t->state = ST_WORD;
                }
                if (t->want_norm)
                    for (size_t k = i; k < j; k++) {
                        tb->norm.p[tb->norm.len] = (char)ascii_fold(p[k]);
                        tb->map[tb->norm.len++] = (uint32_t)k;
                    }
                i = j;
                continue;
            }
            char lo = (char)ascii_fold(c);
            /* A separator only ends a word (most often the one just read). */
            if (t->want_tokens && cl == CL_SEP)
                end_word(t);
            else if (t->want_tokens)
                feed(t, cl, &lo, 1, (uint32_t)i, (uint32_t)i + 1);
            if (t->want_norm) {
                tb->norm.p[tb->norm.len] = lo;
                tb->map[tb->norm.len++] = (uint32_t)i;
            }
            i++;
            continue;
        }
        utf8proc_int32_t cp;
        utf8proc_ssize_t n = utf8proc_iterate(p + i, (utf8proc_ssize_t)(len - i),
                                              &cp);
        if (n <= 0) {
            /* An invalid byte: a separator. */
            if (t->want_tokens)
                feed(t, CL_SEP, " ", 1, (uint32_t)i, (uint32_t)i + 1);
            if (t->want_norm)
                norm_put(tb, " ", 1, (uint32_t)i, len - i - 1);
            i++;
            continue;
        }
        uint32_t os = (uint32_t)i, oe = (uint32_t)(i + (size_t)n);
        utf8proc_int32_t out[NORM_MAX];
        int bound = 0;
        utf8proc_ssize_t k = utf8proc_decompose_char(cp, out, NORM_MAX,
                                                      NORM_OPTS, &bound);
        if (k < 0 || k > NORM_MAX) {
            out[0] = ' ';
            k = 1;
        }
        if (k == 0) {
            /* A stripped mark belongs to the word it follows. */
            if (t->want_tokens && t->state == ST_WORD)
                t->wend = oe;
        }
        for (utf8proc_ssize_t j = 0; j < k; j++) {
            utf8proc_uint8_t u[4];
            utf8proc_ssize_t un = utf8proc_encode_char(out[j], u);
            if (un <= 0)
                continue;
            if (t->want_tokens)
                feed(t, cp_class(out[j]), (const char *)u, (size_t)un, os, oe);
            if (t->want_norm)
                norm_put(tb, (const char *)u, (size_t)un, os, len - oe);
        }
        i += (size_t)n;
    }
    if (t->want_tokens)
        end_word(t);
    if (t->want_norm)
        tb->map[tb->norm.len] = (uint32_t)len;
}

/* ---- the builder --------------------------------------------------------- */

static struct sb_stemmer *new_stemmer(void)
{
    struct sb_stemmer *st = sb_stemmer_new("english", NULL);
    if (!st) {
        fputs("escalator: cannot create the English stemmer\n", stderr);
        abort();
    }
    return st;
}

esc__matcher_builder *esc__mb_new(void)
{
    esc__matcher_builder *b = esc__xcalloc(1, sizeof(*b));
    b->stemmer = new_stemmer();
    return b;
}

void esc__mb_free(esc__matcher_builder **bp)
{
    if (!bp || !*bp)
        return;
    esc__matcher_builder *b = *bp;
    for (size_t i = 0; i < b->n_phrases; i++)
        free(b->phrases[i].text);
    free(b->phrases);
    for (size_t i = 0; i < b->n_regexes; i++)
        free(b->regexes[i].re);
    free(b->regexes);
    for (size_t i = 0; i < b->n_typos; i++)
        free(b->typos[i].s);
    free(b->typos);
    for (size_t i = 0; i < b->n_negators; i++)
        free(b->negators[i].s);
    free(b->negators);
    sb_stemmer_delete(b->stemmer);
    free(b);
    *bp = NULL;
}

static void set_err(char *err, size_t errlen, const char *fmt, const char *a)
{
    if (err && errlen)
        snprintf(err, errlen, fmt, a);
}

/* Tokenises s with no typo table into tb (exact stream included). */
static size_t plain_words(struct sb_stemmer *st, tokbuf *tb, const char *s,
                          size_t n)
{
    tokenizer t = {0};
    t.fc.stemmer = st;
    t.tb = tb;
    t.want_tokens = t.want_forms = t.want_exact = true;
    tokenize(&t, s, n);
    return tb->n;
}

int esc__mb_add_phrase(esc__matcher_builder *b, const char *phrase,
                       uint32_t id, unsigned flags, char *err, size_t errlen)
{
    if (!b || !phrase) {
        set_err(err, errlen, "%s", "no phrase");
        return -1;
    }
    size_t n = strlen(phrase);
    if (n > WORD_MAX * 64) {
        set_err(err, errlen, "%s", "phrase is too long");
        return -1;
    }
    tokbuf tb = {0};
    size_t words = plain_words(b->stemmer, &tb, phrase, n);
    tokbuf_free(&tb);
    if (words == 0) {
        set_err(err, errlen, "phrase \"%s\" has no words", phrase);
        return -1;
    }
    if (b->n_phrases == b->cap_phrases)
        esc__grow((void **)&b->phrases, &b->cap_phrases, b->n_phrases + 1,
                  sizeof(*b->phrases));
    b->phrases[b->n_phrases].text = esc__xstrdup(phrase);
    b->phrases[b->n_phrases].id = id;
    b->phrases[b->n_phrases].flags = flags;
    b->n_phrases++;
    return 0;
}

#define RE_FLAGS (HS_FLAG_CASELESS | HS_FLAG_UTF8 | HS_FLAG_SOM_LEFTMOST)
/* The same matches, without their start: for the cheap first pass. */
#define RE_PREFILTER_FLAGS (HS_FLAG_CASELESS | HS_FLAG_UTF8)

/* The byte offset named in a Vectorscan message ("... at index 3."), or
 * -1. */
static int message_offset(const char *msg)
{
    const char *p = strstr(msg, "index ");
    if (!p)
        return -1;
    p += 6;
    if (*p < '0' || *p > '9')
        return -1;
    long v = strtol(p, NULL, 10);
    return v > 0x7fffffff ? -1 : (int)v;
}

int esc__mb_add_regex(esc__matcher_builder *b, const char *regex, uint32_t id,
                      char *err, size_t errlen, int *err_offset)
{
    if (err_offset)
        *err_offset = -1;
    if (!b || !regex) {
        set_err(err, errlen, "%s", "no regular expression");
        return -1;
    }
    hs_database_t *db = NULL;
    hs_compile_error_t *ce = NULL;
    if (hs_compile(regex, RE_FLAGS, HS_MODE_BLOCK, NULL, &db, &ce) !=
        HS_SUCCESS) {
        const char *msg = ce && ce->message ? ce->message : "cannot compile";
        set_err(err, errlen, "%s", msg);
        if (err_offset)
            *err_offset = message_offset(msg);
        hs_free_compile_error(ce);
        return -1;
    }
    hs_free_database(db);
    if (b->n_regexes == b->cap_regexes)
        esc__grow((void **)&b->regexes, &b->cap_regexes, b->n_regexes + 1,
                  sizeof(*b->regexes));
    b->regexes[b->n_regexes].re = esc__xstrdup(regex);
    b->regexes[b->n_regexes].id = id;
    b->n_regexes++;
    return 0;
}

/* The single normalised word of s, or false when s is not one word. */
static bool one_word(struct sb_stemmer *st, const char *s, str *out)
{
    tokbuf tb = {0};
    size_t n = strlen(s);
    bool ok = n <= WORD_MAX * 4 && plain_words(st, &tb, s, n) == 1;
    if (ok) {
        const tok *k = &tb.toks[0];
        ok = k->xend - k->xstart <= WORD_MAX;
        if (ok) {
            out->len = k->xend - k->xstart;
            out->s = esc__xstrndup(tb.x.p + k->xstart, out->len);
        }
    }
    tokbuf_free(&tb);
    return ok;
}

int esc__mb_add_typo(esc__matcher_builder *b, const char *typo,
                     const char *word)
{
    if (!b || !typo || !word)
        return -1;
    str t, w;
    if (!one_word(b->stemmer, typo, &t))
        return -1;
    if (!one_word(b->stemmer, word, &w)) {
        free(t.s);
        return -1;
    }
    if (b->n_typos + 2 > b->cap_typos)
        esc__grow((void **)&b->typos, &b->cap_typos, b->n_typos + 2,
                  sizeof(str));
    b->typos[b->n_typos++] = t;
    b->typos[b->n_typos++] = w;
    return 0;
}

int esc__mb_add_negator(esc__matcher_builder *b, const char *word)
{
    if (!b || !word)
        return -1;
    str w;
    if (!one_word(b->stemmer, word, &w))
        return -1;
    if (b->n_negators == b->cap_negators)
        esc__grow((void **)&b->negators, &b->cap_negators, b->n_negators + 1,
                  sizeof(str));
    b->negators[b->n_negators++] = w;
    return 0;
}

/* ---- building: literals and variants ------------------------------------- */

typedef struct litpair {
    uint32_t lit;
    uint32_t id;
    bool negatable;
} litpair;

/* The literals of one database. */
typedef struct litset {
    strmap map; /* literal -> index */
    str *lits;
    uint32_t *nwords;
    size_t n, cap, cap_nwords;
    litpair *pairs;
    size_t n_pairs, cap_pairs;
} litset;

static void litset_add(litset *ls, const char *s, size_t n, uint32_t nwords,
                       uint32_t id, bool negatable)
{
    bool added;
    uint32_t idx = sm_put(&ls->map, s, n, (uint32_t)ls->n, &added);
    if (added) {
        esc__grow((void **)&ls->lits, &ls->cap, ls->n + 1, sizeof(str));
        esc__grow((void **)&ls->nwords, &ls->cap_nwords, ls->n + 1,
                  sizeof(uint32_t));
        ls->lits[ls->n].s = esc__xstrndup(s, n);
        ls->lits[ls->n].len = (uint32_t)n;
        ls->nwords[ls->n] = nwords;
        ls->n++;
    }
    litpair lp = {idx, id, negatable};
    ESC__PUSH(ls->pairs, ls->n_pairs, ls->cap_pairs, lp);
}

static void litset_free(litset *ls)
{
    sm_free(&ls->map);
    for (size_t i = 0; i < ls->n; i++)
        free(ls->lits[i].s);
    free(ls->lits);
    free(ls->nwords);
    free(ls->pairs);
    memset(ls, 0, sizeof(*ls));
}

static int cmp_pair(const void *a, const void *b)
{
    const litpair *x = a, *y = b;
    if (x->lit != y->lit)
        return x->lit < y->lit ? -1 : 1;
    if (x->id != y->id)
        return x->id < y->id ? -1 : 1;
    return 0;
}

/* One phrase, tokenised: per word its form and normalised spelling, and
 * whether a sentence break precedes it. */
typedef struct pwords {
    size_t n;
    str *form;
    str *word;
    bool *brk;
} pwords;

static void pwords_free(pwords *pw)
{
    for (size_t i = 0; i < pw->n; i++) {
        free(pw->form[i].s);
        free(pw->word[i].s);
    }
    free(pw->form);
    free(pw->word);
    free(pw->brk);
    memset(pw, 0, sizeof(*pw));
}

static void pwords_read(const tokbuf *tb, pwords *pw)
{
    pw->n = tb->n;
    pw->form = esc__xcalloc(tb->n, sizeof(str));
    pw->word = esc__xcalloc(tb->n, sizeof(str));
    pw->brk = esc__xcalloc(tb->n, sizeof(bool));
    for (size_t i = 0; i < tb->n; i++) {
        const tok *k = &tb->toks[i];
        pw->form[i].len = k->send - k->sstart;
        pw->form[i].s = esc__xstrndup(tb->s.p + k->sstart, pw->form[i].len);
        pw->word[i].len = k->xend - k->xstart;
        pw->word[i].s = esc__xstrndup(tb->x.p + k->xstart, pw->word[i].len);
        pw->brk[i] = k->brk;
    }
}

/* " w1 w2 . w3 " from the forms (or spellings) of pw, word `j` replaced by
 * rep when rep is not NULL. */
static void literal_of(const pwords *pw, bool exact, size_t j, const char *rep,
                       size_t rep_len, esc__sb *sb)
{
    esc__sb_reset(sb);
    esc__sb_putc(sb, ' ');
    for (size_t i = 0; i < pw->n; i++) {
        if (pw->brk[i])
            esc__sb_put(sb, ". ", 2);
        if (rep && i == j)
            esc__sb_put(sb, rep, rep_len);
        else if (exact)
            esc__sb_put(sb, pw->word[i].s, pw->word[i].len);
        else
            esc__sb_put(sb, pw->form[i].s, pw->form[i].len);
        esc__sb_putc(sb, ' ');
    }
}

static bool all_lower(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!is_lower((unsigned char)s[i]))
            return false;
    return true;
}

typedef struct variant_ctx {
    const esc__matcher *m;
    struct sb_stemmer *stemmer;
    const strmap *avoid;   /* forms a variant must not take */
    strmap seen;           /* variants of the current word */
    const pwords *pw;
    size_t j;
    uint32_t id;
    bool negatable;
    litset *ls;
    esc__sb *sb;
} variant_ctx;

static void add_variant(variant_ctx *v, char *form, size_t n, size_t min_len)
{
    const str *f = &v->pw->form[v->j];
    if (n < min_len || (n == f->len && memcmp(form, f->s, n) == 0))
        return;
    if (sm_has(v->avoid, form, n))
        return;
    bool added;
    sm_put(&v->seen, form, n, 0, &added);
    if (!added)
        return;
    literal_of(v->pw, false, v->j, form, n, v->sb);
    litset_add(v->ls, v->sb->buf, v->sb->len, (uint32_t)v->pw->n, v->id,
               v->negatable);
}

/* Adds the variants of `w` (n letters): each interior letter dropped, each
 * pair of different neighbouring interior letters swapped. With `stem`, each
 * is stemmed before use; without, it is only squeezed. */
static void typo_variants(variant_ctx *v, const char *w, size_t n, bool stem)
{
    char c[WORD_MAX], form[WORD_MAX + 8];
    if (n < VARIANT_MIN || n > WORD_MAX || !all_lower(w, n))
        return;
    for (size_t i = 1; i + 1 < n; i++) {
        memcpy(c, w, i);
        memcpy(c + i, w + i + 1, n - i - 1);
        size_t fn;
        if (stem) {
            fn = stem_squeeze(v->stemmer, c, n - 1, form);
        } else {
            memcpy(form, c, n - 1);
            fn = squeeze2(form, n - 1);
        }
        add_variant(v, form, fn, VARIANT_FORM_MIN);
    }
    for (size_t i = 1; i + 2 < n; i++) {
        if (w[i] == w[i + 1])
            continue;
        memcpy(c, w, n);
        c[i] = w[i + 1];
        c[i + 1] = w[i];
        size_t fn;
        if (stem) {
            fn = stem_squeeze(v->stemmer, c, n, form);
        } else {
            memcpy(form, c, n);
            fn = squeeze2(form, n);
        }
        add_variant(v, form, fn, VARIANT_FORM_MIN);
    }
}

/* Adds the stem of an inflection of w when it is a shorter prefix of w:
 * the stemmer reduces "sued" and "suing" to "su" but "sue" to "sue". */
static void inflection_variant(variant_ctx *v, const char *w, size_t n,
                               const char *infl, size_t in)
{
    char form[WORD_MAX + 8];
    size_t fn = stem_squeeze(v->stemmer, infl, in, form);
    if (fn < n && memcmp(form, w, fn) == 0)
        add_variant(v, form, fn, 2);
}

/* Inflections of words that end in a consonant (or u) then e. */
static void inflection_variants(variant_ctx *v, const char *w, size_t n)
{
    char c[WORD_MAX + 8];
    if (n < 3 || n + 3 > WORD_MAX || !all_lower(w, n) || w[n - 1] != 'e' ||
        w[n - 2] == 'e' || w[n - 2] == 'i')
        return;
    memcpy(c, w, n);
    c[n] = 'd';
    inflection_variant(v, w, n, c, n + 1);
    memcpy(c + n - 1, "ing", 3);
    inflection_variant(v, w, n, c, n + 2);
}

static void phrase_variants(variant_ctx *v)
{
    const pwords *pw = v->pw;
    for (size_t j = 0; j < pw->n; j++) {
        v->j = j;
        sm_free(&v->seen);
        const str *w = &pw->word[j];
        if (w->len > WORD_MAX)
            continue;
        char src[WORD_MAX];
        size_t sn = source_word(v->m, w->s, w->len, src);
        typo_variants(v, src, sn, true);
        typo_variants(v, pw->form[j].s, pw->form[j].len, false);
        inflection_variants(v, src, sn);
    }
    sm_free(&v->seen);
}

/* Adds the form of every word of s to set. */
static void add_forms(const formctx *fc, tokbuf *tb, const char *s,
                      strmap *set)
{
    tokenizer t = {0};
    t.fc = *fc;
    t.tb = tb;
    t.want_tokens = t.want_forms = true;
    tokenize(&t, s, strlen(s));
    for (size_t i = 0; i < tb->n; i++)
        sm_put(set, tb->s.p + tb->toks[i].sstart,
               tb->toks[i].send - tb->toks[i].sstart, 0, NULL);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void add_typo_entry(esc__matcher *m, const char *typo, size_t tn,
                           const char *word, size_t wn)
{
    if (tn > WORD_MAX || wn > WORD_MAX)
        return;
    char key[WORD_MAX];
    size_t k = squeeze2(key, squeeze3(typo, tn, key));
    bool added;
    sm_put(&m->typos, key, k, (uint32_t)m->n_typos, &added);
    if (!added)
        return;
    char val[WORD_MAX];
    size_t vn = squeeze3(word, wn, val);
    esc__grow((void **)&m->typo_vals, &m->cap_typos, m->n_typos + 1,
              sizeof(str));
    m->typo_vals[m->n_typos].s = esc__xstrndup(val, vn);
    m->typo_vals[m->n_typos].len = (uint32_t)vn;
    m->n_typos++;
}

static uint64_t next_serial(void)
{
    static atomic_uint_fast64_t serial;
    return (uint64_t)atomic_fetch_add(&serial, 1) + 1;
}

/* ---- the word trie ------------------------------------------------------- */

static inline size_t edge_slot(uint64_t key, size_t cap)
{
    return (size_t)((key * 0x9E3779B97F4A7C15ull) >> 32) & (cap - 1);
}

/* The child of `node` by word id `word`, or 0. */
static inline uint32_t trie_child(const wtrie *t, uint32_t node, uint32_t word)
{
    if (t->edge_cap == 0)
        return 0;
    uint64_t key = (uint64_t)node << 32 | word;
    for (size_t i = edge_slot(key, t->edge_cap);; i = (i + 1) & (t->edge_cap - 1)) {
        if (t->edges[i].key == key)
            return t->edges[i].child;
        if (t->edges[i].key == 0)
            return 0;
    }
}

/* Whether the node whose node_lit is lit may have a child by word id
 * `word` (always, without the filter). */
static inline bool trie_may_have(const wtrie *t, uint32_t lit, uint32_t word)
{
    return !t->kid_filter ||
           (lit >> (t->kid_shift + (word & (t->kid_bits - 1))) & 1u);
}

/* Fills t->first once every literal is in. */
static void trie_index_roots(wtrie *t)
{
    /* Most walks end on a node without children (the last word of a
     * literal): the bit says so with the load of node_lit that the walk
     * makes anyway, instead of a probe of the edge table. */
    uint32_t max_lit = 0;
    for (size_t i = 0; i < t->n_nodes; i++)
        if (t->node_lit[i] > max_lit)
            max_lit = t->node_lit[i];
    uint32_t lit_bits = 1;
    while (lit_bits < 31 && max_lit >> lit_bits)
        lit_bits++;
    t->kid_bits = 31 - lit_bits >= 16 ? 16 : 31 - lit_bits >= 8 ? 8 : 0;
    t->kid_filter = t->kid_bits != 0;
    t->kid_shift = lit_bits;
    t->lit_mask = t->kid_filter ? (1u << lit_bits) - 1 : ~NODE_PARENT;
    for (size_t i = 0; i < t->edge_cap; i++) {
        uint64_t key = t->edges[i].key;
        if (!key)
            continue;
        t->node_lit[key >> 32] |= NODE_PARENT;
        if (t->kid_filter)
            t->node_lit[key >> 32] |=
                1u << (t->kid_shift + ((uint32_t)key & (t->kid_bits - 1)));
    }
    t->n_words = t->vocab.n + 2;
    for (int r = 0; r < 2; r++) {
        t->first[r] = esc__xcalloc(t->n_words, sizeof(uint32_t));
        for (size_t w = 0; w < t->n_words; w++)
            t->first[r][w] = trie_child(t, ROOT_STEM + (uint32_t)r,
                                        (uint32_t)w);
    }
}

static uint32_t trie_new_node(wtrie *t)
{
    esc__grow((void **)&t->node_lit, &t->cap_nodes, t->n_nodes + 1,
              sizeof(uint32_t));
    t->node_lit[t->n_nodes] = 0;
    return (uint32_t)t->n_nodes++;
}

static void trie_grow_edges(wtrie *t)
{
    size_t ncap = t->edge_cap ? t->edge_cap * 2 : 1024;
    wedge *ne = esc__xcalloc(ncap, sizeof(wedge));
    for (size_t i = 0; i < t->edge_cap; i++) {
        if (!t->edges[i].key)
            continue;
        size_t j = edge_slot(t->edges[i].key, ncap);
        while (ne[j].key)
            j = (j + 1) & (ncap - 1);
        ne[j] = t->edges[i];
    }
    free(t->edges);
    t->edges = ne;
    t->edge_cap = ncap;
}

/* The child of `node` by `word`, created when absent. */
static uint32_t trie_add_child(wtrie *t, uint32_t node, uint32_t word)
{
    uint32_t c = trie_child(t, node, word);
    if (c)
        return c;
    if ((t->n_edges + 1) * 2 > t->edge_cap)
        trie_grow_edges(t);
    c = trie_new_node(t);
    uint64_t key = (uint64_t)node << 32 | word;
    size_t i = edge_slot(key, t->edge_cap);
    while (t->edges[i].key)
        i = (i + 1) & (t->edge_cap - 1);
    t->edges[i].key = key;
    t->edges[i].child = c;
    t->n_edges++;
    return c;
}

/* Adds the literal " w1 w2 . w3 " (as literal_of() writes it) under `root`
 * as literal number `lit`. */
static void trie_add_literal(wtrie *t, uint32_t root, const char *s, size_t n,
                             uint32_t lit)
{
    uint32_t node = root;
    for (size_t i = 0; i < n;) {
        while (i < n && s[i] == ' ')
            i++;
        size_t j = i;
        while (j < n && s[j] != ' ')
            j++;
        if (j == i)
            break;
        uint32_t w = WORD_BREAK;
        if (!(j - i == 1 && s[i] == '.'))
            w = sm_put(&t->vocab, s + i, j - i, (uint32_t)t->vocab.n + 2, NULL);
        node = trie_add_child(t, node, w);
        i = j;
    }
    t->node_lit[node] = lit + 1;
}

static void trie_free(wtrie *t)
{
    sm_free(&t->vocab);
    free(t->edges);
    free(t->node_lit);
    free(t->first[0]);
    free(t->first[1]);
    memset(t, 0, sizeof(*t));
}

/* Moves the literals' targets of ls (numbered from `base`) into m. */
static void take_targets(esc__matcher *m, litset *ls, size_t base,
                         size_t *n_targets, size_t *cap_targets)
{
    if (ls->n_pairs > 1)
        qsort(ls->pairs, ls->n_pairs, sizeof(litpair), cmp_pair);
    size_t p = 0;
    for (size_t l = 0; l < ls->n; l++) {
        m->lit_first[base + l] = (uint32_t)*n_targets;
        m->lit_nwords[base + l] = ls->nwords[l];
        for (; p < ls->n_pairs && ls->pairs[p].lit == l; p++) {
            const litpair *lp = &ls->pairs[p];
            if (*n_targets > m->lit_first[base + l] &&
                m->targets[*n_targets - 1].id == lp->id) {
                /* The same phrase twice: negatable only if both are. */
                m->targets[*n_targets - 1].negatable &= lp->negatable;
                continue;
            }
            target t = {lp->id, lp->negatable};
            ESC__PUSH(m->targets, *n_targets, *cap_targets, t);
        }
    }
    m->lit_first[base + ls->n] = (uint32_t)*n_targets;
}

/* Whether a regular expression may hold an anchor: '^' outside the start
 * of a class, '$', or an escape \\A \\Z \\z \\G (conservative: a '$' or '^'
 * standing for itself inside a class counts too). */
static bool regex_anchored(const char *re)
{
    for (const char *c = re; *c; c++) {
        if (*c == '\\') {
            if (c[1] == 'A' || c[1] == 'Z' || c[1] == 'z' || c[1] == 'G')
                return true;
            if (c[1])
                c++;
        } else if (*c == '$' || (*c == '^' && (c == re || c[-1] != '['))) {
            return true;
        }
    }
    return false;
}

int esc__mb_build(esc__matcher_builder *b, esc__matcher **out, char *err,
                  size_t errlen)
{
    if (!b || !out) {
        set_err(err, errlen, "%s", "no builder");
        return ESC_EINVAL;
    }
    *out = NULL;
    esc__matcher *m = esc__xcalloc(1, sizeof(*m));
    m->serial = next_serial();

    /* The typo table: the policy's entries win over the built-in ones. */
    for (size_t i = 0; i + 1 < b->n_typos; i += 2)
        add_typo_entry(m, b->typos[i].s, b->typos[i].len, b->typos[i + 1].s,
                       b->typos[i + 1].len);
    tokbuf tb = {0};
    for (size_t i = 0; esc__text_builtin_typos[i]; i += 2) {
        str t, w;
        if (!esc__text_builtin_typos[i + 1])
            break;
        if (!one_word(b->stemmer, esc__text_builtin_typos[i], &t))
            continue;
        if (one_word(b->stemmer, esc__text_builtin_typos[i + 1], &w)) {
            add_typo_entry(m, t.s, t.len, w.s, w.len);
            free(w.s);
        }
        free(t.s);
    }

    formctx fc = {m, b->stemmer, NULL};
    strmap avoid = {0}, set = {0};

    /* Negators. */
    if (b->n_negators)
        for (size_t i = 0; i < b->n_negators; i++)
            add_forms(&fc, &tb, b->negators[i].s, &set);
    else
        for (size_t i = 0; esc__text_builtin_negators[i]; i++)
            add_forms(&fc, &tb, esc__text_builtin_negators[i], &set);
    m->negators = esc__xcalloc(set.n ? set.n : 1, sizeof(str));
    for (size_t i = 0; i < set.cap; i++) {
        if (!set.e[i].k)
            continue;
        m->negators[m->n_negators].s = esc__xstrndup(set.e[i].k,
                                                     set.e[i].klen);
        m->negators[m->n_negators].len = set.e[i].klen;
        m->n_negators++;
        sm_put(&avoid, set.e[i].k, set.e[i].klen, 0, NULL);
    }
    sm_free(&set);

    /* Stop words. */
    for (size_t i = 0; esc__text_stop_words[i]; i++)
        add_forms(&fc, &tb, esc__text_stop_words[i], &set);
    m->stop = esc__xcalloc(set.n ? set.n : 1, sizeof(uint64_t));
    for (size_t i = 0; i < set.cap; i++) {
        if (!set.e[i].k)
            continue;
        m->stop[m->n_stop++] = esc__hash64(set.e[i].k, set.e[i].klen);
        sm_put(&avoid, set.e[i].k, set.e[i].klen, 0, NULL);
    }
    if (m->n_stop > 1)
        qsort(m->stop, m->n_stop, sizeof(uint64_t), cmp_u64);
    sm_free(&set);

    /* Common words no variant may become. */
    for (size_t i = 0; esc__text_variant_deny[i]; i++)
        add_forms(&fc, &tb, esc__text_variant_deny[i], &avoid);

    /* Phrases: every word's form and spelling is avoided by variants. */
    pwords *pws = esc__xcalloc(b->n_phrases ? b->n_phrases : 1,
                               sizeof(pwords));
    for (size_t i = 0; i < b->n_phrases; i++) {
        tokenizer t = {0};
        t.fc = fc;
        t.tb = &tb;
        t.want_tokens = t.want_forms = t.want_exact = true;
        tokenize(&t, b->phrases[i].text, strlen(b->phrases[i].text));
        pwords_read(&tb, &pws[i]);
        for (size_t j = 0; j < pws[i].n; j++) {
            sm_put(&avoid, pws[i].form[j].s, pws[i].form[j].len, 0, NULL);
            sm_put(&avoid, pws[i].word[j].s, pws[i].word[j].len, 0, NULL);
        }
    }
    tokbuf_free(&tb);

    litset stem = {0}, exact = {0};
    esc__sb sb;
    esc__sb_init(&sb);
    for (size_t i = 0; i < b->n_phrases; i++) {
        const pwords *pw = &pws[i];
        if (pw->n == 0)
            continue;
        uint32_t id = b->phrases[i].id;
        unsigned flags = b->phrases[i].flags;
        bool neg = (flags & ESC__PHRASE_NEGATABLE) != 0;
        if (flags & ESC__PHRASE_EXACT) {
            literal_of(pw, true, 0, NULL, 0, &sb);
            litset_add(&exact, sb.buf, sb.len, (uint32_t)pw->n, id, neg);
            continue;
        }
        literal_of(pw, false, 0, NULL, 0, &sb);
        litset_add(&stem, sb.buf, sb.len, (uint32_t)pw->n, id, neg);
        variant_ctx v = {.m = m, .stemmer = b->stemmer, .avoid = &avoid,
                         .pw = pw, .id = id, .negatable = neg, .ls = &stem,
                         .sb = &sb};
        phrase_variants(&v);
    }
    esc__sb_free(&sb);
    for (size_t i = 0; i < b->n_phrases; i++)
        pwords_free(&pws[i]);
    free(pws);
    sm_free(&avoid);

    int rc = 0;
    for (uint32_t node = 0; node <= ROOT_EXACT; node++)
        trie_new_node(&m->trie);
    for (size_t i = 0; i < stem.n; i++)
        trie_add_literal(&m->trie, ROOT_STEM, stem.lits[i].s, stem.lits[i].len,
                         (uint32_t)i);
    for (size_t i = 0; i < exact.n; i++)
        trie_add_literal(&m->trie, ROOT_EXACT, exact.lits[i].s,
                         exact.lits[i].len, (uint32_t)(stem.n + i));
    trie_index_roots(&m->trie);

    m->n_lit_stem = stem.n;
    m->n_lit_exact = exact.n;
    size_t nl = stem.n + exact.n;
    m->lit_first = esc__xcalloc(nl + 1, sizeof(uint32_t));
    m->lit_nwords = esc__xcalloc(nl + 1, sizeof(uint32_t));
    size_t n_targets = 0, cap_targets = 0;
    take_targets(m, &stem, 0, &n_targets, &cap_targets);
    take_targets(m, &exact, stem.n, &n_targets, &cap_targets);
    litset_free(&stem);
    litset_free(&exact);

    if (rc == 0 && b->n_regexes) {
        size_t n = b->n_regexes;
        const char **exprs = esc__xmalloc(n * sizeof(*exprs));
        unsigned *flags = esc__xmalloc(n * sizeof(*flags));
        unsigned *ids = esc__xmalloc(n * sizeof(*ids));
        m->re_ids = esc__xmalloc(n * sizeof(uint32_t));
        for (size_t i = 0; i < n; i++) {
            exprs[i] = b->regexes[i].re;
            flags[i] = RE_FLAGS;
            ids[i] = (unsigned)i;
            m->re_ids[i] = b->regexes[i].id;
        }
        m->n_re = n;
        m->re_joinable = true;
        for (size_t i = 0; i < n; i++)
            m->re_joinable &= !regex_anchored(exprs[i]);
        hs_compile_error_t *ce = NULL;
        hs_error_t hrc = hs_compile_multi(exprs, flags, ids, (unsigned)n,
                                          HS_MODE_BLOCK, NULL, &m->re_db, &ce);
        if (hrc == HS_SUCCESS) {
            for (size_t i = 0; i < n; i++)
                flags[i] = RE_PREFILTER_FLAGS;
            hrc = hs_compile_multi(exprs, flags, ids, (unsigned)n,
                                   HS_MODE_BLOCK, NULL, &m->re_pre, &ce);
        }
        if (hrc != HS_SUCCESS) {
            char msg[512];
            snprintf(msg, sizeof(msg), "regex \"%s\": %s",
                     ce && ce->expression >= 0 && (size_t)ce->expression < n
                         ? exprs[ce->expression]
                         : "?",
                     ce && ce->message ? ce->message : "cannot compile");
            set_err(err, errlen, "%s", msg);
            hs_free_compile_error(ce);
            rc = ESC_EMATCH;
        }
        free(exprs);
        free(flags);
        free(ids);
    }
    if (rc != 0) {
        esc__matcher_free(&m);
        return rc;
    }
    *out = m;
    return 0;
}

void esc__matcher_free(esc__matcher **mp)
{
    if (!mp || !*mp)
        return;
    esc__matcher *m = *mp;
    hs_free_database(m->re_db);
    hs_free_database(m->re_pre);
    trie_free(&m->trie);
    free(m->lit_nwords);
    free(m->lit_first);
    free(m->targets);
    free(m->re_ids);
    sm_free(&m->typos);
    for (size_t i = 0; i < m->n_typos; i++)
        free(m->typo_vals[i].s);
    free(m->typo_vals);
    for (size_t i = 0; i < m->n_negators; i++)
        free(m->negators[i].s);
    free(m->negators);
    free(m->stop);
    free(m);
    *mp = NULL;
}

size_t esc__matcher_literal_count(const esc__matcher *m)
{
    return m ? m->n_lit_stem + m->n_lit_exact : 0;
}

size_t esc__matcher_regex_count(const esc__matcher *m)
{
    return m ? m->n_re : 0;
}

/* ---- scratch ------------------------------------------------------------- */

/* Sizes s for m; returns false when Vectorscan cannot. */
static bool scratch_bind(esc__scratch *s, const esc__matcher *m)
{
    if (s->serial == m->serial)
        return true;
    if (m->re_db && (hs_alloc_scratch(m->re_db, &s->hs) != HS_SUCCESS ||
                     hs_alloc_scratch(m->re_pre, &s->hs) != HS_SUCCESS))
        return false;
    if (m->n_re > s->cap_re_last)
        esc__grow((void **)&s->re_last, &s->cap_re_last, m->n_re,
                  sizeof(size_t));
    memset(s->cache, 0, CACHE_SLOTS * sizeof(cache_ent));
    s->serial = m->serial;
    return true;
}

/* The word cache, zeroed, each set of two entries on one cache line of its
 * own (calloc() of half a megabyte returns memory 16 bytes past a page
 * boundary, which would put every set across two lines). */
static cache_ent *cache_new(void)
{
    _Static_assert(2 * sizeof(cache_ent) == 64, "a word cache set is one line");
    cache_ent *c = aligned_alloc(64, CACHE_SLOTS * sizeof(cache_ent));
    if (!c) {
        fputs("escalator: out of memory\n", stderr);
        abort();
    }
    memset(c, 0, CACHE_SLOTS * sizeof(cache_ent));
    return c;
}

esc__scratch *esc__scratch_new(const esc__matcher *m)
{
    if (!m)
        return NULL;
    esc__scratch *s = esc__xcalloc(1, sizeof(*s));
    s->stemmer = new_stemmer();
    s->cache = cache_new();
    if (!scratch_bind(s, m))
        esc__scratch_free(&s);
    return s;
}

void esc__scratch_free(esc__scratch **sp)
{
    if (!sp || !*sp)
        return;
    esc__scratch *s = *sp;
    hs_free_scratch(s->hs);
    sb_stemmer_delete(s->stemmer);
    tokbuf_free(&s->tb);
    free(s->cache);
    free(s->hits);
    free(s->re_last);
    free(s->hashes);
    free(s->joined.p);
    free(s->ends);
    free(s);
    *sp = NULL;
}

/* ---- scanning ------------------------------------------------------------ */

typedef struct scan_ctx {
    const esc__matcher *m;
    esc__scratch *s;
    const char *text;
    size_t len;
} scan_ctx;

static void push_hit(esc__scratch *s, uint32_t id, size_t start, size_t end,
                     bool negated, bool regex)
{
    esc__hit h = {id, start, end, negated, regex};
    ESC__PUSH(s->hits, s->n_hits, s->cap_hits, h);
}

static bool negated_at(const tokbuf *tb, size_t first)
{
    uint32_t clause = tb->toks[first].clause;
    for (size_t k = 1; k <= NEG_WINDOW && k <= first; k++) {
        const tok *t = &tb->toks[first - k];
        if (t->clause != clause)
            break;
        if (t->neg)
            return true;
    }
    return false;
}

/* Reports literal `lit`, whose last word is token `last`, for each of its
 * targets. */
static void on_literal(scan_ctx *c, uint32_t lit, size_t last)
{
    const esc__matcher *m = c->m;
    const tokbuf *tb = &c->s->tb;
    size_t nw = m->lit_nwords[lit];
    if (nw == 0 || nw > last + 1)
        return;
    size_t first = last + 1 - nw;
    for (uint32_t i = m->lit_first[lit]; i < m->lit_first[lit + 1]; i++) {
        const target *t = &m->targets[i];
        bool neg = t->negatable && negated_at(tb, first);
        push_hit(c->s, t->id, tb->toks[first].ostart, tb->toks[last].oend, neg,
                 false);
    }
}

/*
 * Finds every literal under `root` whose words are consecutive tokens, a
 * sentence break between two tokens counting as the word ".": the hits a
 * literal database would report on the stream " f1 f2 . f3 " (the stem
 * stream, or with `exact` the exact stream).
 */
static void match_words(scan_ctx *c, uint32_t root, bool exact)
{
    const wtrie *t = &c->m->trie;
    const tokbuf *tb = &c->s->tb;
    const tok *toks = tb->toks;
    const uint32_t *first = t->first[root - ROOT_STEM];
    for (size_t k = 0; k < tb->n; k++) {
        uint32_t id = exact ? toks[k].xid : toks[k].sid;
        uint32_t node = first[id];
        for (size_t j = k; node;) {
            uint32_t lit = t->node_lit[node];
            if (lit & t->lit_mask)
                on_literal(c, (lit & t->lit_mask) - 1, j);
            if (!(lit & NODE_PARENT) || ++j >= tb->n)
                break;
            id = exact ? toks[j].xid : toks[j].sid;
            if (id == WORD_NONE)
                break;
            if (toks[j].brk) {
                if (!trie_may_have(t, lit, WORD_BREAK))
                    break;
                node = trie_child(t, node, WORD_BREAK);
                if (!node)
                    break;
                lit = t->node_lit[node];
            }
            if (!trie_may_have(t, lit, id))
                break;
            node = trie_child(t, node, id);
        }
    }
}

/* Length of the original code point at text[i] (1 for an invalid byte). */
static size_t cp_len(const char *text, size_t len, size_t i)
{
    utf8proc_int32_t cp;
    utf8proc_ssize_t n = utf8proc_iterate((const utf8proc_uint8_t *)text + i,
                                          (utf8proc_ssize_t)(len - i), &cp);
    return n > 0 ? (size_t)n : 1;
}

static int on_regex(unsigned int id, unsigned long long from,
                    unsigned long long to, unsigned int flags, void *ctx)
{
    (void)flags;
    scan_ctx *c = ctx;
    esc__scratch *s = c->s;
    const tokbuf *tb = &s->tb;
    if (to <= from || to > tb->norm.len)
        return 0;
    size_t start = tb->map[from];
    size_t last = tb->map[to - 1];
    size_t end = last + cp_len(c->text, c->len, last);
    if (to < tb->norm.len && tb->map[to] > end)
        end = tb->map[to]; /* marks stripped after the last code point */
    else if (to == tb->norm.len)
        end = c->len;
    size_t *prev = &s->re_last[id];
    if (*prev != SIZE_MAX && s->hits[*prev].start == start) {
        /* The same match growing: keep the longest. */
        if (end > s->hits[*prev].end)
            s->hits[*prev].end = end;
        return 0;
    }
    *prev = s->n_hits;
    push_hit(s, c->m->re_ids[id], start, end, false, true);
    return 0;
}

/* Stops the first pass at its first match. */
static int on_any_match(unsigned int id, unsigned long long from,
                        unsigned long long to, unsigned int flags, void *ctx)
{
    (void)id, (void)from, (void)to, (void)flags, (void)ctx;
    return 1;
}

static int cmp_hit(const void *a, const void *b)
{
    const esc__hit *x = a, *y = b;
    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    if (x->start != y->start)
        return x->start > y->start ? -1 : 1; /* shorter first */
    if (x->id != y->id)
        return x->id < y->id ? -1 : 1;
    if (x->regex != y->regex)
        return x->regex ? 1 : -1;
    return 0;
}

int esc__scan(const esc__matcher *m, esc__scratch *s, const char *text,
              size_t len, esc__hit_fn fn, void *ud)
{
    return esc__scan_ex(m, s, text, len, 0, fn, ud);
}

typedef struct prefilter_ctx {
    const size_t *ends;
    size_t n;
    bool *may_match;
    bool *found;
    size_t marked;
} prefilter_ctx;

/* Marks the text a match ends in; stops once every text is marked. */
static int on_prefilter(unsigned int id, unsigned long long from,
                        unsigned long long to, unsigned int flags, void *ctx)
{
    (void)id, (void)from, (void)flags;
    prefilter_ctx *c = ctx;
    size_t lo = 0, hi = c->n;
    while (lo < hi) { /* the first text ending at or after `to` */
        size_t mid = lo + (hi - lo) / 2;
        if (c->ends[mid] < to)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < c->n && !c->may_match[lo]) {
        c->may_match[lo] = true;
        if (c->found)
            c->found[lo] = true;
        c->marked++;
    }
    return c->marked == c->n;
}

int esc__regex_prefilter(const esc__matcher *m, esc__scratch *s,
                         const char *const *texts, const size_t *lens,
                         size_t n, bool *may_match, bool *found)
{
    if (!m || !s || (n && (!texts || !lens || !may_match)))
        return ESC_EINVAL;
    if (!scratch_bind(s, m))
        return ESC_EMATCH;
    s->scanned = SCANNED_NONE;
    bool all = !m->re_joinable;
    for (size_t i = 0; i < n; i++)
        may_match[i] = all;
    if (found)
        for (size_t i = 0; i < n; i++)
            found[i] = false;
    if (!m->re_db || all || n == 0)
        return 0;
    if (n > s->cap_ends)
        esc__grow((void **)&s->ends, &s->cap_ends, n, sizeof(size_t));
    /* ASCII texts, each followed by a line break; a text that is not ASCII
     * is normalised before its own scan, so it is only marked. */
    s->joined.len = 0;
    prefilter_ctx c = {s->ends, n, may_match, found, 0};
    for (size_t i = 0; i < n; i++) {
        if (!all_ascii(texts[i], lens[i]) ||
            lens[i] > TEXT_MAX - s->joined.len - 1) {
            may_match[i] = true;
            c.marked++;
        } else {
            buf_put(&s->joined, texts[i], lens[i]);
        }
        s->ends[i] = s->joined.len;
        buf_putc(&s->joined, '\n');
    }
    if (c.marked == n)
        return 0;
    hs_error_t rc = hs_scan(m->re_pre, s->joined.p, (unsigned)s->joined.len,
                            0, s->hs, on_prefilter, &c);
    if (rc != HS_SUCCESS && rc != HS_SCAN_TERMINATED) {
        for (size_t i = 0; i < n; i++)
            may_match[i] = true;
        return ESC_EMATCH;
    }
    return 0;
}

int esc__scan_ex(const esc__matcher *m, esc__scratch *s, const char *text,
                 size_t len, unsigned flags, esc__hit_fn fn, void *ud)
{
    if (!m || !s)
        return ESC_EINVAL;
    s->scanned = SCANNED_NONE;
    if (!text && len)
        return ESC_EINVAL;
    if (len > TEXT_MAX)
        return ESC_ELIMIT;
    if (!scratch_bind(s, m))
        return ESC_EMATCH;
    s->n_hits = 0;
    if (len == 0)
        s->scanned = SCANNED_EMPTY;
    bool lits = m->n_lit_stem || m->n_lit_exact;
    if (len == 0 || (!lits && !(m->re_db && !(flags & ESC__SCAN_NO_REGEX_MATCH))))
        return 0;

    /* The normalised text of an ASCII text is the text in lower case, which
     * the case-insensitive first pass can read as it is: it is built only
     * when that pass finds something. */
    bool regexes = m->re_db && !(flags & ESC__SCAN_NO_REGEX_MATCH);
    bool ascii = regexes && all_ascii(text, len);
    tokenizer t = {0};
    t.fc.m = m;
    t.fc.stemmer = s->stemmer;
    t.fc.cache = s->cache;
    t.tb = &s->tb;
    t.want_tokens = lits;
    /* No streams: the walk, the negation test and the content hashes read
     * the tokens alone. */
    t.want_norm = regexes && !ascii;
    tokenize(&t, text, len);
    if (lits)
        s->scanned = SCANNED_WORDS;

    const tokbuf *tb = &s->tb;
    scan_ctx c = {m, s, text, len};
    if (m->n_lit_stem && tb->n)
        match_words(&c, ROOT_STEM, false);
    if (m->n_lit_exact && tb->n)
        match_words(&c, ROOT_EXACT, true);
    if (regexes && (ascii || tb->norm.len)) {
        /* Most texts match no expression: the cheap database says so,
         * unless it already found one in this text, joined with others. */
        hs_error_t rc = HS_SCAN_TERMINATED;
        if (!ascii || !(flags & ESC__SCAN_REGEX_FOUND))
            rc = hs_scan(m->re_pre, ascii ? text : tb->norm.p,
                         (unsigned)(ascii ? len : tb->norm.len), 0, s->hs,
                         on_any_match, NULL);
        if (rc == HS_SCAN_TERMINATED) {
            if (ascii)
                norm_ascii(&s->tb, text, len);
            for (size_t i = 0; i < m->n_re; i++)
                s->re_last[i] = SIZE_MAX;
            rc = hs_scan(m->re_db, tb->norm.p, (unsigned)tb->norm.len, 0,
                         s->hs, on_regex, &c);
        }
        if (rc != HS_SUCCESS)
            return ESC_EMATCH;
    }

    size_t n = s->n_hits;
    if (n > 1) {
        qsort(s->hits, n, sizeof(esc__hit), cmp_hit);
        size_t o = 0;
        for (size_t i = 0; i < n; i++) {
            esc__hit *h = &s->hits[i];
            if (o > 0) {
                esc__hit *p = &s->hits[o - 1];
                if (p->id == h->id && p->start == h->start &&
                    p->end == h->end) {
                    p->negated = p->negated && h->negated;
                    p->regex = p->regex && h->regex;
                    continue;
                }
            }
            s->hits[o++] = *h;
        }
        n = s->n_hits = o;
    }
    for (size_t i = 0; i < n; i++)
        if (fn && fn(ud, &s->hits[i]) != 0)
            break;
    return 0;
}

/* ---- message features ---------------------------------------------------- */

/* ASCII classes for esc__text_shouting(): letter bits, or '!' and '?'. */
enum { SH_LETTER = 1, SH_UPPER = 2, SH_MARK = 4 };
static const unsigned char shout_class[128] = {
    ['!'] = SH_MARK, ['?'] = SH_MARK,
    ['A'] = 3, ['B'] = 3, ['C'] = 3, ['D'] = 3, ['E'] = 3, ['F'] = 3, ['G'] = 3,
    ['H'] = 3, ['I'] = 3, ['J'] = 3, ['K'] = 3, ['L'] = 3, ['M'] = 3, ['N'] = 3,
    ['O'] = 3, ['P'] = 3, ['Q'] = 3, ['R'] = 3, ['S'] = 3, ['T'] = 3, ['U'] = 3,
    ['V'] = 3, ['W'] = 3, ['X'] = 3, ['Y'] = 3, ['Z'] = 3,
    ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1,
    ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1,
    ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1,
    ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1,
};

void esc__text_shouting(const char *text, size_t len, esc__shouting *out)
{
    size_t letters = 0, upper = 0;
    unsigned run = 0, best = 0;
    const unsigned char *p = (const unsigned char *)text;
    size_t i = 0;
    while (text && i < len) {
#if defined(__GNUC__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        /* Eight ASCII bytes without '!' or '?' at a time: count their
         * letters with per-byte range tests (b + 0x80 - lo has its top bit
         * set when b >= lo; no carry crosses a byte below 0x80). */
        if (i + 8 <= len) {
            const uint64_t ones = 0x0101010101010101ull;
            const uint64_t high = 0x8080808080808080ull;
            uint64_t x;
            memcpy(&x, p + i, 8);
            uint64_t ex = x ^ (ones * '!'), qu = x ^ (ones * '?');
            if (!((x | ((ex - ones) & ~ex) | ((qu - ones) & ~qu)) & high)) {
                uint64_t lo = (x + ones * (0x80 - 'a')) & ~(x + ones * (0x80 - 'z' - 1));
                uint64_t up = (x + ones * (0x80 - 'A')) & ~(x + ones * (0x80 - 'Z' - 1));
                lo &= high;
                up &= high;
                /* Count the marked bytes: one bit each, summed by a multiply. */
                letters += (size_t)((((lo | up) >> 7) * ones) >> 56);
                upper += (size_t)(((up >> 7) * ones) >> 56);
                run = 0;
                i += 8;
                continue;
            }
        }
#endif
        unsigned char c = p[i];
        if (c < 0x80) {
            /* ASCII: a class per byte, kept branch-free for letters. */
            unsigned k = shout_class[c];
            if (k == SH_MARK) {
                if (++run > best)
                    best = run;
            } else {
                run = 0;
                letters += k & SH_LETTER;
                upper += (k & SH_UPPER) >> 1;
            }
            i++;
            continue;
        }
        utf8proc_int32_t cp;
        utf8proc_ssize_t n = utf8proc_iterate(p + i, (utf8proc_ssize_t)(len - i),
                                              &cp);
        if (n <= 0) {
            run = 0;
            i++;
            continue;
        }
        i += (size_t)n;
        if (cp == 0xFF01 || cp == 0xFF1F || cp == 0x203C || cp == 0x2049 ||
            cp == 0x2048) {
            /* fullwidth ! ?, and the double marks !! !? ?! */
            run += cp >= 0x2000 && cp < 0x3000 ? 2 : 1;
            if (run > best)
                best = run;
            continue;
        }
        run = 0;
        switch (utf8proc_category(cp)) {
        case UTF8PROC_CATEGORY_LU:
        case UTF8PROC_CATEGORY_LT:
            letters++, upper++;
            break;
        case UTF8PROC_CATEGORY_LL:
        case UTF8PROC_CATEGORY_LM:
        case UTF8PROC_CATEGORY_LO:
            letters++;
            break;
        default:
            break;
        }
    }
    if (!out)
        return;
    out->caps_ratio = letters >= 12 ? (double)upper / (double)letters : 0.0;
    out->exclaim_run = best;
}

/* Sorts v[0..n) in ascending order, tmp having room for n values: runs of
 * eight by insertion, then merged in rounds. The arrays are a message's
 * words, a few dozen: qsort()'s calls of a comparison function cost more
 * than the comparisons. */
static void sort_u64(uint64_t *v, uint64_t *tmp, size_t n)
{
    enum { RUN = 8 };
    for (size_t lo = 0; lo < n; lo += RUN) {
        size_t hi = n - lo > RUN ? lo + RUN : n;
        for (size_t i = lo + 1; i < hi; i++) {
            uint64_t x = v[i];
            size_t j = i;
            for (; j > lo && v[j - 1] > x; j--)
                v[j] = v[j - 1];
            v[j] = x;
        }
    }
    uint64_t *src = v, *dst = tmp;
    for (size_t w = RUN; w < n; w *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * w) {
            size_t mid = n - lo > w ? lo + w : n;
            size_t hi = n - mid > w ? mid + w : n;
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi) {
                bool right = src[j] < src[i];
                dst[k++] = right ? src[j] : src[i];
                j += right;
                i += !right;
            }
            while (i < mid)
                dst[k++] = src[i++];
            while (j < hi)
                dst[k++] = src[j++];
        }
        uint64_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != v)
        memcpy(v, src, n * sizeof(*v));
}

/* The content hashes of the token table in s->tb (see esc__text_content). */
static size_t content_hashes(esc__scratch *s,
                             uint64_t *out, size_t max)
{
    const tokbuf *tb = &s->tb;
    /* The hashes, then as much room for sort_u64(). */
    if (2 * tb->n > s->cap_hashes)
        esc__grow((void **)&s->hashes, &s->cap_hashes, 2 * tb->n,
                  sizeof(uint64_t));
    size_t n = 0;
    for (size_t i = 0; i < tb->n; i++)
        if (!tb->toks[i].stop)
            s->hashes[n++] = tb->toks[i].ch;
    if (n > 1)
        sort_u64(s->hashes, s->hashes + tb->n, n);
    size_t o = 0;
    for (size_t i = 0; i < n; i++)
        if (o == 0 || s->hashes[o - 1] != s->hashes[i])
            s->hashes[o++] = s->hashes[i];
    if (o > max)
        o = max;
    if (out && o)
        memcpy(out, s->hashes, o * sizeof(uint64_t));
    return out ? o : 0;
}

size_t esc__text_content(const esc__matcher *m, esc__scratch *s,
                         const char *text, size_t len, uint64_t *out,
                         size_t max)
{
    if (!m || !s || !text || len == 0 || len > TEXT_MAX)
        return 0;
    if (!scratch_bind(s, m))
        return 0;
    s->scanned = SCANNED_NONE;
    tokenizer t = {0};
    t.fc.m = m;
    t.fc.stemmer = s->stemmer;
    t.fc.cache = s->cache;
    t.tb = &s->tb;
    t.want_tokens = true;
    tokenize(&t, text, len);
    return content_hashes(s, out, max);
}

bool esc__scan_content(const esc__matcher *m, esc__scratch *s, uint64_t *out,
                       size_t max, size_t *n)
{
    if (!m || !s || s->serial != m->serial)
        return false;
    switch (s->scanned) {
    case SCANNED_EMPTY:
        *n = 0;
        return true;
    case SCANNED_WORDS:
        *n = content_hashes(s, out, max);
        return true;
    default:
        return false;
    }
}
