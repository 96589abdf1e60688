// A shared value (Curator's SharedValue): one node holding a value that many processes read,
// follow and change safely with compare-and-set on the node's version.
//  - start() follows the node: `value`/`version` stay current and `change` fires;
//  - trySetValue(previous, next) writes only if nobody changed the value since `previous`;
//  - update(fn) retries that until it wins, so concurrent updates are never lost.
//
//   npx tsx examples/shared-value.ts      (embedded ZooKeeper unless ZK_CONNECT is set)
import { SharedValue, ZkSession, jsonCodec, type Codec } from '../src/index.js';
import { check, sleep, zooKeeper } from './_server.js';

await using zk = await zooKeeper('/examples/shared-value');
await using admin = await ZkSession.connect(zk.connectString);
await using app = await ZkSession.connect(zk.connectString);

/** Polls `cond` for up to 10 s (examples only; in real code, react to the events). */
async function until(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!cond() && Date.now() < deadline) await sleep(20);
  check(cond(), what);
}

type Limits = { maxUploadMb: number; rps: number };
const LIMITS = '/examples/shared-value/limits';
const codec = jsonCodec as Codec<Limits>;
const seed: Limits = { maxUploadMb: 10, rps: 100 };

// --- The app follows the limits; start() creates the node with the seed if it is missing.
await using seen = new SharedValue(app, LIMITS, { codec, seed });
const show = (v: Limits, version: number) => console.log(`  app sees ${JSON.stringify(v)} (version ${version})`);
seen.on('change', show);
await seen.start();
check(seen.value?.rps === 100 && seen.version === 0, 'the app starts from the seed, at version 0');

// --- An admin changes one field with update(): read, change, compare-and-set, retry on conflict.
const edit = new SharedValue(admin, LIMITS, { codec, seed });
await edit.update((v) => ({ ...v, rps: 250 }));
await until(() => seen.value?.rps === 250, 'the app saw rps = 250');

// --- Two writers start from the same version: exactly one compare-and-set wins.
const previous = await edit.getVersioned();
const [a, b] = await Promise.all([
  edit.trySetValue(previous, { ...previous.value, maxUploadMb: 20 }),
  seen.trySetValue(previous, { ...previous.value, maxUploadMb: 50 }),
]);
check(a !== b, `exactly one of two racing writers won (${a ? 'admin' : 'app'})`);
await until(() => seen.value?.maxUploadMb === (a ? 20 : 50), 'the app holds the winner');

// --- 20 concurrent updates from both sessions: none is lost.
seen.off('change', show);
await Promise.all([...Array(20)].map((_, i) => (i % 2 ? edit : seen).update((v) => ({ ...v, rps: v.rps + 1 }))));
check((await edit.get()).rps === 270, `20 concurrent updates → rps ${(await edit.get()).rps}`);
await until(() => seen.value?.rps === 270, 'the app cache converged to rps = 270');
