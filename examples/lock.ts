// A distributed mutex: three clients (three ZooKeeper sessions, as three processes would have)
// take turns in a critical section. Each lease carries a fencing token that grows with every
// holder: a resource that remembers the highest token it saw can refuse a stale holder.
//
//   npx tsx examples/lock.ts            (embedded ZooKeeper unless ZK_CONNECT is set)
import { Lock, TimeoutError, ZkSession } from '../src/index.js';
import { check, shortName, sleep, zooKeeper } from './_server.js';

await using zk = await zooKeeper('/examples/lock');
const PATH = '/examples/lock';

// The "resource" the lock protects: it accepts a write only with a token above the last one seen.
let lastToken = 0n;
let inside = 0;
let maxInside = 0;

async function client(name: string): Promise<void> {
  await using session = await ZkSession.connect(zk.connectString, { sessionTimeoutMs: 4000 });
  const lock = new Lock(session, PATH, { data: name }); // the data shows up in `zk-recipes inspect`
  for (let round = 1; round <= 2; round++) {
    await using lease = await lock.acquire({ timeoutMs: 30_000 }); // released at the end of the block
    inside++;
    maxInside = Math.max(maxInside, inside);
    check(lease.fencingToken > lastToken, `${name} holds ${shortName(lease.path)} with token ${lease.fencingToken}`);
    lastToken = lease.fencingToken;
    await sleep(100); // the critical section; stop early if `lease.signal` aborts (connection trouble)
    inside--;
  }
}

await Promise.all(['alice', 'bob', 'carol'].map(client));
check(maxInside === 1, 'never two holders at once');

// tryAcquire() returns null at once when someone holds the lock; acquire() throws on timeout.
await using a = await ZkSession.connect(zk.connectString);
await using b = await ZkSession.connect(zk.connectString);
const held = await new Lock(a, PATH).acquire();
check((await new Lock(b, PATH).tryAcquire()) === null, 'tryAcquire() is null while the lock is held');
const err = await new Lock(b, PATH).acquire({ timeoutMs: 300 }).catch((e: unknown) => e);
check(err instanceof TimeoutError, `acquire({ timeoutMs }) throws ${(err as Error).name}: ${(err as Error).message}`);
await held.release();

// withLock(fn): acquire, run, release (also when fn throws).
const result = await new Lock(b, PATH).withLock(async (lease) => `ran with token ${lease.fencingToken}`);
console.log(`withLock: ${result}`);
