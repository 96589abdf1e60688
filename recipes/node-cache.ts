/**
 * A local copy of one node's data and stat, kept current from one-shot watches (Curator's
 * `NodeCache`).
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
import { InvalidPathError, NoNodeError } from '../src/errors.js';
import { rejectReserved, validatePath } from '../src/paths.js';
import type { WaitOptions } from '../src/wait.js';
import { RefreshLoop } from './refresh-loop.js';
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
  private dirty = false;
  private readonly loop: RefreshLoop;

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
    this.loop = new RefreshLoop('node-cache', path, session, {
      isDirty: () => this.dirty,
      step: async () => { this.dirty = false; await this.refresh(); },
      onReconnected: () => this.kick(),
      report: (err) => { if (this.listenerCount('error') > 0) this.emit('error', err); },
    });
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
    this.dirty = true;
    await this.loop.start(wait);
  }

  /**
   * Stops the cache: no more reads or events; waits for a refresh in progress to end. Idempotent.
   * Pending watches fire into nothing.
   */
  close(): Promise<void> {
    return this.loop.close();
  }

  /** `await using cache = ...` closes it at the end of the scope. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Marks the cache dirty and runs the refresh loop unless it is already running. */
  private kick(): void {
    this.dirty = true;
    this.loop.kick();
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
    if (this.loop.phase !== 'started') return;
    const prev = this.node;
    if (prev === null && next === null) return;
    if (prev && next && prev.stat.czxid === next.stat.czxid && prev.stat.mzxid === next.stat.mzxid) return;
    this.node = next;
    this.emit('change', next, prev);
  }
}
