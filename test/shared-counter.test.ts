import { describe, expect, it } from 'vitest';
import { IllegalStateError, InvalidArgumentError, SharedCounter } from '../src/index.js';
import { buildCurator, runCurator } from './fixtures/bcg-curator.js';
import { uniquePath, useServer, waitUntil } from './helpers.js';

const zk = useServer();

describe('SharedCounter', () => {
  it('4 sessions x 50 concurrent increments sum to exactly 200', async () => {
    const path = uniquePath('counter');
    const sessions = await Promise.all([1, 2, 3, 4].map(() => zk.connect()));
    const results: number[] = [];
    await Promise.all(
      sessions.map(async (s) => {
        const c = new SharedCounter(s, path);
        // Several increments in flight per session, so compare-and-set conflicts really happen.
        await Promise.all(
          Array.from({ length: 5 }, async () => {
            for (let i = 0; i < 10; i++) results.push(await c.increment());
          }),
        );
      }),
    );
    expect(await new SharedCounter(sessions[0]!, path).get()).toBe(200);
    // Every increment got its own value: no update was lost or applied twice.
    expect(new Set(results).size).toBe(200);
    expect(Math.max(...results)).toBe(200);
  });

  it('stores a 4-byte big-endian signed int (Curator SharedCount) and reads raw bytes', async () => {
    const path = uniquePath('counter');
    const s = await zk.connect();
    const c = new SharedCounter(s, path);
    expect(await c.get()).toBe(0); // missing node reads as the seed
    await c.set(-2);
    expect((await s.get(path)).data).toEqual(Buffer.from([0xff, 0xff, 0xff, 0xfe]));
    await s.set(path, Buffer.from([0x00, 0x01, 0x02, 0x03])); // as Curator would write 66051
    expect(await c.get()).toBe(66051);
    expect(await c.increment(-66052)).toBe(-1);
    await c.set(2147483647);
    expect(await c.increment()).toBe(-2147483648); // wraps like Java's int
    await s.set(path, Buffer.from([1, 2, 3]));
    await expect(c.get()).rejects.toBeInstanceOf(IllegalStateError);
  });

  it('compareAndSet fails on a stale version; seed applies to a missing node', async () => {
    const path = uniquePath('counter');
    const s = await zk.connect();
    const c = new SharedCounter(s, path, { seed: 10 });
    expect(await c.read()).toEqual({ value: 10, version: -1 });
    expect(await c.increment(5)).toBe(15);
    const { version } = await c.read();
    expect(await c.compareAndSet(version, 20)).toBe(true);
    expect(await c.compareAndSet(version, 30)).toBe(false);
    expect(await c.get()).toBe(20);
  });

  it('start() keeps value current and emits change', async () => {
    const path = uniquePath('counter');
    const s = await zk.connect();
    const other = await zk.connect();
    await using c = new SharedCounter(s, path);
    const seen: number[] = [];
    c.on('change', (v) => seen.push(v));
    await c.start();
    expect(c.value).toBe(0);
    await new SharedCounter(other, path).set(7);
    await waitUntil(() => c.value === 7, 'value 7');
    expect(seen).toContain(7);
    await expect(c.start()).rejects.toBeInstanceOf(IllegalStateError);
  });

  it('rejects values that are not 32-bit integers', async () => {
    const s = await zk.connect();
    const c = new SharedCounter(s, uniquePath('counter'));
    await expect(c.set(2 ** 31)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(c.set(1.5)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(c.increment(Number.NaN)).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(() => new SharedCounter(s, '/c', { seed: -(2 ** 31) - 1 })).toThrow(InvalidArgumentError);
  });
});

describe('SharedCounter and Curator SharedCount on one counter', () => {
  it('increments from Node and from Curator, at the same time, all count; both read the same value', async () => {
    const runtime = buildCurator();
    const path = uniquePath('counter');
    const s = await zk.connect();
    const c = new SharedCounter(s, path);
    const peer = runCurator(runtime, ['counter', zk.server.connectString, path, '50']);
    try {
      // Node increments until the Curator peer is done, so the two really overlap.
      let mine = 0;
      let peerDone = false;
      const finished = peer.done.finally(() => {
        peerDone = true;
      });
      finished.catch(() => undefined);
      await Promise.all(
        [1, 2].map(async () => {
          while (!peerDone || mine < 20) {
            await c.increment();
            mine++;
          }
        }),
      );
      await finished;
      expect(await c.get()).toBe(mine + 50);
      const reader = runCurator(runtime, ['read', zk.server.connectString, path]);
      try {
        expect(await reader.line('value')).toBe(`value ${mine + 50}`);
      } finally {
        reader.child.kill('SIGKILL');
      }
    } finally {
      peer.child.kill('SIGKILL');
    }
  });
});
