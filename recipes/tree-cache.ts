/**
 * A whole subtree mirrored in memory (Curator's `CuratorCache`, kazoo's `TreeCache`), kept current
 * from ONE persistent recursive watch.
 *
 * Layout: none of its own; it reads `<path>` (which may be missing) and every node below it.
 *
 * Algorithm:
 * 1. `start()` adds the recursive watch on `<path>` FIRST, then walks the tree: `get` of each node
 *    (data and stat) and, when its stat says it has children, `getChildren`; a node kept without
 *    data is read with one `getChildren` (its stat and children together). The reads are issued
 *    concurrently, at most {@link TREE_CACHE_MAX_IN_FLIGHT} in flight (the client pipelines them on
 *    one socket). The walk is silent; when it is over, `initialized` fires and `start()` resolves.
 * 2. Every watch event after that drives the view: `created` / `changed` of a node → read it;
 *    `deleted` → drop it (and anything cached below it). A recursive watch reports every node's
 *    creation, deletion and data change below `<path>` (never child-list changes, which the
 *    created/deleted events of the children themselves stand for).
 * 3. After `reconnected` — the same session (the watch is set again, but ZooKeeper replays nothing
 *    for persistent watches) or a new one (the session adds the watch again before `reconnected`) —
 *    the tree is walked again and compared with the view: `created` / `changed` / `deleted` are
 *    emitted for exactly what differs, nothing for what did not change.
 *
 * Why nothing is missed or reported stale:
 * - The watch is in place before the first read is answered (same socket, answered in order), so
 *   every change after a read is reported, and is followed by another read of that node.
 * - Only the LAST read asked for a node may change the view. A change made after that read was
 *   answered is reported by an event that comes after it was asked, and asks for another read; so
 *   the last read's answer is current, or about to be superseded. An earlier read's answer may
 *   not be: the event of a change can be handled here before the answer of an earlier read that
 *   came in the same packet (the event is handled as the packet is parsed, the answer a moment
 *   later), and a delete event drops the pending reads of its node, which would bring it back.
 *   Answers are also never allowed to go back in time: a node's stat with a smaller czxid (an
 *   older incarnation) or, for the same czxid, a smaller mzxid (older data) than the cached one is
 *   ignored. A greater czxid is a new node of the same name: `deleted` then `created`, and what was
 *   cached below the old one goes with it. Answers are handled in the order the reads went out
 *   (the server's order), so a parent's `created` comes before its children's.
 * - A walk adds and updates as it reads; deletions are found at its end: a cached node that no
 *   answer of this walk showed to exist, and that no read is pending for, is gone (removed
 *   deepest first). A node created during the walk is either listed by its parent or reported by
 *   the watch; a node deleted during it is reported by the watch. A walk that a failed read left
 *   incomplete removes nothing; the next `reconnected` walks again.
 *
 * The filter decides for every node, the root included, whether to keep it with its data, keep
 * it without data, or skip it; a skipped node's whole subtree is skipped (never read). The watch
 * still covers the skipped parts on the server (the events are dropped here): skipping saves
 * reads and memory, not notifications.
 *
 * On ZooKeeper servers before 3.9 a session keeps one watch mode per path (ZOOKEEPER-4466): a
 * one-shot watch (a read with `watch`) or a non-recursive persistent watch (a NodeCache, a
 * ChildrenCache) set on `<path>` itself by the same session replaces this recursive one. Use another
 * session for those, or put them on other paths.
 * @module
 */
import { EventEmitter } from 'eventemitter3';
import type { PersistentWatch, WatchEvent, ZkSession } from '../src/session.js';
import { ClosedError, IllegalStateError, InvalidArgumentError, SessionExpiredError, UnsupportedError, isRetryable } from '../src/errors.js';
import { emitSafely } from '../src/listeners.js';
import { parentOf, validatePath } from '../src/paths.js';
import { WaitScope, checkWaitOptions, deferred, type Deferred, type WaitOptions } from '../src/wait.js';
import { checkOptions, checkRecipeArgs } from './options.js';
import { TREE_CACHE_MAX_IN_FLIGHT, TreeReader, type TreeCacheSelection } from './tree-cache-reader.js';
import { TreeView, type TreeNode } from './tree-cache-view.js';

export { TREE_CACHE_MAX_IN_FLIGHT, type TreeCacheSelection, type TreeNode };

/**
 * Decides what the cache keeps of the node at `path` (a full path, the cache's root included):
 * `'keep'` (data and stat), `'keepWithoutData'` (stat only; `data` is undefined) or `'skip'` (the
 * node and its whole subtree are not cached, nor read). Called often (for every node of every walk
 * and on events): keep it cheap and pure, the same answer for the same path. A filter that throws or
 * answers anything else emits `error` and the node is kept.
 */
export type TreeCacheFilter = (path: string) => TreeCacheSelection;

/** Options of {@link TreeCache}. */
export interface TreeCacheOptions {
  /** What to keep of each node. @default every node with its data */
  filter?: TreeCacheFilter;
}

/** Typed events of a {@link TreeCache} (created / changed / deleted only after `initialized`). */
export interface TreeCacheEvents {
  /** A node appeared (or was found by a re-sync). */
  created: [path: string, node: TreeNode];
  /** A node's data changed (a greater mzxid; with `keepWithoutData` the data stays undefined). */
  changed: [path: string, node: TreeNode, previous: TreeNode];
  /** A node went away (children before their parent). */
  deleted: [path: string, previous: TreeNode];
  /** The initial load is complete: the view equals the server's tree. */
  initialized: [];
  /**
   * After a `reconnected`: the tree was read again and every difference emitted; the view equals
   * the server's tree again (between `reconnected` and this event it may be stale).
   */
  resynced: [];
  /** A read failed with something other than a connection problem, or the filter misbehaved. */
  error: [err: Error];
}

const KNOWN_OPTIONS = ['filter'] as const;

/**
 * Caches the subtree at `path`. `start()` loads it; `get`, `children`, `size` and iteration read
 * the view; `created` / `changed` / `deleted` report what changes on the server.
 *
 * Connection states: on `suspended` and `lost` the view keeps its last content (it may be stale);
 * on `reconnected` (same or new session) the tree is read again and exactly the differences are
 * emitted. A read that fails for another reason (e.g. `NoAuthError` on a node) fails `start()` during
 * the initial load, and emits `error` after it.
 *
 * On the native transport (`transport: 'native'`), which has no persistent watches, `start()`
 * fails with `UnsupportedError`.
 */
export class TreeCache extends EventEmitter<TreeCacheEvents> implements Iterable<[string, TreeNode]> {
  /** The root of the cached subtree. */
  readonly path: string;
  private readonly filter: TreeCacheFilter | undefined;
  private readonly view: TreeView;
  private readonly reader: TreeReader;
  private phase: 'latent' | 'started' | 'closed' = 'latent';
  private initialized = false;
  private watch: PersistentWatch | undefined;
  private installing: Promise<void> | undefined;
  private loaded: Deferred<void> | undefined;
  private closing: Promise<void> | undefined;
  private readonly onReconnected = (): void => this.sync();

  /**
   * @param session - the session to use
   * @param path - the root of the subtree (need not exist); `/` is the whole tree (`/zookeeper`
   * included, unless the filter skips it)
   * @param options - `filter`
   * @throws InvalidPathError for a bad or reserved path; InvalidArgumentError naming a bad option
   */
  constructor(
    private readonly session: ZkSession,
    path: string,
    options: TreeCacheOptions = {},
  ) {
    super();
    checkRecipeArgs('tree-cache', session, path, { allowRoot: true });
    checkOptions('tree-cache', options, KNOWN_OPTIONS);
    if (options.filter !== undefined && typeof options.filter !== 'function') {
      throw new InvalidArgumentError(`tree-cache ${path}: option filter must be a function (path) => 'keep' | 'keepWithoutData' | 'skip'`, {
        op: 'tree-cache',
        path,
      });
    }
    this.path = path;
    this.filter = options.filter;
    this.view = new TreeView(path, {
      created: (n) => {
        if (this.initialized) emitSafely(this, 'created', n.path, n);
      },
      changed: (n, prev) => {
        if (this.initialized) emitSafely(this, 'changed', n.path, n, prev);
      },
      deleted: (prev) => {
        if (this.initialized) emitSafely(this, 'deleted', prev.path, prev);
      },
    });
    this.reader = new TreeReader(session, path, this.view, {
      select: (p) => this.select(p),
      failed: (err) => this.fail(err),
      roundEnded: (complete) => this.roundEnded(complete),
    });
  }

  /** Number of cached nodes. */
  get size(): number {
    return this.view.size;
  }

  /**
   * The cached node at `path` (data and stat), or undefined when it is not cached.
   * @throws InvalidPathError for a malformed path
   */
  get(path: string): TreeNode | undefined {
    validatePath(path, 'tree-cache.get');
    return this.view.get(path);
  }

  /**
   * The names of the cached children of `path` (unordered), or undefined when `path` itself is not
   * cached.
   * @throws InvalidPathError for a malformed path
   */
  children(path: string): string[] | undefined {
    validatePath(path, 'tree-cache.children');
    return this.view.children(path);
  }

  /** Every cached node as `[path, node]` (a live view: do not change the cache while iterating it). */
  entries(): IterableIterator<[string, TreeNode]> {
    return this.view.entries();
  }

  /** Same as {@link TreeCache.entries}: `for (const [path, node] of cache)`. */
  [Symbol.iterator](): IterableIterator<[string, TreeNode]> {
    return this.view.entries();
  }

  /**
   * Adds the watch, loads the tree and waits until it is loaded (`initialized`).
   * @param wait - `signal`/`timeoutMs` bound the wait (the cache goes on loading)
   * @throws UnsupportedError on the native transport; IllegalStateError on a second `start()`;
   * ClosedError when closed first; the error of a read that failed during the load (the cache is
   * then closed)
   */
  async start(wait?: WaitOptions): Promise<void> {
    const op = 'tree-cache.start';
    checkWaitOptions(wait, op);
    if (this.phase !== 'latent')
      throw new IllegalStateError(`${op} ${this.path}: already ${this.phase === 'closed' ? 'closed' : 'started'}`, { op, path: this.path });
    if (this.session.transport === 'native') {
      throw new UnsupportedError(
        `${op} ${this.path}: a tree cache needs a persistent recursive watch (addWatch), which the native transport does not support; use the default transport`,
        { op, path: this.path },
      );
    }
    this.phase = 'started';
    this.session.on('reconnected', this.onReconnected);
    const loaded = deferred<void>();
    loaded.promise.catch(() => undefined);
    this.loaded = loaded;
    const scope = new WaitScope(wait, op, this.path);
    try {
      this.sync();
      await scope.race(loaded.promise);
    } catch (err) {
      await this.closing; // a failed load closed the cache: its watch is removed before start() fails
      throw err;
    } finally {
      scope.dispose();
    }
  }

  /**
   * Removes the watch and stops the cache: no more reads or events; a pending `start()` fails with
   * `ClosedError`. Idempotent. A watch still being added (the server unreachable) is removed as
   * soon as it is.
   */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.phase = 'closed';
    this.session.off('reconnected', this.onReconnected);
    this.reader.stop();
    this.loaded?.reject(new ClosedError(`tree-cache ${this.path}: closed`, { op: 'tree-cache.close', path: this.path }));
    const w = this.watch;
    this.watch = undefined;
    this.closing = w ? w.remove().catch(() => undefined) : Promise.resolve(); // not connected: the watch dies with the session
    return this.closing;
  }

  /** `await using cache = ...` closes it at the end of the scope. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Walks the tree again; first adds the watch if it is not there yet. */
  private sync(): void {
    if (this.phase !== 'started') return;
    if (this.watch) {
      this.reader.walk();
      return;
    }
    this.installing ??= this.installWatch().finally(() => {
      this.installing = undefined;
    });
  }

  private async installWatch(): Promise<void> {
    let watch: PersistentWatch;
    try {
      watch = await this.session.addWatch(this.path, this.onWatch, { recursive: true });
    } catch (err) {
      if (this.phase !== 'started') return;
      if (isRetryable(err) || err instanceof SessionExpiredError) return; // the next `reconnected` tries again
      this.fail(err as Error);
      return;
    }
    if (this.phase !== 'started') {
      await watch.remove().catch(() => undefined);
      return;
    }
    this.watch = watch;
    this.reader.walk();
  }

  private readonly onWatch = (ev: WatchEvent): void => {
    if (this.phase !== 'started') return;
    if (ev.type === 'deleted') {
      this.reader.forget(ev.path);
      this.view.remove(ev.path);
    } else if (ev.type === 'created' || ev.type === 'changed') {
      const sel = this.selectWithAncestors(ev.path);
      if (sel !== 'skip') this.reader.refresh(ev.path, sel === 'keep');
    }
  };

  private roundEnded(complete: boolean): void {
    if (!complete || this.phase !== 'started') return;
    if (this.initialized) {
      emitSafely(this, 'resynced');
      return;
    }
    this.initialized = true;
    this.loaded?.resolve();
    emitSafely(this, 'initialized');
  }

  /** A read failed: during the initial load `start()` fails and the cache closes; after, `error`. */
  private fail(err: Error): void {
    if (this.phase !== 'started') return;
    if (!this.initialized) {
      this.loaded?.reject(err);
      void this.close();
      return;
    }
    this.reportError(err);
  }

  private reportError(err: Error): void {
    if (this.listenerCount('error') > 0) emitSafely(this, 'error', err);
  }

  /** The filter's answer for `path`; a throwing or wrong filter keeps the node and says so. */
  private select(path: string): TreeCacheSelection {
    if (!this.filter) return 'keep';
    let sel: unknown;
    try {
      sel = this.filter(path);
    } catch (err) {
      this.reportError(
        new InvalidArgumentError(`tree-cache ${this.path}: the filter threw for ${path}: ${(err as Error)?.message ?? String(err)}`, {
          op: 'tree-cache.filter',
          path,
          cause: err,
        }),
      );
      return 'keep';
    }
    if (sel === 'keep' || sel === 'keepWithoutData' || sel === 'skip') return sel;
    this.reportError(
      new InvalidArgumentError(`tree-cache ${this.path}: the filter returned ${JSON.stringify(sel)} for ${path}, not 'keep', 'keepWithoutData' or 'skip'`, {
        op: 'tree-cache.filter',
        path,
      }),
    );
    return 'keep';
  }

  /** The filter's answer for an event's node: `skip` when any node from the root down to it is skipped. */
  private selectWithAncestors(path: string): TreeCacheSelection {
    if (path === this.path) return this.select(path);
    if (!path.startsWith(this.path === '/' ? '/' : `${this.path}/`)) return 'skip';
    if (this.view.has(parentOf(path))) return this.select(path); // its ancestors were kept
    for (let at = this.path; at !== path; ) {
      if (this.select(at) === 'skip') return 'skip';
      const next = path.indexOf('/', at.length + 1);
      at = next < 0 ? path : path.slice(0, next);
    }
    return this.select(path);
  }
}
