/**
 * A cluster task scheduler: any instance submits tasks, one elected dispatcher assigns them to
 * live workers by load, workers run them under an AbortSignal, failures are retried with
 * exponential backoff, and recurring schedules fire one task per period.
 *
 * Layout:
 * ```
 * <path>/
 *   tasks/<shard>/<taskId>      persistent; JSON TaskRecord: state, type, payload, attempt,
 *                               worker + workerSession, timestamps, result/error. Every change is
 *                               a compare-and-set on the node's data version. `shard` = the first
 *                               byte of sha256(taskId) in hex (`00`…`ff`): no listing holds all tasks.
 *   ready/<window>-<seq>/<due>-<taskId>-<seq>
 *                               persistent; one entry per waiting task (`pending`, or `failed`
 *                               with a retry), in buckets by due time (./ready.ts)
 *   workers/<workerId>          ephemeral; JSON { capacity, draining, types }
 *   assign/<workerId>/<taskId>  persistent; JSON { attempt }: "this worker should run this task"
 *   schedules/<scheduleId>      persistent; JSON { everyMs | cron, startAt, type, payload, lastFired }
 *   leader/                     LeaderLatch (Curator layout) electing the one dispatcher
 * ```
 * Task ids: `t-<time>-<random>` from `submit`; `k-<sha256(key)>` with a `key` (so a repeated
 * submit hits NODE_EXISTS and returns the same id); `<scheduleId>@<period>` for schedule firings.
 *
 * The task node is the truth; assignment nodes and ready entries are its indexes: the dispatcher
 * finds held tasks through their assignment nodes and waiting ones through their entries, so no
 * scan lists or reads every task (a backlog of a million pending tasks costs a scan what ten do). A task counts as
 * held by worker W only while its state is `assigned`/`running` with `worker = W` and
 * `workerSession` = the ephemeral owner of W's registration. Every task write is one
 * compare-and-set on the task node's version, in one transaction with the create or delete of
 * its assignment node and its ready entry where the step has them (`Store.casTask`): a step is
 * applied whole or not at all, the node exists exactly while the task is `assigned`/`running` on
 * its worker, and the entry exactly while it waits.
 *
 * 1. Submit: create `tasks/<shard>/<id>` (state `pending`) + its ready entry, one transaction.
 * 2. Assign (dispatcher): CAS to `assigned` (worker, workerSession, attempt+1) + create `assign/W/<id>`
 *    + delete the ready entry.
 * 3. Start (worker W): on seeing `assign/W/<id>`, read the task; only if it is `assigned` to W's
 *    current session, CAS it to `running`. A stale view (another writer came first) fails the CAS.
 * 4. Complete (worker W): CAS from its own `running` version to `succeeded` / `failed` (with
 *    `retryAt`, + a ready entry due then) / `dead` + delete `assign/W/<id>`. If the task was taken back meanwhile the CAS
 *    fails and the outcome is dropped (the newer state wins; the take-back removed the node).
 * 5. Take back (dispatcher): a task `assigned`/`running` whose worker is not live with the same
 *    session is CAS'ed to `pending` (the attempt counts; `dead` if it was the last) + delete its node
 *    + a ready entry.
 * 6. Hand back (worker): CAS to `pending` + delete the node + a ready entry. A run interrupted by a suspended or
 *    lost session counts as an attempt (`dead` if it was the last); a task given back by `stop()`
 *    does not.
 * 7. Fire a schedule period k: create `tasks/<shard>/<id>@<k>` + its entry (NODE_EXISTS = already fired), then CAS
 *    `lastFired`. Interrupted between: the next dispatcher creates again (NODE_EXISTS) and records.
 *
 * A write whose reply was lost with the connection is read back: it counts as done when the node
 * holds its exact bytes. The dispatcher still deletes assignment nodes and ready entries whose
 * task is not theirs (they only arise from nodes written by hand or before these transactions).
 *
 * Never two live holders: a task changes holder only through a CAS of its node, a worker starts
 * only from an `assigned` state naming its own live session, and a worker's runs are aborted
 * (signal) as soon as its connection is suspended, before its session can expire and the task be
 * taken back. Never lost: tasks are persistent and only ever move between states, and a task that
 * can run is always either held (its node) or waiting (its entry), so a new dispatcher, reading
 * both indexes afresh, finds every one.
 * A safety net behind that: the dispatcher sweeps the task shards slowly (./sweep.ts) and gives a
 * waiting task found without an entry a new one, so even an entry lost some other way is mended.
 *
 * Recurring schedules fire every period from the last recorded one up to now (catch-up): after a
 * dispatcher failover the missed periods are fired late, never skipped.
 *
 * Limits: handlers must honour their signal (a handler that keeps running after its session was
 * lost can overlap the task's next run); a task whose type no live worker handles stays `pending`;
 * `list` and `purge` read every task (256 shard listings, one read per task).
 * @module
 */
import { EventEmitter } from 'eventemitter3';
import type { ZkSession } from '../../src/session.js';
import { BadVersionError, ClosedError, IllegalStateError, InvalidArgumentError, NoNodeError, UnsupportedError } from '../../src/errors.js';
import { WaitScope, checkWaitOptions, deferred } from '../../src/wait.js';
import { checkOptions, checkRecipeArgs } from '../options.js';
import { Dispatcher } from './dispatcher.js';
import { parseCron } from './cron.js';
import { defineSchedule } from './schedules.js';
import { Store, newTaskId, taskIdForKey } from './store.js';
import {
  TERMINAL_STATES,
  type ScheduleOptions,
  type SchedulerEvents,
  type SchedulerRole,
  type SubmitOptions,
  type TaskHandler,
  type TaskSchedulerOptions,
  type TaskState,
  type TaskStatus,
  type WaitForOptions,
} from './types.js';
import { Worker } from './worker.js';
import { checkName, posInt, toTime } from './args.js';

export type * from './types.js';
export { TERMINAL_STATES } from './types.js';

const OPTIONS = ['workerId', 'capacity', 'handlers', 'roles', 'maxAttempts', 'backoffMs', 'maxBackoffMs', 'drainTimeoutMs', 'rescanMs'];
const STATES: readonly TaskState[] = ['pending', 'assigned', 'running', 'succeeded', 'failed', 'dead'];

/**
 * A scheduler instance on `path`: a worker, a dispatcher candidate, or both (the default).
 *
 * Connection states:
 * - `suspended`: a worker aborts the signals of its running tasks (they are handed back when the
 *   connection returns); the dispatcher steps down (LeaderLatch) until it is confirmed again.
 * - `lost`: the same, and the worker's registration vanishes with the session, so the dispatcher
 *   takes its tasks back; once the session is replaced the worker registers again.
 * - `stop()` (or `await using`): drains, then leaves. `submit`/`status`/`list`/`waitFor` work on
 *   any instance, started or not, while its session is open.
 */
export class TaskScheduler extends EventEmitter<SchedulerEvents> {
  private readonly store: Store;
  private readonly roles: ReadonlySet<SchedulerRole>;
  private readonly o: Required<Omit<TaskSchedulerOptions, 'roles' | 'workerId'>> & { workerId: string };
  private state: 'latent' | 'started' | 'stopped' = 'latent';
  private worker: Worker | undefined;
  private dispatcher: Dispatcher | undefined;
  private dirs: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;
  private readonly emitter = <K extends keyof SchedulerEvents>(event: K, ...args: SchedulerEvents[K]) => {
    (this.emit as (e: K, ...a: SchedulerEvents[K]) => boolean)(event, ...args);
  };

  /**
   * @param session - the session every node is written with
   * @param path - the scheduler's root (absolute, not under /zookeeper)
   * @param options - see {@link TaskSchedulerOptions}
   * @throws InvalidPathError, InvalidArgumentError naming the option (nothing is written)
   */
  constructor(
    private readonly session: ZkSession,
    readonly path: string,
    options: TaskSchedulerOptions = {},
  ) {
    super();
    checkRecipeArgs('scheduler', session, path);
    checkOptions('scheduler', options, OPTIONS);
    const roles = options.roles ?? ['worker', 'dispatcher'];
    if (!Array.isArray(roles) || roles.some((r) => r !== 'worker' && r !== 'dispatcher')) {
      throw new InvalidArgumentError(`scheduler: option roles must be an array of 'worker' | 'dispatcher' (path ${path})`, { op: 'scheduler', path });
    }
    this.roles = new Set(roles);
    const handlers = options.handlers ?? {};
    if (typeof handlers !== 'object' || handlers === null || Object.values(handlers).some((h) => typeof h !== 'function')) {
      throw new InvalidArgumentError(`scheduler: option handlers must map task types to functions (path ${path})`, { op: 'scheduler', path });
    }
    const isWorker = this.roles.has('worker');
    const workerId = options.workerId ?? '';
    if (isWorker || workerId !== '') checkName(workerId, 'option workerId', path);
    this.o = {
      workerId,
      capacity: posInt(options.capacity ?? 1, 'capacity', path),
      handlers: handlers as Record<string, TaskHandler>,
      maxAttempts: posInt(options.maxAttempts ?? 3, 'maxAttempts', path),
      backoffMs: posInt(options.backoffMs ?? 1000, 'backoffMs', path, 0),
      maxBackoffMs: posInt(options.maxBackoffMs ?? 60_000, 'maxBackoffMs', path, 0),
      drainTimeoutMs: posInt(options.drainTimeoutMs ?? 10_000, 'drainTimeoutMs', path, 0),
      rescanMs: posInt(options.rescanMs ?? 2000, 'rescanMs', path, 10),
    };
    this.store = new Store(session, path);
  }

  /** True while this instance is the dispatcher. */
  get isLeader(): boolean {
    return this.dispatcher?.isLeader ?? false;
  }

  /**
   * Creates the layout, registers the worker (waiting, bounded, for a registration left by an
   * earlier session of the same worker id) and joins the dispatcher election.
   * @throws IllegalStateError on a second call; UnsupportedError on the native transport (task
   * writes are transactions)
   */
  async start(): Promise<void> {
    if (this.state !== 'latent') throw new IllegalStateError(`scheduler: ${this.path} already ${this.state}`, { op: 'scheduler.start', path: this.path });
    if (this.session.transport === 'native') {
      throw new UnsupportedError(
        `scheduler ${this.path}: workers and dispatchers write each task step as a transaction (multi), which the native transport lacks`,
        { op: 'scheduler.start', path: this.path },
      );
    }
    this.state = 'started';
    await this.ensureDirs();
    if (this.roles.has('worker')) {
      this.worker = new Worker(this.store, { ...this.o }, this.emitter);
      await this.worker.start();
    }
    if (this.roles.has('dispatcher')) {
      this.dispatcher = new Dispatcher(
        this.store,
        { backoffMs: this.o.backoffMs, rescanMs: this.o.rescanMs, id: this.o.workerId || `pid-${process.pid}` },
        this.emitter,
      );
      this.dispatcher.start();
    }
  }

  /**
   * Drains and leaves: steps down as dispatcher, lets running tasks finish for `drainTimeoutMs`,
   * aborts and hands back the rest (and tasks assigned but not started), then deletes the worker
   * registration. Idempotent.
   */
  stop(): Promise<void> {
    if (this.stopping) return this.stopping;
    this.state = 'stopped';
    this.stopping = (async () => {
      await this.dispatcher?.stop();
      await this.worker?.stop(this.o.drainTimeoutMs);
    })();
    return this.stopping;
  }

  /** `await using` stops the scheduler at the end of the scope. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  private ensureDirs(): Promise<void> {
    this.dirs ??= this.store.ensureDirs().catch((err) => {
      this.dirs = undefined;
      throw err;
    });
    return this.dirs;
  }

  /**
   * Stores a task durably and returns its id. With `key`, the id is derived from the key and a
   * second submit with the same key returns the same id without storing anything. Waits for the
   * task node to be written (not for the task to run: see `waitFor`).
   * @throws InvalidArgumentError; session errors (after the session's retries)
   */
  async submit(type: string, payload?: unknown, options: SubmitOptions = {}): Promise<string> {
    if (typeof type !== 'string' || type.length === 0)
      throw new InvalidArgumentError(`scheduler: task type must be a non-empty string (path ${this.path})`, { op: 'scheduler.submit', path: this.path });
    checkOptions('scheduler', options, ['runAt', 'delayMs', 'maxAttempts', 'key']);
    const now = Date.now();
    let runAt = options.runAt === undefined ? now : toTime(options.runAt, 'runAt', this.path);
    if (options.delayMs !== undefined) runAt = Math.max(runAt, now + posInt(options.delayMs, 'delayMs', this.path, 0));
    const maxAttempts = posInt(options.maxAttempts ?? this.o.maxAttempts, 'maxAttempts', this.path);
    if (options.key !== undefined && (typeof options.key !== 'string' || options.key.length === 0)) {
      throw new InvalidArgumentError(`scheduler: key must be a non-empty string (path ${this.path})`, { op: 'scheduler.submit', path: this.path });
    }
    if (this.session.transport === 'native') {
      throw new UnsupportedError(
        `scheduler ${this.path}: a submit writes the task and its ready entry as one transaction (multi), which the native transport lacks`,
        {
          op: 'scheduler.submit',
          path: this.path,
        },
      );
    }
    const data = JSON.stringify(payload ?? null);
    const id = options.key === undefined ? newTaskId() : taskIdForKey(options.key);
    await this.ensureDirs();
    await this.store.createTask({
      id,
      type,
      payload: JSON.parse(data),
      state: 'pending',
      attempt: 0,
      maxAttempts,
      backoffMs: this.o.backoffMs,
      runAt,
      createdAt: now,
      updatedAt: now,
      key: options.key,
    });
    return id;
  }

  /**
   * Defines (or updates) a recurring schedule: every `everyMs` from `startAt`, or at each time the
   * `cron` expression (UTC) matches, the dispatcher creates task `<id>@<period>`. Every period
   * fires exactly once, also across dispatcher failover; periods missed while no dispatcher ran
   * fire on its return (none is skipped). Redefining keeps the periods already fired. Waits for
   * the schedule node to be written.
   */
  async schedule(id: string, options: ScheduleOptions, type: string, payload?: unknown): Promise<void> {
    checkName(id, 'schedule id', this.path);
    checkOptions('scheduler', options, ['everyMs', 'cron', 'startAt', 'maxAttempts']);
    if (typeof type !== 'string' || type.length === 0)
      throw new InvalidArgumentError(`scheduler: task type must be a non-empty string (path ${this.path})`, { op: 'scheduler.schedule', path: this.path });
    if ((options.everyMs === undefined) === (options.cron === undefined)) {
      throw new InvalidArgumentError(`scheduler: a schedule needs exactly one of everyMs and cron (path ${this.path})`, {
        op: 'scheduler.schedule',
        path: this.path,
      });
    }
    const everyMs = options.cron === undefined ? posInt(options.everyMs, 'everyMs', this.path, 10) : 0;
    const cron = options.cron === undefined ? undefined : parseCron(options.cron).source;
    const startAt = options.startAt === undefined ? Date.now() : toTime(options.startAt, 'startAt', this.path);
    const maxAttempts = posInt(options.maxAttempts ?? this.o.maxAttempts, 'maxAttempts', this.path);
    await this.ensureDirs();
    await defineSchedule(this.store, id, {
      everyMs,
      ...(cron ? { cron } : {}),
      startAt,
      type,
      payload: JSON.parse(JSON.stringify(payload ?? null)),
      maxAttempts,
    });
  }

  /** Removes a schedule (tasks already fired stay); waits for the delete. Idempotent. */
  async unschedule(id: string): Promise<void> {
    checkName(id, 'schedule id', this.path);
    await this.store.remove(this.store.schedule(id));
  }

  /**
   * Deletes terminal tasks (`succeeded`, `dead`) that finished more than `olderThanMs` ago;
   * tasks are otherwise kept forever. A task's idempotency key is free again once it is purged.
   * Each delete is version-checked, so a task that changed meanwhile is kept.
   * @returns the ids deleted
   */
  async purge(options: { olderThanMs?: number } = {}): Promise<string[]> {
    checkOptions('scheduler', options, ['olderThanMs']);
    const before = Date.now() - posInt(options.olderThanMs ?? 0, 'olderThanMs', this.path, 0);
    const out: string[] = [];
    for (const t of await this.list()) {
      if (!TERMINAL_STATES.has(t.state) || (t.finishedAt ?? t.updatedAt) > before) continue;
      try {
        await this.session.delete(this.store.task(t.id), { version: t.version });
        out.push(t.id);
      } catch (err) {
        if (!(err instanceof NoNodeError) && !(err instanceof BadVersionError)) throw err;
      }
    }
    return out;
  }

  /** A task's status, or null if there is no such task. */
  status(id: string): Promise<TaskStatus | null> {
    checkName(id.replace('@', ''), 'task id', this.path);
    return this.store.readTask(id);
  }

  /** Every task (optionally only those in `state`), oldest first. Waits for one read per task. */
  async list(
    filter: {
      /** Only tasks in this state. */
      state?: TaskState;
    } = {},
  ): Promise<TaskStatus[]> {
    if (filter.state !== undefined && !STATES.includes(filter.state))
      throw new InvalidArgumentError(`scheduler: unknown state ${String(filter.state)} (path ${this.path})`, { op: 'scheduler.list', path: this.path });
    const out: TaskStatus[] = [];
    for (const id of await this.store.taskIds()) {
      const t = await this.store.readTask(id);
      if (t && (filter.state === undefined || t.state === filter.state)) out.push(t);
    }
    return out.sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
  }

  /**
   * Waits until task `id` is terminal (`succeeded` or `dead`) and returns its status; watches the
   * task node. A `suspended` connection does not end the wait (reads retry); a closed session does.
   * @throws NoNodeError if there is no such task; TimeoutError; AbortedError; ClosedError
   */
  async waitFor(id: string, wait?: WaitForOptions): Promise<TaskStatus> {
    checkWaitOptions(wait, 'scheduler.waitFor');
    checkName(id.replace('@', ''), 'task id', this.path);
    const scope = new WaitScope(wait, 'scheduler.waitFor', this.store.task(id));
    try {
      for (;;) {
        scope.throwIfAborted();
        if (this.session.state === 'closed')
          throw new ClosedError(`scheduler: session closed while waiting for ${this.store.task(id)}`, { op: 'scheduler.waitFor', path: this.store.task(id) });
        const changed = deferred<void>();
        const t = await scope.race(this.store.readTask(id, () => changed.resolve()));
        if (!t) throw new NoNodeError(`scheduler: no task ${this.store.task(id)}`, { op: 'scheduler.waitFor', path: this.store.task(id) });
        if (TERMINAL_STATES.has(t.state)) return t;
        // A watch can be lost with a session: re-read at least every few seconds.
        await scope.race(Promise.race([changed.promise, new Promise<void>((r) => setTimeout(r, 3000).unref())]));
      }
    } finally {
      scope.dispose();
    }
  }
}
