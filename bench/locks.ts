/**
 * W0 (exists round trip), W1 (uncontended Lock), W2 (8-way contended Lock) and the herd check
 * (1000 waiters on one Lock: wake-ups per release, heap per waiter).
 * @module
 */
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import type { Sizes } from './sizes.js';
import { HolderCheck, RoundTrips, now, pct, sleep, type WorkloadContext } from './lib.js';
import { loadRecipe, type LeaseLike, type LockCtor, type LockLike } from './recipes.js';

/** W0: sequential `exists("/")`, the client's round-trip cost (calibration). */
export async function w0(ctx: WorkloadContext, z: Sizes): Promise<void> {
  const [s] = await ctx.connectMany(1);
  const rt = new RoundTrips();
  rt.attach(s!);
  for (let i = 0; i < z.w0Warmup; i++) await s!.exists('/');
  const lat = new Array<number>(z.w0N);
  const before = rt.snapshot();
  const t0 = now();
  for (let i = 0; i < z.w0N; i++) {
    const t = now();
    await s!.exists('/');
    lat[i] = now() - t;
  }
  const el = now() - t0;
  ctx.report.emit('W0', 'exists-rtt', {
    recipe: 'ZkSession.exists()',
    n: z.w0N,
    ops_per_s: z.w0N / (el / 1000),
    p50_ms: pct(lat, 50),
    p99_ms: pct(lat, 99),
    round_trips: { per_op: rt.since(before, z.w0N) },
  });
}

/** W1: one session, Lock acquire + release, warm-up then measured cycles. */
export async function w1(ctx: WorkloadContext, z: Sizes): Promise<void> {
  const Lock = await loadRecipe<LockCtor>('lock.js', 'Lock');
  const [s] = await ctx.connectMany(1);
  const rt = new RoundTrips();
  rt.attach(s!);
  const lock = new Lock(s!, `${ctx.root}/w1/lock`);
  for (let i = 0; i < z.w1Warmup; i++) await (await lock.acquire()).release();
  const lat = new Array<number>(z.w1N);
  const before = rt.snapshot();
  const t0 = now();
  for (let i = 0; i < z.w1N; i++) {
    const t = now();
    const lease = await lock.acquire();
    await lease.release();
    lat[i] = now() - t;
  }
  const el = now() - t0;
  ctx.report.emit('W1', 'lock-uncontended', {
    recipe: 'Lock',
    n: z.w1N,
    warmup: z.w1Warmup,
    ops_per_s: z.w1N / (el / 1000),
    p50_ms: pct(lat, 50),
    p99_ms: pct(lat, 99),
    round_trips: { per_cycle: rt.since(before, z.w1N) },
  });
}

/**
 * W2: `w2Clients` sessions × `w2Cycles` cycles on one Lock path, all at once. In-process check:
 * a holder counts itself in, yields to the event loop (so an overlapping holder could show up),
 * and checks it is still alone before it releases.
 */
export async function w2(ctx: WorkloadContext, z: Sizes): Promise<void> {
  const Lock = await loadRecipe<LockCtor>('lock.js', 'Lock');
  const path = `${ctx.root}/w2/lock`;
  const sessions = await ctx.connectMany(z.w2Clients);
  const rt = new RoundTrips();
  for (const s of sessions) rt.attach(s);
  const locks = sessions.map((s) => new Lock(s, path));
  const check = new HolderCheck();
  const waits: number[] = [];
  const before = rt.snapshot();
  const t0 = now();
  await Promise.all(
    locks.map(async (lock) => {
      for (let j = 0; j < z.w2Cycles; j++) {
        ctx.signal.throwIfAborted();
        const t = now();
        const lease = await lock.acquire({ timeoutMs: 60_000 });
        waits.push(now() - t);
        await check.hold();
        await lease.release();
      }
    }),
  );
  const el = now() - t0;
  const n = z.w2Clients * z.w2Cycles;
  const wakeups = locks.reduce((a, l) => a + l.stats.wakeups, 0);
  ctx.report.emit('W2', 'lock-contended', {
    recipe: 'Lock',
    clients: z.w2Clients,
    cycles_per_client: z.w2Cycles,
    n,
    ops_per_s: n / (el / 1000),
    wait_p50_ms: pct(waits, 50),
    wait_p99_ms: pct(waits, 99),
    violations: check.violations,
    max_holders: check.max,
    wakeups_per_cycle: wakeups / n,
    round_trips: { per_cycle: rt.since(before, n) },
  });
  if (check.violations !== 0) throw new Error(`W2 mutual exclusion violated: ${check.violations}`);
}

/** A `gc()` function, if V8 lets us have one (else heap figures include garbage). */
function getGc(): (() => void) | undefined {
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as unknown;
    return typeof gc === 'function' ? (gc as () => void) : undefined;
  } catch {
    return undefined;
  }
}

async function settledHeap(gc: (() => void) | undefined): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc?.();
    await sleep(5);
  }
  return process.memoryUsage().heapUsed;
}

/**
 * Herd check: one holder, `herdWaiters` contenders waiting on the same Lock (spread over
 * `herdSessions` sessions, one Lock instance per session), then every lease handed on in turn.
 * Counts wake-ups (`Lock.stats.wakeups`: a watch fired and the children were listed again) per
 * release — 1 means no herd — and the heap each waiting contender costs.
 */
export async function herd(ctx: WorkloadContext, z: Sizes): Promise<void> {
  const Lock = await loadRecipe<LockCtor>('lock.js', 'Lock');
  const path = `${ctx.root}/herd/lock`;
  const gc = getGc();
  const [holderSession, ...sessions] = await ctx.connectMany(z.herdSessions + 1);
  const rt = new RoundTrips();
  for (const s of sessions) rt.attach(s, { countAnswers: true });
  const holderLock = new Lock(holderSession!, path);
  const first = await holderLock.acquire();
  const locks: LockLike[] = sessions.map((s) => new Lock(s, path));

  const heapBefore = await settledHeap(gc);
  const granted: { lease: LeaseLike; i: number }[] = [];
  let wake: (() => void) | undefined;
  let failed: unknown;
  const pending: Promise<void>[] = [];
  const tQueue = now();
  for (let i = 0; i < z.herdWaiters; i++) {
    const lock = locks[i % locks.length]!;
    pending.push(
      lock.acquire({ timeoutMs: Math.max(120_000, z.herdWaiters * 60) }).then(
        (lease) => {
          granted.push({ lease, i });
          wake?.();
        },
        (err: unknown) => {
          failed ??= err;
          wake?.();
        },
      ),
    );
  }
  const budgetMs = Math.max(60_000, z.herdWaiters * 30);
  await ctx.waitChildren(path, z.herdWaiters + 1, budgetMs);
  // Every waiter lists the children once (up to N names each: O(N²) bytes in all) and then sets
  // its predecessor watch: wait until every request is answered and nothing new went out for
  // 200 ms (all waiters parked on their watch).
  const deadline = Date.now() + budgetMs;
  let last = -1;
  let quietSince = Date.now();
  for (;;) {
    ctx.signal.throwIfAborted();
    if (failed) break;
    const { pending, answered } = rt.inFlight();
    if (pending !== 0 || answered !== last) {
      last = answered;
      quietSince = Date.now();
    } else if (Date.now() - quietSince >= 200) break;
    if (Date.now() > deadline) throw new Error(`herd: waiters still busy after ${budgetMs / 1000} s (${pending} requests in flight)`);
    await sleep(10);
  }
  const queuedMs = now() - tQueue;
  const heapWaiting = await settledHeap(gc);
  if (failed) throw failed;

  // Hand the lock on, one release at a time; count wake-ups (and listings) per release.
  const wakeupsBefore = locks.reduce((a, l) => a + l.stats.wakeups, 0);
  const rtBefore = rt.snapshot();
  let releases = 0;
  let current: LeaseLike = first;
  const t0 = now();
  while (releases < z.herdWaiters) {
    ctx.signal.throwIfAborted();
    const got = new Promise<void>((r) => {
      wake = r;
    });
    await current.release();
    releases++;
    if (granted.length === 0) await got;
    if (failed) throw failed;
    const next = granted.shift();
    if (!next) throw new Error('herd: a release granted no lease');
    if (granted.length !== 0) throw new Error(`herd: one release granted ${granted.length + 1} leases`);
    current = next.lease;
  }
  const el = now() - t0;
  await current.release();
  await Promise.all(pending);
  const wakeups = locks.reduce((a, l) => a + l.stats.wakeups, 0) - wakeupsBefore;
  ctx.report.emit('herd', 'lock-herd', {
    recipe: 'Lock',
    waiters: z.herdWaiters,
    sessions: z.herdSessions,
    releases,
    wakeups_per_release: wakeups / releases,
    handoffs_per_s: releases / (el / 1000),
    bytes_per_waiter: (heapWaiting - heapBefore) / z.herdWaiters,
    gc_exposed: gc !== undefined,
    queue_up_ms: queuedMs,
    round_trips: { per_handoff: rt.since(rtBefore, releases) },
  });
}
