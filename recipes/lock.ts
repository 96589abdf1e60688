/**
 * A distributed mutex, wire-compatible with Curator's InterProcessMutex and kazoo's Lock layout.
 *
 * Layout:
 * ```
 * <path>/                                   container
 *   _c_<uuid>-lock-0000000007               ephemeral-sequential; the lowest sequence holds
 * ```
 * Acquire creates our node and waits for its predecessor to go (see ./contender.ts); release
 * deletes it (guaranteed). Not re-entrant: a second acquire from the same process waits like any
 * other contender (use one lease per critical section).
 * @module
 */
import type { ZkSession } from '../src/session.js';
import { InvalidArgumentError } from '../src/errors.js';
import { checkWaitOptions, type WaitOptions } from '../src/wait.js';
import { Contender, firstN, type ContenderOptions, type ContenderStats, type Grant, type HoldPredicate } from './contender.js';
import { Lease } from './lease.js';
import { checkOptions, checkRecipeArgs, defaultNodeData } from './options.js';

/** Options of {@link Lock}. */
export interface LockOptions {
  /** Data written into our node (shown by the inspector). @default `<hostname>/<pid>` */
  data?: string | Buffer;
}

/**
 * Which node names a lock creates and reads, and which contenders hold: a {@link Lock} uses
 * {@link LOCK_VARIANT}; the read-write lock's two sides are Locks with their own.
 * @internal
 */
export interface LockVariant {
  /** Name marker of our node (`lock-`, `__READ__`, `__WRIT__`): the server appends the sequence. */
  marker: string;
  /** Every marker whose nodes take part in the ordering. */
  markers: readonly string[];
  /** Whether the contender at a given place in the sorted line holds. */
  predicate: HoldPredicate;
  /** Recipe name used in error messages and op names. */
  recipe: string;
}

/** Curator's InterProcessMutex node marker. */
export const LOCK_MARKER = 'lock-';

/** A plain mutex: `lock-` nodes, the lowest sequence holds. @internal */
export const LOCK_VARIANT: LockVariant = { marker: LOCK_MARKER, markers: [LOCK_MARKER], predicate: firstN(1), recipe: 'lock' };

/**
 * A mutual-exclusion lock on `path`.
 *
 * Connection states: as every contender recipe's (see {@link Lease}).
 */
export class Lock {
  /** Wake-up counts across this lock's waits (a release should wake one waiter). */
  readonly stats: ContenderStats = { wakeups: 0 };
  private readonly data: string | Buffer;
  /** What every attempt's contender is (one object for all of them). */
  private readonly contender: ContenderOptions;
  /** Makes the lease of an attempt that holds. */
  private readonly grant: Grant<Lease>;

  /**
   * @param session - the session that owns the lock nodes
   * @param path - the lock's path (absolute, not under /zookeeper)
   * @param options - see {@link LockOptions}
   * @throws InvalidPathError, InvalidArgumentError
   */
  constructor(
    session: ZkSession,
    /** The lock's path. */
    readonly path: string,
    options?: LockOptions,
  ) {
    const { recipe } = this.variant;
    checkRecipeArgs(recipe, session, path);
    checkOptions(recipe, options, ['data']);
    const data = options?.data ?? defaultNodeData();
    if (typeof data !== 'string' && !Buffer.isBuffer(data))
      throw new InvalidArgumentError(`${recipe}: option data must be a string or Buffer`, { op: recipe, path });
    this.data = data;
    this.contender = { session, path, ...this.variant, stats: this.stats };
    this.grant = (held, c) => new Lease(session, held.path, held.fencingToken, () => c.remove());
  }

  /** The node marker and hold rule; the read-write lock's sides override it. @internal */
  protected get variant(): LockVariant {
    return LOCK_VARIANT;
  }

  /**
   * Acquires the lock, waiting as long as needed (or until `timeoutMs` / `signal`, which bound
   * the whole call: the create of our node included).
   * @returns the lease; release it (or `await using`) when done
   * @throws TimeoutError, AbortedError (our node is removed first), SessionExpiredError
   */
  acquire(wait?: WaitOptions): Promise<Lease> {
    // Not an async function: a waiter parks on the contender's promise alone, with no frame of its own.
    try {
      checkWaitOptions(wait, `${this.variant.recipe}.acquire`);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.attempt(wait, false) as Promise<Lease>;
  }

  /** Acquires the lock if it is free now; returns null (leaving no node) if it is held. */
  tryAcquire(): Promise<Lease | null> {
    return this.attempt(undefined, true);
  }

  /**
   * Runs `fn` holding the lock and releases it afterwards, also when `fn` throws. `fn` gets the
   * lease: watch `lease.signal` to stop when the lock may be lost. Waits like {@link Lock.acquire}
   * (bounded by `wait`), then for `fn`, then for the release.
   */
  async withLock<T>(fn: (lease: Lease) => Promise<T> | T, wait?: WaitOptions): Promise<T> {
    const lease = await this.acquire(wait);
    try {
      return await fn(lease);
    } finally {
      await lease.release();
    }
  }

  private attempt(wait: WaitOptions | undefined, once: boolean): Promise<Lease | null> {
    return new Contender(this.contender).enter(this.data, wait, once, this.grant);
  }
}
