#!/usr/bin/env node
/*
 * compare.js - do escalator and the peer reach the same decisions?
 *
 *   node bench/peer/compare.js ESCALATOR.jsonl PEER.jsonl [--show N]
 *
 * ESCALATOR.jsonl is `escalator triage --jsonl` output for the subset
 * policy (bench/peer/meow-subset.yaml), PEER.jsonl the output of run.js
 * --out, over the same tickets. Compares, ticket by ticket, escalate,
 * priority and targets (in order). Prints the agreement and the first N
 * (default 5) disagreements with the rules escalator fired, and a RESULT
 * line whose rate is the agreement in percent. Exits 1 when a line of
 * either file has no counterpart.
 */
'use strict';

const fs = require('fs');

function load(file) {
  const m = new Map();
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const d = JSON.parse(line);
    if (d.ticket !== undefined) m.set(d.ticket, d);
  }
  return m;
}

const args = process.argv.slice(2);
let show = 5;
const files = [];
for (let i = 0; i < args.length; i++)
  if (args[i] === '--show') show = Number(args[++i]);
  else files.push(args[i]);
if (files.length !== 2) {
  console.error('usage: node bench/peer/compare.js ESCALATOR.jsonl PEER.jsonl [--show N]');
  process.exit(2);
}
const esc = load(files[0]), peer = load(files[1]);
let same = 0, differ = 0, missing = 0;
const shown = [];
for (const [id, p] of peer) {
  const e = esc.get(id);
  if (!e) { missing++; continue; }
  const ok = e.escalate === p.escalate && e.priority === p.priority &&
             JSON.stringify(e.targets) === JSON.stringify(p.targets);
  if (ok) { same++; continue; }
  differ++;
  if (shown.length < show)
    shown.push(`  ${id}: escalator ${JSON.stringify({ escalate: e.escalate, priority: e.priority, targets: e.targets })}` +
               ` rules ${JSON.stringify((e.reasons || []).map((r) => r.rule))}` +
               `\n  ${' '.repeat(id.length)}  peer      ${JSON.stringify({ escalate: p.escalate, priority: p.priority, targets: p.targets })}`);
}
const n = same + differ;
const pct = n ? (100 * same) / n : 0;
console.log(`same decisions: ${same} of ${n} tickets (${pct.toFixed(2)}%), ${differ} differ` +
            (missing ? `, ${missing} without an escalator decision` : ''));
if (shown.length) console.log('first disagreements:\n' + shown.join('\n'));
console.log(`RESULT name=peer_agreement items=${n} bytes=0 runs=1 median_s=0 min_s=0 max_s=0 ` +
            `rate=${pct.toFixed(2)} unit=percent`);
process.exit(missing || esc.size !== peer.size ? 1 : 0);
