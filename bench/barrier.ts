/**
 * W5: DoubleBarrier, `w5Participants` sessions enter + leave together, `w5Rounds` rounds, a fresh
 * barrier path per round (as the anchors); ms per round from releasing all participants to the
 * last `leave()` returning.
 * @module
 */
import type { Sizes } from './sizes.js';
import { RoundTrips, now, pct, type WorkloadContext } from './lib.js';
import { loadRecipe, type DoubleBarrierCtor } from './recipes.js';

export async function w5(ctx: WorkloadContext, z: Sizes): Promise<void> {
  const DoubleBarrier = await loadRecipe<DoubleBarrierCtor>('double-barrier.js', 'DoubleBarrier');
  const sessions = await ctx.connectMany(z.w5Participants);
  const rt = new RoundTrips();
  for (const s of sessions) rt.attach(s);
  const lat = new Array<number>(z.w5Rounds);
  const before = rt.snapshot();
  for (let r = 0; r < z.w5Rounds; r++) {
    ctx.signal.throwIfAborted();
    const path = `${ctx.root}/w5/round-${r}`;
    const barriers = sessions.map((s) => new DoubleBarrier(s, path, { members: z.w5Participants }));
    const t0 = now();
    await Promise.all(
      barriers.map(async (b) => {
        await b.enter({ timeoutMs: 60_000 });
        await b.leave({ timeoutMs: 60_000 });
      }),
    );
    lat[r] = now() - t0;
  }
  ctx.report.emit('W5', 'double-barrier', {
    recipe: 'DoubleBarrier',
    participants: z.w5Participants,
    rounds: z.w5Rounds,
    p50_ms: pct(lat, 50),
    p99_ms: pct(lat, 99),
    round_trips: { per_participant_round: rt.since(before, z.w5Rounds * z.w5Participants) },
  });
}
