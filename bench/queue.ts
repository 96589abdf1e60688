/**
 * W4a: DistributedQueue, `put` `w4N` items one after another, then `take` them (FIFO checked on
 * the first). W4b: a producer session `putMany`s `w4N` items (creates pipelined), a consumer
 * session runs `consume()` (at-least-once, claims), started before the puts: end-to-end items/s
 * from the first put to the last item handled, and duplicate deliveries (must be 0).
 * @module
 */
import type { Sizes } from './sizes.js';
import { RoundTrips, now, sleep, within, type WorkloadContext } from './lib.js';
import { loadRecipe, type QueueCtor } from './recipes.js';

const item = (i: number): string => `item-${i}`;

async function loadQueue(): Promise<{ DistributedQueue: QueueCtor; codec: unknown }> {
  const DistributedQueue = await loadRecipe<QueueCtor>('queue.js', 'DistributedQueue');
  // The anchors' items are the bytes "item-<i>": store them as such (UTF-8), not as JSON.
  let codec: unknown;
  try {
    codec = ((await import(new URL('../recipes/codec.js', import.meta.url).href)) as Record<string, unknown>)['stringCodec'];
  } catch {
    codec = undefined;
  }
  return { DistributedQueue, codec };
}

export async function w4a(ctx: WorkloadContext, z: Sizes): Promise<void> {
  const { DistributedQueue, codec } = await loadQueue();
  const [s] = await ctx.connectMany(1);
  const rt = new RoundTrips();
  rt.attach(s!);
  const q = new DistributedQueue<string>(s!, `${ctx.root}/w4a/queue`, codec ? { codec } : {});
  const b0 = rt.snapshot();
  const t0 = now();
  for (let i = 0; i < z.w4N; i++) await q.put(item(i));
  const t1 = now();
  const b1 = rt.snapshot();
  const offerRt = rt.since(b0, z.w4N);
  for (let i = 0; i < z.w4N; i++) {
    const got = await q.take({ timeoutMs: 30_000 });
    if (i === 0 && got !== item(0)) throw new Error(`W4a: FIFO order broken: first take gave ${String(got)}`);
  }
  const t2 = now();
  const takeRt = rt.since(b1, z.w4N);
  await q.close?.();
  ctx.report.emit('W4a', 'queue-simple', {
    recipe: 'DistributedQueue put/take',
    n: z.w4N,
    offer_per_s: z.w4N / ((t1 - t0) / 1000),
    take_per_s: z.w4N / ((t2 - t1) / 1000),
    round_trips: { per_offer: offerRt, per_take: takeRt },
  });
}

export async function w4b(ctx: WorkloadContext, z: Sizes): Promise<void> {
  const { DistributedQueue, codec } = await loadQueue();
  const path = `${ctx.root}/w4b/queue`;
  const [prodS, consS] = await ctx.connectMany(2);
  const prodRt = new RoundTrips();
  const consRt = new RoundTrips();
  prodRt.attach(prodS!);
  consRt.attach(consS!);
  const opts = codec ? { codec } : {};
  const consumerQ = new DistributedQueue<string>(consS!, path, opts);
  const producerQ = new DistributedQueue<string>(prodS!, path, opts);
  const seen = new Set<string>();
  let duplicates = 0;
  let tEnd = 0;
  let done: (() => void) | undefined;
  const finished = new Promise<void>((r) => {
    done = r;
  });
  const items = Array.from({ length: z.w4N }, (_, i) => item(i));
  // As the anchors: the queue node exists (Curator's queue.start() creates it) and the consumer
  // is running, idle, before the clock starts.
  await consS!.create(path, undefined, { createParents: true });
  const consumer = consumerQ.consume((it: string) => {
    if (seen.has(it)) {
      duplicates++;
      return;
    }
    seen.add(it);
    if (seen.size === z.w4N) {
      tEnd = now();
      done?.();
    }
  }) as { close?: () => Promise<void> } | undefined;
  await sleep(100);
  const pb = prodRt.snapshot();
  const cb = consRt.snapshot();
  try {
    const t0 = now();
    await producerQ.putMany(items);
    const tPut = now();
    await within(finished, 40_000, `W4b: consumer got ${seen.size} of ${z.w4N}`);
    await consumer?.close?.(); // its last deletes are in flight: count them too
    ctx.report.emit('W4b', 'queue-consumer', {
      recipe: 'DistributedQueue putMany + consume (at-least-once, default concurrency)',
      n: z.w4N,
      duplicates,
      items_per_s: z.w4N / ((tEnd - t0) / 1000),
      put_return_per_s: z.w4N / ((tPut - t0) / 1000),
      round_trips: { producer_per_item: prodRt.since(pb, z.w4N), consumer_per_item: consRt.since(cb, z.w4N) },
    });
    if (duplicates !== 0) throw new Error(`W4b: ${duplicates} duplicate deliveries`);
  } finally {
    await consumer?.close?.();
    await consumerQ.close?.();
    await producerQ.close?.();
  }
}
