// TaskScheduler under faults: a submit whose reply is lost (its transaction applied) still runs,
// and a waiting task whose ready entry is gone (the state a 30-minute soak ended in, cause not
// reproduced) is found by the dispatcher's shard sweep, given an entry and run once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TaskScheduler } from '../recipes/scheduler/index.js';
import { startProxy, type ZkProxy } from '../src/testing/index.js';
import { testSessionOptions, uniquePath, useServer, waitUntil } from './helpers.js';
import { ZkSession } from '../src/index.js';
import { taskShard } from '../recipes/scheduler/store.js';

const zk = useServer();
let proxy: ZkProxy;
beforeAll(async () => {
  proxy = await startProxy(zk.server.connectString);
});
afterAll(async () => {
  await proxy.close();
});

describe('TaskScheduler under faults', () => {
  it('a submit whose reply is cut still runs (the transaction was applied)', async () => {
    const path = uniquePath('sched-faults');
    const ran = new Set<string>();
    const handlers = { job: (_p: unknown, c: { taskId: string }) => void ran.add(c.taskId) };
    const via = await ZkSession.connect(proxy.connectString, testSessionOptions(zk.server, { sessionTimeoutMs: 10_000 }));
    const submitter = new TaskScheduler(via, path, { roles: ['worker', 'dispatcher'], workerId: 'sub', handlers, rescanMs: 200 });
    const other = new TaskScheduler(await zk.connect(), path, { roles: ['worker', 'dispatcher'], workerId: 'w', handlers, rescanMs: 200 });
    await submitter.start();
    await other.start();
    try {
      await submitter.submit('job');
      proxy.corruptNext('toClient', 'truncate');
      await expect(submitter.submit('job')).rejects.toMatchObject({ code: 'CONNECTION_LOSS' });
      const all = await other.list();
      expect(all).toHaveLength(2);
      await waitUntil(async () => (await other.list()).every((t) => t.state === 'succeeded'), 'every task to succeed', 20_000);
    } finally {
      await Promise.all([submitter.stop(), other.stop()]);
      await via.close();
    }
  }, 60_000);

  it('a pending task whose ready entry was deleted is found by the sweep and runs once', async () => {
    const path = uniquePath('sched-orphan');
    const ran = new Map<string, number>();
    const handlers = { job: (_p: unknown, c: { taskId: string }) => void ran.set(c.taskId, (ran.get(c.taskId) ?? 0) + 1) };
    const s = await zk.connect();
    const client = new TaskScheduler(s, path, { roles: [] });
    const orphan = await client.submit('job', { orphan: true });
    const kept = await client.submit('job', { orphan: false });
    // The state by hand: the orphan's entry deleted, its last write a minute ago (older than the sweep's margin).
    const entries = async () => {
      const buckets = await s.getChildren(`${path}/ready`);
      return (await Promise.all(buckets.map(async (b) => (await s.getChildren(`${path}/ready/${b}`)).map((n) => `${path}/ready/${b}/${n}`)))).flat();
    };
    const mine = (await entries()).filter((p) => p.includes(orphan));
    expect(mine).toHaveLength(1);
    await s.delete(mine[0]!);
    const st = (await client.status(orphan))!;
    const { version, ...rec } = st;
    const old = Date.now() - 60_000;
    await s.set(`${path}/tasks/${taskShard(orphan)}/${orphan}`, JSON.stringify({ ...rec, createdAt: old, updatedAt: old }), { version });
    expect((await entries()).some((p) => p.includes(orphan))).toBe(false);
    const w = new TaskScheduler(await zk.connect(), path, { workerId: 'w', handlers, rescanMs: 200 });
    await w.start();
    try {
      const done = await client.waitFor(orphan, { timeoutMs: 30_000 });
      expect(done.state).toBe('succeeded');
      expect((await client.waitFor(kept, { timeoutMs: 30_000 })).state).toBe('succeeded');
      const late = await client.submit('job', { late: true });
      expect((await client.waitFor(late, { timeoutMs: 30_000 })).state).toBe('succeeded');
      expect(Object.fromEntries(ran)).toEqual({ [orphan]: 1, [kept]: 1, [late]: 1 });
      // No entry left behind: the repair wrote one entry, and the assignment deleted it.
      await waitUntil(async () => (await entries()).length === 0, 'the ready index to be empty', 10_000);
    } finally {
      await w.stop();
    }
  }, 60_000);
});
