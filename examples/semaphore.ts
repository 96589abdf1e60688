// A counting semaphore: at most `maxLeases` leases are held at once across every client of the
// path. Here 6 jobs share 2 "database connections"; each lease is released with `await using`.
//
//   npx tsx examples/semaphore.ts           (embedded ZooKeeper unless ZK_CONNECT is set)
import { Semaphore, ZkSession } from '../src/index.js';
import { check, sleep, zooKeeper } from './_server.js';

await using zk = await zooKeeper('/examples/semaphore');
const PATH = '/examples/semaphore';

// Two clients (two sessions, as two processes would have) share one semaphore of 2 leases.
await using s1 = await ZkSession.connect(zk.connectString);
await using s2 = await ZkSession.connect(zk.connectString);

let inUse = 0;
let peak = 0;

async function job(n: number): Promise<void> {
  const semaphore = new Semaphore(n % 2 ? s1 : s2, PATH, { maxLeases: 2, data: `job-${n}` });
  // acquire() returns an array of leases (ask for several with { count }).
  const [lease] = await semaphore.acquire({ timeoutMs: 30_000 });
  // biome-ignore lint/correctness/noUnusedVariables: held for its disposal at the end of the scope
  await using held = lease!; // released when this function returns
  inUse++;
  peak = Math.max(peak, inUse);
  console.log(`  job-${n} got a lease (${inUse}/2 in use)`);
  await sleep(200);
  inUse--;
}

await Promise.all([1, 2, 3, 4, 5, 6].map(job));
check(peak <= 2, `never more than 2 leases at once (peak ${peak})`);

// Both leases taken at once: tryAcquire() returns null without waiting.
const sem = new Semaphore(s1, PATH, { maxLeases: 2 });
const both = await sem.acquire({ count: 2 });
check((await new Semaphore(s2, PATH, { maxLeases: 2 }).tryAcquire()) === null, 'tryAcquire() is null when every lease is held');
await Promise.all(both.map((l) => l.release()));
