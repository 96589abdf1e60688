// Semaphore: never more than maxLeases holders across processes, count > 1, Curator's layout,
// tryAcquire / timeout / abort leave no node, and multi-lease requests do not deadlock.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AbortedError, InvalidArgumentError, Semaphore, SessionExpiredError, TimeoutError, type Lease } from '../src/index.js';
import { expireSession } from '../src/testing/index.js';
import { uniquePath, useServer, waitUntil, childrenOf } from './helpers.js';
import { killAll, runHammers } from './fixtures/lock-children.js';
import { findOverlap, handoffs, peakConcurrency, readHolds } from './fixtures/lock-intervals.js';

const zk = useServer();
const dir = mkdtempSync(join(tmpdir(), 'zk-sem-test-'));
afterAll(() => {
  killAll();
  rmSync(dir, { recursive: true, force: true });
});

function track<T>(p: Promise<T>): { done: () => boolean; value: Promise<T> } {
  let done = false;
  void p.then(
    () => {
      done = true;
    },
    () => undefined,
  );
  return { done: () => done, value: p };
}

describe('Semaphore', () => {
  it('validates its arguments before anything is written', async () => {
    const s = await zk.connect();
    const path = uniquePath('sem-args');
    expect(() => new Semaphore(s, path, undefined as never)).toThrow(/semaphore: options \{ maxLeases \} are required/);
    expect(() => new Semaphore(s, path, { maxLeases: 0 })).toThrow(InvalidArgumentError);
    expect(() => new Semaphore(s, path, { maxLeases: 1.5 })).toThrow(/maxLeases must be an integer >= 1/);
    expect(() => new Semaphore(s, path, { maxLeases: 2, x: 1 } as never)).toThrow(/semaphore: unknown option x/);
    const sem = new Semaphore(s, path, { maxLeases: 2 });
    await expect(sem.acquire({ count: 3 })).rejects.toThrow(/count must be an integer in 1\.\.2/);
    await expect(sem.acquire({ count: 0 })).rejects.toThrow(InvalidArgumentError);
    await expect(sem.tryAcquire({ count: 1.5 })).rejects.toThrow(InvalidArgumentError);
    expect(await s.exists(path)).toBeNull();
  });

  it("uses Curator's layout: leases/_c_<uuid>-lease-<seq>, the locks/ mutex released once held", async () => {
    const path = uniquePath('sem-layout');
    const s = await zk.connect();
    const [lease] = await new Semaphore(s, path, { maxLeases: 2 }).acquire();
    expect(lease!.path).toMatch(new RegExp(`^${path}/leases/_c_[0-9a-f-]{36}-lease-0000000000$`));
    expect(await childrenOf(s, `${path}/locks`)).toEqual([]);
    expect(lease!.fencingToken).toBeGreaterThan(0n);
    await lease!.release();
    expect(await childrenOf(s, `${path}/leases`)).toEqual([]);
  });

  it('never has more than maxLeases=2 holders across processes', async () => {
    const path = uniquePath('sem-mx');
    const procs = 3;
    const logs = Array.from({ length: procs }, (_, i) => join(dir, `sem-${i}.log`));
    await runHammers(
      dir,
      logs.map((log) => [zk.server.connectString, 'semaphore:2', path, '8', '10', log]),
    );
    const holds = logs.flatMap((log, i) => readHolds(log, `p${i}`));
    expect(holds).toHaveLength(procs * 8);
    expect(findOverlap(holds, 2)).toBeUndefined();
    expect(peakConcurrency(holds)).toBeLessThanOrEqual(2);
    expect(handoffs(holds)).toBeGreaterThanOrEqual(procs);
    expect(holds.filter((h) => h.lost).length).toBeLessThanOrEqual(procs); // leases lost to a stalled machine
  }, 150_000); // child processes start slowly on a loaded machine

  it('is a semaphore, not a mutex: two sessions hold a lease at once, a third waits for one of them', async () => {
    const path = uniquePath('sem-two');
    const [a, b, c] = await Promise.all([zk.connect(), zk.connect(), zk.connect()]);
    const [la] = await new Semaphore(a, path, { maxLeases: 2 }).acquire({ timeoutMs: 10_000 });
    const [lb] = await new Semaphore(b, path, { maxLeases: 2 }).acquire({ timeoutMs: 10_000 }); // while a holds
    expect(await new Semaphore(c, path, { maxLeases: 2 }).tryAcquire()).toBeNull();
    const third = new Semaphore(c, path, { maxLeases: 2 }).acquire({ timeoutMs: 10_000 });
    await la!.release();
    const [lc] = await third;
    expect([lb!.isLost, lc!.isLost]).toEqual([false, false]);
    expect(await childrenOf(a, `${path}/leases`)).toHaveLength(2);
    await Promise.all([lb!.release(), lc!.release()]);
    expect(await childrenOf(a, `${path}/leases`)).toEqual([]);
  });

  it('acquires count > 1 together; tryAcquire returns null and leaves no node when short', async () => {
    const path = uniquePath('sem-count');
    const [a, b] = [await zk.connect(), await zk.connect()];
    const semA = new Semaphore(a, path, { maxLeases: 3 });
    const semB = new Semaphore(b, path, { maxLeases: 3 });
    const two = await semA.acquire({ count: 2, timeoutMs: 10_000 });
    expect(two).toHaveLength(2);
    expect(new Set(two.map((l) => l.path)).size).toBe(2);
    expect(await semB.tryAcquire({ count: 2 })).toBeNull();
    expect(await childrenOf(a, `${path}/leases`)).toHaveLength(2);
    expect(await childrenOf(a, `${path}/locks`)).toEqual([]);
    const one = await semB.tryAcquire();
    expect(one).toHaveLength(1);
    expect(await semB.tryAcquire()).toBeNull();
    for (const l of [...two, ...one!]) await l.release();
    expect(await childrenOf(a, `${path}/leases`)).toEqual([]);
  });

  it('waits for a free slot; timeout and abort leave no node behind', async () => {
    const path = uniquePath('sem-wait');
    const [a, b] = [await zk.connect(), await zk.connect()];
    const [held] = await new Semaphore(a, path, { maxLeases: 1 }).acquire();
    const semB = new Semaphore(b, path, { maxLeases: 1 });
    await expect(semB.acquire({ timeoutMs: 300 })).rejects.toBeInstanceOf(TimeoutError);
    expect(await childrenOf(a, `${path}/leases`)).toHaveLength(1);
    expect(await childrenOf(a, `${path}/locks`)).toEqual([]);
    const ctl = new AbortController();
    const aborted = semB.acquire({ signal: ctl.signal });
    await waitUntil(async () => (await childrenOf(a, `${path}/leases`)).length === 2, 'the waiter to create its lease node');
    ctl.abort();
    await expect(aborted).rejects.toBeInstanceOf(AbortedError);
    expect(await childrenOf(a, `${path}/leases`)).toHaveLength(1);
    expect(await childrenOf(a, `${path}/locks`)).toEqual([]);
    const waiting = track(semB.acquire());
    await waitUntil(async () => (await childrenOf(a, `${path}/leases`)).length === 2, 'the waiter to queue');
    expect(waiting.done()).toBe(false);
    await held!.release();
    const [got] = await waiting.value;
    expect(got!.fencingToken).toBeGreaterThan(held!.fencingToken);
    await got!.release();
  });

  it('two clients asking for several leases do not deadlock', async () => {
    const path = uniquePath('sem-multi');
    const [a, b, c] = [await zk.connect(), await zk.connect(), await zk.connect()];
    const [first] = await new Semaphore(a, path, { maxLeases: 2 }).acquire();
    const wantB = track(new Semaphore(b, path, { maxLeases: 2 }).acquire({ count: 2 }));
    const wantC = track(new Semaphore(c, path, { maxLeases: 2 }).acquire({ count: 2 }));
    await waitUntil(async () => (await childrenOf(a, `${path}/locks`)).length === 2, 'both to queue');
    await first!.release();
    const winner: Lease[] = await Promise.race([wantB.value, wantC.value]);
    expect(winner).toHaveLength(2);
    expect(wantB.done() && wantC.done()).toBe(false);
    for (const l of winner) await l.release();
    const [lb, lc] = await Promise.all([wantB.value, wantC.value]);
    for (const l of [...lb, ...lc]) await l.release();
    expect(await childrenOf(a, `${path}/leases`)).toEqual([]);
  });

  it('a waiter whose session expires fails with SESSION_EXPIRED and leaves nothing held', async () => {
    const path = uniquePath('sem-expire');
    const [a, b] = [await zk.connect(), await zk.connect()];
    const [held] = await new Semaphore(a, path, { maxLeases: 1 }).acquire();
    const waiting = new Semaphore(b, path, { maxLeases: 1 }).acquire();
    waiting.catch(() => undefined); // it rejects while expireSession is still being awaited
    await waitUntil(async () => (await childrenOf(a, `${path}/leases`)).length === 2, 'the waiter to queue');
    await expireSession(b);
    await expect(waiting).rejects.toBeInstanceOf(SessionExpiredError);
    expect(await childrenOf(a, `${path}/leases`)).toEqual([held!.path.split('/').pop()]);
    expect(await childrenOf(a, `${path}/locks`)).toEqual([]);
    await held!.release();
  });
});
