/**
 * The soak's checkers of things that flow (see checks.ts for the exclusive ones):
 * - queue: every item whose put returned is consumed; nothing is consumed that no put started;
 *   redeliveries (the consumer is at-least-once) are counted, not refused.
 * - scheduler: every submitted task and every fired period ends `succeeded` and its handler ran
 *   to the end at least once; each schedule's periods are consecutive, each fired once.
 * - register: the history of compare-and-sets and synced reads is linearizable
 *   (soak/linearizability.ts); and no session ever sees it go back in time (plain reads included:
 *   ZooKeeper's "single system image", also across a reconnection to another server).
 * - escapes and crashes: no unhandled exception or rejection in a worker, no worker died by itself.
 * @module
 */
import type { TaskStatus } from '../src/index.js';
import { checkPeriods } from '../test/faults/checkers.js';
import type { CheckResult } from './checks.js';
import { checkLinearizability, type Operation, type RegisterInput, type RegisterOutput, versionedRegister } from './linearizability.js';
import type { LogLine } from './log.js';

/** Ids of the schedules the runner defines. */
export const SCHEDULES = { every: 'every-second', cron: 'cron-second' } as const;

const some = (xs: readonly string[]) => `${xs.slice(0, 5).join(', ')}${xs.length > 5 ? `, ... (${xs.length})` : ''}`;

/** Queue accounting from the logs. */
export function checkQueue(lines: readonly LogLine[]): CheckResult {
  const started = new Set<string>();
  const ok = new Set<string>();
  const failed = new Set<string>();
  const consumed = new Map<string, number>();
  for (const l of lines) {
    if (l.ev === 'put') (l.phase === 'start' ? started : l.phase === 'ok' ? ok : failed).add(l.item);
    else if (l.ev === 'consumed') consumed.set(l.item, (consumed.get(l.item) ?? 0) + 1);
  }
  const lost = [...ok].filter((i) => !consumed.has(i));
  const phantom = [...consumed.keys()].filter((i) => !started.has(i));
  const violations: string[] = [];
  if (lost.length) violations.push(`${lost.length} item(s) put but never consumed: ${some(lost)}`);
  if (phantom.length) violations.push(`${phantom.length} item(s) consumed that no put started: ${some(phantom)}`);
  let redelivered = 0;
  for (const n of consumed.values()) redelivered += n - 1;
  const landed = [...failed].filter((i) => consumed.has(i)).length;
  return {
    name: 'queue',
    checks: ok.size + consumed.size,
    violations,
    figures: { put: ok.size, putFailed: failed.size, failedPutsThatLanded: landed, consumed: consumed.size, redelivered },
  };
}

/** Scheduler: submitted tasks and fired periods all succeeded, and ran. */
export function checkScheduler(lines: readonly LogLine[], tasks: readonly TaskStatus[]): CheckResult {
  const byId = new Map(tasks.map((t) => [t.id, t]));
  const submitted = lines.flatMap((l) => (l.ev === 'submit' ? [l.task] : []));
  const ran = new Set(lines.flatMap((l) => (l.ev === 'ran' ? [l.task] : [])));
  const runs = lines.filter((l) => l.ev === 'run').length;
  const violations: string[] = [];
  const missing = submitted.filter((id) => !byId.has(id));
  if (missing.length) violations.push(`${missing.length} submitted task(s) not stored: ${some(missing)}`);
  const unfinished = tasks.filter((t) => t.state !== 'succeeded').map((t) => `${t.id} (${t.state}, attempt ${t.attempt})`);
  if (unfinished.length) violations.push(`${unfinished.length} task(s) not succeeded at the end: ${some(unfinished)}`);
  const neverRan = tasks.filter((t) => t.state === 'succeeded' && !ran.has(t.id)).map((t) => t.id);
  if (neverRan.length) violations.push(`${neverRan.length} task(s) succeeded without a finished run: ${some(neverRan)}`);
  let checks = submitted.length + tasks.length * 2;
  const ids = tasks.map((t) => t.id);
  const every = checkPeriods(SCHEDULES.every, ids);
  const cron = checkPeriods(SCHEDULES.cron, ids, { fromFirst: true });
  checks += every.checks + cron.checks;
  violations.push(...every.violations, ...cron.violations);
  if (every.periods === 0) violations.push(`schedule ${SCHEDULES.every} never fired`);
  if (cron.periods === 0) violations.push(`schedule ${SCHEDULES.cron} never fired`);
  return {
    name: 'scheduler',
    checks,
    violations,
    figures: { submitted: submitted.length, tasks: tasks.length, periodsEvery: every.periods, periodsCron: cron.periods, runs, reruns: runs - ran.size },
  };
}

/** The register's operations, paired call → result per worker incarnation. */
export function registerHistory(lines: readonly LogLine[]): Operation<RegisterInput, RegisterOutput>[] {
  const open = new Map<string, Operation<RegisterInput, RegisterOutput>>();
  const out: Operation<RegisterInput, RegisterOutput>[] = [];
  for (const l of lines) {
    if (l.ev !== 'reg') continue;
    const key = `${l.w}#${l.op}`;
    if (l.phase === 'call' && l.input) {
      const op: Operation<RegisterInput, RegisterOutput> = { process: l.w, input: l.input, call: l.t };
      open.set(key, op);
      out.push(op);
      continue;
    }
    const op = open.get(key);
    open.delete(key);
    if (op && l.phase === 'ok') {
      op.return = l.t;
      op.output = l.output as RegisterOutput;
    }
  }
  // A read without a result (failed, or its process killed) tells nothing: drop it.
  return out.filter((o) => o.return !== undefined || o.input.kind !== 'read');
}

/** Linearizability of the register's history. */
export function checkRegister(lines: readonly LogLine[]): CheckResult {
  const history = registerHistory(lines);
  const r = checkLinearizability(history, versionedRegister({ value: '', version: 0 }));
  const violations = r.ok ? [] : [r.violation ?? 'not linearizable']; // a search over budget says "not proven"
  const indeterminate = history.filter((o) => o.return === undefined).length;
  return {
    name: 'register (linearizability)',
    checks: r.operations,
    violations,
    figures: { operations: r.operations, indeterminate, explored: r.explored, ms: r.ms },
  };
}

/** Nothing escaped a worker, and no worker died by itself. */
export function checkEscapes(lines: readonly LogLine[], crashes: readonly string[]): CheckResult {
  const escapes = lines.flatMap((l) => (l.ev === 'escape' ? [`${l.w}: ${l.what}: ${l.message.split('\n')[0]}`] : []));
  return { name: 'escapes', checks: lines.length, violations: [...escapes, ...crashes], figures: { escapes: escapes.length, crashes: crashes.length } };
}

/** Per worker incarnation, in log order: the versions it saw (plain and synced reads, its own successful writes) never decrease. */
export function checkSessionOrder(lines: readonly LogLine[]): CheckResult {
  const last = new Map<string, { version: number; t: number }>();
  const violations: string[] = [];
  let checks = 0;
  for (const l of lines) {
    let seen: number | undefined;
    if (l.ev === 'plain') seen = l.version;
    else if (l.ev === 'reg' && l.phase === 'ok' && l.output) {
      seen = 'value' in l.output ? l.output.version : l.output.ok ? l.output.version : undefined;
    }
    if (seen === undefined) continue;
    checks++;
    const prev = last.get(l.w);
    if (prev && seen < prev.version && violations.length < 10)
      violations.push(`${l.w} saw version ${seen} at ${l.t} after version ${prev.version} at ${prev.t}`);
    if (!prev || seen > prev.version) last.set(l.w, { version: seen, t: l.t });
  }
  return { name: 'register (no session goes back in time)', checks, violations, figures: { observations: checks } };
}
