/**
 * W6: the task scheduler, in-process: one dispatcher-only instance, `w6Workers` worker-only
 * instances (capacity `w6Capacity`), one submit-only client, each on its own session.
 * 1. Throughput: after `w6Warmup` no-op tasks (untimed), submit `w6Tasks` at once; tasks/s from
 *    the first submit to the last `succeeded` event, and per-task latency (submit → succeeded) p50/p99.
 * 2. Worker failover: submit `w6SlowTasks` tasks that run until released; once all run, close
 *    the session of the worker running most of them (abruptly: its registration and claims
 *    vanish at once, as when a process dies and its session ends); time until every one of its
 *    tasks has started again on another worker. Then release them all and wait for `succeeded`.
 * @module
 */
import type { Sizes } from './sizes.js';
import { RoundTrips, now, pct, within, type WorkloadContext } from './lib.js';
import { loadRecipe, type TaskContextLike, type TaskSchedulerCtor, type TaskSchedulerLike } from './recipes.js';

export async function w6(ctx: WorkloadContext, z: Sizes): Promise<void> {
  const TaskScheduler = await loadRecipe<TaskSchedulerCtor>('scheduler/index.js', 'TaskScheduler');
  const path = `${ctx.root}/w6/sched`;
  const [dispS, clientS, ...workerS] = await ctx.connectMany(z.w6Workers + 2);
  const rt = new RoundTrips();
  for (const s of [dispS!, clientS!, ...workerS]) rt.attach(s);

  let release!: () => void;
  const released = new Promise<void>((r) => {
    release = r;
  });
  const slow = (_p: unknown, c: TaskContextLike): Promise<string> =>
    new Promise<string>((resolve, reject) => {
      c.signal.addEventListener('abort', () => reject(c.signal.reason), { once: true });
      void released.then(() => resolve('ok'));
    });
  const handlers = { noop: () => 'ok', slow };

  const succeededAt = new Map<string, number>();
  const running = workerS.map(() => new Set<string>());
  const startedAt = workerS.map(() => new Map<string, number>());
  let wake: (() => void) | undefined;
  const backgroundErrors: string[] = [];
  const dispatcher = new TaskScheduler(dispS!, path, { roles: ['dispatcher'], workerId: 'dispatcher' });
  const client = new TaskScheduler(clientS!, path, { roles: [] });
  const workers: TaskSchedulerLike[] = workerS.map((s, i) => {
    const w = new TaskScheduler(s, path, { roles: ['worker'], workerId: `w${i}`, capacity: z.w6Capacity, handlers, maxAttempts: 5, drainTimeoutMs: 1000 });
    w.on('started', (id) => {
      running[i]!.add(id);
      startedAt[i]!.set(id, now());
      wake?.();
    });
    w.on('succeeded', (id) => {
      running[i]!.delete(id);
      if (!succeededAt.has(id)) succeededAt.set(id, now());
      wake?.();
    });
    w.on('error', (e) => {
      if (backgroundErrors.length < 5) backgroundErrors.push(e.message);
    });
    return w;
  });
  dispatcher.on('error', (e) => {
    if (backgroundErrors.length < 5) backgroundErrors.push(e.message);
  });
  const until = async (cond: () => boolean, what: string, ms = 30_000): Promise<void> => {
    const deadline = Date.now() + ms;
    while (!cond()) {
      ctx.signal.throwIfAborted();
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`W6: ${what}: not within ${ms} ms${backgroundErrors.length ? ` (scheduler errors: ${backgroundErrors.join('; ')})` : ''}`);
      await within(
        new Promise<void>((r) => {
          wake = r;
        }),
        left,
        `W6: ${what}`,
      ).catch(() => undefined);
    }
  };
  const victimIndex = { i: -1 };
  try {
    await dispatcher.start();
    for (const w of workers) await w.start();

    // 1. throughput, after a warm-up batch (the first tasks of a fresh process run on cold code)
    const warm = await Promise.all(Array.from({ length: z.w6Warmup }, () => client.submit('noop', {})));
    await until(() => warm.every((id) => succeededAt.has(id)), `${z.w6Warmup} warm-up tasks succeeded`);
    const before = rt.snapshot();
    const submittedAt = new Map<string, number>();
    const t0 = now();
    const ids = await Promise.all(
      Array.from({ length: z.w6Tasks }, async (_, k) => {
        const t = now();
        const id = await client.submit('noop', { k });
        submittedAt.set(id, t);
        return id;
      }),
    );
    await until(() => ids.every((id) => succeededAt.has(id)), `${z.w6Tasks} tasks succeeded (have ${ids.filter((id) => succeededAt.has(id)).length})`);
    const tEnd = Math.max(...ids.map((id) => succeededAt.get(id)!));
    const lat = ids.map((id) => succeededAt.get(id)! - submittedAt.get(id)!);
    const perTask = rt.since(before, z.w6Tasks);

    // 2. worker failover
    const slowIds = await Promise.all(Array.from({ length: z.w6SlowTasks }, (_, k) => client.submit('slow', { k })));
    const slowSet = new Set(slowIds);
    const runningSlow = () => running.reduce((a, r) => a + [...r].filter((id) => slowSet.has(id)).length, 0);
    await until(() => runningSlow() === z.w6SlowTasks, `all ${z.w6SlowTasks} slow tasks running`);
    let victim = 0;
    running.forEach((r, i) => {
      if (r.size > running[victim]!.size) victim = i;
    });
    victimIndex.i = victim;
    const orphans = [...running[victim]!];
    const tKill = now();
    await workerS[victim]!.close();
    const movedAt = (id: string): number | undefined => {
      let t: number | undefined;
      startedAt.forEach((m, i) => {
        const s = m.get(id);
        if (i !== victim && s !== undefined && s > tKill) t = Math.min(t ?? Infinity, s);
      });
      return t;
    };
    await until(() => orphans.every((id) => movedAt(id) !== undefined), `the killed worker's ${orphans.length} tasks running elsewhere`);
    const moved = orphans.map((id) => movedAt(id)! - tKill);
    release();
    const finals = await Promise.all(slowIds.map((id) => client.waitFor(id, { timeoutMs: 30_000 })));
    const notOk = finals.filter((f) => f.state !== 'succeeded').length;
    ctx.report.emit('W6', 'scheduler', {
      recipe: 'TaskScheduler',
      workers: z.w6Workers,
      capacity: z.w6Capacity,
      n: z.w6Tasks,
      tasks_per_s: z.w6Tasks / ((tEnd - t0) / 1000),
      p50_ms: pct(lat, 50),
      p99_ms: pct(lat, 99),
      killed_worker_tasks: orphans.length,
      failover_ms: Math.max(...moved),
      failover_first_ms: Math.min(...moved),
      slow_tasks_not_succeeded: notOk,
      round_trips: { per_task_all_sessions: perTask },
    });
    if (notOk !== 0) throw new Error(`W6: ${notOk} of ${slowIds.length} tasks did not succeed after the failover`);
  } finally {
    release();
    await Promise.all(workers.map((w, i) => (i === victimIndex.i ? Promise.resolve() : w.stop().catch(() => undefined))));
    await dispatcher.stop().catch(() => undefined);
  }
}
