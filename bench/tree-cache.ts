/**
 * TREE: TreeCache (recipes/tree-cache.ts) on a tree of 10 000 nodes below its root (100 parents ×
 * 99 leaves, 40 bytes of data each), on one session:
 *
 * - `tree-cache-load`: `start()` to `initialized`, a fresh cache each time: the first (cold) one,
 *   then p50 / p99 of `loads` more; requests per node;
 * - `tree-cache-memory`: heap (and heap + external, where small Buffers live) after forced GC with
 *   one loaded cache, minus the same before, divided by the nodes cached;
 * - `tree-cache-event-delay`: another session sets a random node, one at a time; from the `set` call
 *   to the cache's `changed` event for that node (the write, the notification and the cache's
 *   read), p50 / p99 after a warm-up.
 * @module
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { EventEmitter } from 'eventemitter3';
import type { ZkSession } from '../src/session.js';
import type { WaitOptions } from '../src/wait.js';
import { RoundTrips, now, pct, sleep, within, type WorkloadContext } from './lib.js';
import { loadRecipe } from './recipes.js';
import { TINY, type Sizes } from './sizes.js';

/** The workload id (and `only=` name). */
export const TREE = 'TREE';

/** The part of TreeCache's API the bench uses. */
interface TreeCacheLike extends EventEmitter<{ changed: [path: string, ...rest: unknown[]] }> {
  readonly size: number;
  start(wait?: WaitOptions): Promise<void>;
  close(): Promise<void>;
}
type TreeCacheCtor = new (session: ZkSession, path: string) => TreeCacheLike;

interface TreeSizes {
  parents: number;
  leaves: number;
  loads: number;
  delayWarmup: number;
  delayN: number;
}
const FULL_TREE: TreeSizes = { parents: 100, leaves: 99, loads: 5, delayWarmup: 50, delayN: 500 };
const TINY_TREE: TreeSizes = { parents: 5, leaves: 4, loads: 2, delayWarmup: 2, delayN: 10 };

/** A `gc()` function, if V8 lets us have one (else heap figures include garbage). */
function getGc(): (() => void) | undefined {
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as unknown;
    return typeof gc === 'function' ? (gc as () => void) : undefined;
  } catch {
    return undefined;
  }
}

async function settledMemory(gc: (() => void) | undefined): Promise<{ heap: number; heapExt: number }> {
  for (let i = 0; i < 4; i++) {
    gc?.();
    await sleep(10);
  }
  const m = process.memoryUsage();
  return { heap: m.heapUsed, heapExt: m.heapUsed + m.external };
}

/** 40 bytes of data for node `i`. */
const dataOf = (i: number) => `value-${String(i).padStart(8, '0')}-`.padEnd(40, 'x');

/** Creates the tree (pipelined, 1000 at a time); returns the leaves' paths. */
async function buildTree(s: ZkSession, root: string, t: TreeSizes): Promise<string[]> {
  await s.create(root, dataOf(0), { createParents: true });
  const parents = Array.from({ length: t.parents }, (_, i) => `${root}/p${i}`);
  await Promise.all(parents.map((p, i) => s.create(p, dataOf(i + 1))));
  const leaves = parents.flatMap((p) => Array.from({ length: t.leaves }, (_, j) => `${p}/n${j}`));
  for (let i = 0; i < leaves.length; i += 1000) {
    await Promise.all(leaves.slice(i, i + 1000).map((p, k) => s.create(p, dataOf(t.parents + 1 + i + k))));
  }
  return leaves;
}

/** TREE: see the module documentation. */
export async function treeCache(ctx: WorkloadContext, z: Sizes): Promise<void> {
  const t = z === TINY || z.w0N < 100 ? TINY_TREE : FULL_TREE;
  const TreeCache = await loadRecipe<TreeCacheCtor>('tree-cache.js', 'TreeCache');
  const root = `${ctx.root}/tree`;
  const [session, writer] = await ctx.connectMany(2);
  const leaves = await buildTree(writer!, root, t);
  const nodes = 1 + t.parents + leaves.length;
  const gc = getGc();
  const rt = new RoundTrips();
  rt.attach(session!);

  // load: a cold one, then `loads` more, each a fresh cache
  const times: number[] = [];
  let cold = NaN;
  const before = rt.snapshot();
  for (let i = 0; i <= t.loads; i++) {
    ctx.signal.throwIfAborted();
    const cache = new TreeCache(session!, root);
    const t0 = now();
    await cache.start({ timeoutMs: 60_000 });
    const ms = now() - t0;
    if (cache.size !== nodes) throw new Error(`tree cache loaded ${cache.size} nodes, expected ${nodes}`);
    await cache.close();
    if (i === 0) cold = ms;
    else times.push(ms);
  }
  ctx.report.emit(TREE, 'tree-cache-load', {
    recipe: 'TreeCache',
    nodes,
    n: times.length,
    cold_ms: cold,
    p50_ms: pct(times, 50),
    p99_ms: pct(times, 99),
    nodes_per_s: nodes / (pct(times, 50) / 1000),
    round_trips: { per_node: rt.since(before, nodes * (t.loads + 1)) },
  });

  // memory: one loaded cache, after forced GC
  const m0 = await settledMemory(gc);
  const cache = new TreeCache(session!, root);
  await cache.start({ timeoutMs: 60_000 });
  const m1 = await settledMemory(gc);
  ctx.report.emit(TREE, 'tree-cache-memory', {
    recipe: 'TreeCache',
    nodes: cache.size,
    data_bytes_per_node: 40,
    gc_exposed: gc !== undefined,
    bytes_per_node: (m1.heap - m0.heap) / cache.size,
    heap_ext_bytes_per_node: (m1.heapExt - m0.heapExt) / cache.size,
  });

  // change → event delay
  const lat: number[] = [];
  try {
    let expect: string | undefined;
    let heard: (() => void) | undefined;
    cache.on('changed', (path) => {
      if (path === expect) heard?.();
    });
    for (let i = 0; i < t.delayWarmup + t.delayN; i++) {
      ctx.signal.throwIfAborted();
      const path = leaves[(i * 7919) % leaves.length]!;
      const got = new Promise<void>((r) => {
        heard = r;
      });
      expect = path;
      const t0 = now();
      await writer!.set(path, dataOf(i));
      await within(got, 10_000, `the changed event of ${path}`);
      if (i >= t.delayWarmup) lat.push(now() - t0);
    }
  } finally {
    await cache.close();
  }
  ctx.report.emit(TREE, 'tree-cache-event-delay', {
    recipe: 'TreeCache',
    nodes,
    n: lat.length,
    warmup: t.delayWarmup,
    p50_ms: pct(lat, 50),
    p99_ms: pct(lat, 99),
  });
}
