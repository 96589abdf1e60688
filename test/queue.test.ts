// DistributedQueue / DistributedPriorityQueue / DistributedDelayQueue: put, putMany, take, poll,
// size, codecs and poison items, against a real server.
import { describe, expect, it } from 'vitest';
import {
  AbortedError,
  ClosedError,
  DistributedDelayQueue,
  DistributedPriorityQueue,
  DistributedQueue,
  InvalidArgumentError,
  InvalidPathError,
  TimeoutError,
  ZkSession,
  curatorCodec,
  stringCodec,
  type Codec,
  type PoisonInfo,
} from '../src/index.js';
import { startProxy } from '../src/testing/index.js';
import { nextEvent, testConnectString, testSessionOptions, uniquePath, useServer } from './helpers.js';

const zk = useServer();

describe('DistributedQueue put/take', () => {
  it('a put whose reply is lost with the connection is written once (protected), twice without protection', async () => {
    await using proxy = await startProxy(testConnectString(zk.server));
    await using s = await ZkSession.connect(proxy.connectString, testSessionOptions(zk.server, { sessionTimeoutMs: 20_000 }));
    const count = async (q: DistributedQueue<string>) => (await s.getChildren(q.path)).length;
    const lostReplyPut = async (q: DistributedQueue<string>) => {
      await q.put('warm-up'); // the parent exists: the next put is one create
      await s.delete(`${q.path}/${(await s.getChildren(q.path))[0]!}`);
      proxy.corruptNext('toClient', 'truncate'); // the create's reply: cut, and the connection with it
      const reconnected = nextEvent(s, 'reconnected');
      const created = await q.put('once');
      await reconnected;
      return created;
    };
    const guarded = new DistributedQueue<string>(s, uniquePath('queue-lost-reply'));
    const created = await lostReplyPut(guarded);
    expect(await s.getChildren(guarded.path)).toEqual([created.slice(guarded.path.length + 1)]);
    // The same fault without protection: the retry writes a second item. This shows that the
    // fault above really made the put retry after its create was applied.
    const plain = new DistributedQueue<string>(s, uniquePath('queue-lost-reply-plain'), { protectedPuts: false });
    await lostReplyPut(plain);
    expect(await count(plain)).toBe(2);
  });

  it('takes items in put order, from several producers, and lays them out as Curator does', async () => {
    const [s1, s2, s3] = await Promise.all([zk.connect(), zk.connect(), zk.connect()]);
    const path = uniquePath('queue');
    const q1 = new DistributedQueue<number>(s1, path);
    const q2 = new DistributedQueue<number>(s2, path);
    const taker = new DistributedQueue<number>(s3, path);
    await q1.put(0);
    const created = await q1.putMany([1, 2, 3, 4]);
    // Protected names: Curator's `queue-` prefix, a `_c_<uuid>-` marker, the server's sequence.
    expect(created.map((p) => p.replace(/_c_[0-9a-f-]{36}-/, ''))).toEqual([1, 2, 3, 4].map((i) => `${path}/queue-${String(i).padStart(10, '0')}`));
    expect(created.every((p) => /\/queue-_c_[0-9a-f-]{36}-\d{10}$/.test(p))).toBe(true);
    await q2.put(5);
    expect(await taker.size()).toBe(6);
    const got: number[] = [];
    for (let i = 0; i < 6; i++) got.push(await taker.take({ timeoutMs: 10_000 }));
    expect(got).toEqual([0, 1, 2, 3, 4, 5]);
    expect(await taker.poll()).toBeUndefined();
    expect(await s1.getChildren(path).catch(() => [])).toEqual([]); // (an empty container may be reaped)
    expect((await s1.get(created[0]!).catch((e: unknown) => e)) instanceof Error).toBe(true);
    await Promise.all([q1.close(), q2.close(), taker.close()]);
  });

  it('take waits for an item put later by another session', async () => {
    const [a, b] = await Promise.all([zk.connect(), zk.connect()]);
    const path = uniquePath('queue');
    const taker = new DistributedQueue<string>(a, path);
    const producer = new DistributedQueue<string>(b, path);
    const pending = taker.take({ timeoutMs: 15_000 });
    await new Promise((r) => setImmediate(r));
    await producer.put('late');
    expect(await pending).toBe('late');
  });

  it('concurrent takes across sessions get every item exactly once', async () => {
    const sessions = await Promise.all([zk.connect(), zk.connect(), zk.connect()]);
    const path = uniquePath('queue');
    const n = 150;
    await new DistributedQueue<number>(sessions[0]!, path).putMany(Array.from({ length: n }, (_, i) => i));
    const takers = sessions.map((s) => new DistributedQueue<number>(s, path));
    // 3 sessions x 10 takes in flight each: 30 takers race for 150 items.
    const results = await Promise.all(
      takers.flatMap((q) =>
        Array.from({ length: 10 }, async () => {
          const mine: number[] = [];
          for (;;) {
            const v = await q.poll();
            if (v === undefined) return mine;
            mine.push(v);
          }
        }),
      ),
    );
    const all = results.flat().sort((x, y) => x - y);
    expect(all).toEqual(Array.from({ length: n }, (_, i) => i));
    expect(await takers[0]!.size()).toBe(0);
  });

  it('take with timeoutMs rejects with TimeoutError and leaves nothing behind', async () => {
    const s = await zk.connect();
    const path = uniquePath('queue');
    const q = new DistributedQueue<number>(s, path);
    const t0 = Date.now();
    const err = await q.take({ timeoutMs: 300 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as Error).message).toMatch(/^queue\.take .*timed out/);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
    expect(await s.exists(path)).toBeNull();
    expect(await s.exists(`${path}-locks`)).toBeNull();
    // And with the queue node present: no child is left.
    await q.put(1);
    expect(await q.take({ timeoutMs: 5000 })).toBe(1);
    await expect(q.take({ timeoutMs: 200 })).rejects.toBeInstanceOf(TimeoutError);
    expect(await s.getChildren(path).catch(() => [])).toEqual([]); // (an empty container may be reaped)
  });

  it('take with an abort signal rejects with AbortedError (also when already aborted)', async () => {
    const s = await zk.connect();
    const path = uniquePath('queue');
    const q = new DistributedQueue<number>(s, path);
    await expect(q.take({ signal: AbortSignal.abort() })).rejects.toBeInstanceOf(AbortedError);
    const ctl = new AbortController();
    const p = q.take({ signal: ctl.signal });
    setTimeout(() => ctl.abort(), 100);
    await expect(p).rejects.toBeInstanceOf(AbortedError);
    await q.put(7);
    expect(await q.size()).toBe(1); // the aborted take removed nothing
    expect(await q.take({ timeoutMs: 5000 })).toBe(7);
  });

  it('close() fails a pending take with ClosedError and later calls too', async () => {
    const s = await zk.connect();
    const q = new DistributedQueue<number>(s, uniquePath('queue'));
    const p = q.take();
    await new Promise((r) => setTimeout(r, 50));
    await q.close();
    await q.close(); // idempotent
    await expect(p).rejects.toBeInstanceOf(ClosedError);
    await expect(q.put(1)).rejects.toBeInstanceOf(ClosedError);
  });

  it('validates its arguments before writing anything', async () => {
    const s = await zk.connect();
    expect(() => new DistributedQueue(s, '/')).toThrow(InvalidPathError);
    expect(() => new DistributedQueue(s, 'relative')).toThrow(InvalidPathError);
    expect(() => new DistributedQueue(s, '/zookeeper/q')).toThrow(InvalidPathError);
    expect(() => new DistributedQueue(s, '/q', { codec: {} as Codec<unknown> })).toThrow(/option codec/);
    expect(() => new DistributedQueue(s, '/q', { nope: 1 } as object)).toThrow(/unknown option nope/);
    const q = new DistributedQueue(s, uniquePath('queue'));
    expect(() => q.consume(null as never)).toThrow(/handler must be a function/);
    expect(() => q.consume(() => undefined, { concurrency: 0 })).toThrow(/concurrency/);
    await expect(q.take({ timeoutMs: -1 })).rejects.toThrow(/timeoutMs/);
    await expect(q.putMany('x' as never)).rejects.toBeInstanceOf(InvalidArgumentError);
  });
});

describe('codecs and poison items', () => {
  it('a codec that cannot encode rejects put/putMany with InvalidArgumentError and writes nothing', async () => {
    const s = await zk.connect();
    const path = uniquePath('queue');
    const q = new DistributedQueue<unknown>(s, path);
    const err = await q.put(10n).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect((err as Error).message).toMatch(/^queue\.put .*cannot encode the item/);
    const err2 = await q.putMany([1, 2, undefined, 4]).catch((e: unknown) => e);
    expect(err2).toBeInstanceOf(InvalidArgumentError);
    expect((err2 as Error).message).toMatch(/cannot encode item 2/);
    expect(await s.exists(path)).toBeNull();
    const strict: Codec<string> = {
      encode: (v) => {
        if (v === 'bad') throw new Error('refused');
        return Buffer.from(v);
      },
      decode: (b) => b.toString(),
    };
    const q2 = new DistributedQueue<string>(s, path, { codec: strict });
    await expect(q2.putMany(['a', 'bad'])).rejects.toThrow(/refused/);
    expect(await s.exists(path)).toBeNull();
  });

  it('an item that does not decode is moved to <path>-poison, reported, and take goes on', async () => {
    const s = await zk.connect();
    const path = uniquePath('queue');
    const q = new DistributedQueue<{ n: number }>(s, path);
    await q.put({ n: 1 });
    const bad = await s.create(`${path}/queue-`, 'not json {', { mode: 'persistent_sequential' });
    await q.put({ n: 2 });
    const poisoned: PoisonInfo[] = [];
    q.on('poison', (info) => poisoned.push(info));
    expect(await q.take({ timeoutMs: 5000 })).toEqual({ n: 1 });
    expect(await q.take({ timeoutMs: 5000 })).toEqual({ n: 2 });
    const name = bad.slice(bad.lastIndexOf('/') + 1);
    expect(poisoned).toHaveLength(1);
    expect(poisoned[0]!.name).toBe(name);
    expect(poisoned[0]!.movedTo).toBe(`${path}-poison/${name}`);
    expect(poisoned[0]!.error).toBeInstanceOf(SyntaxError);
    expect((await s.get(`${path}-poison/${name}`)).data.toString()).toBe('not json {');
    expect(await q.size()).toBe(0);
  });

  it("curatorCodec frames items as Curator's ItemSerializer does; several-item nodes become poison", async () => {
    const s = await zk.connect();
    const path = uniquePath('queue');
    const q = new DistributedQueue<string>(s, path, { codec: curatorCodec(stringCodec) });
    const [p] = await q.putMany(['ab']);
    expect((await s.get(p!)).data).toEqual(Buffer.from([0, 1, 0, 1, 1, 0, 0, 0, 2, 0x61, 0x62, 2]));
    // what Curator's putMulti writes: two items in one node
    await s.create(`${path}/queue-`, Buffer.from([0, 1, 0, 1, 1, 0, 0, 0, 1, 0x78, 1, 0, 0, 0, 1, 0x79, 2]), { mode: 'persistent_sequential' });
    const poisoned: PoisonInfo[] = [];
    q.on('poison', (i) => poisoned.push(i));
    expect(await q.take({ timeoutMs: 5000 })).toBe('ab');
    expect(await q.poll()).toBeUndefined();
    expect(poisoned).toHaveLength(1);
    expect(String(poisoned[0]!.error)).toMatch(/several items/);
  });

  it('stringCodec stores items as plain UTF-8', async () => {
    const s = await zk.connect();
    const path = uniquePath('queue');
    const q = new DistributedQueue<string>(s, path, { codec: stringCodec });
    const [p] = await q.putMany(['héllo']);
    expect((await s.get(p!)).data.toString('utf8')).toBe('héllo');
    expect(await q.take({ timeoutMs: 5000 })).toBe('héllo');
  });
});

describe('DistributedPriorityQueue', () => {
  it('names items as Curator does and takes lowest priority first, FIFO within one priority', async () => {
    const s = await zk.connect();
    const path = uniquePath('pq');
    const q = new DistributedPriorityQueue<string>(s, path);
    const p5 = await q.put('five-a', 5);
    const pneg = await q.put('minus-one', -1);
    await q.putMany(['zero-a', 'zero-b'], 0);
    await q.put('five-b', 5);
    await q.put('minus-two', -2);
    await q.put('big', 2 ** 31 - 1);
    expect(p5).toMatch(new RegExp(`^${path}/queue-100000005_c_[0-9a-f-]{36}-\\d{10}$`));
    expect(pneg).toMatch(new RegExp(`^${path}/queue-0FFFFFFFF_c_[0-9a-f-]{36}-\\d{10}$`));
    await expect(q.put('x', 1.5)).rejects.toThrow(/priority must be a 32-bit integer/);
    const got: string[] = [];
    for (let i = 0; i < 7; i++) got.push(await q.take({ timeoutMs: 5000 }));
    expect(got).toEqual(['minus-two', 'minus-one', 'zero-a', 'zero-b', 'five-a', 'five-b', 'big']);
  });

  it('a consumer sees a more urgent item put while it works', async () => {
    const [a, b] = await Promise.all([zk.connect(), zk.connect()]);
    const path = uniquePath('pq');
    const producer = new DistributedPriorityQueue<string>(a, path);
    const q = new DistributedPriorityQueue<string>(b, path);
    await producer.putMany(['low-1', 'low-2'], 10);
    const order: string[] = [];
    const ctl = new AbortController();
    const c = q.consume(
      async (v) => {
        order.push(v);
        if (v === 'low-1') await producer.put('urgent', -5);
        if (order.length === 3) ctl.abort();
      },
      { concurrency: 1, signal: ctl.signal },
    );
    await c.done;
    expect(order).toEqual(['low-1', 'urgent', 'low-2']);
    expect(await q.size()).toBe(0);
  });
});

describe('DistributedDelayQueue', () => {
  it('encodes the due time as Curator does and delivers nothing before it is due', async () => {
    const [a, b] = await Promise.all([zk.connect(), zk.connect()]);
    const path = uniquePath('dq');
    const producer = new DistributedDelayQueue<string>(a, path);
    const q = new DistributedDelayQueue<string>(b, path);
    const now = Date.now();
    const later = now + 1200;
    const soon = now + 400;
    const pLater = await producer.put('later', later);
    await producer.put('soon', new Date(soon));
    await producer.put('now', now - 1000);
    expect(pLater).toMatch(new RegExp(`^${path}/queue-\\|${later.toString(16).toUpperCase()}\\|_c_[0-9a-f-]{36}-0000000000$`));
    const first = await q.take({ timeoutMs: 5000 });
    expect(first).toBe('now');
    expect(await q.poll()).toBeUndefined(); // 'soon' is not due yet
    const second = await q.take({ timeoutMs: 5000 });
    expect(second).toBe('soon');
    expect(Date.now()).toBeGreaterThanOrEqual(soon);
    // a consumer waits for the timer, not for a change
    const taken: Array<{ v: string; at: number }> = [];
    const ctl = new AbortController();
    const c = q.consume(
      (v) => {
        taken.push({ v, at: Date.now() });
        ctl.abort();
      },
      { signal: ctl.signal },
    );
    await c.done;
    expect(taken).toHaveLength(1);
    expect(taken[0]!.v).toBe('later');
    expect(taken[0]!.at).toBeGreaterThanOrEqual(later);
    await expect(q.take({ timeoutMs: 100 })).rejects.toBeInstanceOf(TimeoutError);
  });

  it('a take waiting for a far item gets a sooner one put meanwhile', async () => {
    const [a, b] = await Promise.all([zk.connect(), zk.connect()]);
    const path = uniquePath('dq');
    const producer = new DistributedDelayQueue<string>(a, path);
    const q = new DistributedDelayQueue<string>(b, path);
    await producer.put('far', Date.now() + 60_000);
    const pending = q.take({ timeoutMs: 10_000 });
    await new Promise((r) => setTimeout(r, 100));
    const due = Date.now() + 300;
    await producer.put('near', due);
    expect(await pending).toBe('near');
    expect(Date.now()).toBeGreaterThanOrEqual(due);
    expect(await q.size()).toBe(1);
  });
});

describe('events', () => {
  it('nextEvent works with queues (typed emitter)', async () => {
    const s = await zk.connect();
    const path = uniquePath('queue');
    const q = new DistributedQueue<unknown>(s, path);
    await s.create(`${path}/queue-`, '\u0000garbage', { mode: 'persistent_sequential', createParents: true });
    const ev = nextEvent<[PoisonInfo]>(q as never, 'poison');
    expect(await q.poll()).toBeUndefined();
    const [info] = await ev;
    expect(info.data.toString()).toBe('\u0000garbage');
  });
});
