/**
 * The lifecycle and refresh loop shared by NodeCache and ChildrenCache: start (wait for the first
 * load), one refresh at a time until nothing is dirty, resume on the next watch or `reconnected`,
 * close; and the cache's persistent watch on its path, added before the first read (so no change
 * after a read is missed) and removed on close. Each cache supplies what "dirty" means, what one
 * refresh step does, and what the watch does.
 * @internal
 * @module
 */
import type { PersistentWatch, WatchEvent, ZkSession } from '../src/session.js';
import { ClosedError, IllegalStateError, SessionExpiredError, UnsupportedError, isRetryable } from '../src/errors.js';
import { WaitScope, checkWaitOptions, deferred, type Deferred, type WaitOptions } from '../src/wait.js';
import { Rerun } from './rerun.js';

/** What a cache plugs into the loop. */
export interface RefreshHooks {
  /** Whether a refresh step is due. */
  isDirty(): boolean;
  /** One refresh step; may leave the cache dirty again. */
  step(): Promise<void>;
  /** Called on every `reconnected` (mark what must be read again, then `kick()`). */
  onReconnected(): void;
  /** A refresh failed with something other than a connection problem. */
  report(err: Error): void;
  /** Hears the persistent (non-recursive) watch on the cache's path. */
  onWatch(event: WatchEvent): void;
}

/** @internal */
export class RefreshLoop {
  /** Lifecycle: latent → started → closed. */
  phase: 'latent' | 'started' | 'closed' = 'latent';
  private readonly driver = new Rerun(
    () => this.pump(),
    () => undefined,
  ); // pump reports its own failures
  private loaded: Deferred<void> | undefined;
  private readonly onReconnected = () => this.hooks.onReconnected();
  private watch: PersistentWatch | undefined;
  private readonly onWatch = (event: WatchEvent) => this.hooks.onWatch(event);

  constructor(
    private readonly recipe: string,
    private readonly path: string,
    private readonly session: ZkSession,
    private readonly hooks: RefreshHooks,
  ) {}

  /** Starts the loop and waits for the first complete load. */
  async start(wait: WaitOptions | undefined): Promise<void> {
    const op = `${this.recipe}.start`;
    checkWaitOptions(wait, op);
    if (this.session.transport === 'native') {
      throw new UnsupportedError(
        `${op} ${this.path}: a cache needs a persistent watch (addWatch), which the native transport does not support; use the default transport`,
        {
          op,
          path: this.path,
        },
      );
    }
    if (this.phase !== 'latent')
      throw new IllegalStateError(`${op} ${this.path}: already ${this.phase === 'closed' ? 'closed' : 'started'}`, { op, path: this.path });
    this.phase = 'started';
    this.session.on('reconnected', this.onReconnected);
    const scope = new WaitScope(wait, op, this.path);
    this.loaded = deferred<void>();
    this.loaded.promise.catch(() => undefined);
    try {
      this.kick();
      await scope.race(this.loaded.promise);
    } finally {
      scope.dispose();
    }
  }

  /** Stops the loop; waits for a refresh in progress to end. Idempotent. */
  async close(): Promise<void> {
    if (this.phase === 'closed') return;
    this.phase = 'closed';
    this.session.off('reconnected', this.onReconnected);
    this.loaded?.reject(new ClosedError(`${this.recipe} ${this.path}: closed`, { op: `${this.recipe}.close`, path: this.path }));
    await this.driver.stop();
    const w = this.watch;
    this.watch = undefined;
    await w?.remove().catch(() => undefined); // not connected: the watch dies with the session
  }

  /** Runs the loop, or once more after the run in progress (a mark made during it is not missed). */
  kick(): void {
    if (this.phase === 'started') this.driver.poke();
  }

  /** Works until nothing is dirty, or a read failed (a watch or the next `reconnected` resumes). */
  private async pump(): Promise<void> {
    while (this.phase === 'started' && this.hooks.isDirty()) {
      try {
        await this.ensureWatch();
        await this.hooks.step();
        if (!this.hooks.isDirty()) this.loaded?.resolve();
      } catch (err) {
        if (this.phase !== 'started' || err instanceof ClosedError) return;
        if (isRetryable(err) || err instanceof SessionExpiredError) return; // the next `reconnected` resumes
        this.loaded?.reject(err);
        this.hooks.report(err as Error);
        return;
      }
    }
  }

  /** Adds the persistent watch once (again after a failed attempt); removes it if closed meanwhile. */
  private async ensureWatch(): Promise<void> {
    if (this.watch) return;
    const w = await this.session.addWatch(this.path, this.onWatch);
    if (this.phase === 'started') this.watch = w;
    else await w.remove().catch(() => undefined);
  }
}
