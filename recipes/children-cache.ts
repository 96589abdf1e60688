/**
 * A local copy of a node's children (and optionally their data) (Curator's `PathChildrenCache`),
 * its child list kept current from one persistent watch.
 *
 * Layout: none of its own; it reads `<path>` (which may be missing) and `<path>/<child>`.
 *
 * Which watches, and why:
 * - The child list: a NON-recursive persistent watch on `<path>`, added before the first listing.
 *   It fires for every change of the list (and for the creation and deletion of `<path>` itself;
 *   its data changes are ignored) and never has to be set again, so no list change can fall
 *   between an event and a re-registration.
 * - The children's data (`withData`): a one-shot data watch on each child, armed by the very `get`
 *   that reads the child (one request: the server sets the watch as it answers, so there is no
 *   gap between the read and the watch either), with one watch callback shared by all children.
 *   A recursive persistent watch on `<path>` would report the children's data changes too, but
 *   also every change of the whole subtree below them (a group member's own subtree, a service's
 *   nodes): notifications nobody asked for, at the server's and the client's cost. A persistent
 *   watch per child would cost an `addWatch` for every child that appears and a `removeWatch` for
 *   every child that goes, where the one-shot watch rides on the read the cache does anyway; and
 *   on ZooKeeper before 3.9 (one watch mode per path and session, ZOOKEEPER-4466) a one-shot
 *   watch that another recipe of the same session sets on a child (GroupMember waits on its own
 *   node that way) would silently turn it into a one-shot one.
 *
 * Events and reconnections only mark work (list again, re-read these children); one refresh loop
 * does the work, pipelining the child reads, so a burst of changes is coalesced and the last reads
 * are the server's current state. After `reconnected` (same session: the list watch is set again
 * but ZooKeeper replays nothing for persistent watches; new session: the session added it again,
 * and the one-shot watches are gone) everything is read again, re-arming every data watch.
 *
 * On the native transport (no persistent watches) `start()` fails with `UnsupportedError`.
 * @module
 */
import { EventEmitter } from 'eventemitter3';
import type { Stat, WatchEvent, ZkSession } from '../src/session.js';
import { InvalidArgumentError, NoNodeError } from '../src/errors.js';
import { emitSafely } from '../src/listeners.js';
import { joinPath, nodeName } from '../src/paths.js';
import { checkWaitOptions, type WaitOptions } from '../src/wait.js';
import { RefreshLoop } from './refresh-loop.js';
import { checkRecipeArgs } from './options.js';

/** One cached child. */
export interface ChildData {
  /** The child's name. */
  name: string;
  /** The child's full path. */
  path: string;
  /** Its data (only with `withData`). */
  data?: Buffer;
  /** Its stat (only with `withData`). */
  stat?: Stat;
}

/** Options of {@link ChildrenCache}. */
export interface ChildrenCacheOptions {
  /** Also cache each child's data and stat, and report data changes. @default false */
  withData?: boolean;
}

/** Typed events of a {@link ChildrenCache}. */
export interface ChildrenCacheEvents {
  /** A child appeared (with its data when `withData`). */
  childAdded: [child: ChildData];
  /** A child's data changed (only with `withData`). */
  childUpdated: [child: ChildData, previous: ChildData];
  /** A child went away. */
  childRemoved: [child: ChildData];
  /** After a refresh that changed anything: the whole current view. */
  change: [children: ReadonlyMap<string, ChildData>];
  /** A refresh failed with something other than a connection problem. */
  error: [err: Error];
}

/**
 * Caches the children of `path`. `start()` loads them; `children` is the current view.
 *
 * Connection states: on `suspended` and `lost` the cache keeps its last view (it may be stale) and re-reads
 * everything on `reconnected`. A refresh that fails for another reason emits `error` and is
 * retried on the next watch event or reconnection.
 *
 * On the native transport (`transport: 'native'`), which has no persistent watches, `start()`
 * fails with `UnsupportedError`.
 */
export class ChildrenCache extends EventEmitter<ChildrenCacheEvents> {
  /** The parent whose children are cached. */
  readonly path: string;
  private readonly withData: boolean;
  private readonly view = new Map<string, ChildData>();
  private listDirty = false;
  private readonly dataDirty = new Set<string>();
  private readonly loop: RefreshLoop;

  /**
   * @param session - the session to use
   * @param path - the parent node
   * @param options - `withData`
   * @throws InvalidPathError, InvalidArgumentError naming the bad option
   */
  constructor(
    private readonly session: ZkSession,
    path: string,
    options: ChildrenCacheOptions = {},
  ) {
    super();
    checkRecipeArgs('children-cache', session, path, { allowRoot: true });
    if (options === null || typeof options !== 'object')
      throw new InvalidArgumentError(`children-cache ${path}: options must be an object`, { op: 'children-cache', path });
    for (const k of Object.keys(options)) {
      if (k !== 'withData') throw new InvalidArgumentError(`children-cache ${path}: unknown option ${k}`, { op: 'children-cache', path });
    }
    if (options.withData !== undefined && typeof options.withData !== 'boolean') {
      throw new InvalidArgumentError(`children-cache ${path}: option withData must be a boolean`, { op: 'children-cache', path });
    }
    this.path = path;
    this.withData = options.withData ?? false;
    this.loop = new RefreshLoop('children-cache', path, session, {
      isDirty: () => this.listDirty || this.dataDirty.size > 0,
      step: async () => {
        if (await this.refresh()) emitSafely(this, 'change', this.view);
      },
      onReconnected: () => {
        this.listDirty = true;
        if (this.withData) for (const name of this.view.keys()) this.dataDirty.add(name);
        this.kick();
      },
      onWatch: (ev) => this.onListWatch(ev),
      report: (err) => {
        if (this.listenerCount('error') > 0) emitSafely(this, 'error', err);
      },
    });
  }

  /** The current view: child name → child (a live map; do not modify). */
  get children(): ReadonlyMap<string, ChildData> {
    return this.view;
  }

  /**
   * Adds the watch, starts the cache and waits for the initial load (children and, with
   * `withData`, their data).
   * @param wait - `signal`/`timeoutMs` bound the initial load (the cache keeps running)
   * @throws UnsupportedError on the native transport; IllegalStateError on a second `start()`;
   * the first read's error when it fails
   */
  async start(wait?: WaitOptions): Promise<void> {
    checkWaitOptions(wait, 'children-cache.start');
    this.listDirty = true;
    await this.loop.start(wait);
  }

  /**
   * Stops the cache and removes its list watch: no more reads or events; waits for a refresh in
   * progress to end. Idempotent. Pending data watches fire into nothing.
   */
  async close(): Promise<void> {
    await this.loop.close();
  }

  /** `await using cache = ...` closes it at the end of the scope. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  private kick(): void {
    this.loop.kick();
  }

  /** The list watch: creation, deletion and child-list changes of the parent (not its data). */
  private readonly onListWatch = (ev: WatchEvent): void => {
    if (ev.type === 'changed') return;
    this.listDirty = true;
    this.kick();
  };

  /** The data watch of every child (one callback, so each child holds at most one). */
  private readonly onDataWatch = (ev: WatchEvent): void => {
    this.dataDirty.add(nodeName(ev.path));
    this.kick();
  };

  /** One round: list if needed, then read the children marked dirty. True if the view changed. */
  private async refresh(): Promise<boolean> {
    let changed = false;
    if (this.listDirty) {
      this.listDirty = false;
      changed = this.applyList(await this.list());
    }
    if (!this.withData || this.dataDirty.size === 0 || this.listDirty) return changed;
    const names = [...this.dataDirty];
    this.dataDirty.clear();
    const reads = await Promise.allSettled(names.map((name) => this.session.get(joinPath(this.path, name), { watch: this.onDataWatch })));
    let failure: unknown;
    reads.forEach((r, i) => {
      const name = names[i]!;
      if (r.status === 'fulfilled') {
        if (this.applyRead(name, r.value)) changed = true;
      } else if (r.reason instanceof NoNodeError) {
        if (this.applyGone(name)) changed = true;
      } else {
        this.dataDirty.add(name); // read again on the next round
        failure ??= r.reason;
      }
    });
    if (failure !== undefined) {
      if (changed) emitSafely(this, 'change', this.view);
      throw failure;
    }
    return changed;
  }

  /**
   * Takes a new child list: removes the children gone; adds the new ones (with `withData`, marks
   * them for a read instead: they appear once their data is in). True if the view changed.
   */
  private applyList(names: string[]): boolean {
    let changed = false;
    const present = new Set(names);
    for (const [name, child] of this.view) {
      if (present.has(name)) continue;
      this.view.delete(name);
      this.dataDirty.delete(name);
      emitSafely(this, 'childRemoved', child);
      changed = true;
    }
    for (const name of names) {
      if (this.view.has(name)) continue;
      if (this.withData) {
        this.dataDirty.add(name);
        continue;
      }
      const child: ChildData = { name, path: joinPath(this.path, name) };
      this.view.set(name, child);
      emitSafely(this, 'childAdded', child);
      changed = true;
    }
    return changed;
  }

  /** A child's read found no node: it is gone. True if it was in the view. */
  private applyGone(name: string): boolean {
    const gone = this.view.get(name);
    if (!gone) return false;
    this.view.delete(name);
    emitSafely(this, 'childRemoved', gone);
    return true;
  }

  /** A child's data as read (not taken once closed, nor when it is the state cached). True if the view changed. */
  private applyRead(name: string, node: { data: Buffer; stat: Stat }): boolean {
    if (this.loop.phase !== 'started') return false;
    const child: ChildData = { name, path: joinPath(this.path, name), data: node.data, stat: node.stat };
    const prev = this.view.get(name);
    if (prev?.stat && prev.stat.czxid === node.stat.czxid && prev.stat.mzxid === node.stat.mzxid) return false;
    this.view.set(name, child);
    if (prev) emitSafely(this, 'childUpdated', child, prev);
    else emitSafely(this, 'childAdded', child);
    return true;
  }

  /** Lists the children (none while the parent is missing: the watch reports its creation). */
  private async list(): Promise<string[]> {
    try {
      return await this.session.getChildren(this.path);
    } catch (err) {
      if (!(err instanceof NoNodeError)) throw err;
      return [];
    }
  }
}
