/**
 * A barrier: one process sets it, others wait until it is removed (Curator's `DistributedBarrier`).
 *
 * Layout (Curator's, so Java and Node processes share one barrier):
 * ```
 * <path>    persistent node; its presence means "barrier set". Parents are containers.
 * ```
 * Waiting is an exists-watch loop: read the node with a watch; if it is there, wait for the watch
 * (or a reconnection) and read again. Nothing but a fresh read lets a waiter through.
 * @module
 */
import type { ZkSession } from '../src/session.js';
import { NoNodeError, NodeExistsError, SessionExpiredError, isRetryable } from '../src/errors.js';
import { WaitScope, checkWaitOptions, deferred, type Deferred, type WaitOptions } from '../src/wait.js';
import { untilEvent } from './waits.js';
import { checkRecipeArgs } from './options.js';

/**
 * A barrier at `path`. `set()` raises it, `remove()` lowers it, `wait()` blocks while it is raised.
 * The handle holds no state of its own: any number of processes may set, remove and wait.
 *
 * Connection states: on `suspended` a wait keeps waiting (the barrier node is persistent, nothing is lost); on
 * `reconnected` (same or new session, also after `lost`) it reads the node again. A wait ends with
 * `ClosedError` when the session is closed.
 */
export class Barrier {
  /** The barrier node's path. */
  readonly path: string;

  /**
   * @param session - the session to use
   * @param path - the barrier node
   * @throws InvalidPathError for a bad or reserved path (nothing is written)
   */
  constructor(
    private readonly session: ZkSession,
    path: string,
  ) {
    checkRecipeArgs('barrier', session, path);
    this.path = path;
  }

  /**
   * Raises the barrier: creates the node (and container parents). Setting a raised barrier is a
   * no-op. Waits for the server to create it.
   */
  async set(): Promise<void> {
    try {
      await this.session.create(this.path, '', { createParents: true });
    } catch (err) {
      if (!(err instanceof NodeExistsError)) throw err;
    }
  }

  /** Lowers the barrier, releasing every waiter. Removing a lowered barrier is a no-op. */
  async remove(): Promise<void> {
    try {
      await this.session.delete(this.path);
    } catch (err) {
      if (!(err instanceof NoNodeError)) throw err;
    }
  }

  /** Tells whether the barrier is raised right now (one read; waits for the reply). */
  async isSet(): Promise<boolean> {
    return (await this.session.exists(this.path)) !== null;
  }

  /**
   * Waits while the barrier is raised; resolves at once when it is not.
   * @param wait - `signal` cancels (AbortedError), `timeoutMs` gives up (TimeoutError)
   * @throws ClosedError when the session is closed during the wait
   */
  async wait(wait?: WaitOptions): Promise<void> {
    checkWaitOptions(wait, 'barrier.wait');
    const scope = new WaitScope(wait, 'barrier.wait', this.path);
    const ctx = { recipe: 'barrier', op: 'barrier.wait', path: this.path };
    let wake: Deferred<void> = deferred<void>();
    const onReconnected = () => wake.resolve();
    this.session.on('reconnected', onReconnected);
    try {
      for (;;) {
        scope.throwIfAborted();
        const w = deferred<void>();
        w.promise.catch(() => undefined); // a rejection nobody awaits must not go unhandled
        wake = w;
        try {
          const stat = await scope.race(this.session.exists(this.path, { watch: () => w.resolve() }));
          if (!stat) return;
        } catch (err) {
          // Connection trouble or an expired session: the next `reconnected` wakes us to read again.
          if (!(err instanceof SessionExpiredError) && !isRetryable(err)) throw err;
        }
        await untilEvent(this.session, scope, ctx, w.promise, 'ignore'); // a new session reads again
      }
    } finally {
      this.session.off('reconnected', onReconnected);
      scope.dispose();
    }
  }
}
