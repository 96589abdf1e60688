// Leader election, two ways:
//  1. LeaderLatch: every participant stays in the election; the lowest node leads until it
//     leaves (or its session dies), then the next one takes over. `isLeader` / `notLeader` events.
//  2. LeaderSelector: runs a function while leading; when it returns, leadership passes on
//     (with autoRequeue the participant queues again, so leadership rotates).
//
//   npx tsx examples/leader-election.ts     (embedded ZooKeeper unless ZK_CONNECT is set)
import { LeaderLatch, LeaderSelector, ZkSession } from '../src/index.js';
import { check, sleep, zooKeeper } from './_server.js';

await using zk = await zooKeeper('/examples/election');

// --- 1. LeaderLatch: three participants, each on its own session (as separate processes would be).
console.log('LeaderLatch:');
const sessions = await Promise.all([1, 2, 3].map(() => ZkSession.connect(zk.connectString, { sessionTimeoutMs: 4000 })));
const latches = sessions.map((s, i) => new LeaderLatch(s, '/examples/election/latch', { id: `node-${i + 1}` }));
for (const latch of latches) {
  latch.on('isLeader', (term) => console.log(`  ${latch.id} leads (fencing token ${term.fencingToken})`));
  latch.on('notLeader', () => console.log(`  ${latch.id} no longer leads`));
  latch.start(); // joins in the background; returns at once
}
await Promise.any(latches.map((l) => l.await({ timeoutMs: 30_000 }))); // until someone leads
const leader = latches.find((l) => l.hasLeadership())!;
check(latches.filter((l) => l.hasLeadership()).length === 1, `exactly one leader: ${await leader.getLeader()}`);
console.log('  participants:', (await leader.getParticipants()).map((p) => `${p.id}${p.isLeader ? '*' : ''}`).join(' '));

// Kill the leader's session (as a crash would): its ephemeral node goes, the next in line leads.
const idx = latches.indexOf(leader);
await sessions[idx]!.close();
const rest = latches.filter((l) => l !== leader);
await Promise.any(rest.map((l) => l.await({ timeoutMs: 30_000 })));
check(rest.filter((l) => l.hasLeadership()).length === 1, `a new leader after the old one's session closed: ${await rest[0]!.getLeader()}`);
for (const l of latches) await l.close(); // close() is idempotent, also on a dead session
for (const s of sessions) await s.close();

// --- 2. LeaderSelector: each participant leads for a short term, then passes leadership on.
console.log('LeaderSelector:');
await using session = await ZkSession.connect(zk.connectString);
const terms: string[] = [];
let leading = 0;
const selectors = ['red', 'green', 'blue'].map(
  (id) =>
    new LeaderSelector(session, '/examples/election/selector', {
      id,
      autoRequeue: true, // queue again after each term
      async onLeadership(_signal, term) {
        check(++leading === 1, `${id} leads, term token ${term.fencingToken}`);
        terms.push(id);
        await sleep(150); // the leader's work; watch `signal` to stop if leadership may be lost
        leading--;
      },
    }),
);
for (const s of selectors) s.start();
while (terms.length < 6) await sleep(50);
await Promise.all(selectors.map((s) => s.close()));
check(new Set(terms).size === 3, `leadership rotated: ${terms.join(' → ')}`);
