import { describe, expect, it } from 'vitest';
import { AbortedError, DoubleBarrier, IllegalStateError, InvalidArgumentError, NodeExistsError, TimeoutError } from '../src/index.js';
import { expireSession } from '../src/testing/index.js';
import { buildCurator, runCurator } from './fixtures/bcg-curator.js';
import { uniquePath, useServer, waitUntil, childrenOf } from './helpers.js';

const zk = useServer();

/** Children of `path`, [] when it does not exist. */

describe('DoubleBarrier', () => {
  it('lets nobody through enter before `members` entered, nor through leave before all left', async () => {
    const path = uniquePath('dbar');
    const n = 4;
    const sessions = await Promise.all(Array.from({ length: n }, () => zk.connect()));
    const barriers = sessions.map((s, i) => new DoubleBarrier(s, path, { members: n, id: `p${i}` }));
    const enteredAt: number[] = [];
    const early = barriers.slice(0, n - 1).map((b) =>
      b.enter({ timeoutMs: 20_000 }).then(() => {
        enteredAt.push(Date.now());
      }),
    );
    // The early ones are all in (their nodes exist) and still waiting.
    await waitUntil(async () => (await childrenOf(sessions[0]!, path)).length === n - 1, 'n-1 participant nodes');
    await Promise.all(sessions.map((s) => s.exists('/')));
    expect(enteredAt).toHaveLength(0);
    // The late participant arrives: now everyone passes, none before this moment.
    const lateAt = Date.now();
    await barriers[n - 1]!.enter({ timeoutMs: 20_000 });
    await Promise.all(early);
    expect(enteredAt).toHaveLength(n - 1);
    for (const t of enteredAt) expect(t).toBeGreaterThanOrEqual(lateAt);
    expect(barriers.every((b) => b.isEntered)).toBe(true);

    // Leave: the first n-1 leave and must wait for the last one.
    const leftAt: number[] = [];
    const leaving = barriers.slice(0, n - 1).map((b) =>
      b.leave({ timeoutMs: 20_000 }).then(() => {
        leftAt.push(Date.now());
      }),
    );
    await waitUntil(async () => (await childrenOf(sessions[0]!, path)).filter((c) => c !== 'ready').length === 1, 'one participant left in');
    await Promise.all(sessions.map((s) => s.exists('/')));
    expect(leftAt).toHaveLength(0);
    const lastLeaveAt = Date.now();
    await barriers[n - 1]!.leave({ timeoutMs: 20_000 });
    await Promise.all(leaving);
    for (const t of leftAt) expect(t).toBeGreaterThanOrEqual(lastLeaveAt);
    expect(await childrenOf(sessions[0]!, path)).toEqual([]); // no member node, no `ready`
  });

  it('runs many rounds with the same participants, none ever early', async () => {
    const path = uniquePath('dbar');
    const n = 5;
    const rounds = 20;
    const sessions = await Promise.all(Array.from({ length: n }, () => zk.connect()));
    const barriers = sessions.map((s) => new DoubleBarrier(s, path, { members: n }));
    const entering = new Array<number>(n).fill(-1); // last round each participant called enter for
    const leaving = new Array<number>(n).fill(-1); // last round each participant called leave for
    const t0 = performance.now();
    await Promise.all(
      barriers.map(async (b, i) => {
        for (let r = 0; r < rounds; r++) {
          entering[i] = r;
          await b.enter({ timeoutMs: 20_000 });
          // Nobody passes enter r before everyone has called enter r ...
          expect(Math.min(...entering)).toBeGreaterThanOrEqual(r);
          leaving[i] = r;
          await b.leave({ timeoutMs: 20_000 });
          // ... nor leave r before everyone has called leave r.
          expect(Math.min(...leaving)).toBeGreaterThanOrEqual(r);
        }
      }),
    );
    const perRound = (performance.now() - t0) / rounds;
    console.log(`double barrier: ${perRound.toFixed(2)} ms per round (${n} participants, enter+leave)`);
    expect(await childrenOf(sessions[0]!, path)).toEqual([]);
  });

  it('removes our node on timeout and on abort; an aborted signal is honoured at once', async () => {
    const path = uniquePath('dbar');
    const s = await zk.connect();
    const b = new DoubleBarrier(s, path, { members: 3, id: 'alone' });
    await expect(b.enter({ timeoutMs: 200 })).rejects.toBeInstanceOf(TimeoutError);
    expect(await childrenOf(s, path)).toEqual([]);
    expect(b.isEntered).toBe(false);
    const ctl = new AbortController();
    const p = b.enter({ signal: ctl.signal });
    await waitUntil(async () => (await childrenOf(s, path)).includes('alone'), 'our node');
    ctl.abort();
    await expect(p).rejects.toBeInstanceOf(AbortedError);
    expect(await childrenOf(s, path)).toEqual([]);
    await expect(b.enter({ signal: AbortSignal.abort() })).rejects.toBeInstanceOf(AbortedError);
    expect(await childrenOf(s, path)).toEqual([]);
    expect(s.pendingDeletes).toBe(0);
  });

  it('a waiter whose session expires re-enters in its new session and is not let through early', async () => {
    const path = uniquePath('dbar');
    const a = await zk.connect({ sessionTimeoutMs: 2000 });
    const b = await zk.connect();
    const c = await zk.connect();
    let aPassed = false;
    const pa = new DoubleBarrier(a, path, { members: 3, id: 'a' }).enter({ timeoutMs: 30_000 }).then(() => {
      aPassed = true;
    });
    await waitUntil(async () => (await childrenOf(b, path)).includes('a'), 'a entered');
    const newSession = new Promise<void>((r) =>
      a.on('reconnected', (info) => {
        if (info.newSession) r();
      }),
    );
    await expireSession(a);
    await newSession;
    // a's node comes back in the new session; a is still waiting.
    await waitUntil(async () => (await childrenOf(b, path)).includes('a'), 'a re-created its node');
    const bEnter = new DoubleBarrier(b, path, { members: 3, id: 'b' }).enter({ timeoutMs: 30_000 });
    await waitUntil(async () => (await childrenOf(c, path)).length === 2, 'a and b in');
    await a.exists('/');
    expect(aPassed).toBe(false);
    await new DoubleBarrier(c, path, { members: 3, id: 'c' }).enter({ timeoutMs: 30_000 });
    await Promise.all([pa, bEnter]);
    expect(aPassed).toBe(true);
  });

  it('a spurious wake-up (a reconnection to the same session) does not let a waiter through', async () => {
    const path = uniquePath('dbar');
    const a = await zk.connect();
    const other = await zk.connect();
    let passed = false;
    const da = new DoubleBarrier(a, path, { members: 2, id: 'a' });
    const p = da.enter({ timeoutMs: 30_000 }).then(() => {
      passed = true;
    });
    await waitUntil(async () => (await childrenOf(other, path)).includes('a'), 'a entered');
    // The wake-up a reconnection causes, without a real drop: the recipe must check again.
    a.emit('reconnected', { sessionId: a.sessionId, newSession: false });
    await a.exists('/');
    await a.exists('/');
    expect(passed).toBe(false);
    await new DoubleBarrier(other, path, { members: 2, id: 'b' }).enter({ timeoutMs: 30_000 });
    await p;
    expect(passed).toBe(true);
  });

  it('rejects bad options, a duplicate id, and enter/leave out of order', async () => {
    const path = uniquePath('dbar');
    const s = await zk.connect();
    const s2 = await zk.connect();
    expect(() => new DoubleBarrier(s, path, { members: 0 })).toThrow(InvalidArgumentError);
    expect(() => new DoubleBarrier(s, path, { members: 2, id: 'ready' })).toThrow(InvalidArgumentError);
    expect(() => new DoubleBarrier(s, path, { members: 2, id: 'a/b' })).toThrow(InvalidArgumentError);
    const b = new DoubleBarrier(s, path, { members: 1, id: 'x' });
    await expect(b.leave()).rejects.toBeInstanceOf(IllegalStateError);
    await b.enter({ timeoutMs: 5000 });
    await expect(b.enter()).rejects.toBeInstanceOf(IllegalStateError);
    await expect(new DoubleBarrier(s2, path, { members: 1, id: 'x' }).enter({ timeoutMs: 5000 })).rejects.toBeInstanceOf(NodeExistsError);
    expect(await childrenOf(s, path)).toContain('x'); // the other session's node was not touched
    await b.leave({ timeoutMs: 5000 });
    expect(await childrenOf(s, path)).toEqual([]);
  });
});

describe('DoubleBarrier with Curator DistributedDoubleBarrier participants', () => {
  it('Node and Curator participants enter together and leave together on one barrier', async () => {
    const runtime = buildCurator();
    const path = uniquePath('dbar');
    const sessions = await Promise.all([1, 2].map(() => zk.connect()));
    const barriers = sessions.map((s) => new DoubleBarrier(s, path, { members: 3 }));
    let entered = 0;
    const ours = barriers.map((b) =>
      b.enter({ timeoutMs: 45_000 }).then(() => {
        entered++;
      }),
    );
    await waitUntil(async () => (await childrenOf(sessions[0]!, path)).length === 2, 'two Node participants in');
    await Promise.all(sessions.map((s) => s.exists('/')));
    expect(entered).toBe(0); // 2 of 3: nobody through
    const peer = runCurator(runtime, ['dbarrier', zk.server.connectString, path, '3']);
    try {
      await peer.line('entered', 45_000); // Curator saw 3 of 3 too
      await Promise.all(ours);
      expect(entered).toBe(2);
      let left = 0;
      const leaving = barriers.map((b) =>
        b.leave({ timeoutMs: 45_000 }).then(() => {
          left++;
        }),
      );
      await peer.line('left', 45_000);
      await Promise.all(leaving);
      expect(left).toBe(2);
      await peer.done;
      expect(await childrenOf(sessions[0]!, path)).toEqual([]);
    } finally {
      peer.child.kill('SIGKILL');
    }
  });
});
