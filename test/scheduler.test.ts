// TaskScheduler in one process: submission, idempotent keys, delayed tasks, retries with backoff
// until dead, waitFor/list/status, schedules, lifecycle and validation. The multi-process
// properties (capacity, kill -9, dispatcher failover) are in scheduler-cluster.test.ts.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { IllegalStateError, InvalidArgumentError, TimeoutError } from '../src/index.js';
import { TaskScheduler, type TaskHandler } from '../recipes/scheduler/index.js';
import { expireSession } from '../src/testing/index.js';
import { uniquePath, useServer, waitUntil } from './helpers.js';

const zk = useServer();

async function instance(path: string, workerId: string, handlers: Record<string, TaskHandler>, extra: Record<string, unknown> = {}) {
  const session = await zk.connect({ sessionTimeoutMs: 2000 });
  const s = new TaskScheduler(session, path, { workerId, capacity: 2, handlers, backoffMs: 100, rescanMs: 300, ...extra });
  await s.start();
  return s;
}

describe('TaskScheduler', () => {
  it('runs submitted tasks and reports their status', async () => {
    const path = uniquePath('sched');
    const s = await instance(path, 'w1', { echo: async (p: { n: number }, ctx) => ({ n: p.n, attempt: ctx.attempt }) });
    try {
      const ids = await Promise.all([1, 2, 3].map((n) => s.submit('echo', { n })));
      for (const [i, id] of ids.entries()) {
        const st = await s.waitFor(id, { timeoutMs: 20_000 });
        expect(st.state).toBe('succeeded');
        expect(st.result).toEqual({ n: i + 1, attempt: 1 });
        expect(st.worker).toBe('w1');
        expect(st.finishedAt).toBeGreaterThanOrEqual(st.startedAt!);
      }
      expect((await s.list({ state: 'succeeded' })).map((t) => t.id).sort()).toEqual([...ids].sort());
      expect(await s.status('t-nothing')).toBeNull();
      expect(await s.purge({ olderThanMs: 60_000 })).toEqual([]);
      expect((await s.purge()).sort()).toEqual([...ids].sort());
      expect(await s.list()).toEqual([]);
    } finally {
      await s.stop();
    }
  });

  it('submits idempotently by key, and does not run a delayed task early', async () => {
    const path = uniquePath('sched');
    const started = new Map<string, number>();
    const s = await instance(path, 'w1', {
      job: async (_p, ctx) => {
        started.set(ctx.taskId, Date.now());
      },
    });
    try {
      const a = await s.submit('job', { x: 1 }, { key: 'nightly-2026-11-21', delayMs: 1500 });
      const b = await s.submit('job', { x: 2 }, { key: 'nightly-2026-11-21' });
      expect(b).toBe(a);
      const st0 = await s.status(a);
      expect(st0?.payload).toEqual({ x: 1 });
      const done = await s.waitFor(a, { timeoutMs: 20_000 });
      expect(done.state).toBe('succeeded');
      expect(started.get(a)!).toBeGreaterThanOrEqual(done.runAt);
      expect(done.startedAt!).toBeGreaterThanOrEqual(done.runAt);
      expect(await s.list()).toHaveLength(1);
      // Still the same task after it ran.
      expect(await s.submit('job', {}, { key: 'nightly-2026-11-21' })).toBe(a);
      expect(await s.list()).toHaveLength(1);
      // Purged, the key is free again: the same id is a new task, and it runs.
      expect(await s.purge()).toEqual([a]);
      expect(await s.submit('job', { x: 3 }, { key: 'nightly-2026-11-21' })).toBe(a);
      const again = await s.waitFor(a, { timeoutMs: 20_000 });
      expect(again.payload).toEqual({ x: 3 });
      expect(again.createdAt).toBeGreaterThan(done.createdAt);
    } finally {
      await s.stop();
    }
  });

  it('retries a failing handler with backoff, then marks it dead', async () => {
    const path = uniquePath('sched');
    const attempts: number[] = [];
    const s = await instance(path, 'w1', {
      boom: async () => {
        attempts.push(Date.now());
        throw new Error('boom');
      },
    });
    const failed: number[] = [];
    s.on('failed', (_id, _err, retryAt) => failed.push(retryAt));
    try {
      const id = await s.submit('boom', null, { maxAttempts: 3 });
      const st = await s.waitFor(id, { timeoutMs: 20_000 });
      expect(st.state).toBe('dead');
      expect(st.attempt).toBe(3);
      expect(st.error).toBe('boom');
      expect(attempts).toHaveLength(3);
      // backoff 100 ms then 200 ms: each retry starts no earlier than its retryAt.
      expect(attempts[1]! - attempts[0]!).toBeGreaterThanOrEqual(100);
      expect(attempts[2]! - attempts[1]!).toBeGreaterThanOrEqual(200);
      expect(attempts[1]!).toBeGreaterThanOrEqual(failed[0]!);
      expect(attempts[2]!).toBeGreaterThanOrEqual(failed[1]!);
      expect((await s.list({ state: 'dead' })).map((t) => t.id)).toEqual([id]);
    } finally {
      await s.stop();
    }
  });

  it('never runs more than capacity at once and spreads tasks over workers', async () => {
    const path = uniquePath('sched');
    let now = 0;
    let max = 0;
    const per = new Map<string, number>();
    const handler =
      (w: string): TaskHandler =>
      async () => {
        now++;
        max = Math.max(max, now);
        per.set(w, (per.get(w) ?? 0) + 1);
        await new Promise((r) => setTimeout(r, 50));
        now--;
      };
    const a = await instance(path, 'a', { job: handler('a') }, { capacity: 1 });
    const b = await instance(path, 'b', { job: handler('b') }, { capacity: 1, roles: ['worker'] });
    try {
      const ids = await Promise.all(Array.from({ length: 10 }, () => a.submit('job')));
      for (const id of ids) expect((await a.waitFor(id, { timeoutMs: 20_000 })).state).toBe('succeeded');
      expect(max).toBeLessThanOrEqual(2);
      expect(per.get('a')).toBeGreaterThan(0);
      expect(per.get('b')).toBeGreaterThan(0);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  it('fires one task per period of a schedule', async () => {
    const path = uniquePath('sched');
    const ran: string[] = [];
    const s = await instance(path, 'w1', {
      tick: async (_p, ctx) => {
        ran.push(ctx.taskId);
      },
    });
    try {
      const startAt = Date.now();
      await s.schedule('tick', { everyMs: 200, startAt }, 'tick', {});
      await waitUntil(() => ran.length >= 4, 'four periods');
      await s.unschedule('tick');
      const periods = ran.map((id) => Number(id.split('@')[1])).sort((x, y) => x - y);
      expect(periods.slice(0, 4)).toEqual([0, 1, 2, 3]);
      expect(new Set(ran).size).toBe(ran.length);
      const st = await s.status('tick@2');
      expect(st?.runAt).toBe(startAt + 400);
      expect(st!.startedAt!).toBeGreaterThanOrEqual(st!.runAt);
    } finally {
      await s.stop();
    }
  });

  it('fires a cron schedule (UTC, seconds field) once per matching second, task ids by fire time', async () => {
    const path = uniquePath('sched');
    const ran: string[] = [];
    const s = await instance(path, 'w1', {
      tick: async (_p, ctx) => {
        ran.push(ctx.taskId);
      },
    });
    try {
      const startAt = Date.now();
      await s.schedule('cron', { cron: '* * * * * *' }, 'tick', {});
      await waitUntil(() => ran.length >= 3, 'three fire times');
      await s.unschedule('cron');
      const secs = ran.map((id) => Number(id.split('@')[1])).sort((x, y) => x - y);
      expect(new Set(ran).size).toBe(ran.length);
      // consecutive seconds, none before the schedule was defined
      for (let i = 1; i < secs.length; i++) expect(secs[i]! - secs[i - 1]!).toBe(1);
      expect(secs[0]! * 1000).toBeGreaterThanOrEqual(startAt - 1000);
      const st = await s.status(ran[0]!);
      expect(st?.runAt).toBe(Number(ran[0]!.split('@')[1]) * 1000);
      await expect(s.schedule('x', { cron: '61 * * * *' }, 'tick')).rejects.toThrow(/minute field: 61 is outside 0-59/);
      await expect(s.schedule('x', { cron: '* * * * *', everyMs: 1000 }, 'tick')).rejects.toThrow(/exactly one of everyMs and cron/);
    } finally {
      await s.stop();
    }
  });

  it('stop() lets running tasks finish, or aborts and hands them back after drainTimeoutMs', async () => {
    const path = uniquePath('sched');
    const aborted: string[] = [];
    const slow: TaskHandler = (p: { ms: number }, { signal, taskId }) =>
      new Promise((resolve, reject) => {
        const t = setTimeout(() => resolve('done'), p.ms);
        signal.addEventListener(
          'abort',
          () => {
            clearTimeout(t);
            aborted.push(taskId);
            reject(signal.reason);
          },
          { once: true },
        );
      });
    const a = await instance(path, 'a', { slow }, { capacity: 1, drainTimeoutMs: 300 });
    try {
      const quick = await a.submit('slow', { ms: 100 });
      await waitUntil(async () => (await a.status(quick))?.state === 'running', 'quick task running');
      await a.stop(); // finishes within the drain time
      expect((await a.status(quick))?.state).toBe('succeeded');
      expect(aborted).toEqual([]);

      const b = await instance(path, 'b', { slow }, { capacity: 1, drainTimeoutMs: 300 });
      const long = await b.submit('slow', { ms: 60_000 });
      await waitUntil(async () => (await b.status(long))?.state === 'running', 'long task running');
      const handedBack: string[] = [];
      b.on('handedBack', (id) => handedBack.push(id));
      await b.stop();
      expect(aborted).toEqual([long]);
      expect(handedBack).toEqual([long]);
      const st = await b.status(long);
      expect(st?.state).toBe('pending'); // nobody left to run it; the attempt was not counted
      expect(st?.attempt).toBe(0);
      expect(await zk.connect().then((s) => s.getChildren(path + '/workers'))).toEqual([]);
    } finally {
      await a.stop();
    }
  });

  it('a worker whose session expires: its run is aborted and the task is taken back and run again', async () => {
    const path = uniquePath('sched');
    const signals: { worker: string; aborted: () => boolean }[] = [];
    const handler =
      (w: string): TaskHandler =>
      (_p, { signal }) => {
        signals.push({ worker: w, aborted: () => signal.aborted });
        if (signals.length === 1) return new Promise((_r, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));
        return `ok from ${w}`;
      };
    const sessionA = await zk.connect({ sessionTimeoutMs: 2000 });
    const a = new TaskScheduler(sessionA, path, { workerId: 'a', capacity: 2, handlers: { job: handler('a') }, roles: ['worker'] });
    await a.start();
    try {
      const id = await a.submit('job');
      const b = await instance(path, 'b', { job: handler('b') }, { capacity: 1 });
      try {
        await waitUntil(async () => (await a.status(id))?.state === 'running', 'task running');
        expect((await a.status(id))?.worker).toBe('a'); // equal load: the lower id wins the tie
        await expireSession(sessionA);
        await waitUntil(() => signals[0]!.aborted(), 'signal aborted');
        const done = await b.waitFor(id, { timeoutMs: 20_000 });
        expect(done.state).toBe('succeeded');
        expect(done.attempt).toBe(2); // the vanished session's attempt counts
        expect(done.result).toBe(`ok from ${done.worker}`);
        expect(signals).toHaveLength(2);
      } finally {
        await b.stop();
      }
    } finally {
      await a.stop();
    }
  });

  it('validates arguments and lifecycle', async () => {
    const session = await zk.connect();
    const path = uniquePath('sched');
    expect(() => new TaskScheduler(session, path, { workerId: 'a b' })).toThrow(InvalidArgumentError);
    expect(() => new TaskScheduler(session, path, { workerId: 'a', capacity: 0 })).toThrow(/capacity/);
    expect(() => new TaskScheduler(session, path, { workerId: 'a', bogus: 1 } as never)).toThrow(/bogus/);
    expect(() => new TaskScheduler(session, 'rel', { workerId: 'a' })).toThrow();
    const client = new TaskScheduler(session, path, { roles: [] });
    await expect(client.submit('')).rejects.toThrow(InvalidArgumentError);
    await expect(client.schedule('x', { everyMs: 1 }, 'job')).rejects.toThrow(/everyMs/);
    const id = await client.submit('job');
    await expect(client.waitFor(id, { timeoutMs: 100 })).rejects.toThrow(TimeoutError);
    await client.start();
    await expect(client.start()).rejects.toThrow(IllegalStateError);
    await client.stop();
    await client.stop();
    // Sharded by the first byte of sha256(id); its ready entry waits (no worker ran it).
    expect(await session.exists(`${path}/tasks/${createHash('sha256').update(id).digest('hex').slice(0, 2)}/${id}`)).not.toBeNull();
    const buckets = await session.getChildren(`${path}/ready`);
    const entries = (await Promise.all(buckets.map((b) => session.getChildren(`${path}/ready/${b}`)))).flat();
    expect(entries.filter((e) => e.includes(`-${id}-`))).toHaveLength(1);
  });
});
