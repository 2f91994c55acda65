/*
 * meow-rules.js - the subset of policies/meow-mobile.yaml written for
 * json-rules-engine, the way a developer would write routing rules without
 * escalator: field comparisons as facts and operators, phrase lists and
 * regular expressions as one custom operator, `signal`.
 *
 * The subset is exactly bench/peer/meow-subset.yaml: 16 rules, 2
 * suppressions, 22 signals (their phrase lists and regexes are in
 * meow-signals.json, converted once from that file). Each rule below
 * transcribes its `when:` condition; settings are written in as constants.
 *
 * Facts given to engine.run() (see run.js): one fact per declared field,
 * null when the ticket does not set it; customer_tier, customer_flags; and
 * `texts`, the messages grouped by sender, which the `signal` operator reads.
 */
'use strict';

const PRIORITIES = ['critical', 'high', 'medium', 'low'];
const DEFAULT_PRIORITY = 'low';
const UNSUPPRESSIBLE_PRIORITIES = new Set(['critical']);

const sig = (name) => ({ fact: 'texts', operator: 'signal', value: name });
const f = (name, operator, value) => ({ fact: name, operator, value });
const all = (...c) => ({ all: c });
const any = (...c) => ({ any: c });
const not = (c) => ({ not: c });

/* In file order: combining uses it to order rules of one priority. */
const RULES = [
  {
    id: 'security_incident', priority: 'critical', targets: ['trust_safety'],
    when: any(f('security_incident', 'equal', true), sig('security'),
              all(sig('account_event'), sig('not_me'))),
  },
  {
    id: 'emergency_safety_risk', priority: 'critical', targets: ['l2'],
    when: all(sig('emergency')),
  },
  {
    id: 'widespread_outage', priority: 'critical', targets: ['engineering', 'carrier'],
    when: any(f('affected_customers', 'greaterThan', 10),
              all(f('affected_customers', 'equal', null), sig('no_service'),
                  sig('widespread_area'))),
  },
  {
    id: 'media_inquiry', priority: 'critical', targets: ['l2'],
    when: all(sig('media')),
  },
  {
    id: 'executive_complaint', priority: 'critical', targets: ['l2'],
    when: any(f('customer_flags', 'contains', 'executive'),
              f('customer_tier', 'equal', 'executive'), sig('executive_complaint')),
  },
  {
    id: 'port_in_rejected', priority: 'high', targets: ['carrier'],
    when: any(
      f('port_in_rejections', 'greaterThanInclusive', 3),
      all(f('port_in_rejections', 'equal', null), f('issue_type', 'equal', 'port_in'),
          f('failed_attempts', 'greaterThanInclusive', 3)),
      all(f('port_in_rejections', 'equal', null), f('issue_type', 'equal', null),
          sig('port_in_topic'), f('failed_attempts', 'greaterThanInclusive', 3)),
      all(f('port_in_rejections', 'equal', null), f('failed_attempts', 'equal', null),
          sig('port_in_topic'), sig('rejected_word'), sig('three_plus_times'))),
  },
  {
    id: 'network_outage', priority: 'high', targets: ['engineering', 'carrier'],
    when: any(
      all(f('affected_customers', 'greaterThanInclusive', 2),
          any(f('issue_type', 'in', ['network', 'outage']), sig('no_service'),
              all(f('issue_type', 'equal', null), not(sig('system_error')),
                  not(sig('app_crash'))))),
      all(f('affected_customers', 'equal', null), sig('no_service'),
          any(sig('others_affected'), sig('widespread_area')))),
  },
  {
    id: 'fraud_suspected', priority: 'high', targets: ['trust_safety'],
    when: any(f('fraud_suspected', 'equal', true), sig('fraud')),
  },
  {
    id: 'identity_theft_claim', priority: 'high', targets: ['trust_safety'],
    when: all(sig('identity_theft')),
  },
  {
    id: 'legal_threat', priority: 'high', targets: ['l2', 'legal'], unsuppressible: true,
    when: all(sig('legal_threat')),
  },
  {
    id: 'legal_request', priority: 'medium', targets: ['legal'],
    when: any(f('legal_request', 'equal', true), sig('legal_request')),
  },
  {
    id: 'vip_customer', priority: 'medium', targets: ['l2'],
    when: any(f('customer_flags', 'contains', 'vip'),
              f('customer_flags', 'contains', 'influencer'),
              f('customer_tier', 'in', ['vip', 'influencer'])),
  },
  {
    id: 'retention_offer', priority: 'medium', targets: ['l2'],
    when: all(sig('churn_risk')),
  },
  {
    id: 'system_bug', priority: 'low', targets: ['engineering'],
    when: any(f('system_error_identified', 'equal', true), sig('system_error')),
  },
  {
    id: 'app_crash', priority: 'low', targets: ['engineering'],
    when: all(sig('app_crash')),
  },
  {
    id: 'refund_over_limit', priority: 'low', targets: ['l2'],
    when: any(f('refund_amount', 'greaterThan', 100),
              all(f('refund_amount', 'equal', null), sig('refund_request'),
                  sig('amount_over_100'))),
  },
];

/* In file order; each holds back the fired rules it names. */
const SUPPRESSIONS = [
  {
    id: 'troubleshooting_incomplete',
    appliesTo: ['system_bug', 'app_crash', 'port_in_rejected'],
    when: any(f('troubleshooting_complete', 'equal', false),
              all(sig('troubleshooting_not_done'),
                  f('troubleshooting_complete', 'notEqual', true))),
  },
  {
    id: 'resolvable_with_tools',
    appliesTo: ['system_bug', 'app_crash'],
    when: any(f('resolvable_with_tools', 'equal', true),
              f('kb_answer_available', 'equal', true)),
  },
];

/* The fields the rules read: each is a fact, null when absent. */
const FIELDS = [
  'issue_type', 'refund_amount', 'port_in_rejections', 'failed_attempts',
  'affected_customers', 'troubleshooting_complete', 'kb_answer_available',
  'resolvable_with_tools', 'system_error_identified', 'fraud_suspected',
  'security_incident', 'legal_request',
];

/*
 * The decision from the events of one run: suppressions hold back the fired
 * rules they apply to (never an unsuppressible rule or one of an
 * unsuppressible priority), then the remaining rules, most urgent first and
 * in file order within a priority, give the priority (the first one's) and
 * the targets (all of them, in that order, without repeats).
 */
function decide(ticketId, firedRules, heldSuppressions) {
  const fired = new Set(firedRules);
  const held = new Set();
  for (const s of SUPPRESSIONS) {
    if (!heldSuppressions.has(s.id)) continue;
    for (const r of RULES)
      if (fired.has(r.id) && !held.has(r.id) && s.appliesTo.includes(r.id) &&
          !r.unsuppressible && !UNSUPPRESSIBLE_PRIORITIES.has(r.priority))
        held.add(r.id);
  }
  const order = RULES.map((r, i) => ({ r, i }))
    .filter(({ r }) => fired.has(r.id) && !held.has(r.id))
    .sort((a, b) => PRIORITIES.indexOf(a.r.priority) - PRIORITIES.indexOf(b.r.priority) ||
                    a.i - b.i);
  const targets = [];
  for (const { r } of order)
    for (const t of r.targets)
      if (!targets.includes(t)) targets.push(t);
  return {
    ticket: ticketId,
    escalate: order.length > 0,
    priority: order.length ? order[0].r.priority : DEFAULT_PRIORITY,
    targets,
  };
}

module.exports = { RULES, SUPPRESSIONS, FIELDS, decide };
