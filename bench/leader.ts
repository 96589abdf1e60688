/**
 * W3: LeaderLatch failover. `w3Participants` latches on as many sessions; `w3Failovers` times the
 * leader `close()`s its latch and we time until another participant's `isLeader` fires; the old
 * leader rejoins with a fresh latch (back of the line); 20 ms settle between rounds. After each
 * round: exactly one latch leads, the one whose event we timed, and no stray events are queued.
 * @module
 */
import type { Sizes } from './sizes.js';
import { RoundTrips, now, pct, sleep, within, type WorkloadContext } from './lib.js';
import { loadRecipe, type LeaderLatchCtor, type LeaderLatchLike } from './recipes.js';

interface LeaderEvent {
  id: number;
  t: number;
}

export async function w3(ctx: WorkloadContext, z: Sizes): Promise<void> {
  const LeaderLatch = await loadRecipe<LeaderLatchCtor>('leader-latch.js', 'LeaderLatch');
  const path = `${ctx.root}/w3/leader`;
  const sessions = await ctx.connectMany(z.w3Participants);
  const rt = new RoundTrips();
  for (const s of sessions) rt.attach(s);
  const events: LeaderEvent[] = [];
  let wake: (() => void) | undefined;
  const nextEvent = async (): Promise<LeaderEvent> => {
    if (events.length === 0)
      await within(
        new Promise<void>((r) => {
          wake = r;
        }),
        30_000,
        'W3: waiting for a leader',
      );
    wake = undefined;
    return events.shift()!;
  };
  const startLatch = (i: number): LeaderLatchLike => {
    const l = new LeaderLatch(sessions[i]!, path, { id: `p${i}` });
    l.on('isLeader', () => {
      events.push({ id: i, t: now() });
      wake?.();
    });
    void l.start();
    return l;
  };
  const latches = sessions.map((_, i) => startLatch(i));
  try {
    let leader = (await nextEvent()).id;
    await ctx.waitChildren(path, z.w3Participants);
    await sleep(z.w3SettleMs);
    const lat = new Array<number>(z.w3Failovers);
    const before = rt.snapshot();
    for (let k = 0; k < z.w3Failovers; k++) {
      ctx.signal.throwIfAborted();
      if (!latches[leader]!.hasLeadership()) throw new Error(`W3: p${leader} lost leadership unexpectedly`);
      const t0 = now();
      const closing = latches[leader]!.close();
      const ev = await nextEvent();
      if (ev.id === leader) throw new Error('W3: the closed participant became leader again');
      lat[k] = ev.t - t0;
      await closing;
      latches[leader] = startLatch(leader); // rejoins at the back of the line
      await ctx.waitChildren(path, z.w3Participants);
      await sleep(z.w3SettleMs);
      leader = ev.id;
      const holders = latches.filter((l) => l.hasLeadership()).length;
      if (holders !== 1 || !latches[leader]!.hasLeadership() || events.length !== 0) {
        throw new Error(`W3: inconsistent leadership after failover ${k} (holders=${holders}, queued events=${events.length})`);
      }
    }
    const rts = rt.since(before, z.w3Failovers);
    ctx.report.emit('W3', 'leader-failover', {
      recipe: 'LeaderLatch',
      participants: z.w3Participants,
      n: z.w3Failovers,
      p50_ms: pct(lat, 50),
      p99_ms: pct(lat, 99),
      max_ms: pct(lat, 100),
      round_trips: { per_failover_all_sessions: rts },
    });
  } finally {
    // non-leaders first, the leader last (as the anchors' teardown)
    const order = latches.map((l, i) => ({ l, i })).sort((a, b) => Number(a.l.hasLeadership()) - Number(b.l.hasLeadership()));
    for (const { l } of order) await l.close().catch(() => undefined);
  }
}
