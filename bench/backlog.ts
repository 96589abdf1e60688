/**
 * BACKLOG: a queue's and the scheduler's throughput with 1 000, 10 000, 100 000 and 1 000 000
 * items (tasks) pending; the queue in Curator's flat layout and in the bucketed one
 * (`bucketSize`, recipes/queue-buckets.ts).
 *
 * Scheduler, per level: with no instance running, the backlog is submitted (5000 submits in
 * flight; `fill_per_s`); then a dispatcher and 4 workers (capacity 4, no-op tasks) start, and
 * `tasks_per_s` is the rate of the 2000 completions after the first 200 (at 1000: 900 after 100;
 * the backlog stays at the level, less those); they stop again before the next level.
 *
 * Per level, on one producer and one consumer session: the queue is filled up to the level
 * (`putMany` slices of 10 000, pipelined; `fill_per_s`), then at that backlog:
 * `offer_per_s` (500 sequential `put`s), `put_many_per_s` (one `putMany` of 2000), `take_per_s`
 * (500 sequential `take`s) and `consume_per_s` (a `consume()` consumer, concurrency 16, until
 * 2000 items are handled; duplicates counted), which leaves the backlog at the level again.
 *
 * The flat layout runs up to 10 000: one listing of its items must fit one frame (1 MB, the
 * server's and every client's `jute.maxbuffer`), and the row for 100 000 says how large that
 * listing would be, from the names measured at 10 000.
 *
 * A million znodes need about 1 GB of server heap, and removing them takes minutes: the workload
 * runs on a server of its own (a local install, 2 GB of heap), closed afterwards with everything
 * in it, even when the bench was given `ZK_CONNECT` (the anchors' server keeps its 512 MB). With no
 * local install it uses the bench's server, up to 100 000 items, and removes them.
 * @module
 */
import { DistributedQueue, TaskScheduler } from '../src/index.js';
import { ZkSession } from '../src/session.js';
import { findLocalInstall, startLocalServer, type ZooKeeperServer } from '../src/testing/index.js';
import { SESSION_TIMEOUT_MS, now, type WorkloadContext } from './lib.js';
import { TINY, type Sizes } from './sizes.js';

/** The workload id (and `only=` name). */
export const BACKLOG = 'BACKLOG';

/** Items per bucket of the bucketed runs. */
const BUCKET_SIZE = 1000;

interface BacklogSizes {
  levels: number[];
  flatMax: number;
  fillSlice: number;
  offers: number;
  putMany: number;
  takes: number;
  consumes: number;
}

const FULL_BACKLOG: BacklogSizes = {
  levels: [1000, 10_000, 100_000, 1_000_000],
  flatMax: 10_000,
  fillSlice: 10_000,
  offers: 500,
  putMany: 2000,
  takes: 500,
  consumes: 2000,
};
const TINY_BACKLOG: BacklogSizes = { levels: [50, 200], flatMax: 50, fillSlice: 100, offers: 5, putMany: 20, takes: 5, consumes: 20 };

/** One level's figures. */
interface LevelResult {
  fill_per_s: number;
  offer_per_s: number;
  put_many_per_s: number;
  take_per_s: number;
  consume_per_s: number;
  duplicates: number;
}

/** Runs the backlog rows: each layout, each level, one row each. */
export async function backlog(ctx: WorkloadContext, z: Sizes): Promise<void> {
  const sz = z === TINY ? TINY_BACKLOG : FULL_BACKLOG;
  const own: ZooKeeperServer | undefined = findLocalInstall() ? await startLocalServer({ heapMb: 2048 }) : undefined;
  const sessions: ZkSession[] = [];
  try {
    const connect = async () => {
      const s = own ? await ZkSession.connect(own.connectString, { sessionTimeoutMs: SESSION_TIMEOUT_MS }) : await ctx.connect();
      sessions.push(s);
      return s;
    };
    const levels = own ? sz.levels : sz.levels.filter((l) => l <= 100_000);
    for (const layout of ['flat', 'bucketed'] as const)
      await runLayout(ctx, layout, { ...sz, levels }, await connect(), await connect(), own ? '' : ctx.root, !own);
    await schedulerLevels(ctx, levels, connect, `${own ? '' : ctx.root}/backlog-scheduler`, z === TINY);
  } finally {
    await Promise.all(sessions.map((s) => s.close().catch(() => undefined)));
    await own?.close();
  }
}

/** One layout's rows, on a producer and a consumer session. */
async function runLayout(
  ctx: WorkloadContext,
  layout: 'flat' | 'bucketed',
  sz: BacklogSizes,
  producer: ZkSession,
  consumer: ZkSession,
  root: string,
  cleanUp: boolean,
): Promise<void> {
  const path = `${root}/backlog-${layout}`;
  const options = layout === 'bucketed' ? { bucketSize: BUCKET_SIZE } : {};
  const qp = new DistributedQueue<number>(producer, path, options);
  const qc = new DistributedQueue<number>(consumer, path, options);
  let pending = 0;
  for (const level of sz.levels) {
    if (layout === 'flat' && level > sz.flatMax) {
      const bytes = await listingBytes(consumer, path);
      ctx.report.emit(BACKLOG, `queue-${layout}`, {
        layout,
        backlog: level,
        error: `not run: one listing of ${level} items is ~${((bytes.perName * level) / 1e6).toFixed(1)} MB, over the 1 MB frame`,
      });
      continue;
    }
    ctx.report.progress(`BACKLOG ${layout}: filling to ${level}`);
    const t0 = now();
    for (; pending < level; pending += Math.min(sz.fillSlice, level - pending)) {
      ctx.signal.throwIfAborted();
      await qp.putMany(Array.from({ length: Math.min(sz.fillSlice, level - pending) }, (_, i) => pending + i));
    }
    const fillMs = now() - t0;
    const r = await atLevel(ctx, qp, qc, sz);
    r.fill_per_s = fillMs > 0 ? (level * 1000) / fillMs : 0;
    ctx.report.emit(BACKLOG, `queue-${layout}`, { layout, backlog: level, bucket_size: layout === 'bucketed' ? BUCKET_SIZE : null, ...r });
  }
  await Promise.all([qp.close(), qc.close()]);
  if (cleanUp) {
    ctx.report.progress(`BACKLOG ${layout}: removing the queue`);
    await removeQueue(producer, path);
  }
}

/** The four measurements at one backlog; the backlog is the same after them. */
async function atLevel(ctx: WorkloadContext, qp: DistributedQueue<number>, qc: DistributedQueue<number>, sz: BacklogSizes): Promise<LevelResult> {
  const rate = (n: number, since: number) => (n * 1000) / Math.max(1e-3, now() - since);
  let t = now();
  for (let i = 0; i < sz.offers; i++) await qp.put(-1);
  const offer = rate(sz.offers, t);
  t = now();
  await qp.putMany(Array.from({ length: sz.putMany }, () => -2));
  const putMany = rate(sz.putMany, t);
  t = now();
  for (let i = 0; i < sz.takes; i++) await qc.take({ timeoutMs: 30_000, signal: ctx.signal });
  const take = rate(sz.takes, t);
  const seen = new Set<string>();
  let duplicates = 0;
  let handled = 0;
  let done!: () => void;
  const finished = new Promise<void>((r) => {
    done = r;
  });
  t = now();
  const c = qc.consume(
    (_item, { name }) => {
      if (seen.has(name)) duplicates++;
      seen.add(name);
      if (++handled === sz.consumes) done();
    },
    { concurrency: 16 },
  );
  await finished;
  const consume = rate(sz.consumes, t);
  await c.close();
  return { fill_per_s: 0, offer_per_s: offer, put_many_per_s: putMany, take_per_s: take, consume_per_s: consume, duplicates };
}

/** The flat queue's listing size per item name (a listing carries each name and its 4-byte length). */
async function listingBytes(s: ZkSession, path: string): Promise<{ perName: number }> {
  const names = await s.getChildren(path);
  const total = names.reduce((a, n) => a + Buffer.byteLength(n) + 4, 0);
  return { perName: names.length > 0 ? total / names.length : 60 };
}

/** Deletes the queue bucket by bucket (one listing of a million names would not fit a frame). */
async function removeQueue(s: ZkSession, path: string): Promise<void> {
  for (const child of await s.getChildren(path).catch(() => [] as string[])) {
    if (child.startsWith('bucket-')) await s.delete(`${path}/${child}`, { recursive: true });
  }
  await s.delete(path, { recursive: true }).catch(() => undefined);
  await s.delete(`${path}-locks`, { recursive: true }).catch(() => undefined);
}

/** The backlog rows as a table: one line per layout and level. */
export function backlogTable(rows: readonly Record<string, unknown>[]): string {
  const mine = rows.filter((r) => r['workload'] === BACKLOG);
  if (mine.length === 0) return '';
  const cols = ['layout', 'backlog', 'offer_per_s', 'put_many_per_s', 'take_per_s', 'consume_per_s', 'tasks_per_s', 'fill_per_s', 'duplicates'];
  const cell = (v: unknown) => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(0)) : v === undefined || v === null ? '' : String(v));
  const lines = [`| ${cols.join(' | ')} |`, `|${cols.map(() => '---').join('|')}|`];
  for (const r of mine)
    lines.push(r['error'] ? `| ${cell(r['layout'])} | ${cell(r['backlog'])} | ${String(r['error'])} |` : `| ${cols.map((c) => cell(r[c])).join(' | ')} |`);
  return `\nThroughput by backlog (items or tasks per second):\n\n${lines.join('\n')}\n`;
}

/** The scheduler's rows: fill to each level with nothing running, then time 4 workers through part of it. */
async function schedulerLevels(ctx: WorkloadContext, levels: number[], connect: () => Promise<ZkSession>, path: string, tiny: boolean): Promise<void> {
  const client = new TaskScheduler(await connect(), path, { roles: [] });
  let pending = 0;
  for (const level of levels) {
    // Completions timed: 2000 after the first 200 (fewer at the smallest levels: the backlog has to hold them).
    const warm = Math.min(tiny ? 5 : 200, Math.floor(level / 10));
    const measured = Math.min(tiny ? 20 : 2000, level - warm);
    ctx.report.progress(`BACKLOG scheduler: submitting up to ${level}`);
    const t0 = now();
    while (pending < level) {
      ctx.signal.throwIfAborted();
      const n = Math.min(5000, level - pending);
      await Promise.all(Array.from({ length: n }, () => client.submit('noop')));
      pending += n;
    }
    const fill = (level * 1000) / Math.max(1, now() - t0);
    const { rate, done } = await runWorkers(connect, path, warm, measured);
    pending -= done;
    ctx.report.emit(BACKLOG, 'scheduler', { layout: 'scheduler', backlog: level, tasks_per_s: rate, fill_per_s: fill });
  }
}

/** Starts a dispatcher and 4 workers; the rate of `measured` completions after `warm`; stops them. */
async function runWorkers(connect: () => Promise<ZkSession>, path: string, warm: number, measured: number): Promise<{ rate: number; done: number }> {
  let done = 0;
  let startAt = 0;
  let finished!: () => void;
  const over = new Promise<void>((r) => {
    finished = r;
  });
  const onDone = () => {
    done++;
    if (done === warm) startAt = now();
    if (done === warm + measured) finished();
  };
  const instances = [new TaskScheduler(await connect(), path, { roles: ['dispatcher'], workerId: 'dispatcher' })];
  for (let i = 0; i < 4; i++) {
    const w = new TaskScheduler(await connect(), path, { roles: ['worker'], workerId: `w${i}`, capacity: 4, handlers: { noop: () => 'ok' } });
    w.on('succeeded', onDone);
    instances.push(w);
  }
  await Promise.all(instances.map((i) => i.start()));
  await over;
  const rate = (measured * 1000) / Math.max(1, now() - startAt);
  await Promise.all(instances.map((i) => i.stop()));
  return { rate, done };
}
