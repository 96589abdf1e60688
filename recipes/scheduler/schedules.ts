/**
 * Recurring schedules: `<path>/schedules/<id>` holds the definition and the highest fired period;
 * the dispatcher fires period `k` (due at `startAt + k·everyMs`; for a cron schedule `k` is the
 * fire time in epoch seconds) by creating task `<id>@<k>`. A create that finds the node
 * (NODE_EXISTS) means the period was already fired, so a repeated or concurrent firing is
 * harmless; after a failover the new dispatcher fires every period from the last recorded one up
 * to now (catch-up: none is skipped).
 * @internal
 * @module
 */
import { BadVersionError, NoNodeError, NodeExistsError } from '../../src/errors.js';
import { nextFire, parseCron, type CronSpec } from './cron.js';
import { periodTaskId, type Store } from './store.js';
import type { ScheduleRecord } from './types.js';

/** Creates or updates a schedule; an existing schedule keeps its `startAt` and fired periods. */
export async function defineSchedule(store: Store, id: string, def: Omit<ScheduleRecord, 'lastFired'>): Promise<void> {
  const p = store.schedule(id);
  for (;;) {
    try {
      await store.session.create(p, JSON.stringify({ ...def, lastFired: -1 } satisfies ScheduleRecord));
      return;
    } catch (err) {
      if (!(err instanceof NodeExistsError)) throw err;
    }
    try {
      const { data, stat } = await store.session.get(p);
      const old = JSON.parse(data.toString('utf8')) as ScheduleRecord;
      const next: ScheduleRecord = { ...def, startAt: old.startAt, lastFired: old.lastFired };
      if ((old.cron === undefined) !== (def.cron === undefined)) {
        // Another kind of schedule: it starts as defined, but never before the last fired period.
        next.startAt = old.lastFired < 0 ? def.startAt : Math.max(def.startAt, periodStart(old, old.lastFired) + 1);
        next.lastFired = -1;
      } else if (old.cron === undefined && old.everyMs !== def.everyMs) {
        // A new period length restarts the count after the last fired period's time.
        next.startAt = old.startAt + (old.lastFired + 1) * old.everyMs;
        next.lastFired = -1;
      }
      // (A cron schedule given a new expression keeps its count: its periods are fire times.)
      await store.session.set(p, JSON.stringify(next), { version: stat.version });
      return;
    } catch (err) {
      if (!(err instanceof BadVersionError) && !(err instanceof NoNodeError)) throw err;
    }
  }
}

/** Reads a schedule; null if there is none. */
export async function readSchedule(store: Store, id: string): Promise<(ScheduleRecord & { version: number }) | null> {
  try {
    const { data, stat } = await store.session.get(store.schedule(id));
    return { ...(JSON.parse(data.toString('utf8')) as ScheduleRecord), version: stat.version };
  } catch (err) {
    if (err instanceof NoNodeError) return null;
    throw err;
  }
}

/** Period index due at `now` (the latest period whose start has passed), or -1 (interval schedules). */
export function duePeriod(s: ScheduleRecord, now: number): number {
  return now < s.startAt ? -1 : Math.floor((now - s.startAt) / s.everyMs);
}

/** When period `k` of `s` is due (epoch ms). */
export function periodStart(s: ScheduleRecord, k: number): number {
  return s.cron === undefined ? s.startAt + k * s.everyMs : k * 1000;
}

const parsed = new Map<string, CronSpec>();
function cronOf(expr: string): CronSpec {
  let spec = parsed.get(expr);
  if (!spec) {
    spec = parseCron(expr);
    if (parsed.size > 1000) parsed.clear();
    parsed.set(expr, spec);
  }
  return spec;
}

/**
 * When the first period of `s` not fired yet is due (epoch ms; in the past when it is overdue), or
 * undefined when there is none (a cron expression with no later fire time).
 * @throws InvalidArgumentError for a bad cron expression
 */
export function nextUnfiredAt(s: ScheduleRecord): number | undefined {
  if (s.cron === undefined) return periodStart(s, s.lastFired + 1);
  // Fire times are whole seconds: start just before startAt, or after the last fired one.
  return nextFire(cronOf(s.cron), Math.max(s.startAt - 1, s.lastFired < 0 ? -Infinity : s.lastFired * 1000));
}

/**
 * The periods of `s` due at `now` and not fired yet (in order), and when the next one is due
 * (Infinity if never).
 */
export function duePeriods(s: ScheduleRecord, now: number): { due: number[]; next: number } {
  if (s.cron === undefined) {
    const last = duePeriod(s, now);
    const due: number[] = [];
    for (let k = s.lastFired + 1; k <= last; k++) due.push(k);
    return { due, next: s.startAt + (Math.max(last, s.lastFired) + 1) * s.everyMs };
  }
  const spec = cronOf(s.cron);
  const due: number[] = [];
  let t = nextUnfiredAt(s);
  while (t !== undefined && t <= now) {
    due.push(t / 1000);
    t = nextFire(spec, t);
  }
  return { due, next: t ?? Infinity };
}

/**
 * Fires every due period of every schedule (dispatcher only). Order per period: create the task
 * (NODE_EXISTS = fired before), then record `lastFired` with a compare-and-set. Interrupted
 * between the two, the next dispatcher re-creates (NODE_EXISTS) and records.
 * @returns the earliest time a schedule is due next (Infinity if none), and what was fired
 */
export async function fireDue(
  store: Store,
  now: number,
  defaults: { backoffMs: number },
  onFired: (id: string, period: number, taskId: string) => void,
): Promise<number> {
  let next = Infinity;
  for (const id of await store.children(store.schedules)) {
    const s = await readSchedule(store, id);
    if (!s) continue;
    const { due: periods, next: nextDue } = duePeriods(s, now);
    for (const k of periods) {
      const taskId = periodTaskId(id, k);
      const runAt = periodStart(s, k);
      const created = await store.createTask({
        id: taskId,
        type: s.type,
        payload: s.payload,
        state: 'pending',
        attempt: 0,
        maxAttempts: s.maxAttempts,
        backoffMs: defaults.backoffMs,
        runAt,
        createdAt: now,
        updatedAt: now,
        schedule: { id, period: k },
      });
      if (created) onFired(id, k, taskId);
    }
    const lastDue = periods.at(-1);
    if (lastDue !== undefined) {
      const { version, ...rec } = s;
      try {
        await store.session.set(store.schedule(id), JSON.stringify({ ...rec, lastFired: lastDue } satisfies ScheduleRecord), { version });
      } catch (err) {
        if (!(err instanceof BadVersionError) && !(err instanceof NoNodeError)) throw err;
      }
    }
    next = Math.min(next, nextDue);
  }
  return next;
}
