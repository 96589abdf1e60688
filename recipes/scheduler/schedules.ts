/**
 * Recurring schedules: `<path>/schedules/<id>` holds the definition and the highest fired period;
 * the dispatcher fires period `k` (due at `startAt + k·everyMs`) by creating task
 * `<id>@<k>`. A create that finds the node (NODE_EXISTS) means the period was already fired, so a
 * repeated or concurrent firing is harmless; after a failover the new dispatcher fires every period
 * from the last recorded one up to now (catch-up: none is skipped).
 * @internal
 * @module
 */
import { BadVersionError, NoNodeError, NodeExistsError } from '../../src/errors.js';
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
      if (old.everyMs !== def.everyMs) {
        // A new period length restarts the count after the last fired period's time.
        next.startAt = old.startAt + (old.lastFired + 1) * old.everyMs;
        next.lastFired = -1;
      }
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

/** Period index due at `now` (the latest period whose start has passed), or -1. */
export function duePeriod(s: ScheduleRecord, now: number): number {
  return now < s.startAt ? -1 : Math.floor((now - s.startAt) / s.everyMs);
}

/**
 * Fires every due period of every schedule (dispatcher only). Order per period: create the task
 * (NODE_EXISTS = fired before), then record `lastFired` with a compare-and-set. Interrupted
 * between the two, the next dispatcher re-creates (NODE_EXISTS) and records.
 * @returns the earliest time a schedule is due next (Infinity if none), and what was fired
 */
export async function fireDue(store: Store, now: number, defaults: { backoffMs: number }, onFired: (id: string, period: number, taskId: string) => void): Promise<number> {
  let next = Infinity;
  for (const id of await store.children(store.schedules)) {
    const s = await readSchedule(store, id);
    if (!s) continue;
    const due = duePeriod(s, now);
    for (let k = s.lastFired + 1; k <= due; k++) {
      const taskId = periodTaskId(id, k);
      const runAt = s.startAt + k * s.everyMs;
      const created = await store.createTask({
        id: taskId, type: s.type, payload: s.payload, state: 'pending', attempt: 0, maxAttempts: s.maxAttempts,
        backoffMs: defaults.backoffMs, runAt, createdAt: now, updatedAt: now, schedule: { id, period: k },
      });
      if (created) onFired(id, k, taskId);
    }
    if (due > s.lastFired) {
      const { version, ...rec } = s;
      try {
        await store.session.set(store.schedule(id), JSON.stringify({ ...rec, lastFired: due } satisfies ScheduleRecord), { version });
      } catch (err) {
        if (!(err instanceof BadVersionError) && !(err instanceof NoNodeError)) throw err;
      }
    }
    next = Math.min(next, s.startAt + (Math.max(due, s.lastFired) + 1) * s.everyMs);
  }
  return next;
}
