/**
 * The scheduler's znode store: paths, JSON encoding, and the versioned (compare-and-set) task
 * writes every other module goes through. See ./index.ts for the layout and the step ordering.
 * @internal
 * @module
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Stat, TxnOp, ZkSession } from '../../src/session.js';
import { BadVersionError, NoNodeError, NodeExistsError, ZkError, isRetryable } from '../../src/errors.js';
import { joinPath } from '../../src/paths.js';
import { ReadyWriter, type ReadyEntry } from './ready.js';
import type { TaskRecord, TaskStatus, WorkerRecord } from './types.js';

/** The directories under a scheduler's path (see ./index.ts for what each holds). */
export const SCHEDULER_DIRS = { tasks: 'tasks', workers: 'workers', assign: 'assign', schedules: 'schedules', leader: 'leader', ready: 'ready' } as const;

/** Task nodes are spread over this many shards, `tasks/00` … `tasks/ff`: no listing holds them all. */
export const TASK_SHARDS = 256;

/** The shard of a task id: the first byte of its SHA-256, two hex digits. */
export function taskShard(id: string): string {
  return createHash('sha256').update(id).digest('hex').slice(0, 2);
}

/** Every shard's name, `00` … `ff`. */
export const SHARD_NAMES: readonly string[] = Array.from({ length: TASK_SHARDS }, (_, i) => i.toString(16).padStart(2, '0'));

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

/** What a task write does to its worker's assignment node, in the same transaction. */
export type AssignmentChange = { kind: 'create'; workerId: string; attempt: number } | { kind: 'delete'; workerId: string };

/** What a task write does to the ready index, in the same transaction: adds the task's entry, or deletes the one it was found by. */
export type ReadyChange = { kind: 'enqueue'; due: number } | { kind: 'dequeue'; entry: ReadyEntry };

/** The nodes written in the same transaction as a task's CAS. */
export interface Companions {
  assignment?: AssignmentChange;
  ready?: ReadyChange;
}

/** The paths of one scheduler and the reads and writes on them. */
export class Store {
  readonly tasks: string;
  readonly workers: string;
  readonly assign: string;
  readonly schedules: string;
  readonly leader: string;
  readonly ready: string;
  /** Where new ready entries go. */
  readonly readyWriter: ReadyWriter;

  constructor(
    readonly session: ZkSession,
    readonly path: string,
  ) {
    this.tasks = joinPath(path, SCHEDULER_DIRS.tasks);
    this.workers = joinPath(path, SCHEDULER_DIRS.workers);
    this.assign = joinPath(path, SCHEDULER_DIRS.assign);
    this.schedules = joinPath(path, SCHEDULER_DIRS.schedules);
    this.leader = joinPath(path, SCHEDULER_DIRS.leader);
    this.ready = joinPath(path, SCHEDULER_DIRS.ready);
    this.readyWriter = new ReadyWriter(session, this.ready);
  }

  /** `tasks/<shard>/<id>` */
  task(id: string): string {
    return joinPath(joinPath(this.tasks, taskShard(id)), id);
  }
  /** `workers/<id>` */
  worker(id: string): string {
    return joinPath(this.workers, id);
  }
  /** `assign/<workerId>` */
  assignDir(workerId: string): string {
    return joinPath(this.assign, workerId);
  }
  /** `assign/<workerId>/<taskId>` */
  assignment(workerId: string, taskId: string): string {
    return joinPath(this.assignDir(workerId), taskId);
  }
  /** `ready/<bucket>/<entry>` */
  readyEntry(e: ReadyEntry): string {
    return joinPath(joinPath(this.ready, e.bucket), e.name);
  }
  /** `schedules/<id>` */
  schedule(id: string): string {
    return joinPath(this.schedules, id);
  }

  /** Creates the persistent directories (idempotent). */
  async ensureDirs(): Promise<void> {
    for (const p of [this.path, this.tasks, this.workers, this.assign, this.schedules, this.ready]) await this.mkdir(p);
    const shards = await this.children(this.tasks);
    await Promise.all(SHARD_NAMES.filter((n) => !shards.includes(n)).map((n) => this.mkdir(joinPath(this.tasks, n))));
  }

  /** Creates one persistent node (and its parents) if missing. */
  async mkdir(p: string): Promise<void> {
    try {
      await this.session.create(p, '', { createParents: true, parentMode: 'persistent' });
    } catch (err) {
      if (!(err instanceof NodeExistsError)) throw err;
    }
  }

  /**
   * Creates a task node and its ready entry, in one transaction; false if a node of that id
   * already exists. A create whose reply was lost with the connection is retried and then meets
   * its own node: it counts as ours when the node holds exactly our bytes.
   */
  async createTask(rec: TaskRecord): Promise<boolean> {
    const data = JSON.stringify(rec);
    for (let attempt = 0; ; attempt++) {
      const entry = await this.readyWriter.entryOp(rec.id, rec.runAt);
      try {
        const results = await this.session.multi([{ op: 'create', path: this.task(rec.id), data }, entry.op]);
        this.readyWriter.written(entry.window, entry.bucket, (results[1] as { path: string }).path);
        return true;
      } catch (err) {
        const at = err instanceof ZkError ? err.opIndex : undefined;
        // Our own create, applied before its reply was lost (a retry meets it), holds our bytes (they carry createdAt).
        if (err instanceof NodeExistsError && at === 0) return this.holds(rec.id, data);
        if (err instanceof NoNodeError && at === 1 && attempt < 5) {
          this.readyWriter.gone(entry.window, entry.bucket);
          continue;
        }
        throw err;
      }
    }
  }

  /** Whether task `id`'s node holds exactly `data`. */
  private async holds(id: string, data: string): Promise<boolean> {
    try {
      return (await this.session.get(this.task(id))).data.toString('utf8') === data;
    } catch (err) {
      if (err instanceof NoNodeError) return false;
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
   * Compare-and-set of a task: writes `next` only if the node is still at `prev.version`, in one
   * transaction with its companions: the assignment node's create or delete (the task's state and
   * its worker's assignment node never disagree) and the ready entry's create or delete (a task
   * waits exactly while it has an entry).
   * A connection loss leaves the outcome unknown: the task is read again, and the write counts as
   * done if the node holds exactly the bytes written (they carry `updatedAt`, so no other writer's
   * record matches); the same check follows a BAD_VERSION, which a retried write of our own meets.
   * A companion that fails is mended and the transaction sent again: an assignment node left over
   * is replaced, one already gone (or an entry already gone) is left out, a missing assignment
   * directory is made, a ready bucket deleted meanwhile is replaced by another.
   * @returns the new status, or null when someone wrote first (or the task is gone): the caller's
   * view is stale and it must not act on it.
   * @throws UnsupportedError on the native transport (no multi); other failures as they come
   */
  async casTask(prev: TaskStatus, change: Partial<TaskRecord>, companions: Companions = {}): Promise<TaskStatus | null> {
    const { version, ...rest } = prev;
    const rec: TaskRecord = { ...rest, ...change, id: prev.id, updatedAt: Date.now() };
    const data = JSON.stringify(rec);
    let { assignment, ready } = companions;
    let replace = false;
    for (let attempt = 0; ; attempt++) {
      const assignOps = assignment ? this.assignmentOps(prev.id, assignment, replace) : [];
      const entry = ready?.kind === 'enqueue' ? await this.readyWriter.entryOp(prev.id, ready.due) : undefined;
      const readyOps: TxnOp[] = entry ? [entry.op] : ready?.kind === 'dequeue' ? [{ op: 'delete', path: this.readyEntry(ready.entry) }] : [];
      try {
        const results = await this.session.multi([{ op: 'set', path: this.task(prev.id), data, version }, ...assignOps, ...readyOps]);
        if (entry) this.readyWriter.written(entry.window, entry.bucket, (results.at(-1) as { path: string }).path);
        return { ...rec, version: (results[0] as { stat: Stat }).stat.version };
      } catch (err) {
        const at = err instanceof ZkError ? err.opIndex : undefined;
        if (isRetryable(err) || (err instanceof BadVersionError && at === 0)) return this.ifWritten(rec, data, err);
        if (err instanceof NoNodeError && at === 0) return null;
        if (at === undefined || at === 0 || attempt >= 3) throw err;
        if (at <= assignOps.length) {
          if (assignment?.kind === 'delete')
            assignment = undefined; // already gone: leave it out
          else if (err instanceof NodeExistsError)
            replace = true; // a leftover: replace it
          else if (err instanceof NoNodeError && assignment) await this.mkdir(this.assignDir(assignment.workerId));
          else throw err;
        } else if (err instanceof NoNodeError && entry) this.readyWriter.gone(entry.window, entry.bucket);
        else if (err instanceof NoNodeError && ready?.kind === 'dequeue')
          ready = undefined; // the entry is gone already
        else throw err;
      }
    }
  }

  private assignmentOps(taskId: string, a: AssignmentChange, replace: boolean): TxnOp[] {
    const path = this.assignment(a.workerId, taskId);
    if (a.kind === 'delete') return [{ op: 'delete', path }];
    const create: TxnOp = { op: 'create', path, data: JSON.stringify({ attempt: a.attempt }) };
    return replace ? [{ op: 'delete', path }, create] : [create];
  }

  /** After an unknown outcome: the status we wrote if the node holds our bytes, else null. */
  private async ifWritten(rec: TaskRecord, data: string, cause: unknown): Promise<TaskStatus | null> {
    if (isRetryable(cause)) await this.session.waitConnected();
    try {
      const now = await this.session.get(this.task(rec.id));
      return now.data.toString('utf8') === data ? { ...rec, version: now.stat.version } : null;
    } catch (err) {
      if (err instanceof NoNodeError) return null;
      throw err;
    }
  }

  /** Every task id: the shards are listed together (pipelined), none holds them all. */
  async taskIds(): Promise<string[]> {
    const shards = await Promise.all(SHARD_NAMES.map((n) => this.children(joinPath(this.tasks, n))));
    return shards.flat();
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
    const reads = await Promise.all(
      ids.map(async (id) => {
        try {
          return await this.session.get(this.worker(id));
        } catch (err) {
          if (err instanceof NoNodeError) return undefined;
          throw err;
        }
      }),
    );
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
