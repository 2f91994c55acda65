#!/usr/bin/env node
/*
 * run.js - the json-rules-engine peer: decides every ticket of a JSONL
 * corpus with the rules of meow-rules.js and reports its throughput.
 *
 *   node bench/peer/run.js CORPUS.jsonl [--limit N] [--parsed] [--out DECISIONS.jsonl]
 *
 * Per ticket, end to end as `escalator triage --jsonl` does it: JSON.parse
 * the line, build the facts, engine.run() (one engine, built once), combine
 * the fired rules and suppressions into a decision {ticket, escalate,
 * priority, targets}. With --parsed every line is parsed first and only the
 * rest is timed (the counterpart of bench_engine). With --out the decisions
 * are written one a line (for compare.js); the timing then includes writing
 * them.
 *
 * The `signal` operator answers "does this signal hold for this ticket".
 * Each message is read once into its words, lower case, accents and inner
 * apostrophes dropped, joined by single spaces (" i want a refund . now "),
 * sentence breaks as ".", commas as ","; each signal's phrases are one
 * regular expression over that (common inflections -s, -es, -ed, -ing
 * allowed; the first article of a phrase may vary; a comma may sit between
 * two words), its own regexes run over the lower-cased text, and, for
 * signals with negation, escalator's window applies ("not" ... up to three
 * words before a phrase, in the same clause, cancels it). Answers are
 * cached per ticket and signal, which spares the peer the repeated
 * evaluation of a signal read by several rules.
 *
 * Prints "run: N tickets in S s: R tickets/s" and a RESULT line in the
 * format of bench/common.h, named peer_json_rules_engine (peer_engine_only
 * with --parsed).
 */
'use strict';

const fs = require('fs');
const path = require('path');
const { Engine } = require('json-rules-engine');
const { RULES, SUPPRESSIONS, FIELDS, decide } = require('./meow-rules');

const SIGNALS = JSON.parse(fs.readFileSync(path.join(__dirname, 'meow-signals.json'), 'utf8'));

/* escalator's built-in negators and first-article variants. */
const NEGATORS = new Set(['not', 'no', 'never', 'dont', 'doesnt', 'didnt', 'wont', 'wouldnt',
  'isnt', 'arent', 'wasnt', 'werent', 'havent', 'hasnt', 'nor', 'neither', 'without']);
const DETERMINERS = new Set(['a', 'an', 'the', 'my', 'your', 'our', 'their']);

/* Between two words of a phrase: a space, or a comma. */
const SEP = ' (?:, )?';

/* Lower case, accents stripped. */
function fold(s) {
  return s.normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase();
}

/* " w1 w2 , w3 . w4 ": the words of a folded text (inner apostrophes
 * dropped), sentence breaks as ".", commas as ",". */
function wordStream(folded) {
  const toks = folded.replace(/[\u2019\u2018\u02bc]/g, "'")
    .replace(/(?<=[\p{L}\p{N}])'(?=[\p{L}\p{N}])/gu, '')
    .match(/[\p{L}\p{N}*]+|[.!?;]+|,/gu) || [];
  return ' ' + toks.map((t) => (/^[.!?;]/.test(t) ? '.' : t)).join(' ') + ' ';
}

function escapeRe(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/* A phrase word with its common inflections. */
function wordPattern(w, exact) {
  if (exact || w.length < 4) return escapeRe(w) + (exact ? '' : '(?:s)?');
  const base = w.replace(/(?:ing|ed|es|s|e)$/, '');
  const stem = base.length >= 3 ? base : w;
  return escapeRe(stem) + '(?:e|es|s|ed|d|ing|er|ers)?';
}

function phrasePattern(phrase, exact) {
  const words = wordStream(fold(phrase)).split(' ').filter((w) => /^[\p{L}\p{N}*]/u.test(w));
  const others = words.filter((w) => !DETERMINERS.has(w)).length;
  let varied = false;
  const parts = words.map((w) => {
    if (!exact && !varied && DETERMINERS.has(w)) {
      varied = true;
      const alt = '(?:a|an|the|my|your|our|their)';
      return others >= 2 ? `(?:${alt}${SEP})?` : `${alt}${SEP}`;
    }
    return wordPattern(w, exact) + SEP;
  });
  /* The last word is not followed by a separator. */
  let re = parts.join('');
  re = re.slice(0, re.length - SEP.length);
  return re;
}

/* One regular expression per signal for its phrases, and its regexes. */
const COMPILED = {};
for (const [name, s] of Object.entries(SIGNALS)) {
  const alts = s.phrases.map((p) => phrasePattern(p, s.exact)).filter(Boolean);
  COMPILED[name] = {
    phrases: alts.length ? new RegExp(` (?:${alts.join('|')})(?= )`, 'g') : null,
    regexes: s.regexes.map((r) => new RegExp(r, 'i')),
    negation: s.negation,
    scope: s.in,
  };
}

/* Whether a negator is among the three words before stream offset `at`,
 * with no clause break (",", "." or the word "but") in between. */
function negatedAt(stream, at) {
  const before = stream.slice(Math.max(0, at - 80), at).split(' ');
  for (let k = 0, i = before.length - 1; k < 3 && i >= 0; i--) {
    const w = before[i];
    if (!w) continue;
    if (w === ',' || w === '.') return false;
    if (NEGATORS.has(w)) return true;
    if (w === 'but') return false;
    k++;
  }
  return false;
}

function signalHolds(c, texts) {
  for (const who of c.scope) {
    for (const t of texts[who] || []) {
      if (c.phrases) {
        c.phrases.lastIndex = 0;
        let m;
        while ((m = c.phrases.exec(t.words)) !== null) {
          if (!c.negation || !negatedAt(t.words, m.index)) return true;
          c.phrases.lastIndex = m.index + 1;
        }
      }
      for (const r of c.regexes)
        if (r.test(t.lower)) return true;
    }
  }
  return false;
}

const cache = new WeakMap();
function signalOperator(texts, name) {
  let memo = cache.get(texts);
  if (!memo) cache.set(texts, (memo = new Map()));
  let v = memo.get(name);
  if (v === undefined) memo.set(name, (v = signalHolds(COMPILED[name], texts)));
  return v;
}

function makeEngine() {
  const engine = new Engine([], { allowUndefinedFacts: true });
  engine.addOperator('signal', signalOperator);
  RULES.forEach((r, i) => engine.addRule({
    name: r.id, conditions: r.when.all || r.when.any ? r.when : { all: [r.when] },
    event: { type: 'rule', params: { id: r.id } }, priority: 1000 - i,
  }));
  SUPPRESSIONS.forEach((s) => engine.addRule({
    name: s.id, conditions: s.when, event: { type: 'suppression', params: { id: s.id } },
  }));
  return engine;
}

function facts(t) {
  const fields = t.fields || {};
  const out = {};
  for (const name of FIELDS) out[name] = fields[name] === undefined ? null : fields[name];
  const c = t.customer || {};
  out.customer_tier = c.tier === undefined ? null : c.tier;
  out.customer_flags = c.flags || [];
  const texts = { customer: [], agent: [], bot: [], system: [] };
  for (const m of t.messages || []) {
    const lower = fold(m.text);
    (texts[m.from] || (texts[m.from] = [])).push({ words: wordStream(lower), lower });
  }
  out.texts = texts;
  return out;
}

/* The decision for one parsed ticket. */
async function decideTicket(engine, t) {
  const { events } = await engine.run(facts(t));
  const rules = [], supp = new Set();
  for (const e of events)
    if (e.type === 'rule') rules.push(e.params.id);
    else supp.add(e.params.id);
  return decide(t.id, rules, supp);
}

async function main() {
  const args = process.argv.slice(2);
  let corpus = null, limit = Infinity, outPath = null, parsed = false;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--limit') limit = Number(args[++i]);
    else if (args[i] === '--out') outPath = args[++i];
    else if (args[i] === '--parsed') parsed = true;
    else corpus = args[i];
  }
  if (!corpus) {
    console.error('usage: node bench/peer/run.js CORPUS.jsonl [--limit N] [--parsed] [--out FILE]');
    process.exit(2);
  }
  const engine = makeEngine();
  const out = outPath ? fs.openSync(outPath, 'w') : null;
  const data = fs.readFileSync(corpus, 'utf8');
  const lines = [];
  for (let pos = 0; pos < data.length && lines.length < limit;) {
    let nl = data.indexOf('\n', pos);
    if (nl < 0) nl = data.length;
    const line = data.slice(pos, nl);
    pos = nl + 1;
    if (line.trim()) lines.push(line);
  }
  const tickets = parsed ? lines.map((l) => JSON.parse(l)) : null;
  let escalated = 0, buf = [];
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < lines.length; i++) {
    const d = await decideTicket(engine, parsed ? tickets[i] : JSON.parse(lines[i]));
    escalated += d.escalate ? 1 : 0;
    if (out) {
      buf.push(JSON.stringify(d));
      if (buf.length >= 1000) { fs.writeSync(out, buf.join('\n') + '\n'); buf = []; }
    }
  }
  if (out) {
    if (buf.length) fs.writeSync(out, buf.join('\n') + '\n');
    fs.closeSync(out);
  }
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const n = lines.length;
  const bytes = lines.reduce((a, l) => a + Buffer.byteLength(l, 'utf8') + 1, 0);
  const name = parsed ? 'peer_engine_only' : 'peer_json_rules_engine';
  console.log(`run: ${n} tickets (${escalated} escalate) in ${secs.toFixed(3)} s: ` +
              `${(n / secs).toFixed(0)} tickets/s${parsed ? ' (parsed beforehand)' : ''}`);
  console.log(`RESULT name=${name} items=${n} bytes=${bytes} runs=1 ` +
              `median_s=${secs.toFixed(6)} min_s=${secs.toFixed(6)} max_s=${secs.toFixed(6)} ` +
              `rate=${(n / secs).toFixed(1)} unit=tickets`);
}

main().catch((e) => { console.error(e); process.exit(1); });
