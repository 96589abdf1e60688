// A distributed FIFO queue: producers put items, consumers take them. Two ways to consume:
//  - take(): removes the head and returns it (each item to exactly one taker, at most once);
//  - consume(handler): a long-running consumer, at least once: an item is deleted only after the
//    handler succeeded; if the handler throws (or the process dies) the item is tried again.
//
//   npx tsx examples/queue.ts               (embedded ZooKeeper unless ZK_CONNECT is set)
import { DistributedQueue, ZkSession } from '../src/index.js';
import { check, sleep, zooKeeper } from './_server.js';

interface Email {
  to: string;
  subject: string;
}

await using zk = await zooKeeper('/examples/queue');
await using producer = await ZkSession.connect(zk.connectString);
await using consumer = await ZkSession.connect(zk.connectString);

// --- take(): one item at a time, in order. Items are JSON by default (see jsonCodec).
await using outbox = new DistributedQueue<Email>(producer, '/examples/queue/outbox');
await outbox.putMany([
  { to: 'ada@example.com', subject: 'welcome' },
  { to: 'bob@example.com', subject: 'welcome' },
]);
await outbox.put({ to: 'cy@example.com', subject: 'reminder' });
check((await outbox.size()) === 3, 'three items queued');
await using inbox = new DistributedQueue<Email>(consumer, '/examples/queue/outbox'); // same path, other session
for (let i = 0; i < 3; i++) {
  const email = await inbox.take({ timeoutMs: 10_000 }); // waits for an item if the queue is empty
  console.log(`  took: ${email.subject} → ${email.to}`);
}
check((await inbox.poll()) === undefined, 'poll() returns undefined on an empty queue');

// --- consume(): two consumers share the work; a failing handler gets its item back later.
await using jobs = new DistributedQueue<number>(producer, '/examples/queue/jobs');
await jobs.putMany(Array.from({ length: 10 }, (_, i) => i));
const done = new Map<number, string>();
let failedOnce = false;
const handler =
  (who: string) =>
  async (n: number): Promise<void> => {
    if (n === 7 && !failedOnce) {
      failedOnce = true;
      throw new Error('flaky downstream'); // the item stays queued and is retried
    }
    await sleep(50);
    done.set(n, who);
  };
const q2 = new DistributedQueue<number>(consumer, '/examples/queue/jobs');
q2.on('handlerError', ({ item, error }) => console.log(`  handler failed for item ${item}: ${(error as Error).message} (will retry)`));
jobs.on('handlerError', ({ item, error }) => console.log(`  handler failed for item ${item}: ${(error as Error).message} (will retry)`));
const c1 = jobs.consume(handler('c1'), { concurrency: 2, retryDelayMs: 200 });
const c2 = q2.consume(handler('c2'), { concurrency: 2, retryDelayMs: 200 });
const deadline = Date.now() + 30_000;
while (done.size < 10 && Date.now() < deadline) await sleep(50);
await c1.close();
await c2.close();
await q2.close();
console.log(
  '  handled by:',
  [...done]
    .sort((a, b) => a[0] - b[0])
    .map(([n, who]) => `${n}:${who}`)
    .join(' '),
);
check(done.size === 10, `every item handled once it succeeded (c1: ${c1.processed}, c2: ${c2.processed})`);
check((await jobs.size()) === 0, 'the queue is empty');
