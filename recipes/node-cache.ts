/**
 * A local copy of one node's data and stat, kept current from one-shot watches (Curator's
 * `NodeCache`; the binding has no persistent watches).
 *
 * Layout: none of its own; it reads `<path>`, which may or may not exist.
 *
 * Every read arms the next watch in the same request (`get` with a watch; `exists` with a watch
 * when the node is missing), so no change can fall between a read and its watch. Watches and
 * reconnections only mark the cache dirty; a single refresh loop re-reads, so a burst of changes
 * is coalesced into few reads and the last read is always the server's current state. After
 * `reconnected` (same session: a watch asked for while disconnected was never armed; new session:
 * every watch is gone) the node is read again, re-arming its watch.
 * @module
 */
import { EventEmitter } from 'eventemitter3';
import type { Stat, ZkSession } from '../src/session.js';
import { ClosedError, IllegalStateError, SessionExpiredError, InvalidPathError, NoNodeError, isRetryable } from '../src/errors.js';
import { rejectReserved, validatePath } from '../src/paths.js';
import { WaitScope, checkWaitOptions, deferred, type Deferred, type WaitOptions } from '../src/wait.js';
import { checkSession } from './options.js';

/** A node's data and stat as last read from the server. */
export interface CachedNode {
  /** The node's data. */
  data: Buffer;
  /** The node's stat. */
  stat: Stat;
}

/** Typed events of a {@link NodeCache}. */
export interface NodeCacheEvents {
  /** The node was created, changed or deleted (`null` when it does not exist). */
  change: [node: CachedNode | null, previous: CachedNode | null];
  /** A refresh failed with something other than a connection problem. */
  error: [err: Error];
}

/**
 * Caches the node at `path`. `start()` loads it; `current` is the latest value; `change` fires
 * whenever the server's node differs from the cached one.
 *
 * Connection states: on `suspended` and `lost` the cache keeps its last value (it may be stale) and refreshes on
 * `reconnected`. A refresh that fails for another reason emits `error` and is retried on the next
 * watch or reconnection.
 */
export class NodeCache extends EventEmitter<NodeCacheEvents> {
  /** The cached node's path. */
  readonly path: string;
  private node: CachedNode | null = null;
  private phase: 'latent' | 'started' | 'closed' = 'latent';
  private dirty = false;
  private running: Promise<void> | undefined;
  private loaded: Deferred<void> | undefined;
  private readonly onReconnected = () => this.kick();

  /**
   * @param session - the session to use
   * @param path - the node to cache
   * @throws InvalidPathError for a bad or reserved path
   */
  constructor(private readonly session: ZkSession, path: string) {
    super();
    checkSession('node-cache', session);
    validatePath(path, 'node-cache');
    rejectReserved(path, 'node-cache');
    if (path === '/') throw new InvalidPathError('node-cache: the root cannot be cached', { op: 'node-cache', path });
    this.path = path;
  }

  /** The node as last read: data and stat, or `null` when it does not exist (or before `start`). */
  get current(): CachedNode | null {
    return this.node;
  }

  /** The cached data, or undefined when the node does not exist. */
  get data(): Buffer | undefined {
    return this.node?.data;
  }

  /**
   * Starts the cache and waits for the initial load.
   * @param wait - `signal`/`timeoutMs` bound the initial load (the cache keeps running)
   * @throws IllegalStateError on a second `start()`; the first read's error when it fails
   */
  async start(wait?: WaitOptions): Promise<void> {
    checkWaitOptions(wait, 'node-cache.start');
    if (this.phase !== 'latent') throw new IllegalStateError(`node-cache.start ${this.path}: already ${this.phase === 'closed' ? 'closed' : 'started'}`, { op: 'node-cache.start', path: this.path });
    this.phase = 'started';
    this.session.on('reconnected', this.onReconnected);
    const scope = new WaitScope(wait, 'node-cache.start', this.path);
    this.loaded = deferred<void>();
    this.loaded.promise.catch(() => undefined);
    try {
      this.kick();
      await scope.race(this.loaded.promise);
    } finally {
      scope.dispose();
    }
  }

  /**
   * Stops the cache: no more reads or events; waits for a refresh in progress to end. Idempotent.
   * Pending watches fire into nothing.
   */
  async close(): Promise<void> {
    if (this.phase === 'closed') return;
    this.phase = 'closed';
    this.session.off('reconnected', this.onReconnected);
    this.loaded?.reject(new ClosedError(`node-cache ${this.path}: closed`, { op: 'node-cache.close', path: this.path }));
    await this.running?.catch(() => undefined);
  }

  /** `await using cache = ...` closes it at the end of the scope. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Marks the cache dirty and runs the refresh loop unless it is already running. */
  private kick(): void {
    if (this.phase !== 'started') return;
    this.dirty = true;
    if (this.running) return;
    this.running = this.pump().then((ok) => {
      this.running = undefined;
      if (ok && this.dirty) this.kick(); // marked after the loop's last check
    });
  }

  /** Works until clean (true) or a read failed (false: a watch or reconnection resumes). */
  private async pump(): Promise<boolean> {
    while (this.dirty && this.phase === 'started') {
      this.dirty = false;
      try {
        await this.refresh();
        if (!this.dirty) this.loaded?.resolve();
      } catch (err) {
        if (this.phase !== 'started' || err instanceof ClosedError) return false;
        if (isRetryable(err) || err instanceof SessionExpiredError) return false; // the next `reconnected` kicks us again
        this.loaded?.reject(err);
        if (this.listenerCount('error') > 0) this.emit('error', err as Error);
        return false;
      }
    }
    return true;
  }

  private async refresh(): Promise<void> {
    const watch = () => this.kick();
    let next: CachedNode | null;
    try {
      next = await this.session.get(this.path, { watch });
    } catch (err) {
      if (!(err instanceof NoNodeError)) throw err;
      // A missing node: watch for its creation; if it appeared meanwhile, read it again.
      if (await this.session.exists(this.path, { watch })) { this.dirty = true; return; }
      next = null;
    }
    if (this.phase !== 'started') return;
    const prev = this.node;
    if (prev === null && next === null) return;
    if (prev && next && prev.stat.czxid === next.stat.czxid && prev.stat.mzxid === next.stat.mzxid) return;
    this.node = next;
    this.emit('change', next, prev);
  }
}
