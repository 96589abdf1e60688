// The fault proxy against the TypeScript client and a real server: a frozen connection is found by
// the read timeout and replaced (same session); a partition past the session timeout loses the
// session and a new one follows the heal; a dropped connection fails every pending request with
// CONNECTION_LOSS in the order sent; corrupted frames (garbage, truncated, oversized, in a reply
// or in the handshake) drop that connection only: the client reconnects and goes on. Nothing here
// may reach the process as an uncaught exception or an unhandled rejection.
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Acls, ConnectionLossError, ZkError, ZkSession } from '../src/index.js';
import { ZkClient, type ClientOptions } from '../src/client/client.js';
import { startProxy, startZooKeeper, type ZkProxy, type ZooKeeperServer } from '../src/testing/index.js';
import type { ProxyCorruption, ProxyDirection } from '../src/testing/proxy.js';
import { nextEvent, uniquePath, useNoEscapes, waitUntil } from './helpers.js';

let server: ZooKeeperServer;
beforeAll(async () => {
  server = await startZooKeeper();
});
afterAll(async () => {
  await server?.close();
});

// Process-level: whatever the faults do, nothing escapes to the process.
const { escaped, closers } = useNoEscapes();

const OPEN = Acls.OPEN;

async function proxyTo(target: string): Promise<ZkProxy> {
  const p = await startProxy(target);
  closers.push(() => p.close());
  return p;
}

async function startClient(cs: string, opts: ClientOptions = {}): Promise<ZkClient> {
  const c = new ZkClient(cs, { sessionTimeoutMs: 10_000, followConfig: false, ...opts });
  closers.push(() => c.close());
  const up = nextEvent(c, 'connected', 20_000);
  c.start();
  await up;
  return c;
}

/** Every event of a client, in order, with the time it came. */
function recordEvents(c: ZkClient): Array<{ ev: string; at: number; info?: unknown }> {
  const log: Array<{ ev: string; at: number; info?: unknown }> = [];
  for (const ev of ['connected', 'disconnected', 'expired', 'authFailed', 'closed'] as const) {
    c.on(ev, (info?: unknown) => log.push({ ev, at: performance.now(), info }));
  }
  return log;
}

describe('fault proxy against the client', () => {
  it('a frozen connection is detected by the read timeout (2/3 of the session timeout, well within it) and replaced: same session', async () => {
    const proxy = await proxyTo(server.connectString);
    const direct = await startClient(server.connectString);
    const a = await startClient(proxy.connectString, { sessionTimeoutMs: 9000 });
    const negotiated = a.sessionTimeoutMs;
    expect(negotiated).toBe(9000);
    const readTimeout = Math.floor((negotiated * 2) / 3);
    const path = uniquePath('frozen');
    await a.create(path, Buffer.from('mine'), { acl: OPEN, flags: 1 });
    const id = a.sessionId;
    const events = recordEvents(a);

    await a.exists('/'); // the last byte from the server arrives just before the freeze
    const t0 = performance.now();
    proxy.freeze();
    const [down] = await nextEvent<[{ reason: string }]>(a, 'disconnected', 20_000);
    const elapsed = performance.now() - t0;
    expect(down.reason).toMatch(/read timeout/);
    // Not before the read timeout (it was the silence that dropped it), and not after the
    // session timeout (the ephemerals would be gone by then). Margin: the timeout's tick
    // (readTimeout/8) and a loaded machine's timer lateness.
    expect(elapsed).toBeGreaterThanOrEqual(readTimeout - 100);
    expect(elapsed).toBeLessThan(readTimeout + readTimeout / 8 + 1500);
    expect(elapsed).toBeLessThan(negotiated);

    // A new connection passes the proxy (freeze holds only the connections open at the time).
    const [info] = await nextEvent<[{ sessionId: string; newSession: boolean }]>(a, 'connected', 20_000);
    expect(info).toMatchObject({ sessionId: id, newSession: false });
    expect(a.sessionId).toBe(id);
    expect((await a.getData(path)).data.toString()).toBe('mine');
    expect((await direct.exists(path))?.ephemeralOwner).toBe(id);
    expect(events.map((e) => e.ev)).toEqual(['disconnected', 'connected']);
  });

  it('a partition longer than the session timeout: the session is lost, and after heal a new session', async () => {
    const proxy = await proxyTo(server.connectString);
    const direct = await startClient(server.connectString);
    const s = await ZkSession.connect(proxy.connectString, { sessionTimeoutMs: 3000, connectTimeoutMs: 20_000 });
    closers.push(() => s.close());
    const oldId = s.sessionId;
    const path = uniquePath('partitioned');
    await s.create(path, 'doomed', { mode: 'ephemeral' });
    const states: string[] = [];
    s.on('state', (st) => states.push(st));
    const lost = nextEvent<[{ sessionId: string; reason: string }]>(s, 'lost', 30_000);
    proxy.partition();
    const [info] = await lost;
    expect(info).toEqual({ sessionId: oldId, reason: 'timeout' });
    expect(states).toEqual(['suspended', 'lost']);
    expect(s.state).toBe('lost'); // still cut off: no new session yet
    // The server expired it as well: its ephemeral is gone for everyone.
    await waitUntil(async () => (await direct.exists(path)) === null, "the lost session's ephemeral to vanish", 30_000);
    expect(s.state).toBe('lost');

    const reconnected = nextEvent<[{ sessionId: string; newSession: boolean }]>(s, 'reconnected', 30_000);
    proxy.heal();
    const [back] = await reconnected;
    expect(back.newSession).toBe(true);
    expect(back.sessionId).not.toBe(oldId);
    expect(s.state).toBe('connected');
    expect(states).toEqual(['suspended', 'lost', 'connected']);
    const again = await s.create(path, 'new', { mode: 'ephemeral' });
    expect((await direct.exists(again))?.ephemeralOwner).toBe(back.sessionId);
  });

  it('a dropped connection fails every pending request with ConnectionLossError, in the order sent', async () => {
    const proxy = await proxyTo(server.connectString);
    const a = await startClient(proxy.connectString, { sessionTimeoutMs: 20_000 });
    const path = uniquePath('pending');
    await a.create(path, Buffer.from('x'), { acl: OPEN, flags: 0 });
    const id = a.sessionId;
    proxy.freeze(); // requests go out, replies are held
    const settled: Array<{ i: number; err: unknown }> = [];
    const pending = Array.from({ length: 50 }, (_, i) =>
      a.getData(path).then(
        () => {
          settled.push({ i, err: undefined });
        },
        (err: unknown) => {
          settled.push({ i, err });
        },
      ),
    );
    await new Promise((r) => setImmediate(r)); // the frames are written
    expect(settled).toEqual([]); // held by the freeze: no reply yet
    const up = nextEvent<[{ sessionId: string; newSession: boolean }]>(a, 'connected', 20_000);
    proxy.dropConnections();
    await Promise.all(pending);
    expect(settled.map((s) => s.i)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    for (const { i, err } of settled) {
      expect(err, `request ${i}`).toBeInstanceOf(ConnectionLossError);
      expect(err).toMatchObject({ code: 'CONNECTION_LOSS', rc: -4, op: 'get', path });
    }
    const [info] = await up;
    expect(info).toMatchObject({ sessionId: id, newSession: false });
    expect((await a.getData(path)).data.toString()).toBe('x');
  });

  const corruptions: Array<[ProxyDirection, ProxyCorruption]> = [
    ['toClient', 'garbage'],
    ['toClient', 'truncate'],
    ['toClient', 'oversize'],
    ['toServer', 'oversize'],
  ];

  it.each(corruptions)('a corrupted frame (%s, %s) drops that connection only: the client reconnects and requests succeed', async (direction, how) => {
    const proxy = await proxyTo(server.connectString);
    const direct = await startClient(server.connectString);
    const a = await startClient(proxy.connectString);
    const path = uniquePath(`corrupt-${how}`);
    await a.create(path, Buffer.from('data'), { acl: OPEN, flags: 1 });
    const id = a.sessionId;
    const events = recordEvents(a);
    const down = nextEvent<[{ reason: string }]>(a, 'disconnected', 20_000);
    const up = nextEvent<[{ sessionId: string; newSession: boolean }]>(a, 'connected', 20_000);
    proxy.corruptNext(direction, how);
    // The next frame through the proxy in that direction: this request, or its reply.
    const inFlight = a.getData(path).then(
      () => undefined,
      (err: unknown) => err,
    );
    const [reason] = await down;
    expect(reason.reason).toBeTruthy();
    const err = await inFlight;
    expect(err).toBeInstanceOf(ConnectionLossError);
    const [info] = await up;
    expect(info).toMatchObject({ sessionId: id, newSession: false });
    expect(a.state).toBe('connected');
    for (let i = 0; i < 5; i++) expect((await a.getData(path)).data.toString()).toBe('data');
    await a.setData(path, Buffer.from('after'));
    expect((await direct.getData(path)).data.toString()).toBe('after');
    expect((await direct.exists(path))?.ephemeralOwner).toBe(id);
    expect(events.map((e) => e.ev)).toEqual(['disconnected', 'connected']);
  });

  it.each(['garbage', 'truncate', 'oversize'] as const)(
    'a corrupted ConnectResponse (%s) fails that attempt only; the next one connects, same session',
    async (how) => {
      const proxy = await proxyTo(server.connectString);
      const a = await startClient(proxy.connectString);
      const path = uniquePath(`corrupt-hs-${how}`);
      await a.create(path, Buffer.from('data'), { acl: OPEN, flags: 1 });
      const id = a.sessionId;
      const events = recordEvents(a);
      const down = nextEvent(a, 'disconnected', 20_000);
      const up = nextEvent<[{ sessionId: string; newSession: boolean }]>(a, 'connected', 20_000);
      proxy.corruptNext('toClient', how); // the next chunk to the client: the new connection's handshake answer
      proxy.dropConnections();
      await down;
      const [info] = await up;
      expect(info).toMatchObject({ sessionId: id, newSession: false });
      expect((await a.getData(path)).data.toString()).toBe('data');
      expect(events.map((e) => e.ev)).toEqual(['disconnected', 'connected']);
    },
  );

  it('a request that fails on a dead connection fails as a typed error, never as a throw', async () => {
    const proxy = await proxyTo(server.connectString);
    const a = await startClient(proxy.connectString);
    proxy.partition();
    const down = nextEvent(a, 'disconnected', 20_000);
    proxy.dropConnections();
    await down;
    // Not connected: calls reject at once with CONNECTION_LOSS (the session layer retries them).
    const err = await a.getData('/').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ZkError);
    expect(err).toMatchObject({ code: 'CONNECTION_LOSS' });
    const up = nextEvent(a, 'connected', 20_000);
    proxy.heal();
    await up;
    await a.exists('/');
  });

  it('no uncaughtException or unhandledRejection reached the process during these tests', () => {
    expect(escaped).toEqual([]);
  });
});
