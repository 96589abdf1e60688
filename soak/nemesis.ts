/**
 * The nemesis: a fault schedule drawn from the seed before the run starts (so a seed names it
 * exactly), then played against the cluster. Faults overlap: a new one starts every 1–4 s while
 * earlier ones may still last. The plan never takes down all three servers (at most two at once:
 * a quorum loss) and never stacks two faults on one server or one worker; at run time a fault
 * whose target is still busy (a restart running late) waits for it.
 *
 * Kinds: a server killed with SIGKILL and restarted; a quorum loss (two servers killed, then
 * restarted); a server frozen with SIGSTOP, then resumed; a worker's proxy partitioned (silent
 * both ways; past the session timeout the session expires) or its connections frozen (new ones
 * pass), then healed; a worker's session expired on the server; a worker killed with SIGKILL and
 * started again; a frame to or from a worker corrupted (garbage, truncated, oversized, split into
 * tiny pieces, or a reply replayed).
 * @module
 */
import type { ProxyCorruption, ProxyDirection } from '../src/testing/proxy.js';
import type { Random } from './random.js';

/** The kinds of fault. */
export const FAULT_KINDS = [
  'kill-server',
  'quorum-loss',
  'pause-server',
  'partition-client',
  'freeze-client',
  'expire-session',
  'kill-worker',
  'corrupt-frame',
] as const;
/** A kind of fault. */
export type FaultKind = (typeof FAULT_KINDS)[number];

/** One planned fault. */
export interface PlannedFault {
  /** Start, ms after the nemesis starts. */
  at: number;
  kind: FaultKind;
  /** Server indexes, or worker indexes, it hits. */
  targets: number[];
  /** How long until healed (0: instant faults). */
  durationMs: number;
  /** For `corrupt-frame`: which way and how. */
  corruption?: { direction: ProxyDirection; how: ProxyCorruption };
}

const SERVER_KINDS: ReadonlySet<FaultKind> = new Set(['kill-server', 'quorum-loss', 'pause-server']);
const DURATION: Record<FaultKind, [number, number]> = {
  'kill-server': [500, 4000],
  'quorum-loss': [1000, 6000],
  'pause-server': [1000, 6000],
  'partition-client': [500, 8000],
  'freeze-client': [500, 6000],
  'expire-session': [0, 0],
  'kill-worker': [300, 3000],
  'corrupt-frame': [0, 0],
};

const CORRUPT_TO_SERVER = ['garbage', 'truncate', 'oversize', 'split'] as const;
const CORRUPT_TO_CLIENT = [...CORRUPT_TO_SERVER, 'duplicate'] as const;

/** Busy intervals per resource, for planning. */
class Calendar {
  private readonly busy = new Map<string, Array<[number, number]>>();

  free(key: string, from: number, to: number): boolean {
    return !(this.busy.get(key) ?? []).some(([a, b]) => a < to && from < b);
  }

  book(key: string, from: number, to: number): void {
    this.busy.set(key, [...(this.busy.get(key) ?? []), [from, to]]);
  }

  /** Most servers down at once during [from, to). */
  maxDown(from: number, to: number, servers: number): number {
    const keys = Array.from({ length: servers }, (_, i) => `s${i}`);
    // The count only rises at an interval's start: check `from` and every start inside.
    const starts = [from, ...keys.flatMap((k) => (this.busy.get(k) ?? []).map(([a]) => a).filter((a) => a > from && a < to))];
    return Math.max(...starts.map((t) => keys.filter((k) => !this.free(k, t, t + 1)).length));
  }
}

/** Picks a fault's targets, or undefined when none fits the rules at that time. */
function pickTargets(rng: Random, cal: Calendar, kind: FaultKind, from: number, to: number, workers: number): number[] | undefined {
  const server = SERVER_KINDS.has(kind);
  const count = kind === 'quorum-loss' ? 2 : 1;
  const pool = Array.from({ length: server ? 3 : workers }, (_, i) => i).filter((i) => cal.free(`${server ? 's' : 'w'}${i}`, from, to));
  if (pool.length < count) return undefined;
  // Server faults: never a third server down at any moment of the interval.
  if (server && cal.maxDown(from, to, 3) + count > 2) return undefined;
  const targets: number[] = [];
  while (targets.length < count) {
    const t = rng.pick(pool.filter((i) => !targets.includes(i)));
    targets.push(t);
  }
  return targets;
}

/** The whole schedule of a run of `durationMs` with `workers` workers, from `rng`. */
export function planFaults(rng: Random, durationMs: number, workers: number): PlannedFault[] {
  const cal = new Calendar();
  const plan: PlannedFault[] = [];
  for (let at = rng.int(1000, 3000); at < durationMs; at += rng.int(1000, 4000)) {
    const kind = rng.pick(FAULT_KINDS);
    const [lo, hi] = DURATION[kind];
    const ms = Math.min(rng.int(lo, hi), durationMs - at);
    const targets = pickTargets(rng, cal, kind, at, at + ms + 1, workers);
    if (!targets) continue;
    for (const t of targets) cal.book(`${SERVER_KINDS.has(kind) ? 's' : 'w'}${t}`, at, at + ms + 1);
    const fault: PlannedFault = { at, kind, targets, durationMs: ms };
    if (kind === 'corrupt-frame') {
      // A replayed request re-runs it on the server (a second create): beyond what TCP ever does, so replays go to the client only.
      const direction = rng.pick(['toClient', 'toServer'] as const);
      fault.corruption = { direction, how: rng.pick(direction === 'toClient' ? CORRUPT_TO_CLIENT : CORRUPT_TO_SERVER) };
    }
    plan.push(fault);
  }
  return plan;
}

/** A fault as it was played: when it began and ended, and what went wrong applying it. */
export interface PlayedFault extends PlannedFault {
  startedAt: number;
  healedAt?: number;
  error?: string;
}
