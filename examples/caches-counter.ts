// Caches and a shared counter:
//  - NodeCache keeps a local copy of one node (e.g. a feature-flag config) and tells you when it changes;
//  - ChildrenCache keeps the list of a node's children (e.g. registered services);
//  - SharedCounter is an integer many processes increment safely (compare-and-set on the node's version).
//
//   npx tsx examples/caches-counter.ts      (embedded ZooKeeper unless ZK_CONNECT is set)
import { ChildrenCache, NodeCache, SharedCounter, ZkSession } from '../src/index.js';
import { check, sleep, zooKeeper } from './_server.js';

await using zk = await zooKeeper('/examples/caches');
await using admin = await ZkSession.connect(zk.connectString);
await using app = await ZkSession.connect(zk.connectString);

/** Polls `cond` for up to 10 s (examples only; in real code, react to the events). */
async function until(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!cond() && Date.now() < deadline) await sleep(20);
  check(cond(), what);
}

// --- NodeCache: the app follows a config node that an admin edits.
const CONFIG = '/examples/caches/config';
const config = new NodeCache(app, CONFIG);
config.on('change', (node) => console.log(`  config is now: ${node ? node.data.toString() : '(deleted)'}`));
await config.start(); // loads the node (or its absence) before returning
check(config.current === null, 'no config yet');
await admin.create(CONFIG, JSON.stringify({ darkMode: false }), { createParents: true });
await until(() => config.data?.toString() === '{"darkMode":false}', 'the cache saw the config created');
await admin.set(CONFIG, JSON.stringify({ darkMode: true }));
await until(() => config.data?.toString() === '{"darkMode":true}', 'the cache saw the change');
await config.close();

// --- ChildrenCache: the app follows a directory of services.
const SERVICES = '/examples/caches/services';
const services = new ChildrenCache(app, SERVICES, { withData: true });
services.on('childAdded', (c) => console.log(`  + ${c.name} = ${c.data?.toString()}`));
services.on('childRemoved', (c) => console.log(`  - ${c.name}`));
await services.start();
await admin.create(`${SERVICES}/billing`, 'http://10.0.0.5', { createParents: true });
await admin.create(`${SERVICES}/search`, 'http://10.0.0.6');
await until(() => services.children.size === 2, 'two services cached');
await admin.delete(`${SERVICES}/billing`);
await until(() => [...services.children.keys()].join() === 'search', 'billing removed from the cache');
await services.close();

// --- SharedCounter: two sessions increment the same counter concurrently; no update is lost.
const a = new SharedCounter(admin, '/examples/caches/visits');
const b = new SharedCounter(app, '/examples/caches/visits');
await Promise.all([...Array(20)].map((_, i) => (i % 2 ? a : b).increment()));
check((await a.get()) === 20, `20 concurrent increments → ${await a.get()}`);
