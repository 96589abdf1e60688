// A barrier: one process raises it, any number of others wait until it is lowered. Typical use:
// workers wait while a coordinator prepares something (a migration, a snapshot), then all go.
//
//   npx tsx examples/barrier.ts             (embedded ZooKeeper unless ZK_CONNECT is set)
import { Barrier, TimeoutError, ZkSession } from '../src/index.js';
import { check, sleep, zooKeeper } from './_server.js';

await using zk = await zooKeeper('/examples/barrier');
const PATH = '/examples/barrier/migration';

// The coordinator raises the barrier.
await using coordinator = await ZkSession.connect(zk.connectString);
const gate = new Barrier(coordinator, PATH);
await gate.set();
check(await gate.isSet(), 'the coordinator raised the barrier');

// Three workers wait on it (here on one session; processes elsewhere would do the same).
const released: string[] = [];
await using workers = await ZkSession.connect(zk.connectString);
const waits = ['w1', 'w2', 'w3'].map(async (name) => {
  await new Barrier(workers, PATH).wait({ timeoutMs: 30_000 });
  released.push(name);
  console.log(`  ${name} passed the barrier`);
});

// A wait with a short timeout gives up with a TimeoutError while the barrier stands.
const err = await new Barrier(workers, PATH).wait({ timeoutMs: 300 }).catch((e: unknown) => e);
check(err instanceof TimeoutError, `wait({ timeoutMs: 300 }) → ${(err as Error).name}`);
check(released.length === 0, 'nobody passed while the barrier was raised');

console.log('  coordinator: migration done, lowering the barrier');
await sleep(100);
await gate.remove(); // every waiter is woken by its watch
await Promise.all(waits);
check(released.length === 3, 'all three workers passed once it was lowered');
check(!(await gate.isSet()), 'the barrier is down');
