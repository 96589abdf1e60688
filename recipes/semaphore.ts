/**
 * A counting semaphore: at most `maxLeases` leases held at once across every client of the path.
 * Layout and protocol of Curator's InterProcessSemaphoreV2, so Java and Node clients share one.
 *
 * Layout:
 * ```
 * <path>/                                   container
 *   locks/                                  container: a Lock (see ./lock.ts), held while waiting
 *     _c_<uuid>-lock-0000000003             ephemeral-sequential
 *   leases/                                 container
 *     _c_<uuid>-lease-0000000011            ephemeral-sequential, one per lease held (or wanted)
 * ```
 * Acquire: take the mutex under `locks/`; create our node under `leases/`; list `leases/` with a
 * child watch; while it has more than `maxLeases` children, wait for the watch and list again;
 * then release the mutex. Only the mutex holder adds lease nodes and it holds only once the count
 * is at most `maxLeases`, so at most `maxLeases` holders exist; a lease release wakes only the
 * mutex holder, and the mutex wakes one waiter at a time (no herd).
 *
 * Unlike Curator (which takes the mutex once per lease), `acquire({ count })` keeps the mutex
 * for all `count` leases, so two clients asking for several leases cannot each hold part and
 * wait for each other forever.
 * @module
 */
import type { ZkSession } from '../src/session.js';
import { AbortedError, ClosedError, InvalidArgumentError, NoNodeError, SessionExpiredError } from '../src/errors.js';
import { joinPath, nodeName } from '../src/paths.js';
import { WaitScope, checkWaitOptions, deferred, type WaitOptions } from '../src/wait.js';
import { createWithin, untilEvent } from './waits.js';
import { Lease } from './lease.js';
import { Lock } from './lock.js';
import { checkOptions, checkRecipeArgs, defaultNodeData } from './options.js';

/** Curator's InterProcessSemaphoreV2 lease node marker (`leases/_c_<uuid>-lease-<seq>`). */
export const LEASE_MARKER = 'lease-';
/** The directory of lease nodes. */
export const LEASES_DIR = 'leases';
/** The directory of the mutex taken while acquiring. */
export const LOCKS_DIR = 'locks';

/** Options of {@link Semaphore}. */
export interface SemaphoreOptions {
  /** Leases that may be held at once, across all clients of the path (an integer ≥ 1). */
  maxLeases: number;
  /** Data written into lease and mutex nodes. @default `<hostname>/<pid>` */
  data?: string | Buffer;
}

/** Options of {@link Semaphore.acquire}. */
export interface SemaphoreAcquireOptions extends WaitOptions {
  /** Leases to acquire together (1 … maxLeases). @default 1 */
  count?: number;
}

/** Counters of a semaphore, for herd checks. */
export interface SemaphoreStats {
  /** Times a lease-count watch woke the waiting mutex holder. */
  wakeups: number;
}

/**
 * A distributed counting semaphore on `path`, compatible with Curator's InterProcessSemaphoreV2.
 *
 * Connection states: as every contender recipe's (see {@link Lease}); a wait failed by `lost`
 * releases the leases that call had already taken.
 */
export class Semaphore {
  /** Leases that may be held at once. */
  readonly maxLeases: number;
  /** Wake-up counts of lease waits. */
  readonly stats: SemaphoreStats = { wakeups: 0 };
  private readonly data: string | Buffer;
  private readonly leasesPath: string;
  private readonly mutex: Lock;

  /**
   * @param session - the session that owns the nodes
   * @param path - the semaphore's path (absolute, not the root, not under /zookeeper)
   * @param options - see {@link SemaphoreOptions}
   * @throws InvalidPathError, InvalidArgumentError
   */
  constructor(
    private readonly session: ZkSession,
    readonly path: string,
    options: SemaphoreOptions,
  ) {
    checkRecipeArgs('semaphore', session, path);
    if (options === undefined) throw new InvalidArgumentError('semaphore: options { maxLeases } are required', { op: 'semaphore', path });
    checkOptions('semaphore', options, ['maxLeases', 'data']);
    const { maxLeases } = options;
    if (typeof maxLeases !== 'number' || !Number.isInteger(maxLeases) || maxLeases < 1) {
      throw new InvalidArgumentError(`semaphore: option maxLeases must be an integer >= 1, got ${String(maxLeases)}`, { op: 'semaphore', path });
    }
    const data = options.data ?? defaultNodeData();
    if (typeof data !== 'string' && !Buffer.isBuffer(data))
      throw new InvalidArgumentError('semaphore: option data must be a string or Buffer', { op: 'semaphore', path });
    this.maxLeases = maxLeases;
    this.data = data;
    this.leasesPath = joinPath(path, LEASES_DIR);
    this.mutex = new Lock(session, joinPath(path, LOCKS_DIR), { data });
  }

  /**
   * Acquires `count` leases, waiting as long as needed (or until `timeoutMs` / `signal`).
   * @returns the leases; release each (or `await using`) when done
   * @throws TimeoutError, AbortedError, SessionExpiredError (nothing is left held or behind)
   */
  async acquire(options?: SemaphoreAcquireOptions): Promise<Lease[]> {
    const op = 'semaphore.acquire';
    const count = this.checkCount(options, op, ['count', 'signal', 'timeoutMs']);
    checkWaitOptions(options, op);
    if (options?.signal?.aborted) throw new AbortedError(`${op} ${this.path}: aborted`, { op, path: this.path });
    const scope = new WaitScope(options, op, this.path);
    try {
      return (await this.acquireN(count, scope))!;
    } finally {
      scope.dispose();
    }
  }

  /**
   * Acquires `count` leases if they are free now; returns null (leaving no node) if they are not,
   * or if another client is busy acquiring (its mutex is held), as Curator's `acquire(0 ms)`.
   * Never waits for another client: only for the server's replies.
   */
  async tryAcquire(options?: {
    /** How many leases to take at once. @default 1 */
    count?: number;
  }): Promise<Lease[] | null> {
    const count = this.checkCount(options, 'semaphore.tryAcquire', ['count']);
    return this.acquireN(count, undefined);
  }

  private checkCount(options: { count?: number } | undefined, op: string, known: string[]): number {
    checkOptions(op, options, known);
    const count = options?.count ?? 1;
    if (typeof count !== 'number' || !Number.isInteger(count) || count < 1 || count > this.maxLeases) {
      throw new InvalidArgumentError(`${op} ${this.path}: count must be an integer in 1..${this.maxLeases} (maxLeases), got ${String(count)}`, {
        op,
        path: this.path,
      });
    }
    return count;
  }

  /** Takes the mutex, then `count` leases one after another; `scope` undefined: don't wait. */
  private async acquireN(count: number, scope: WaitScope | undefined): Promise<Lease[] | null> {
    let mutex: Lease | null;
    try {
      mutex = scope ? await this.mutex.acquire({ signal: scope.signal }) : await this.mutex.tryAcquire();
    } catch (err) {
      throw scope?.signal.aborted ? scope.signal.reason : err;
    }
    if (!mutex) return null;
    const leases: Lease[] = [];
    let failure: unknown;
    try {
      for (let i = 0; i < count; i++) {
        const lease = await this.acquireOne(scope);
        if (!lease) break;
        leases.push(lease);
      }
    } catch (err) {
      failure = scope?.signal.aborted ? scope.signal.reason : err;
    }
    try {
      await mutex.release();
    } catch (err) {
      failure ??= err;
    }
    if (failure !== undefined || leases.length < count) {
      await Promise.allSettled(leases.map((l) => l.release()));
      if (failure !== undefined) throw failure;
      return null;
    }
    return leases;
  }

  /** Creates one lease node and waits until it is among `maxLeases` (the mutex is ours). */
  private async acquireOne(scope: WaitScope | undefined): Promise<Lease | null> {
    const node = await createWithin(this.session, scope, joinPath(this.leasesPath, LEASE_MARKER), this.data, {
      mode: 'ephemeral_sequential',
      protected: true,
      createParents: true,
    });
    const remove = async () => {
      try {
        await this.session.delete(node, { guaranteed: true });
      } catch (err) {
        if (!(err instanceof NoNodeError) && !(err instanceof ClosedError)) throw err;
      }
    };
    let token: bigint | null;
    try {
      token = await this.waitForSlot(node, scope);
    } catch (err) {
      await remove().catch(() => undefined); // the wait's failure is the one to report
      throw err;
    }
    if (token === null) {
      await remove();
      return null;
    }
    return new Lease(this.session, node, token, remove);
  }

  /** Lists `leases/` until at most `maxLeases` remain; returns the listing's pzxid (or null: busy, no wait). */
  private async waitForSlot(node: string, scope: WaitScope | undefined): Promise<bigint | null> {
    const name = nodeName(node);
    const sessionAtStart = this.session.sessionId;
    for (;;) {
      scope?.throwIfAborted();
      const changed = deferred<void>();
      const listing = this.session.getChildrenWithStat(this.leasesPath, scope ? { watch: () => changed.resolve() } : {});
      const { children, stat } = scope ? await scope.race(listing) : await listing;
      if (!children.includes(name)) {
        const op = 'semaphore.acquire';
        throw this.session.sessionId !== sessionAtStart
          ? new SessionExpiredError(`semaphore: session was lost while acquiring ${this.path}; our lease node is gone`, { op, path: node })
          : new NoNodeError(`semaphore: our lease node ${node} disappeared while acquiring`, { op, path: node });
      }
      if (children.length <= this.maxLeases) return BigInt(stat.pzxid);
      if (!scope) return null;
      await untilEvent(this.session, scope, { recipe: 'semaphore', op: 'semaphore.acquire', path: this.path }, changed.promise);
      this.stats.wakeups++;
    }
  }
}
