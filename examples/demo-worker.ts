// One worker process of `npm run demo` (examples/demo.ts starts four of them):
//
//   node --import tsx examples/demo-worker.ts <connectString> <workerId> <ledgerFile>
//
// It joins the group, takes part in the leader election, takes the shared lock in turn for a
// short critical section, and runs tasks of the cluster scheduler. Everything it does is appended
// as one JSON line to a shared ledger file: appends to one file are ordered by the kernel, so the
// ledger is a causal history of the whole cluster (a worker writes "lock released" before it
// deletes its lock node, and the next holder writes "lock taken" only after it saw that delete).
// The parent reads the ledger to draw the live view and to check that nothing overlapped.
import { appendFileSync } from 'node:fs';
import { GroupMember, LeaderLatch, Lock, TaskScheduler, ZkSession, type TaskContext } from '../src/index.js';

const [connect, id, ledger] = process.argv.slice(2) as [string, string, string];
if (!connect || !id || !ledger) throw new Error('usage: demo-worker.ts <connectString> <workerId> <ledgerFile>');

/** Appends one event to the shared ledger (synchronously, so it is there before we go on). */
function record(event: Record<string, unknown>): void {
  appendFileSync(ledger, `${JSON.stringify({ at: Date.now(), w: id, ...event })}\n`);
}

/** Sleeps `ms`, or rejects as soon as `signal` aborts. */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

const shutdown = new AbortController();
// A short session timeout: when this process is killed, ZooKeeper notices within ~3 s.
const session = await ZkSession.connect(connect, { sessionTimeoutMs: 3000 });
session.on('suspended', () => record({ t: 'conn', state: 'suspended' }));
session.on('lost', () => record({ t: 'conn', state: 'lost' }));
session.on('reconnected', () => record({ t: 'conn', state: 'reconnected' }));

// 1. Group membership: an ephemeral node /demo/members/<id> with our pid as data.
const member = new GroupMember(session, '/demo/members', { id, data: JSON.stringify({ pid: process.pid }) });
await member.join({ timeoutMs: 30_000 });
record({ t: 'ready', pid: process.pid, session: session.sessionId });

// 2. Leader election: the lowest node under /demo/leader leads; each term has a fencing token.
const latch = new LeaderLatch(session, '/demo/leader', { id });
latch.on('isLeader', (term) => record({ t: 'leader', token: String(term.fencingToken) }));
latch.on('notLeader', () => record({ t: 'notLeader' }));
latch.start();

// 3. The cluster scheduler: one dispatcher (its own election) hands tasks to workers by load.
async function task(kind: string, payload: { name: string; ms: number }, ctx: TaskContext): Promise<unknown> {
  record({ t: 'task', task: ctx.taskId, name: payload.name, kind, attempt: ctx.attempt });
  try {
    await sleep(payload.ms, ctx.signal); // the work; stops if our session is in trouble
    record({ t: 'taskDone', task: ctx.taskId, ok: true });
    return { by: id, attempt: ctx.attempt };
  } catch (err) {
    record({ t: 'taskDone', task: ctx.taskId, ok: false });
    throw err;
  }
}
const scheduler = new TaskScheduler(session, '/demo/scheduler', {
  workerId: id,
  capacity: 2,
  drainTimeoutMs: 2000,
  rescanMs: 1000,
  handlers: {
    resize: (payload: { name: string; ms: number }, ctx) => task('resize', payload, ctx),
    metrics: (_payload: unknown, ctx) => task('metrics', { name: 'metrics', ms: 150 }, ctx),
  },
});
scheduler.on('isLeader', () => record({ t: 'dispatcher' }));
scheduler.on('notLeader', () => record({ t: 'notDispatcher' }));
await scheduler.start();

// 4. The shared lock: take it, hold it briefly, let it go, pause, again — until told to stop.
const lockLoop = (async () => {
  const lock = new Lock(session, '/demo/lock', { data: id });
  while (!shutdown.signal.aborted) {
    try {
      const lease = await lock.acquire({ signal: shutdown.signal });
      record({ t: 'lock', token: String(lease.fencingToken) });
      try {
        await sleep(250 + Math.random() * 250, lease.signal); // aborts if the lease may be lost
      } catch {
        /* lease lost (connection trouble) or shutting down: leave the critical section */
      }
      record({ t: 'unlock', token: String(lease.fencingToken) }); // before the node is deleted
      await lease.release();
      await sleep(200 + Math.random() * 600, shutdown.signal);
    } catch (err) {
      if (shutdown.signal.aborted) return;
      record({ t: 'error', what: 'lock', message: (err as Error).message });
      await sleep(500).catch(() => undefined);
    }
  }
})();

// Leave cleanly on SIGTERM, or when the parent goes away (its IPC channel closes).
let stopping: Promise<void> | undefined;
function stop(): Promise<void> {
  stopping ??= (async () => {
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    shutdown.abort();
    await lockLoop;
    await scheduler.stop();
    await latch.close();
    await member.leave();
    await session.close();
    record({ t: 'stopped' });
    process.exit(0);
  })();
  return stopping;
}
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
process.on('disconnect', () => void stop());
