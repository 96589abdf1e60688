// Conformance of the wire client against real ZooKeeper 3.8 servers: every session operation and
// error code on both transports (the TypeScript client and the native binding), what only the
// TypeScript client can do (multi, ACL at create, persistent watches, whoAmI, getEphemerals,
// getAllChildrenNumber), and the ZkClient's session semantics: notification-before-reply order,
// lastZxidSeen, close, auth replay and AUTH_FAILED, watches across a reconnect, expiry, watch
// registration, and a session moving between the servers of an ensemble.
import { performance } from 'node:perf_hooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  Acls,
  AuthFailedError,
  BadVersionError,
  ClosedError,
  NoAuthError,
  NoChildrenForEphemeralsError,
  NoNodeError,
  NodeExistsError,
  NotEmptyError,
  Perms,
  SessionExpiredError,
  UnsupportedError,
  ZkError,
  ZkSession,
  type SessionOptions,
  type WatchEvent,
} from '../src/index.js';
import { ZkClient, type ClientOptions } from '../src/client/client.js';
import type { ClientWatchEvent } from '../src/client/watches.js';
import {
  expireSession,
  fourLetterWord,
  startEnsemble,
  startProxy,
  startZooKeeper,
  type ZkProxy,
  type ZooKeeperEnsemble,
  type ZooKeeperServer,
} from '../src/testing/index.js';
import { nextEvent, spawnClean, uniquePath, waitUntil } from './helpers.js';

let server: ZooKeeperServer;
beforeAll(async () => {
  server = await startZooKeeper();
});
afterAll(async () => {
  await server?.close();
});

/** Everything a test opened, closed after it (last first). */
const closers: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const f of closers.splice(0).reverse()) await f().catch(() => undefined);
});

type TransportName = 'client' | 'native';

async function connect(transport: TransportName, opts: SessionOptions = {}, cs = server.connectString): Promise<ZkSession> {
  const s = await ZkSession.connect(cs, { sessionTimeoutMs: 10_000, connectTimeoutMs: 20_000, transport, ...opts });
  closers.push(() => s.close());
  return s;
}

/** A started ZkClient, resolved once connected. */
async function startClient(cs: string, opts: ClientOptions = {}): Promise<ZkClient> {
  const c = new ZkClient(cs, { sessionTimeoutMs: 10_000, ...opts });
  closers.push(() => c.close());
  const up = nextEvent(c, 'connected', 20_000);
  c.start();
  await up;
  return c;
}

async function proxyTo(target: string): Promise<ZkProxy> {
  const p = await startProxy(target);
  closers.push(() => p.close());
  return p;
}

/** The error a promise rejects with (fails the test if it resolves). */
async function failure(p: Promise<unknown>): Promise<ZkError> {
  let value: unknown;
  try {
    value = await p;
  } catch (err) {
    expect(err).toBeInstanceOf(ZkError);
    return err as ZkError;
  }
  throw new Error(`expected a rejection, got ${JSON.stringify(value)}`);
}

const OPEN = Acls.OPEN;
const EMPTY = Buffer.alloc(0);
const sleepUntil = (t: number) => new Promise((r) => setTimeout(r, Math.max(0, t - performance.now())));

/**
 * Waits until every notification the server sent `watcher` before now has been delivered: sets a
 * one-shot exist watch on a fresh path, creates the path from `writer`, waits for that event.
 * Notifications to one session come in zxid order, so anything sent earlier has arrived by then.
 */
let fences = 0;
async function fence(watcher: ZkSession, writer: ZkSession, root: string): Promise<void> {
  const p = `${root}-fence-${fences++}`; // as the server sees it
  const rel = (s: ZkSession) => (s.namespace ? p.slice(s.namespace.length) : p);
  let fired = false;
  expect(
    await watcher.exists(rel(watcher), {
      watch: () => {
        fired = true;
      },
    }),
  ).toBeNull();
  await writer.create(rel(writer), '', { mode: 'ephemeral' });
  await waitUntil(() => fired, `fence watch on ${p}`);
}

/** Same for ZkClients. */
async function clientFence(watcher: ZkClient, writer: ZkClient, root: string): Promise<void> {
  const p = `${root}-fence-${fences++}`;
  let fired = false;
  expect(
    await watcher.exists(p, () => {
      fired = true;
    }),
  ).toBeNull();
  await writer.create(p, EMPTY, { acl: OPEN, flags: 1 });
  await waitUntil(() => fired, `fence watch on ${p}`);
}

/** `wchp`: watched path → session ids (hex, without 0x) holding a watch there. */
async function serverWatches(port: number): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  let current: string | undefined;
  for (const line of (await fourLetterWord('127.0.0.1', port, 'wchp', 5000)).split('\n')) {
    if (line.startsWith('/')) {
      current = line.trim();
      out.set(current, []);
    } else if (current && line.trim().startsWith('0x')) out.get(current)!.push(line.trim().slice(2));
  }
  return out;
}

// ---- session level, both transports ------------------------------------------------------------

/**
 * Both transports, unless `ZK_CONFORMANCE_TRANSPORTS` names them: the Node 22/24 CI stage runs
 * `client` only (the native binding in node_modules is built for the Node that installed it).
 */
const TRANSPORTS = (process.env['ZK_CONFORMANCE_TRANSPORTS'] ?? 'client,native').split(',').map((t) => t.trim()) as TransportName[];

describe.each(TRANSPORTS)('session operations on the %s transport', (transport) => {
  it('creates nodes in every mode: ephemeral owner, sequence suffixes, containers and TTL nodes reaped', async () => {
    const s = await connect(transport);
    const root = uniquePath(`modes-${transport}`);
    await s.create(root, '');
    const p = await s.createWithStat(`${root}/p`, 'p');
    expect(p.path).toBe(`${root}/p`);
    expect(p.stat.ephemeralOwner).toBe('0');
    const e = await s.createWithStat(`${root}/e`, 'e', { mode: 'ephemeral' });
    expect(e.stat.ephemeralOwner).toBe(s.sessionId);
    const ps = await s.create(`${root}/ps-`, '', { mode: 'persistent_sequential' });
    const es = await s.create(`${root}/es-`, '', { mode: 'ephemeral_sequential' });
    expect(ps).toMatch(new RegExp(`^${root}/ps-\\d{10}$`));
    expect(es).toMatch(new RegExp(`^${root}/es-\\d{10}$`));
    // The parent's cversion numbers them: p, e, ps → 2, es → 3.
    expect(Number(ps.slice(-10))).toBe(2);
    expect(Number(es.slice(-10))).toBe(3);
    expect((await s.exists(ps))!.ephemeralOwner).toBe('0');
    expect((await s.exists(es))!.ephemeralOwner).toBe(s.sessionId);

    // A container is reaped once it had a child and has none; a TTL node once its TTL passed.
    // The control, a persistent node through the same life, stays.
    await s.create(`${root}/c`, '', { mode: 'container' });
    await s.create(`${root}/c/kid`, '');
    await s.create(`${root}/control`, '');
    await s.create(`${root}/control/kid`, '');
    await s.create(`${root}/ttl`, 't', { mode: 'persistent_ttl', ttlMs: 500 });
    const sttl = await s.create(`${root}/sttl-`, 't', { mode: 'persistent_sequential_ttl', ttlMs: 500 });
    expect(sttl).toMatch(new RegExp(`^${root}/sttl-\\d{10}$`));
    await s.delete(`${root}/c/kid`);
    await s.delete(`${root}/control/kid`);
    await waitUntil(async () => (await s.exists(`${root}/c`)) === null, 'the empty container to be reaped');
    await waitUntil(async () => (await s.exists(`${root}/ttl`)) === null && (await s.exists(sttl)) === null, 'the TTL nodes to be reaped');
    expect(await s.exists(`${root}/control`)).not.toBeNull();
    expect(await s.exists(`${root}/p`)).not.toBeNull();
    await s.delete(root, { recursive: true });
  });

  it('createWithStat returns the stat exists reads', async () => {
    const s = await connect(transport);
    const root = uniquePath(`cws-${transport}`);
    await s.create(root, '');
    for (const mode of ['persistent', 'ephemeral', 'persistent_sequential'] as const) {
      const { path, stat } = await s.createWithStat(`${root}/${mode}`, 'abc', { mode });
      expect(stat).toEqual(await s.exists(path));
      expect(stat).toMatchObject({ version: 0, cversion: 0, aversion: 0, dataLength: 3, numChildren: 0 });
      expect(stat.mzxid).toBe(stat.czxid);
      expect(stat.pzxid).toBe(stat.czxid);
      expect(stat.mtime).toEqual(stat.ctime);
    }
    await s.delete(root, { recursive: true });
  });

  it('get/set with versions: a stale version is BadVersionError and changes nothing', async () => {
    const s = await connect(transport);
    const path = uniquePath(`gs-${transport}`);
    const created = await s.createWithStat(path, 'v0');
    const got = await s.get(path);
    expect(got.data.toString()).toBe('v0');
    expect(got.stat).toEqual(created.stat);
    const st1 = await s.set(path, Buffer.from('v1'), { version: 0 });
    expect(st1).toMatchObject({ version: 1, dataLength: 2, czxid: created.stat.czxid });
    expect(st1.mzxid).toBeGreaterThan(created.stat.mzxid);
    const stale = await failure(s.set(path, 'nope', { version: 0 }));
    expect(stale).toBeInstanceOf(BadVersionError);
    expect(stale).toMatchObject({ code: 'BAD_VERSION', rc: -103, path, op: 'set' });
    const after = await s.get(path);
    expect(after.data.toString()).toBe('v1');
    expect(after.stat).toEqual(st1);
    expect((await s.set(path, new Uint8Array([7]))).version).toBe(2); // -1: any version
    const missing = await failure(s.get(`${path}/missing`));
    expect(missing).toBeInstanceOf(NoNodeError);
    expect(missing).toMatchObject({ code: 'NO_NODE', rc: -101, path: `${path}/missing` });
    expect(await failure(s.set(`${path}/missing`, 'x'))).toBeInstanceOf(NoNodeError);
    await s.delete(path);
  });

  it('exists, getChildren and getChildrenWithStat', async () => {
    const s = await connect(transport);
    const root = uniquePath(`ls-${transport}`);
    expect(await s.exists(root)).toBeNull();
    const r = await s.createWithStat(root, '');
    expect(await s.exists(root)).toEqual(r.stat);
    expect(await s.getChildren(root)).toEqual([]);
    await s.create(`${root}/b`, '');
    await s.create(`${root}/a`, '');
    const last = await s.createWithStat(`${root}/c`, '', { mode: 'ephemeral' });
    expect((await s.getChildren(root)).sort()).toEqual(['a', 'b', 'c']);
    const ws = await s.getChildrenWithStat(root);
    expect(ws.children.sort()).toEqual(['a', 'b', 'c']);
    expect(ws.stat).toMatchObject({ numChildren: 3, cversion: 3, czxid: r.stat.czxid, version: 0 });
    expect(ws.stat.pzxid).toBe(last.stat.czxid); // the last child change
    expect(ws.stat).toEqual(await s.exists(root));
    expect(await failure(s.getChildren(`${root}/none`))).toMatchObject({ code: 'NO_NODE', rc: -101 });
    await s.delete(root, { recursive: true });
  });

  it('delete: NoNodeError, NotEmptyError, BadVersionError, then the right version deletes', async () => {
    const s = await connect(transport);
    const root = uniquePath(`del-${transport}`);
    await s.create(root, '');
    await s.create(`${root}/kid`, '');
    const noNode = await failure(s.delete(`${root}/none`));
    expect(noNode).toBeInstanceOf(NoNodeError);
    expect(noNode).toMatchObject({ code: 'NO_NODE', rc: -101, path: `${root}/none`, op: 'delete' });
    const notEmpty = await failure(s.delete(root));
    expect(notEmpty).toBeInstanceOf(NotEmptyError);
    expect(notEmpty).toMatchObject({ code: 'NOT_EMPTY', rc: -111, path: root });
    await s.set(`${root}/kid`, 'x'); // version 1
    const bad = await failure(s.delete(`${root}/kid`, { version: 0 }));
    expect(bad).toBeInstanceOf(BadVersionError);
    expect(bad).toMatchObject({ code: 'BAD_VERSION', rc: -103, path: `${root}/kid` });
    expect(await s.exists(`${root}/kid`)).not.toBeNull();
    await s.delete(`${root}/kid`, { version: 1 });
    expect(await s.exists(`${root}/kid`)).toBeNull();
    await s.delete(root);
    expect(await s.exists(root)).toBeNull();
  });

  it('getAcl/setAcl: ACL versions, and the ACL is enforced', async () => {
    const s = await connect(transport);
    const path = uniquePath(`acl-${transport}`);
    await s.create(path, 'data');
    const initial = await s.getAcl(path);
    expect(initial.acl).toEqual([{ perms: Perms.ALL, scheme: 'world', id: 'anyone' }]);
    expect(initial.stat.aversion).toBe(0);
    const stale = await failure(s.setAcl(path, Acls.READ_ONLY, { version: 3 }));
    expect(stale).toBeInstanceOf(BadVersionError);
    expect(stale).toMatchObject({ code: 'BAD_VERSION', rc: -103 });
    await s.setAcl(path, Acls.READ_ONLY, { version: 0 });
    const now = await s.getAcl(path);
    expect(now.acl).toEqual([{ perms: Perms.READ, scheme: 'world', id: 'anyone' }]);
    expect(now.stat.aversion).toBe(1);
    expect(now.stat.version).toBe(0); // data untouched
    expect((await s.get(path)).data.toString()).toBe('data');
    const denied = await failure(s.set(path, 'x'));
    expect(denied).toBeInstanceOf(NoAuthError);
    expect(denied).toMatchObject({ code: 'NO_AUTH', rc: -102, path });
    expect(await failure(s.setAcl(path, Acls.OPEN))).toBeInstanceOf(NoAuthError); // no ADMIN
    // On the native transport a failing getAcl kills the process (see the test below).
    if (transport === 'client') expect(await failure(s.getAcl(`${path}-none`))).toBeInstanceOf(NoNodeError);
    await s.delete(path); // DELETE is the parent's permission
  });

  it('getAcl of a missing node rejects with NoNodeError (and the process lives)', async () => {
    const missing = uniquePath('acl-missing');
    if (transport === 'client') {
      const s = await connect('client');
      expect(await failure(s.getAcl(missing))).toMatchObject({ code: 'NO_NODE', rc: -101, path: missing });
      return;
    }
    // In a child process: on the native transport this call crashes the process it runs in.
    const child = spawnClean([process.execPath, '--import', 'tsx', 'test/fixtures/client-native-call.ts', server.connectString, 'getAcl', missing], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
    });
    const [code, signal] = await nextEvent<[number | null, NodeJS.Signals | null]>(child, 'exit', 30_000);
    expect({ code, signal, stderr: err.slice(0, 500) }).toEqual({ code: 0, signal: null, stderr: '' });
    expect(JSON.parse(out.trim())).toEqual({ error: 'NO_NODE' });
  });

  it('sync, then a read sees what another session wrote', async () => {
    const s = await connect(transport);
    const other = await connect(transport);
    const path = uniquePath(`sync-${transport}`);
    const st = await other.createWithStat(path, 'fresh');
    await s.sync(path);
    const got = await s.get(path);
    expect(got.data.toString()).toBe('fresh');
    expect(got.stat.mzxid).toBe(st.stat.mzxid);
    await s.sync('/');
    await other.delete(path);
  });

  it('NodeExistsError and NoChildrenForEphemeralsError', async () => {
    const s = await connect(transport);
    const root = uniquePath(`exists-${transport}`);
    await s.create(root, 'first');
    const dup = await failure(s.create(root, 'second'));
    expect(dup).toBeInstanceOf(NodeExistsError);
    expect(dup).toMatchObject({ code: 'NODE_EXISTS', rc: -110, path: root, op: 'create' });
    expect((await s.get(root)).data.toString()).toBe('first');
    const eph = await s.create(`${root}/eph`, '', { mode: 'ephemeral' });
    const kid = await failure(s.create(`${eph}/kid`, ''));
    expect(kid).toBeInstanceOf(NoChildrenForEphemeralsError);
    expect(kid).toMatchObject({ code: 'NO_CHILDREN_FOR_EPHEMERALS', rc: -108 });
    const orphan = await failure(s.create(`${root}/no/parent`, ''));
    expect(orphan).toBeInstanceOf(NoNodeError);
    await s.delete(root, { recursive: true });
  });

  it('one-shot watches (data, exist on a missing node, child) fire exactly once with the right type and path', async () => {
    const s = await connect(transport);
    const other = await connect(transport);
    const root = uniquePath(`watch-${transport}`);
    await other.create(root, '');
    const data: WatchEvent[] = [];
    const exist: WatchEvent[] = [];
    const child: WatchEvent[] = [];
    const gone: WatchEvent[] = [];
    await other.create(`${root}/d`, 'v0');
    await other.create(`${root}/x`, '');
    expect((await s.get(`${root}/d`, { watch: (e) => data.push(e) })).data.toString()).toBe('v0');
    expect(await s.exists(`${root}/new`, { watch: (e) => exist.push(e) })).toBeNull();
    expect(await s.getChildren(root, { watch: (e) => child.push(e) })).toEqual(expect.arrayContaining(['d', 'x']));
    await s.get(`${root}/x`, { watch: (e) => gone.push(e) });

    // Two changes each: a one-shot watch hears the first only.
    await other.set(`${root}/d`, 'v1');
    await other.set(`${root}/d`, 'v2');
    await other.create(`${root}/new`, '');
    await other.set(`${root}/new`, 'changed');
    await other.create(`${root}/k1`, '');
    await other.create(`${root}/k2`, '');
    await other.delete(`${root}/x`);
    await fence(s, other, root);
    expect(data).toEqual([{ type: 'changed', path: `${root}/d` }]);
    expect(exist).toEqual([{ type: 'created', path: `${root}/new` }]);
    expect(child).toEqual([{ type: 'child', path: root }]);
    expect(gone).toEqual([{ type: 'deleted', path: `${root}/x` }]);
    await other.delete(root, { recursive: true });
  });

  it('with a namespace, paths and watch events come back without it', async () => {
    const ns = uniquePath(`ns-${transport}`);
    const s = await connect(transport, { namespace: ns });
    const raw = await connect(transport);
    expect(await raw.exists(ns)).not.toBeNull();
    expect(await s.create('/a', 'x')).toBe('/a');
    const seq = await s.create('/a/s-', '', { mode: 'ephemeral_sequential' });
    expect(seq).toMatch(/^\/a\/s-\d{10}$/);
    expect((await raw.exists(`${ns}${seq}`))!.ephemeralOwner).toBe(s.sessionId);
    expect((await raw.get(`${ns}/a`)).data.toString()).toBe('x');
    expect(await s.getChildren('/')).toEqual(['a']);
    const events: WatchEvent[] = [];
    await s.get('/a', { watch: (e) => events.push(e) });
    await s.exists('/b', { watch: (e) => events.push(e) });
    await s.getChildren('/a', { watch: (e) => events.push(e) });
    await raw.set(`${ns}/a`, 'y');
    await raw.create(`${ns}/b`, '');
    await raw.create(`${ns}/a/k`, '');
    await waitUntil(() => events.length >= 3, 'three namespaced watch events');
    expect(events).toEqual([
      { type: 'changed', path: '/a' },
      { type: 'created', path: '/b' },
      { type: 'child', path: '/a' },
    ]);
    const err = await failure(s.get('/missing'));
    expect(err).toMatchObject({ code: 'NO_NODE', path: '/missing' });
    await raw.delete(ns, { recursive: true });
  });

  it("CREATOR_ALL with digest auth: the node's ACL is the creator's digest, others get NoAuthError", async () => {
    const owner = await connect(transport, { auth: { scheme: 'digest', credentials: 'alice:s3cret' } });
    const stranger = await connect(transport);
    const path = uniquePath(`creator-${transport}`);
    const created = await owner.createWithStat(path, 'mine', { acl: Acls.CREATOR_ALL });
    const { acl, stat } = await owner.getAcl(path);
    expect(acl).toHaveLength(1);
    expect(acl[0]).toMatchObject({ scheme: 'digest', perms: Perms.ALL });
    expect(acl[0]!.id).toMatch(/^alice:[A-Za-z0-9+/]{27}=$/);
    // The TypeScript client sends the ACL with the create (ACL version 0); the native one
    // creates the node open and sets the ACL right after (version 1).
    expect(stat.aversion).toBe(transport === 'client' ? 0 : 1);
    expect(created.stat.aversion).toBe(stat.aversion);
    expect(await failure(stranger.get(path))).toBeInstanceOf(NoAuthError);
    expect((await owner.get(path)).data.toString()).toBe('mine');
    await owner.delete(path);
  });

  it('connect rejects with AuthFailedError when the server rejects the credentials (unknown scheme)', async () => {
    const err = await failure(
      ZkSession.connect(server.connectString, {
        transport,
        sessionTimeoutMs: 10_000,
        connectTimeoutMs: 15_000,
        auth: { scheme: 'no-such-scheme', credentials: 'x' },
      }).then((s) => {
        closers.push(() => s.close());
        return s.state;
      }),
    );
    expect(err).toBeInstanceOf(AuthFailedError);
    expect(err).toMatchObject({ code: 'AUTH_FAILED', rc: -115 });
  });

  if (transport === 'native') {
    it('multi, addWatch, whoAmI, getEphemerals and getAllChildrenNumber reject with UnsupportedError naming the feature', async () => {
      const s = await connect('native');
      const path = uniquePath('unsupported');
      const cases: Array<[RegExp, () => Promise<unknown>]> = [
        [/^multi /, () => s.multi([{ op: 'create', path, data: 'x' }])],
        [/^addWatch /, () => s.addWatch(path, () => undefined, { recursive: true })],
        [/^whoAmI /, () => s.whoAmI()],
        [/^getEphemerals /, () => s.getEphemerals('/')],
        [/^getAllChildrenNumber /, () => s.getAllChildrenNumber('/')],
      ];
      for (const [feature, call] of cases) {
        const err = await failure(call());
        expect(err).toBeInstanceOf(UnsupportedError);
        expect(err.code).toBe('UNSUPPORTED');
        expect(err.message).toMatch(feature);
        expect(err.message).toMatch(/native transport/);
      }
      expect(await s.exists(path)).toBeNull(); // the multi's create was never sent
      expect(s.state).toBe('connected'); // and the session is fine
    });

    it('TLS and canBeReadOnly are refused at connect with UnsupportedError', async () => {
      for (const opts of [{ canBeReadOnly: true }, { tls: {} }] as const) {
        const err = await failure(ZkSession.connect(server.connectString, { transport: 'native', ...opts }));
        expect(err).toBeInstanceOf(UnsupportedError);
        expect(err.message).toMatch(/native transport/);
        expect(err.message).toMatch('canBeReadOnly' in opts ? /canBeReadOnly/ : /TLS/);
      }
    });
  }
});

// ---- session level, what only the TypeScript client does --------------------------------------

describe('session on the client transport: multi, ACL at create, persistent watches, whoAmI, getEphemerals, getAllChildrenNumber', () => {
  it('multi of check/create/delete/set commits atomically, in one zxid', async () => {
    const s = await connect('client');
    const root = uniquePath('multi');
    await s.create(root, '');
    await s.create(`${root}/a`, 'a0');
    await s.create(`${root}/gone`, '');
    const res = await s.multi([
      { op: 'check', path: `${root}/a`, version: 0 },
      { op: 'create', path: `${root}/new-`, data: 'n', mode: 'persistent_sequential' },
      { op: 'delete', path: `${root}/gone` },
      { op: 'set', path: `${root}/a`, data: 'a1', version: 0 },
    ]);
    expect(res).toHaveLength(4);
    expect(res[0]).toEqual({ op: 'check' });
    expect(res[1]).toMatchObject({ op: 'create', path: expect.stringMatching(new RegExp(`^${root}/new-\\d{10}$`)) });
    expect(res[2]).toEqual({ op: 'delete' });
    expect(res[3]).toMatchObject({ op: 'set', stat: { version: 1, dataLength: 2 } });
    const created = (res[1] as { path: string }).path;
    const a = await s.get(`${root}/a`);
    expect(a.data.toString()).toBe('a1');
    expect(a.stat).toEqual((res[3] as { stat: unknown }).stat);
    expect(await s.exists(`${root}/gone`)).toBeNull();
    const n = await s.get(created);
    expect(n.data.toString()).toBe('n');
    expect(n.stat.czxid).toBe(a.stat.mzxid); // one transaction, one zxid
    expect((await s.getChildrenWithStat(root)).stat.pzxid).toBe(a.stat.mzxid);
    await s.delete(root, { recursive: true });
  });

  it("a failing multi throws the failing op's typed error with opIndex and applies nothing", async () => {
    const s = await connect('client');
    const root = uniquePath('multi-fail');
    await s.create(root, '');
    await s.create(`${root}/a`, 'a0');
    await s.create(`${root}/keep`, '');
    const before = await s.getChildrenWithStat(root);
    const a0 = await s.get(`${root}/a`);

    const badVersion = await failure(
      s.multi([
        { op: 'create', path: `${root}/x`, data: '' },
        { op: 'set', path: `${root}/a`, data: 'zz', version: 5 },
        { op: 'delete', path: `${root}/keep` },
      ]),
    );
    expect(badVersion).toBeInstanceOf(BadVersionError);
    expect(badVersion).toMatchObject({ code: 'BAD_VERSION', rc: -103, opIndex: 1, path: `${root}/a` });

    const exists = await failure(
      s.multi([
        { op: 'set', path: `${root}/a`, data: 'zz' },
        { op: 'delete', path: `${root}/keep` },
        { op: 'create', path: `${root}/a`, data: '' },
      ]),
    );
    expect(exists).toBeInstanceOf(NodeExistsError);
    expect(exists).toMatchObject({ code: 'NODE_EXISTS', opIndex: 2, path: `${root}/a` });

    const noNode = await failure(
      s.multi([
        { op: 'check', path: `${root}/missing`, version: 0 },
        { op: 'create', path: `${root}/y`, data: '' },
      ]),
    );
    expect(noNode).toBeInstanceOf(NoNodeError);
    expect(noNode).toMatchObject({ code: 'NO_NODE', opIndex: 0, path: `${root}/missing` });

    const notEmpty = await failure(
      s.multi([
        { op: 'create', path: `${root}/keep/k`, data: '' },
        { op: 'delete', path: `${root}/keep` },
      ]),
    );
    expect(notEmpty).toBeInstanceOf(NotEmptyError);
    expect(notEmpty.opIndex).toBe(1);

    // Nothing of any of them happened.
    const after = await s.getChildrenWithStat(root);
    expect(after.children.sort()).toEqual(['a', 'keep']);
    expect(after.stat).toEqual(before.stat);
    expect(await s.get(`${root}/a`)).toEqual(a0);
    expect(await s.getChildren(`${root}/keep`)).toEqual([]);

    // With a namespace the error names the caller's path.
    const nsd = await connect('client', { namespace: root });
    const inNs = await failure(
      nsd.multi([
        { op: 'create', path: '/z', data: '' },
        { op: 'set', path: '/a', data: '', version: 9 },
      ]),
    );
    expect(inNs).toBeInstanceOf(BadVersionError);
    expect(inNs).toMatchObject({ opIndex: 1, path: '/a' });
    expect(await s.exists(`${root}/z`)).toBeNull();
    await s.delete(root, { recursive: true });
  });

  it('ACL at create: an observer reading the ACL the moment the node appears sees the digest ACL, never world:anyone', async () => {
    const owner = await connect('client', { auth: { scheme: 'digest', credentials: 'bob:pw' } });
    // ZooKeeper 3.8 notifies a watcher only if it may read the node: the observer is bob too.
    const observer = await connect('client', { auth: { scheme: 'digest', credentials: 'bob:pw' } });
    const stranger = await connect('client');
    const path = uniquePath('acl-at-create');
    let seen: Promise<unknown> | undefined;
    expect(
      await observer.exists(path, {
        // Sent from the watch callback: the first request after the create.
        watch: () => {
          seen = observer.getAcl(path).then(
            (r) => r.acl,
            (e: unknown) => e,
          );
        },
      }),
    ).toBeNull();
    const created = await owner.createWithStat(path, 'x', { acl: Acls.CREATOR_ALL });
    expect(created.stat.aversion).toBe(0); // no setAcl after the create
    await waitUntil(() => seen, "the observer's watch");
    expect(await seen).toEqual([{ perms: Perms.ALL, scheme: 'digest', id: expect.stringMatching(/^bob:/) }]);
    expect((await owner.getAcl(path)).stat.aversion).toBe(0);
    expect(await failure(stranger.get(path))).toBeInstanceOf(NoAuthError);
    await owner.delete(path);
  });

  it('a persistent watch gets every event of its node and keeps firing; remove() stops it, on the server too', async () => {
    const s = await connect('client');
    const other = await connect('client');
    const path = uniquePath('pw');
    const events: WatchEvent[] = [];
    const w = await s.addWatch(path, (e) => events.push(e));
    expect(w).toMatchObject({ path, recursive: false });
    expect((await serverWatches(server.port)).get(path)).toEqual([s.sessionId]);
    await other.create(path, 'a');
    await other.set(path, 'b');
    await other.set(path, 'c');
    await other.create(`${path}/k`, '');
    await other.delete(`${path}/k`);
    await other.delete(path);
    await other.create(path, 'again');
    await waitUntil(() => events.length >= 7, 'seven persistent watch events');
    expect(events).toEqual([
      { type: 'created', path },
      { type: 'changed', path },
      { type: 'changed', path },
      { type: 'child', path },
      { type: 'child', path },
      { type: 'deleted', path },
      { type: 'created', path },
    ]);
    // soft: what follows shows whether the listener at least went quiet.
    expect
      .soft(
        await w.remove().then(
          () => 'removed',
          (e: unknown) => e,
        ),
        'remove() resolves',
      )
      .toBe('removed');
    expect.soft((await serverWatches(server.port)).has(path), 'the server still holds the watch').toBe(false);
    await other.set(path, 'unheard');
    await fence(s, other, path);
    expect(events).toHaveLength(7);
    await other.delete(path);
  });

  it('a recursive watch gets every event below it (no child events) and keeps firing; remove() stops it', async () => {
    const ns = uniquePath('rw-ns');
    const s = await connect('client', { namespace: ns }); // paths in events without the namespace
    const other = await connect('client');
    const events: WatchEvent[] = [];
    await s.create('/r', '');
    const w = await s.addWatch('/r', (e) => events.push(e), { recursive: true });
    expect(w.recursive).toBe(true);
    await other.create(`${ns}/r/a`, '');
    await other.set(`${ns}/r/a`, 'x');
    await other.create(`${ns}/r/a/b`, '');
    await other.set(`${ns}/r/a/b`, 'y');
    await other.delete(`${ns}/r/a/b`);
    await other.set(`${ns}/r`, 'z');
    await other.create(`${ns}/outside`, ''); // not below /r
    await waitUntil(() => events.length >= 6, 'six recursive watch events');
    await fence(s, other, `${ns}/r-done`);
    expect(events).toEqual([
      { type: 'created', path: '/r/a' },
      { type: 'changed', path: '/r/a' },
      { type: 'created', path: '/r/a/b' },
      { type: 'changed', path: '/r/a/b' },
      { type: 'deleted', path: '/r/a/b' },
      { type: 'changed', path: '/r' },
    ]);
    expect
      .soft(
        await w.remove().then(
          () => 'removed',
          (e: unknown) => e,
        ),
        'remove() resolves',
      )
      .toBe('removed');
    expect.soft((await serverWatches(server.port)).has(`${ns}/r`), 'the server still holds the watch').toBe(false);
    await other.create(`${ns}/r/unheard`, '');
    await fence(s, other, `${ns}/r-after`);
    expect(events).toHaveLength(6);
    await other.delete(ns, { recursive: true });
  });

  it('whoAmI shows the digest identity', async () => {
    const alice = await connect('client', { auth: { scheme: 'digest', credentials: 'alice:pw' } });
    const anon = await connect('client');
    const ids = await alice.whoAmI();
    expect(ids).toContainEqual({ scheme: 'digest', user: 'alice' });
    expect(ids).toContainEqual({ scheme: 'ip', user: '127.0.0.1' });
    expect((await anon.whoAmI()).filter((i) => i.scheme === 'digest')).toEqual([]);
  });

  it("getEphemerals lists exactly this session's ephemerals", async () => {
    const s = await connect('client');
    const other = await connect('client');
    const root = uniquePath('ephs');
    await s.create(root, '');
    const mine = [
      await s.create(`${root}/e1`, '', { mode: 'ephemeral' }),
      await s.create(`${root}/sub/e2`, '', { mode: 'ephemeral', createParents: true, parentMode: 'persistent' }),
      await s.create(`${root}/es-`, '', { mode: 'ephemeral_sequential' }),
    ];
    await s.create(`${root}/persistent`, '');
    await other.create(`${root}/theirs`, '', { mode: 'ephemeral' });
    expect((await s.getEphemerals(root)).sort()).toEqual([...mine].sort());
    expect(await s.getEphemerals(`${root}/sub`)).toEqual([`${root}/sub/e2`]);
    expect(await other.getEphemerals(root)).toEqual([`${root}/theirs`]);
    const ns = await connect('client', { namespace: root });
    const nsEph = await ns.create('/n', '', { mode: 'ephemeral' });
    expect(await ns.getEphemerals()).toEqual([nsEph]);
    await other.delete(root, { recursive: true });
  });

  it('getAllChildrenNumber counts all descendants', async () => {
    const s = await connect('client');
    const root = uniquePath('count');
    await s.create(`${root}/a/b/c`, '', { createParents: true, parentMode: 'persistent' });
    await s.create(`${root}/d`, '');
    await s.create(`${root}/a/e`, '', { mode: 'ephemeral' });
    expect(await s.getAllChildrenNumber(root)).toBe(5);
    expect(await s.getAllChildrenNumber(`${root}/a`)).toBe(3);
    expect(await s.getAllChildrenNumber(`${root}/d`)).toBe(0);
    expect(await failure(s.getAllChildrenNumber(`${root}/none`))).toBeInstanceOf(NoNodeError);
    await s.delete(root, { recursive: true });
  });
});

// ---- client level ----------------------------------------------------------------------------

describe('ZkClient session semantics', () => {
  it('a notification is delivered before the reply of any read that shows its change', async () => {
    const a = await startClient(server.connectString);
    const b = await startClient(server.connectString);
    const root = uniquePath('order');
    await b.create(root, EMPTY, { acl: OPEN, flags: 0 });
    for (let round = 0; round < 15; round++) {
      const log: Array<{ kind: 'watch' } | { kind: 'reply'; mzxid: number }> = [];
      const events: ClientWatchEvent[] = [];
      await a.getData(root, (e) => {
        events.push(e);
        log.push({ kind: 'watch' });
      });
      let pumping = true;
      // Reads in flight all the time, before, during and after the change.
      const pump = (async () => {
        while (pumping) {
          await Promise.all(
            Array.from({ length: 8 }, () =>
              a.getData(root).then((r) => {
                log.push({ kind: 'reply', mzxid: r.stat.mzxid });
              }),
            ),
          );
        }
      })();
      const changed = await b.setData(root, Buffer.from(`r${round}`));
      await waitUntil(() => log.some((e) => e.kind === 'reply' && e.mzxid >= changed.mzxid), 'a read showing the change');
      pumping = false;
      await pump;
      const watchAt = log.findIndex((e) => e.kind === 'watch');
      expect(watchAt, `round ${round}: the watch fired`).toBeGreaterThanOrEqual(0);
      expect(events).toEqual([{ type: 'changed', path: root }]);
      log.forEach((e, i) => {
        if (e.kind === 'reply' && e.mzxid >= changed.mzxid)
          expect(i, `round ${round}: reply ${i} shows the change before the watch (${watchAt})`).toBeGreaterThan(watchAt);
      });
    }
  });

  it('lastZxidSeen never goes back, across reconnects too', async () => {
    const proxy = await proxyTo(server.connectString);
    const a = await startClient(proxy.connectString);
    const b = await startClient(server.connectString);
    const path = uniquePath('zxid');
    await a.create(path, EMPTY, { acl: OPEN, flags: 0 });
    const samples: number[] = [a.lastZxidSeen];
    const sample = () => samples.push(a.lastZxidSeen);
    a.on('state', sample);
    a.on('connected', sample);
    a.on('disconnected', sample);
    const ticker = setInterval(sample, 5);
    try {
      for (let round = 0; round < 3; round++) {
        const st = await a.setData(path, Buffer.from(String(round)));
        expect(a.lastZxidSeen).toBeGreaterThanOrEqual(st.mzxid);
        // Someone else moves the zxid on; our reads see it.
        const theirs = await b.setData(path, Buffer.from(`b${round}`));
        expect((await a.getData(path)).stat.mzxid).toBe(theirs.mzxid);
        expect(a.lastZxidSeen).toBeGreaterThanOrEqual(theirs.mzxid);
        const before = a.lastZxidSeen;
        const down = nextEvent(a, 'disconnected');
        const up = nextEvent<[{ sessionId: string; newSession: boolean }]>(a, 'connected');
        proxy.dropConnections();
        await down;
        const [info] = await up;
        expect(info.newSession).toBe(false);
        expect(a.lastZxidSeen).toBeGreaterThanOrEqual(before);
      }
    } finally {
      clearInterval(ticker);
    }
    sample();
    for (let i = 1; i < samples.length; i++) expect(samples[i]!, `sample ${i}`).toBeGreaterThanOrEqual(samples[i - 1]!);
    await b.delete(path);
  });

  it('close() removes the ephemerals at once and later calls fail with ClosedError', async () => {
    const a = await startClient(server.connectString, { sessionTimeoutMs: 30_000 });
    const b = await startClient(server.connectString);
    const path = uniquePath('close-eph');
    const created = await a.create(path, EMPTY, { acl: OPEN, flags: 1 });
    expect(created.stat.ephemeralOwner).toBe(a.sessionId);
    const deleted: ClientWatchEvent[] = [];
    expect(await b.exists(path, (e) => deleted.push(e))).not.toBeNull();
    const closedEvent = nextEvent(a, 'closed');
    const t0 = performance.now();
    const p1 = a.close();
    expect(a.close()).toBe(p1);
    await p1;
    await closedEvent;
    // closeSession was answered: the server deleted the ephemeral before the reply.
    expect(await b.exists(path)).toBeNull();
    await waitUntil(() => deleted.length === 1, 'the deleted event');
    expect(deleted).toEqual([{ type: 'deleted', path }]);
    expect(performance.now() - t0).toBeLessThan(10_000); // nowhere near the 30 s session timeout
    expect(a.state).toBe('closed');
    for (const call of [() => a.getData(path), () => a.create(`${path}-2`, EMPTY, { acl: OPEN, flags: 0 }), () => a.exists('/')]) {
      const err = await failure(call());
      expect(err).toBeInstanceOf(ClosedError);
      expect(err.code).toBe('CLOSED');
    }
  });

  it('auth is replayed on reconnect: the CREATOR_ALL node stays readable and writable; others get NoAuthError', async () => {
    const proxy = await proxyTo(server.connectString);
    const a = await startClient(proxy.connectString, { auth: [{ scheme: 'digest', credentials: 'carol:pw' }] });
    const stranger = await startClient(server.connectString);
    const path = uniquePath('replay');
    await a.create(path, Buffer.from('v0'), { acl: Acls.CREATOR_ALL, flags: 0 });
    const { acl } = await a.getACL(path);
    expect(acl).toEqual([{ perms: Perms.ALL, scheme: 'digest', id: expect.stringMatching(/^carol:/) }]);
    const id = a.sessionId;
    const down = nextEvent<[{ reason: string }]>(a, 'disconnected');
    const up = nextEvent<[{ sessionId: string; newSession: boolean }]>(a, 'connected');
    proxy.dropConnections();
    await down;
    const [info] = await up;
    expect(info).toMatchObject({ sessionId: id, newSession: false });
    // A new connection: without the replayed auth these fail with NO_AUTH.
    expect((await a.getData(path)).data.toString()).toBe('v0');
    expect((await a.setData(path, Buffer.from('v1'))).version).toBe(1);
    expect(await a.whoAmI()).toContainEqual({ scheme: 'digest', user: 'carol' });
    const denied = await failure(stranger.getData(path));
    expect(denied).toBeInstanceOf(NoAuthError);
    expect(denied).toMatchObject({ code: 'NO_AUTH', rc: -102 });
    expect(await failure(stranger.setData(path, Buffer.from('x')))).toBeInstanceOf(NoAuthError);
    await a.delete(path);
  });

  it('AUTH_FAILED: an unknown scheme is rejected by ZooKeeper 3.8 (terminal authFailed, connect rejects); malformed digest credentials are accepted', async () => {
    const c = new ZkClient(server.connectString, { sessionTimeoutMs: 10_000, auth: [{ scheme: 'no-such-scheme', credentials: 'whatever' }] });
    closers.push(() => c.close());
    const events: string[] = [];
    c.on('state', (st) => events.push(`state:${st}`));
    c.on('connected', () => events.push('connected'));
    const failed = nextEvent(c, 'authFailed');
    c.start();
    await failed;
    expect(c.state).toBe('authFailed');
    expect(events).not.toContain('connected'); // no request of the caller ever ran without the credentials
    expect(events).toEqual(['state:authFailed']);
    const err = await failure(c.getData('/'));
    expect(err).toBeInstanceOf(AuthFailedError);
    expect(err).toMatchObject({ code: 'AUTH_FAILED', rc: -115 });
    expect(c.state).toBe('authFailed'); // terminal: no reconnect

    const viaSession = await failure(
      ZkSession.connect(server.connectString, { auth: { scheme: 'no-such-scheme', credentials: 'x' }, connectTimeoutMs: 15_000 }),
    );
    expect(viaSession).toBeInstanceOf(AuthFailedError);

    // ZooKeeper 3.8's digest provider takes any bytes: "no colon" is the user name.
    const odd = await startClient(server.connectString, { auth: [{ scheme: 'digest', credentials: 'nocolon' }] });
    expect(odd.state).toBe('connected');
    expect(await odd.whoAmI()).toContainEqual({ scheme: 'digest', user: 'nocolon' });
  });

  it('data, exist, child and persistent-recursive watches survive a reconnect; the one-shot ones fire for changes made while away', async () => {
    const proxy = await proxyTo(server.connectString);
    const a = await startClient(proxy.connectString);
    const b = await startClient(server.connectString);
    const root = uniquePath('rewatch');
    const mk = (p: string, flags = 0) => b.create(p, EMPTY, { acl: OPEN, flags });
    await mk(root);
    await mk(`${root}/d`);
    await mk(`${root}/c`);
    await mk(`${root}/r`);
    await mk(`${root}/gone`);
    const log: string[] = [];
    const rec = (kind: string) => (e: ClientWatchEvent) => log.push(`${kind} ${e.type} ${e.path.slice(root.length)}`);
    await a.getData(`${root}/d`, rec('data'));
    expect(await a.exists(`${root}/e`, rec('exist'))).toBeNull();
    await a.getChildren(`${root}/c`, rec('child'));
    await a.getData(`${root}/gone`, rec('data'));
    await a.addWatch(`${root}/r`, rec('recursive'), true);
    a.on('connected', () => log.push('reconnected'));
    const id = a.sessionId;

    // Cut the client off: its connection is reset and new ones stall.
    proxy.partition();
    const down = nextEvent(a, 'disconnected');
    proxy.dropConnections();
    await down;
    await b.setData(`${root}/d`, Buffer.from('x'));
    await mk(`${root}/e`);
    await mk(`${root}/c/k`);
    await b.delete(`${root}/gone`);
    await mk(`${root}/r/while-away`);
    expect(log).toEqual([]);
    const up = nextEvent<[{ sessionId: string; newSession: boolean }]>(a, 'connected');
    proxy.heal();
    const [info] = await up;
    expect(info).toMatchObject({ sessionId: id, newSession: false });
    await waitUntil(() => log.length >= 5, 'the watches to fire after the reconnect');
    expect(log[0]).toBe('reconnected');
    expect(log.slice(1).sort()).toEqual(['child child /c', 'data changed /d', 'data deleted /gone', 'exist created /e'].sort());

    // The recursive watch was set again: it hears what comes next. (ZooKeeper 3.8's SetWatches2
    // re-adds persistent watches without replaying what changed meanwhile; the Java client is the same.)
    await b.setData(`${root}/r/while-away`, Buffer.from('y'));
    await mk(`${root}/r/after`);
    await waitUntil(() => log.length >= 7, 'the recursive watch after the reconnect');
    await clientFence(a, b, root);
    expect(log.slice(5)).toEqual(['recursive changed /r/while-away', 'recursive created /r/after']);
    expect(a.watchedPaths()).toMatchObject({ data: [], exist: [], child: [], persistentRecursive: [`${root}/r`] });
  });

  it('expiry: the client reports expired (server) and fails calls with SessionExpiredError; a session reports lost/expired, then a new session', async () => {
    const a = await startClient(server.connectString);
    const b = await startClient(server.connectString);
    const path = uniquePath('expire');
    await a.create(path, EMPTY, { acl: OPEN, flags: 1 });
    const expired = nextEvent<[{ reason: string }]>(a, 'expired', 30_000);
    // A second client on the same session, closed: the server ends the session. Repeated while
    // the original reconnects in between (the session moves back and the close is refused).
    while (a.state !== 'expired') {
      const twin = new ZkClient(server.connectString, {
        sessionTimeoutMs: 10_000,
        session: { id: a.sessionId, password: a.sessionPassword },
        followConfig: false,
      });
      const ready = Promise.race([nextEvent(twin, 'connected'), nextEvent(twin, 'expired')]);
      twin.start();
      await ready;
      await twin.close();
      await Promise.race([expired, new Promise((r) => setTimeout(r, 1500))]);
    }
    expect((await expired)[0]).toEqual({ reason: 'server' });
    expect(a.state).toBe('expired');
    const err = await failure(a.getData('/'));
    expect(err).toBeInstanceOf(SessionExpiredError);
    expect(err).toMatchObject({ code: 'SESSION_EXPIRED', rc: -112 });
    expect(await b.exists(path)).toBeNull();

    const s = await connect('client');
    const oldId = s.sessionId;
    const lost = nextEvent<[{ sessionId: string; reason: string }]>(s, 'lost', 30_000);
    const fresh: Array<{ sessionId: string; newSession: boolean }> = [];
    s.on('reconnected', (i) => {
      if (i.newSession) fresh.push(i);
    });
    await expireSession(s);
    expect((await lost)[0]).toEqual({ sessionId: oldId, reason: 'expired' });
    const info = await waitUntil(() => fresh[0], 'a new session');
    expect(info!.sessionId).not.toBe(oldId);
    expect(s.sessionId).toBe(info!.sessionId);
    expect(s.state).toBe('connected');
    await s.exists('/');
  });
});

// A watch must be in the registry before the client processes the next frame: the server may send
// the watch's notification right behind the reply that set it, in the same TCP segment. Here the
// reply and the notification are held in the proxy and released together (one read, one chunk).
describe('ZkClient watch registration: a notification right behind the reply that set the watch', () => {
  const kinds = [
    ['getData on an existing node', 'existing', (c: ZkClient, p: string, w: (e: ClientWatchEvent) => void) => c.getData(p, w), 'changed'],
    ['getChildren', 'existing', (c: ZkClient, p: string, w: (e: ClientWatchEvent) => void) => c.getChildren(p, w), 'child'],
    ['exists on an existing node', 'existing', (c: ZkClient, p: string, w: (e: ClientWatchEvent) => void) => c.exists(p, w), 'changed'],
    ['exists on a missing node', 'missing', (c: ZkClient, p: string, w: (e: ClientWatchEvent) => void) => c.exists(p, w), 'created'],
    ['addWatch (persistent)', 'existing', (c: ZkClient, p: string, w: (e: ClientWatchEvent) => void) => c.addWatch(p, w, false), 'changed'],
  ] as const;

  it.each(kinds)('%s: the watch fires', async (_name, initial, setWatch, expected) => {
    const proxy = await proxyTo(server.connectString);
    const a = await startClient(proxy.connectString, { sessionTimeoutMs: 20_000 });
    const b = await startClient(server.connectString);
    const path = uniquePath('reg');
    if (initial === 'existing') await b.create(path, EMPTY, { acl: OPEN, flags: 0 });
    const fired: ClientWatchEvent[] = [];
    const DELAY = 1000;
    proxy.delay(DELAY);
    const reply = setWatch(a, path, (e) => fired.push(e));
    // The server holds the watch once the request got through the delay (the child watch shows
    // in no four-letter word; the request is through when a data watch set behind it is).
    if (expected === 'child') void a.getData('/', () => undefined);
    await waitUntil(
      async () => (await serverWatches(server.port)).get(expected === 'child' ? '/' : path)?.includes(a.sessionId),
      'the server to hold the watch',
      20_000,
      10,
    );
    if (expected === 'created') await b.create(path, EMPTY, { acl: OPEN, flags: 0 });
    else if (expected === 'child') await b.create(`${path}/k`, EMPTY, { acl: OPEN, flags: 0 });
    else await b.setData(path, Buffer.from('x'));
    const changedAt = performance.now();
    // Both frames are in the proxy's delay line now; freeze holds them as they come due, and
    // thaw writes them to the client in one go.
    proxy.freeze();
    proxy.delay(0);
    await sleepUntil(changedAt + DELAY + 500);
    proxy.thaw();
    await reply;
    await clientFence(a, b, path);
    expect(fired).toEqual([{ type: expected, path }]);
  });
});

// ---- ensemble --------------------------------------------------------------------------------

describe('ensemble: the session moves to another server', () => {
  let ensemble: ZooKeeperEnsemble | undefined;
  beforeAll(async () => {
    ensemble = await startEnsemble(3);
  }, 120_000);
  afterAll(async () => {
    await ensemble?.close();
  });

  it('kill the server a client is connected to: same session on another server, its ephemeral intact, serverOf follows', async () => {
    const ens = ensemble!;
    const a = await startClient(ens.connectString, { sessionTimeoutMs: 20_000 });
    const id = a.sessionId;
    const portOf = (hp: string | undefined) => Number(hp?.split(':')[1]);
    const i = ens.servers.findIndex((s) => s.port === portOf(a.connectedServer));
    expect(i).toBeGreaterThanOrEqual(0);
    await waitUntil(async () => (await ens.serverOf(id)) === i, `serverOf to report server ${i}`);
    const others = ens.servers
      .filter((_, k) => k !== i)
      .map((s) => s.connectString)
      .join(',');
    const observer = await startClient(others, { sessionTimeoutMs: 20_000 });
    const path = uniquePath('moved');
    await a.create(path, Buffer.from('mine'), { acl: OPEN, flags: 1 });
    const zxidBefore = a.lastZxidSeen;

    const down = nextEvent(a, 'disconnected', 30_000);
    const up = nextEvent<[{ sessionId: string; newSession: boolean; server?: string }]>(a, 'connected', 40_000);
    await ens.kill(i);
    await down;
    const [info] = await up;
    expect(info).toMatchObject({ sessionId: id, newSession: false });
    const j = ens.servers.findIndex((s) => s.port === portOf(a.connectedServer));
    expect(j).toBeGreaterThanOrEqual(0);
    expect(j).not.toBe(i);
    expect(info.server).toBe(ens.servers[j]!.connectString);
    expect(a.lastZxidSeen).toBeGreaterThanOrEqual(zxidBefore);
    await waitUntil(async () => (await ens.serverOf(id)) === j, `serverOf to report server ${j}`, 30_000);
    const stat = await waitUntil(async () => observer.exists(path), 'the observer to read the ephemeral', 30_000);
    expect(stat!.ephemeralOwner).toBe(id);
    expect((await a.getData(path)).data.toString()).toBe('mine');
    await a.setData(path, Buffer.from('still mine'));
    expect((await observer.getData(path)).data.toString()).toBe('still mine');
  }, 120_000);
});
