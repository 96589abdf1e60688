/**
 * Loads the recipes the workloads measure, at run time: a recipe file that is missing (or does
 * not load) fails only the workloads that need it, with an error line naming what is missing,
 * never the whole run. The shapes below are the parts of each recipe's public API the bench uses.
 * @module
 */
import type { EventEmitter } from 'eventemitter3';
import type { ZkSession } from '../src/session.js';
import type { WaitOptions } from '../src/wait.js';

/** A recipe the bench could not load. */
export class MissingRecipeError extends Error {
  override readonly name = 'MissingRecipeError';
}

/**
 * Imports `recipes/<file>` and returns its export `name`.
 * @throws MissingRecipeError naming the file and export
 */
export async function loadRecipe<T>(file: string, name: string): Promise<T> {
  const spec = new URL(`../recipes/${file}`, import.meta.url).href;
  let mod: Record<string, unknown>;
  try {
    mod = (await import(spec)) as Record<string, unknown>;
  } catch (err) {
    const e = err as { code?: string; message?: string };
    const why = e.code === 'ERR_MODULE_NOT_FOUND' ? 'file is missing' : `does not load: ${e.message ?? String(err)}`;
    throw new MissingRecipeError(`recipe missing: ${name} from recipes/${file.replace(/\.js$/, '.ts')} (${why})`);
  }
  const v = mod[name];
  if (typeof v !== 'function') throw new MissingRecipeError(`recipe missing: recipes/${file.replace(/\.js$/, '.ts')} has no export ${name}`);
  return v as T;
}

// ---- the API shapes the bench relies on -------------------------------------------------------

/** A held lock. */
export interface LeaseLike {
  release(): Promise<void>;
}

/** `recipes/lock.ts` Lock. */
export interface LockLike {
  readonly stats: { wakeups: number };
  acquire(wait?: WaitOptions): Promise<LeaseLike>;
}
export type LockCtor = new (session: ZkSession, path: string) => LockLike;

/** `recipes/leader-latch.ts` LeaderLatch. */
export interface LeaderLatchLike extends EventEmitter<{ isLeader: unknown[]; notLeader: unknown[] }> {
  start(): Promise<void> | void;
  hasLeadership(): boolean;
  close(): Promise<void>;
}
export type LeaderLatchCtor = new (session: ZkSession, path: string, options: { id: string }) => LeaderLatchLike;

/** `recipes/queue.ts` DistributedQueue. */
export interface QueueLike<T> {
  put(item: T): Promise<unknown>;
  putMany(items: readonly T[]): Promise<unknown>;
  take(wait?: WaitOptions): Promise<T>;
  consume(handler: (item: T) => unknown, options?: { concurrency?: number; signal?: AbortSignal }): Promise<unknown> | unknown;
  close?(): Promise<void>;
}
export type QueueCtor = new <T>(session: ZkSession, path: string, options?: { codec?: unknown }) => QueueLike<T>;

/** `recipes/double-barrier.ts` DoubleBarrier. */
export interface DoubleBarrierLike {
  enter(wait?: WaitOptions): Promise<void>;
  leave(wait?: WaitOptions): Promise<void>;
}
export type DoubleBarrierCtor = new (session: ZkSession, path: string, options: { members: number }) => DoubleBarrierLike;

/** What a scheduler handler gets besides the payload. */
export interface TaskContextLike {
  taskId: string;
  attempt: number;
  signal: AbortSignal;
}

/** `recipes/scheduler/` TaskScheduler. */
export interface TaskSchedulerLike
  extends EventEmitter<{
    started: [taskId: string, attempt: number];
    succeeded: [taskId: string, result: unknown];
    error: [error: Error];
    [event: string]: unknown[];
  }> {
  start(): Promise<void>;
  stop(): Promise<void>;
  submit(type: string, payload: unknown, options?: { maxAttempts?: number }): Promise<string>;
  waitFor(id: string, wait?: WaitOptions): Promise<{ state: string }>;
}
export type TaskSchedulerCtor = new (
  session: ZkSession,
  path: string,
  options: {
    workerId?: string;
    capacity?: number;
    roles?: readonly ('worker' | 'dispatcher')[];
    // biome-ignore lint/suspicious/noExplicitAny: handlers of any payload type are passed in
    handlers?: Record<string, (payload: any, ctx: TaskContextLike) => unknown>;
    maxAttempts?: number;
    backoffMs?: number;
    drainTimeoutMs?: number;
  },
) => TaskSchedulerLike;
