// The bucketed layout of DistributedQueue (bucketSize): no listing grows with the backlog, FIFO
// per producer, at-least-once consumers, empty buckets removed, nothing lost when a producer's
// bucket is deleted under it.
import { describe, expect, it } from 'vitest';
import { DistributedPriorityQueue, DistributedQueue, InvalidArgumentError, type PoisonInfo, type ZkSession } from '../src/index.js';
import { BUCKET_PREFIX } from '../recipes/queue-buckets.js';
import { uniquePath, useServer, waitUntil } from './helpers.js';

const zk = useServer();

/** bucket name → number of items in it. */
async function buckets(s: ZkSession, path: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const b of (await s.getChildren(path)).sort()) {
    expect(b.startsWith(BUCKET_PREFIX)).toBe(true);
    out.set(b, (await s.getChildren(`${path}/${b}`)).length);
  }
  return out;
}

describe('DistributedQueue with bucketSize', () => {
  it('rejects a bad bucketSize, and the option on an ordered queue, before writing', async () => {
    const s = await zk.connect();
    const path = uniquePath('bq');
    for (const bad of [0, 15, 100_001, 1.5, '64', Number.NaN]) {
      expect(() => new DistributedQueue(s, path, { bucketSize: bad as number })).toThrow(InvalidArgumentError);
    }
    expect(() => new DistributedQueue(s, path, { bucketSize: 8 })).toThrow(/bucketSize must be an integer in 16\.\.100000, got 8/);
    expect(() => new DistributedPriorityQueue(s, path, { bucketSize: 64 } as never)).toThrow(/unknown option bucketSize/);
    expect(await s.exists(path)).toBeNull();
  });

  it('puts go into buckets of about bucketSize; takes come out FIFO; used-up buckets are deleted', async () => {
    const s = await zk.connect();
    const path = uniquePath('bq');
    const q = new DistributedQueue<number>(s, path, { bucketSize: 16 });
    const n = 300;
    const paths = await q.putMany(Array.from({ length: n }, (_, i) => i));
    for (const p of paths) expect(p).toMatch(new RegExp(`^${path}/bucket-\\d{10}/queue-_c_[0-9a-f-]{36}-\\d{10}$`));
    const layout = await buckets(s, path);
    expect(layout.size).toBeGreaterThanOrEqual(n / (16 + 4));
    for (const count of layout.values()) expect(count).toBeLessThanOrEqual(16 + 4); // full at 16, plus a slice in flight
    expect(await q.size()).toBe(n);
    for (let i = 0; i < 100; i++) await q.put(n + i); // one at a time: each bucket exactly full
    const got: number[] = [];
    for (let i = 0; i < n + 100; i++) got.push(await q.take({ timeoutMs: 10_000 }));
    expect(got).toEqual(Array.from({ length: n + 100 }, (_, i) => i));
    expect(await q.poll()).toBeUndefined();
    const left = await buckets(s, path);
    expect([...left.values()]).toEqual([0]); // only the newest bucket stays, empty
    expect(await q.size()).toBe(0);
  });

  it('two producers and three consumers: every item handled once; one consumer alone sees each producer in order', async () => {
    const [p1, p2, c1, c2, c3] = await Promise.all(Array.from({ length: 5 }, () => zk.connect()));
    const path = uniquePath('bq');
    const opts = { bucketSize: 32 };
    const handled = new Map<string, number>();
    const order = new Map<string, number[]>(); // per producer, in the order one consumer saw them
    const consumers = [c1!, c2!, c3!].map((s, k) =>
      new DistributedQueue<{ by: string; i: number }>(s, path, opts).consume(
        (item) => {
          const key = `${item.by}:${item.i}`;
          handled.set(key, (handled.get(key) ?? 0) + 1);
          const seen = order.get(`${k}/${item.by}`) ?? [];
          seen.push(item.i);
          order.set(`${k}/${item.by}`, seen);
        },
        { concurrency: 1 },
      ),
    );
    const n = 400;
    await Promise.all(
      [p1!, p2!].map(async (s, k) => {
        const q = new DistributedQueue<{ by: string; i: number }>(s, path, opts);
        for (let i = 0; i < n; i += 50) await q.putMany(Array.from({ length: 50 }, (_, j) => ({ by: `p${k}`, i: i + j })));
      }),
    );
    await waitUntil(() => handled.size === 2 * n, 'every item handled', 60_000);
    await Promise.all(consumers.map((c) => c.close()));
    expect([...handled.values()].every((v) => v === 1)).toBe(true);
    // Consumers that meet each other's claims spread over the listing: no order among them.
    expect(order.size).toBeGreaterThan(2);
    expect(await c1!.getChildren(`${path}-locks`).catch(() => [])).toEqual([]);
    const left = await buckets(c1!, path);
    expect([...left.values()].reduce((a, b) => a + b, 0)).toBe(0);
  });

  it("one consumer (concurrency 1) of two producers gets each producer's items in order", async () => {
    const [p1, p2, c] = await Promise.all([zk.connect(), zk.connect(), zk.connect()]);
    const path = uniquePath('bq');
    const opts = { bucketSize: 16 };
    const seen = new Map<string, number[]>();
    const consumer = new DistributedQueue<{ by: string; i: number }>(c!, path, opts).consume(
      (item) => {
        seen.set(item.by, [...(seen.get(item.by) ?? []), item.i]);
      },
      { concurrency: 1 },
    );
    await Promise.all(
      [p1!, p2!].map(async (s, k) => {
        const q = new DistributedQueue<{ by: string; i: number }>(s, path, opts);
        for (let i = 0; i < 120; i += 10) await q.putMany(Array.from({ length: 10 }, (_, j) => ({ by: `p${k}`, i: i + j })));
      }),
    );
    await waitUntil(() => (seen.get('p0')?.length ?? 0) + (seen.get('p1')?.length ?? 0) === 240, 'every item handled', 60_000);
    await consumer.close();
    for (const k of ['p0', 'p1']) expect(seen.get(k)).toEqual(Array.from({ length: 120 }, (_, i) => i));
  });

  it('a producer whose bucket was emptied and deleted under it puts into the newest one: nothing lost', async () => {
    const [a, b, c] = await Promise.all([zk.connect(), zk.connect(), zk.connect()]);
    const path = uniquePath('bq');
    const opts = { bucketSize: 16 };
    const qa = new DistributedQueue<string>(a!, path, opts);
    const qb = new DistributedQueue<string>(b!, path, opts);
    const taker = new DistributedQueue<string>(c!, path, opts);
    await qa.put('a0'); // a's bucket: the first one
    await qb.putMany(Array.from({ length: 40 }, (_, i) => `b${i}`)); // b fills it and moves on
    const first = [...(await buckets(a!, path)).keys()][0]!;
    const got: string[] = [];
    while (got.length < 41) got.push(await taker.take({ timeoutMs: 10_000 }));
    await waitUntil(async () => !(await a!.exists(`${path}/${first}`)), 'the first bucket to be deleted by the taker');
    const put = await qa.put('a1'); // a still thinks it writes into the first bucket
    expect(put.startsWith(`${path}/${first}/`)).toBe(false);
    expect(await taker.take({ timeoutMs: 10_000 })).toBe('a1');
    expect(got.filter((x) => x.startsWith('a'))).toEqual(['a0']);
    expect(new Set(got).size).toBe(41);
  });

  it('a poison item in a bucket is moved to <path>-poison/<bucket>.<item>', async () => {
    const s = await zk.connect();
    const path = uniquePath('bq');
    const q = new DistributedQueue<number>(s, path, { bucketSize: 16 });
    await q.put(1);
    const bucket = (await s.getChildren(path))[0]!;
    const bad = await s.create(`${path}/${bucket}/queue-`, '{{{', { mode: 'persistent_sequential' });
    await q.put(2);
    const poison: PoisonInfo[] = [];
    q.on('poison', (i) => poison.push(i));
    const seen: number[] = [];
    await using c = q.consume((v) => {
      seen.push(v);
    });
    await waitUntil(() => seen.length === 2 && poison.length === 1, 'both items and the poison event');
    const name = `${bucket}.${bad.slice(bad.lastIndexOf('/') + 1)}`;
    expect(poison[0]!.movedTo).toBe(`${path}-poison/${name}`);
    expect((await s.get(`${path}-poison/${name}`)).data.toString()).toBe('{{{');
    expect(c.processed).toBe(2);
  });
});
