/**
 * The scheduler's data types: task records as stored in `<path>/tasks/<id>`, worker records in
 * `<path>/workers/<workerId>`, schedule records, options and events.
 * @module
 */
import type { WaitOptions } from '../../src/wait.js';

/** The life of a task. `succeeded` and `dead` are terminal. */
export type TaskState = 'pending' | 'assigned' | 'running' | 'succeeded' | 'failed' | 'dead';

/** States after which a task never changes again. */
export const TERMINAL_STATES: ReadonlySet<TaskState> = new Set(['succeeded', 'dead']);

/** A task as stored (JSON) in `<path>/tasks/<id>`, plus the node's data version. */
export interface TaskStatus {
  /** The task id (the node name). */
  id: string;
  /** The handler that runs it. */
  type: string;
  /** The handler's argument (any JSON value). */
  payload: unknown;
  /** Where the task is in its life. */
  state: TaskState;
  /** How many times it was handed to a worker (1 on its first run). */
  attempt: number;
  /** After this many failed attempts the task is `dead`. */
  maxAttempts: number;
  /** First backoff after a failure; doubles per attempt. */
  backoffMs: number;
  /** Not run before this time (epoch ms). */
  runAt: number;
  /** When `failed`: not retried before this time (epoch ms). */
  retryAt?: number | undefined;
  /** Worker of the current (or last) attempt. */
  worker?: string | undefined;
  /** Session (ephemeral owner, hex) of that worker's registration; fences a worker that restarted. */
  workerSession?: string | undefined;
  /** The idempotency key it was submitted with. */
  key?: string | undefined;
  /** The schedule that fired it, and the period index; undefined for a submitted task. */
  schedule?:
    | {
        /** The schedule's id (`<path>/schedules/<id>`). */
        id: string;
        /** The period index `k` it fired for (due at `startAt + k·everyMs`). */
        period: number;
      }
    | undefined;
  /** When the task was created (epoch ms). */
  createdAt: number;
  /** When the task node was last written (epoch ms). */
  updatedAt: number;
  /** When the dispatcher last assigned it to a worker (epoch ms). */
  assignedAt?: number | undefined;
  /** When a worker last started running it (epoch ms). */
  startedAt?: number | undefined;
  /** When its last attempt ended: succeeded, failed or dead (epoch ms). */
  finishedAt?: number | undefined;
  /** The handler's return value (JSON) when `succeeded`. */
  result?: unknown;
  /** The last failure's message (`failed`, `dead`). */
  error?: string | undefined;
  /** Data version of the task node when read: the compare-and-set token. */
  version: number;
}

/** A task record without its version, as written. */
export type TaskRecord = Omit<TaskStatus, 'version'>;

/** A worker's registration, stored (JSON) in its ephemeral node `<path>/workers/<workerId>`. */
export interface WorkerRecord {
  /** Most tasks it runs at once (the dispatcher counts a worker's load from the tasks assigned to it). */
  capacity: number;
  /** Stopping: take no new tasks. */
  draining: boolean;
  /** Task types it has handlers for. */
  types: string[];
}

/** A recurring schedule, stored (JSON) in `<path>/schedules/<id>`. */
export interface ScheduleRecord {
  /** Period length; 0 for a cron schedule. */
  everyMs: number;
  /** Cron expression (UTC) of a cron schedule; its period index is the fire time in epoch seconds. */
  cron?: string;
  /** Start of period 0 (epoch ms); for cron, no fire time before it. */
  startAt: number;
  /** Task type and payload of every firing. */
  type: string;
  payload: unknown;
  /** maxAttempts of every fired task. */
  maxAttempts: number;
  /** Highest period index fired so far; -1 before the first. */
  lastFired: number;
}

/** What a handler gets besides the payload. */
export interface TaskContext {
  /** The task id. */
  taskId: string;
  /** 1 on the first run. */
  attempt: number;
  /** Aborts when the worker's session is suspended or lost, or on `stop()` past the drain time. */
  signal: AbortSignal;
}

/**
 * Runs one task; the resolved value (JSON) becomes the task's `result`, a throw a failure. The
 * handler declares its payload's type (`(p: { ms: number }, ctx) => ...`): the payload is the JSON
 * that `submit` was given for this task type.
 */
// biome-ignore lint/suspicious/noExplicitAny: a handler declares its own payload type; with `unknown`, strictFunctionTypes would reject every `(p: { ms: number }) => ...` handler
export type TaskHandler = (payload: any, ctx: TaskContext) => unknown;

/** Roles of an instance. */
export type SchedulerRole = 'worker' | 'dispatcher';

/** Options of {@link TaskScheduler}. */
export interface TaskSchedulerOptions {
  /** This instance's worker id (a node name: letters, digits, `_.-`). Required for the worker role. */
  workerId?: string;
  /** Most tasks this worker runs at once. @default 1 */
  capacity?: number;
  /** Handlers by task type. A worker runs only the types it has. @default {} */
  handlers?: Record<string, TaskHandler>;
  /** What this instance does; `[]` makes a client that only submits and reads. @default ['worker', 'dispatcher'] */
  roles?: readonly SchedulerRole[];
  /** Default `maxAttempts` of submitted tasks. @default 3 */
  maxAttempts?: number;
  /** Default first retry delay; doubles per attempt. @default 1000 */
  backoffMs?: number;
  /** Largest retry delay. @default 60000 */
  maxBackoffMs?: number;
  /** How long `stop()` lets running tasks finish before aborting and handing them back. @default 10000 */
  drainTimeoutMs?: number;
  /** The dispatcher re-scans this often even without a watch firing (safety net). @default 2000 */
  rescanMs?: number;
}

/** Options of {@link TaskScheduler.submit}. */
export interface SubmitOptions {
  /** Do not run before this time (epoch ms or Date). */
  runAt?: number | Date;
  /** Do not run before now + delayMs. */
  delayMs?: number;
  /** Attempts before the task is `dead`. @default the scheduler's `maxAttempts` */
  maxAttempts?: number;
  /** Idempotency key: the same key always gives the same task id, and the task is stored once. */
  key?: string;
}

/** Options of {@link TaskScheduler.schedule}. */
export interface ScheduleOptions {
  /** Period length (ms ≥ 10). Give this or `cron`. */
  everyMs?: number;
  /**
   * Cron expression, in UTC: 5 fields (`minute hour day-of-month month day-of-week`) or 6 with
   * seconds first, or a macro such as `@daily` (see `recipes/scheduler/cron.ts`). Give this or
   * `everyMs`. Task ids are `<id>@<fire time in epoch seconds>`.
   */
  cron?: string;
  /** Start of period 0 (for `cron`: no fire time before it). @default now */
  startAt?: number | Date;
  /** maxAttempts of fired tasks. @default the scheduler's `maxAttempts` */
  maxAttempts?: number;
}

/** Options of {@link TaskScheduler.waitFor}. */
export type WaitForOptions = WaitOptions;

/** Typed events of a {@link TaskScheduler}; each reports what this instance saw or did. */
export interface SchedulerEvents {
  /** This instance became the dispatcher. */
  isLeader: [];
  /** This instance stopped being the dispatcher (connection suspended or lost, or stop()). */
  notLeader: [];
  /** The dispatcher assigned a task to a worker. */
  assigned: [taskId: string, workerId: string, attempt: number];
  /** The dispatcher took a task back from a worker that vanished. */
  reclaimed: [taskId: string, workerId: string];
  /** The dispatcher fired a schedule period. */
  fired: [scheduleId: string, period: number, taskId: string];
  /** This worker started a task. */
  started: [taskId: string, attempt: number];
  /** This worker finished a task. */
  succeeded: [taskId: string, result: unknown];
  /** A handler threw; the task is retried at `retryAt`. */
  failed: [taskId: string, error: Error, retryAt: number];
  /** A handler threw on the last attempt. */
  dead: [taskId: string, error: Error];
  /** This worker gave a task back (stop, or an interrupted run). */
  handedBack: [taskId: string];
  /** A background step failed (it is retried on the next scan). */
  error: [error: Error];
}
