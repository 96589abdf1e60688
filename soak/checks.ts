/**
 * The checkers over a soak's history (the workers' logs, the runner's record of deaths and the
 * final state it read). Each returns the checks it made and the violations it found, each a
 * sentence naming what broke; none throws.
 *
 * - lock, latch, selector: mutual exclusion among holders whose token is newest (the fault
 *   suite's checker: tokens rise in acquisition order; two holdings may overlap only when the
 *   later one carries the larger token, so a fenced resource refuses the older one; such
 *   overlaps are counted). For elections a holding is a term: one leader per term.
 * - read-write lock: the same between a write and any other holding; reads may share.
 * - semaphore: never more than its leases held at once.
 * The queue, scheduler, register and escape checkers are in checks-flow.ts.
 * @module
 */
import { type Holding, checkMutualExclusion } from '../test/faults/checkers.js';
import { SEM_LEASES } from './context.js';
import type { HoldKind, LogLine } from './log.js';

/** One checker's verdict. */
export interface CheckResult {
  name: string;
  checks: number;
  violations: string[];
  /** Figures worth printing (counts, overlaps fenced, duplicates). */
  figures: Record<string, number>;
}

/** Holdings of `kind` from the logs; a killed incarnation's open holdings end at its death. */
export function holdingsOf(lines: readonly LogLine[], kind: HoldKind, deaths: ReadonlyMap<string, number>): Holding[] {
  const byId = new Map<string, Holding>();
  for (const l of lines) {
    if (l.ev === 'hold' && l.kind === kind) byId.set(l.hid, { holder: l.w, token: BigInt(l.token), acquiredAt: l.t });
    else if (l.ev === 'unhold') {
      const h = byId.get(l.hid);
      if (h && h.endedAt === undefined) h.endedAt = l.t;
    }
  }
  const out = [...byId.values()];
  for (const h of out) if (h.endedAt === undefined && deaths.has(h.holder)) h.endedAt = deaths.get(h.holder);
  return out;
}

/** Mutual exclusion (and one leader per term) for a lock-like kind. */
export function checkExclusive(name: string, holdings: readonly Holding[]): CheckResult {
  const r = checkMutualExclusion(holdings, { allowFencedOverlap: true });
  return { name, checks: r.checks, violations: r.violations, figures: { holdings: holdings.length, fencedOverlaps: r.fencedOverlaps } };
}

/** Whether two holdings overlap in time (an open one lasts to the end). */
const overlaps = (a: Holding, b: Holding) => a.acquiredAt < (b.endedAt ?? Number.MAX_SAFE_INTEGER) && b.acquiredAt < (a.endedAt ?? Number.MAX_SAFE_INTEGER);

/** Read-write lock: a write overlaps no other holding unless fenced (the later one has the larger token). */
export function checkReadWrite(reads: readonly Holding[], writes: readonly Holding[]): CheckResult {
  const violations: string[] = [];
  let checks = 0;
  let fenced = 0;
  const all = [...reads, ...writes];
  for (const w of writes) {
    for (const o of all) {
      if (o === w) continue;
      checks++;
      if (!overlaps(w, o)) continue;
      const [first, later] = w.acquiredAt <= o.acquiredAt ? [w, o] : [o, w];
      if (later.token > first.token) fenced++;
      else violations.push(`write of ${w.holder} (token ${w.token}) overlaps ${reads.includes(o) ? 'read' : 'write'} of ${o.holder} (token ${o.token})`);
    }
  }
  return {
    name: 'read-write lock',
    checks,
    violations: violations.slice(0, 20),
    figures: { reads: reads.length, writes: writes.length, fencedOverlaps: fenced },
  };
}

/** Semaphore: at no moment more than its leases held. */
export function checkSemaphore(holdings: readonly Holding[]): CheckResult {
  // Holdings are [acquiredAt, endedAt): one that ended the moment it began never counts.
  const edges = holdings
    .filter((h) => (h.endedAt ?? Number.MAX_SAFE_INTEGER) > h.acquiredAt)
    .flatMap((h) => [
      { t: h.acquiredAt, d: 1, h },
      { t: h.endedAt ?? Number.MAX_SAFE_INTEGER, d: -1, h },
    ]);
  edges.sort((a, b) => a.t - b.t || a.d - b.d); // an end before a start at the same ms
  const violations: string[] = [];
  const held = new Set<Holding>();
  for (const e of edges) {
    if (e.d < 0) held.delete(e.h);
    else held.add(e.h);
    if (held.size > SEM_LEASES && violations.length < 10)
      violations.push(`${held.size} leases held at ${e.t} (max ${SEM_LEASES}): ${[...held].map((h) => h.holder).join(', ')}`);
  }
  return { name: 'semaphore', checks: holdings.length, violations, figures: { holdings: holdings.length } };
}
