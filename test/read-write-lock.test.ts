// ReadWriteLock: readers share, a writer excludes readers and writers, a waiting writer blocks
// later readers, Curator's node names, and no node left behind.
import { describe, expect, it } from 'vitest';
import { InvalidPathError, ReadWriteLock, TimeoutError, type Lease, type ZkSession } from '../src/index.js';
import { uniquePath, useServer, waitUntil, childrenOf } from './helpers.js';

const zk = useServer();

const nodesUnder = async (s: ZkSession, path: string): Promise<string[]> => (await childrenOf(s, path)).sort();

/** Tracks whether a pending acquire has resolved. */
function track(p: Promise<Lease>): { done: () => boolean; lease: Promise<Lease> } {
  let done = false;
  void p.then(
    () => {
      done = true;
    },
    () => undefined,
  );
  return { done: () => done, lease: p };
}

describe('ReadWriteLock', () => {
  it('validates its arguments', async () => {
    const s = await zk.connect();
    expect(() => new ReadWriteLock(s, 'x')).toThrow(InvalidPathError);
    expect(() => new ReadWriteLock(s, '/')).toThrow(/read-write-lock: path must not be the root/);
    expect(() => new ReadWriteLock(s, '/a', { nope: 1 } as never)).toThrow(/read-write-lock: unknown option nope/);
  });

  it("lets readers share, with Curator's node names", async () => {
    const path = uniquePath('rw-share');
    const [a, b] = [await zk.connect(), await zk.connect()];
    const r1 = await new ReadWriteLock(a, path).readLock.acquire({ timeoutMs: 10_000 });
    const r2 = await new ReadWriteLock(b, path).readLock.acquire({ timeoutMs: 10_000 });
    expect(r1.path).toMatch(/\/_c_[0-9a-f-]{36}-__READ__0000000000$/);
    expect(r2.path).toMatch(/-__READ__0000000001$/);
    expect(r2.fencingToken).toBeGreaterThan(r1.fencingToken);
    await r1.release();
    await r2.release();
    const w = await new ReadWriteLock(a, path).writeLock.acquire({ timeoutMs: 10_000 });
    expect(w.path).toMatch(/\/_c_[0-9a-f-]{36}-__WRIT__\d{10}$/);
    await w.release();
    expect(await nodesUnder(a, path)).toEqual([]);
  });

  it('a writer excludes readers and other writers', async () => {
    const path = uniquePath('rw-excl');
    const [a, b, c] = [await zk.connect(), await zk.connect(), await zk.connect()];
    const w = await new ReadWriteLock(a, path).writeLock.acquire();
    const rwB = new ReadWriteLock(b, path);
    expect(await rwB.readLock.tryAcquire()).toBeNull();
    expect(await new ReadWriteLock(c, path).writeLock.tryAcquire()).toBeNull();
    await expect(rwB.readLock.acquire({ timeoutMs: 200 })).rejects.toBeInstanceOf(TimeoutError);
    expect(await nodesUnder(a, path)).toHaveLength(1);
    const reader = track(rwB.readLock.acquire());
    await waitUntil(async () => (await nodesUnder(a, path)).length === 2, 'the reader to queue');
    expect(reader.done()).toBe(false);
    await w.release();
    const r = await reader.lease;
    // a reader holding excludes a writer
    expect(await new ReadWriteLock(c, path).writeLock.tryAcquire()).toBeNull();
    await r.release();
    expect(await nodesUnder(a, path)).toEqual([]);
  });

  it('a waiting writer blocks later readers (no writer starvation)', async () => {
    const path = uniquePath('rw-starve');
    const [a, b, c] = [await zk.connect(), await zk.connect(), await zk.connect()];
    const r1 = await new ReadWriteLock(a, path).readLock.acquire();
    const writer = track(new ReadWriteLock(b, path).writeLock.acquire());
    await waitUntil(async () => (await nodesUnder(a, path)).length === 2, 'the writer to queue');
    const rwC = new ReadWriteLock(c, path);
    expect(await rwC.readLock.tryAcquire()).toBeNull(); // would share with r1, but the writer is ahead
    const r2 = track(rwC.readLock.acquire());
    await waitUntil(async () => (await nodesUnder(a, path)).length === 3, 'the later reader to queue');
    expect(writer.done()).toBe(false);
    expect(r2.done()).toBe(false);
    await r1.release();
    const w = await writer.lease;
    expect(r2.done()).toBe(false);
    expect(await nodesUnder(a, path)).toHaveLength(2);
    await w.release();
    const l2 = await r2.lease;
    expect(l2.fencingToken).toBeGreaterThan(w.fencingToken);
    expect(w.fencingToken).toBeGreaterThan(r1.fencingToken);
    await l2.release();
    expect(await nodesUnder(a, path)).toEqual([]);
  });

  it('never lets a writer overlap anyone under mixed load', async () => {
    const path = uniquePath('rw-mixed');
    const sessions = await Promise.all(Array.from({ length: 5 }, () => zk.connect()));
    type Hold = { kind: 'r' | 'w'; start: bigint; end: bigint };
    const holds: Hold[] = [];
    await Promise.all(
      sessions.map(async (s, i) => {
        const rw = new ReadWriteLock(s, path);
        for (let n = 0; n < 8; n++) {
          const kind = (n + i) % 3 === 0 ? 'w' : 'r';
          const lease = await (kind === 'w' ? rw.writeLock : rw.readLock).acquire({ timeoutMs: 20_000 });
          const start = process.hrtime.bigint();
          await new Promise((r) => setImmediate(r));
          holds.push({ kind, start, end: process.hrtime.bigint() });
          await lease.release();
        }
      }),
    );
    const writes = holds.filter((h) => h.kind === 'w');
    expect(writes.length).toBeGreaterThan(0);
    for (const w of writes) {
      const overlapping = holds.filter((h) => h !== w && h.start < w.end && w.start < h.end);
      expect(overlapping).toEqual([]);
    }
    expect(await nodesUnder(sessions[0]!, path)).toEqual([]);
  });
});
