/**
 * Client CPU per lock cycle, in one process, three ways: the bare `zookeeper` binding (create
 * ephemeral-sequential + get_children + delete, the anchors' R2), the same requests through
 * `ZkSession`, and `Lock.acquire()` + `release()`. Tells the session layer's and the recipe
 * layer's CPU cost apart from the server's latency (`process.cpuUsage` around 3000 cycles, twice).
 *
 *   npx tsx bench/cpu-per-cycle.ts          (ZK_CONNECT, else a test-kit server)
 * @module
 */
import { createRequire } from 'node:module';
import { ZkSession } from '../src/session.js';
import { startZooKeeper } from '../src/testing/index.js';
import { loadRecipe, type LockCtor } from './recipes.js';

interface RawClient {
  once(e: 'connect', f: () => void): void;
  init(o: object): void;
  create(p: string, d: string, flags: number): Promise<string>;
  get_children(p: string, w: boolean): Promise<string[]>;
  delete_(p: string, v: number): Promise<void>;
  close(): void;
}

const N = 3000;

async function measure(name: string, cycle: () => Promise<void>): Promise<void> {
  for (let i = 0; i < 300; i++) await cycle();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < N; i++) await cycle();
  const c = process.cpuUsage(c0);
  const el = performance.now() - t0;
  process.stdout.write(
    `${name.padEnd(44)} cpu ${((c.user + c.system) / N).toFixed(0).padStart(5)} µs/cycle   wall ${((el * 1000) / N).toFixed(0).padStart(5)} µs/cycle\n`,
  );
}

const server = await startZooKeeper();
const ZK = createRequire(import.meta.url)('zookeeper') as new (o: object) => RawClient;
const raw = new ZK({ connect: server.connectString, timeout: 10_000, debug_level: 0, host_order_deterministic: false });
await new Promise<void>((r) => {
  raw.once('connect', r);
  raw.init({});
});
const s = await ZkSession.connect(server.connectString, { sessionTimeoutMs: 10_000 });
const root = `/cpu-per-cycle-${Date.now()}`;
try {
  const Lock = await loadRecipe<LockCtor>('lock.js', 'Lock');
  await s.create(`${root}/raw`, '', { createParents: true, parentMode: 'persistent' });
  const lock = new Lock(s, `${root}/lock`);
  for (let round = 0; round < 2; round++) {
    await measure('bare binding: create + get_children + delete', async () => {
      const p = await raw.create(`${root}/raw/lock-`, '', 3);
      await raw.get_children(`${root}/raw`, false);
      await raw.delete_(p, -1);
    });
    await measure('ZkSession: same requests (protected, stat)', async () => {
      const p = await s.create(`${root}/s/lock-`, 'x', { mode: 'ephemeral_sequential', protected: true, createParents: true });
      await s.getChildrenWithStat(`${root}/s`);
      await s.delete(p, { guaranteed: true });
    });
    await measure('Lock.acquire() + release()', async () => {
      await (await lock.acquire()).release();
    });
  }
} finally {
  await s.delete(root, { recursive: true }).catch(() => undefined);
  raw.close();
  await s.close();
  await server.close();
}
process.exit(0);
