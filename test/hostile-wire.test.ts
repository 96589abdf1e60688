// Hostile bytes between the TypeScript client and a real server, through the test kit's fault proxy
// (src/testing/proxy-faults.ts describes each mode), toward the client and toward the server:
// - garbage, truncate, oversize, duplicate (replayed frames): the client drops that connection with
//   a typed error, never hands a reply to a request it does not answer, and gets its session back;
//   through a session, the requests in flight are retried and each gets its own answer;
// - split (1-3 bytes at a time, legal TCP): nothing is dropped, everything is reassembled;
// - flip (one bit; ZooKeeper frames carry no checksum): the client drops the connection with a
//   typed error or hands the answer on as it came, never stalls (a length prefix that lies is
//   caught by the read timeout counted in whole frames), and recovers once the flips stop;
// - recipes under a stream of faults (one every 200-500 ms, random mode, random direction, random
//   client) for 20 s: a Lock's holdings never overlap and every contender holds again afterwards;
//   a DistributedQueue loses no item whose put resolved.
// Nothing may reach the process as an uncaught exception or an unhandled rejection.
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectionLossError, DistributedQueue, ZkError, ZkSession, type SessionOptions } from '../src/index.js';
import { ZkClient } from '../src/client/client.js';
import { startProxy, startZooKeeper, type ZkProxy, type ZooKeeperServer } from '../src/testing/index.js';
import type { ProxyCorruption, ProxyDirection } from '../src/testing/proxy.js';
import { FencedResource, checkAccounting, checkMutualExclusion } from './faults/checkers.js';
import { LockLoop, pause } from './faults/harness.js';
import { nextEvent, uniquePath, useNoEscapes, waitUntil } from './helpers.js';

let server: ZooKeeperServer;
beforeAll(async () => {
  server = await startZooKeeper();
});
afterAll(async () => {
  await server?.close();
});

const { closers } = useNoEscapes();

const DIRECTIONS: readonly ProxyDirection[] = ['toClient', 'toServer'];
/** The modes a client must answer by dropping the connection. */
const DROPPING: readonly ProxyCorruption[] = ['garbage', 'truncate', 'oversize', 'duplicate'];
/** The modes of the soak: every one a client can tell from good bytes (flip is not: see proxy-faults.ts). */
const SOAK_MODES: readonly ProxyCorruption[] = ['garbage', 'truncate', 'oversize', 'duplicate', 'split'];

async function proxyTo(): Promise<ZkProxy> {
  const p = await startProxy(server.connectString);
  closers.push(() => p.close());
  return p;
}

async function startClient(cs: string, sessionTimeoutMs = 8000): Promise<ZkClient> {
  const c = new ZkClient(cs, { sessionTimeoutMs, followConfig: false });
  closers.push(() => c.close());
  const up = nextEvent(c, 'connected', 20_000);
  c.start();
  await up;
  return c;
}

async function connect(cs: string, opts: SessionOptions = {}): Promise<ZkSession> {
  const s = await ZkSession.connect(cs, { sessionTimeoutMs: 8000, ...opts });
  closers.push(() => s.close());
  return s;
}

/** `n` nodes, each with its own data (`d<i>`), so that a reply handed to the wrong request shows. */
async function nodes(n: number, name: string): Promise<string[]> {
  const s = await connect(server.connectString);
  const base = uniquePath(name);
  const paths = Array.from({ length: n }, (_, i) => `${base}-${i}`);
  await Promise.all(paths.map((p, i) => s.create(p, `d${i}`)));
  return paths;
}

/** The session's state changes, in order. */
function states(s: ZkSession): string[] {
  const log: string[] = [];
  s.on('state', (st) => log.push(st));
  return log;
}

describe('each corruption, toward the client and toward the server', () => {
  const cases = DROPPING.flatMap((how) => DIRECTIONS.map((dir) => [how, dir] as const));

  it.each(cases)(
    '%s %s: the client drops the connection with a typed error, hands no reply to the wrong request, and gets its session back',
    async (how, dir) => {
      const paths = await nodes(5, `hw-${how}`);
      const proxy = await proxyTo();
      const c = await startClient(proxy.connectString);
      const id = c.sessionId;
      const down = nextEvent<[{ reason: string }]>(c, 'disconnected', 20_000);
      const up = nextEvent<[{ sessionId: string; newSession: boolean }]>(c, 'connected', 20_000);
      proxy.corruptNext(dir, how);
      // Five requests in one chunk; their replies come in one or a few.
      const results = await Promise.all(
        paths.map((p) =>
          c.getData(p).then(
            (r) => r.data.toString(),
            (e: unknown) => e,
          ),
        ),
      );
      const [{ reason }] = await down;
      expect(proxy.corruptions[how]).toBe(1);
      results.forEach((r, i) => {
        if (typeof r === 'string') expect(r, `request ${i}: its own answer or none`).toBe(`d${i}`);
        else expect(r, `request ${i}`).toBeInstanceOf(ConnectionLossError);
      });
      if (how === 'duplicate') expect(reason).toMatch(/reply xid \d+ out of order/); // the replayed reply answers nothing asked
      if (how === 'oversize' && dir === 'toClient') expect(reason).toMatch(/frame of 2147483647 bytes is over the limit/);
      if (dir === 'toServer' && how !== 'duplicate') expect(reason).toMatch(/closed by the server|ECONNRESET/);
      const [info] = await up;
      expect(info).toMatchObject({ sessionId: id, newSession: false });
      const again = await Promise.all(paths.map((p) => c.getData(p)));
      expect(again.map((r) => r.data.toString())).toEqual(paths.map((_, i) => `d${i}`));
    },
  );

  it.each(cases)('%s %s through a session: the requests in flight are retried, each gets its own answer; same session', async (how, dir) => {
    const paths = await nodes(5, `hws-${how}`);
    const proxy = await proxyTo();
    const s = await connect(proxy.connectString);
    const id = s.sessionId;
    const log = states(s);
    proxy.corruptNext(dir, how);
    const got = await Promise.all(Array.from({ length: 20 }, (_, k) => s.get(paths[k % 5]!)));
    expect(got.map((r) => r.data.toString())).toEqual(Array.from({ length: 20 }, (_, k) => `d${k % 5}`));
    // The drop may come after the last answer (a replayed reply that answers nothing asked).
    await waitUntil(() => log.length === 2 && s.state === 'connected', `suspended, then connected (have ${log.join(', ')})`);
    expect(log).toEqual(['suspended', 'connected']);
    expect(s.sessionId).toBe(id);
    expect((await s.get(paths[0]!)).data.toString()).toBe('d0');
  });

  it('split both ways on every chunk, the handshake included: nothing is dropped; replies, watch events and the handshake are reassembled', async () => {
    const paths = await nodes(20, 'hw-split');
    const proxy = await proxyTo();
    proxy.corruptEvery('toClient', 'split', 1);
    proxy.corruptEvery('toServer', 'split', 1);
    const s = await connect(proxy.connectString);
    const log = states(s);
    const got = await Promise.all(Array.from({ length: 200 }, (_, k) => s.get(paths[k % 20]!)));
    expect(got.map((r) => r.data.toString())).toEqual(Array.from({ length: 200 }, (_, k) => `d${k % 20}`));
    const direct = await connect(server.connectString);
    let fire!: (ev: { type: string; path: string }) => void;
    const fired = new Promise<{ type: string; path: string }>((resolve) => {
      fire = resolve;
    });
    expect(await s.exists(paths[3]!, { watch: (ev) => fire(ev) })).not.toBeNull();
    await direct.set(paths[3]!, 'new');
    expect(await fired).toEqual({ type: 'changed', path: paths[3] });
    expect((await s.get(paths[3]!)).data.toString()).toBe('new');
    expect(log).toEqual([]); // never suspended
    expect(proxy.corruptions.split).toBeGreaterThan(10); // the handshake both ways, the requests, the replies
  });

  it('a length prefix that lies (one flipped bit asks for 64 KB more) stalls nothing: no complete frame within the read timeout drops the connection', async () => {
    const proxy = await proxyTo();
    const s = await connect(server.connectString);
    const path = uniquePath('hw-stall');
    await s.create(path, Buffer.alloc(100, 7)); // its getData reply: one 192-byte frame
    const c = await startClient(proxy.connectString, 3000);
    const id = c.sessionId;
    const readTimeout = Math.floor((c.sessionTimeoutMs * 2) / 3);
    // The next chunk to the client: flip bit 0 of byte 1, the length's second byte (+65536).
    const draws = [0, 0, 1.5 / 192, 0];
    proxy.corruptEvery('toClient', 'flip', 0.5, () => draws.shift() ?? 0.99);
    const up = nextEvent<[{ sessionId: string; newSession: boolean }]>(c, 'connected', 20_000);
    const t0 = performance.now();
    // Meanwhile the client's pings are answered: bytes keep coming, none completes the frame.
    const err = await c.getData(path).then(
      () => undefined,
      (e: unknown) => e,
    );
    const ms = performance.now() - t0;
    expect(proxy.corruptions.flip).toBe(1);
    expect(err).toBeInstanceOf(ConnectionLossError);
    expect((err as Error).message).toMatch(/read timeout: no complete frame from .* within \d+ ms/);
    expect(ms).toBeGreaterThanOrEqual(readTimeout - 100);
    expect(ms).toBeLessThan(readTimeout + readTimeout / 8 + 1500);
    const [info] = await up;
    expect(info).toMatchObject({ sessionId: id, newSession: false });
    expect((await c.getData(path)).data).toEqual(Buffer.alloc(100, 7));
  });

  it.each(DIRECTIONS)(
    'flip %s: each answer is typed error, or handed on as it came (no checksum to tell); nothing stalls; back to normal when the flips stop',
    async (dir) => {
      const paths = await nodes(10, `hw-flip-${dir}`);
      const proxy = await proxyTo();
      const s = await connect(proxy.connectString, { sessionTimeoutMs: 4000 });
      proxy.corruptEvery(dir, 'flip', 0.05);
      const outcomes = { own: 0, other: 0, typed: 0 };
      const untyped: unknown[] = [];
      let slowest = 0;
      const t0 = performance.now();
      while (performance.now() - t0 < 4000) {
        const round = await Promise.all(
          paths.map((p, i) => {
            const asked = performance.now();
            return s
              .get(p, { signal: AbortSignal.timeout(30_000) })
              .then(
                (r) => (r.data.toString() === `d${i}` ? 'own' : 'other'),
                (e: unknown) => {
                  if (!(e instanceof ZkError)) untyped.push(e);
                  return 'typed';
                },
              )
              .finally(() => {
                slowest = Math.max(slowest, performance.now() - asked);
              });
          }),
        );
        for (const o of round) outcomes[o as keyof typeof outcomes]++;
      }
      proxy.corruptEvery(dir, 'flip', 0);
      console.log(`[hostile-wire] flip ${dir}: ${proxy.corruptions.flip} flips; answers: ${JSON.stringify(outcomes)}; slowest ${Math.round(slowest)} ms`);
      expect(untyped).toEqual([]);
      // No stall: the slowest answer came within the session's retries (each attempt ends by a
      // reply, a drop or a read timeout), far from the call's own 30 s timeout.
      expect(slowest).toBeLessThan(20_000);
      expect(proxy.corruptions.flip).toBeGreaterThan(0);
      // Back to normal (the same session, or a new one if a flipped zxid made the server refuse it).
      await waitUntil(
        async () => (await Promise.all(paths.map((p) => s.get(p, { signal: AbortSignal.timeout(2000) })))).every((r, i) => r.data.toString() === `d${i}`),
        'every read to be right again',
        30_000,
      );
    },
  );
});

/** One fault every 200-500 ms on a random proxy, direction and mode, until `ms` have passed. */
async function chaos(proxies: readonly ZkProxy[], ms: number): Promise<number> {
  const end = Date.now() + ms;
  let n = 0;
  while (Date.now() < end) {
    await pause(200 + Math.random() * 300);
    const p = proxies[Math.floor(Math.random() * proxies.length)]!;
    p.corruptNext(DIRECTIONS[Math.floor(Math.random() * 2)]!, SOAK_MODES[Math.floor(Math.random() * SOAK_MODES.length)]!);
    n++;
  }
  return n;
}

/** The faults the proxies applied, per mode. */
function applied(proxies: readonly ZkProxy[]): Record<string, number> {
  const sum: Record<string, number> = {};
  for (const p of proxies) for (const [k, v] of Object.entries(p.corruptions)) sum[k] = (sum[k] ?? 0) + v;
  return sum;
}

describe('recipes under a stream of hostile bytes (20 s)', () => {
  it('a Lock contended through three proxies: holdings never overlap, tokens rise, every contender holds again afterwards', { timeout: 90_000 }, async () => {
    const path = uniquePath('hw-lock');
    const proxies = await Promise.all([0, 1, 2].map(() => proxyTo()));
    const sessions = await Promise.all(proxies.map((p) => connect(p.connectString, { sessionTimeoutMs: 6000 })));
    const resource = new FencedResource();
    const loops = sessions.map((s, i) => new LockLoop(`c${i}`, s, path, resource, 30));
    closers.push(() => Promise.all(loops.map((l) => l.stop())));
    await waitUntil(() => loops.every((l) => l.acquisitions >= 1), 'every contender to hold once');
    const suspended = sessions.map((s) => states(s));

    const scheduled = await chaos(proxies, 20_000);
    const tStop = Date.now();
    await waitUntil(() => loops.every((l) => l.since(tStop) >= 1), 'every contender to hold again after the faults', 30_000);
    await Promise.all(loops.map((l) => l.stop()));

    const holdings = loops.flatMap((l) => l.holdings);
    const report = checkMutualExclusion(holdings);
    const faults = applied(proxies);
    console.log(
      `[hostile-wire] lock: ${scheduled} faults scheduled, applied ${JSON.stringify(faults)}; ${holdings.length} holdings, `
        + `${suspended.flat().filter((st) => st === 'suspended').length} suspensions, ${loops.map((l) => l.errors).join('/')} acquire errors, `
        + `${report.checks} checks, fenced writes refused ${resource.refused}`,
    );
    expect(report.violations).toEqual([]);
    expect(resource.refused).toBe(0);
    expect(Object.values(faults).reduce((a, b) => a + b, 0)).toBeGreaterThan(20);
    expect(suspended.flat().filter((st) => st === 'suspended').length).toBeGreaterThan(5);
  });

  it('a DistributedQueue, producer and two consumers each through a proxy: every item whose put resolved is consumed', { timeout: 90_000 }, async () => {
    const path = uniquePath('hw-queue');
    const proxies = await Promise.all([0, 1, 2].map(() => proxyTo()));
    const [producer, ...consumers] = await Promise.all(proxies.map((p) => connect(p.connectString, { sessionTimeoutMs: 6000 })));
    const delivered: string[] = [];
    const nodesOf = new Map<string, Set<string>>(); // item → the item nodes it was delivered from
    const consumerErrors: string[] = [];
    const handles = consumers.map((s) =>
      new DistributedQueue<string>(s, path)
        .on('consumerError', (e) => consumerErrors.push(String((e as Error)?.message ?? e)))
        .consume(
          async (item, { name }) => {
            delivered.push(item);
            nodesOf.set(item, (nodesOf.get(item) ?? new Set()).add(name));
            await pause(Math.random() * 3);
          },
          { concurrency: 4 },
        ),
    );
    closers.push(() => Promise.all(handles.map((h) => h.close())));
    const queue = new DistributedQueue<string>(producer!, path);
    const resolved: string[] = [];
    const attempted = new Set<string>();
    let failedPuts = 0;
    let stop = false;
    const produce = (async () => {
      // Four puts in flight at a time, about 100 a second, until the faults end.
      for (let i = 0; !stop; i += 4) {
        await pause(40);
        const batch = [0, 1, 2, 3].map((k) => `item-${i + k}`);
        await Promise.all(
          batch.map((item) => {
            attempted.add(item);
            return queue.put(item).then(
              () => {
                resolved.push(item);
              },
              () => {
                failedPuts++; // outcome unknown: it may or may not be in the queue
              },
            );
          }),
        );
      }
    })();
    const scheduled = await chaos(proxies, 20_000);
    stop = true;
    await produce;
    const want = new Set(resolved);
    const consumed = new Set<string>();
    await waitUntil(
      () => {
        for (const d of delivered) consumed.add(d);
        return [...want].every((item) => consumed.has(item));
      },
      `every resolved put (${want.size}) to be consumed (have ${consumed.size})`,
      30_000,
    );
    await Promise.all(handles.map((h) => h.close()));

    const faults = applied(proxies);
    const report = checkAccounting(
      resolved,
      delivered.filter((d) => want.has(d)),
      { maxDuplicates: Number.MAX_SAFE_INTEGER, what: 'item' },
    );
    const strays = delivered.filter((d) => !attempted.has(d));
    // A duplicate is one put written twice (two nodes: a request the server ran twice), or one node
    // delivered twice (the consumers' doing).
    const writtenTwice = [...nodesOf.values()].reduce((n, names) => n + names.size - 1, 0);
    console.log(
      `[hostile-wire] queue: ${scheduled} faults scheduled, applied ${JSON.stringify(faults)}; ${resolved.length} puts resolved, ${failedPuts} failed; `
        + `${delivered.length} deliveries, ${report.duplicates} duplicates (${writtenTwice} puts written twice, ${report.duplicates - writtenTwice} nodes delivered twice); consumer errors: ${JSON.stringify(consumerErrors)}`,
    );
    expect(report.violations).toEqual([]);
    expect(report.lost).toEqual([]);
    expect(strays).toEqual([]); // nothing delivered that nobody put
    expect(resolved.length).toBeGreaterThan(100);
    expect(Object.values(faults).reduce((a, b) => a + b, 0)).toBeGreaterThan(20);
  });
});
