// LeaderSelector against a real server: onLeadership runs on one participant at a time, autoRequeue
// rotates leadership, close and a suspended connection abort the term's signal.
import { describe, expect, it } from 'vitest';
import { LeaderSelector, type LeaderTerm, type ZkSession } from '../src/index.js';
import { delay } from '../src/wait.js';
import { nextEvent, uniquePath, useServer, waitUntil } from './helpers.js';

const zk = useServer();

/** Resolves when `signal` aborts (the shape of a leader that works until told to stop). */
const untilAborted = (signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });

describe('LeaderSelector', () => {
  it('rejects bad input before writing, and enforces its lifecycle', async () => {
    const s = await zk.connect();
    const onLeadership = () => undefined;
    expect(() => new LeaderSelector(s, 'x', { onLeadership })).toThrow(/leader-selector: invalid path/);
    expect(() => new LeaderSelector(s, '/a', {} as never)).toThrow(/onLeadership must be a function/);
    expect(() => new LeaderSelector(s, '/a', { onLeadership, autoRequeue: 'yes' as never })).toThrow(/autoRequeue must be a boolean/);
    expect(() => new LeaderSelector(s, '/a', { onLeadership, nope: 1 } as never)).toThrow(/unknown option nope/);
    const path = uniquePath('sel-life');
    const sel = new LeaderSelector(s, path, { id: 'a', onLeadership });
    expect(() => sel.requeue()).toThrow(/latent/);
    expect(await s.exists(path)).toBeNull();
    const term = nextEvent(sel, 'isLeader');
    sel.start();
    expect(() => sel.start()).toThrow(/already started/);
    await term;
    await waitUntil(() => !sel.hasLeadership(), 'the term to end');
    await sel.close();
    await sel.close();
    expect(() => sel.requeue()).toThrow(/closed/);
  });

  it('runs onLeadership on one participant at a time; autoRequeue rotates leadership in order', async () => {
    const path = uniquePath('sel-rotate');
    const sessions = await Promise.all([0, 1, 2, 3].map(() => zk.connect()));
    let active = 0;
    let maxActive = 0;
    const terms: Array<{ id: string; token: bigint }> = [];
    const selectors = sessions.map(
      (s, i) =>
        new LeaderSelector(s, path, {
          id: `s${i}`,
          autoRequeue: true,
          onLeadership: async (signal, term) => {
            active++;
            maxActive = Math.max(maxActive, active);
            terms.push({ id: `s${i}`, token: term.fencingToken });
            try {
              await delay(10, signal); // the leader's work
            } finally {
              active--;
            }
          },
        }),
    );
    for (const sel of selectors) sel.start();
    await waitUntil(() => terms.length >= 16, '16 terms', 30_000);
    await Promise.all(selectors.map((sel) => sel.close()));
    expect(maxActive).toBe(1);
    for (let i = 1; i < terms.length; i++) expect(terms[i]!.token).toBeGreaterThan(terms[i - 1]!.token);
    // Fair queue: after the first round every participant has had a turn, and nobody led twice in a row.
    expect(new Set(terms.slice(0, 8).map((t) => t.id)).size).toBe(4);
    for (let i = 1; i < terms.length; i++) expect(terms[i]!.id).not.toBe(terms[i - 1]!.id);
    // Curator's layout: lock- nodes with the id as data; all gone after close.
    expect(await sessions[0]!.getChildren(path).catch(() => [])).toEqual([]);
  });

  it('without autoRequeue leads once; requeue() queues again; node data is the id', async () => {
    const path = uniquePath('sel-once');
    const s = await zk.connect();
    let seen: string[] = [];
    let release!: () => void;
    const sel = new LeaderSelector(s, path, {
      id: 'solo',
      onLeadership: async (signal) => {
        seen = await s.getChildren(path);
        // Ends on release() or when close() aborts the term (the second term may still be before
        // this line when the test calls release(), and close() waits for the term to return).
        await new Promise<void>((r) => {
          release = r;
          signal.addEventListener('abort', () => r(), { once: true });
        });
      },
    });
    let terms = 0;
    sel.on('isLeader', () => terms++);
    sel.start();
    await waitUntil(() => seen.length === 1, 'the first term');
    expect(seen[0]).toMatch(/^_c_[0-9a-f-]{36}-lock-\d{10}$/);
    expect((await s.get(`${path}/${seen[0]}`)).data.toString()).toBe('solo');
    expect(await sel.getParticipants()).toEqual([{ id: 'solo', isLeader: true, nodeName: seen[0] }]);
    expect(sel.requeue()).toBe(false); // already leading
    const ended = nextEvent(sel, 'notLeader');
    release();
    await ended;
    await waitUntil(async () => (await s.getChildren(path).catch(() => [])).length === 0, 'the node released');
    expect(terms).toBe(1);
    expect(sel.requeue()).toBe(true);
    await waitUntil(() => terms === 2, 'a second term');
    release();
    await sel.close();
  });

  it('close() aborts a running term, releases, and the next participant leads', async () => {
    const path = uniquePath('sel-close');
    const [sa, sb] = await Promise.all([zk.connect(), zk.connect()]);
    let aSignal: AbortSignal | undefined;
    const a = new LeaderSelector(sa, path, {
      id: 'a',
      onLeadership: async (signal) => {
        aSignal = signal;
        await untilAborted(signal);
      },
    });
    const b = new LeaderSelector(sb, path, { id: 'b', onLeadership: (signal) => untilAborted(signal) });
    const aLeads = nextEvent(a, 'isLeader');
    a.start();
    await aLeads;
    b.start();
    await waitUntil(async () => (await b.getParticipants()).length === 2, 'b queued');
    expect(b.hasLeadership()).toBe(false);
    const bLeads = nextEvent<[LeaderTerm]>(b, 'isLeader');
    await a.close();
    expect(aSignal!.aborted).toBe(true);
    expect(a.hasLeadership()).toBe(false);
    const [term] = await bLeads;
    expect(b.hasLeadership()).toBe(true);
    expect(await b.getParticipants()).toEqual([expect.objectContaining({ id: 'b', isLeader: true })]);
    expect(term.fencingToken).toBeTypeOf('bigint');
    await b.close();
  });

  it('an error thrown by onLeadership is reported, the lock released, and the next leader runs', async () => {
    const path = uniquePath('sel-throw');
    const [sa, sb] = await Promise.all([zk.connect(), zk.connect()]);
    const a = new LeaderSelector(sa, path, {
      id: 'a',
      onLeadership: async () => {
        throw new Error('boom');
      },
    });
    const b = new LeaderSelector(sb, path, { id: 'b', onLeadership: (signal) => untilAborted(signal) });
    const err = nextEvent<[unknown]>(a, 'error');
    a.start();
    const [e] = await err;
    expect((e as Error).message).toBe('boom');
    b.start();
    await nextEvent(b, 'isLeader');
    await b.close();
    await a.close();
  });

  it("a suspended connection aborts the term's signal; with autoRequeue it leads again after reconnecting", async () => {
    const path = uniquePath('sel-suspend');
    const s: ZkSession = await zk.connect({ sessionTimeoutMs: 4000 });
    const reasons: unknown[] = [];
    const sel = new LeaderSelector(s, path, {
      id: 'x',
      autoRequeue: true,
      onLeadership: async (signal) => {
        await untilAborted(signal);
        reasons.push(signal.reason);
      },
    });
    const first = nextEvent(sel, 'isLeader');
    sel.start();
    await first;
    const stepDown = nextEvent(sel, 'notLeader', 20_000);
    await zk.server.pause();
    try {
      await stepDown;
      expect(sel.hasLeadership()).toBe(false);
    } finally {
      await zk.server.resume();
    }
    await waitUntil(() => reasons.length === 1, 'onLeadership to return');
    expect(reasons[0]).toMatchObject({ code: 'LOCK_LOST' });
    await nextEvent(sel, 'isLeader', 20_000);
    expect(sel.hasLeadership()).toBe(true);
    await sel.close();
    await waitUntil(async () => (await s.getChildren(path).catch(() => [])).length === 0, 'every node released');
  });
});
