// TaskScheduler with a backlog: the dispatcher finds waiting tasks through the ready index and
// held ones through their assignment nodes, so its requests per task stay flat however many
// tasks wait (no scan lists or reads every task), and every task of the backlog runs once.
import { describe, expect, it } from 'vitest';
import { TaskScheduler, type ZkSession } from '../src/index.js';
import { uniquePath, useServer, waitUntil } from './helpers.js';

const zk = useServer();

/** Counts the requests a session sends, by operation. */
function countRequests(session: ZkSession): Map<string, number> {
  const counts = new Map<string, number>();
  const s = session as unknown as { call: (op: string, ...rest: unknown[]) => Promise<unknown> };
  const call = s.call.bind(session);
  s.call = (op: string, ...rest: unknown[]) => {
    counts.set(op, (counts.get(op) ?? 0) + 1);
    return call(op, ...rest);
  };
  return counts;
}

describe('TaskScheduler with a backlog', () => {
  it('runs 3000 waiting tasks once each; the dispatcher sends a few requests per task, not one per waiting task per scan', async () => {
    const path = uniquePath('sched-backlog');
    const [clientS, dispS, w1, w2] = await Promise.all([zk.connect(), zk.connect(), zk.connect(), zk.connect()]);
    const client = new TaskScheduler(clientS!, path, { roles: [] });
    const n = 3000;
    const ids: string[] = [];
    for (let i = 0; i < n; i += 500) ids.push(...(await Promise.all(Array.from({ length: 500 }, (_, j) => client.submit('job', { i: i + j })))));
    // The tasks are spread over shards: no listing holds them all.
    const shards = await clientS!.getChildren(`${path}/tasks`);
    expect(shards).toHaveLength(256);
    const counts = countRequests(dispS!);
    const ran = new Map<string, number>();
    const handlers = {
      job: (_p: unknown, c: { taskId: string }) => {
        ran.set(c.taskId, (ran.get(c.taskId) ?? 0) + 1);
      },
    };
    const dispatcher = new TaskScheduler(dispS!, path, { roles: ['dispatcher'], workerId: 'd' });
    const workers = [w1!, w2!].map((s, i) => new TaskScheduler(s, path, { roles: ['worker'], workerId: `w${i}`, capacity: 8, handlers }));
    await Promise.all([dispatcher.start(), ...workers.map((w) => w.start())]);
    await waitUntil(() => ran.size === n, 'every task to run', 120_000);
    await Promise.all([dispatcher.stop(), ...workers.map((w) => w.stop())]);
    expect([...ran.values()].every((v) => v === 1)).toBe(true);
    expect(new Set(ids)).toEqual(new Set(ran.keys()));
    expect(counts.get('multi') ?? 0).toBeGreaterThanOrEqual(n); // counted: one assignment transaction per task
    const total = [...counts.values()].reduce((a, b) => a + b, 0);
    // A scan that read every waiting task would cost thousands of requests per scan.
    expect(total / n, JSON.stringify(Object.fromEntries(counts))).toBeLessThan(6);
    expect(counts.get('get') ?? 0).toBeLessThan(2 * n);
    // Every entry of the ready index went with its task's assignment.
    const buckets = await clientS!.getChildren(`${path}/ready`);
    const left = (await Promise.all(buckets.map((b) => clientS!.getChildren(`${path}/ready/${b}`)))).flat();
    expect(left).toEqual([]);
    const states = await Promise.all(ids.slice(0, 50).map((id) => client.status(id)));
    expect(states.every((t) => t?.state === 'succeeded')).toBe(true);
  }, 180_000);
});
