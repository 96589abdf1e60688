/**
 * The scheduler's znode store: paths, JSON encoding, and the versioned (compare-and-set) task
 * writes every other module goes through. See ./index.ts for the layout and the step ordering.
 * @internal
 * @module
 */
import { createHash, randomUUID } from 'node:crypto';
import type { ZkSession } from '../../src/session.js';
import { BadVersionError, NoNodeError, NodeExistsError } from '../../src/errors.js';
import { joinPath } from '../../src/paths.js';
import type { TaskRecord, TaskStatus, WorkerRecord } from './types.js';

/** Node names we accept for worker ids, schedule ids and task ids. */
export const NAME_RE = /^[A-Za-z0-9_.\-@]{1,200}$/;

/** Task id of an idempotency key: the same key always maps to the same node. */
export function taskIdForKey(key: string): string {
  return `k-${createHash('sha256').update(key).digest('hex').slice(0, 40)}`;
}

/** A fresh task id, sortable by creation time. */
export function newTaskId(): string {
  return `t-${Date.now().toString(36).padStart(9, '0')}-${randomUUID().slice(0, 8)}`;
}

/** Task id of a schedule's period: `<scheduleId>@<period>`. */
export function periodTaskId(scheduleId: string, period: number): string {
  return `${scheduleId}@${period}`;
}

/** The paths of one scheduler and the reads and writes on them. */
export class Store {
  readonly tasks: string;
  readonly workers: string;
  readonly assign: string;
  readonly schedules: string;
  readonly leader: string;

  constructor(readonly session: ZkSession, readonly path: string) {
    this.tasks = joinPath(path, 'tasks');
    this.workers = joinPath(path, 'workers');
    this.assign = joinPath(path, 'assign');
    this.schedules = joinPath(path, 'schedules');
    this.leader = joinPath(path, 'leader');
  }

  /** `tasks/<id>` */
  task(id: string): string { return joinPath(this.tasks, id); }
  /** `workers/<id>` */
  worker(id: string): string { return joinPath(this.workers, id); }
  /** `assign/<workerId>` */
  assignDir(workerId: string): string { return joinPath(this.assign, workerId); }
  /** `assign/<workerId>/<taskId>` */
  assignment(workerId: string, taskId: string): string { return joinPath(this.assignDir(workerId), taskId); }
  /** `schedules/<id>` */
  schedule(id: string): string { return joinPath(this.schedules, id); }

  /** Creates the persistent directories (idempotent). */
  async ensureDirs(): Promise<void> {
    for (const p of [this.path, this.tasks, this.workers, this.assign, this.schedules]) await this.mkdir(p);
  }

  /** Creates one persistent node (and its parents) if missing. */
  async mkdir(p: string): Promise<void> {
    try {
      await this.session.create(p, '', { createParents: true, parentMode: 'persistent' });
    } catch (err) {
      if (!(err instanceof NodeExistsError)) throw err;
    }
  }

  /** Creates a task node; false if a node of that id already exists. */
  async createTask(rec: TaskRecord): Promise<boolean> {
    try {
      await this.session.create(this.task(rec.id), JSON.stringify(rec));
      return true;
    } catch (err) {
      if (err instanceof NodeExistsError) return false;
      throw err;
    }
  }

  /** Reads a task; null if there is none. */
  async readTask(id: string, watch?: () => void): Promise<TaskStatus | null> {
    try {
      const { data, stat } = await this.session.get(this.task(id), watch ? { watch } : {});
      return { ...(JSON.parse(data.toString('utf8')) as TaskRecord), id, version: stat.version };
    } catch (err) {
      if (err instanceof NoNodeError) return null;
      throw err;
    }
  }

  /**
   * Compare-and-set of a task: writes `next` only if the node is still at `prev.version`.
   * @returns the new status, or null when someone wrote first (or the task is gone): the caller's
   * view is stale and it must not act on it.
   */
  async casTask(prev: TaskStatus, change: Partial<TaskRecord>): Promise<TaskStatus | null> {
    const { version, ...rest } = prev;
    const rec: TaskRecord = { ...rest, ...change, id: prev.id, updatedAt: Date.now() };
    try {
      const stat = await this.session.set(this.task(prev.id), JSON.stringify(rec), { version });
      return { ...rec, version: stat.version };
    } catch (err) {
      if (err instanceof BadVersionError || err instanceof NoNodeError) return null;
      throw err;
    }
  }

  /** Lists task ids (optionally leaving a children watch). */
  async taskIds(watch?: () => void): Promise<string[]> {
    return this.children(this.tasks, watch);
  }

  /** Task ids with the `tasks` node's children version (counts every create and delete). */
  async taskIdsWithVersion(watch?: () => void): Promise<{ ids: string[]; cversion: number }> {
    const { children, stat } = await this.session.getChildrenWithStat(this.tasks, watch ? { watch } : {});
    return { ids: children, cversion: stat.cversion };
  }

  /** Children of a node, [] if it is missing. */
  async children(p: string, watch?: () => void): Promise<string[]> {
    try {
      return await this.session.getChildren(p, watch ? { watch } : {});
    } catch (err) {
      if (err instanceof NoNodeError) return [];
      throw err;
    }
  }

  /** Live workers with their record and session (the ephemeral owner). */
  async liveWorkers(watch?: () => void): Promise<Map<string, WorkerRecord & { session: string }>> {
    const out = new Map<string, WorkerRecord & { session: string }>();
    const ids = (await this.children(this.workers, watch)).sort();
    const reads = await Promise.all(ids.map(async (id) => {
      try {
        return await this.session.get(this.worker(id));
      } catch (err) {
        if (err instanceof NoNodeError) return undefined;
        throw err;
      }
    }));
    ids.forEach((id, i) => {
      const r = reads[i];
      if (r) out.set(id, { ...(JSON.parse(r.data.toString('utf8')) as WorkerRecord), session: r.stat.ephemeralOwner });
    });
    return out;
  }

  /** Creates an assignment node (idempotent). */
  async createAssignment(workerId: string, taskId: string, attempt: number): Promise<void> {
    try {
      await this.session.create(this.assignment(workerId, taskId), JSON.stringify({ attempt }), { createParents: true, parentMode: 'persistent' });
    } catch (err) {
      if (!(err instanceof NodeExistsError)) throw err;
    }
  }

  /** Deletes a node if present (idempotent). */
  async remove(p: string): Promise<void> {
    try {
      await this.session.delete(p);
    } catch (err) {
      if (!(err instanceof NoNodeError)) throw err;
    }
  }
}

/** Backoff before retry number `attempt + 1`: backoffMs · 2^(attempt-1), at most maxMs. */
export function backoff(backoffMs: number, attempt: number, maxMs: number): number {
  return Math.min(maxMs, backoffMs * 2 ** Math.max(0, attempt - 1));
}
