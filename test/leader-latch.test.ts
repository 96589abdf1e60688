// LeaderLatch against a real server: exactly one leader, handover on close, on a killed process,
// on session expiry (with fencing tokens checked over the recorded terms), and through a
// suspended connection without a new node.
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { LeaderLatch, ZkSession } from '../src/index.js';
import { expireSession } from '../src/testing/index.js';
import { startProxy } from '../src/testing/proxy.js';
import { TermLog } from './fixtures/latch-terms.js';
import { TEST_TRANSPORT, spawnClean, nextEvent, uniquePath, useServer, waitUntil, testConnectString, testSessionOptions } from './helpers.js';

const zk = useServer();

async function participants(n: number, path: string, opts: { sessionTimeoutMs?: number } = {}): Promise<{ sessions: ZkSession[]; latches: LeaderLatch[] }> {
  const sessions = await Promise.all(Array.from({ length: n }, () => zk.connect({ sessionTimeoutMs: opts.sessionTimeoutMs ?? 4000 })));
  const latches = sessions.map((s, i) => new LeaderLatch(s, path, { id: `p${i}` }));
  return { sessions, latches };
}

const leadersOf = (latches: LeaderLatch[]) => latches.filter((l) => l.hasLeadership());
/** The one leader among `latches`, or undefined unless exactly one leads. */
const soleLeader = (latches: LeaderLatch[]) => {
  const l = leadersOf(latches);
  return l.length === 1 ? l[0] : undefined;
};

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});

describe('LeaderLatch', () => {
  it('rejects bad input before writing, and enforces its lifecycle', async () => {
    const s = await zk.connect();
    expect(() => new LeaderLatch(s, 'relative')).toThrow(/leader-latch: invalid path/);
    expect(() => new LeaderLatch(s, '/zookeeper/x')).toThrow(/reserved/);
    expect(() => new LeaderLatch(s, '/a', { id: 5 as unknown as string })).toThrow(/leader-latch: option id must be a string/);
    expect(() => new LeaderLatch(s, '/a', { stateErrorPolicy: 'x' as never })).toThrow(/stateErrorPolicy/);
    expect(() => new LeaderLatch(s, '/a', { bogus: 1 } as never)).toThrow(/unknown option bogus/);
    const path = uniquePath('latch-life');
    const latch = new LeaderLatch(s, path, { id: 'a' });
    await expect(latch.await()).rejects.toMatchObject({ code: 'ILLEGAL_STATE' });
    expect(await s.exists(path)).toBeNull(); // the constructor wrote nothing
    latch.start();
    expect(() => latch.start()).toThrow(/already started/);
    await latch.await({ timeoutMs: 10_000 });
    await expect(latch.await({ timeoutMs: -1 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await latch.close();
    await latch.close(); // idempotent
    expect(latch.hasLeadership()).toBe(false);
    await expect(latch.await()).rejects.toMatchObject({ code: 'CLOSED' });
    expect(await s.getChildren(path).catch(() => [])).toEqual([]);
  });

  it("elects exactly one leader among 5 participants, with Curator's layout, and hands over on close", async () => {
    const path = uniquePath('latch-five');
    const { sessions, latches } = await participants(5, path);
    const log = new TermLog();
    for (const l of latches) {
      log.watch(l);
      l.start();
    }
    await waitUntil(async () => (await sessions[0]!.getChildren(path).catch(() => [])).length === 5, 'all five nodes');
    const first = (await waitUntil(() => soleLeader(latches), 'a leader'))!;
    // Curator's layout: _c_<uuid>-latch-<10 digits>, data = the id in UTF-8.
    const names = await sessions[0]!.getChildren(path);
    for (const n of names) expect(n).toMatch(/^_c_[0-9a-f-]{36}-latch-\d{10}$/);
    const parts = await latches[3]!.getParticipants();
    expect(parts.map((p) => p.id).sort()).toEqual(['p0', 'p1', 'p2', 'p3', 'p4']);
    expect(parts.filter((p) => p.isLeader)).toEqual([expect.objectContaining({ id: first.id })]);
    expect(parts[0]!.nodeName).toBe(first.nodePath!.split('/').pop());
    for (const l of latches) expect(await l.getLeader()).toBe(first.id);
    expect(first.fencingToken).toBeTypeOf('bigint');

    // Close leaders one by one: each time exactly one other participant takes over.
    const remaining = [...latches];
    while (remaining.length > 1) {
      const leader = leadersOf(remaining)[0]!;
      remaining.splice(remaining.indexOf(leader), 1);
      const next = Promise.race(remaining.map((l) => nextEvent(l, 'isLeader').then(() => l)));
      await leader.close();
      const successor = await next;
      expect(leadersOf(remaining)).toEqual([successor]);
      expect(await successor.getLeader()).toBe(successor.id);
    }
    await remaining[0]!.close();
    expect(log.maxConcurrent).toBe(1);
    expect(log.terms).toHaveLength(5);
    log.check();
    await waitUntil(async () => (await sessions[0]!.getChildren(path).catch(() => [])).length === 0, 'every node deleted');
  });

  it("another participant takes over when the leader's process is killed -9", async () => {
    const path = uniquePath('latch-kill');
    const child = spawnClean([process.execPath, '--import', 'tsx', 'test/fixtures/latch-participant.ts', zk.server.connectString, path, 'child', '2000'], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    children.push(child);
    const lines = createInterface({ input: child.stdout! });
    const events: Array<{ event: string; token?: string }> = [];
    lines.on('line', (l) => events.push(JSON.parse(l) as { event: string }));
    await waitUntil(() => events.some((e) => e.event === 'isLeader'), 'the child to lead', 30_000);
    const { latches } = await participants(2, path);
    const log = new TermLog();
    for (const l of latches) {
      log.watch(l);
      l.start();
    }
    await waitUntil(async () => (await latches[0]!.getParticipants()).length === 3, 'three participants');
    expect(await latches[0]!.getLeader()).toBe('child');
    expect(leadersOf(latches)).toEqual([]);
    child.kill('SIGKILL');
    const leader = (await waitUntil(() => soleLeader(latches), 'a survivor to lead after the kill', 20_000))!;
    expect(await leader.getLeader()).toBe(leader.id);
    const childToken = BigInt(events.find((e) => e.event === 'isLeader')!.token!);
    expect(leader.fencingToken!).toBeGreaterThan(childToken);
    expect(log.maxConcurrent).toBe(1);
  });

  it('an expired leader steps down, re-enters with a new node, and no two current leaders ever coexist', async () => {
    const path = uniquePath('latch-expire');
    const { sessions, latches } = await participants(3, path);
    const log = new TermLog();
    latches[0]!.start();
    await latches[0]!.await({ timeoutMs: 10_000 });
    for (const l of latches.slice(1)) l.start();
    for (const l of latches) log.watch(l);
    const queue = (await waitUntil(async () => {
      const p = await latches[0]!.getParticipants();
      return p.length === 3 ? p : undefined;
    }, 'three participants'))!;
    const [second, third] = [queue[1]!.id, queue[2]!.id].map((id) => latches.find((l) => l.id === id)!) as [LeaderLatch, LeaderLatch];
    const oldNode = latches[0]!.nodePath!;
    const notLeader = nextEvent(latches[0]!, 'notLeader');
    const newLeader = Promise.race(latches.slice(1).map((l) => nextEvent(l, 'isLeader').then(() => l)));
    await expireSession(sessions[0]!);
    await notLeader;
    const successor = await newLeader;
    expect(successor).toBe(second);
    // p0 re-enters by itself with a new node, at the back of the queue.
    await waitUntil(
      async () => {
        const parts = await successor.getParticipants();
        return parts.length === 3 && parts[2]!.id === 'p0';
      },
      'p0 to re-enter',
      20_000,
    );
    expect(latches[0]!.nodePath).toBeDefined();
    expect(latches[0]!.nodePath).not.toBe(oldNode);
    expect(latches[0]!.hasLeadership()).toBe(false);
    // Rotate once more: the successor closes, the third leads, p0 stays a follower.
    const thirdLeads = nextEvent(third, 'isLeader');
    await second.close();
    await thirdLeads;
    expect(leadersOf(latches)).toEqual([third]);
    log.check();
  });

  it('suspended: the leader steps down, then reclaims leadership on reconnect with the same node', async () => {
    const path = uniquePath('latch-suspend');
    const { sessions, latches } = await participants(2, path, { sessionTimeoutMs: 4000 });
    const [a, b] = latches as [LeaderLatch, LeaderLatch];
    a.start();
    await a.await({ timeoutMs: 10_000 });
    b.start();
    await waitUntil(async () => (await a.getParticipants()).length === 2, 'two participants');
    const nodeBefore = a.nodePath;
    const namesBefore = (await sessions[0]!.getChildren(path)).sort();
    const tokenBefore = a.fencingToken!;
    const stepDown = nextEvent(a, 'notLeader', 20_000);
    await zk.server.pause();
    let reclaimed: Promise<[{ fencingToken: bigint; path: string }]>;
    try {
      await stepDown;
      expect(a.hasLeadership()).toBe(false);
      expect(a.fencingToken).toBeUndefined();
    } finally {
      reclaimed = nextEvent<[{ fencingToken: bigint; path: string }]>(a, 'isLeader', 20_000);
      await zk.server.resume();
    }
    const [term] = await reclaimed;
    expect(sessions[0]!.sessionId).toBeDefined();
    expect(term.path).toBe(nodeBefore); // not deleted and recreated (CURATOR-644)
    expect(a.nodePath).toBe(nodeBefore);
    expect(term.fencingToken).toBeGreaterThanOrEqual(tokenBefore);
    expect((await sessions[1]!.getChildren(path)).sort()).toEqual(namesBefore);
    expect(b.hasLeadership()).toBe(false);
  });

  it('stateErrorPolicy "lost" keeps leadership through a short suspension', async () => {
    const path = uniquePath('latch-policy');
    const s = await zk.connect({ sessionTimeoutMs: 4000 });
    const latch = new LeaderLatch(s, path, { id: 'x', stateErrorPolicy: 'lost' });
    let stepDowns = 0;
    latch.on('notLeader', () => stepDowns++);
    latch.start();
    await latch.await({ timeoutMs: 10_000 });
    const suspended = nextEvent(s, 'suspended', 20_000);
    await zk.server.pause();
    try {
      await suspended;
    } finally {
      await zk.server.resume();
    }
    await waitUntil(() => s.state === 'connected', 'reconnect');
    expect(await latch.getLeader()).toBe('x');
    expect(latch.hasLeadership()).toBe(true);
    expect(stepDowns).toBe(0);
  });

  it('connections cut while joining leave no orphan node: one node per participant, one leader (CURATOR-45)', async () => {
    const path = uniquePath('latch-cut');
    const proxy = await startProxy(testConnectString(zk.server));
    let s: ZkSession | undefined;
    try {
      // One session behind the proxy: this suite also runs on the native transport, where cutting
      // several handles' connections at once can abort the process (fault 2 in docs/binding-issues.md).
      s = await ZkSession.connect(proxy.connectString, testSessionOptions(zk.server, { sessionTimeoutMs: 4000, transport: TEST_TRANSPORT }));
      const latches = [0, 1, 2].map((i) => new LeaderLatch(s!, path, { id: `c${i}` }));
      // Cut the connection at a different moment of each create: before it is sent, as it goes
      // out, and while the answer may be on its way back.
      const cuts = [
        () => proxy.dropConnections(),
        () =>
          new Promise<void>((r) =>
            setImmediate(() => {
              proxy.dropConnections();
              r();
            }),
          ),
        () =>
          new Promise<void>((r) =>
            setTimeout(() => {
              proxy.dropConnections();
              r();
            }, 1),
          ),
      ];
      for (let i = 0; i < latches.length; i++) {
        latches[i]!.start();
        await cuts[i]!();
      }
      const leader = (await waitUntil(() => soleLeader(latches), 'a leader after the cuts', 30_000))!;
      const direct = await zk.connect();
      await waitUntil(async () => (await direct.getChildren(path)).length >= 3, 'three nodes');
      const names = await direct.getChildren(path);
      const nodes = await Promise.all(
        names.map(async (n) => {
          const { data, stat } = await direct.get(`${path}/${n}`);
          return { id: data.toString(), owner: stat.ephemeralOwner };
        }),
      );
      // Exactly one node per participant (no orphan from a create whose answer was lost), all ours.
      expect(nodes.map((o) => o.id).sort()).toEqual(['c0', 'c1', 'c2']);
      for (const o of nodes) expect(o.owner).toBe(s.sessionId);
      expect(await leader.getLeader()).toBe(leader.id);
      await Promise.all(latches.map((l) => l.close()));
    } finally {
      await s?.close();
      await proxy.close();
    }
  });

  it('await honours timeoutMs and an AbortSignal; close fails pending waits', async () => {
    const path = uniquePath('latch-await');
    const { latches } = await participants(2, path);
    const [a, b] = latches as [LeaderLatch, LeaderLatch];
    a.start();
    await a.await({ timeoutMs: 10_000 });
    b.start();
    await expect(b.await({ timeoutMs: 50 })).rejects.toMatchObject({ code: 'TIMEOUT' });
    const ac = new AbortController();
    ac.abort();
    await expect(b.await({ signal: ac.signal })).rejects.toMatchObject({ code: 'ABORTED' });
    const pending = expect(b.await()).rejects.toMatchObject({ code: 'CLOSED' });
    await b.close();
    await pending;
  });
});
