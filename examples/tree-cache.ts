// TreeCache: a whole subtree mirrored in memory from one persistent recursive watch (Curator's
// CuratorCache, kazoo's TreeCache), e.g. an app's configuration tree that operators edit:
//  - start() loads the tree (reads pipelined) and resolves when the copy equals the server's;
//  - created / changed / deleted report every change below the root, with data and stat;
//  - after a reconnection (same or new session) the tree is read again and exactly what changed
//    meanwhile is reported (`resynced` when done);
//  - a filter skips subtrees (and keeps others without their data).
//
//   npx tsx examples/tree-cache.ts      (embedded ZooKeeper unless ZK_CONNECT is set)
import { TreeCache, ZkSession } from '../src/index.js';
import { check, sleep, zooKeeper } from './_server.js';

await using zk = await zooKeeper('/examples/tree');
await using admin = await ZkSession.connect(zk.connectString);
await using app = await ZkSession.connect(zk.connectString);

/** Polls `cond` for up to 10 s (examples only; in real code, react to the events). */
async function until(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!cond() && Date.now() < deadline) await sleep(20);
  check(cond(), what);
}

const ROOT = '/examples/tree/config';
await admin.create(`${ROOT}/db/url`, 'postgres://db-1', { createParents: true, parentMode: 'persistent' });
await admin.create(`${ROOT}/db/pool`, '10');
await admin.create(`${ROOT}/features/dark-mode`, 'off', { createParents: true, parentMode: 'persistent' });
await admin.create(`${ROOT}/secrets/api-key`, 'k-123', { createParents: true, parentMode: 'persistent' });

// Keep everything but the secrets (never read, never cached).
await using config = new TreeCache(app, ROOT, { filter: (path) => (path === `${ROOT}/secrets` ? 'skip' : 'keep') });
config.on('created', (path, node) => console.log(`  + ${path} = ${node.data?.toString()}`));
config.on('changed', (path, node, prev) => console.log(`  ~ ${path}: ${prev.data?.toString()} -> ${node.data?.toString()}`));
config.on('deleted', (path) => console.log(`  - ${path}`));
await config.start({ timeoutMs: 10_000 });
check(config.get(`${ROOT}/db/url`)?.data?.toString() === 'postgres://db-1', 'the tree is loaded');
check(config.get(`${ROOT}/secrets`) === undefined, 'the secrets subtree is skipped');
console.log(
  `  cached: ${[...config]
    .map(([path]) => path.slice(ROOT.length) || '/')
    .sort()
    .join(' ')}`,
);

await admin.set(`${ROOT}/db/url`, 'postgres://db-2');
await until(() => config.get(`${ROOT}/db/url`)?.data?.toString() === 'postgres://db-2', 'the cache saw the change');
await admin.create(`${ROOT}/features/search`, 'on');
await until(() => config.children(`${ROOT}/features`)?.includes('search') === true, 'the cache saw the new node');
await admin.delete(`${ROOT}/db`, { recursive: true });
await until(() => config.get(`${ROOT}/db`) === undefined && config.size === 4, 'the cache saw the subtree go');
