// A network partition of one client, longer than its session timeout, through the test kit's
// TCP proxy: the client is cut off (partition()) while the others go on; the server expires its
// session; then heal(). The cut-off lock holder and latch leader learn of the danger (suspended)
// before the server lets anyone else in, so holdings never overlap at all; the others take over
// within the session timeout plus a margin; after heal() the cut-off client's lock contender,
// latch, group member and cache are back in working order on a new session by themselves.
import { afterAll, describe, expect, it } from 'vitest';
import { GroupMember, LeaderLatch, NodeCache, ZkSession } from '../../src/index.js';
import { startProxy } from '../../src/testing/index.js';
import { uniquePath, useServer, waitUntil } from '../helpers.js';
import { FencedResource, Tally, checkElection, checkMutualExclusion } from './checkers.js';
import { LeadershipLog, LockLoop, soleLeader } from './harness.js';

const SESSION_MS = 2000;
const zk = useServer();
const tally = new Tally('partition-faults.test.ts');
afterAll(() => tally.finish());

describe('network partition of one client', () => {
  it('lock holder, latch leader, group member and cache cut off past the session timeout, then healed', async () => {
    const lockPath = uniquePath('fp-lock');
    const latchPath = uniquePath('fp-latch');
    const groupPath = uniquePath('fp-group');
    const dataPath = uniquePath('fp-data');
    const proxy = await startProxy(zk.server.connectString);
    const cut = await ZkSession.connect(proxy.connectString, { sessionTimeoutMs: SESSION_MS });
    const others = [await zk.connect({ sessionTimeoutMs: SESSION_MS }), await zk.connect({ sessionTimeoutMs: SESSION_MS })];
    const all = [cut, ...others];
    const resource = new FencedResource();
    const log = new LeadershipLog();
    const latches = all.map((s, i) => new LeaderLatch(s, latchPath, { id: `p${i}` }));
    const members = all.map((s, i) => new GroupMember(s, groupPath, { id: `m${i}` }));
    await others[0]!.create(dataPath, 'v0');
    const cache = new NodeCache(cut, dataPath);
    let loops: LockLoop[] = [];
    try {
      // The cut-off client leads the latch and holds the lock first.
      log.watch(latches[0]!);
      latches[0]!.start();
      await latches[0]!.await({ timeoutMs: 10_000 });
      for (const l of latches.slice(1)) {
        log.watch(l);
        l.start();
      }
      for (const m of members) await m.join();
      await cache.start();
      loops = all.map((s, i) => new LockLoop(`c${i}`, s, lockPath, resource, 100));
      await waitUntil(() => loops.every((l) => l.acquisitions >= 1), 'every contender to hold once');
      await waitUntil(() => members.every((m) => m.members().size === 3), 'every view to show 3 members');

      const oldSession = cut.sessionId;
      const at = Date.now();
      proxy.partition();
      tally.fault();
      // The others go on: a new latch leader, the lock keeps changing hands, the group drops m0.
      await waitUntil(
        () => {
          const l = soleLeader(latches.slice(1));
          return l !== undefined;
        },
        'a new leader among the others',
        SESSION_MS + 8000,
      );
      await waitUntil(() => !members[1]!.members().has('m0'), 'the others to see m0 leave', SESSION_MS + 8000);
      await waitUntil(() => cut.state === 'lost' || cut.sessionId !== oldSession, 'the cut-off client to count its session lost', SESSION_MS * 3);
      const tHeld = Date.now();
      await waitUntil(() => loops.slice(1).every((l) => l.since(tHeld) >= 1), 'the others to keep taking the lock');
      expect(latches[0]!.hasLeadership()).toBe(false);
      await others[0]!.set(dataPath, 'v1');

      proxy.heal();
      const tHeal = Date.now();
      // Recovery on a new session, without a restart.
      await waitUntil(() => cut.state === 'connected' && cut.sessionId !== oldSession, 'a new session after heal');
      await waitUntil(() => loops[0]!.since(tHeal) >= 1, 'the cut-off contender to acquire again', 30_000);
      tally.recovery('lock contender after partition', true);
      await waitUntil(async () => (await latches[1]!.getParticipants()).length === 3, 'the cut-off latch to re-enter');
      tally.recovery('latch re-entered after partition', true);
      await waitUntil(() => members.every((m) => m.members().size === 3), 'm0 to re-join in every view');
      tally.recovery('group member re-joined after partition', true);
      await waitUntil(() => cache.current?.data.toString() === 'v1', 'the cache to re-arm and see v1');
      await others[0]!.set(dataPath, 'v2');
      await waitUntil(() => cache.current?.data.toString() === 'v2', 'the re-armed cache to follow v2');
      tally.recovery('node cache re-armed after partition', true);

      await Promise.all(loops.map((l) => l.stop()));
      // Holdings never overlapped: the cut-off holder stopped on `suspended` (2/3 of the timeout)
      // before the server expired its session (the full timeout) and let the next one in.
      const mutex = checkMutualExclusion(loops.flatMap((l) => l.holdings));
      expect(tally.record('lock across a partition', mutex)).toEqual([]);
      const election = checkElection(log.events, [{ participant: 'p0', at }], { withinMs: SESSION_MS + 3000 });
      expect(tally.record('latch across a partition', election)).toEqual([]);
      console.log(`[faults] partition: new leader ${election.failovers[0]} ms after the cut (session timeout ${SESSION_MS} ms)`);
    } finally {
      await Promise.all(loops.map((l) => l.stop()));
      await cache.close().catch(() => undefined);
      for (const m of members) await m.leave().catch(() => undefined);
      await Promise.all(latches.map((l) => l.close().catch(() => undefined)));
      await cut.close();
      await proxy.close();
    }
  });
});
