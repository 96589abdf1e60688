// `npm run demo`: four worker processes coordinate through ZooKeeper, live on your terminal.
//
// Each worker (examples/demo-worker.ts) joins a group, takes part in a leader election, takes a
// shared lock in turn, and runs tasks of the cluster scheduler (batches of "resize" tasks plus a
// "metrics" task scheduled every second). Midway, the current leader is killed with SIGKILL: no
// goodbye, its ZooKeeper session just stops. Watch ZooKeeper expire that session a few seconds
// later, a new leader take over with a higher fencing token, the lock move on, and the tasks the
// dead worker was running re-run elsewhere. At the end: a summary, and a check that no two
// processes ever held the lock, led, or ran the same task at the same time (examples/demo-view.ts).
//
//   npm run demo                     (starts a local ZooKeeper unless ZK_CONNECT is set)
//
// When stdout is not a terminal (or CI is set), it prints log lines instead of redrawing a view.
import { spawn, type ChildProcess } from 'node:child_process';
import { setMaxListeners } from 'node:events';
import { fileURLToPath } from 'node:url';
import { ChildrenCache, TaskScheduler, ZkSession, withoutInheritedFds } from '../src/index.js';
import { startZooKeeper } from '../src/testing/index.js';
import { ClusterView, Ledger, type WorkerRow } from './demo-view.js';

const WORKERS = ['w1', 'w2', 'w3', 'w4'];
const BATCH = 12; // "resize" tasks at the start, and again just before the kill (8 more after it)
const WORKER_FILE = fileURLToPath(new URL('./demo-worker.ts', import.meta.url));

const view = new ClusterView(WORKERS, process.stdout.isTTY === true && !process.env['CI']);
const ledger = new Ledger();
const stopped = new AbortController(); // Ctrl-C
setMaxListeners(100, stopped.signal); // one listener per pending waitFor below

/** Reads what the workers appended to the ledger, then redraws. */
function tick(): void {
  for (const e of ledger.readNew()) view.apply(e);
  view.render();
}

function sleep(ms: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(t);
      reject(new Error('interrupted'));
    };
    const t = setTimeout(() => {
      stopped.signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    stopped.signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Waits until `cond` holds (the view keeps redrawing); throws after `ms`. */
async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`demo: timed out after ${ms / 1000} s waiting for ${what}`);
    await sleep(100);
  }
}

function spawnWorker(w: WorkerRow): void {
  // stdout is unused (the ledger is the channel); the IPC channel tells the worker if we die.
  // Spawned without this process's descriptors: the binding would leak the session's socket.
  const [cmd, ...args] = withoutInheritedFds([process.execPath, '--import', 'tsx', WORKER_FILE, view.connectString, w.id, ledger.file], 4);
  const child = spawn(cmd!, args, { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  w.proc = child;
  child.stderr!.on('data', (d: Buffer) => {
    w.stderr = (w.stderr + d.toString()).slice(-4000);
  });
  child.on('exit', (code, sig) => {
    if (w.status === 'KILLED' || w.status === 'stopped' || (view.stopping && code === 0)) return;
    w.status = 'exited';
    view.say(Date.now(), `${w.id} exited unexpectedly (${sig ?? `code ${code}`}) ${w.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  });
}

function exited(p: ChildProcess): Promise<void> {
  return p.exitCode !== null || p.signalCode !== null ? Promise.resolve() : new Promise((resolve) => p.once('exit', () => resolve()));
}

/** SIGTERM, up to 5 s to leave cleanly, then SIGKILL. */
async function stopAll(procs: ChildProcess[]): Promise<void> {
  const running = procs.filter((p) => p.exitCode === null && p.signalCode === null);
  for (const p of running) p.kill('SIGTERM');
  await Promise.race([Promise.all(running.map(exited)), new Promise((resolve) => setTimeout(resolve, 5000).unref())]);
  for (const p of running) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  await Promise.all(running.map(exited));
}

async function main(): Promise<boolean> {
  await using server = await startZooKeeper();
  takeOverSignals(); // again: starting the server installed the test kit's handlers
  view.connectString = server.connectString;
  await using session = await ZkSession.connect(server.connectString);
  if (server.kind === 'external') await session.delete('/demo', { recursive: true }); // an earlier run's leftovers
  await session.create('/demo/members', '', { createParents: true, parentMode: 'persistent' });
  // Our own view of the group, straight from ZooKeeper: a killed worker stays until its session expires.
  const members = new ChildrenCache(session, '/demo/members');
  view.members = members;
  members.on('childRemoved', (c) =>
    view.say(
      Date.now(),
      c.name === view.killed?.w
        ? `ZooKeeper expired ${c.name}'s session: its group node is gone, and so are its lock and election nodes`
        : `${c.name}'s group node is gone`,
    ),
  );
  await members.start();
  const ticker = setInterval(tick, view.tty ? 200 : 100);
  try {
    view.setPhase(`starting ${WORKERS.length} worker processes`);
    for (const w of view.workers.values()) spawnWorker(w);
    await until(() => [...view.workers.values()].every((w) => w.status === 'up'), 90_000, 'the workers to start');
    await until(() => view.leaders.length > 0, 30_000, 'a leader');

    // A scheduler client: it submits tasks and defines a recurring schedule, and runs nothing itself.
    const client = new TaskScheduler(session, '/demo/scheduler', { roles: [] });
    await client.schedule('metrics', { everyMs: 1000 }, 'metrics');
    const submit = (from: number, count = BATCH) =>
      Promise.all(
        Array.from({ length: count }, (_, i) => {
          const n = from + i;
          return client.submit('resize', { name: `photo-${String(n).padStart(2, '0')}`, ms: 1500 + (n % 5) * 400 });
        }),
      );
    view.batchIds = await submit(1);
    view.setPhase(`all up: electing, locking, and running ${BATCH} resize tasks + a metrics task every second`);
    await sleep(10_000);

    view.batchIds.push(...(await submit(BATCH + 1)));
    view.setPhase(`${BATCH} more resize tasks submitted; the leader will be killed in a moment`);
    const leaderNow = () => [...view.workers.values()].find((w) => w.leader !== undefined && w.status === 'up');
    // Kill it preferably while it runs a task and holds the lock: then the view shows both move on.
    const runsTask = () => [...(leaderNow()?.running.values() ?? [])].some((n) => n.startsWith('photo'));
    const patience = Date.now() + 6000;
    await until(
      () => (runsTask() && view.lockHolder === leaderNow()?.id) || (Date.now() > patience && (runsTask() || Date.now() > patience + 4000)),
      20_000,
      'the leader to run a task',
    );
    await until(() => leaderNow() !== undefined, 30_000, 'a leader to kill');
    const victim = leaderNow()!;
    const killed = { w: victim.id, at: Date.now(), heldLock: view.lockHolder === victim.id, running: [...victim.running.values()] };
    view.killed = killed;
    victim.status = 'KILLED';
    victim.proc!.kill('SIGKILL');
    view.say(
      killed.at,
      `kill -9 ${victim.pid}: ${victim.id} (leader${killed.heldLock ? ', holding the lock' : ''}${killed.running.length ? `, running ${killed.running.join(', ')}` : ''}) dies`,
    );
    view.setPhase(`${victim.id} was killed with SIGKILL; ZooKeeper will notice when its session times out (~3 s)`);
    await exited(victim.proc!);
    ledger.append({ w: victim.id, t: 'killed' }); // after its exit: nothing it wrote can come later

    await until(() => view.newLeaderAt !== undefined, 60_000, 'a new leader after the kill');
    view.setPhase(
      `recovered: ${view.leaders.at(-1)!.w} leads ${((view.newLeaderAt! - killed.at) / 1000).toFixed(1)} s after the kill; the interrupted tasks run again`,
    );
    await sleep(3000);
    view.batchIds.push(...(await submit(2 * BATCH + 1, 8)));
    view.setPhase(`${view.leaders.at(-1)!.w} leads; 8 more resize tasks for the ${WORKERS.length - 1} survivors`);
    await Promise.all(view.batchIds.map((id) => client.waitFor(id, { timeoutMs: 90_000, signal: stopped.signal })));
    await until(() => Date.now() - killed.at > 14_000, 30_000, 'the end of the run');

    view.setPhase('stopping: the workers finish their tasks, leave the group and close their sessions');
    await client.unschedule('metrics');
    view.stopping = true;
    await stopAll([...view.workers.values()].flatMap((w) => (w.status === 'up' ? [w.proc!] : [])));
    tick(); // the workers' last lines first
    view.setPhase('done');
    tick();
    const final = await Promise.all(view.batchIds.map((id) => client.status(id)));
    return view.summary(final.filter((t) => t?.state === 'succeeded').length);
  } finally {
    // Before the session and the server go (the `await using` above): no worker outlives the demo.
    clearInterval(ticker);
    await members.close();
    await stopAll([...view.workers.values()].flatMap((w) => (w.proc ? [w.proc] : [])));
  }
}

/**
 * Ctrl-C (or SIGTERM): stop waiting, clean up (workers, session, server), exit 130; a second one
 * exits at once. The test kit's own handler (which exits at once, killing the server) is replaced,
 * as it would leave the workers no time to stop cleanly; its exit hook still kills the server.
 */
function takeOverSignals(): void {
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.removeAllListeners(sig);
    process.on(sig, () => (stopped.signal.aborted ? process.exit(130) : stopped.abort()));
  }
}

takeOverSignals();
if (view.tty) process.stdout.write('\x1b[?25l'); // hide the cursor while redrawing
let code = 1;
try {
  code = (await main()) ? 0 : 1;
} catch (err) {
  tick();
  console.error(stopped.signal.aborted ? '\ninterrupted' : `\n${(err as Error).stack ?? String(err)}`);
  for (const w of view.workers.values()) if (w.stderr.trim()) console.error(`--- ${w.id} stderr:\n${w.stderr.trim()}`);
  code = stopped.signal.aborted ? 130 : 1;
} finally {
  if (view.tty) process.stdout.write('\x1b[?25h');
  ledger.remove();
}
process.exit(code);
