// In-process workloads for the fault suite: lock contenders that log their holdings, latch
// recorders, a queue consumer that logs deliveries. Each runs until stopped and never throws
// from its loop (a failure is counted and the loop goes on, as an application would).
import { readFileSync } from 'node:fs';
import { type LeaderLatch, Lock, type ZkSession } from '../../src/index.js';
import type { Holding, LeadershipEvent } from './checkers.js';
import type { FencedResource } from './checkers.js';

/** A process-like contender: acquires, writes to a fenced resource, holds a moment, releases. */
export class LockLoop {
  readonly holdings: Holding[] = [];
  acquisitions = 0;
  errors = 0;
  private stopped = false;
  private readonly done: Promise<void>;

  constructor(
    readonly name: string,
    readonly session: ZkSession,
    path: string,
    readonly resource: FencedResource,
    holdMs = 30,
  ) {
    const lock = new Lock(session, path, { data: name });
    this.done = (async () => {
      while (!this.stopped) {
        try {
          const lease = await lock.acquire({ timeoutMs: 4000 });
          const h: Holding = { holder: `${name}/${session.sessionId}`, token: lease.fencingToken, acquiredAt: Date.now() };
          this.holdings.push(h);
          if (lease.signal.aborted) h.endedAt = h.acquiredAt;
          else
            lease.signal.addEventListener(
              'abort',
              () => {
                h.endedAt ??= Date.now();
              },
              { once: true },
            );
          this.acquisitions++;
          resource.write(lease.fencingToken, name);
          await pause(holdMs, lease.signal);
          if (!lease.signal.aborted) resource.write(lease.fencingToken, name);
          h.endedAt ??= Date.now();
          await lease.release();
        } catch {
          this.errors++;
          await pause(50);
        }
        await pause(5);
      }
    })();
  }

  /** Holdings since `t`. */
  since(t: number): number {
    return this.holdings.filter((h) => h.acquiredAt >= t).length;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }
}

/** Records every latch's isLeader/notLeader with its token and time. */
export class LeadershipLog {
  readonly events: LeadershipEvent[] = [];
  watch(latch: LeaderLatch, name = latch.id): void {
    latch.on('isLeader', (term) => this.events.push({ participant: name, type: 'isLeader', token: term.fencingToken, at: Date.now() }));
    latch.on('notLeader', () => this.events.push({ participant: name, type: 'notLeader', at: Date.now() }));
  }
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) {
      resolve();
      return;
    }
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** The one latch that leads, or undefined unless exactly one does. */
export function soleLeader(latches: readonly LeaderLatch[]): LeaderLatch | undefined {
  const l = latches.filter((x) => x.hasLeadership());
  return l.length === 1 ? l[0] : undefined;
}

/** One line of a fault child's log (test/fixtures/fault-child.ts). */
export interface ChildLogLine {
  ev: string;
  name: string;
  t: number;
  token?: string;
  item?: string;
  task?: string;
  session?: string;
  state?: string;
}

/** Reads a fault child's JSON-lines log (empty when it does not exist yet). */
export function readChildLog(file: string): ChildLogLine[] {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as ChildLogLine);
}

/**
 * Lock holdings and latch events from lock-latch children's logs. `endedAt` gives, per child,
 * when it was killed or stopped: a holding still open then ends there, and so does a leadership.
 */
export function fromChildLog(lines: readonly ChildLogLine[], endedAt: ReadonlyMap<string, number>): { holdings: Holding[]; events: LeadershipEvent[] } {
  const holdings: Holding[] = [];
  const open = new Map<string, Holding>();
  const events: LeadershipEvent[] = [];
  for (const l of lines) {
    if (l.ev === 'acquired') {
      const h: Holding = { holder: l.name, token: BigInt(l.token!), acquiredAt: l.t };
      holdings.push(h);
      open.set(l.name, h);
    }
    if (l.ev === 'ended') {
      const h = open.get(l.name);
      if (h) h.endedAt ??= l.t;
    }
    if (l.ev === 'isLeader') events.push({ participant: l.name, type: 'isLeader', token: BigInt(l.token!), at: l.t });
    if (l.ev === 'notLeader') events.push({ participant: l.name, type: 'notLeader', at: l.t });
  }
  for (const [n, at] of endedAt) {
    const h = open.get(n);
    if (h) h.endedAt ??= at;
    events.push({ participant: n, type: 'notLeader', at });
  }
  return { holdings, events };
}

/** The participants whose last latch event is isLeader. */
export function leadersOf(lines: readonly ChildLogLine[]): string[] {
  const last = new Map<string, string>();
  for (const l of lines) if (l.ev === 'isLeader' || l.ev === 'notLeader') last.set(l.name, l.ev);
  return [...last].filter(([, ev]) => ev === 'isLeader').map(([n]) => n);
}
