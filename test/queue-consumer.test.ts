// queue.consume(): at-least-once consumers with claims, across sessions and processes, through a
// consumer killed -9 and a server restart.
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { DistributedQueue, type PoisonInfo, type ZkSession } from '../src/index.js';
import { spawnClean, uniquePath, useServer, waitUntil } from './helpers.js';

const zk = useServer();
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});

/** Counts deliveries per item and per consumer. */
class Tally {
  readonly count = new Map<string, number>();
  readonly byConsumer = new Map<string, number>();
  duplicates = 0;
  add(item: string, consumer: string): void {
    const n = this.count.get(item) ?? 0;
    if (n > 0) this.duplicates++;
    this.count.set(item, n + 1);
    this.byConsumer.set(consumer, (this.byConsumer.get(consumer) ?? 0) + 1);
  }
  get distinct(): number {
    return this.count.size;
  }
}

async function leftovers(s: ZkSession, path: string): Promise<{ items: number; claims: number }> {
  const list = (p: string) => s.getChildren(p).catch(() => [] as string[]);
  return { items: (await list(path)).length, claims: (await list(`${path}-locks`)).length };
}

describe('consume', () => {
  it('several producers and consumers across sessions: every item delivered once, nothing left', async () => {
    const path = uniquePath('cq');
    const producers = await Promise.all([0, 1, 2].map(() => zk.connect()));
    const consumers = await Promise.all([0, 1, 2].map(() => zk.connect()));
    const tally = new Tally();
    const total = 3 * 200;
    const handles = consumers.map((s, k) =>
      new DistributedQueue<string>(s, path).consume(
        async (item) => {
          tally.add(item, `c${k}`);
          if (Math.random() < 0.2) await new Promise((r) => setTimeout(r, 2)); // uneven handlers
        },
        { concurrency: 8 },
      ),
    );
    await Promise.all(
      producers.map(async (s, p) => {
        const q = new DistributedQueue<string>(s, path);
        const items = Array.from({ length: 200 }, (_, i) => `p${p}-${i}`);
        if (p === 0) for (const it of items) await q.put(it);
        else await q.putMany(items);
      }),
    );
    await waitUntil(() => tally.distinct === total, `all ${total} items delivered (have ${tally.distinct})`, 30_000);
    await Promise.all(handles.map((h) => h.close()));
    expect(tally.distinct).toBe(total);
    expect(tally.duplicates).toBe(0);
    expect(handles.reduce((n, h) => n + h.processed, 0)).toBe(total);
    expect(await leftovers(producers[0]!, path)).toEqual({ items: 0, claims: 0 });
  });

  it('a single consumer with concurrency 1 handles items in queue order', async () => {
    const [a, b] = await Promise.all([zk.connect(), zk.connect()]);
    const path = uniquePath('cq');
    const producer = new DistributedQueue<number>(a, path);
    const seen: number[] = [];
    const ctl = new AbortController();
    const c = new DistributedQueue<number>(b, path).consume(
      (v) => {
        seen.push(v);
        if (seen.length === 60) ctl.abort();
      },
      { concurrency: 1, signal: ctl.signal },
    );
    await producer.putMany(Array.from({ length: 30 }, (_, i) => i));
    for (let i = 30; i < 60; i++) await producer.put(i);
    await c.done;
    expect(seen).toEqual(Array.from({ length: 60 }, (_, i) => i));
  });

  it('a claimed item is skipped by other consumers; a handler that throws leaves the item for a retry', async () => {
    const [a, b, p] = await Promise.all([zk.connect(), zk.connect(), zk.connect()]);
    const path = uniquePath('cq');
    const producer = new DistributedQueue<string>(p, path);
    const [slowPath] = await producer.putMany(['slow', 'x1', 'x2', 'x3']);
    const slowName = slowPath!.slice(slowPath!.lastIndexOf('/') + 1);
    let releaseSlow!: () => void;
    const slowGate = new Promise<void>((r) => {
      releaseSlow = r;
    });
    const seenA: string[] = [];
    const qa = new DistributedQueue<string>(a, path);
    const ca = qa.consume(
      async (v) => {
        seenA.push(v);
        if (v === 'slow') await slowGate;
      },
      { concurrency: 1 },
    );
    await waitUntil(() => seenA.includes('slow'), 'A to hold "slow"');
    const qb = new DistributedQueue<string>(b, path);
    const seenB: string[] = [];
    let failures = 0;
    const errors: string[] = [];
    qb.on('handlerError', ({ name, item }) => errors.push(`${item}@${name}`));
    const cb = qb.consume(
      (v) => {
        seenB.push(v);
        if (v === 'x2' && failures++ === 0) throw new Error('transient');
      },
      { concurrency: 4, retryDelayMs: 100 },
    );
    await waitUntil(() => seenB.filter((v) => v === 'x2').length === 2, 'x2 retried');
    expect(seenB).not.toContain('slow');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^x2@queue-_c_[0-9a-f-]{36}-\d{10}$/);
    await waitUntil(async () => (await leftovers(p, path)).items === 1, 'only "slow" left');
    expect(await a.getChildren(`${path}-locks`)).toEqual([slowName]); // A's claim
    expect(seenA).toEqual(['slow']);
    releaseSlow();
    await waitUntil(async () => (await leftovers(p, path)).items === 0, 'the queue to drain');
    await Promise.all([ca.close(), cb.close()]);
    expect(seenB.sort()).toEqual(['x1', 'x2', 'x2', 'x3']);
    expect(await leftovers(p, path)).toEqual({ items: 0, claims: 0 });
  });

  it('a poison item is moved aside and the consumer goes on', async () => {
    const s = await zk.connect();
    const path = uniquePath('cq');
    const q = new DistributedQueue<number>(s, path);
    await q.put(1);
    const bad = await s.create(`${path}/queue-`, '{{{', { mode: 'persistent_sequential' });
    await q.put(2);
    const poison: PoisonInfo[] = [];
    q.on('poison', (i) => poison.push(i));
    const seen: number[] = [];
    await using c = q.consume((v) => {
      seen.push(v);
    });
    await waitUntil(() => seen.length === 2 && poison.length === 1, 'both items and the poison event');
    const name = bad.slice(bad.lastIndexOf('/') + 1);
    expect(poison[0]!.movedTo).toBe(`${path}-poison/${name}`);
    expect((await s.get(`${path}-poison/${name}`)).data.toString()).toBe('{{{');
    expect(await leftovers(s, path)).toEqual({ items: 0, claims: 0 });
    expect(c.processed).toBe(2);
  });

  it('a consumer killed -9 mid-item: the item is delivered again to another consumer', async () => {
    const path = uniquePath('cq');
    const s = await zk.connect();
    const q = new DistributedQueue<string>(s, path);
    await q.put('precious');
    const child = spawnClean([process.execPath, '--import', 'tsx', 'test/fixtures/queue-consumer-child.ts', zk.server.connectString, path, '2000'], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    children.push(child);
    const events: Array<{ event: string; item?: string; name?: string }> = [];
    createInterface({ input: child.stdout! }).on('line', (l) => events.push(JSON.parse(l) as { event: string }));
    await waitUntil(() => events.some((e) => e.event === 'handling'), 'the child to start handling', 30_000);
    expect(events.find((e) => e.event === 'handling')!.item).toBe('precious');
    // While the child holds its claim, our consumer must not get the item.
    const got: Array<{ item: string; at: number }> = [];
    const c = q.consume((item) => {
      got.push({ item, at: Date.now() });
    });
    await waitUntil(async () => (await s.getChildren(`${path}-locks`)).length === 1, 'the child claim to be visible');
    expect(got).toEqual([]);
    const killedAt = Date.now();
    child.kill('SIGKILL');
    await waitUntil(() => got.length === 1, 'the item to be delivered again', 20_000);
    expect(got[0]!.item).toBe('precious');
    expect(got[0]!.at).toBeGreaterThanOrEqual(killedAt);
    await c.close();
    expect(await leftovers(s, path)).toEqual({ items: 0, claims: 0 });
  });

  it('no item is lost across a server restart', async () => {
    const path = uniquePath('cq');
    const [a, b] = await Promise.all([zk.connect({ sessionTimeoutMs: 4000 }), zk.connect({ sessionTimeoutMs: 4000 })]);
    const producer = new DistributedQueue<number>(a, path);
    const total = 400;
    const tally = new Tally();
    const consumerErrors: unknown[] = [];
    const q = new DistributedQueue<number>(b, path);
    q.on('consumerError', (e) => consumerErrors.push(e));
    const c = q.consume(
      async (v) => {
        tally.add(String(v), 'c');
        await new Promise((r) => setTimeout(r, 1));
      },
      { concurrency: 4 },
    );
    await producer.putMany(Array.from({ length: total / 2 }, (_, i) => i));
    await waitUntil(() => tally.distinct >= 20, 'some items handled before the restart');
    await zk.server.restart();
    await producer.putMany(Array.from({ length: total / 2 }, (_, i) => total / 2 + i));
    await waitUntil(() => tally.distinct === total, `all ${total} items after the restart (have ${tally.distinct})`, 40_000);
    await c.close();
    expect(tally.distinct).toBe(total);
    // at-least-once: a restart may redeliver an item whose delete was in flight; count them
    expect(tally.duplicates).toBeLessThanOrEqual(20);
    await waitUntil(async () => (await leftovers(a, path)).items === 0, 'the queue to be empty');
  });

  it('stops on its signal, on close() and on queue.close(), waiting for in-flight handlers', async () => {
    const s = await zk.connect();
    const path = uniquePath('cq');
    const q = new DistributedQueue<number>(s, path);
    await q.putMany([1, 2, 3]);
    const ctl = new AbortController();
    let finished = 0;
    const c = q.consume(
      async () => {
        await new Promise((r) => setTimeout(r, 100));
        finished++;
      },
      { concurrency: 1, signal: ctl.signal },
    );
    await waitUntil(() => c.active === 1, 'one item in flight');
    ctl.abort();
    await c.done;
    expect(finished).toBe(1);
    expect(await q.size()).toBe(2);
    const c2 = q.consume(() => undefined);
    await waitUntil(async () => (await q.size()) === 0, 'the rest to be consumed');
    await q.close();
    await c2.done.catch(() => undefined);
    await c2.close(); // idempotent after the queue closed it
  });
});
