// Lock: mutual exclusion across processes, fencing tokens (also across container reaping), one
// wake-up per release, no node left by tryAcquire / abort / timeout, lease loss on suspension,
// and the 3-round-trip fast path.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { setMaxListeners } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AbortedError, InvalidArgumentError, InvalidPathError, Lock, SessionExpiredError, TimeoutError, ZkSession } from '../src/index.js';
import { expireSession, fourLetterWord, startProxy } from '../src/testing/index.js';
import { nodeName } from '../src/paths.js';
import { WaitScope } from '../src/wait.js';
import { Contender, firstN, orderWithoutStrays } from '../recipes/contender.js';
import { nextEvent, uniquePath, useServer, waitUntil, childrenOf, testConnectString, testSessionOptions } from './helpers.js';
import { killAll, runHammers } from './fixtures/lock-children.js';
import { findOverlap, findTokenRegression, handoffs, readHolds, type Hold } from './fixtures/lock-intervals.js';

const zk = useServer();
const dir = mkdtempSync(join(tmpdir(), 'zk-lock-test-'));
afterAll(() => {
  killAll();
  rmSync(dir, { recursive: true, force: true });
});

describe('Lock', () => {
  it('validates its arguments before anything is written', async () => {
    const s = await zk.connect();
    expect(() => new Lock(s, 'relative')).toThrow(InvalidPathError);
    expect(() => new Lock(s, '/')).toThrow(/lock: path must not be the root/);
    expect(() => new Lock(s, '/zookeeper/x')).toThrow(InvalidPathError);
    expect(() => new Lock(s, '/a', { bogus: 1 } as never)).toThrow(/lock: unknown option bogus/);
    const lock = new Lock(s, uniquePath('lock'));
    await expect(lock.acquire({ timeoutMs: -1 })).rejects.toThrow(InvalidArgumentError);
    expect(await s.exists(lock.path)).toBeNull();
  });

  it('keeps mutual exclusion across processes, with strictly increasing fencing tokens', async () => {
    const path = uniquePath('lock-mx');
    const procs = 4;
    const logs = Array.from({ length: procs }, (_, i) => join(dir, `mx-${i}.log`));
    await runHammers(
      dir,
      logs.map((log) => [zk.server.connectString, 'lock', path, '12', '3', log]),
    );
    const holds: Hold[] = logs.flatMap((log, i) => readHolds(log, `p${i}`));
    expect(holds).toHaveLength(procs * 12);
    expect(findOverlap(holds, 1)).toBeUndefined();
    expect(findTokenRegression(holds)).toBeUndefined();
    expect(handoffs(holds)).toBeGreaterThanOrEqual(procs * 3); // they really contended
    expect(holds.filter((h) => h.lost).length).toBeLessThanOrEqual(procs); // leases lost to a stalled machine
  }, 150_000); // child processes start slowly on a loaded machine

  it('wakes exactly one of 50 waiters per release', async () => {
    const path = uniquePath('lock-herd');
    const owner = await zk.connect();
    const held = await new Lock(owner, path).acquire();
    const sessions = await Promise.all(Array.from({ length: 50 }, () => zk.connect()));
    const locks = sessions.map((s) => new Lock(s, path));
    const ctl = new AbortController();
    setMaxListeners(100, ctl.signal);
    const acquired: number[] = [];
    const waits = locks.map((l, i) =>
      l.acquire({ signal: ctl.signal }).then((lease) => {
        acquired.push(i);
        return lease;
      }),
    );
    const settled = Promise.allSettled(waits);
    // every waiter has listed and armed its watch on its own predecessor: 50 watched nodes
    await waitUntil(async () => {
      const wchp = await fourLetterWord('127.0.0.1', zk.server.port, 'wchp');
      return wchp.split('\n').filter((l) => l.startsWith(`${path}/`)).length === 50;
    }, '50 watches armed under the lock path');
    const total = () => locks.reduce((n, l) => n + l.stats.wakeups, 0);
    expect(total()).toBe(0);
    await held.release();
    await waitUntil(() => acquired.length === 1, 'the next waiter to acquire');
    // one round trip on every session: any watch event sent before it has been handled
    await Promise.all(sessions.map((s) => s.exists('/')));
    expect(total()).toBe(1);
    expect(acquired).toHaveLength(1);
    ctl.abort();
    const results = await settled;
    expect(results.filter((r) => r.status === 'rejected').every((r) => (r as PromiseRejectedResult).reason instanceof AbortedError)).toBe(true);
    for (const r of results) if (r.status === 'fulfilled') await r.value.release();
    expect(await childrenOf(owner, path)).toEqual([]);
  });

  it('fencing tokens increase across holders also when the container was reaped in between', async () => {
    const path = uniquePath('lock-reap');
    const a = await zk.connect();
    const b = await zk.connect();
    const first = await new Lock(a, path).acquire();
    expect(first.path).toMatch(/\/_c_[0-9a-f-]{36}-lock-0000000000$/);
    await first.release();
    await waitUntil(async () => (await b.exists(path)) === null, 'the container parent to be reaped');
    const second = await new Lock(b, path).acquire();
    expect(second.path).toMatch(/-lock-0000000000$/); // the sequence restarted
    expect(second.fencingToken).toBeGreaterThan(first.fencingToken);
    await second.release();
  });

  it('tryAcquire returns null and leaves no node when held; a lease when free', async () => {
    const path = uniquePath('lock-try');
    const a = await zk.connect();
    const b = await zk.connect();
    const lease = await new Lock(a, path).tryAcquire();
    expect(lease).not.toBeNull();
    expect(await new Lock(b, path).tryAcquire()).toBeNull();
    expect(await childrenOf(b, path)).toEqual([lease!.path.split('/').pop()]);
    await lease!.release();
    await lease!.release(); // idempotent
    const again = await new Lock(b, path).tryAcquire();
    expect(again).not.toBeNull();
    await again!.release();
  });

  it('abort and timeout leave no node behind', async () => {
    const path = uniquePath('lock-abort');
    const a = await zk.connect();
    const b = await zk.connect();
    const lease = await new Lock(a, path).acquire();
    const lock = new Lock(b, path);
    const started = Date.now();
    await expect(lock.acquire({ timeoutMs: 300 })).rejects.toBeInstanceOf(TimeoutError);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(await childrenOf(a, path)).toHaveLength(1);
    const ctl = new AbortController();
    const waiting = lock.acquire({ signal: ctl.signal });
    await waitUntil(async () => (await childrenOf(a, path)).length === 2, 'the waiter to create its node');
    ctl.abort();
    await expect(waiting).rejects.toBeInstanceOf(AbortedError);
    expect(await childrenOf(a, path)).toHaveLength(1);
    const pre = new AbortController();
    pre.abort();
    await expect(lock.acquire({ signal: pre.signal })).rejects.toBeInstanceOf(AbortedError);
    expect(await childrenOf(a, path)).toHaveLength(1);
    await lease.release();
  });

  it('timeoutMs and signal bound the whole call, the first create included: while suspended they end it, and no node is left', async () => {
    await using proxy = await startProxy(testConnectString(zk.server));
    const cut = await zk.connect({ sessionTimeoutMs: 20_000 }); // same server, for reading the path
    const s = await ZkSession.connect(proxy.connectString, testSessionOptions(zk.server, { sessionTimeoutMs: 8000, connectTimeoutMs: 60_000 }));
    try {
      const path = uniquePath('lock-create-bound');
      const lock = new Lock(s, path);
      proxy.partition();
      proxy.dropConnections(); // suspended at once, and no reconnect gets through
      await waitUntil(() => s.state === 'suspended', 'the session suspended');
      // The create waits for the connection (up to connectTimeoutMs, 60 s): the call must not.
      const timedOut = await lock.acquire({ timeoutMs: 300 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(timedOut).toBeInstanceOf(TimeoutError);
      const ctl = new AbortController();
      const aborted = lock.acquire({ signal: ctl.signal }).then(
        () => undefined,
        (e: unknown) => e,
      );
      ctl.abort();
      expect(await aborted).toBeInstanceOf(AbortedError);
      proxy.heal();
      await waitUntil(() => s.state === 'connected', 'reconnected');
      // The creates went out after the reconnect and made nodes: both are deleted when they land.
      await waitUntil(async () => (await childrenOf(cut, path).catch(() => [])).length === 0 && s.pendingDeletes === 0, 'no node left under the lock', 20_000);
      const lease = await lock.acquire({ timeoutMs: 10_000 }); // and the lock is free
      await lease.release();
    } finally {
      await s.close();
    }
  });

  it('a waiter whose session expires fails with SESSION_EXPIRED; the lease of an expired holder is lost', async () => {
    const path = uniquePath('lock-expire');
    const [a, b] = [await zk.connect(), await zk.connect()];
    const lease = await new Lock(a, path).acquire();
    const waiting = new Lock(b, path).acquire();
    waiting.catch(() => undefined); // it rejects while expireSession is still being awaited
    await waitUntil(async () => (await childrenOf(a, path)).length === 2, 'the waiter to queue');
    await expireSession(b);
    await expect(waiting).rejects.toBeInstanceOf(SessionExpiredError);
    expect(await childrenOf(a, path)).toEqual([lease.path.split('/').pop()]);
    const lost = nextEvent<[string]>(lease, 'lost');
    await expireSession(a);
    expect((await lost)[0]).toMatch(/suspended|lost/);
    expect(lease.signal.aborted).toBe(true);
    await lease.release(); // safe after lost
    await waitUntil(() => a.state === 'connected', 'a new session');
    expect(await childrenOf(a, path)).toEqual([]);
  });

  it('a lease is lost when its session closes, and release() after that resolves', async () => {
    const path = uniquePath('lock-close');
    const [a, b] = [await zk.connect(), await zk.connect()];
    const lease = await new Lock(a, path).acquire();
    const lost = nextEvent<[string]>(lease, 'lost');
    await a.close();
    expect((await lost)[0]).toBe('closed');
    await expect(lease.release()).resolves.toBeUndefined();
    const next = await new Lock(b, path).acquire({ timeoutMs: 10_000 });
    expect(next.fencingToken).toBeGreaterThan(lease.fencingToken);
    await next.release();
  });

  it('withLock releases when fn throws', async () => {
    const path = uniquePath('lock-with');
    const a = await zk.connect();
    const lock = new Lock(a, path);
    await expect(
      lock.withLock(async (lease) => {
        expect(lease.fencingToken).toBeGreaterThan(0n);
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await childrenOf(a, path)).toEqual([]);
    expect(await lock.withLock(() => 42)).toBe(42);
  });

  it("aborts a lease's signal and emits lost when the connection is suspended", async () => {
    const path = uniquePath('lock-susp');
    const a = await zk.connect({ sessionTimeoutMs: 4000 });
    const lease = await new Lock(a, path).acquire();
    expect(lease.signal.aborted).toBe(false);
    const lost = nextEvent<[string]>(lease, 'lost');
    await zk.server.pause();
    try {
      const [reason] = await lost;
      expect(reason).toBe('suspended');
      expect(lease.signal.aborted).toBe(true);
      expect(lease.isLost).toBe(true);
    } finally {
      await zk.server.resume();
    }
    await waitUntil(() => a.state === 'connected', 'the session to reconnect');
    await lease.release();
    expect(await childrenOf(a, path)).toEqual([]);
  });

  it('costs exactly 3 round trips uncontended: create, getChildren2, delete', async () => {
    const path = uniquePath('lock-rtt');
    const a = await zk.connect();
    await a.create(path); // a persistent parent: no container create, no reaping in between
    const ops: string[] = [];
    const target = a as unknown as { call: (op: string, ...rest: unknown[]) => Promise<unknown> };
    const original = target.call;
    target.call = function (this: unknown, op: string, ...rest: unknown[]) {
      ops.push(op);
      return original.call(this, op, ...rest);
    };
    try {
      const lease = await new Lock(a, path).acquire();
      await lease.release();
    } finally {
      target.call = original;
    }
    expect(ops).toEqual(['create', 'getChildren', 'delete']);
    await a.delete(path);
  });
});

describe('a stray node of our own create', () => {
  // A create whose connection dropped can be applied after its retry made our node (a paused
  // leader commits it late): the stray carries our `_c_<uuid>-` prefix. Ahead of us it would make
  // us wait on ourselves forever; the contender drops it from the order and deletes it.
  it('is taken out of the order and deleted, and we hold', async () => {
    const s = await zk.connect();
    const path = uniquePath('stray');
    const prefix = `${path}/_c_${randomUUID()}-lock-`;
    const stray = await s.create(prefix, '', { mode: 'ephemeral_sequential', createParents: true });
    const ours = await s.create(prefix, '', { mode: 'ephemeral_sequential' });
    const c = new Contender({ session: s, path, marker: 'lock-', markers: ['lock-'], predicate: firstN(1) });
    c.nodePath = ours;
    const held = await c.waitToHold(ours, new WaitScope(undefined, 'test'), true); // once: null would mean "wait on the stray"
    expect(held?.path).toBe(ours);
    await waitUntil(async () => (await s.exists(stray)) === null, 'the stray deleted');
    expect(await childrenOf(s, path)).toEqual([nodeName(ours)]);
    await c.remove();
  });

  it('orderWithoutStrays keeps foreign nodes and ours, reports the strays', () => {
    const mine = '_c_0b6c1a0e-6a8e-4b4e-9d55-1f1c6b2d3e4f-lock-0000000003';
    const strayName = '_c_0b6c1a0e-6a8e-4b4e-9d55-1f1c6b2d3e4f-lock-0000000001';
    const other = '_c_11111111-2222-3333-4444-555555555555-lock-0000000002';
    const strays: string[] = [];
    const ordered = orderWithoutStrays([mine, strayName, other, 'foreign'], ['lock-'], mine, (n) => strays.push(n));
    expect(ordered.map((e) => e.name)).toEqual([other, mine]);
    expect(strays).toEqual([strayName]);
  });
});
