// Watches across reconnects at scale (SetWatches in 128 KB batches), the diagnostics channels,
// and callbacks that throw: on real servers, through the fault proxy.
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ZkClient } from '../src/client/client.js';
import { WatchRegistry, type ClientWatchEvent } from '../src/client/watches.js';
import { startProxy, type ZkProxy } from '../src/testing/index.js';
import { nextEvent, uniquePath, useServer, waitUntil } from './helpers.js';

const zk = useServer();
const OPEN = [{ perms: 31, scheme: 'world', id: 'anyone' }];
let proxy: ZkProxy;
beforeAll(async () => {
  proxy = await startProxy(zk.server.connectString);
});
afterAll(async () => {
  await proxy.close();
});

async function connected(cs: string): Promise<ZkClient> {
  const c = new ZkClient(cs, { sessionTimeoutMs: 10_000 }).start();
  await nextEvent(c, 'connected');
  return c;
}

describe('watches after a reconnect', () => {
  it('more than 128 KB of watched paths all come back (several SetWatches batches) and all fire for changes made while away', {
    timeout: 120_000,
  }, async () => {
    const root = uniquePath('many');
    const writer = await zk.connect();
    await writer.create(root);
    const name = (i: number) => `${'n'.repeat(90)}-${String(i).padStart(5, '0')}`;
    const n = 1600; // 1600 × ~120 bytes of path ≈ 190 KB: at least two batches
    await Promise.all(Array.from({ length: n }, (_, i) => writer.create(`${root}/${name(i)}`, 'a')));
    const c = await connected(proxy.connectString);
    try {
      const fired = new Set<string>();
      await Promise.all(
        Array.from({ length: n }, (_, i) =>
          c.getData(`${root}/${name(i)}`, (e) => {
            if (e.type === 'changed') fired.add(e.path);
          }),
        ),
      );
      expect(c.watchedPaths().data).toHaveLength(n);
      const id = c.sessionId;
      const down = nextEvent(c, 'disconnected');
      proxy.partition(); // new connections stall too: the client stays away while the changes happen
      proxy.dropConnections();
      await down;
      await Promise.all(Array.from({ length: n }, (_, i) => writer.set(`${root}/${name(i)}`, 'b')));
      expect(fired.size).toBe(0);
      const back = nextEvent<[{ sessionId: string; newSession: boolean }]>(c, 'connected', 30_000);
      proxy.heal();
      const [info] = await back;
      expect(info).toMatchObject({ sessionId: id, newSession: false });
      await waitUntil(() => fired.size === n, `all ${n} data watches to fire after the reconnect (fired ${fired.size})`, 30_000);
      expect(c.watchedPaths().data).toHaveLength(0); // one-shot: each gone once it fired
    } finally {
      await c.close();
      await writer.delete(root, { recursive: true });
    }
  });

  it('a watch callback that throws is reported and the client goes on', async () => {
    const path = uniquePath('throws');
    const writer = await zk.connect();
    await writer.create(path, 'a');
    const c = await connected(zk.server.connectString);
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on('warning', onWarning);
    try {
      let second = false;
      await c.getData(path, () => {
        throw new Error('boom in a watcher');
      });
      await c.getData(path, () => {
        second = true;
      });
      await writer.set(path, 'b');
      await waitUntil(() => second, 'the second watcher of the same event');
      await waitUntil(() => warnings.some((m) => m.includes('boom in a watcher')), 'a warning naming the error');
      expect((await c.getData(path)).data.toString()).toBe('b');
      expect(c.state).toBe('connected');
    } finally {
      process.off('warning', onWarning);
      await c.close();
    }
  });
});

describe('diagnostics channels', () => {
  it('publish each request, its reply and each state change', async () => {
    const requests: Array<{ op: string; path?: string }> = [];
    const replies: Array<{ op: string; err: number; ms: number }> = [];
    const states: string[] = [];
    const onRequest = (m: unknown) => requests.push(m as { op: string; path?: string });
    const onReply = (m: unknown) => replies.push(m as { op: string; err: number; ms: number });
    const onState = (m: unknown) => states.push((m as { state: string }).state);
    subscribe('zk-recipes:client:request', onRequest);
    subscribe('zk-recipes:client:reply', onReply);
    subscribe('zk-recipes:client:state', onState);
    const path = uniquePath('diag');
    const c = await connected(zk.server.connectString);
    try {
      await c.create(path, Buffer.alloc(0), { acl: OPEN, flags: 0 });
      await c.getData(`${path}/missing`).catch(() => undefined);
      expect(requests).toEqual(
        expect.arrayContaining([expect.objectContaining({ op: 'create', path }), expect.objectContaining({ op: 'get', path: `${path}/missing` })]),
      );
      expect(replies.find((r) => r.op === 'create')).toMatchObject({ err: 0 });
      expect(replies.find((r) => r.op === 'get')).toMatchObject({ err: -101 });
      expect(replies.every((r) => r.ms >= 0)).toBe(true);
      expect(states).toContain('connected');
    } finally {
      await c.close();
      unsubscribe('zk-recipes:client:request', onRequest);
      unsubscribe('zk-recipes:client:reply', onReply);
      unsubscribe('zk-recipes:client:state', onState);
    }
    expect(states).toContain('closed');
  });
});

describe('the watch registry (pure)', () => {
  it('one callback, a second one joining, the same one twice, removal of one: each fires as the Java client does', () => {
    const r = new WatchRegistry();
    const got: string[] = [];
    const a = (e: ClientWatchEvent) => got.push(`a ${e.type} ${e.path}`);
    const b = (e: ClientWatchEvent) => got.push(`b ${e.type} ${e.path}`);
    r.add('data', '/x', a);
    r.add('data', '/x', a); // the same callback twice: one watch
    expect(r.remove('data', '/x', b)).toEqual({ removed: false, remaining: true });
    r.deliver({ type: 'changed', path: '/x' });
    expect(got).toEqual(['a changed /x']);
    expect(r.has('data', '/x')).toBe(false); // one-shot: taken away
    r.add('data', '/x', a);
    r.add('data', '/x', b);
    r.add('exist', '/x', a); // a on two kinds fires once per event
    expect(r.remove('data', '/x', b)).toEqual({ removed: true, remaining: true });
    r.add('data', '/x', b);
    got.length = 0;
    r.deliver({ type: 'deleted', path: '/x' });
    expect(got).toEqual(['a deleted /x', 'b deleted /x']);
    expect(r.size).toBe(0);
    r.add('persistent', '/p', a);
    r.deliver({ type: 'changed', path: '/p' });
    r.deliver({ type: 'changed', path: '/p' });
    expect(r.remove('persistent', '/p', a)).toEqual({ removed: true, remaining: false });
    expect(got.slice(2)).toEqual(['a changed /p', 'a changed /p']);
  });
});
