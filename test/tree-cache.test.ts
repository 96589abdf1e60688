// TreeCache against a real server: the initial load equals the server's tree, every event kind
// carries the right data, changes made during the load and a 10 000-node tree end in the server's
// state, re-syncs after a dropped connection and after a session expiry emit exactly the
// differences, the filter, bad input, and close removing the watch on the server.
import { execFileSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import {
  Acls,
  ClosedError,
  IllegalStateError,
  InvalidArgumentError,
  InvalidPathError,
  NoAuthError,
  TreeCache,
  UnsupportedError,
  ZkSession,
  type TreeNode,
} from '../src/index.js';
import { expireSession, fourLetterWord, startProxy, type ZkProxy } from '../src/testing/index.js';
import { TEST_TRANSPORT, nextEvent, uniquePath, useServer, waitUntil } from './helpers.js';

const zk = useServer();
const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f().catch(() => undefined);
});

/** Creates `root` and below it `fan[0]` children, each with `fan[1]` children, ...; data = the path. */
async function build(s: ZkSession, root: string, fan: number[]): Promise<void> {
  await s.create(root, root, { createParents: true });
  let level = [root];
  for (const n of fan) {
    const next = level.flatMap((p) => Array.from({ length: n }, (_, i) => `${p}/n${i}`));
    for (let i = 0; i < next.length; i += 1000) await Promise.all(next.slice(i, i + 1000).map((p) => s.create(p, p)));
    level = next;
  }
}

/** A node as compared: data (or `-` without data), czxid, mzxid. */
const show = (data: Buffer | undefined, stat: { czxid: number; mzxid: number }) => `${data?.toString() ?? '-'}@${stat.czxid}.${stat.mzxid}`;

/** The server's tree below `root`, read level by level (reads pipelined), as path → shown node. */
async function serverTree(s: ZkSession, root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  let level = [root];
  while (level.length > 0) {
    const next: string[] = [];
    await Promise.all(
      level.map(async (p) => {
        try {
          const [{ data, stat }, kids] = await Promise.all([s.get(p), s.getChildren(p)]);
          out[p] = show(data, stat);
          for (const k of kids) next.push(`${p}/${k}`);
        } catch {
          /* deleted meanwhile */
        }
      }),
    );
    level = next;
  }
  return sorted(out);
}

const sorted = (o: Record<string, string>) => Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1)));

function cacheTree(c: TreeCache): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [p, n] of c) out[p] = show(n.data, n.stat);
  return sorted(out);
}

/** Records every change event as a line (`created /p=data`, `changed /p=new (was old)`, `deleted /p`). */
function record(c: TreeCache, root: string): string[] {
  const log: string[] = [];
  const rel = (p: string) => p.slice(root.length) || '/';
  c.on('created', (p, n) => log.push(`created ${rel(p)}=${n.data?.toString() ?? '-'}`));
  c.on('changed', (p, n, prev) => log.push(`changed ${rel(p)}=${n.data?.toString() ?? '-'} (was ${prev.data?.toString() ?? '-'})`));
  c.on('deleted', (p) => log.push(`deleted ${rel(p)}`));
  return log;
}

async function started(s: ZkSession, root: string, opts?: ConstructorParameters<typeof TreeCache>[2]): Promise<TreeCache> {
  const c = new TreeCache(s, root, opts);
  cleanup.push(() => c.close());
  await c.start({ timeoutMs: 60_000 });
  return c;
}

/** A session behind the test kit's fault proxy. */
async function proxied(sessionTimeoutMs: number): Promise<{ proxy: ZkProxy; s: ZkSession }> {
  const proxy = await startProxy(zk.server.connectString);
  cleanup.push(() => proxy.close());
  const s = await ZkSession.connect(proxy.connectString, { sessionTimeoutMs, transport: TEST_TRANSPORT });
  cleanup.push(() => s.close());
  return { proxy, s };
}

/** Blocks this process until the server's last applied zxid (`srvr`) is above `zxid`. */
function blockUntilZxidAbove(zxid: number): void {
  const script = `const net = require('net'); const [port, z] = process.argv.slice(1).map(Number); const end = Date.now() + 15000;
    (function poll() { let out = ''; const c = net.connect(port, '127.0.0.1', () => c.end('srvr'));
      c.on('data', (d) => { out += d; }); c.on('error', () => undefined);
      c.on('close', () => { const m = /Zxid: 0x([0-9a-f]+)/.exec(out); if (m && parseInt(m[1], 16) > z) process.exit(0);
        if (Date.now() > end) process.exit(1); setTimeout(poll, 5); }); })();`;
  execFileSync(process.execPath, ['-e', script, String(zk.server.port), String(zxid)], { timeout: 20_000 });
}

/** Whether any session watches `path` (the server's `wchc`). */
const watched = async (path: string) =>
  (await fourLetterWord('127.0.0.1', zk.server.port, 'wchc'))
    .split('\n')
    .map((l) => l.trim())
    .includes(path);

/** A small deterministic PRNG (an LCG), so a failing run can be replayed. */
const rng = (seed: number) => () => {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed / 2147483648;
};

describe('TreeCache', () => {
  it("loads a nested tree equal to the server's (data, stats, children), initialized once, no events", async () => {
    const root = uniquePath('tc');
    const w = await zk.connect();
    await build(w, root, [4, 3, 2]);
    await w.set(`${root}/n0/n1`, '');
    let inits = 0;
    const c = new TreeCache(await zk.connect(), root);
    cleanup.push(() => c.close());
    c.on('initialized', () => inits++);
    const log = record(c, root);
    await c.start({ timeoutMs: 20_000 });
    expect([inits, log]).toEqual([1, []]);
    const server = await serverTree(w, root);
    expect([Object.keys(server).length, c.size]).toEqual([41, 41]);
    expect(cacheTree(c)).toEqual(server);
    for (const p of Object.keys(server)) expect(c.children(p)!.sort()).toEqual((await w.getChildren(p)).sort());
    expect(c.get(`${root}/n0/n1`)!.data!.length).toBe(0);
    expect(c.get(`${root}/n3/n2/n1`)!.stat.version).toBe(0);
    expect([c.get(`${root}/nope`), c.children(`${root}/nope`)]).toEqual([undefined, undefined]);
  });

  it('reports created / changed / deleted with the right data and stats; a missing root, created, deleted, created again', async () => {
    const root = uniquePath('tc');
    const w = await zk.connect();
    const c = await started(await zk.connect(), root);
    expect(c.size).toBe(0);
    const log = record(c, root);
    const reported = new Map<string, TreeNode>();
    c.on('created', (p, n) => reported.set(p, n));
    c.on('changed', (p, n) => reported.set(p, n));
    const expected: string[] = [];
    /** Runs a write, waits for its events, checks the log and the stat reported for `statOf`. */
    const step = async (op: () => Promise<unknown>, statOf: string | undefined, ...lines: string[]) => {
      await op();
      expected.push(...lines);
      await waitUntil(() => log.length >= expected.length, lines.join(', '));
      expect(log).toEqual(expected);
      if (statOf) expect(reported.get(statOf)!.stat).toEqual(await w.exists(statOf));
    };
    await step(() => w.create(root, 'r'), root, 'created /=r');
    await step(() => w.create(`${root}/a`, 'a1'), `${root}/a`, 'created /a=a1');
    await step(() => w.create(`${root}/a/b`, 'b1'), `${root}/a/b`, 'created /a/b=b1');
    await step(() => w.set(`${root}/a`, 'a2'), `${root}/a`, 'changed /a=a2 (was a1)');
    expect(c.get(`${root}/a`)).toBe(reported.get(`${root}/a`));
    await step(() => w.delete(`${root}/a/b`), undefined, 'deleted /a/b');
    expect(c.get(`${root}/a/b`)).toBeUndefined();
    await step(() => w.create(`${root}/a/b`, 'b2'), `${root}/a/b`, 'created /a/b=b2');
    await step(() => w.delete(root, { recursive: true }), undefined, 'deleted /a/b', 'deleted /a', 'deleted /');
    expect(c.size).toBe(0);
    await step(() => w.create(root, 'again'), root, 'created /=again');
    expect([c.children(root), c.size]).toEqual([[], 1]);
  });

  it("changes made during the initial load end in the server's state; events replay to the view, never stale", async () => {
    const root = uniquePath('tc');
    const w = await zk.connect();
    await build(w, root, [20, 50]);
    const ops: Promise<unknown>[] = [];
    let doneBeforeInit = 0;
    let initialized = false;
    const fire = () => {
      const track = (p: Promise<unknown>) =>
        ops.push(
          p.then(() => {
            if (!initialized) doneBeforeInit++;
          }),
        );
      for (let i = 0; i < 20; i++) for (let j = 0; j < 5; j++) track(w.delete(`${root}/n${i}/n${j}`));
      for (let i = 0; i < 20; i++) for (let j = 10; j < 20; j++) track(w.set(`${root}/n${i}/n${j}`, `during-${i}-${j}`));
      for (let i = 0; i < 100; i++) track(w.create(`${root}/n${i % 20}/new${i}`, `new-${i}`));
    };
    // The writes start while the walk is under way: when it discovers the middle of the tree.
    const c = new TreeCache(await zk.connect(), root, {
      filter: (p) => {
        if (p === `${root}/n10/n0`) fire();
        return 'keep';
      },
    });
    cleanup.push(() => c.close());
    let replay = new Map<string, TreeNode>();
    const problems: string[] = [];
    c.on('initialized', () => {
      initialized = true;
      replay = new Map([...c]);
    });
    c.on('created', (p, n) => {
      if (replay.has(p)) problems.push(`created twice ${p}`);
      replay.set(p, n);
    });
    c.on('changed', (p, n, prev) => {
      if (replay.get(p) !== prev || n.stat.mzxid <= prev.stat.mzxid) problems.push(`changed ${p}: not after the node last reported`);
      replay.set(p, n);
    });
    c.on('deleted', (p) => {
      if (!replay.delete(p)) problems.push(`deleted ${p} not cached`);
    });
    await c.start({ timeoutMs: 30_000 });
    await Promise.all(ops);
    expect(ops).toHaveLength(400);
    expect(doneBeforeInit, 'some writes were applied during the load').toBeGreaterThan(0);
    const server = await serverTree(w, root);
    await waitUntil(() => JSON.stringify(cacheTree(c)) === JSON.stringify(server), 'the cache equals the server');
    expect(problems).toEqual([]);
    expect([...replay.keys()].sort()).toEqual(Object.keys(server));
    for (const [p, n] of c) expect(replay.get(p)).toBe(n);
  });

  it("an answer that comes in the same packet as a later delete's event does not bring the node back", async () => {
    // The cache's own session deletes p right behind the walk's read of p; this process then blocks
    // until the server has applied the delete, so the read's answer (p exists) and the delete's
    // event wait in the socket together. The event is handled as the packet is parsed, the answer
    // a moment later: the answer must count for nothing. (Three times: the race is the server's.)
    const w = await zk.connect();
    for (let round = 0; round < 3; round++) {
      const root = uniquePath('tc');
      for (const n of ['a', 'p', 'z']) await w.create(`${root}/${n}`, n, { createParents: true });
      const lastZxid = (await w.exists(`${root}/z`))!.czxid;
      const s = await zk.connect();
      let answeredP = false;
      const get = s.get.bind(s);
      s.get = (async (path: string) => {
        const r = await get(path);
        answeredP ||= path === `${root}/p`;
        return r;
      }) as typeof s.get;
      let deleting: Promise<void> | undefined;
      const c = await started(s, root, {
        filter: (path) => {
          if (path === `${root}/p`)
            setImmediate(() => {
              deleting = s.delete(path);
              setImmediate(() => blockUntilZxidAbove(lastZxid));
            });
          return 'keep';
        },
      });
      await deleting;
      expect(answeredP, 'the read of p was answered before the delete').toBe(true);
      await w.create(`${root}/zz`, 'sentinel');
      await waitUntil(() => c.get(`${root}/zz`), 'the sentinel');
      expect(cacheTree(c)).toEqual(await serverTree(w, root));
    }
  });

  it('loads a 10 000-node tree and stays in sync with random creates, sets and deletes from another session', async () => {
    const root = uniquePath('tc');
    const w = await zk.connect();
    await build(w, root, [100, 100]);
    const c = await started(await zk.connect(), root);
    expect(c.size).toBe(10_101);
    expect(cacheTree(c)).toEqual(await serverTree(w, root));
    const rand = rng(20_261_121);
    const leaf = () => `${root}/n${Math.floor(rand() * 100)}/n${Math.floor(rand() * 100)}`;
    const deleted = new Set<string>();
    while (deleted.size < 300) deleted.add(leaf());
    const ops: Array<() => Promise<unknown>> = [...deleted].map((p) => () => w.delete(p));
    for (let i = 0; i < 300; i++) {
      const p = leaf();
      if (!deleted.has(p)) ops.push(() => w.set(p, `set-${i}`));
    }
    for (let i = 0; i < 200; i++) ops.push(() => w.create(`${root}/n${Math.floor(rand() * 100)}/added${i}`, `added-${i}`));
    for (let i = 0; i < 20; i++) ops.push(() => w.create(`${root}/sub${i}/x`, `x${i}`, { createParents: true, parentMode: 'persistent' }));
    ops.sort(() => rand() - 0.5);
    for (let i = 0; i < ops.length; i += 100) await Promise.all(ops.slice(i, i + 100).map((op) => op()));
    const server = await serverTree(w, root);
    expect(Object.keys(server)).toHaveLength(10_101 - 300 + 200 + 40);
    await waitUntil(() => JSON.stringify(cacheTree(c)) === JSON.stringify(server), 'the cache equals a fresh read of the server', 60_000);
  }, 180_000);

  /** The tree the re-sync tests change while the cache cannot hear: one of each kind of difference. */
  async function resyncFixture(w: ZkSession, root: string): Promise<{ change(): Promise<void>; expected: string[] }> {
    await w.create(root, 'r', { createParents: true });
    for (const n of ['keep', 'change', 'gone', 'sub', 'again', 'same', 'sub/x', 'sub/y']) await w.create(`${root}/${n}`, n);
    return {
      async change() {
        await w.set(`${root}/change`, 'changed');
        await w.delete(`${root}/gone`);
        await w.delete(`${root}/sub`, { recursive: true });
        await w.create(`${root}/new`, 'n');
        await w.create(`${root}/new/kid`, 'k');
        await w.delete(`${root}/again`);
        await w.create(`${root}/again`, 'again2');
        await w.set(`${root}/same`, 'same'); // same data, new version: a change
      },
      expected: [
        'changed /change=changed (was change)',
        'deleted /gone',
        'deleted /sub/x',
        'deleted /sub/y',
        'deleted /sub',
        'created /new=n',
        'created /new/kid=k',
        'deleted /again',
        'created /again=again2',
        'changed /same=same (was same)',
      ],
    };
  }

  it('after a dropped connection (same session): emits exactly the differences, then follows live changes', async () => {
    const root = uniquePath('tc');
    const w = await zk.connect();
    const { proxy, s } = await proxied(20_000);
    const fx = await resyncFixture(w, root);
    const c = await started(s, root);
    const log = record(c, root);
    let reconnectedAt = -1;
    s.on('reconnected', () => {
      reconnectedAt = log.length;
    });
    const reconnected = nextEvent<[{ newSession: boolean }]>(s, 'reconnected');
    const resynced = nextEvent(c, 'resynced');
    proxy.freeze(); // the notifications of the changes below are held, then thrown away
    await fx.change();
    proxy.dropConnections();
    expect((await reconnected)[0].newSession).toBe(false);
    await resynced;
    expect(reconnectedAt, 'nothing was heard before the reconnection').toBe(0);
    expect([...log].sort()).toEqual([...fx.expected].sort());
    expect(log.indexOf('deleted /sub')).toBeGreaterThan(Math.max(log.indexOf('deleted /sub/x'), log.indexOf('deleted /sub/y')));
    expect(log.indexOf('created /new/kid=k')).toBeGreaterThan(log.indexOf('created /new=n'));
    expect(cacheTree(c)).toEqual(await serverTree(w, root));
    await w.set(`${root}/keep`, 'live');
    await waitUntil(() => log.includes('changed /keep=live (was keep)'), 'a live change after the re-sync');
  });

  it('after a session expiry (new session): emits exactly the differences, then follows live changes', async () => {
    const root = uniquePath('tc');
    const w = await zk.connect();
    const { proxy, s } = await proxied(4000);
    const fx = await resyncFixture(w, root);
    const c = await started(s, root);
    const log = record(c, root);
    let reconnectedAt = -1;
    // (The expiry may first cause a reconnection to the old session, and its own re-sync.)
    const resynced = new Promise<unknown>((r) =>
      s.on('reconnected', (i) => {
        if (i.newSession) {
          reconnectedAt = log.length;
          r(nextEvent(c, 'resynced'));
        }
      }),
    );
    // The new session must not start before the writes are done: hold its connection.
    s.once('lost', () => proxy.partition());
    await expireSession(s);
    await fx.change();
    proxy.heal();
    await resynced;
    expect(reconnectedAt, 'nothing was heard before the new session').toBe(0);
    expect([...log].sort()).toEqual([...fx.expected].sort());
    expect(cacheTree(c)).toEqual(await serverTree(w, root));
    await w.set(`${root}/keep`, 'live');
    await waitUntil(() => log.includes('changed /keep=live (was keep)'), 'a live change after the re-sync');
  });

  it('a new session whose connection drops before the re-added watch is confirmed: the watch is added again, live changes still arrive', async () => {
    // Found by the soak: the session re-adds persistent watches on a new session; when that
    // connection died before the server's reply, the watch was never added again, and the cache
    // heard nothing more (until some later reconnection re-synced it).
    const root = uniquePath('tc');
    const w = await zk.connect();
    const { proxy, s } = await proxied(4000);
    await w.create(`${root}/a`, 'a', { createParents: true });
    const c = await started(s, root);
    const log = record(c, root);
    let cutShort = false;
    const backOnSameSession = new Promise<void>((resolve) =>
      s.on('reconnected', (i) => {
        if (i.newSession && !cutShort) {
          // The re-added watch's request is written but not yet past the proxy: hold it, then cut.
          cutShort = true;
          proxy.freeze();
          setImmediate(() => proxy.dropConnections());
        } else if (cutShort && !i.newSession) resolve(nextEvent(c, 'resynced').then(() => undefined));
      }),
    );
    s.once('lost', () => proxy.partition());
    await expireSession(s);
    proxy.heal();
    await backOnSameSession;
    proxy.thaw();
    await w.create(`${root}/after`, 'live');
    await waitUntil(() => log.includes('created /after=live'), 'the live create heard through the re-added watch', 20_000);
    expect(cacheTree(c)).toEqual(await serverTree(w, root));
  });

  it("filter: a skipped node's subtree is neither read nor reported; keepWithoutData keeps stats only", async () => {
    const root = uniquePath('tc');
    const w = await zk.connect();
    for (const p of ['app/a', 'app/b', 'secrets/k1', 'secrets/k2/deep', 'blobs/big1', 'blobs/big2'])
      await w.create(`${root}/${p}`, p, { createParents: true, parentMode: 'persistent' });
    const asked: string[] = [];
    const filter = (p: string) => {
      asked.push(p);
      if (p === `${root}/secrets`) return 'skip' as const;
      return p.startsWith(`${root}/blobs/`) ? ('keepWithoutData' as const) : ('keep' as const);
    };
    const c = await started(await zk.connect(), root, { filter });
    expect([...c].map(([p]) => p.slice(root.length)).sort()).toEqual(['', '/app', '/app/a', '/app/b', '/blobs', '/blobs/big1', '/blobs/big2']);
    expect(asked).toContain(root);
    expect(asked.filter((p) => p.startsWith(`${root}/secrets/`))).toEqual([]);
    expect(c.get(`${root}/blobs/big1`)).toEqual({ path: `${root}/blobs/big1`, data: undefined, stat: await w.exists(`${root}/blobs/big1`) });
    const log = record(c, root);
    await w.set(`${root}/secrets/k1`, 'x');
    await w.create(`${root}/secrets/k2/deep2`, 'x');
    await w.set(`${root}/blobs/big1`, 'bigger');
    await w.create(`${root}/app/c`, 'c');
    await w.create(`${root}/zz`, 'sentinel');
    await waitUntil(() => log.includes('created /zz=sentinel'), 'the sentinel');
    expect(log).toEqual(['changed /blobs/big1=- (was -)', 'created /app/c=c', 'created /zz=sentinel']);
    expect(asked.filter((p) => p.startsWith(`${root}/secrets/`))).toEqual([]);
    // A throwing filter: `error` (InvalidArgumentError naming the path), and the node is kept.
    const errors: Error[] = [];
    const t = new TreeCache(w, root, {
      filter: (p) => {
        if (p.endsWith('/app/a')) throw new Error('boom');
        return 'keep';
      },
    });
    t.on('error', (e) => errors.push(e));
    await t.start().finally(() => cleanup.push(() => t.close()));
    expect(t.get(`${root}/app/a`)?.data?.toString()).toBe('app/a');
    expect(errors[0]).toBeInstanceOf(InvalidArgumentError);
    expect(errors[0]!.message).toMatch(/app\/a.*boom/);
  });

  it('rejects bad input with typed errors before anything is sent', async () => {
    const s = await zk.connect();
    expect(() => new TreeCache({} as ZkSession, '/x')).toThrow(InvalidArgumentError);
    expect(() => new TreeCache(s, 'x')).toThrow(InvalidPathError);
    expect(() => new TreeCache(s, '/zookeeper/config')).toThrow(InvalidPathError);
    expect(() => new TreeCache(s, '/x', { filtre: () => 'keep' } as never)).toThrow(/unknown option filtre/);
    expect(() => new TreeCache(s, '/x', { filter: 'keep' } as never)).toThrow(/option filter must be a function/);
    const c = new TreeCache(s, uniquePath('tc'));
    cleanup.push(() => c.close());
    await expect(c.start({ timeoutMs: -1 })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(c.start({ signal: 'no' as never })).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(() => c.get('nope')).toThrow(InvalidPathError);
    expect(() => c.children('/a//b')).toThrow(InvalidPathError);
    await c.start();
    await expect(c.start()).rejects.toBeInstanceOf(IllegalStateError);
    const native = await zk.connect({ transport: 'native' });
    await expect(new TreeCache(native, '/x').start()).rejects.toBeInstanceOf(UnsupportedError);
    // The root is allowed: the whole tree (here filtered down to one subtree).
    const root = uniquePath('tc');
    await s.create(`${root}/a`, 'a', { createParents: true });
    const all = await started(s, '/', { filter: (p) => (p === '/' || p === root || p.startsWith(`${root}/`) ? 'keep' : 'skip') });
    expect([...all].map(([p]) => p).sort()).toEqual(['/', root, `${root}/a`]);
    expect(all.children('/')).toEqual([root.slice(1)]);
    const created = nextEvent<[string]>(all, 'created');
    expect([await s.create(`${root}/b`, 'b'), (await created)[0]]).toEqual([`${root}/b`, `${root}/b`]);
  });

  it('a read the server refuses during the load fails start() with its typed error and closes the cache', async () => {
    const root = uniquePath('tc');
    const w = await zk.connect({ auth: { credentials: 'owner:secret' } });
    await w.create(root, 'r');
    await w.create(`${root}/open`, 'o');
    await w.create(`${root}/locked`, 'l', { acl: Acls.CREATOR_ALL });
    const s = await zk.connect();
    const c = new TreeCache(s, root);
    await expect(c.start({ timeoutMs: 20_000 })).rejects.toBeInstanceOf(NoAuthError);
    expect(await watched(root), 'the watch is removed').toBe(false);
    await expect(c.start()).rejects.toBeInstanceOf(IllegalStateError);
    // Skipping the unreadable node lets it load.
    const ok = await started(s, root, { filter: (p) => (p.endsWith('/locked') ? 'skip' : 'keep') });
    expect(ok.size).toBe(2);
  });

  it('close removes the watch on the server, is idempotent, and fails a pending start with ClosedError', async () => {
    const root = uniquePath('tc');
    const s = await zk.connect();
    const c = await started(s, root);
    expect(await watched(root)).toBe(true);
    await Promise.all([c.close(), c.close()]);
    expect(await watched(root)).toBe(false);
    await expect(c.start()).rejects.toBeInstanceOf(IllegalStateError);
    // A start still waiting (the session cannot reach the server) is ended by close().
    const { proxy, s: cut } = await proxied(20_000);
    proxy.partition();
    const p = new TreeCache(cut, root);
    const waiting = expect(p.start()).rejects.toBeInstanceOf(ClosedError);
    await Promise.all([p.close(), waiting]);
    proxy.heal();
  });
});
