// Group membership: each service instance joins a group with a payload (here its address);
// every member sees the others join and leave, also when one dies without saying goodbye.
//
//   npx tsx examples/group-membership.ts    (embedded ZooKeeper unless ZK_CONNECT is set)
import { GroupMember, ZkSession } from '../src/index.js';
import { check, sleep, zooKeeper } from './_server.js';

await using zk = await zooKeeper('/examples/group');
const PATH = '/examples/group/api-servers';

// The observer: a member whose view we print.
await using s1 = await ZkSession.connect(zk.connectString, { sessionTimeoutMs: 4000 });
await using observer = new GroupMember(s1, PATH, { id: 'api-1', data: '10.0.0.1:8080' });
observer.on('join', (id, data) => console.log(`  + ${id} joined (${data.toString()})`));
observer.on('leave', (id) => console.log(`  - ${id} left`));
await observer.join({ timeoutMs: 10_000 });

// Two more instances, each with its own session (as separate processes would have).
const s2 = await ZkSession.connect(zk.connectString, { sessionTimeoutMs: 4000 });
const s3 = await ZkSession.connect(zk.connectString, { sessionTimeoutMs: 4000 });
const m2 = new GroupMember(s2, PATH, { id: 'api-2', data: '10.0.0.2:8080' });
const m3 = new GroupMember(s3, PATH, { id: 'api-3', data: '10.0.0.3:8080' });
await m2.join();
await m3.join();

/** Waits (up to 20 s) until the observer's view has exactly `ids`. */
async function membersAre(ids: string[]): Promise<void> {
  const deadline = Date.now() + 20_000;
  const view = () => [...observer.members().keys()].sort().join(',');
  while (view() !== ids.join(',') && Date.now() < deadline) await sleep(20);
  check(view() === ids.join(','), `members: ${view()}`);
}
await membersAre(['api-1', 'api-2', 'api-3']);

// A member's data can change (e.g. it moved); the others see a `change`.
await m2.setData('10.0.0.22:8080');
const deadline = Date.now() + 10_000;
while (observer.members().get('api-2')?.toString() !== '10.0.0.22:8080' && Date.now() < deadline) await sleep(20);
check(observer.members().get('api-2')?.toString() === '10.0.0.22:8080', 'api-2 updated its address');

// api-2 leaves politely; api-3 "crashes": its session closes, and its ephemeral node goes with it.
await m2.leave();
await s3.close();
await membersAre(['api-1']);
await s2.close();
