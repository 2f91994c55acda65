/*
 * lexicon.c - the built-in word lists of the text matcher: the `lexicon:`
 * signals (profanity, anger), the chat typo table, the negators, the stop
 * words left out of message content, and the common words that a typo
 * variant must never turn into.
 *
 * Every list is NULL-terminated. Entries are written in lower case without
 * accents; they go through the same normalisation as customer text, so
 * apostrophes may be left out ("dont") or kept ("don't").
 */
#include <stddef.h>

#include "text.h"

/* Profanity, including the usual masked and abbreviated spellings. Phrases
 * are stemmed like policy phrases, so "fuck" also covers "fucked". */
static const char *const profanity[] = {
    "fuck", "fucking", "fucker", "fuckin", "motherfucker", "mofo",
    "f*ck", "f**k", "f*cking", "f**king", "f*cked", "fck", "fcking", "fk",
    "fkn", "fuk", "fukin", "effing", "frigging",
    "shit", "shitty", "bullshit", "sh*t", "s**t", "sh1t", "shite", "bs",
    "crap", "crappy", "bullcrap",
    "damn", "dammit", "damn it", "goddamn", "god damn",
    "ass", "asshole", "a**hole", "arsehole", "dumbass", "jackass", "smartass",
    "bitch", "b*tch", "son of a bitch", "bastard",
    "piss off", "pissed off", "screw you", "screw this",
    "wtf", "stfu", "ffs", "omfg", "gtfo",
    "what the hell", "go to hell", "bloody hell",
    "dickhead", "wanker", "bollocks", "twat", "douchebag", "scumbag",
    NULL};

/* Anger and frustration: words and phrases customers use when a ticket is
 * about to go wrong. */
static const char *const anger[] = {
    "furious", "livid", "fuming", "outraged", "outrageous", "angry",
    "pissed", "annoyed", "frustrated", "frustrating", "infuriating",
    "unacceptable", "ridiculous", "absurd", "insane", "ludicrous",
    "pathetic", "disgraceful", "disgusting", "appalling", "shameful",
    "terrible", "horrible", "horrendous", "awful", "atrocious", "worst",
    "useless", "worthless", "hopeless", "incompetent", "incompetence",
    "clueless", "unprofessional", "joke", "is this a joke", "scam",
    "scammed", "scammers", "fraud", "rip off", "ripoff", "ripped off",
    "robbery", "thieves", "liars", "lied to me", "fed up", "sick of",
    "sick and tired", "tired of", "had enough", "enough is enough",
    "last straw", "waste of time", "waste of money", "wasted my time",
    "fix this now", "fix it now", "do your job", "are you kidding",
    "are you serious", "you people", "never again", "lost my patience",
    "out of patience", "how many times", "nobody cares", "no one cares",
    "stupid", "idiot", "idiots", "moron", "clowns", "garbage", "rubbish",
    "disappointed", "beyond frustrated",
    NULL};

/* Chat spellings and frequent misspellings, as pairs: typo, intended word.
 * Both single words. Doubled-letter slips ("reffund") need no entry: the
 * normalisation squeezes them. */
const char *const esc__text_builtin_typos[] = {
    "pls", "please",        "plz", "please",       "plse", "please",
    "plez", "please",       "u", "you",            "ya", "you",
    "yu", "you",            "ur", "your",          "r", "are",
    "thx", "thanks",        "thnx", "thanks",      "thanx", "thanks",
    "tnx", "thanks",        "mgr", "manager",      "mngr", "manager",
    "mangr", "manager",     "managr", "manager",   "supervsr", "supervisor",
    "acct", "account",      "acc", "account",      "accnt", "account",
    "cancle", "cancel",     "cansel", "cancel",    "cancl", "cancel",
    "refnd", "refund",      "rfnd", "refund",      "refun", "refund",
    "recieve", "receive",   "recieved", "received", "recive", "receive",
    "wierd", "weird",       "definately", "definitely",
    "seperate", "separate", "untill", "until",     "becuase", "because",
    "becasue", "because",   "bc", "because",       "cuz", "because",
    "coz", "because",       "bcuz", "because",     "b4", "before",
    "msg", "message",       "pwd", "password",     "pw", "password",
    "passwrd", "password",  "pswd", "password",    "txn", "transaction",
    "pymt", "payment",      "pmt", "payment",      "amt", "amount",
    "ppl", "people",        "srsly", "seriously",  "smth", "something",
    "sth", "something",     "rly", "really",       "abt", "about",
    "tmrw", "tomorrow",     "tmr", "tomorrow",     "2day", "today",
    "wat", "what",          "wut", "what",         "tho", "though",
    "thru", "through",      "gonna", "going",      "wanna", "want",
    "hrs", "hours",         "mins", "minutes",     "yrs", "years",
    "cust", "customer",     "svc", "service",      "urself", "yourself",
    "govt", "government",   "dnt", "dont",         "dosnt", "doesnt",
    NULL};

/* Words that cancel the intent of what follows ("I'm not going to sue").
 * "cant" and "cannot" are left out on purpose: inability is not negation of
 * intent ("I can't log in" is still about logging in). */
const char *const esc__text_builtin_negators[] = {
    "not", "no", "never", "dont", "doesnt", "didnt", "wont", "wouldnt",
    "isnt", "arent", "wasnt", "werent", "havent", "hasnt", "nor", "neither",
    "without", NULL};

/* Function words: they carry no content of their own. */
const char *const esc__text_stop_words[] = {
    "a", "an", "the", "and", "or", "but", "if", "then", "so", "because",
    "of", "to", "in", "on", "at", "by", "for", "with", "from", "about",
    "as", "into", "onto", "over", "under", "up", "down", "out", "off",
    "than", "too", "very", "just", "also", "again", "still", "already",
    "even", "yet", "i", "me", "my", "mine", "myself", "we", "us", "our",
    "ours", "you", "your", "yours", "yourself", "he", "him", "his", "she",
    "her", "hers", "it", "its", "they", "them", "their", "theirs", "this",
    "that", "these", "those", "there", "here", "what", "which", "who",
    "whom", "whose", "when", "where", "why", "how", "is", "am", "are", "was",
    "were", "be", "been", "being", "do", "does", "did", "doing", "done",
    "have", "has", "had", "having", "get", "got", "will", "would", "shall",
    "should", "can", "could", "may", "might", "must", "im", "ive", "id",
    "ill", "youre", "thats", "theres", "not", "no", "nor", "dont", "doesnt",
    "didnt", "isnt", "arent", "wasnt", "werent", "havent", "hasnt", "wont",
    "wouldnt", "cant", "cannot", "any", "some", "all", "each", "every",
    "both", "other", "such", "only", "own", "same", "more", "most", "now",
    "ok", "okay", "please", "hi", "hello", "hey", "thanks", "thank", "yes",
    "yeah", "really", NULL};

/* Common words that sit one dropped or swapped letter away from words that
 * policies and the lexicons use ("lawyer" -> "layer", "contract" ->
 * "contact", "threat" -> "treat"). A typo variant whose form equals the form
 * of one of them is not generated. Variants of fewer than five letters are
 * never generated, so shorter words need no entry. */
const char *const esc__text_variant_deny[] = {
    "abroad", "angel", "angle", "beach", "beard", "bling", "block",
    "board", "bread", "broad", "casual", "causal", "cloud", "compliant",
    "complaint", "contact", "contract", "costume", "county", "country",
    "dagger", "dairy", "diary", "desert", "dessert", "elect", "except",
    "expect", "explanation", "feral", "forth", "forum", "fried", "fired",
    "garage", "inter", "layer", "lawyer", "manger", "manager", "marital",
    "martial", "medal", "metal", "medial", "model", "moral", "mortal",
    "notice", "outage", "perfect", "prefect", "pubic", "public",
    "quiet", "quite", "reception", "relay", "reply", "represent",
    "sacred", "scared", "sever", "server", "severe", "silver", "sliver",
    "spend", "split", "spilt", "sport", "support", "stable", "table",
    "sting", "though", "thought", "through", "trough", "threat", "treat",
    "trace", "track", "trail", "trial", "untied", "united", "weird",
    "wired", "widow", "window", "worth", "wrath", "world", "would",
    "could", "should", "price", "pride", "prize", "refuse", "refuge",
    "course", "source", "curse", "loose", "close", "clothes", "filling",
    "filing", "order", "border", "delay", "decay", "relied", "replied",
    "related", "hated", "heated", "cheated", "angry", "agony", "hungry",
    "furious", "curious", "shirt", "short", "horse", "worse", "worst",
    "posted", "pasted", "tasted", "wasted", "waited", "wanted", "limited",
    "suite", "unless", "useless", "update", "stupid", "batch", "custard",
    "mustard", "idiom", "spending", "sporting", "blocking", "treating",
    "tracing", "contacting", "noticed", "treated", "traced", "blocked",
    "contacted", "spent", "sports", "beaches", "layers", "notices",
    "representation", "numerous", "numeric", "notify", "discontent",
    NULL};

const char *const *esc__lexicon_words(esc__lexicon lex)
{
    switch (lex) {
    case ESC__LEX_PROFANITY:
        return profanity;
    case ESC__LEX_ANGER:
        return anger;
    case ESC__LEX_COUNT:
        break;
    }
    return NULL;
}

const char *esc__lexicon_name(esc__lexicon lex)
{
    switch (lex) {
    case ESC__LEX_PROFANITY:
        return "profanity";
    case ESC__LEX_ANGER:
        return "anger";
    case ESC__LEX_COUNT:
        break;
    }
    return NULL;
}
