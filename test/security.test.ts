// Digest authentication and ACLs: a session with credentials and `defaultAcl: CREATOR_ALL` creates
// every recipe node (lock, latch, queue, parents included) creator-only; a session without the
// credentials (or with other ones) cannot delete a lock node, steal an election or take a queue
// item (flat or bucketed), and gets NoAuthError (`NO_AUTH`); while every writing recipe runs, it
// cannot touch one of their nodes; and every reading recipe (caches, service discovery's queries,
// cache and provider, shared value and counter, a latch's view) it runs on them fails with
// NoAuthError holding nothing. Secrets never appear in debug logs or error messages.
//
// On the default transport the ACL is part of the create (no moment in which a node is open; the
// conformance tests read it back from a watch the create itself fired). The native transport
// creates with an open ACL and sets it one round trip later; these tests assert the state once
// each recipe call has returned, which holds on both.
import { format } from 'node:util';
import createDebug from 'debug';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Acls,
  Barrier,
  ChildrenCache,
  DistributedDelayQueue,
  DistributedPriorityQueue,
  DistributedQueue,
  DoubleBarrier,
  GroupMember,
  LeaderLatch,
  LeaderSelector,
  Lock,
  NodeCache,
  NoAuthError,
  NoNodeError,
  Perms,
  ReadWriteLock,
  Semaphore,
  ServiceCache,
  ServiceDiscovery,
  ServiceProvider,
  SharedCounter,
  SharedValue,
  TaskScheduler,
  TreeCache,
  ZkSession,
  serviceInstance,
  type Acl,
} from '../src/index.js';
import { uniquePath, useServer, waitUntil } from './helpers.js';

const PASSWORD = 'pw-Zq7-very-secret';
const ALICE = { scheme: 'digest', credentials: `alice:${PASSWORD}` };
const zk = useServer();

const captured: string[] = [];
const origLog = createDebug.log;
beforeAll(() => {
  createDebug.log = (...a: unknown[]) => {
    captured.push(format(...a));
  };
  createDebug.enable('zk-recipes:*');
});
afterAll(() => {
  createDebug.disable();
  createDebug.log = origLog;
});

/** Every node from `path` down (parents of recipe nodes included). */
async function tree(s: ZkSession, path: string): Promise<string[]> {
  const out = [path];
  // A container emptied meanwhile may be reaped between the list and the descent.
  const kids = await s.getChildren(path).catch((e: unknown) => {
    if (e instanceof NoNodeError) return [] as string[];
    throw e;
  });
  for (const c of kids) out.push(...(await tree(s, `${path}/${c}`)));
  return out;
}

const creatorOnly = (acl: Acl[]) => acl.length === 1 && acl[0]!.scheme === 'digest' && acl[0]!.id.startsWith('alice:') && acl[0]!.perms === Perms.ALL;

async function expectNoAuth(p: Promise<unknown>): Promise<NoAuthError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(NoAuthError);
  expect((err as NoAuthError).code).toBe('NO_AUTH');
  return err as NoAuthError;
}

describe('digest auth and creator-only ACLs', () => {
  it('recipe nodes are creator-only; an unauthenticated or other user cannot delete, steal or take', async () => {
    const root = uniquePath('sec');
    const alice = await zk.connect({ auth: ALICE, defaultAcl: Acls.CREATOR_ALL });
    const anon = await zk.connect();
    const bob = await zk.connect({ auth: { scheme: 'digest', credentials: 'bob:other-pw' } });

    const lease = await new Lock(alice, `${root}/locks/a`).acquire({ timeoutMs: 10_000 });
    const latch = new LeaderLatch(alice, `${root}/election/a`, { id: 'alice' });
    latch.start();
    await latch.await({ timeoutMs: 10_000 });
    const queue = new DistributedQueue<string>(alice, `${root}/queues/a`);
    await queue.put('job-1');
    const bucketed = new DistributedQueue<string>(alice, `${root}/queues/b`, { bucketSize: 16 });
    await bucketed.putMany(['job-b1', 'job-b2', 'job-b3']);

    // Every node alice's recipes created, parents included, is alice-only.
    const nodes = await tree(alice, root);
    expect(nodes.length).toBeGreaterThanOrEqual(10);
    for (const n of nodes) {
      const { acl } = await alice.getAcl(n);
      expect({ n, ok: creatorOnly(acl) }).toEqual({ n, ok: true });
    }

    for (const intruder of [anon, bob]) {
      // cannot delete the lock node (nor read it)
      await expectNoAuth(intruder.delete(lease.path));
      await expectNoAuth(new Lock(intruder, `${root}/locks/a`).tryAcquire());
      // cannot steal the election: no contender node, no delete of the leader's node
      await expectNoAuth(intruder.create(`${root}/election/a/_c_x-latch-`, '', { mode: 'ephemeral_sequential' }));
      await expectNoAuth(intruder.delete(latch.nodePath!));
      // cannot take the queue item
      await expectNoAuth(new DistributedQueue<string>(intruder, `${root}/queues/a`).take({ timeoutMs: 5000 }));
      await expectNoAuth(intruder.getChildren(`${root}/queues/a`));
      await expectNoAuth(new DistributedQueue<string>(intruder, `${root}/queues/b`, { bucketSize: 16 }).take({ timeoutMs: 5000 }));
    }
    // Nothing changed: alice still holds and leads, the item is still there for her.
    expect(await alice.exists(lease.path)).not.toBeNull();
    expect(latch.hasLeadership()).toBe(true);
    expect(await queue.take({ timeoutMs: 5000 })).toBe('job-1');
    for (const item of ['job-b1', 'job-b2', 'job-b3']) expect(await bucketed.take({ timeoutMs: 5000 })).toBe(item);

    await lease.release();
    await latch.close();
    await Promise.all([queue.close(), bucketed.close()]);
    await alice.delete(root, { recursive: true });
  });

  it('while every recipe writes, a client without the credentials polling the paths never lists, reads, writes or deletes a node', async () => {
    const alice = await zk.connect({ auth: ALICE, defaultAcl: Acls.CREATOR_ALL });
    const watcher = await zk.connect({ auth: ALICE }); // sees what alice's recipes write, as it appears
    const anon = await zk.connect();
    // Deleting a node needs DELETE on its parent: the base is alice-only, so the recipes' own
    // container parents below it are what keeps anon out.
    const base = await alice.create(uniquePath('sec-poll'), '', { acl: Acls.CREATOR_ALL });
    const seen = new Set<string>();
    const breaches: string[] = [];
    let refused = 0;
    const tryAll = async (p: string) => {
      const attempts: Array<[string, Promise<unknown>]> = [
        ['getChildren', anon.getChildren(p)],
        ['get', anon.get(p)],
        ['set', anon.set(p, 'x')],
        ['delete', anon.delete(p)],
        ['create under', anon.create(`${p}/intruder`, 'x')],
      ];
      for (const [what, call] of attempts) {
        const err = await call.then(
          () => undefined,
          (e: unknown) => e,
        );
        if (err instanceof NoAuthError) refused++;
        else if (!(err instanceof NoNodeError)) breaches.push(`${what} ${p}: ${err === undefined ? 'succeeded' : String(err)}`);
      }
    };
    let polling = true;
    const poller = (async () => {
      // (Also ends when the test failed and its sessions were closed: no loop on a closed session.)
      while (polling && watcher.state !== 'closed') {
        const walk = async (p: string): Promise<void> => {
          const kids = await watcher.getChildren(p).catch(() => [] as string[]);
          await Promise.all(
            kids.map(async (k) => {
              const c = `${p}/${k}`;
              if (!seen.has(c)) {
                seen.add(c);
                await tryAll(c);
              }
              await walk(c);
            }),
          );
        };
        await walk(base);
      }
    })();

    const scheduler = new TaskScheduler(alice, `${base}/scheduler`, { workerId: 'w1', handlers: { echo: async (x: unknown) => x } });
    await scheduler.start();
    const member = new GroupMember(alice, `${base}/group`, { id: 'alice-1', data: 'a' });
    await member.join();
    const counter = new SharedCounter(alice, `${base}/counter`);
    const latch = new LeaderLatch(alice, `${base}/latch`, { id: 'alice' });
    latch.start();
    const selector = new LeaderSelector(alice, `${base}/selector`, { id: 'alice', onLeadership: async () => undefined });
    selector.start();
    const discovery = new ServiceDiscovery(alice, `${base}/services`);
    const instance = serviceInstance({ name: 'api', address: '10.0.0.5', port: 8080 });
    await discovery.registerService(instance);
    const config = new SharedValue(alice, `${base}/config`, { seed: Buffer.from('v0') });
    const queue = new DistributedQueue<number>(alice, `${base}/queue`);
    const handled: number[] = [];
    const consumer = queue.consume((n) => {
      handled.push(n);
    });
    const bucketed = new DistributedQueue<number>(alice, `${base}/bucketed`, { bucketSize: 16 });
    for (let round = 0; round < 6; round++) {
      await (await new Lock(alice, `${base}/lock`).acquire({ timeoutMs: 10_000 })).release();
      await (await new ReadWriteLock(alice, `${base}/rw`).writeLock.acquire({ timeoutMs: 10_000 })).release();
      await (await new ReadWriteLock(alice, `${base}/rw`).readLock.acquire({ timeoutMs: 10_000 })).release();
      await bucketed.putMany([round * 2, round * 2 + 1]);
      for (const l of await new Semaphore(alice, `${base}/sem`, { maxLeases: 2 }).acquire({ count: 2, timeoutMs: 10_000 })) await l.release();
      await queue.putMany([round * 2, round * 2 + 1]);
      await new DistributedPriorityQueue<number>(alice, `${base}/pq`).put(round, 3);
      await new DistributedDelayQueue<number>(alice, `${base}/dq`).put(round, Date.now());
      const gate = new Barrier(alice, `${base}/barrier`);
      await gate.set();
      await gate.remove();
      const db = new DoubleBarrier(alice, `${base}/double`, { members: 1 });
      await db.enter({ timeoutMs: 10_000 });
      await db.leave({ timeoutMs: 10_000 });
      await counter.increment(1);
      await config.set(Buffer.from(`v${round + 1}`));
      await discovery.updateService({ ...instance, port: 8080 + round });
      const id = await scheduler.submit('echo', round);
      await scheduler.waitFor(id, { timeoutMs: 20_000 });
      await waitUntil(() => handled.length === (round + 1) * 2, "the consumer handles this round's items");
    }
    await latch.await({ timeoutMs: 10_000 });
    await waitUntil(() => seen.size >= 40, "the poller to have seen the recipes' nodes", 20_000);
    polling = false;
    await poller;
    await Promise.all([consumer.close(), queue.close(), bucketed.close(), latch.close(), selector.close(), member.leave(), scheduler.stop(), config.close()]);
    const leftBehind = await tree(watcher, base); // the service instance is still registered: its ACL is checked below
    expect(leftBehind).toContain(`${base}/services/api/${instance.id}`);
    expect(leftBehind.filter((n) => n.startsWith(`${base}/bucketed/`)).length).toBeGreaterThanOrEqual(1 + 12); // a bucket, 12 items

    expect(breaches).toEqual([]);
    expect(refused).toBeGreaterThan(seen.size); // refused on live nodes, not only missing ones
    // The ACL was on every node from its create: every node left, parents included, is alice-only.
    // An empty container parent (the lock's, say) may be reaped by the server while this runs: gone is fine.
    let checked = 0;
    for (const n of leftBehind) {
      const got = await watcher.getAcl(n).catch((e: unknown) => {
        if (e instanceof NoNodeError) return undefined;
        throw e;
      });
      if (got === undefined) continue;
      checked++;
      expect({ n, ok: creatorOnly(got.acl) }).toEqual({ n, ok: true });
    }
    expect(checked).toBeGreaterThan(leftBehind.length / 2);
    await discovery.close();
    await alice.delete(base, { recursive: true });
  });

  it('every reading recipe of a client without the credentials fails with NoAuthError and holds nothing', async () => {
    const alice = await zk.connect({ auth: ALICE, defaultAcl: Acls.CREATOR_ALL });
    const anon = await zk.connect();
    const base = await alice.create(uniquePath('sec-read'), '', { acl: Acls.CREATOR_ALL });
    const discovery = new ServiceDiscovery(alice, `${base}/services`);
    await discovery.registerService(serviceInstance({ name: 'api', address: '10.0.0.5', port: 8080 }));
    await new SharedValue(alice, `${base}/config`).set(Buffer.from('secret config'));
    await new SharedCounter(alice, `${base}/counter`).increment(7);
    const latch = new LeaderLatch(alice, `${base}/latch`, { id: 'alice' });
    latch.start();
    await latch.await({ timeoutMs: 10_000 });

    const nodeCache = new NodeCache(anon, `${base}/config`);
    const childrenCache = new ChildrenCache(anon, `${base}/services/api`, { withData: true });
    const treeCache = new TreeCache(anon, base);
    const serviceCache = new ServiceCache(anon, `${base}/services`, 'api');
    const provider = new ServiceProvider(anon, `${base}/services`, 'api');
    const value = new SharedValue(anon, `${base}/config`);
    const counter = new SharedCounter(anon, `${base}/counter`);
    try {
      await expectNoAuth(nodeCache.start({ timeoutMs: 10_000 }));
      expect(nodeCache.current).toBeNull();
      await expectNoAuth(childrenCache.start({ timeoutMs: 10_000 }));
      expect(childrenCache.children.size).toBe(0);
      await expectNoAuth(treeCache.start({ timeoutMs: 10_000 }));
      expect([...treeCache.entries()]).toEqual([]);
      await expectNoAuth(serviceCache.start({ timeoutMs: 10_000 }));
      expect(serviceCache.instances()).toEqual([]);
      await expectNoAuth(provider.start({ timeoutMs: 10_000 }));
      const anonDiscovery = new ServiceDiscovery(anon, `${base}/services`);
      await expectNoAuth(anonDiscovery.queryForNames());
      await expectNoAuth(anonDiscovery.queryForInstances('api'));
      await anonDiscovery.close();
      await expectNoAuth(value.get());
      await expectNoAuth(value.start({ timeoutMs: 10_000 }));
      expect(value.value).toBeUndefined();
      await expectNoAuth(counter.get());
      await expectNoAuth(new LeaderLatch(anon, `${base}/latch`, { id: 'anon' }).getLeader());
    } finally {
      await Promise.all([nodeCache, childrenCache, treeCache, serviceCache, provider, value, counter].map((r) => r.close()));
    }
    // Alice's own readers see it all.
    expect((await new SharedValue(alice, `${base}/config`).get()).toString()).toBe('secret config');
    expect(await new SharedCounter(alice, `${base}/counter`).get()).toBe(7);
    expect(await discovery.queryForNames()).toEqual(['api']);
    await latch.close();
    await discovery.close();
    await alice.delete(base, { recursive: true });
  });

  it('no secret in debug logs or error messages during connect, auth, refusals and failures', async () => {
    const from = captured.length;
    const messages: string[] = [];
    const alice = await zk.connect({ auth: ALICE, defaultAcl: Acls.CREATOR_ALL });
    const path = uniquePath('sec-log');
    const lease = await new Lock(alice, `${path}/lock`).acquire({ timeoutMs: 10_000 });
    const anon = await zk.connect();
    for (const p of [anon.delete(lease.path), anon.get(lease.path), new Lock(anon, `${path}/lock`).tryAcquire()]) {
      await p.catch((e: Error) => messages.push(`${e.name}: ${e.message} ${String((e as { cause?: unknown }).cause ?? '')}`));
    }
    // A malformed auth option is refused without echoing the credentials.
    await ZkSession.connect(zk.server.connectString, { auth: { scheme: 7 as unknown as string, credentials: `x:${PASSWORD}` } }).catch((e: Error) =>
      messages.push(e.message),
    );
    // An auth scheme the server does not know: the session fails to authenticate.
    const bad = await ZkSession.connect(zk.server.connectString, {
      auth: { scheme: 'nosuchscheme', credentials: `x:${PASSWORD}` },
      sessionTimeoutMs: 2000,
      connectTimeoutMs: 5000,
    }).catch((e: Error) => {
      messages.push(e.message);
      return undefined;
    });
    if (bad) {
      bad.on('lost', (info) => messages.push(JSON.stringify(info)));
      await bad.get('/').catch((e: Error) => messages.push(e.message));
      await waitUntil(() => bad.state !== 'connected', 'the bad-auth session to fail', 10_000).catch(() => undefined);
      await bad.close();
    }
    await lease.release();
    await alice.delete(path, { recursive: true });
    await alice.close();
    const logs = captured.slice(from);
    expect(logs.length).toBeGreaterThan(5); // logging really was on
    expect(messages.length).toBeGreaterThanOrEqual(4);
    expect(messages.some((m) => m.includes('NO_AUTH') || /not authenticated|NoAuth/i.test(m))).toBe(true);
    for (const line of [...logs, ...messages]) expect(line).not.toContain(PASSWORD);
  });
});
