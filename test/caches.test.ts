import { describe, expect, it } from 'vitest';
import { ChildrenCache, IllegalStateError, InvalidArgumentError, NodeCache, UnsupportedError, type ChildData, type ZkSession } from '../src/index.js';
import { expireSession } from '../src/testing/index.js';
import { nextEvent, uniquePath, useServer, waitUntil } from './helpers.js';

const zk = useServer();

/** The server's children of `path` with their data, as a plain object. */
async function serverChildren(s: ZkSession, path: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  let names: string[] = [];
  try {
    names = await s.getChildren(path);
  } catch {
    return out;
  }
  for (const n of names.sort()) out[n] = (await s.get(`${path}/${n}`)).data.toString();
  return out;
}

function cached(c: ChildrenCache): Record<string, string> {
  const out: Record<string, string> = {};
  for (const n of [...c.children.keys()].sort()) out[n] = c.children.get(n)!.data?.toString() ?? '';
  return out;
}

describe('NodeCache', () => {
  it('loads, follows create/change/delete, and ends a burst of 50 writes in the server state', async () => {
    const path = uniquePath('nc');
    const s = await zk.connect();
    const writer = await zk.connect();
    await using cache = new NodeCache(s, path);
    await cache.start({ timeoutMs: 10_000 });
    expect(cache.current).toBeNull();

    const created = nextEvent(cache, 'change');
    await writer.create(path, 'v0');
    const [node] = (await created) as [{ data: Buffer } | null];
    expect(node?.data.toString()).toBe('v0');

    for (let i = 1; i <= 50; i++) void writer.set(path, `v${i}`);
    await writer.sync(path);
    await waitUntil(() => cache.data?.toString() === 'v50', 'cache shows v50');
    const server = await writer.get(path);
    expect(cache.current!.stat.mzxid).toBe(server.stat.mzxid);

    const deleted = nextEvent(cache, 'change');
    await writer.delete(path);
    expect((await deleted)[0]).toBeNull();
    expect(cache.current).toBeNull();
  });

  it('converges after its session expired while another session wrote', async () => {
    const path = uniquePath('nc');
    const s = await zk.connect({ sessionTimeoutMs: 2000 });
    const writer = await zk.connect();
    await writer.create(path, 'before');
    const cache = new NodeCache(s, path);
    await cache.start();
    expect(cache.data?.toString()).toBe('before');
    const newSession = new Promise<void>((r) =>
      s.on('reconnected', (i) => {
        if (i.newSession) r();
      }),
    );
    const lost = nextEvent(s, 'lost');
    await expireSession(s);
    await lost; // the cache's session is gone: the write below reaches it through no watch
    await writer.set(path, 'during');
    await newSession;
    await waitUntil(() => cache.data?.toString() === 'during', 'cache converged to "during"');
    // and its watch is armed again
    await writer.set(path, 'after');
    await waitUntil(() => cache.data?.toString() === 'after', 'cache follows "after"');
    await cache.close();
    await cache.close();
  });

  it('re-syncs after a reconnection to the same session (server paused and resumed)', async () => {
    const path = uniquePath('nc');
    const s = await zk.connect({ sessionTimeoutMs: 4000 });
    const writer = await zk.connect({ sessionTimeoutMs: 4000 });
    await writer.create(path, 'a');
    await using cache = new NodeCache(s, path);
    await cache.start();
    const suspended = nextEvent(s, 'suspended');
    const reconnected = nextEvent<[{ newSession: boolean }]>(s, 'reconnected');
    await zk.server.pause();
    try {
      await suspended;
    } finally {
      await zk.server.resume();
    }
    const write = writer.set(path, 'b'); // sent around the reconnection
    const [info] = await reconnected;
    expect(info.newSession).toBe(false);
    await write;
    await waitUntil(() => cache.data?.toString() === 'b', 'cache shows "b"');
    await writer.set(path, 'c');
    await waitUntil(() => cache.data?.toString() === 'c', 'cache follows "c"');
  });

  it('never misses a burst of 200 sets, deletes and re-creates fired right after an event', async () => {
    const path = uniquePath('nc');
    const s = await zk.connect();
    const writer = await zk.connect();
    await using cache = new NodeCache(s, path);
    await cache.start({ timeoutMs: 10_000 });
    const burst: Promise<unknown>[] = [];
    // From inside the listener of the first event: the burst races the cache's own read.
    cache.once('change', () => {
      for (let i = 1; i <= 200; i++) {
        const op = i % 40 === 20 ? writer.delete(path) : i % 40 === 21 ? writer.create(path, `v${i}`) : writer.set(path, `v${i}`);
        burst.push(op.catch(() => undefined));
      }
    });
    await writer.create(path, 'v0');
    await waitUntil(() => burst.length === 200, 'the burst was fired');
    await Promise.all(burst);
    const server = await writer.get(path);
    expect(server.data.toString()).toBe('v200');
    await waitUntil(() => cache.current?.stat.mzxid === server.stat.mzxid, 'the cache holds the last write');
    expect(cache.data?.toString()).toBe('v200');
    expect(cache.current!.stat.czxid).toBe(server.stat.czxid);
  });

  it('start fails with UnsupportedError on the native transport', async () => {
    const native = await zk.connect({ transport: 'native' });
    await expect(new NodeCache(native, uniquePath('nc')).start()).rejects.toBeInstanceOf(UnsupportedError);
  });

  it('a second start throws; close is idempotent', async () => {
    const s = await zk.connect();
    const cache = new NodeCache(s, uniquePath('nc'));
    await cache.start();
    await expect(cache.start()).rejects.toBeInstanceOf(IllegalStateError);
    await cache.close();
    await cache.close();
    await expect(cache.start()).rejects.toBeInstanceOf(IllegalStateError);
  });
});

describe('ChildrenCache', () => {
  it('reports adds, updates and removes with data, and ends a burst of 50 changes in the server state', async () => {
    const path = uniquePath('cc');
    const s = await zk.connect();
    const writer = await zk.connect();
    await writer.create(`${path}/pre`, 'p', { createParents: true });
    await using cache = new ChildrenCache(s, path, { withData: true });
    const added: string[] = [];
    const updated: string[] = [];
    const removed: string[] = [];
    cache.on('childAdded', (c: ChildData) => added.push(c.name));
    cache.on('childUpdated', (c: ChildData) => updated.push(c.name));
    cache.on('childRemoved', (c: ChildData) => removed.push(c.name));
    await cache.start({ timeoutMs: 10_000 });
    expect(cached(cache)).toEqual({ pre: 'p' });
    expect(added).toEqual(['pre']);

    await writer.set(`${path}/pre`, 'p2');
    await waitUntil(() => updated.includes('pre'), 'childUpdated pre');
    expect(cache.children.get('pre')!.data!.toString()).toBe('p2');

    // A burst: creates, data changes and deletes, fired without waiting.
    const ops: Promise<unknown>[] = [];
    for (let i = 0; i < 20; i++) ops.push(writer.create(`${path}/c${i}`, `d${i}`));
    for (let i = 0; i < 20; i++) ops.push(writer.set(`${path}/c${i}`, `e${i}`));
    for (let i = 0; i < 10; i++) ops.push(writer.delete(`${path}/c${i * 2}`));
    await Promise.all(ops);
    const server = await serverChildren(writer, path);
    expect(Object.keys(server)).toHaveLength(11);
    await waitUntil(() => JSON.stringify(cached(cache)) === JSON.stringify(server), 'cache equals the server');
    expect(removed.length).toBeLessThanOrEqual(10);
  });

  it('without data: names only, parent created later and removed', async () => {
    const path = uniquePath('cc');
    const s = await zk.connect();
    const writer = await zk.connect();
    const cache = new ChildrenCache(s, path);
    await cache.start();
    expect(cache.children.size).toBe(0);
    await writer.create(`${path}/a`, 'x', { createParents: true });
    await waitUntil(() => cache.children.has('a'), 'child a seen after its parent appeared');
    expect(cache.children.get('a')!.data).toBeUndefined();
    await writer.delete(path, { recursive: true });
    await waitUntil(() => cache.children.size === 0, 'children gone with the parent');
    await cache.close();
  });

  it('converges after its session expired while another session changed children and data', async () => {
    const path = uniquePath('cc');
    const s = await zk.connect({ sessionTimeoutMs: 2000 });
    const writer = await zk.connect();
    await writer.create(`${path}/keep`, 'k1', { createParents: true });
    await writer.create(`${path}/drop`, 'x');
    const cache = new ChildrenCache(s, path, { withData: true });
    await cache.start();
    expect(cached(cache)).toEqual({ drop: 'x', keep: 'k1' });
    const newSession = new Promise<void>((r) =>
      s.on('reconnected', (i) => {
        if (i.newSession) r();
      }),
    );
    const lost = nextEvent(s, 'lost');
    await expireSession(s);
    await lost;
    await writer.set(`${path}/keep`, 'k2');
    await writer.delete(`${path}/drop`);
    await writer.create(`${path}/new`, 'n');
    await newSession;
    await waitUntil(() => JSON.stringify(cached(cache)) === JSON.stringify({ keep: 'k2', new: 'n' }), 'cache converged');
    await writer.set(`${path}/new`, 'n2'); // watches armed again
    await waitUntil(() => cache.children.get('new')?.data?.toString() === 'n2', 'data watch re-armed');
    await cache.close();
  });

  it('never misses a burst of 200 creates, sets and deletes fired right after an event', async () => {
    const path = uniquePath('cc');
    const s = await zk.connect();
    const writer = await zk.connect();
    await writer.create(path, '', { createParents: true });
    await using cache = new ChildrenCache(s, path, { withData: true });
    await cache.start({ timeoutMs: 10_000 });
    const burst: Promise<unknown>[] = [];
    cache.once('childAdded', () => {
      for (let i = 0; i < 80; i++) burst.push(writer.create(`${path}/c${i}`, `d${i}`).catch(() => undefined));
      for (let i = 0; i < 80; i++) burst.push(writer.set(`${path}/c${i}`, `e${i}`).catch(() => undefined));
      for (let i = 0; i < 40; i++) burst.push(writer.delete(`${path}/c${i * 2}`).catch(() => undefined));
    });
    await writer.create(`${path}/first`, 'f');
    await waitUntil(() => burst.length === 200, 'the burst was fired');
    await Promise.all(burst);
    const server = await serverChildren(writer, path);
    expect(Object.keys(server)).toHaveLength(41);
    await waitUntil(() => JSON.stringify(cached(cache)) === JSON.stringify(server), 'the cache equals the server');
    // and its watches are still armed: a data change and a new child after the burst
    await writer.set(`${path}/c1`, 'after');
    await writer.create(`${path}/late`, 'l');
    await waitUntil(() => cache.children.get('c1')?.data?.toString() === 'after' && cache.children.has('late'), 'changes after the burst');
  });

  it('start fails with UnsupportedError on the native transport', async () => {
    const native = await zk.connect({ transport: 'native' });
    await expect(new ChildrenCache(native, uniquePath('cc')).start()).rejects.toBeInstanceOf(UnsupportedError);
  });

  it('rejects bad options', async () => {
    const s = await zk.connect();
    expect(() => new ChildrenCache(s, '/x', { withData: 'yes' as unknown as boolean })).toThrow(InvalidArgumentError);
  });
});
