// Interop with real Curator (Debian's libcurator-recipes-java 5.4): a Java InterProcessMutex and
// our Lock contend on one path without overlap; a Java InterProcessSemaphoreV2 and our Semaphore
// share one path and never exceed maxLeases holders; read-write locks exclude writers across both;
// a Curator DistributedQueue and ours exchange items both ways and, consuming one queue at once,
// never handle an item twice (shared claims under <path>-locks). Fails (never skips) without Java
// or jars.
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DistributedQueue, Lock, ReadWriteLock, Semaphore, curatorCodec, stringCodec, type Lease } from '../src/index.js';
import { uniquePath, useServer, waitUntil } from './helpers.js';
import { compilePeers, killPeers, startPeer, type CompiledPeers } from './interop/curator.js';
import { type Hold, findOverlap, findTokenRegression, handoffs, logLine, peakConcurrency, readHolds } from './fixtures/lock-intervals.js';

const zk = useServer();
const dir = mkdtempSync(join(tmpdir(), 'zk-interop-test-'));
// Compiled once, in the first test that needs it: without Java or jars each test FAILS (a hook
// failure would only mark them skipped) with the message saying what to install.
let compiled: CompiledPeers | Error | undefined;
function peers(): CompiledPeers {
  if (compiled === undefined) {
    try {
      compiled = compilePeers();
    } catch (err) {
      compiled = err as Error;
    }
  }
  if (compiled instanceof Error) throw compiled;
  return compiled;
}
afterAll(() => {
  killPeers();
  rmSync(dir, { recursive: true, force: true });
});

const hold = (ms: number) => new Promise((r) => setTimeout(r, ms)); // the work done while holding

/** Waits until a Java peer logged its first hold: from then on both sides really contend. */
const started = (...logs: string[]) =>
  waitUntil(() => logs.some((f) => existsSync(f) && statSync(f).size > 0), `a Curator peer's first acquire in ${logs.join(' or ')}`, 60_000);

describe('Curator interop', () => {
  it('a Curator InterProcessMutex and our Lock never hold at once', async () => {
    const path = uniquePath('interop-lock');
    const javaLog = join(dir, 'java-lock.log');
    const nodeLog = join(dir, 'node-lock.log');
    const go = join(dir, 'go-lock');
    const peer = startPeer(peers(), 'CuratorPeer', ['lock', zk.server.connectString, path, '12', '15', javaLog, go]);
    await peer.ready;
    const lock = new Lock(await zk.connect(), path);
    writeFileSync(go, '');
    await started(javaLog);
    for (let i = 0; i < 12; i++) {
      const lease = await lock.acquire({ timeoutMs: 30_000 });
      logLine(nodeLog, 'acquire', lease.fencingToken);
      await hold(15);
      logLine(nodeLog, 'release', lease.fencingToken);
      await lease.release();
    }
    await peer.exited;
    const ours = readHolds(nodeLog, 'node');
    const holds = [...readHolds(javaLog, 'curator'), ...ours];
    expect(holds).toHaveLength(24);
    expect(findOverlap(holds, 1)).toBeUndefined();
    expect(handoffs(holds)).toBeGreaterThanOrEqual(4); // they really took turns
    expect(findTokenRegression(ours)).toBeUndefined();
  }, 150_000); // JVMs start slowly on a loaded machine

  it('a Curator InterProcessSemaphoreV2 and our Semaphore never exceed maxLeases=2 together', async () => {
    const path = uniquePath('interop-sem');
    const javaLog = join(dir, 'java-sem.log');
    const nodeLogs = [join(dir, 'node-sem-0.log'), join(dir, 'node-sem-1.log')];
    const go = join(dir, 'go-sem');
    const peer = startPeer(peers(), 'CuratorPeer', ['semaphore', zk.server.connectString, path, '2', '10', '25', javaLog, go]);
    await peer.ready;
    const sems = await Promise.all(nodeLogs.map(async () => new Semaphore(await zk.connect(), path, { maxLeases: 2 })));
    writeFileSync(go, '');
    await started(javaLog);
    await Promise.all(
      sems.map(async (sem, k) => {
        for (let i = 0; i < 10; i++) {
          const [lease] = await sem.acquire({ timeoutMs: 30_000 });
          logLine(nodeLogs[k]!, 'acquire', undefined);
          await hold(25);
          logLine(nodeLogs[k]!, 'release', undefined);
          await lease!.release();
        }
      }),
    );
    await peer.exited;
    const holds = [...readHolds(javaLog, 'curator'), ...nodeLogs.flatMap((f, k) => readHolds(f, `node${k}`))];
    expect(holds).toHaveLength(30);
    expect(findOverlap(holds, 2)).toBeUndefined();
    expect(peakConcurrency(holds)).toBe(2);
    expect(handoffs(holds)).toBeGreaterThanOrEqual(4);
  }, 150_000); // JVMs start slowly on a loaded machine

  it('Curator InterProcessReadWriteLock and our ReadWriteLock: writers exclude everyone across both', async () => {
    const path = uniquePath('interop-rw');
    const go = join(dir, 'go-rw');
    const logs = { javaW: join(dir, 'java-rw-w.log'), javaR: join(dir, 'java-rw-r.log'), nodeW: join(dir, 'node-rw-w.log'), nodeR: join(dir, 'node-rw-r.log') };
    const javaW = startPeer(peers(), 'CuratorPeer', ['rwlock', zk.server.connectString, path, 'write', '6', '15', logs.javaW, go]);
    const javaR = startPeer(peers(), 'CuratorPeer', ['rwlock', zk.server.connectString, path, 'read', '6', '15', logs.javaR, go]);
    await Promise.all([javaW.ready, javaR.ready]);
    const [w, r] = [new ReadWriteLock(await zk.connect(), path), new ReadWriteLock(await zk.connect(), path)];
    writeFileSync(go, '');
    await started(logs.javaW, logs.javaR);
    const run = async (acquire: () => Promise<Lease>, log: string) => {
      for (let i = 0; i < 6; i++) {
        const lease = await acquire();
        logLine(log, 'acquire', lease.fencingToken);
        await hold(15);
        logLine(log, 'release', lease.fencingToken);
        await lease.release();
      }
    };
    await Promise.all([run(() => w.writeLock.acquire({ timeoutMs: 30_000 }), logs.nodeW), run(() => r.readLock.acquire({ timeoutMs: 30_000 }), logs.nodeR)]);
    await Promise.all([javaW.exited, javaR.exited]);
    const writes = [...readHolds(logs.javaW, 'curator-writer'), ...readHolds(logs.nodeW, 'node-writer')];
    const all: Hold[] = [...writes, ...readHolds(logs.javaR, 'curator-reader'), ...readHolds(logs.nodeR, 'node-reader')];
    expect(all).toHaveLength(24);
    for (const x of writes) {
      const overlapping = all.filter((h) => h !== x && h.start < x.end && x.start < h.end);
      expect(overlapping, `${x.who} [${x.start}..${x.end}] overlaps`).toEqual([]);
    }
    expect(handoffs(all)).toBeGreaterThanOrEqual(4);
  }, 150_000); // JVMs start slowly on a loaded machine
});

/** Items a Curator queue-consume peer logged. */
const javaItems = (file: string): string[] =>
  existsSync(file)
    ? readFileSync(file, 'utf8')
        .split('\n')
        .filter((l) => l.startsWith('item '))
        .map((l) => l.slice(5))
    : [];
const range = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

describe('Curator interop: DistributedQueue (curatorCodec, lockPath <path>-locks)', () => {
  it("Curator puts, we consume: every item once, in Curator's framing", async () => {
    const path = uniquePath('interop-queue-a');
    const peer = startPeer(peers(), 'CuratorPeer', ['queue-put', zk.server.connectString, path, 'j', '20']);
    await peer.exited;
    const q = new DistributedQueue<string>(await zk.connect(), path, { codec: curatorCodec(stringCodec) });
    const got: string[] = [];
    const consumer = q.consume((item) => {
      got.push(item);
    });
    try {
      await waitUntil(() => got.length >= 20, 'our consumer to get the 20 Curator items', 30_000);
      expect([...got].sort()).toEqual(range('j', 20).sort());
    } finally {
      await consumer.close();
    }
  }, 120_000);

  it('we put, Curator consumes (at-least-once, its lock path): every item once', async () => {
    const path = uniquePath('interop-queue-b');
    const q = new DistributedQueue<string>(await zk.connect(), path, { codec: curatorCodec(stringCodec) });
    await q.putMany(range('n', 20));
    const log = join(dir, 'java-queue-b.log');
    const peer = startPeer(peers(), 'CuratorPeer', ['queue-consume', zk.server.connectString, path, '20', '0', log]);
    await peer.exited;
    expect(javaItems(log).sort()).toEqual(range('n', 20).sort());
  }, 120_000);

  it('Curator and we consume one queue at once: the claims keep each item to one consumer', async () => {
    const path = uniquePath('interop-queue-c');
    const s = await zk.connect();
    const q = new DistributedQueue<string>(s, path, { codec: curatorCodec(stringCodec) });
    await s.create(path, undefined, { createParents: true });
    const log = join(dir, 'java-queue-c.log');
    const go = join(dir, 'go-queue-c');
    const peer = startPeer(peers(), 'CuratorPeer', ['queue-consume', zk.server.connectString, path, '40', '20', log, go]);
    await peer.ready;
    const ours: string[] = [];
    const consumer = q.consume(
      async (item) => {
        ours.push(item);
        await hold(20);
      },
      { concurrency: 2 },
    );
    try {
      writeFileSync(go, '');
      await q.putMany(range('m', 40));
      await waitUntil(() => ours.length + javaItems(log).length >= 40, 'the two consumers to handle 40 items', 60_000);
      await waitUntil(async () => (await s.getChildren(path)).length === 0, 'the queue empty', 30_000);
    } finally {
      await consumer.close();
    }
    await peer.exited;
    const theirs = javaItems(log);
    expect([...ours, ...theirs].sort()).toEqual(range('m', 40).sort()); // none lost, none twice
    expect(theirs.length).toBeGreaterThan(0); // both really consumed
    expect(ours.length).toBeGreaterThan(0);
  }, 150_000);
});
