// Interop with real Curator (Debian's libcurator-recipes-java 5.4): a Java InterProcessMutex and
// our Lock contend on one path without overlap; a Java InterProcessSemaphoreV2 and our Semaphore
// share one path and never exceed maxLeases holders. Fails (never skips) without Java or jars.
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Lock, ReadWriteLock, Semaphore, type Lease } from '../src/index.js';
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
    try { compiled = compilePeers(); } catch (err) { compiled = err as Error; }
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
const started = (...logs: string[]) => waitUntil(() => logs.some((f) => existsSync(f) && statSync(f).size > 0), `a Curator peer's first acquire in ${logs.join(' or ')}`, 60_000);

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
    await Promise.all(sems.map(async (sem, k) => {
      for (let i = 0; i < 10; i++) {
        const [lease] = await sem.acquire({ timeoutMs: 30_000 });
        logLine(nodeLogs[k]!, 'acquire', undefined);
        await hold(25);
        logLine(nodeLogs[k]!, 'release', undefined);
        await lease!.release();
      }
    }));
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
    await Promise.all([
      run(() => w.writeLock.acquire({ timeoutMs: 30_000 }), logs.nodeW),
      run(() => r.readLock.acquire({ timeoutMs: 30_000 }), logs.nodeR),
    ]);
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
