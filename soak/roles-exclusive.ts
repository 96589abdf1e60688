/**
 * The soak's exclusive roles: a lock, both sides of a read-write lock, a semaphore, a leader
 * latch and a leader selector. Each logs `hold` once its acquire returned (with the fencing
 * token) and `unhold` the moment it stops believing it holds: before its release, or when the
 * lease's signal aborts (connection suspended, session lost), whichever comes first. The
 * checkers then hold every pair of holdings to the recipe's promise.
 * @module
 */
import { LeaderLatch, LeaderSelector, Lock, ReadWriteLock, Semaphore, type Lease } from '../src/index.js';
import { type RoleContext, SEM_LEASES, loop, sleep } from './context.js';
import type { HoldKind } from './log.js';

/** Logs a holding of `kind` now, and its end once (`end()`, or the signal's abort). */
function holding(ctx: RoleContext, kind: HoldKind, token: bigint, signal: AbortSignal): () => void {
  const hid = ctx.id(kind);
  ctx.log({ ev: 'hold', kind, hid, token: String(token) });
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    signal.removeEventListener('abort', end);
    ctx.log({ ev: 'unhold', hid });
  };
  if (signal.aborted) end();
  else signal.addEventListener('abort', end, { once: true });
  return end;
}

/** Acquire, log, hold a little (or until the lease is lost), stop believing, release. */
async function holdOnce(ctx: RoleContext, kind: HoldKind, acquire: () => Promise<Lease>, holdMs: [number, number]): Promise<void> {
  const lease = await acquire();
  const end = holding(ctx, kind, lease.fencingToken, lease.signal);
  try {
    await sleep(ctx.rng.int(holdMs[0], holdMs[1]), lease.signal);
  } finally {
    end();
    await lease.release();
  }
}

/** A Lock contender, again and again. */
export function lockRole(ctx: RoleContext): Promise<void> {
  const lock = new Lock(ctx.session, ctx.paths.lock, { data: ctx.who });
  return loop(ctx, 'lock', () => holdOnce(ctx, 'lock', () => lock.acquire({ timeoutMs: 10_000, signal: ctx.stopping }), [10, 60]));
}

/** A read-write lock user: reads three times out of four, writes otherwise. */
export function readWriteRole(ctx: RoleContext): Promise<void> {
  const rw = new ReadWriteLock(ctx.session, ctx.paths.rw, { data: ctx.who });
  return loop(ctx, 'rw', () => {
    const write = ctx.rng.chance(0.25);
    const side = write ? rw.writeLock : rw.readLock;
    return holdOnce(ctx, write ? 'write' : 'read', () => side.acquire({ timeoutMs: 10_000, signal: ctx.stopping }), [10, 80]);
  });
}

/** A semaphore user, one lease at a time. */
export function semaphoreRole(ctx: RoleContext): Promise<void> {
  const sem = new Semaphore(ctx.session, ctx.paths.sem, { maxLeases: SEM_LEASES, data: ctx.who });
  return loop(ctx, 'sem', async () => {
    const [lease] = await sem.acquire({ timeoutMs: 10_000, signal: ctx.stopping });
    return holdOnce(ctx, 'sem', async () => lease!, [20, 100]);
  });
}

/** A leader latch participant: joins, stays a few seconds (leading or not), leaves, joins again. */
export function latchRole(ctx: RoleContext): Promise<void> {
  return loop(ctx, 'latch', async () => {
    const latch = new LeaderLatch(ctx.session, ctx.paths.latch, { id: ctx.who });
    let end: (() => void) | undefined;
    const ended = new AbortController();
    latch.on('isLeader', (term) => {
      end = holding(ctx, 'latch', term.fencingToken, ended.signal);
    });
    latch.on('notLeader', () => end?.());
    latch.start();
    try {
      await sleep(ctx.rng.int(2000, 8000), ctx.stopping);
    } finally {
      end?.();
      ended.abort();
      await latch.close();
    }
  });
}

/** A leader selector participant (auto-requeue): leads for a moment each time it is chosen. */
export function selectorRole(ctx: RoleContext): Promise<void> {
  return new Promise<void>((resolve) => {
    let end: (() => void) | undefined;
    const selector = new LeaderSelector(ctx.session, ctx.paths.selector, {
      id: ctx.who,
      autoRequeue: true,
      onLeadership: async (signal, term) => {
        end = holding(ctx, 'selector', term.fencingToken, signal);
        try {
          await sleep(ctx.rng.int(100, 600), signal);
        } finally {
          end();
        }
      },
    });
    selector.on('error', () => undefined); // waits ride out faults with autoRequeue
    selector.start();
    ctx.stopping.addEventListener('abort', () => void selector.close().finally(resolve), { once: true });
  });
}
