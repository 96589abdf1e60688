// A read-write lock: readers share, a writer is alone. A writer that is waiting blocks readers
// that come after it, so a steady stream of readers cannot starve writers.
//
//   npx tsx examples/read-write-lock.ts     (embedded ZooKeeper unless ZK_CONNECT is set)
import { ReadWriteLock, ZkSession, type Lease } from '../src/index.js';
import { check, shortName, sleep, zooKeeper } from './_server.js';

await using zk = await zooKeeper('/examples/rwlock');
await using session = await ZkSession.connect(zk.connectString);
const PATH = '/examples/rwlock';

// One ReadWriteLock handle per participant (they could be in different processes).
const rw = (name: string) => new ReadWriteLock(session, PATH, { data: name });
const got = new Set<string>();
const take = (name: string, side: 'readLock' | 'writeLock'): Promise<Lease> =>
  rw(name)
    [side].acquire({ timeoutMs: 30_000 })
    .then((lease) => {
      got.add(name);
      console.log(`  ${name} holds the ${side === 'readLock' ? 'read' : 'write'} lock: ${shortName(lease.path)}, token ${lease.fencingToken}`);
      return lease;
    });
/** Waits until `n` contenders have their node under the lock (so the order is known). */
async function contenders(n: number): Promise<void> {
  while ((await session.getChildren(PATH)).length < n) await sleep(20);
}

// Two readers hold the lock together.
const r1 = await take('r1', 'readLock');
const r2 = await take('r2', 'readLock');
check(got.has('r1') && got.has('r2'), 'two readers share the lock');

// A writer queues behind them; a reader arriving after the writer queues behind the writer.
const w1 = take('w1', 'writeLock');
await contenders(3);
const r3 = take('r3', 'readLock');
await contenders(4);
check(!got.has('w1') && !got.has('r3'), 'w1 waits for the readers; r3 waits behind w1');

await r1.release();
await r2.release();
const w = await w1;
check(!got.has('r3'), 'w1 writes alone; r3 still waits');
await w.release();
await (await r3).release();
check(got.has('r3'), 'r3 reads once the writer is done');

// While a writer holds, tryAcquire() of either side returns null at once.
// biome-ignore lint/correctness/noUnusedVariables: held for its disposal at the end of the scope
await using writer = await rw('w2').writeLock.acquire();
check((await rw('r4').readLock.tryAcquire()) === null, 'no reader while a writer holds');
