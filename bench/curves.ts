/**
 * CURVES: how cost grows with the number of participants. One row per point
 * (`workload: 'CURVES'`, `name` = the curve, `curve`, `n` = participants, the curve's figure);
 * `bench/chart.ts` draws them and prints them as tables.
 *
 * | curve | x (`n`) | figure | what one point does |
 * |---|---|---|---|
 * | `lock` | contenders, 1–32 | `ops_per_s` | n sessions, one `Lock` each on one path, all at once, `cycles ÷ n` acquire + release each (at least `minCycles`); a holder counts itself in, yields to the event loop, checks it is still alone (`violations`, must be 0), as W2 |
 * | `queue` | consumers, 1–32 | `items_per_s` | a producer session `putMany`s a backlog of `items`; then n consumer sessions `consume()` (default concurrency) at once: items/s from their start to the last distinct item handled; `duplicates` and `missing` must be 0, and no item is left once the consumers closed |
 * | `scheduler` | workers, 1–8 | `tasks_per_s` | as W6: one dispatcher-only instance, n worker-only ones (`capacity` slots), one client, each on its own session; `tasks` no-op tasks submitted at once, tasks/s from the first submit to the last `succeeded` |
 * | `failover` | participants, 2–64 | `p50_ms`, `p99_ms` | as W3: n `LeaderLatch`es on n sessions; `failovers` times the leader `close()`s and we time until another latch's `isLeader`; it rejoins at the back; 20 ms settle; after each round exactly one latch leads |
 *
 * Chosen for the FULL run (about 40–60 s on the 2-core machine, well inside 3 min): 2000 lock
 * cycles per point (at least 20 per contender) after 200 warm-up cycles (W1's), a 2000-item
 * backlog per queue point (the anchors' W4 size), 200 tasks per scheduler point with capacity 4
 * (W6's), 20 failovers per failover point (W3's; so p99 is the slowest of 20). Each point uses
 * fresh paths and its own sessions, closed when the point ends. TINY (`z === TINY`): 2–3 points
 * of a few cycles each, every code path in a second or two.
 * @module
 */
import { DistributedQueue, LeaderLatch, Lock, TaskScheduler, stringCodec } from '../src/index.js';
import type { ZkSession } from '../src/index.js';
import { HolderCheck, RoundTrips, now, pct, sleep, within, type WorkloadContext } from './lib.js';
import { TINY, type Sizes } from './sizes.js';

/** The workload id of every curve row. */
export const CURVES = 'CURVES';

/** Points (x values) and sizes of each curve in the FULL run. */
const FULL_CURVES = {
  lock: { points: [1, 2, 4, 8, 16, 32], cycles: 2000, minCycles: 20, warmup: 200 },
  queue: { points: [1, 2, 4, 8, 16, 32], items: 2000 },
  scheduler: { points: [1, 2, 4, 8], capacity: 4, tasks: 200 },
  failover: { points: [2, 4, 8, 16, 32, 64], failovers: 20, settleMs: 20 },
  /** Deadline of any one wait inside a point (ms). */
  waitMs: 60_000,
};

type CurveSizes = typeof FULL_CURVES;

/** TINY (the smoke test): every code path, a second or two. */
const TINY_CURVES: CurveSizes = {
  lock: { points: [1, 2, 4], cycles: 12, minCycles: 2, warmup: 2 },
  queue: { points: [1, 2, 4], items: 30 },
  scheduler: { points: [1, 2], capacity: 2, tasks: 6 },
  failover: { points: [2, 4], failovers: 2, settleMs: 20 },
  waitMs: 20_000,
};

/** Deadline of any one wait inside a point: `waitMs` of the sizes in use (set by `curves`). */
let pointWaitMs = FULL_CURVES.waitMs;

/** Wakes whoever waits for the next event (the workloads' callbacks call `notify`). */
class Wakeup {
  private waiting: (() => void) | undefined;

  notify(): void {
    const w = this.waiting;
    this.waiting = undefined;
    w?.();
  }

  /** Waits until `cond()` holds, re-checking after each `notify` (and stopping when the workload is aborted). */
  async until(ctx: WorkloadContext, cond: () => boolean, what: () => string, ms = pointWaitMs): Promise<void> {
    const deadline = Date.now() + ms;
    const onAbort = () => this.notify();
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    try {
      while (!cond()) {
        ctx.signal.throwIfAborted();
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`${what()}: not within ${ms} ms`);
        const next = new Promise<void>((r) => {
          this.waiting = r;
        });
        await within(next, left, what()).catch(() => undefined);
      }
    } finally {
      ctx.signal.removeEventListener('abort', onAbort);
    }
  }
}

/** Opens `n` sessions counted by one `RoundTrips`, runs `fn`, closes them whatever happens. */
async function withSessions<T>(ctx: WorkloadContext, n: number, fn: (sessions: ZkSession[], rt: RoundTrips) => Promise<T>): Promise<T> {
  const sessions = await ctx.connectMany(n);
  const rt = new RoundTrips();
  for (const s of sessions) rt.attach(s);
  try {
    return await fn(sessions, rt);
  } finally {
    await Promise.all(sessions.map((s) => s.close().catch(() => undefined)));
  }
}

/**
 * Runs every curve, point by point. A broken property (violations, duplicates, lost items) or a
 * failing point (which ends its curve) fails the workload once every curve has had its turn, so
 * one broken recipe does not hide the others' curves; a time-limit abort ends the run at once.
 */
export async function curves(ctx: WorkloadContext, z: Sizes): Promise<void> {
  const c = z === TINY ? TINY_CURVES : FULL_CURVES;
  pointWaitMs = c.waitMs;
  const problems: string[] = [];
  const run = async (curve: string, points: readonly number[], point: (n: number) => Promise<string[] | undefined>): Promise<void> => {
    let at = 0;
    try {
      for (at of points) problems.push(...((await point(at)) ?? []).map((p) => `${curve} n=${at}: ${p}`));
    } catch (err) {
      if (ctx.signal.aborted) throw err;
      problems.push(`${curve} n=${at}: ${err instanceof Error ? err.message : String(err)}`);
    }
  };
  await lockWarmup(ctx, c.lock.warmup);
  await run('lock', c.lock.points, (n) => lockPoint(ctx, n, Math.max(c.lock.minCycles, Math.ceil(c.lock.cycles / n))));
  await run('queue', c.queue.points, (n) => queuePoint(ctx, n, c.queue.items));
  await run('scheduler', c.scheduler.points, (n) => schedulerPoint(ctx, n, c.scheduler).then(() => undefined));
  await run('failover', c.failover.points, (n) => failoverPoint(ctx, n, c.failover).then(() => undefined));
  if (problems.length > 0) throw new Error(problems.join('; '));
}

// ---- lock -------------------------------------------------------------------------------------

async function lockWarmup(ctx: WorkloadContext, cycles: number): Promise<void> {
  await withSessions(ctx, 1, async ([s]) => {
    const lock = new Lock(s!, `${ctx.root}/curves/lock-warmup`);
    for (let i = 0; i < cycles; i++) await (await lock.acquire({ timeoutMs: pointWaitMs })).release();
  });
}

/** `n` contenders × `cycles` acquire + release on one path; returns the broken properties. */
function lockPoint(ctx: WorkloadContext, n: number, cycles: number): Promise<string[]> {
  const path = `${ctx.root}/curves/lock-${n}`;
  return withSessions(ctx, n, async (sessions, rt) => {
    const locks = sessions.map((s) => new Lock(s, path));
    const check = new HolderCheck();
    const waits: number[] = [];
    const before = rt.snapshot();
    const t0 = now();
    await Promise.all(
      locks.map(async (lock) => {
        for (let j = 0; j < cycles; j++) {
          ctx.signal.throwIfAborted();
          const t = now();
          const lease = await lock.acquire({ timeoutMs: pointWaitMs });
          waits.push(now() - t);
          await check.hold();
          await lease.release();
        }
      }),
    );
    const el = now() - t0;
    const total = n * cycles;
    const figures = { ops_per_s: total / (el / 1000), wait_p50_ms: pct(waits, 50), wait_p99_ms: pct(waits, 99), violations: check.violations };
    const more = { max_holders: check.max, wakeups_per_cycle: locks.reduce((a, l) => a + l.stats.wakeups, 0) / total };
    const round_trips = { per_cycle: rt.since(before, total) };
    ctx.report.emit(CURVES, 'lock', { curve: 'lock', n, cycles: total, cycles_per_contender: cycles, ...figures, ...more, round_trips });
    return check.violations === 0 ? [] : [`${check.violations} mutual-exclusion violations`];
  });
}

// ---- queue ------------------------------------------------------------------------------------

/** Puts the backlog from its own session; returns how long `putMany` took (ms). */
function putBacklog(ctx: WorkloadContext, path: string, backlog: readonly string[]): Promise<number> {
  return withSessions(ctx, 1, async ([s]) => {
    const producer = new DistributedQueue<string>(s!, path, { codec: stringCodec });
    const t = now();
    await producer.putMany(backlog);
    await producer.close();
    return now() - t;
  });
}

/** What the consumers of one point saw. */
type Drained = { seen: Set<string>; handled: number[]; duplicates: number; ms: number };

/** Starts a consumer on each queue at once; resolves once `items` distinct items were handled and every consumer closed. */
async function drain(ctx: WorkloadContext, queues: readonly DistributedQueue<string>[], items: number): Promise<Drained> {
  const d: Drained = { seen: new Set(), handled: queues.map(() => 0), duplicates: 0, ms: 0 };
  const wake = new Wakeup();
  const t0 = now();
  const consumers = queues.map((q, i) =>
    q.consume((it) => {
      d.handled[i]!++;
      if (d.seen.has(it)) d.duplicates++;
      d.seen.add(it);
      if (d.seen.size === items) wake.notify();
    }),
  );
  try {
    const what = () => `${d.seen.size} of ${items} items handled`;
    await wake.until(ctx, () => d.seen.size === items, what);
    d.ms = now() - t0;
    await Promise.all(consumers.map((c) => c.close()));
    return d;
  } finally {
    await Promise.all(consumers.map((c) => c.close().catch(() => undefined)));
  }
}

/** A backlog of `items`, drained by `n` consumers at once; returns the broken properties. */
async function queuePoint(ctx: WorkloadContext, n: number, items: number): Promise<string[]> {
  const path = `${ctx.root}/curves/queue-${n}`;
  const backlog = Array.from({ length: items }, (_, i) => `item-${i}`);
  const putMs = await putBacklog(ctx, path, backlog);
  return withSessions(ctx, n, async (sessions, rt) => {
    const queues = sessions.map((s) => new DistributedQueue<string>(s, path, { codec: stringCodec }));
    try {
      const before = rt.snapshot();
      const d = await drain(ctx, queues, items);
      const missing = backlog.filter((x) => !d.seen.has(x)).length;
      const left = (await ctx.admin.getChildren(path)).length;
      const total = d.handled.reduce((a, b) => a + b, 0);
      const figures = { items_per_s: items / (d.ms / 1000), duplicates: d.duplicates, missing, left_in_queue: left };
      const more = { busiest_share: Math.max(...d.handled) / Math.max(1, total), backlog_put_ms: putMs };
      const round_trips = { per_item_all_consumers: rt.since(before, items) };
      ctx.report.emit(CURVES, 'queue', { curve: 'queue', n, items, ...figures, ...more, round_trips });
      const bad = { duplicates: d.duplicates, missing, 'items left in the queue': left };
      return Object.entries(bad)
        .filter(([, v]) => v !== 0)
        .map(([k, v]) => `${v} ${k}`);
    } finally {
      await Promise.all(queues.map((q) => q.close().catch(() => undefined)));
    }
  });
}

// ---- scheduler --------------------------------------------------------------------------------

/** The instances of one scheduler point and what their events told. */
type SchedulerSet = {
  dispatcher: TaskScheduler;
  client: TaskScheduler;
  workers: TaskScheduler[];
  succeededAt: Map<string, number>;
  errors: string[];
  wake: Wakeup;
};

/** A dispatcher-only instance, a client and worker-only instances (no-op handler), as W6; not started. */
function schedulerSet(path: string, [dispS, clientS, ...workerS]: ZkSession[], capacity: number): SchedulerSet {
  const set: SchedulerSet = {
    dispatcher: new TaskScheduler(dispS!, path, { roles: ['dispatcher'], workerId: 'dispatcher' }),
    client: new TaskScheduler(clientS!, path, { roles: [] }),
    workers: workerS.map(
      (s, i) => new TaskScheduler(s, path, { roles: ['worker'], workerId: `w${i}`, capacity, handlers: { noop: () => 'ok' }, drainTimeoutMs: 1000 }),
    ),
    succeededAt: new Map(),
    errors: [],
    wake: new Wakeup(),
  };
  const onError = (e: Error) => {
    if (set.errors.length < 5) set.errors.push(e.message);
  };
  set.dispatcher.on('error', onError);
  for (const w of set.workers) {
    w.on('succeeded', (id) => {
      if (!set.succeededAt.has(id)) set.succeededAt.set(id, now());
      set.wake.notify();
    });
    w.on('error', onError);
  }
  return set;
}

/** Submits `tasks` no-op tasks at once; returns their ids and submit times. */
async function submitAll(client: TaskScheduler, tasks: number): Promise<{ ids: string[]; submittedAt: Map<string, number> }> {
  const submittedAt = new Map<string, number>();
  const ids = await Promise.all(
    Array.from({ length: tasks }, async (_, k) => {
      const t = now();
      const id = await client.submit('noop', { k });
      submittedAt.set(id, t);
      return id;
    }),
  );
  return { ids, submittedAt };
}

/** One dispatcher, `n` workers, one client; `c.tasks` no-op tasks submitted at once. */
function schedulerPoint(ctx: WorkloadContext, n: number, c: CurveSizes['scheduler']): Promise<void> {
  const path = `${ctx.root}/curves/sched-${n}`;
  return withSessions(ctx, n + 2, async (sessions, rt) => {
    const set = schedulerSet(path, sessions, c.capacity);
    try {
      await set.dispatcher.start();
      for (const w of set.workers) await w.start();
      const before = rt.snapshot();
      const t0 = now();
      const { ids, submittedAt } = await submitAll(set.client, c.tasks);
      const done = () => ids.filter((id) => set.succeededAt.has(id)).length;
      const errs = () => (set.errors.length ? ` (errors: ${set.errors.join('; ')})` : '');
      const what = () => `${done()} of ${ids.length} tasks succeeded${errs()}`;
      await set.wake.until(ctx, () => done() === ids.length, what);
      const tEnd = Math.max(...ids.map((id) => set.succeededAt.get(id)!));
      const lat = ids.map((id) => set.succeededAt.get(id)! - submittedAt.get(id)!);
      const figures = { tasks_per_s: c.tasks / ((tEnd - t0) / 1000), p50_ms: pct(lat, 50), p99_ms: pct(lat, 99) };
      const round_trips = { per_task_all_sessions: rt.since(before, c.tasks) };
      ctx.report.emit(CURVES, 'scheduler', { curve: 'scheduler', n, capacity: c.capacity, tasks: c.tasks, ...figures, round_trips });
    } finally {
      await Promise.all(set.workers.map((w) => w.stop().catch(() => undefined)));
      await set.dispatcher.stop().catch(() => undefined);
      await set.client.stop().catch(() => undefined);
    }
  });
}

// ---- leader failover --------------------------------------------------------------------------

/** One latch per session on one path, and the `isLeader` events in the order they came. */
class Latches {
  readonly latches: LeaderLatch[] = [];
  private readonly events: { id: number; t: number }[] = [];
  private readonly wake = new Wakeup();

  constructor(
    private readonly ctx: WorkloadContext,
    private readonly sessions: readonly ZkSession[],
    private readonly path: string,
  ) {
    for (let i = 0; i < sessions.length; i++) this.start(i);
  }

  /** (Re)starts participant `i` with a fresh latch: it joins at the back of the line. */
  start(i: number): LeaderLatch {
    const l = new LeaderLatch(this.sessions[i]!, this.path, { id: `p${i}` });
    l.on('isLeader', () => {
      this.events.push({ id: i, t: now() });
      this.wake.notify();
    });
    l.start();
    this.latches[i] = l;
    return l;
  }

  /** The next `isLeader` event (who, and when). */
  async next(): Promise<{ id: number; t: number }> {
    const queued = () => this.events.length > 0;
    await this.wake.until(this.ctx, queued, () => 'waiting for a leader');
    return this.events.shift()!;
  }

  /** Throws unless exactly latch `leader` leads and no event is queued. */
  checkOnly(leader: number, round: number): void {
    const holders = this.latches.filter((l) => l.hasLeadership()).length;
    if (holders !== 1 || !this.latches[leader]!.hasLeadership() || this.events.length !== 0) {
      throw new Error(`inconsistent after round ${round} (holders=${holders}, queued events=${this.events.length})`);
    }
  }

  /** Closes the non-leaders, then the rest. */
  async close(): Promise<void> {
    await Promise.all(this.latches.filter((l) => !l.hasLeadership()).map((l) => l.close().catch(() => undefined)));
    await Promise.all(this.latches.map((l) => l.close().catch(() => undefined)));
  }
}

/** `n` latches; `c.failovers` times the leader closes and we time until another one leads. */
function failoverPoint(ctx: WorkloadContext, n: number, c: CurveSizes['failover']): Promise<void> {
  const path = `${ctx.root}/curves/leader-${n}`;
  return withSessions(ctx, n, async (sessions, rt) => {
    const set = new Latches(ctx, sessions, path);
    try {
      let leader = (await set.next()).id;
      await ctx.waitChildren(path, n);
      await sleep(c.settleMs);
      const lat: number[] = [];
      const before = rt.snapshot();
      for (let k = 0; k < c.failovers; k++) {
        ctx.signal.throwIfAborted();
        const t0 = now();
        const closing = set.latches[leader]!.close();
        const ev = await set.next();
        if (ev.id === leader) throw new Error(`p${leader} led again after its close()`);
        lat.push(ev.t - t0);
        await closing;
        set.start(leader);
        await ctx.waitChildren(path, n);
        await sleep(c.settleMs);
        leader = ev.id;
        set.checkOnly(leader, k);
      }
      const figures = { p50_ms: pct(lat, 50), p99_ms: pct(lat, 99), max_ms: pct(lat, 100) };
      const round_trips = { per_failover_all_sessions: rt.since(before, c.failovers) };
      ctx.report.emit(CURVES, 'failover', { curve: 'failover', n, failovers: c.failovers, ...figures, round_trips });
    } finally {
      await set.close();
    }
  });
}
