// The session layer against a real server: every operation, error classes from real server
// answers, namespaces, protected create after a forced connection loss, guaranteed delete,
// suspended → reconnected, lost → new session, close semantics, and `signal` on every operation
// (nothing sent when already aborted, prompt rejection while suspended, an aborted protected
// create held on the wire leaves no node, no listener left on a long-lived signal).
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { getEventListeners, setMaxListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import {
  AbortedError,
  Acls,
  BadVersionError,
  ClosedError,
  ConnectTimeoutError,
  IndeterminateError,
  InvalidArgumentError,
  InvalidPathError,
  NoAuthError,
  NoNodeError,
  NodeExistsError,
  NotEmptyError,
  Perms,
  SharedValue,
  TimeoutError,
  stringCodec,
  type ZkError,
  ZkSession,
  fromBindingError,
  type WatchEvent,
} from '../src/index.js';
import { expireSession, startProxy } from '../src/testing/index.js';
import { WaitScope } from '../src/wait.js';
import { nextEvent, uniquePath, useServer, waitUntil } from './helpers.js';

const zk = useServer();

describe('operations', () => {
  it('create/get/set/exists/getChildren/delete round trip', async () => {
    const s = await zk.connect();
    const root = uniquePath('ops');
    expect(await s.create(root, 'hello')).toBe(root);
    const { data, stat } = await s.get(root);
    expect(data.toString()).toBe('hello');
    expect(stat.version).toBe(0);
    const st2 = await s.set(root, Buffer.from([1, 2, 3]), { version: 0 });
    expect(st2.version).toBe(1);
    expect((await s.get(root)).data).toEqual(Buffer.from([1, 2, 3]));
    expect(await s.exists(root)).not.toBeNull();
    expect(await s.exists(`${root}/missing`)).toBeNull();
    await s.create(`${root}/a`);
    await s.create(`${root}/b`, new Uint8Array([9]));
    expect((await s.getChildren(root)).sort()).toEqual(['a', 'b']);
    const withStat = await s.getChildrenWithStat(root);
    expect(withStat.children.sort()).toEqual(['a', 'b']);
    expect(withStat.stat.numChildren).toBe(2);
    expect(withStat.stat.pzxid).toBeGreaterThan(stat.czxid);
    await s.sync(root);
    await s.delete(root, { recursive: true });
    expect(await s.exists(root)).toBeNull();
  });

  it('creates every mode, sequential suffixes, missing parents as containers, TTL nodes', async () => {
    const s = await zk.connect();
    const root = uniquePath('modes');
    const eph = await s.create(`${root}/deep/eph`, 'e', { mode: 'ephemeral', createParents: true });
    expect((await s.exists(eph))!.ephemeralOwner).toBe(s.sessionId);
    const seq1 = await s.create(`${root}/deep/item-`, '', { mode: 'persistent_sequential' });
    const seq2 = await s.create(`${root}/deep/item-`, '', { mode: 'ephemeral_sequential' });
    expect(seq1).toMatch(/item-\d{10}$/);
    expect(Number(seq2.slice(-10))).toBe(Number(seq1.slice(-10)) + 1);
    await s.create(`${root}/c`, '', { mode: 'container' });
    const ttl = await s.create(`${root}/ttl`, 'x', { mode: 'persistent_ttl', ttlMs: 60_000 });
    expect(await s.exists(ttl)).not.toBeNull();
    // The parent made by createParents is a container: once empty, the server reaps it.
    await s.delete(eph);
    await s.delete(seq1);
    await s.delete(seq2);
    await waitUntil(async () => (await s.exists(`${root}/deep`)) === null, 'container parent reaped');
    await s.delete(root, { recursive: true });
  });

  it('maps real server answers to typed errors', async () => {
    const s = await zk.connect();
    const root = uniquePath('errs');
    await s.create(root, '');
    await s.create(`${root}/child`, '');
    const noNode = await s.get(`${root}/nope`).catch((e: unknown) => e);
    expect(noNode).toBeInstanceOf(NoNodeError);
    expect(noNode).toMatchObject({ code: 'NO_NODE', rc: -101, path: `${root}/nope`, op: 'get' });
    await expect(s.create(root, '')).rejects.toBeInstanceOf(NodeExistsError);
    await expect(s.set(root, 'x', { version: 7 })).rejects.toBeInstanceOf(BadVersionError);
    await expect(s.delete(root)).rejects.toBeInstanceOf(NotEmptyError);
    await expect(s.create(`${root}/x/y`, '')).rejects.toMatchObject({ code: 'NO_NODE' });
    const eph = await s.create(`${root}/eph`, '', { mode: 'ephemeral' });
    await expect(s.create(`${eph}/kid`, '')).rejects.toMatchObject({ code: 'NO_CHILDREN_FOR_EPHEMERALS' });
    await s.delete(root, { recursive: true });
  });

  it('parses both error formats of the binding', () => {
    expect(fromBindingError(new Error('-101 no node'), 'get', '/a')).toBeInstanceOf(NoNodeError);
    const sync = fromBindingError(new Error('fn: "a_exists" args: "/,false" result: "ZINVALIDSTATE -9"'), 'exists', '/');
    expect(sync).toMatchObject({ code: 'INVALID_STATE', rc: -9 });
    expect(fromBindingError(new Error('-7 operation timeout'), 'get')).toMatchObject({ code: 'OPERATION_TIMEOUT' });
    expect(fromBindingError(new Error('-116 zookeeper is closing'), 'get')).toBeInstanceOf(ClosedError);
    expect(fromBindingError(new Error('weird'), 'get')).toMatchObject({ code: 'UNKNOWN' });
  });

  it('one-shot watches fire once for node events and never for session events', async () => {
    const s = await zk.connect();
    const other = await zk.connect();
    const root = uniquePath('watch');
    const events: WatchEvent[] = [];
    expect(await s.exists(root, { watch: (e) => events.push(e) })).toBeNull();
    await other.create(root, 'a');
    await waitUntil(() => events.length === 1, 'created event');
    expect(events[0]).toEqual({ type: 'created', path: root });
    await s.get(root, { watch: (e) => events.push(e) });
    await s.getChildren(root, { watch: (e) => events.push(e) });
    await other.set(root, 'b');
    await other.create(`${root}/k`, '');
    await waitUntil(() => events.length === 3, 'changed + child events');
    expect(
      events
        .slice(1)
        .map((e) => e.type)
        .sort(),
    ).toEqual(['changed', 'child']);
    // A session event (connection drop and return) must not reach node watches.
    await s.get(root, { watch: (e) => events.push(e) });
    await zk.server.pause();
    await nextEvent(s, 'suspended');
    await zk.server.resume();
    await nextEvent(s, 'reconnected');
    await other.delete(`${root}/k`);
    await other.delete(root);
    await waitUntil(() => events.length === 4, 'deleted event after reconnect');
    expect(events[3]).toEqual({ type: 'deleted', path: root });
  });

  it('reads and writes ACLs; digest auth protects nodes', async () => {
    const owner = await zk.connect({ auth: { scheme: 'digest', credentials: 'alice:s3cret' } });
    const stranger = await zk.connect();
    const root = uniquePath('acl');
    await owner.create(root, 'mine', { acl: Acls.CREATOR_ALL });
    const { acl } = await owner.getAcl(root);
    expect(acl).toHaveLength(1);
    expect(acl[0]).toMatchObject({ scheme: 'digest', perms: Perms.ALL });
    expect(acl[0]!.id.startsWith('alice:')).toBe(true);
    const denied = await stranger.get(root).catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(NoAuthError);
    expect(String((denied as Error).message)).not.toContain('s3cret');
    await owner.setAcl(root, Acls.OPEN);
    expect((await stranger.get(root)).data.toString()).toBe('mine');
    await owner.delete(root);
  });
});

describe('request order', () => {
  it('requests go out in the order they were asked for, with or without a signal', async () => {
    const s = await zk.connect({ transport: 'client' });
    const root = uniquePath('order');
    await s.create(root, 'x');
    for (const signal of [undefined, new AbortController().signal]) {
      await s.create(`${root}/n`, 'v');
      const rec = recordRequests();
      // All asked for in one tick: ZooKeeper answers a session's requests in the order it sent them.
      const [read, , , , kids] = await Promise.allSettled([
        s.get(`${root}/n`, { signal }),
        s.delete(`${root}/n`, { signal }),
        s.create(`${root}/m`, '', { signal }),
        s.set(root, 'y', { signal }),
        s.getChildren(root, { signal }),
        s.multi([{ op: 'delete', path: `${root}/m` }], { signal }),
        s.exists(root, { signal }),
        s.sync(root, { signal }),
        s.getAcl(root, { signal }),
      ]);
      rec.stop();
      expect(rec.sent.map((r) => r.op)).toEqual(['get', 'delete', 'create', 'set', 'getChildren', 'multi', 'exists', 'sync', 'getAcl']);
      expect(read.status).toBe('fulfilled'); // the get went out before the delete
      expect(kids).toEqual({ status: 'fulfilled', value: ['m'] });
    }
    await s.delete(root, { recursive: true });
  });
});

describe('input validation (nothing is sent)', () => {
  it('rejects invalid paths with InvalidPathError naming the path', async () => {
    const s = await zk.connect();
    for (const bad of ['', 'relative', '/trailing/', '/a//b', '/a/./b', '/a/../b', '/nul\u0000', '/ctl\u0001']) {
      const err = await s.get(bad).catch((e: unknown) => e);
      expect(err, bad).toBeInstanceOf(InvalidPathError);
      expect((err as Error).message).toContain(JSON.stringify(bad));
    }
    await expect(s.exists(42 as unknown as string)).rejects.toBeInstanceOf(InvalidPathError);
  });

  it('rejects oversized data and bad option values', async () => {
    const s = await zk.connect();
    const big = Buffer.alloc(1024 * 1024 + 1);
    await expect(s.create(uniquePath('big'), big)).rejects.toThrow(/over ZooKeeper's limit/);
    await expect(s.create(uniquePath('m'), '', { mode: 'bogus' as never })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(s.create(uniquePath('t'), '', { mode: 'persistent_ttl' })).rejects.toThrow(/ttlMs/);
    await expect(s.set('/x', 'a', { version: 1.5 })).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it('validates connect options, naming the option', async () => {
    const cs = zk.server.connectString;
    await expect(ZkSession.connect(cs, { sessionTimeoutMs: -1 })).rejects.toThrow(/sessionTimeoutMs/);
    await expect(ZkSession.connect(cs, { connectTimeoutMs: Number.NaN })).rejects.toThrow(/connectTimeoutMs/);
    await expect(ZkSession.connect(cs, { namespace: 'rel' })).rejects.toThrow(/namespace/);
    await expect(ZkSession.connect(cs, { retry: { retries: -2 } })).rejects.toThrow(/retry\.retries/);
    await expect(ZkSession.connect(cs, { bogus: 1 } as never)).rejects.toThrow(/unknown option bogus/);
    await expect(ZkSession.connect('not a connect string')).rejects.toBeInstanceOf(InvalidArgumentError);
    const err = await ZkSession.connect(cs, { auth: { credentials: 5 as never } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidArgumentError);
  });

  it('times out connecting with a typed error naming the connect string', async () => {
    const err = await ZkSession.connect('127.0.0.1:1', { connectTimeoutMs: 300 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectTimeoutError);
    expect((err as Error).message).toContain('127.0.0.1:1');
  });
});

describe('namespace', () => {
  it('prefixes every path and strips it from results and watch events', async () => {
    const ns = uniquePath('ns');
    const s = await zk.connect({ namespace: ns });
    const raw = await zk.connect();
    expect(await raw.exists(ns)).not.toBeNull(); // created on connect
    const created = await s.create('/a/b', 'x', { createParents: true });
    expect(created).toBe('/a/b');
    expect((await raw.get(`${ns}/a/b`)).data.toString()).toBe('x');
    const seen: WatchEvent[] = [];
    await s.get('/a/b', { watch: (e) => seen.push(e) });
    await raw.set(`${ns}/a/b`, 'y');
    await waitUntil(() => seen.length === 1, 'namespaced watch');
    expect(seen[0]).toEqual({ type: 'changed', path: '/a/b' });
    expect(await s.getChildren('/')).toContain('a');
    await raw.delete(ns, { recursive: true });
  });
});

describe('protected create and guaranteed delete', () => {
  it('a protected create interrupted by a connection loss adopts its own node instead of making a second', async () => {
    const s = await zk.connect({ sessionTimeoutMs: 3000 });
    const other = await zk.connect({ sessionTimeoutMs: 3000 });
    const root = uniquePath('prot');
    await other.create(root, '');
    // Freeze the server, start the create (it stays in flight), let the client see the drop:
    // the request fails with a connection error although the server will apply it on resume.
    await zk.server.pause();
    const pending = s.create(`${root}/lock-`, 'd', { mode: 'ephemeral_sequential', protected: true });
    await nextEvent(s, 'suspended');
    await zk.server.resume();
    const path = await pending;
    expect(path).toMatch(/\/_c_[0-9a-f-]{36}-lock-\d{10}$/);
    const kids = await other.getChildren(root);
    expect(kids.filter((k) => k.includes('-lock-'))).toHaveLength(1); // no duplicate
    expect((await other.exists(path))!.ephemeralOwner).toBe(s.sessionId);
    await other.delete(root, { recursive: true });
  });

  it('a guaranteed delete hit by a connection loss completes after reconnect', async () => {
    const s = await zk.connect({ sessionTimeoutMs: 3000 });
    const other = await zk.connect({ sessionTimeoutMs: 3000 });
    const node = await s.create(uniquePath('gdel'), 'x');
    await zk.server.pause();
    const del = s.delete(node, { guaranteed: true });
    await nextEvent(s, 'suspended');
    await zk.server.resume();
    await del; // resolved: done, or handed to the background
    await waitUntil(async () => (await other.exists(node)) === null, 'node deleted by guaranteed delete');
    await waitUntil(() => s.pendingDeletes === 0, 'background delete finished');
  });
});

describe('connection states', () => {
  it('suspended → reconnected (same session) when the server stops and restarts', async () => {
    const s = await zk.connect({ sessionTimeoutMs: 20_000 });
    const states: string[] = [];
    s.on('state', (st) => states.push(st));
    const eph = await s.create(uniquePath('susp'), '', { mode: 'ephemeral' });
    const id = s.sessionId;
    const suspended = nextEvent(s, 'suspended');
    await zk.server.stop();
    await suspended;
    expect(s.state).toBe('suspended');
    const reconnected = nextEvent<[{ sessionId: string; newSession: boolean }]>(s, 'reconnected', 40_000);
    await zk.server.restart();
    const [info] = await reconnected;
    expect(info).toEqual({ sessionId: id, newSession: false });
    expect(states).toEqual(['suspended', 'connected']);
    expect(await s.exists(eph)).not.toBeNull(); // session survived, so did its ephemeral
    await s.delete(eph);
  });

  it('lost → a new session after a real server-side expiry; ephemerals are gone', async () => {
    const s = await zk.connect();
    const observer = await zk.connect();
    const eph = await s.create(uniquePath('exp'), '', { mode: 'ephemeral' });
    const oldId = s.sessionId;
    const lost = nextEvent<[{ sessionId: string; reason: string }]>(s, 'lost');
    // The expiry dance may first bounce the connection (reconnected, same session): keep them all.
    const reconnects: Array<{ sessionId: string; newSession: boolean }> = [];
    s.on('reconnected', (i) => reconnects.push(i));
    await expireSession(s);
    expect((await lost)[0]).toEqual({ sessionId: oldId, reason: 'expired' });
    const info = (await waitUntil(() => reconnects.find((r) => r.newSession), 'reconnected with a new session'))!;
    expect(info.sessionId).not.toBe(oldId);
    expect(s.sessionId).toBe(info.sessionId);
    expect(await observer.exists(eph)).toBeNull();
    // The new session works.
    const again = await s.create(eph, '', { mode: 'ephemeral' });
    expect((await observer.exists(again))!.ephemeralOwner).toBe(s.sessionId);
  });

  it('lost without reconnect when reconnectAfterLost is off: the session closes', async () => {
    const s = await zk.connect({ reconnectAfterLost: false });
    const closed = nextEvent(s, 'closed');
    await expireSession(s);
    await closed;
    expect(s.state).toBe('closed');
  });

  it('suspended longer than the session timeout is reported as lost, then a new session', async () => {
    const s = await zk.connect({ sessionTimeoutMs: 1200 });
    const oldId = s.sessionId;
    await zk.server.pause();
    const [info] = await nextEvent<[{ reason: string }]>(s, 'lost');
    expect(info.reason).toBe('timeout');
    const reconnected = nextEvent<[{ sessionId: string; newSession: boolean }]>(s, 'reconnected', 40_000);
    await zk.server.resume();
    const [back] = await reconnected;
    expect(back.newSession).toBe(true);
    expect(back.sessionId).not.toBe(oldId);
  });
});

describe('close', () => {
  it('is idempotent, fails later calls with CLOSED, settles pending waits, and works with await using', async () => {
    const s = await zk.connect();
    const closed = nextEvent(s, 'closed');
    const p1 = s.close();
    const p2 = s.close();
    expect(p1).toBe(p2);
    await p1;
    await closed;
    expect(s.state).toBe('closed');
    for (const call of [() => s.get('/'), () => s.create('/x'), () => s.getChildren('/'), () => s.delete('/x')]) {
      const err = await call().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ClosedError);
      expect((err as ZkError).code).toBe('CLOSED');
    }
    await expect(s.waitConnected()).rejects.toBeInstanceOf(ClosedError);

    let disposed: ZkSession | undefined;
    {
      await using t = await ZkSession.connect(zk.server.connectString);
      disposed = t;
      expect(t.state).toBe('connected');
    }
    expect(disposed.state).toBe('closed');
  });

  it('requests in flight at close fail with CLOSED and nothing hangs', async () => {
    const s = await ZkSession.connect(zk.server.connectString);
    const inflight = Array.from({ length: 50 }, () => s.exists('/').catch((e: unknown) => e));
    await s.close();
    const results = await Promise.all(inflight);
    for (const r of results) expect(r === null || (r as { czxid?: number }).czxid !== undefined || r instanceof ClosedError).toBe(true);
  });
});

/** Records the requests the TypeScript client puts on a connection (from its diagnostics channel). */
function recordRequests(onRequest?: (r: { op: string; path?: string }) => void): { sent: Array<{ op: string; path?: string }>; stop(): void } {
  const sent: Array<{ op: string; path?: string }> = [];
  const fn = (msg: unknown) => {
    const r = msg as { op: string; path?: string };
    sent.push(r);
    onRequest?.(r);
  };
  subscribe('zk-recipes:client:request', fn);
  return { sent, stop: () => unsubscribe('zk-recipes:client:request', fn) };
}

const WRITES = new Set(['create', 'delete', 'set', 'multi', 'setAcl']);

describe('signal', () => {
  it('an already-aborted signal rejects every operation with AbortedError and sends nothing', async () => {
    const s = await zk.connect({ transport: 'client' });
    const root = uniquePath('pre-abort');
    await s.create(root, 'keep');
    await s.create(`${root}/kid`, '');
    const signal = AbortSignal.abort();
    const calls: Record<string, () => Promise<unknown>> = {
      create: () => s.create(`${root}/new`, 'x', { signal }),
      protectedCreate: () => s.create(`${root}/p-`, 'x', { mode: 'ephemeral_sequential', protected: true, signal }),
      createWithStat: () => s.createWithStat(`${root}/new`, 'x', { signal }),
      get: () => s.get(root, { signal }),
      exists: () => s.exists(root, { signal }),
      getChildren: () => s.getChildren(root, { signal }),
      getChildrenWithStat: () => s.getChildrenWithStat(root, { signal }),
      set: () => s.set(root, 'changed', { version: -1, signal }),
      delete: () => s.delete(`${root}/kid`, { signal }),
      guaranteedDelete: () => s.delete(`${root}/kid`, { guaranteed: true, signal }),
      recursiveDelete: () => s.delete(root, { recursive: true, signal }),
      multi: () => s.multi([{ op: 'create', path: `${root}/m` }], { signal }),
      sync: () => s.sync(root, { signal }),
      getAcl: () => s.getAcl(root, { signal }),
      setAcl: () => s.setAcl(root, Acls.READ_ONLY, { signal }),
      addWatch: () => s.addWatch(root, () => undefined, { signal }),
      waitConnected: () => s.waitConnected({ signal }),
      getAllChildrenNumber: () => s.getAllChildrenNumber(root, { signal }),
      getEphemerals: () => s.getEphemerals('/', { signal }),
      whoAmI: () => s.whoAmI({ signal }),
    };
    const rec = recordRequests();
    try {
      for (const [name, call] of Object.entries(calls)) {
        const err = await call().catch((e: unknown) => e);
        expect(err, name).toBeInstanceOf(AbortedError);
        expect((err as ZkError).code, name).toBe('ABORTED');
      }
    } finally {
      rec.stop();
    }
    expect(rec.sent).toEqual([]);
    expect(s.pendingDeletes).toBe(0);
    expect((await s.get(root)).data.toString()).toBe('keep');
    expect((await s.getChildren(root)).sort()).toEqual(['kid']);
    expect((await s.getAcl(root)).acl).toEqual([...Acls.OPEN]);
    await s.delete(root, { recursive: true });
  });

  it("a signal aborted with one of our errors (a WaitScope's TimeoutError) rejects with that error", async () => {
    const s = await zk.connect();
    const scope = new WaitScope({ timeoutMs: 0 }, 'recipe.op', '/x');
    await waitUntil(() => scope.signal.aborted, 'the scope timed out');
    const reason = scope.signal.reason as unknown;
    expect(reason).toBeInstanceOf(TimeoutError);
    await expect(s.get('/', { signal: scope.signal })).rejects.toBe(reason);
    await expect(s.create(uniquePath('t'), '', { signal: scope.signal })).rejects.toBe(reason);
    scope.dispose();
    const plain = await s.get('/', { signal: AbortSignal.abort(new Error('why')) }).catch((e: unknown) => e);
    expect(plain).toBeInstanceOf(AbortedError);
    expect((plain as Error).cause).toEqual(new Error('why'));
  });

  it('rejects a signal that is not an AbortSignal with InvalidArgumentError, before anything is sent', async () => {
    const s = await zk.connect({ transport: 'client' });
    const path = uniquePath('bad-signal');
    const bad = { signal: { aborted: false } as never };
    const rec = recordRequests();
    try {
      for (const call of [
        () => s.create(path, '', bad),
        () => s.get('/', bad),
        () => s.set(path, 'x', bad),
        () => s.delete(path, bad),
        () => s.multi([{ op: 'create', path }], bad),
        () => s.sync('/', bad),
        () => s.addWatch('/', () => undefined, bad),
        () => s.waitConnected(bad),
        () => s.getAcl('/', bad),
        () => s.setAcl(path, Acls.OPEN, bad),
      ]) {
        const err = await call().catch((e: unknown) => e);
        expect(err).toBeInstanceOf(InvalidArgumentError);
        expect((err as Error).message).toMatch(/signal must be an AbortSignal/);
      }
    } finally {
      rec.stop();
    }
    expect(rec.sent).toEqual([]);
    expect(await s.exists(path)).toBeNull();
  });

  it('aborting while suspended rejects at once, and nothing is written after the connection is back', async () => {
    const proxy = await startProxy(zk.server.connectString);
    const s = await ZkSession.connect(proxy.connectString, { transport: 'client', sessionTimeoutMs: 20_000 });
    try {
      const observer = await zk.connect();
      const root = uniquePath('susp-abort');
      await observer.create(root, 'before');
      await observer.create(`${root}/victim`, '');
      proxy.partition();
      proxy.dropConnections();
      await nextEvent(s, 'suspended');
      const ctl = new AbortController();
      const scope = new WaitScope({ timeoutMs: 300 }, 'recipe.op', root);
      const pending = [
        s.create(`${root}/plain`, 'x', { signal: ctl.signal }),
        s.create(`${root}/lock-`, 'x', { mode: 'ephemeral_sequential', protected: true, signal: ctl.signal }),
        s.set(root, 'after', { signal: ctl.signal }),
        s.delete(`${root}/victim`, { signal: ctl.signal }),
        s.multi([{ op: 'create', path: `${root}/m` }], { signal: ctl.signal }),
        s.getChildren(root, { signal: ctl.signal }),
        s.waitConnected({ signal: ctl.signal, timeoutMs: 60_000 }),
      ].map((p) =>
        p.then(
          () => 'resolved',
          (e: unknown) => e,
        ),
      );
      const timedOut = s.create(`${root}/timed`, 'x', { signal: scope.signal }).catch((e: unknown) => e);
      expect(await timedOut).toBeInstanceOf(TimeoutError); // the scope's own error, while still partitioned
      scope.dispose();
      const abortedAt = Date.now();
      ctl.abort();
      const results = await Promise.all(pending); // all settle while the proxy is still partitioned
      expect(Date.now() - abortedAt).toBeLessThan(1000);
      for (const r of results) expect(r).toBeInstanceOf(AbortedError);
      expect(getEventListeners(ctl.signal, 'abort')).toHaveLength(0);
      const rec = recordRequests();
      proxy.heal();
      await nextEvent(s, 'reconnected', 40_000);
      await s.sync(root); // anything still queued on this session's connection would be applied before this
      await waitUntil(() => s.pendingDeletes === 0, 'background cleanup finished');
      rec.stop();
      expect(rec.sent.filter((r) => WRITES.has(r.op) && r.path?.startsWith(root))).toEqual([]);
      expect((await observer.getChildren(root)).sort()).toEqual(['victim']);
      expect((await observer.get(root)).data.toString()).toBe('before');
      await observer.delete(root, { recursive: true });
    } finally {
      await s.close();
      await proxy.close();
    }
  });
});

describe('signal: a protected create aborted on the wire leaves nothing behind', () => {
  /**
   * Connects `s` through a proxy and an observer directly; starts a protected ephemeral-sequential
   * create with a signal, freezes the proxy the moment the create request goes out (so it is held
   * on the wire, not yet seen by the server), and aborts.
   */
  async function abortHeldCreate() {
    const proxy = await startProxy(zk.server.connectString);
    const s = await ZkSession.connect(proxy.connectString, { transport: 'client', sessionTimeoutMs: 20_000 });
    const observer = await zk.connect({ transport: 'client' });
    const root = uniquePath('wire-abort');
    await observer.create(root, '');
    const events: WatchEvent[] = [];
    const watch = await observer.addWatch(root, (e) => events.push(e), { recursive: true });
    let held = false;
    const rec = recordRequests((r) => {
      if (r.op === 'create' && r.path?.startsWith(`${root}/`) && !held) {
        held = true;
        proxy.freeze();
      }
    });
    const ctl = new AbortController();
    const pending = s.create(`${root}/lock-`, 'd', { mode: 'ephemeral_sequential', protected: true, signal: ctl.signal }).catch((e: unknown) => e);
    await waitUntil(() => held, 'the create request went out');
    rec.stop();
    const abortedAt = Date.now();
    ctl.abort();
    const err = await pending;
    expect(err).toBeInstanceOf(AbortedError);
    expect(Date.now() - abortedAt).toBeLessThan(1000);
    expect(await observer.getChildren(root)).toEqual([]); // held: the server has not seen the create yet
    const cleanup = async () => {
      await watch.remove();
      await s.close();
      await proxy.close();
      await observer.delete(root, { recursive: true });
    };
    return { proxy, s, observer, root, events, cleanup };
  }

  const created = (events: WatchEvent[]) => events.find((e) => e.type === 'created' && /\/_c_[0-9a-f-]{36}-lock-\d{10}$/.test(e.path));

  it('the late reply names the node, and the session deletes it', async () => {
    const { proxy, s, observer, root, events, cleanup } = await abortHeldCreate();
    try {
      const sessionId = s.sessionId;
      proxy.thaw();
      const node = (await waitUntil(() => created(events), 'the server applied the held create'))!.path;
      await waitUntil(() => events.some((e) => e.type === 'deleted' && e.path === node), 'the session deleted the node');
      await waitUntil(async () => (await observer.getChildren(root)).length === 0, 'the parent is empty');
      await waitUntil(() => s.pendingDeletes === 0, 'the background cleanup finished');
      expect(s.sessionId).toBe(sessionId); // deleted by the cleanup, not by the session's end
      expect(s.state).toBe('connected');
    } finally {
      await cleanup();
    }
  });

  it('when the reply is lost with the connection, the session finds the node by its marker after reconnecting and deletes it', async () => {
    const { proxy, s, observer, root, events, cleanup } = await abortHeldCreate();
    try {
      const sessionId = s.sessionId;
      const reconnected = nextEvent<[{ newSession: boolean }]>(s, 'reconnected', 40_000);
      proxy.corruptNext('toClient', 'truncate'); // the create reaches the server; the connection dies on the way back
      proxy.thaw();
      const node = (await waitUntil(() => created(events), 'the server applied the held create'))!.path;
      expect((await reconnected)[0].newSession).toBe(false);
      await waitUntil(() => events.some((e) => e.type === 'deleted' && e.path === node), 'the session deleted the node');
      await waitUntil(async () => (await observer.getChildren(root)).length === 0, 'the parent is empty');
      await waitUntil(() => s.pendingDeletes === 0, 'the background cleanup finished');
      expect(s.sessionId).toBe(sessionId);
    } finally {
      await cleanup();
    }
  });
});

describe('signal: listeners', () => {
  it('10 000 calls with one long-lived signal leave no listener on it', async () => {
    const s = await zk.connect();
    const root = uniquePath('listeners');
    await s.create(root, 'x');
    const ctl = new AbortController();
    const signal = ctl.signal;
    setMaxListeners(200, signal); // 100 calls in flight at once, each with its listener
    const calls: Array<() => Promise<unknown>> = [
      () => s.get(root, { signal }),
      () => s.exists(root, { signal }),
      () => s.set(root, 'y', { signal }),
      () => s.getChildren(root, { signal }),
      () => s.sync(root, { signal }),
      () => s.waitConnected({ signal }),
      () => s.create(`${root}/n-`, '', { mode: 'ephemeral_sequential', protected: true, signal }),
      () => s.multi([{ op: 'check', path: root, version: -1 }], { signal }).catch(() => undefined),
    ];
    let most = 0;
    for (let batch = 0; batch < 100; batch++) {
      const inFlight = Array.from({ length: 100 }, (_, i) => calls[(batch + i) % calls.length]!());
      most = Math.max(most, getEventListeners(signal, 'abort').length);
      await Promise.all(inFlight);
      expect(getEventListeners(signal, 'abort')).toHaveLength(0);
    }
    expect(most).toBeGreaterThan(0); // the calls did listen while in flight
    expect(most).toBeLessThanOrEqual(100);
    await s.delete(root, { recursive: true });
  });
});

describe('a conditional write whose reply a connection loss cut', () => {
  // Found by the soak's linearizability check: the session retried the write, the retry met
  // BAD_VERSION (the first attempt had been applied) and the caller heard "not applied".
  it('set with a version: IndeterminateError (cause: the connection loss), never BadVersionError; the write did land', async () => {
    const w = await zk.connect();
    const path = uniquePath('cas');
    await w.create(path, 'v0');
    const proxy = await startProxy(zk.server.connectString);
    try {
      const s = await ZkSession.connect(proxy.connectString, { sessionTimeoutMs: 10_000 });
      const value = new SharedValue<string>(s, path, { codec: stringCodec, seed: '' });
      proxy.corruptNext('toClient', 'truncate'); // the next reply is cut: this write's
      const err = await value.trySetValue({ version: 0 }, 'v1').then(
        (ok) => ok,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(IndeterminateError);
      expect(err).toMatchObject({ code: 'INDETERMINATE', op: 'set', path });
      expect((err as IndeterminateError).cause).toMatchObject({ code: 'CONNECTION_LOSS' });
      const node = await w.get(path);
      expect([node.data.toString(), node.stat.version]).toEqual(['v1', 1]); // it was applied
      // A version that is really stale still says so, as BadVersionError (no connection loss on the way).
      await expect(s.set(path, 'v2', { version: 0 })).rejects.toBeInstanceOf(BadVersionError);
      expect(await value.trySetValue({ version: 0 }, 'v2')).toBe(false);
      await s.close();
    } finally {
      await proxy.close();
    }
  });
});

describe('calls asked while disconnected', () => {
  // Found by the hostile-wire queue soak: a create asked while disconnected failed at once and only
  // then queued for the connection, so a read asked after it went out first.
  it('go out in the order they were asked once the connection is back: a create, then a read of it', async () => {
    const proxy = await startProxy(zk.server.connectString);
    try {
      const s = await ZkSession.connect(proxy.connectString, { sessionTimeoutMs: 20_000 });
      const path = uniquePath('order');
      const suspended = nextEvent(s, 'suspended', 20_000);
      proxy.freeze();
      proxy.dropConnections();
      await suspended;
      const created = s.create(path, 'x');
      const read = s.get(path).then(
        (r) => r.data.toString(),
        (e: unknown) => e,
      );
      proxy.thaw();
      expect(await created).toBe(path);
      expect(await read).toBe('x');
      await s.close();
    } finally {
      await proxy.close();
    }
  });
});
