/**
 * The soak's flowing roles: a queue producer and consumer, a scheduler instance (worker and
 * dispatcher candidate) that also submits tasks, and the compare-and-set register whose history
 * the linearizability checker reads.
 *
 * What is logged, and why it is enough to check: a put logs `start` before and `ok` after (an item
 * whose put failed or was cut by a kill may or may not be there; one with `ok` must be consumed);
 * a consumer logs each item its handler got; a submit logs the task id once stored; a handler logs
 * each run. A register operation logs its call and then its result, or `unknown` when the client
 * cannot tell whether a write took effect (connection loss, session lost): the checker lets such a
 * write take effect at any time after its call, or never.
 * @module
 */
import { DistributedQueue, SharedValue, TaskScheduler, stringCodec } from '../src/index.js';
import { type RoleContext, codeOf, sleep, startFresh, writerLoop } from './context.js';

/** Puts an item every 50–200 ms (not while quiet). */
export function producerRole(ctx: RoleContext): Promise<void> {
  const queue = new DistributedQueue<string>(ctx.session, ctx.paths.queue, { codec: stringCodec });
  return writerLoop(ctx, 'put', [50, 200], async () => {
    const item = ctx.id('item');
    ctx.log({ ev: 'put', item, phase: 'start' });
    try {
      await queue.put(item);
    } catch (err) {
      ctx.log({ ev: 'put', item, phase: 'fail', code: codeOf(err) });
      throw err;
    }
    ctx.log({ ev: 'put', item, phase: 'ok' });
  });
}

/** Consumes the queue, a few items at once, 5–30 ms each. */
export async function consumerRole(ctx: RoleContext): Promise<void> {
  const queue = new DistributedQueue<string>(ctx.session, ctx.paths.queue, { codec: stringCodec });
  const consumer = queue.consume(
    async (item) => {
      ctx.log({ ev: 'consumed', item });
      await sleep(ctx.rng.int(5, 30));
    },
    { concurrency: 4, retryDelayMs: 200, signal: ctx.stopping },
  );
  await consumer.done.catch(() => undefined);
}

/** A scheduler instance with handlers `work` and `tick` (runs are logged). */
function newScheduler(ctx: RoleContext): TaskScheduler {
  const scheduler = new TaskScheduler(ctx.session, ctx.paths.sched, {
    workerId: ctx.who,
    capacity: 2,
    maxAttempts: 1000,
    backoffMs: 100,
    maxBackoffMs: 1000,
    drainTimeoutMs: 1000,
    rescanMs: 1000,
    handlers: {
      work: async (payload: { ms: number }, { taskId, attempt, signal }) => {
        ctx.log({ ev: 'run', task: taskId, attempt });
        await sleep(payload.ms, signal);
        if (signal.aborted) throw new Error('interrupted');
        ctx.log({ ev: 'ran', task: taskId });
      },
      tick: (_payload: unknown, { taskId, attempt }) => {
        ctx.log({ ev: 'run', task: taskId, attempt });
        ctx.log({ ev: 'ran', task: taskId });
      },
    },
  });
  // Background steps retry on the next scan; logged, so a stuck task can be traced.
  scheduler.on('error', (err) => ctx.log({ ev: 'err', where: 'scheduler', code: codeOf(err), message: String(err.message).slice(0, 200) }));
  return scheduler;
}

/** Starts a scheduler instance (a new one after a start that failed), then submits a `work` task every 0.3–1 s. */
export async function schedulerRole(ctx: RoleContext): Promise<void> {
  const scheduler = await startFresh(
    ctx,
    'scheduler.start',
    () => newScheduler(ctx),
    (s) => s.start(),
    (s) => s.stop(),
  );
  if (!scheduler) return;
  await writerLoop(ctx, 'submit', [300, 1000], async () => {
    const task = await scheduler.submit('work', { ms: ctx.rng.int(10, 200) });
    ctx.log({ ev: 'submit', task });
  });
  await scheduler.stop().catch(() => undefined);
}

/**
 * Reads and compare-and-sets the register, one operation at a time (not while quiet). A read for
 * the linearizability history is a `sync` then a read (ZooKeeper serves a plain read from the
 * connected server, which may lag behind a write another client already saw completed:
 * sequentially consistent, not linearizable — its documented contract); plain reads are logged
 * as `plain` for the per-session check that no client ever sees the register go back in time.
 */
export function registerRole(ctx: RoleContext): Promise<void> {
  const path = ctx.paths.register;
  const value = new SharedValue<string>(ctx.session, path, { codec: stringCodec, seed: '' });
  let op = 0;
  const read = async (): Promise<number> => {
    const n = op++;
    ctx.log({ ev: 'reg', op: n, phase: 'call', input: { kind: 'read' } });
    await ctx.session.sync(path);
    const v = await value.getVersioned(); // a failed read is simply not in the history
    ctx.log({ ev: 'reg', op: n, phase: 'ok', output: { value: v.value, version: v.version } });
    return v.version;
  };
  return writerLoop(ctx, 'register', [5, 40], async () => {
    if (ctx.rng.chance(0.3)) {
      const plain = await value.getVersioned();
      ctx.log({ ev: 'plain', version: plain.version });
      return;
    }
    const version = await read();
    if (ctx.rng.chance(0.5)) return;
    const n = op++;
    const next = ctx.id('v');
    ctx.log({ ev: 'reg', op: n, phase: 'call', input: { kind: 'cas', expectedVersion: version, value: next } });
    try {
      const ok = await value.trySetValue({ version }, next);
      ctx.log({ ev: 'reg', op: n, phase: 'ok', output: ok ? { ok, version: version + 1 } : { ok } });
    } catch (err) {
      // IndeterminateError or a connection loss: the write may or may not have been applied.
      ctx.log({ ev: 'reg', op: n, phase: 'unknown' });
      throw err;
    }
  });
}
