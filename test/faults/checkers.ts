// Invariant checkers for the fault suite: pure functions over logs that recipes' users record
// (acquire/release with fencing tokens, leadership terms, produced/consumed items, task runs),
// plus a tally of faults injected, checks made and violations found, printed and saved per file.
//
// A checker never throws: it returns the violations it found (each a sentence naming what broke),
// so a test asserts `expect(violations).toEqual([])` and a failure prints every broken promise.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// ---------------------------------------------------------------------------------------------
// Mutual exclusion

/** One holding of a lock (or lease, or leadership term) as its holder saw it. */
export interface Holding {
  /** Who held (a process, session or participant name). */
  holder: string;
  /** The lease's fencing token. */
  token: bigint;
  /** When the acquire returned (ms). */
  acquiredAt: number;
  /**
   * When the holder stopped believing it held: the release, or the moment its lease's signal
   * aborted (suspended / lost), whichever came first. `undefined`: still holding at the end.
   */
  endedAt?: number | undefined;
}

/** What {@link checkMutualExclusion} found. */
export interface MutexReport {
  /** Broken promises; must be empty. */
  violations: string[];
  /** Pairs checked. */
  checks: number;
  /**
   * Overlaps in which the older holder had not yet noticed that it lost the lock (a session
   * expired on the server before its client heard of it); its token was already superseded, so a
   * fenced resource refuses it. Allowed only with `allowFencedOverlap`.
   */
  fencedOverlaps: number;
}

/**
 * Mutual exclusion from holdings: tokens rise strictly in acquisition order, no token is issued
 * twice, and no two holdings overlap among those whose token is still the newest: when two
 * overlap, the later one must carry the larger token (the earlier one is then fenced off), and
 * unless `allowFencedOverlap`, such an overlap is itself a violation (a holder must learn of its
 * loss, by `suspended`, before the server can let another in).
 */
export function checkMutualExclusion(holdings: readonly Holding[], opts: { allowFencedOverlap?: boolean; now?: number } = {}): MutexReport {
  const violations: string[] = [];
  const now = opts.now ?? Number.MAX_SAFE_INTEGER;
  const hs = [...holdings].sort((a, b) => a.acquiredAt - b.acquiredAt || (a.token < b.token ? -1 : 1));
  let checks = 0;
  let fencedOverlaps = 0;
  const seen = new Map<bigint, string>();
  for (const h of hs) {
    checks++;
    const prev = seen.get(h.token);
    // The same holder may reclaim with the same token (a latch that reconnected to the same session
    // and found its node still first: nobody held in between, so the pzxid did not move).
    if (prev !== undefined && prev !== h.holder) violations.push(`token ${h.token} issued twice (${prev} and ${h.holder})`);
    seen.set(h.token, h.holder);
    if (h.endedAt !== undefined && h.endedAt < h.acquiredAt) violations.push(`${h.holder} (token ${h.token}) ended before it was acquired`);
  }
  for (let i = 1; i < hs.length; i++) {
    checks++;
    const a = hs[i - 1]!;
    const b = hs[i]!;
    if (!(b.token > a.token) && !(b.token === a.token && b.holder === a.holder))
      violations.push(`tokens fell: ${a.holder} got ${a.token} at ${a.acquiredAt}, then ${b.holder} got ${b.token} at ${b.acquiredAt}`);
  }
  for (let i = 0; i < hs.length; i++) {
    for (let j = i + 1; j < hs.length; j++) {
      const a = hs[i]!;
      const b = hs[j]!;
      const aEnd = a.endedAt ?? now;
      if (b.acquiredAt >= aEnd) continue;
      checks++;
      if (!(b.token > a.token)) {
        violations.push(
          `${a.holder} (token ${a.token}) and ${b.holder} (token ${b.token}) held at once from ${b.acquiredAt} and the later one's token is not newer`,
        );
      } else if (opts.allowFencedOverlap) {
        fencedOverlaps++;
      } else {
        violations.push(`${a.holder} (token ${a.token}) still held when ${b.holder} (token ${b.token}) acquired (${aEnd - b.acquiredAt} ms overlap)`);
      }
    }
  }
  return { violations, checks, fencedOverlaps };
}

/**
 * A resource guarded by fencing tokens, as a user would build it: a write carrying a token lower
 * than the highest one seen is refused. Counts accepted and refused writes.
 */
export class FencedResource {
  private highest = -1n;
  /** Writes let through, in order: [token, holder]. */
  readonly accepted: Array<[bigint, string]> = [];
  /** Writes refused for a stale token. */
  refused = 0;

  /** Returns whether the write with `token` was accepted. */
  write(token: bigint, holder: string): boolean {
    if (token < this.highest) {
      this.refused++;
      return false;
    }
    this.highest = token;
    this.accepted.push([token, holder]);
    return true;
  }
}

// ---------------------------------------------------------------------------------------------
// Election

/** One event of a participant's leadership. */
export interface LeadershipEvent {
  participant: string;
  type: 'isLeader' | 'notLeader';
  /** Fencing token of the term, for `isLeader`. */
  token?: bigint | undefined;
  at: number;
}

/** Turns per-participant leadership events into terms (holdings) for the mutex checker. */
export function termsOf(events: readonly LeadershipEvent[]): Holding[] {
  const open = new Map<string, Holding>();
  const out: Holding[] = [];
  for (const e of [...events].sort((a, b) => a.at - b.at)) {
    if (e.type === 'isLeader') {
      const h: Holding = { holder: e.participant, token: e.token ?? -1n, acquiredAt: e.at };
      open.set(e.participant, h);
      out.push(h);
    } else {
      const h = open.get(e.participant);
      if (h && h.endedAt === undefined) h.endedAt = e.at;
      open.delete(e.participant);
    }
  }
  return out;
}

/** What {@link checkElection} found. */
export interface ElectionReport {
  violations: string[];
  checks: number;
  /** Per failure: ms from the failure to the next leader's `isLeader` (another participant). */
  failovers: number[];
}

/**
 * Election: at most one leader per term (the terms, as holdings, pass the mutex checker; a term
 * is one token, held by one participant), and after each leader failure a new leader — any
 * participant other than the failed one — within `withinMs` (session timeout plus a margin).
 */
export function checkElection(
  events: readonly LeadershipEvent[],
  failures: ReadonlyArray<{ participant: string; at: number }>,
  opts: { withinMs: number; allowFencedOverlap?: boolean },
): ElectionReport {
  const terms = termsOf(events);
  const mutex = checkMutualExclusion(terms, { allowFencedOverlap: opts.allowFencedOverlap ?? false });
  const violations = [...mutex.violations];
  let checks = mutex.checks;
  const failovers: number[] = [];
  for (const f of failures) {
    checks++;
    const next = events.find((e) => e.type === 'isLeader' && e.participant !== f.participant && e.at >= f.at);
    if (!next) {
      violations.push(`no new leader after ${f.participant} failed at ${f.at}`);
      continue;
    }
    const ms = next.at - f.at;
    failovers.push(ms);
    if (ms > opts.withinMs) violations.push(`new leader ${next.participant} only ${ms} ms after ${f.participant} failed (limit ${opts.withinMs} ms)`);
  }
  return { violations, checks, failovers };
}

// ---------------------------------------------------------------------------------------------
// Queues and schedulers

/** What {@link checkAccounting} found. */
export interface AccountingReport {
  violations: string[];
  checks: number;
  /** Produced, never delivered. */
  lost: string[];
  /** Deliveries beyond the first, per item. */
  duplicates: number;
  /** Delivered, never produced. */
  unexpected: string[];
}

/**
 * Accounting: every produced item delivered (none lost), nothing delivered that was not produced,
 * and duplicates counted; more than `maxDuplicates` (0 for exactly-once) is a violation.
 */
export function checkAccounting(produced: readonly string[], delivered: readonly string[], opts: { maxDuplicates: number; what?: string }): AccountingReport {
  const what = opts.what ?? 'item';
  const want = new Set(produced);
  const counts = new Map<string, number>();
  for (const d of delivered) counts.set(d, (counts.get(d) ?? 0) + 1);
  const lost = produced.filter((p) => !counts.has(p));
  const unexpected = [...counts.keys()].filter((d) => !want.has(d));
  let duplicates = 0;
  for (const n of counts.values()) duplicates += n - 1;
  const violations: string[] = [];
  if (want.size !== produced.length) violations.push(`${produced.length - want.size} ${what}(s) produced twice`);
  if (lost.length) violations.push(`${lost.length} ${what}(s) lost: ${lost.slice(0, 5).join(', ')}${lost.length > 5 ? ', ...' : ''}`);
  if (unexpected.length) violations.push(`${unexpected.length} ${what}(s) delivered but never produced: ${unexpected.slice(0, 5).join(', ')}`);
  if (duplicates > opts.maxDuplicates) violations.push(`${duplicates} duplicate deliveries of ${what}s (allowed ${opts.maxDuplicates})`);
  return { violations, checks: produced.length + counts.size, lost, duplicates, unexpected };
}

/**
 * Recurring schedule: the fired periods of `scheduleId` (task ids `<id>@<k>`) must be consecutive,
 * each exactly once — from period 0, or (`fromFirst`, a cron schedule whose periods are fire times
 * in epoch seconds and that fires every second) from the first one fired.
 */
export function checkPeriods(
  scheduleId: string,
  firedTaskIds: readonly string[],
  opts: { fromFirst?: boolean } = {},
): { violations: string[]; checks: number; periods: number } {
  const periods = firedTaskIds
    .filter((id) => id.startsWith(`${scheduleId}@`))
    .map((id) => Number(id.slice(scheduleId.length + 1)))
    .sort((a, b) => a - b);
  const violations: string[] = [];
  const base = opts.fromFirst ? (periods[0] ?? 0) : 0;
  for (let i = 0; i < periods.length; i++) {
    const want = base + i;
    if (periods[i] !== want) {
      violations.push(
        `schedule ${scheduleId}: period ${want} ${periods[i]! > want ? 'missing' : `fired ${periods.filter((p) => p === periods[i]).length} times`}`,
      );
      break;
    }
  }
  return { violations, checks: periods.length, periods: periods.length };
}

// ---------------------------------------------------------------------------------------------
// Tally and summary

/** Counts of one fault file, saved for the closing summary. */
export interface FaultFigures {
  file: string;
  faults: number;
  checks: number;
  violations: string[];
  /** Failover times seen (ms), for the README. */
  failoversMs: number[];
  /** Overlaps fenced off by tokens (allowed, reported). */
  fencedOverlaps: number;
  durationMs: number;
  at: string;
}

/** Collects a fault file's figures; `record` adds a checker's report. */
export class Tally {
  readonly figures: FaultFigures;
  private readonly started = Date.now();

  constructor(file: string) {
    this.figures = { file, faults: 0, checks: 0, violations: [], failoversMs: [], fencedOverlaps: 0, durationMs: 0, at: new Date().toISOString() };
  }

  /** Counts an injected fault. */
  fault(n = 1): void {
    this.figures.faults += n;
  }

  /** Adds a checker's report (its checks and violations, prefixed by `label`); returns its violations. */
  record(label: string, report: { violations: string[]; checks: number; failovers?: number[]; fencedOverlaps?: number }): string[] {
    this.figures.checks += report.checks;
    const v = report.violations.map((m) => `${label}: ${m}`);
    this.figures.violations.push(...v);
    if (report.failovers) this.figures.failoversMs.push(...report.failovers);
    if (report.fencedOverlaps) this.figures.fencedOverlaps += report.fencedOverlaps;
    return v;
  }

  /** A recovery check (the recipe came back by itself): one check, a violation if `ok` is false. */
  recovery(label: string, ok: boolean, detail = ''): string[] {
    return this.record(`recovery ${label}`, { checks: 1, violations: ok ? [] : [`did not recover${detail ? `: ${detail}` : ''}`] });
  }

  /** Prints the file's figures and merges them into the shared summary (tmpdir JSON + LAST_RUN.md). */
  finish(): void {
    this.figures.durationMs = Date.now() - this.started;
    const f = this.figures;
    console.log(
      `[faults] ${f.file}: ${f.faults} faults injected, ${f.checks} invariant checks, ${f.violations.length} violations`
        + (f.failoversMs.length ? `, failover ${Math.min(...f.failoversMs)}-${Math.max(...f.failoversMs)} ms` : '')
        + (f.fencedOverlaps ? `, ${f.fencedOverlaps} overlaps fenced by tokens` : ''),
    );
    for (const v of f.violations) console.log(`[faults]   VIOLATION ${v}`);
    try {
      writeSummary(f);
    } catch (err) {
      console.log(`[faults] could not write the summary: ${String(err)}`);
    }
  }
}

/** Where the per-file figures of the last run are merged. */
export const SUMMARY_JSON = join(tmpdir(), 'zk-recipes-faults-summary.json');
const LAST_RUN_MD = join(dirname(fileURLToPath(import.meta.url)), 'LAST_RUN.md');

function writeSummary(f: FaultFigures): void {
  let all: Record<string, FaultFigures> = {};
  try {
    all = JSON.parse(readFileSync(SUMMARY_JSON, 'utf8')) as Record<string, FaultFigures>;
  } catch {
    /* first file */
  }
  all[basename(f.file)] = f;
  mkdirSync(dirname(SUMMARY_JSON), { recursive: true });
  writeFileSync(SUMMARY_JSON, JSON.stringify(all, null, 2));
  const rows = Object.values(all).sort((a, b) => a.file.localeCompare(b.file));
  const sum = (k: 'faults' | 'checks') => rows.reduce((n, r) => n + r[k], 0);
  const fo = rows.flatMap((r) => r.failoversMs);
  const lines = [
    '# Fault suite: figures of the last run',
    '',
    'Written by `test/faults/*.test.ts` (see test/faults/checkers.ts). Each row is the last run of that file.',
    '',
    '| file | faults injected | invariant checks | violations | failover (ms) | overlaps fenced | time (s) | run at |',
    '|---|---:|---:|---:|---|---:|---:|---|',
    ...rows.map(
      (r) =>
        `| ${basename(r.file)} | ${r.faults} | ${r.checks} | ${r.violations.length} | ${r.failoversMs.length ? `${Math.min(...r.failoversMs)}–${Math.max(...r.failoversMs)}` : '—'} | ${r.fencedOverlaps} | ${(r.durationMs / 1000).toFixed(1)} | ${r.at} |`,
    ),
    `| **total** | **${sum('faults')}** | **${sum('checks')}** | **${rows.reduce((n, r) => n + r.violations.length, 0)}** | ${fo.length ? `${Math.min(...fo)}–${Math.max(...fo)}` : '—'} | ${rows.reduce((n, r) => n + r.fencedOverlaps, 0)} | ${(rows.reduce((n, r) => n + r.durationMs, 0) / 1000).toFixed(1)} | |`,
    '',
  ];
  writeFileSync(LAST_RUN_MD, lines.join('\n'));
}
