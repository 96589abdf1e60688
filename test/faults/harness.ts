// In-process workloads for the fault suite: lock contenders that log their holdings, latch
// recorders, a queue consumer that logs deliveries. Each runs until stopped and never throws
// from its loop (a failure is counted and the loop goes on, as an application would).
import { LeaderLatch, Lock, type ZkSession } from '../../src/index.js';
import type { Holding, LeadershipEvent } from './checkers.js';
import { FencedResource } from './checkers.js';

/** A process-like contender: acquires, writes to a fenced resource, holds a moment, releases. */
export class LockLoop {
  readonly holdings: Holding[] = [];
  acquisitions = 0;
  errors = 0;
  private stopped = false;
  private readonly done: Promise<void>;

  constructor(readonly name: string, readonly session: ZkSession, path: string, readonly resource: FencedResource, holdMs = 30) {
    const lock = new Lock(session, path, { data: name });
    this.done = (async () => {
      while (!this.stopped) {
        try {
          const lease = await lock.acquire({ timeoutMs: 4000 });
          const h: Holding = { holder: `${name}/${session.sessionId}`, token: lease.fencingToken, acquiredAt: Date.now() };
          this.holdings.push(h);
          if (lease.signal.aborted) h.endedAt = h.acquiredAt;
          else lease.signal.addEventListener('abort', () => { h.endedAt ??= Date.now(); }, { once: true });
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
    if (signal?.aborted) { resolve(); return; }
    const t = setTimeout(done, ms);
    function done() { clearTimeout(t); signal?.removeEventListener('abort', done); resolve(); }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** The one latch that leads, or undefined unless exactly one does. */
export function soleLeader(latches: readonly LeaderLatch[]): LeaderLatch | undefined {
  const l = latches.filter((x) => x.hasLeadership());
  return l.length === 1 ? l[0] : undefined;
}
