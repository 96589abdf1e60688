/**
 * The inspector's view of a {@link TaskScheduler}: the dispatcher that leads, the workers with
 * their load, tasks by state, schedules with when they are due. Directory names and the due-time
 * arithmetic are the scheduler's own (recipes/scheduler/store.ts, schedules.ts).
 * @internal
 * @module
 */
import { joinPath } from '../paths.js';
import { SCHEDULER_DIRS } from '../../recipes/scheduler/store.js';
import { nextUnfiredAt, periodStart } from '../../recipes/scheduler/schedules.js';
import type { ScheduleRecord, TaskState } from '../../recipes/scheduler/types.js';
import { formatAge } from './format.js';
import { electedLeader } from './inspect-locks.js';
import { byName, parseJson, type Reader } from './inspect-read.js';
import type { Inspection, InspectionBase, NodeView, ScheduleView, WorkerView } from './inspect-types.js';

const DIRS: readonly string[] = Object.values(SCHEDULER_DIRS);
/** States in which a task is held by the worker it names; states in which it waits for one. */
const HELD: readonly string[] = ['assigned', 'running'] satisfies TaskState[];
const WAITING = ['pending', 'failed'] satisfies TaskState[];

/** Whether a listing is a scheduler's: two or more of its directories, `workers/` or `tasks/` among them. */
export function isScheduler(names: readonly string[]): boolean {
  return names.filter((n) => DIRS.includes(n)).length >= 2 && (names.includes(SCHEDULER_DIRS.workers) || names.includes(SCHEDULER_DIRS.tasks));
}

const num = (j: Record<string, unknown> | undefined, k: string) => (typeof j?.[k] === 'number' && Number.isFinite(j[k]) ? j[k] : undefined);

async function workerViews(r: Reader, path: string): Promise<WorkerView[]> {
  const dir = joinPath(path, SCHEDULER_DIRS.workers);
  const nodes = await r.nodes(dir, (await r.children(dir)) ?? []);
  return Promise.all(
    nodes.map(async (w) => {
      const j = parseJson(w.data);
      const assigned = await r.children(joinPath(joinPath(path, SCHEDULER_DIRS.assign), w.name));
      return {
        ...w,
        capacity: num(j, 'capacity'),
        load: num(j, 'load') ?? assigned?.length, // records no longer carry it: the tasks given to it are its load
        draining: typeof j?.['draining'] === 'boolean' ? j['draining'] : undefined,
        assigned: assigned?.length,
      };
    }),
  );
}

/** Counts tasks by state, and lists the ones assigned to workers that are not registered. */
function taskCounts(tasks: readonly NodeView[], workers: readonly WorkerView[]): { byState: Record<string, number>; orphans: string[] } {
  const byState: Record<string, number> = {};
  const live = new Set(workers.map((w) => w.name));
  const orphans: string[] = [];
  for (const t of tasks) {
    const j = parseJson(t.data);
    const state = typeof j?.['state'] === 'string' ? j['state'] : 'unknown';
    byState[state] = (byState[state] ?? 0) + 1;
    const worker = j?.['worker'];
    if (HELD.includes(state) && typeof worker === 'string' && !live.has(worker)) orphans.push(`${t.name} (${worker})`);
  }
  return { byState, orphans };
}

/** A schedule node's record, read tolerantly; due times by the scheduler's own arithmetic. */
export function scheduleView(id: string, j: Record<string, unknown> | undefined): ScheduleView {
  const cron = typeof j?.['cron'] === 'string' ? j['cron'] : undefined;
  const everyMs = cron === undefined ? num(j, 'everyMs') : undefined;
  const startAt = num(j, 'startAt');
  const lastFired = num(j, 'lastFired');
  const type = typeof j?.['type'] === 'string' ? j['type'] : undefined;
  const view: ScheduleView = { id, everyMs, cron, type, lastFiredAt: undefined, nextDueAt: undefined };
  if (startAt === undefined || lastFired === undefined || (cron === undefined && !(everyMs !== undefined && everyMs > 0))) return view;
  const rec: ScheduleRecord = {
    everyMs: everyMs ?? 0,
    ...(cron !== undefined ? { cron } : {}),
    startAt,
    lastFired,
    type: type ?? '',
    payload: null,
    maxAttempts: 1,
  };
  let next: number | undefined;
  try {
    next = nextUnfiredAt(rec);
  } catch {
    return view;
  } // a cron expression that does not parse
  if (lastFired >= 0) view.lastFiredAt = new Date(periodStart(rec, lastFired));
  view.nextDueAt = next === undefined ? undefined : new Date(next);
  return view;
}

function schedulerHints(
  path: string,
  x: { leader: unknown; workers: WorkerView[]; schedules: ScheduleView[]; byState: Record<string, number>; orphans: string[] },
): string[] {
  const hints: string[] = [];
  if (!x.leader) hints.push('no dispatcher leads: tasks are not being assigned. Start an instance with the dispatcher role.');
  const now = Date.now();
  for (const sc of x.schedules) {
    // A dispatcher fires due periods at once; seconds late means it is not running them.
    if (x.leader && sc.nextDueAt && now - sc.nextDueAt.getTime() > 10_000)
      hints.push(`schedule ${sc.id}: the period due ${formatAge(now - sc.nextDueAt.getTime())} ago has not fired although a dispatcher leads.`);
  }
  const waiting = WAITING.reduce((sum, st) => sum + (x.byState[st] ?? 0), 0);
  if (waiting > 0 && x.workers.length === 0) hints.push(`${waiting} task(s) wait but no worker is registered under ${joinPath(path, SCHEDULER_DIRS.workers)}.`);
  const o = x.orphans;
  if (o.length)
    hints.push(
      `${o.length} task(s) assigned to workers that are not registered (the dispatcher should reclaim them): ${o.slice(0, 5).join(', ')}${o.length > 5 ? ', …' : ''}.`,
    );
  for (const w of x.workers) if (w.sessionConnected === false) hints.push(`worker ${w.name}'s session ${w.sessionId} is not connected to any server.`);
  return hints;
}

/** At most this many task nodes are read (a scheduler may hold millions; the rest are counted as `unread`). */
const MAX_TASK_READS = 20_000;

/** The task nodes under `tasks/` — in its shards (`00`…`ff`), or directly (an older layout) — and how many were left unread. */
async function taskNodes(r: Reader, dir: string, names: string[]): Promise<{ nodes: NodeView[]; unread: number }> {
  const shards = names.filter((n) => /^[0-9a-f]{2}$/.test(n));
  const nodes = await r.nodes(
    dir,
    names.filter((n) => !shards.includes(n)),
  );
  let unread = 0;
  for (const shard of shards) {
    const sdir = joinPath(dir, shard);
    const kids = (await r.children(sdir)) ?? [];
    const room = Math.max(0, MAX_TASK_READS - nodes.length);
    nodes.push(...(await r.nodes(sdir, kids.slice(0, room))));
    unread += Math.max(0, kids.length - room);
  }
  return { nodes, unread };
}

/** A scheduler at `base.path`. */
export async function schedulerInspection(r: Reader, base: InspectionBase): Promise<Inspection> {
  const p = base.path;
  const dir = (d: string) => joinPath(p, d);
  const [workers, leaderRead, taskNames, scheduleNames] = await Promise.all([
    workerViews(r, p),
    r.listAndRead(dir(SCHEDULER_DIRS.leader)),
    r.children(dir(SCHEDULER_DIRS.tasks)),
    r.children(dir(SCHEDULER_DIRS.schedules)),
  ]);
  const { nodes: tasks, unread } = await taskNodes(r, dir(SCHEDULER_DIRS.tasks), taskNames ?? []);
  const { byState, orphans } = taskCounts(tasks, workers);
  if (unread > 0) byState['unread'] = unread;
  const leader = leaderRead && electedLeader(r, leaderRead.listing, leaderRead.nodes);
  const schedules = (await r.nodes(dir(SCHEDULER_DIRS.schedules), scheduleNames ?? [])).sort(byName).map((n) => scheduleView(n.name, parseJson(n.data)));
  const hints = schedulerHints(p, { leader, workers, schedules, byState, orphans });
  return { ...base, kind: 'scheduler', leader, workers, tasks: { total: tasks.length + unread, byState }, schedules, hints };
}
