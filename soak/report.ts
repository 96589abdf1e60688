/**
 * The soak's summary: faults by kind, operations by kind, each checker's checks and violations,
 * recovery times (after each fault, and after the final heal), printed and written as JSON.
 * @module
 */
import { writeFileSync } from 'node:fs';
import type { CheckResult } from './checks.js';
import type { LogLine } from './log.js';
import type { PlayedFault } from './nemesis.js';

/** Everything a run reports. */
export interface SoakSummary {
  seed: number;
  minutes: number;
  workers: number;
  startedAt: string;
  durationS: number;
  faults: { total: number; byKind: Record<string, number>; failedToApply: string[] };
  operations: Record<string, number>;
  checks: Array<{ name: string; checks: number; violations: string[]; figures: Record<string, number> }>;
  violations: number;
  /** Per fault kind: ms from the fault's heal to the next lock holding it concerned (min, median, max). */
  recoveryAfterFaultMs: Record<string, { n: number; min: number; median: number; max: number }>;
  /** Per role: ms from the final heal until every worker's role worked again. */
  recoveryAfterHealMs: Record<string, number>;
  replay: string;
}

/** Counts of what the workers did, by kind of event. */
export function operations(lines: readonly LogLine[]): Record<string, number> {
  const out: Record<string, number> = {};
  const add = (k: string) => {
    out[k] = (out[k] ?? 0) + 1;
  };
  for (const l of lines) {
    if (l.ev === 'hold') add(`${l.kind} held`);
    else if (l.ev === 'put' && l.phase === 'ok') add('queue put');
    else if (l.ev === 'consumed') add('queue consumed');
    else if (l.ev === 'submit') add('task submitted');
    else if (l.ev === 'ran') add('task run');
    else if (l.ev === 'reg' && l.phase !== 'call') add(`register ${l.phase === 'ok' ? 'op' : 'op (indeterminate)'}`);
    else if (l.ev === 'err') add('errors ridden out');
    else if (l.ev === 'state') add(`session ${l.state}`);
  }
  return out;
}

/** Recovery after each fault: from its heal to the next lock holding (by its worker, for worker faults). */
export function recoveryAfterFaults(
  played: readonly PlayedFault[],
  lines: readonly LogLine[],
  workerNames: readonly string[],
): SoakSummary['recoveryAfterFaultMs'] {
  const holds = lines.filter((l) => l.ev === 'hold' && l.kind === 'lock');
  const byKind = new Map<string, number[]>();
  for (const f of played) {
    if (f.healedAt === undefined || f.error) continue;
    const server = f.kind === 'kill-server' || f.kind === 'quorum-loss' || f.kind === 'pause-server';
    const name = workerNames[f.targets[0]!]!;
    const next = holds.find((l) => l.t >= f.healedAt! && (server || l.w.startsWith(`${name}.`)));
    if (next) byKind.set(f.kind, [...(byKind.get(f.kind) ?? []), next.t - f.healedAt]);
  }
  const out: SoakSummary['recoveryAfterFaultMs'] = {};
  for (const [kind, ms] of byKind) {
    ms.sort((a, b) => a - b);
    out[kind] = { n: ms.length, min: ms[0]!, median: ms[ms.length >> 1]!, max: ms[ms.length - 1]! };
  }
  return out;
}

/** Prints the summary as a readable report. */
export function printSummary(s: SoakSummary): void {
  const p = (line: string) => console.log(`[soak] ${line}`);
  p(`seed ${s.seed}, ${s.minutes} min of faults, ${s.workers} workers, ${s.durationS.toFixed(0)} s in all`);
  p(
    `faults: ${s.faults.total} (${Object.entries(s.faults.byKind)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ')})`,
  );
  for (const f of s.faults.failedToApply) p(`  fault not applied: ${f}`);
  p(
    `operations: ${Object.entries(s.operations)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ')}`,
  );
  for (const c of s.checks) {
    const figs = Object.entries(c.figures)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
    p(`check ${c.name}: ${c.checks} checks, ${c.violations.length} violations${figs ? ` (${figs})` : ''}`);
    for (const v of c.violations) p(`  VIOLATION ${v}`);
  }
  for (const [k, r] of Object.entries(s.recoveryAfterFaultMs)) p(`recovery after ${k} (${r.n}): ${r.min} / ${r.median} / ${r.max} ms (min / median / max)`);
  p(
    `recovery after the final heal: ${Object.entries(s.recoveryAfterHealMs)
      .map(([k, ms]) => `${k} ${ms} ms`)
      .join(', ')}`,
  );
  p(s.violations === 0 ? 'no violations' : `${s.violations} VIOLATIONS — replay with: ${s.replay}`);
}

/** Writes the summary as JSON. */
export function writeSummary(file: string, s: SoakSummary): void {
  writeFileSync(file, `${JSON.stringify(s, null, 2)}\n`);
}

/** Flattens checker results for the summary. */
export function summarizeChecks(results: readonly CheckResult[]): SoakSummary['checks'] {
  return results.map((r) => ({ name: r.name, checks: r.checks, violations: r.violations, figures: r.figures }));
}
