// Session and LeaderLatch failover on a real 3-server ensemble: kill the server the leader's
// session is connected to, then the quorum leader; sessions reconnect (same session), the latch
// keeps exactly one leader throughout, and no orphan node is left behind.
//
// Each process takes one server kill, the second scenario runs its participants in a child
// process, and sessions here are closed only at the end. This layout predates finding why
// handles of one process could stop connecting after a kill that followed a restart: the restarted
// server process had inherited the clients' sockets (the binding sets no close-on-exec; fault 1 in
// docs/binding-issues.md). The test kit now spawns servers without inherited descriptors, and
// test/faults/ensemble-quorum-faults.test.ts kills servers after restarts; this file keeps its
// layout, which also stays clear of fault 2 there (several sessions reconnecting in one process).
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LeaderLatch, ZkSession } from '../src/index.js';
import { startEnsemble, type ZooKeeperEnsemble } from '../src/testing/index.js';
import { TermLog } from './fixtures/latch-terms.js';
import { spawnClean, nextEvent, uniquePath, waitUntil } from './helpers.js';

let ensemble: ZooKeeperEnsemble;
const pool: ZkSession[] = [];

beforeAll(async () => {
  ensemble = await startEnsemble(3);
}, 120_000);
afterAll(async () => {
  await Promise.all(pool.map((s) => s.close()));
  await ensemble?.close();
});

/** Three new sessions, closed in afterAll (see the note at the top). */
async function take3(): Promise<ZkSession[]> {
  // 8 s: long enough to ride out a quorum re-election (tickTime 200 ms) without expiring.
  const ss = await Promise.all([0, 1, 2].map(() => ZkSession.connect(ensemble.connectString, { sessionTimeoutMs: 8000 })));
  pool.push(...ss);
  return ss;
}

/** The one leader among `latches`, or undefined unless exactly one leads. */
const soleLeader = (latches: LeaderLatch[]) => {
  const l = latches.filter((x) => x.hasLeadership());
  return l.length === 1 ? l[0] : undefined;
};

describe('ensemble failover', () => {
  it('the quorum leader is killed: sessions ride out the re-election, exactly one latch leader, then handover works', async () => {
    const path = uniquePath('ens-quorum');
    const ss = await take3();
    const latches = ss.map((s, i) => new LeaderLatch(s, path, { id: `q${i}` }));
    const log = new TermLog();
    for (const l of latches) {
      log.watch(l);
      l.start();
    }
    await waitUntil(() => soleLeader(latches), 'a leader');
    await waitUntil(async () => (await ss[0]!.getChildren(path)).length === 3, 'three nodes');
    const ids = ss.map((s) => s.sessionId);
    const quorumLeader = await ensemble.leaderIndex();
    expect(quorumLeader).toBeGreaterThanOrEqual(0);
    await ensemble.kill(quorumLeader);
    try {
      await ensemble.waitForQuorum();
      await waitUntil(() => ss.every((s) => s.state === 'connected'), 'every session to reconnect', 30_000);
      expect(ss.map((s) => s.sessionId)).toEqual(ids); // the sessions survived
      const leader = (await waitUntil(() => soleLeader(latches), 'exactly one leader after re-election', 30_000))!;
      expect(await leader.getLeader()).toBe(leader.id);
    } finally {
      await ensemble.restart(quorumLeader);
    }
    expect((await ss[1]!.getChildren(path)).length).toBe(3);
    // Handover still works on the healed ensemble.
    const leader = soleLeader(latches)!;
    const rest = latches.filter((l) => l !== leader);
    const next = Promise.race(rest.map((l) => nextEvent(l, 'isLeader', 20_000).then(() => l)));
    await leader.close();
    const successor = await next;
    expect(soleLeader(rest)).toBe(successor);
    expect(log.maxConcurrent).toBe(1);
    log.check();
  });
  it("the leader's server is killed: its session reconnects elsewhere and the latch keeps one leader", async () => {
    // Participants in a child process: a fresh process for this scenario's server kill.
    const path = uniquePath('ens-latch');
    const child = spawnClean([process.execPath, '--import', 'tsx', 'test/fixtures/latch-ensemble.ts', ensemble.connectString, path, '3'], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    try {
      const events: Array<Record<string, unknown>> = [];
      const log = new TermLog();
      createInterface({ input: child.stdout! }).on('line', (line) => {
        const e = JSON.parse(line) as Record<string, unknown>;
        events.push(e);
        if (e['event'] === 'isLeader' || e['event'] === 'notLeader') {
          log.record(String(e['id']), e['event'], e['token'] === undefined ? undefined : BigInt(String(e['token'])), Number(e['t']));
        }
      });
      const status = async (): Promise<{
        leaders: string[];
        children: string[];
        nodes: Record<string, string | null>;
        sessions: Record<string, string>;
        states: Record<string, string>;
      }> => {
        const n = events.length;
        child.stdin!.write('status\n');
        const e = await waitUntil(() => events.slice(n).find((x) => x['event'] === 'status'), 'a status line');
        return e as never;
      };
      const first = (await waitUntil(
        async () => {
          const st = await status();
          return st.leaders.length === 1 && Object.values(st.nodes).every(Boolean) ? st : undefined;
        },
        'a leader in the child',
        30_000,
      ))!;
      const leaderId = first.leaders[0]!;
      const sessionId = first.sessions[leaderId]!;
      const victim = await ensemble.serverOf(sessionId);
      expect(victim).toBeGreaterThanOrEqual(0);
      const mark = events.length;
      await ensemble.kill(victim);
      try {
        await waitUntil(
          () => events.slice(mark).some((e) => e['event'] === 'state' && e['id'] === leaderId && e['state'] === 'connected'),
          "the leader's session to reconnect",
          30_000,
        );
        // The same participant leads again, with the same session and node (not deleted and recreated).
        const after = (await waitUntil(
          async () => {
            const st = await status();
            return st.leaders.length === 1 && st.leaders[0] === leaderId ? st : undefined;
          },
          'the leader to reclaim leadership',
          30_000,
        ))!;
        expect(after.sessions[leaderId]).toBe(sessionId);
        expect(after.nodes[leaderId]).toBe(first.nodes[leaderId]);
        expect(await ensemble.serverOf(sessionId)).not.toBe(victim);
      } finally {
        await ensemble.restart(victim);
      }
      expect(log.maxConcurrent).toBe(1);
      log.check();
      expect((await status()).children).toHaveLength(3); // no orphan, no duplicate
      child.stdin!.write('exit\n');
      await new Promise((r) => child.once('exit', r));
    } finally {
      child.kill('SIGKILL');
    }
  });
});
