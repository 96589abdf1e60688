// Many waiters on one lock, parked the cheap way (one watch entry each, a shared watch callback
// per session, shared listings while they queue): the properties that must hold at scale. 2000
// waiters over 4 sessions: aborting every other one in the queue removes exactly their nodes and
// wakes exactly their successors; then each release wakes exactly one waiter, and the waiters
// acquire one at a time in queue order. Readers of one session that watch the same writer are all
// woken by its release. 300 waiters that time out leave no node. The packed numeric sort a woken
// waiter orders the queue with gives the stable sort by sequence. (Memory figures live in the bench.)
import { describe, expect, it } from 'vitest';
import { AbortedError, Lock, ReadWriteLock, TimeoutError, type Lease, type ZkSession } from '../src/index.js';
import { fourLetterWord } from '../src/testing/index.js';
import { orderBySequence, parseEntry } from '../recipes/contender.js';
import { childrenOf, uniquePath, useServer, waitUntil } from './helpers.js';

const zk = useServer();

/** Paths under `path` the server holds a watch on (`wchp`). */
async function watchedUnder(path: string): Promise<number> {
  const wchp = await fourLetterWord('127.0.0.1', zk.server.port, 'wchp');
  return wchp.split('\n').filter((l) => l.startsWith(`${path}/`)).length;
}

/** One round trip on every session: any watch event sent before it has been handled. */
async function settle(sessions: readonly ZkSession[]): Promise<void> {
  await Promise.all(sessions.map((s) => s.exists('/')));
}

/** Leases in the order they were granted, and a way to wait for the next one. */
class Grants {
  readonly order: { i: number; lease: Lease }[] = [];
  private wake: (() => void) | undefined;

  add(i: number, lease: Lease): void {
    this.order.push({ i, lease });
    this.wake?.();
  }

  async next(count: number): Promise<void> {
    const deadline = Date.now() + 60_000;
    while (this.order.length < count) {
      if (Date.now() > deadline) throw new Error(`no grant #${count} within 60 s`);
      await new Promise<void>((r) => {
        this.wake = r;
        setTimeout(r, 1000);
      });
    }
  }
}

describe('Lock with many waiters', () => {
  it('2000 waiters: aborting every other one wakes only their successors; each release wakes one; they acquire in queue order', async () => {
    const path = uniquePath('lock-many');
    const owner = await zk.connect({ sessionTimeoutMs: 30_000 });
    const sessions = await Promise.all(Array.from({ length: 4 }, () => zk.connect({ sessionTimeoutMs: 30_000 })));
    const held = await new Lock(owner, path, { data: 'owner' }).acquire();
    const n = 2000;
    const grants = new Grants();
    const ctls = Array.from({ length: n }, () => new AbortController());
    const locks = Array.from({ length: n }, (_, i) => new Lock(sessions[i % 4]!, path, { data: String(i) }));
    const outcomes = locks.map((lock, i) =>
      lock.acquire({ signal: ctls[i]!.signal, timeoutMs: i % 3 === 0 ? 600_000 : undefined }).then(
        (lease) => {
          grants.add(i, lease);
          return 'held' as const;
        },
        (err: unknown) => err,
      ),
    );
    const wakeups = () => locks.reduce((sum, l) => sum + l.stats.wakeups, 0);
    await waitUntil(async () => (await childrenOf(owner, path)).length === n + 1, `${n} waiters queued`, 120_000, 200);
    // Every waiter armed its watch on its own predecessor: the owner's node and n - 1 waiters' nodes.
    await waitUntil(async () => (await watchedUnder(path)) === n, `${n} watches armed`, 120_000, 200);
    expect(wakeups()).toBe(0);

    // The queue in sequence order, each node mapped to its waiter through the node's data.
    const names = orderBySequence(await owner.getChildren(path), ['lock-']).map((e) => e.name);
    const queue = await Promise.all(names.slice(1).map(async (name) => Number((await owner.get(`${path}/${name}`)).data.toString())));
    expect(new Set(queue).size).toBe(n);
    const aborted = queue.filter((_, k) => k % 2 === 1);
    const live = queue.filter((_, k) => k % 2 === 0);
    for (const i of aborted) ctls[i]!.abort();
    for (const i of aborted) expect(await outcomes[i]).toBeInstanceOf(AbortedError);
    await waitUntil(async () => (await childrenOf(owner, path)).length === live.length + 1, 'the aborted waiters’ nodes removed', 60_000, 100);
    const left = new Set(await owner.getChildren(path));
    for (const [k, name] of names.slice(1).entries()) expect(left.has(name)).toBe(k % 2 === 0);
    // Each live waiter but the first had an aborted predecessor: woken once each, nobody else.
    await waitUntil(() => wakeups() === live.length - 1, 'the successors of aborted waiters to look again', 60_000, 100);
    await settle(sessions);
    expect(wakeups()).toBe(live.length - 1);
    expect(grants.order).toHaveLength(0);

    let current = held;
    for (let k = 0; k < live.length; k++) {
      const before = wakeups();
      await current.release();
      await grants.next(k + 1);
      await settle(sessions);
      expect(grants.order).toHaveLength(k + 1); // one release, one lease
      expect(wakeups() - before).toBe(1); // one release, one waiter woken
      const next = grants.order[k]!;
      expect(next.i).toBe(live[k]); // in queue order
      current = next.lease;
    }
    await current.release();
    for (const i of live) expect(await outcomes[i]).toBe('held');
    expect(await childrenOf(owner, path)).toEqual([]);
  }, 300_000);

  it('readers of one session watching the same writer are all woken by its release', async () => {
    const path = uniquePath('rw-many');
    const [a, b] = [await zk.connect(), await zk.connect()];
    const writer = await new ReadWriteLock(a, path).writeLock.acquire();
    const rw = new ReadWriteLock(b, path);
    const readers = Array.from({ length: 20 }, () => rw.readLock.acquire({ timeoutMs: 60_000 }));
    await waitUntil(async () => (await childrenOf(a, path)).length === 21, '20 readers queued');
    await waitUntil(async () => (await watchedUnder(path)) === 1, 'the readers watching the writer');
    await settle([b]);
    expect(rw.readLock.stats.wakeups).toBe(0);
    await writer.release();
    const leases = await Promise.all(readers);
    expect(rw.readLock.stats.wakeups).toBe(20); // each woken once, by the one event
    await Promise.all(leases.map((l) => l.release()));
    expect(await childrenOf(a, path)).toEqual([]);
  });

  it('300 waiters that time out leave no node, and the lock is free after the release', async () => {
    const path = uniquePath('lock-many-timeout');
    const [a, b] = [await zk.connect(), await zk.connect()];
    const held = await new Lock(a, path).acquire();
    const lock = new Lock(b, path);
    const results = await Promise.allSettled(Array.from({ length: 300 }, () => lock.acquire({ timeoutMs: 1500 })));
    for (const r of results) expect(r.status === 'rejected' && r.reason instanceof TimeoutError).toBe(true);
    await waitUntil(async () => (await childrenOf(a, path)).length === 1 && b.pendingDeletes === 0, 'only the holder’s node left', 30_000);
    await held.release();
    const next = await lock.acquire({ timeoutMs: 10_000 });
    await next.release();
    expect(await childrenOf(a, path)).toEqual([]);
  });
});

describe('orderBySequence', () => {
  it('orders as a stable sort by sequence: wrapped (negative) sequences, ties, foreign digits, foreign names', () => {
    const markers = ['__READ__', '__WRIT__'];
    let seed = 7;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const names: string[] = [];
    for (let i = 0; i < 3000; i++) {
      const kind = rand(20);
      const seq = kind === 0 ? -(rand(2 ** 30) + 1) : kind < 3 ? rand(40) : rand(2 ** 31 - 1);
      const digits = seq < 0 ? `-${String(-seq).padStart(10, '0')}` : String(seq).padStart(10, '0');
      names.push(kind === 3 ? `foreign-${i}` : `_c_${i}-${rand(2) === 0 ? '__READ__' : '__WRIT__'}${digits}`);
    }
    const expected = names
      .map((name, i) => ({ i, e: parseEntry(name, markers) }))
      .filter((x) => x.e !== undefined)
      .sort((a, b) => a.e!.seq - b.e!.seq || a.i - b.i)
      .map((x) => x.e!.name);
    expect(orderBySequence(names, markers).map((e) => e.name)).toEqual(expected);
    // Digits beyond a server sequence take the plain sort, with the same result.
    const wide = [...names, '_c_w-__READ__99999999999999999999', '_c_v-__WRIT__-99999999999999999999'];
    const wideExpected = ['_c_v-__WRIT__-99999999999999999999', ...expected, '_c_w-__READ__99999999999999999999'];
    expect(orderBySequence(wide, markers).map((e) => e.name)).toEqual(wideExpected);
    expect(parseEntry('_c_x-lock--0000000007', ['lock-'])?.seq).toBe(-7);
    expect(parseEntry('_c_x-lock-12a', ['lock-'])).toBeUndefined();
    expect(parseEntry('_c_x-lock-', ['lock-'])).toBeUndefined();
  });
});
