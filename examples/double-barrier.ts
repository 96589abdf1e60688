// A double barrier: a fixed number of participants enter together (nobody starts computing until
// all are there) and leave together (nobody goes on until all are done). Here 3 participants of
// a round of work arrive at different times and finish at different times.
//
//   npx tsx examples/double-barrier.ts      (embedded ZooKeeper unless ZK_CONNECT is set)
import { DoubleBarrier, ZkSession } from '../src/index.js';
import { check, sleep, zooKeeper } from './_server.js';

await using zk = await zooKeeper('/examples/double-barrier');
const PATH = '/examples/double-barrier';
const t0 = Date.now();
const at = () => `${String(Date.now() - t0).padStart(5)} ms`;
const entered: number[] = [];
const left: number[] = [];
let lastArrival = 0;
let lastFinish = 0;

async function participant(name: string, arriveAfterMs: number, workMs: number): Promise<void> {
  await using session = await ZkSession.connect(zk.connectString); // one session per participant
  const barrier = new DoubleBarrier(session, PATH, { members: 3, id: name });
  await sleep(arriveAfterMs);
  lastArrival = Math.max(lastArrival, Date.now());
  console.log(`${at()}  ${name} arrives and enters`);
  await barrier.enter({ timeoutMs: 30_000 }); // waits until 3 participants have entered
  entered.push(Date.now());
  console.log(`${at()}  ${name} is in: everyone arrived; working ${workMs} ms`);
  await sleep(workMs);
  lastFinish = Math.max(lastFinish, Date.now());
  console.log(`${at()}  ${name} is done and leaves`);
  await barrier.leave({ timeoutMs: 30_000 }); // waits until all 3 have left
  left.push(Date.now());
  console.log(`${at()}  ${name} is out: everyone finished`);
}

await Promise.all([participant('p1', 0, 600), participant('p2', 300, 100), participant('p3', 700, 300)]);
check(Math.min(...entered) >= lastArrival, 'nobody passed enter() before the last participant arrived');
check(Math.min(...left) >= lastFinish, 'nobody passed leave() before the last participant finished');
