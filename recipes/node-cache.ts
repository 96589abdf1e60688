/**
 * A local copy of one node's data and stat, kept current from one persistent watch (Curator's
 * `NodeCache`).
 *
 * Layout: none of its own; it reads `<path>`, which may or may not exist.
 *
 * Algorithm: a non-recursive persistent watch on `<path>` is added before the first read; it stays
 * and fires for the node's creation, deletion and data change (and for changes of its child list,
 * which the cache ignores). Events and reconnections only mark the cache dirty; a single refresh
 * loop re-reads with a plain `get` (a missing node reads as `null`), so a burst of changes is
 * coalesced into few reads.
 *
 * Why nothing is missed: the watch is in place before the first read is answered (one socket,
 * answered in order), and it never has to be set again, so there is no moment between an event and
 * a re-registration in which a change could go unreported: every change after a read is reported
 * and followed by another read, and the last read is the server's current state. After
 * `reconnected` the node is read again: on the same session the watch was set again but ZooKeeper
 * replays nothing for persistent watches; on a new session the session added it again.
 *
 * On the native transport (no persistent watches) `start()` fails with `UnsupportedError`. On
 * ZooKeeper servers before 3.9 a session keeps one watch mode per path (ZOOKEEPER-4466): a one-shot
 * watch, or a recursive persistent watch (a TreeCache), set on the same path by the same session
 * replaces this one.
 * @module
 */
import { EventEmitter } from 'eventemitter3';
import type { Stat, WatchEvent, ZkSession } from '../src/session.js';
import { NoNodeError } from '../src/errors.js';
import { emitSafely } from '../src/listeners.js';
import { checkWaitOptions, type WaitOptions } from '../src/wait.js';
import { RefreshLoop } from './refresh-loop.js';
import { checkRecipeArgs } from './options.js';

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
 * watch event or reconnection.
 *
 * On the native transport (`transport: 'native'`), which has no persistent watches, `start()`
 * fails with `UnsupportedError`.
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
  constructor(
    private readonly session: ZkSession,
    path: string,
  ) {
    super();
    checkRecipeArgs('node-cache', session, path);
    this.path = path;
    this.loop = new RefreshLoop('node-cache', path, session, {
      isDirty: () => this.dirty,
      step: async () => {
        this.dirty = false;
        await this.refresh();
      },
      onReconnected: () => this.kick(),
      onWatch: (ev) => this.onWatch(ev),
      report: (err) => {
        if (this.listenerCount('error') > 0) emitSafely(this, 'error', err);
      },
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
   * Adds the watch, starts the cache and waits for the initial load.
   * @param wait - `signal`/`timeoutMs` bound the initial load (the cache keeps running)
   * @throws UnsupportedError on the native transport; IllegalStateError on a second `start()`;
   * the first read's error when it fails
   */
  async start(wait?: WaitOptions): Promise<void> {
    checkWaitOptions(wait, 'node-cache.start');
    this.dirty = true;
    await this.loop.start(wait);
  }

  /**
   * Stops the cache and removes its watch: no more reads or events; waits for a refresh in
   * progress to end. Idempotent.
   */
  async close(): Promise<void> {
    await this.loop.close();
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

  private readonly onWatch = (ev: WatchEvent): void => {
    if (ev.type !== 'child') this.kick();
  };

  private async refresh(): Promise<void> {
    let next: CachedNode | null;
    try {
      next = await this.session.get(this.path);
    } catch (err) {
      if (!(err instanceof NoNodeError)) throw err;
      next = null; // the watch reports its creation
    }
    if (this.loop.phase !== 'started') return;
    const prev = this.node;
    if (prev === null && next === null) return;
    if (prev && next && prev.stat.czxid === next.stat.czxid && prev.stat.mzxid === next.stat.mzxid) return;
    this.node = next;
    emitSafely(this, 'change', next, prev);
  }
}
