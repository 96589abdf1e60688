// The recipe inspector and the CLI against a real server: each recipe's layout (Curator's names,
// made by separate sessions) is recognised, contenders are ordered by their sequence suffix, every
// age says what it counts (in line since creation; how long a holder has held only as far as the
// server's stats can tell), queues are read with protected and plain names, services show their
// instances, trees their subtree, and the 3 a.m. hints (dead session, stale or persistent holder) show up.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { main } from '../src/cli.js';
import {
  DistributedDelayQueue,
  DistributedPriorityQueue,
  DistributedQueue,
  Lock,
  ServiceDiscovery,
  ZkSession,
  formatInspection,
  inspect,
  serviceInstance,
  type Inspection,
} from '../src/index.js';
import { freePort } from '../src/testing/index.js';
import { startProxy } from '../src/testing/proxy.js';
import { nextEvent, uniquePath, useServer, waitUntil } from './helpers.js';

const zk = useServer();
const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f().catch(() => undefined);
});

/** A protected ephemeral-sequential contender with a chosen `_c_` prefix (to defeat name order). */
async function contender(s: ZkSession, parent: string, prefixHex: string, marker: string, data: string): Promise<string> {
  const uuid = `${prefixHex.repeat(8).slice(0, 8)}-${randomUUID().slice(9)}`;
  return s.create(`${parent}/_c_${uuid}-${marker}`, data, { mode: 'ephemeral_sequential', createParents: true });
}

function kind<K extends Inspection['kind']>(x: Inspection, k: K): Extract<Inspection, { kind: K }> {
  expect(x.kind).toBe(k);
  return x as Extract<Inspection, { kind: K }>;
}

describe('inspect', () => {
  it('lock: the lowest sequence holds (not the lowest name), waiters in order, sessions and ages', async () => {
    const [a, b, c, me] = await Promise.all([zk.connect(), zk.connect(), zk.connect(), zk.connect()]);
    const p = uniquePath('lock');
    await contender(a, p, 'f', 'lock-', 'host-a/101'); // seq 0, but sorts last by name
    await contender(b, p, '0', 'lock-', 'host-b/202'); // seq 1
    await contender(c, p, '8', 'lock-', 'host-c/303'); // seq 2
    const x = kind(await inspect(me, p), 'lock');
    expect(x.holder?.sessionId).toBe(`0x${a.sessionId}`);
    expect(x.holder?.sequence).toBe(0);
    expect(x.holder?.data).toBe('host-a/101');
    expect(x.holder?.sessionConnected).toBe(true);
    expect(x.holder?.ageMs).toBeGreaterThanOrEqual(0);
    expect(x.waiters.map((w) => w.sessionId)).toEqual([`0x${b.sessionId}`, `0x${c.sessionId}`]);
    expect(x.waiters.map((w) => w.sequence)).toEqual([1, 2]);
    expect(x.hints).toEqual([]);
    // nothing left the line since c's node was made: a took over (at its creation) no later than that
    expect(x.holder?.holding).toMatchObject({ known: 'bounded', notAfter: x.waiters[1]!.createdAt, maxMs: x.holder!.ageMs });
    const text = formatInspection(x);
    expect(text).toContain(`${p}: LOCK, HELD, 2 waiting`);
    expect(text).toMatch(
      new RegExp(
        `holder: #0 _c_f+-.*-lock-0000000000\\n\\s+session 0x${a.sessionId} \\(connected\\), in line for \\d+ m?s \\(since [-0-9T:.]+Z\\); holding between`,
      ),
    );
    expect(text).toContain('"host-a/101"');
  });

  it('lock: hints for a stale holder, a holder waiting for itself, and a persistent holder node', async () => {
    const [a, b, me] = await Promise.all([zk.connect(), zk.connect(), zk.connect()]);
    const p = uniquePath('lock');
    await contender(a, p, '1', 'lock-', 'stuck');
    await contender(b, p, '2', 'lock-', 'w');
    await contender(a, p, '3', 'lock-', 'again'); // the same session waits behind itself
    const x = kind(await inspect(me, p, { staleAfterMs: 0 }), 'lock');
    expect(x.hints.join('\n')).toMatch(/holder has (held for at least|been in line for) .* over 0 ms.*"stuck".*2 waiters are blocked/);
    expect(x.hints.join('\n')).toContain(`session 0x${a.sessionId} both holds and waits`);

    const q = uniquePath('lock');
    await me.create(`${q}/lock-`, 'left behind', { mode: 'persistent_sequential', createParents: true });
    const y = kind(await inspect(me, q), 'lock');
    expect(y.holder?.sessionId).toBeUndefined();
    expect(y.hints[0]).toMatch(/PERSISTENT: no session end will ever remove it.*delete .*lock-0000000000 by hand/);
    await me.delete(q, { recursive: true });
  });

  it('lock: flags a holder whose session is not connected to any server (cut off, not yet expired)', async () => {
    const proxy = await startProxy(zk.server.connectString);
    cleanup.push(() => proxy.close());
    const cut = await ZkSession.connect(proxy.connectString, { sessionTimeoutMs: 8000 });
    cleanup.push(() => cut.close());
    const me = await zk.connect();
    const p = uniquePath('lock');
    await contender(cut, p, 'a', 'lock-', 'partitioned');
    const suspended = nextEvent(cut, 'suspended', 10_000);
    proxy.partition();
    proxy.dropConnections(); // the server sees the connection close; reconnects stall
    await suspended;
    const found = await waitUntil(
      async () => {
        const r = await inspect(me, p);
        return r.kind === 'lock' && r.holder?.sessionConnected === false ? r : undefined;
      },
      'the holder to show as not connected',
      5000,
    );
    const x = kind(found!, 'lock');
    expect(x.holder?.sessionId).toBe(`0x${cut.sessionId}`);
    expect(x.hints[0]).toMatch(/holder's session 0x[0-9a-f]+ is not connected to any server/);
    expect(formatInspection(x)).toContain('(NOT CONNECTED)');
  });

  it("lock ages: in line since the node's creation; holding exact, bounded or honestly unknown after a hand-over", async () => {
    const [a, b, c, me] = await Promise.all([zk.connect(), zk.connect(), zk.connect(), zk.connect()]);
    const p = uniquePath('lock-ages');
    const leaseA = await new Lock(a, p, { data: 'a' }).acquire();
    let x = kind(await inspect(me, p), 'lock');
    // alone and nothing left since: it has held from the moment it joined the line
    expect(x.holder?.holding).toEqual({ known: 'exact', notAfter: x.holder!.createdAt, minMs: x.holder!.ageMs, maxMs: x.holder!.ageMs });
    expect(formatInspection(x)).toMatch(
      /holder: #0 .*\n\s+session 0x[0-9a-f]+ \(connected\), in line for \d+ m?s \(since .*Z\); holding \d+ m?s \(since it joined the line/,
    );

    // b queues behind a; a releases; b holds. Its node's age counts from when it queued, and
    // nothing on the server records when a's node went: the hold must not be shown as known.
    const acquireB = new Lock(b, p, { data: 'b' }).acquire();
    await waitUntil(async () => (await me.getChildren(p)).length === 2, 'b to be in line');
    await leaseA.release();
    const leaseB = await acquireB;
    x = kind(await inspect(me, p), 'lock');
    expect(x.holder?.data).toBe('b');
    expect(x.holder?.createdAt).toEqual((await me.get(x.holder!.path)).stat.ctime);
    expect(x.holder?.holding).toEqual({ known: 'unknown', notAfter: undefined, minMs: undefined, maxMs: x.holder!.ageMs });
    const text = formatInspection(x);
    expect(text).toMatch(/in line for \d+ m?s \(since .*Z\); holding for an unknown part of that, at most \d+ m?s \(when it took over is not recorded\)/);
    expect(text).not.toMatch(/holding \d/);
    const stale = await waitUntil(
      async () => {
        const y = kind(await inspect(me, p, { staleAfterMs: 0 }), 'lock');
        return y.hints.length ? y : undefined;
      },
      'the stale-holder hint',
      5000,
    );
    expect(stale!.hints[0]).toMatch(
      /holder has been in line for .*, over 0 ms, holding for how much of it is not recorded: it may have waited most of it behind an earlier holder. Check the process named in its data \("b"\)/,
    );

    // c queues after the hand-over: b took over no later than c's node was made
    const acquireC = new Lock(c, p, { data: 'c' }).acquire();
    await waitUntil(async () => (await me.getChildren(p)).length === 2, 'c to be in line');
    x = kind(await inspect(me, p), 'lock');
    expect(x.holder?.holding).toMatchObject({ known: 'bounded', notAfter: x.waiters[0]!.createdAt, maxMs: x.holder!.ageMs });
    expect(x.holder!.holding.minMs!).toBeLessThanOrEqual(x.holder!.holding.maxMs);
    expect(formatInspection(x)).toMatch(
      /holding between \d+ m?s and \d+ m?s \(took over by .*Z; the moment is not recorded\)[\s\S]*waiters: 1\n\s+1\. #2 .*\n\s+session .*, in line for \d+ m?s \(since/,
    );
    await leaseB.release();
    await (await acquireC).release();
  });

  it('read-write lock: readers before the first writer hold; the writer and later readers wait', async () => {
    const [a, b, c, d] = await Promise.all([zk.connect(), zk.connect(), zk.connect(), zk.connect()]);
    const p = uniquePath('rw');
    await contender(a, p, 'e', '__READ__', 'r1');
    await contender(b, p, 'd', '__READ__', 'r2');
    await contender(c, p, '0', '__WRIT__', 'w1');
    await contender(d, p, '1', '__READ__', 'r3');
    const x = kind(await inspect(a, p), 'rwlock');
    expect(x.holders.map((h) => [h.mode, h.data])).toEqual([
      ['read', 'r1'],
      ['read', 'r2'],
    ]);
    expect(x.waiters.map((h) => [h.mode, h.data])).toEqual([
      ['write', 'w1'],
      ['read', 'r3'],
    ]);
    // no node left since r3's was made: both readers took over by then
    expect(x.holders.map((h) => [h.holding.known, h.holding.notAfter])).toEqual([
      ['bounded', x.waiters[1]!.createdAt],
      ['bounded', x.waiters[1]!.createdAt],
    ]);
    expect(formatInspection(x)).toContain('READ-WRITE LOCK, held for read, 2 waiting');
  });

  it('leader latch: the lowest sequence leads; participants in order with ids from data', async () => {
    const [a, b, c] = await Promise.all([zk.connect(), zk.connect(), zk.connect()]);
    const p = uniquePath('latch');
    await contender(a, p, 'c', 'latch-', 'alpha');
    await contender(b, p, 'b', 'latch-', 'beta');
    await contender(c, p, 'a', 'latch-', 'gamma');
    const x = kind(await inspect(a, p), 'leader-latch');
    expect(x.leader?.data).toBe('alpha');
    expect(x.participants.map((n) => n.data)).toEqual(['alpha', 'beta', 'gamma']);
    expect(x.leader?.holding).toMatchObject({ known: 'bounded', notAfter: x.participants[2]!.createdAt });
    expect(formatInspection(x)).toMatch(/LEADER LATCH, 3 participant\(s\)\n\s+leader: #0 .*\n.*"alpha"/);
  });

  it('semaphore: leases with sessions, the acquire line under locks/', async () => {
    const [a, b, c] = await Promise.all([zk.connect(), zk.connect(), zk.connect()]);
    const p = uniquePath('sem');
    await contender(a, `${p}/leases`, '9', 'lease-', 'a');
    await contender(b, `${p}/leases`, '1', 'lease-', 'b');
    await contender(c, `${p}/locks`, '5', 'lock-', 'c');
    await contender(c, `${p}/leases`, '0', 'lease-', 'c'); // c holds the mutex and waits for a slot
    const x = kind(await inspect(a, p), 'semaphore');
    expect(x.leases.map((l) => l.sessionId)).toEqual([`0x${a.sessionId}`, `0x${b.sessionId}`, `0x${c.sessionId}`]);
    expect(x.pendingLease?.data).toBe('c');
    expect(x.pendingLease?.holding).toBeUndefined(); // it does not hold yet
    expect(x.leases.slice(0, 2).map((l) => l.holding?.known)).toEqual(['bounded', 'bounded']);
    expect(x.waiters.map((l) => l.sessionId)).toEqual([`0x${c.sessionId}`]);
    const text = formatInspection(x);
    expect(text).toContain('SEMAPHORE, 2 lease(s) held, 1 in the acquire line');
    expect(text).toMatch(/3\. #2 .*-lease-0000000002\n.*WAITING for a free lease/);
  });

  it('queue: depth, the head item (name, age, size) and claims in flight', async () => {
    const s = await zk.connect();
    const p = uniquePath('queue');
    const first = await s.create(`${p}/queue-`, 'first item', { mode: 'persistent_sequential', createParents: true });
    await s.create(`${p}/queue-`, 'second', { mode: 'persistent_sequential' });
    await s.create(`${p}/queue-`, 'third', { mode: 'persistent_sequential' });
    await s.create(`${p}-locks/${first.slice(p.length + 1)}`, '', { mode: 'ephemeral', createParents: true });
    await s.create(`${p}-poison/queue-0000000099`, Buffer.from([0xff, 0x00]), { createParents: true });
    const x = kind(await inspect(s, p), 'queue');
    expect(x.depth).toBe(3);
    expect(x.poisoned).toBe(1);
    expect(x.hints.join()).toMatch(/1 item\(s\) could not be decoded and were moved to .*-poison/);
    expect(x.head?.path).toBe(first);
    expect(x.head?.dataLength).toBe(10);
    expect(x.head?.ageMs).toBeGreaterThanOrEqual(0);
    expect(x.inFlight).toBe(1);
    expect(formatInspection(x)).toMatch(/QUEUE, depth 3, 1 claimed by consumers, 1 poisoned\n\s+head: queue-0000000000, 10 bytes, waiting/);
    await s.delete(p, { recursive: true });
    await s.delete(`${p}-locks`, { recursive: true });
    await s.delete(`${p}-poison`, { recursive: true });
  });

  it('queue, bucketed layout: depth over every bucket, the head from the oldest, as a taker gets it', async () => {
    const s = await zk.connect();
    const p = uniquePath('queue-buckets');
    const q = new DistributedQueue<number>(s, p, { bucketSize: 16 });
    cleanup.push(() => q.close());
    await q.putMany(Array.from({ length: 40 }, (_, i) => i));
    const x = kind(await inspect(s, p), 'queue');
    expect([x.flavour, x.depth, x.protectedItems]).toEqual(['fifo', 40, 40]);
    expect(x.buckets).toBeGreaterThanOrEqual(2);
    expect(x.head?.data).toBe('0');
    expect(formatInspection(x)).toMatch(/QUEUE, depth 40 in \d+ bucket\(s\)/);
    expect(await q.take({ timeoutMs: 5000 })).toBe(0);
  });

  it('queue: protected and plain item names ordered by sequence, as takers get them; priority and delay heads', async () => {
    const s = await zk.connect();
    const p = uniquePath('queue-names');
    // protected (our default) first, then Curator's plain names: by name the plain ones sort first
    const first = await new DistributedQueue<string>(s, p).put('protected, first');
    await new DistributedQueue<string>(s, p, { protectedPuts: false }).putMany(['plain, second', 'plain, third']);
    expect(first).toMatch(/\/queue-_c_[0-9a-f-]{36}-0000000000$/);
    const x = kind(await inspect(s, p), 'queue');
    expect([x.flavour, x.depth, x.protectedItems]).toEqual(['fifo', 3, 1]);
    expect(x.head?.path).toBe(first);
    expect(x.head?.protectedPut).toBe(true);
    expect(x.head?.data).toBe('"protected, first"');
    const taker = new DistributedQueue<string>(s, p);
    cleanup.push(() => taker.close());
    expect(await taker.take({ timeoutMs: 5000 })).toBe('protected, first'); // the inspector's head is the taker's head
    expect(formatInspection(x)).toMatch(/QUEUE, depth 3\n\s+head: queue-_c_.*-0000000000, \d+ bytes, waiting .*\n\s+names: 1 protected .*, 2 plain/);

    const pq = uniquePath('queue-priority');
    const prio = new DistributedPriorityQueue<string>(s, pq);
    await prio.put('routine', 5);
    const urgent = await prio.put('urgent', -10);
    await prio.put('later', 7);
    const y = kind(await inspect(s, pq), 'queue');
    expect([y.flavour, y.depth, y.head?.path, y.head?.priority]).toEqual(['priority', 3, urgent, -10]);
    expect(formatInspection(y)).toMatch(/QUEUE \(priority\), depth 3[\s\S]*head: .*, priority -10, waiting/);

    const dq = uniquePath('queue-delay');
    const delay = new DistributedDelayQueue<string>(s, dq);
    const dueSoon = Date.now() + 60_000;
    await delay.put('in two hours', Date.now() + 7_200_000);
    const soon = await delay.put('in a minute', dueSoon);
    const z = kind(await inspect(s, dq), 'queue');
    expect([z.flavour, z.depth, z.head?.path, z.head?.dueAt?.getTime()]).toEqual(['delay', 2, soon, dueSoon]);
    expect(formatInspection(z)).toContain(`head: ${soon.slice(dq.length + 1)}`);
    expect(formatInspection(z)).toContain(`due ${new Date(dueSoon).toISOString()}`);
    for (const q of [p, pq, dq]) await s.delete(q, { recursive: true });
  });

  it('group membership: plain ephemeral children with their data', async () => {
    const [a, b] = await Promise.all([zk.connect(), zk.connect()]);
    const p = uniquePath('group');
    await a.create(`${p}/alice`, '{"port":1}', { mode: 'ephemeral', createParents: true });
    await b.create(`${p}/bob`, '{"port":2}', { mode: 'ephemeral' });
    const x = kind(await inspect(a, p), 'group');
    expect(x.members.map((m) => [m.name, m.data, m.sessionId])).toEqual([
      ['alice', '{"port":1}', `0x${a.sessionId}`],
      ['bob', '{"port":2}', `0x${b.sessionId}`],
    ]);
  });

  it("service: a service discovery service's instances with addresses, types, sessions and ages", async () => {
    const [a, b, me] = await Promise.all([zk.connect(), zk.connect(), zk.connect()]);
    const base = uniquePath('services');
    const da = new ServiceDiscovery(a, base);
    const db = new ServiceDiscovery(b, base);
    cleanup.push(
      () => da.close(),
      () => db.close(),
    );
    const registeredAt = Date.now() - 60_000;
    await da.registerService(
      serviceInstance({ name: 'api', id: 'api-1', address: '10.0.0.1', port: 8080, registrationTimeUTC: registeredAt, uriSpec: '{scheme}://{address}:{port}' }),
    );
    await db.registerService(serviceInstance({ name: 'api', id: 'api-2', address: '10.0.0.2', sslPort: 8443, enabled: false }));
    await db.registerService(serviceInstance({ name: 'api', id: 'api-3', address: '10.0.0.1', port: 8080, serviceType: 'STATIC' }));
    await db.registerService(serviceInstance({ name: 'api', id: 'seq-', address: '10.0.0.4', port: 81, serviceType: 'DYNAMIC_SEQUENTIAL' }));
    const x = kind(await inspect(me, `${base}/api`), 'service');
    expect(x.name).toBe('api');
    expect(x.instances.map((i) => [i.id, i.address, i.port, i.sslPort, i.serviceType, i.enabled, i.sessionId])).toEqual([
      ['api-1', '10.0.0.1', 8080, null, 'DYNAMIC', true, `0x${a.sessionId}`],
      ['api-2', '10.0.0.2', null, 8443, 'DYNAMIC', false, `0x${b.sessionId}`],
      ['api-3', '10.0.0.1', 8080, null, 'STATIC', true, undefined],
      ['seq-', '10.0.0.4', 81, null, 'DYNAMIC_SEQUENTIAL', true, `0x${b.sessionId}`],
    ]);
    expect(x.instances[3]!.name).toMatch(/^seq-\d{10}$/);
    expect(x.instances[0]!.registeredAt.getTime()).toBe(registeredAt);
    expect(x.instances[0]!.uri).toBe('http://10.0.0.1:8080');
    expect(x.instances[0]!.sessionConnected).toBe(true);
    expect(x.hints.join('\n')).toMatch(/instances api-1, api-3 all claim 10\.0\.0\.1:8080/);
    const text = formatInspection(x);
    expect(text).toMatch(/SERVICE api, 4 instance\(s\), 3 enabled/);
    expect(text).toMatch(
      /- api-1 {2}10\.0\.0\.1:8080 {2}DYNAMIC {2}http:\/\/10\.0\.0\.1:8080\n\s+session 0x[0-9a-f]+ \(connected\), node up \d+ m?s \(since .*Z\), registered .*Z \(its own clock\)/,
    );
    expect(text).toMatch(/- api-2 {2}10\.0\.0\.2 \(ssl 8443\) {2}DYNAMIC, DISABLED/);
    expect(text).toMatch(/- api-3 .* STATIC\n\s+PERSISTENT \(no session\)/);
    // the base path is not a service; a group whose members hold other JSON stays a group
    expect((await inspect(me, base)).kind).toBe('tree');
    await da.close();
    await db.close();
    await me.delete(base, { recursive: true });
  });

  it('tree: a summary of the whole subtree (what a tree cache of the path holds), cut at maxNodes', async () => {
    const s = await zk.connect();
    const t = uniquePath('subtree');
    await s.create(`${t}/a/b/c`, 'abc', { createParents: true, parentMode: 'persistent' });
    await s.create(`${t}/a/x`, '12345');
    await s.create(`${t}/e`, 'eph', { mode: 'ephemeral' });
    await s.set(`${t}/a`, 'changed last');
    const x = kind(await inspect(s, t), 'tree');
    const { newest, ...counts } = x.subtree;
    expect(counts).toEqual({ nodes: 6, depth: 3, bytes: 3 + 5 + 3 + 12, ephemeral: 1, complete: true });
    expect(newest).toEqual({ path: `${t}/a`, at: (await s.get(`${t}/a`)).stat.mtime });
    expect(formatInspection(x)).toContain(`subtree: 6 node(s), 3 level(s) deep, 23 bytes, 1 ephemeral, latest change ${t}/a at ${newest!.at.toISOString()}`);
    const cut = kind(await inspect(s, t, { maxNodes: 3 }), 'tree');
    expect([cut.subtree.nodes, cut.subtree.complete]).toEqual([3, false]);
    expect(formatInspection(cut)).toMatch(/subtree: at least 3 node\(s\).*\(walk stopped at maxNodes\)/);
    await expect(inspect(s, t, { maxNodes: -1 })).rejects.toThrow(/option maxNodes must be a number >= 0/);
    await s.delete(t, { recursive: true });
  });

  it('scheduler: leader, workers with capacity/load, task counts by state (tolerant of junk), orphaned tasks', async () => {
    const [w, d] = await Promise.all([zk.connect(), zk.connect()]);
    const p = uniquePath('sched');
    for (const dir of ['tasks', 'workers', 'assign/w1', 'leader']) await d.create(`${p}/${dir}`, '', { createParents: true });
    await w.create(`${p}/workers/w1`, JSON.stringify({ capacity: 4, load: 1, draining: false }), { mode: 'ephemeral' });
    const task = (state: string, worker?: string) => JSON.stringify({ state, type: 'x', worker });
    await d.create(`${p}/tasks/t1`, task('pending'));
    await d.create(`${p}/tasks/t2`, task('running', 'w1'));
    await d.create(`${p}/assign/w1/t2`, '');
    await d.create(`${p}/tasks/t3`, task('succeeded', 'w1'));
    await d.create(`${p}/tasks/t4`, task('pending'));
    await d.create(`${p}/tasks/t5`, task('running', 'w9')); // a worker that is gone
    await d.create(`${p}/tasks/t6`, 'not json at all');
    await contender(d, `${p}/leader`, '7', 'latch-', 'dispatcher-1');
    const now = Date.now();
    await d.create(`${p}/schedules/beat`, JSON.stringify({ everyMs: 60_000, startAt: now - 90_000, type: 'x', payload: null, maxAttempts: 1, lastFired: 1 }), {
      createParents: true,
    });
    await d.create(
      `${p}/schedules/nightly`,
      JSON.stringify({ everyMs: 0, cron: '0 0 * * *', startAt: now - 3 * 86_400_000, type: 'y', payload: null, maxAttempts: 1, lastFired: -1 }),
    );
    const x = kind(await inspect(d, p), 'scheduler');
    const [beat, nightly] = x.schedules;
    expect([beat!.id, beat!.everyMs, beat!.lastFiredAt?.getTime(), beat!.nextDueAt?.getTime()]).toEqual(['beat', 60_000, now - 30_000, now + 30_000]);
    expect([nightly!.id, nightly!.cron, nightly!.lastFiredAt]).toEqual(['nightly', '0 0 * * *', undefined]);
    // never fired since it was defined three days ago, with a dispatcher leading: overdue
    expect(nightly!.nextDueAt!.getTime()).toBeLessThan(now - 86_400_000);
    expect(x.hints.join('\n')).toMatch(/schedule nightly: the period due .* ago has not fired although a dispatcher leads/);
    expect(formatInspection(x)).toMatch(
      /schedules: 2[\s\S]*beat: every 1 m 0 s, type x, last fired 3\d s ago, next in (2\d|30) s[\s\S]*nightly: cron '0 0 \* \* \*' \(UTC\), type y, not fired yet, next OVERDUE by/,
    );
    expect(x.leader?.data).toBe('dispatcher-1');
    expect(x.leader?.holding.known).toBe('exact'); // alone in leader/, nothing left since
    expect(x.workers.map((v) => [v.name, v.capacity, v.load, v.draining, v.assigned])).toEqual([['w1', 4, 1, false, 1]]);
    expect(x.tasks).toEqual({ total: 6, byState: { pending: 2, running: 2, succeeded: 1, unknown: 1 } });
    expect(x.hints.join('\n')).toMatch(/1 task\(s\) assigned to workers that are not registered.*t5 \(w9\)/);
    expect(formatInspection(x)).toMatch(
      /SCHEDULER, 1 worker\(s\), 6 task\(s\)[\s\S]*w1: load 1\/4, 1 assigned[\s\S]*tasks: 6 \(pending 2, running 2, succeeded 1, unknown 1\)/,
    );
    await d.delete(p, { recursive: true }).catch(() => undefined);
  });

  it('double barrier, plain tree and missing path', async () => {
    const [a, b] = await Promise.all([zk.connect(), zk.connect()]);
    const p = uniquePath('dbar');
    await a.create(`${p}/${randomUUID()}`, '', { mode: 'ephemeral', createParents: true });
    await b.create(`${p}/${randomUUID()}`, '', { mode: 'ephemeral' });
    await a.create(`${p}/ready`, '');
    const x = kind(await inspect(a, p), 'double-barrier');
    expect(x.participants).toHaveLength(2);

    const t = uniquePath('tree');
    await a.create(`${t}/config`, 'k=v', { createParents: true });
    await a.create(`${t}/other`, '');
    const y = kind(await inspect(a, t), 'tree');
    expect(y.children.map((c) => c.name)).toEqual(['config', 'other']);
    expect(y.totalChildren).toBe(2);
    expect(formatInspection(y)).toContain('no recipe recognised');

    const z = await inspect(a, uniquePath('nothing'));
    expect(z.kind).toBe('missing');
    expect(formatInspection(z)).toMatch(/no such node[\s\S]*does not exist/);
    await a.delete(t, { recursive: true });
    await a.delete(`${p}/ready`);
  });

  it('rejects bad input before reading', async () => {
    const s = await zk.connect();
    await expect(inspect(s, 'relative/path')).rejects.toThrow(/inspect: invalid path/);
    await expect(inspect(s, '/x', { staleAfterMs: -1 })).rejects.toThrow(/option staleAfterMs/);
    await expect(inspect(s, '/x', { signal: AbortSignal.abort() })).rejects.toThrow(/inspect \/x: aborted/);
  });
});

// ---- the CLI, run as a child process with tsx ------------------------------------------------

function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], { env: { ...process.env, ...env }, timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

describe('zk-recipes CLI', () => {
  it('run with tsx: inspect as text (--connect) and --json (ZK_CONNECT default); health exit 0', async () => {
    const [a, b] = await Promise.all([zk.connect(), zk.connect()]);
    const p = uniquePath('cli-lock');
    await contender(a, p, 'b', 'lock-', 'worker-7');
    await contender(b, p, 'a', 'lock-', 'worker-8');
    const [text, json, health] = await Promise.all([
      cli(['inspect', p, '--connect', zk.server.connectString]),
      cli(['inspect', p, '--json'], { ZK_CONNECT: zk.server.connectString }),
      cli(['health', '--connect', zk.server.connectString]),
    ]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`${p}: LOCK, HELD, 1 waiting`);
    expect(text.stdout).toContain(`session 0x${a.sessionId}`);
    expect(json.code).toBe(0);
    const parsed = JSON.parse(json.stdout) as { kind: string; holder: { data: string; sessionId: string }; waiters: unknown[] };
    expect(parsed.kind).toBe('lock');
    expect(parsed.holder).toMatchObject({ data: 'worker-7', sessionId: `0x${a.sessionId}` });
    expect(parsed.waiters).toHaveLength(1);
    expect(health.code).toBe(0);
    expect(health.stdout).toMatch(/HEALTHY[\s\S]*standalone, rtt/);
  });

  it('main() in-process: exit 1 for an unhealthy ensemble or no connection, 3 for a missing path, 2 for bad usage, 0 for --help', async () => {
    const run = async (args: string[]) => {
      const out: string[] = [];
      const err: string[] = [];
      const code = await main(args, { out: (s) => out.push(s), err: (s) => err.push(s), env: {} });
      return { code, out: out.join('\n'), err: err.join('\n') };
    };
    const dead = `127.0.0.1:${await freePort()}`;
    const down = await run(['health', '--json', '--connect', dead, '--timeout', '1000']);
    expect(down.code).toBe(1);
    const h = JSON.parse(down.out) as { healthy: boolean; servers: Array<{ answering: boolean }> };
    expect(h.healthy).toBe(false);
    expect(h.servers[0]!.answering).toBe(false);
    const missing = await run(['inspect', uniquePath('nope'), `--connect=${zk.server.connectString}`]);
    expect(missing.code).toBe(3);
    expect(missing.out).toContain('no such node');
    const noConnect = await run(['inspect', '/x', '--connect', dead, '--timeout', '1000']);
    expect(noConnect.code).toBe(1);
    expect(noConnect.err).toMatch(/zk-recipes inspect: session: could not connect to .* \[CONNECT_TIMEOUT\]/);
    const cases: Array<[string[], RegExp]> = [
      [['inspect'], /inspect needs a <path>[\s\S]*Usage:/],
      [['frobnicate'], /unknown command "frobnicate"/],
      [['health', 'extra'], /health takes no arguments/],
      [['inspect', '/a', '/b'], /inspect takes one <path>, got 2/],
      [['health', '--timeout', 'soon'], /--timeout needs a positive number/],
      [['health', '--connect'], /--connect needs host:port/],
      [['health', '--bogus'], /unknown option --bogus/],
      [[], /missing command/],
    ];
    for (const [args, re] of cases) {
      const r = await run(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err).toMatch(re);
    }
    const help = await run(['--help']);
    expect(help.code).toBe(0);
    expect(help.out).toContain('zk-recipes inspect <path>');
  });
});
