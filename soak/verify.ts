/**
 * The soak's end, after the nemesis healed everything: recovery (every role of every worker works
 * again by itself), then quiet (no more changes; schedules removed), drain (the queue empty,
 * every task terminal), and the caches' check: each worker's TreeCache, ChildrenCache, group view
 * and ServiceCache must equal what the server holds, read directly.
 * @module
 */
import { DistributedQueue, NoNodeError, ServiceDiscovery, type TaskScheduler, type TaskStatus, type ZkSession, stringCodec } from '../src/index.js';
import type { CheckResult } from './checks.js';
import type { SoakWorker } from './cluster.js';
import { SERVICE_NAME, type SoakPaths } from './context.js';
import { SCHEDULES } from './checks-flow.js';
import type { LogLine } from './log.js';
import type { ViewSnapshot } from './roles-views.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What must happen again after the heal, per worker (or once for the elections), to call a role recovered. */
const RECOVERED: Record<string, (l: LogLine) => boolean> = {
  lock: (l) => l.ev === 'hold' && l.kind === 'lock',
  'read-write lock': (l) => l.ev === 'hold' && (l.kind === 'read' || l.kind === 'write'),
  semaphore: (l) => l.ev === 'hold' && l.kind === 'sem',
  queue: (l) => l.ev === 'consumed',
  put: (l) => l.ev === 'put' && l.phase === 'ok',
  scheduler: (l) => l.ev === 'ran',
  register: (l) => l.ev === 'reg' && l.phase === 'ok',
};
const ELECTIONS: Record<string, (l: LogLine) => boolean> = {
  latch: (l) => l.ev === 'hold' && l.kind === 'latch',
  selector: (l) => l.ev === 'hold' && l.kind === 'selector',
};

/**
 * Waits until every role recovered after `healedAt` (reading the logs again and again), or the
 * deadline; returns the recovery check and each role's recovery time (the slowest worker's).
 */
export async function awaitRecovery(
  read: () => LogLine[],
  workers: readonly SoakWorker[],
  healedAt: number,
  deadlineMs: number,
): Promise<{ result: CheckResult; times: Record<string, number> }> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const after = read().filter((l) => l.t >= healedAt);
    const times: Record<string, number> = {};
    const missing: string[] = [];
    for (const [role, seen] of Object.entries(RECOVERED)) {
      const firsts = workers.map((w) => after.find((l) => l.w === w.who && seen(l))?.t);
      firsts.forEach((t, i) => {
        if (t === undefined) missing.push(`${role} of ${workers[i]!.who}`);
      });
      if (firsts.every((t) => t !== undefined)) times[role] = Math.max(...(firsts as number[])) - healedAt;
    }
    for (const [role, seen] of Object.entries(ELECTIONS)) {
      const first = after.find(seen);
      if (first) times[role] = first.t - healedAt;
      else missing.push(`a ${role} leader`);
    }
    if (missing.length === 0 || Date.now() > deadline) {
      const violations = missing.length ? [`not recovered ${Math.round(deadlineMs / 1000)} s after the heal: ${missing.join(', ')}`] : [];
      return { result: { name: 'recovery', checks: workers.length * Object.keys(RECOVERED).length + 2, violations, figures: times }, times };
    }
    await sleep(500);
  }
}

/** Quiet: every worker stops changing data; the schedules are removed. */
export async function quiesce(workers: readonly SoakWorker[], scheduler: TaskScheduler): Promise<string[]> {
  const replies = await Promise.all(workers.map((w) => w.command('quiet')));
  await scheduler.unschedule(SCHEDULES.every);
  await scheduler.unschedule(SCHEDULES.cron);
  return replies.flatMap((r, i) => (r.ok ? [] : [`${workers[i]!.who} did not go quiet: ${r.error}`]));
}

/** Waits until the queue is empty and every task is terminal; returns the final task list. */
export async function drain(
  session: ZkSession,
  paths: SoakPaths,
  scheduler: TaskScheduler,
  deadlineMs: number,
): Promise<{ tasks: TaskStatus[]; queued: number }> {
  const queue = new DistributedQueue<string>(session, paths.queue, { codec: stringCodec });
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const [queued, tasks] = await Promise.all([queue.size(), scheduler.list()]);
    const open = tasks.filter((t) => t.state !== 'succeeded' && t.state !== 'dead').length;
    if ((queued === 0 && open === 0) || Date.now() > deadline) return { tasks, queued };
    await sleep(1000);
  }
}

/** Every node under `path` (itself included) → its data as text. */
async function readTree(session: ZkSession, path: string, out: Record<string, string> = {}): Promise<Record<string, string>> {
  try {
    const { data } = await session.get(path);
    out[path] = data.toString('utf8');
    for (const c of await session.getChildren(path)) await readTree(session, `${path}/${c}`, out);
  } catch (err) {
    if (!(err instanceof NoNodeError)) throw err;
  }
  return out;
}

/** Children of `path` → their data as text. */
async function readChildren(session: ZkSession, path: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const c of await session.getChildren(path).catch(() => [] as string[])) {
    const node = await session.get(`${path}/${c}`).catch(() => undefined);
    if (node) out[c] = node.data.toString('utf8');
  }
  return out;
}

/** What the server holds, as each cache should. */
export async function serverView(session: ZkSession, paths: SoakPaths): Promise<ViewSnapshot> {
  const discovery = new ServiceDiscovery(session, paths.disc);
  const instances = await discovery.queryForInstances(SERVICE_NAME);
  return {
    tree: await readTree(session, paths.tree),
    shared: await readChildren(session, paths.shared),
    group: await readChildren(session, paths.group),
    services: Object.fromEntries(instances.map((i) => [i.id, JSON.stringify(i.payload)])),
  };
}

/** The first difference between a cache's map and the server's, or undefined when equal. */
function difference(what: string, cache: Record<string, string>, server: Record<string, string>): string | undefined {
  const diffs: string[] = [];
  for (const [k, v] of Object.entries(server)) {
    if (!(k in cache)) diffs.push(`missing ${k}`);
    else if (cache[k] !== v) diffs.push(`${k} is ${JSON.stringify(cache[k])}, the server has ${JSON.stringify(v)}`);
  }
  for (const k of Object.keys(cache)) if (!(k in server)) diffs.push(`has ${k}, which the server does not`);
  if (diffs.length === 0) return undefined;
  return `${what}: ${diffs.length} difference(s): ${diffs.slice(0, 3).join('; ')}${diffs.length > 3 ? '; ...' : ''}`;
}

/** Each worker's caches against the server's tree, asked again until all agree or the deadline. */
export async function checkCaches(session: ZkSession, paths: SoakPaths, workers: readonly SoakWorker[], deadlineMs: number): Promise<CheckResult> {
  const deadline = Date.now() + deadlineMs;
  const started = Date.now();
  for (;;) {
    const server = await serverView(session, paths);
    const replies = await Promise.all(workers.map((w) => w.command('report')));
    const diffs: string[] = [];
    replies.forEach((r, i) => {
      const who = workers[i]!.who;
      if (!r.ok || !r.snapshot) {
        diffs.push(`${who}: no report (${r.error})`);
        return;
      }
      for (const k of ['tree', 'shared', 'group', 'services'] as const) {
        const d = difference(k, r.snapshot[k], server[k]);
        if (d) diffs.push(`${who} ${d}`);
      }
    });
    // Membership recovered too: every live worker is in the group and registered, no one else.
    const live = workers.map((w) => w.who).sort();
    for (const [what, ids] of [
      ['group members', Object.keys(server.group)],
      ['registered instances', Object.keys(server.services)],
    ] as const) {
      if (JSON.stringify([...ids].sort()) !== JSON.stringify(live))
        diffs.push(`the server's ${what} are [${[...ids].sort().join(', ')}], the live workers [${live.join(', ')}]`);
    }
    if (diffs.length === 0 || Date.now() > deadline) {
      const nodes = Object.keys(server.tree).length;
      return {
        name: 'caches equal the server',
        checks: workers.length * 4 + 2,
        violations: diffs.map((d) => `${d} (${Math.round(deadlineMs / 1000)} s after quiet)`),
        figures: {
          treeNodes: nodes,
          members: Object.keys(server.group).length,
          services: Object.keys(server.services).length,
          convergedMs: Date.now() - started,
        },
      };
    }
    await sleep(500);
  }
}
