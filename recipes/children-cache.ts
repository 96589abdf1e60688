/**
 * A local copy of a node's children (and optionally their data), kept current from one-shot
 * watches (Curator's `PathChildrenCache`).
 *
 * Layout: none of its own; it reads `<path>` (which may be missing) and `<path>/<child>`.
 *
 * Every read arms its watch in the same request: the listing (`getChildren` with a watch, or
 * `exists` with a watch while `<path>` is missing) and, with `withData`, each child's `get`. Watches
 * and reconnections only mark work (list again, re-read these children); one refresh loop does the
 * work, pipelining the child reads, so a burst of changes is coalesced and the last reads are the
 * server's current state. After `reconnected` (same or new session) everything is read again,
 * re-arming every watch.
 * @module
 */
import { EventEmitter } from 'eventemitter3';
import type { Stat, ZkSession } from '../src/session.js';
import { InvalidArgumentError, NoNodeError } from '../src/errors.js';
import { joinPath, rejectReserved, validatePath } from '../src/paths.js';
import type { WaitOptions } from '../src/wait.js';
import { RefreshLoop } from './refresh-loop.js';
import { checkSession } from './options.js';

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
 * retried on the next watch or reconnection.
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
  constructor(private readonly session: ZkSession, path: string, options: ChildrenCacheOptions = {}) {
    super();
    checkSession('children-cache', session);
    validatePath(path, 'children-cache');
    rejectReserved(path, 'children-cache');
    if (options === null || typeof options !== 'object') throw new InvalidArgumentError(`children-cache ${path}: options must be an object`, { op: 'children-cache', path });
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
      step: async () => { if (await this.refresh()) this.emit('change', this.view); },
      onReconnected: () => {
        this.listDirty = true;
        if (this.withData) for (const name of this.view.keys()) this.dataDirty.add(name);
        this.kick();
      },
      report: (err) => { if (this.listenerCount('error') > 0) this.emit('error', err); },
    });
  }

  /** The current view: child name → child (a live map; do not modify). */
  get children(): ReadonlyMap<string, ChildData> {
    return this.view;
  }

  /**
   * Starts the cache and waits for the initial load (children and, with `withData`, their data).
   * @param wait - `signal`/`timeoutMs` bound the initial load (the cache keeps running)
   * @throws IllegalStateError on a second `start()`; the first read's error when it fails
   */
  async start(wait?: WaitOptions): Promise<void> {
    this.listDirty = true;
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

  private kick(): void {
    this.loop.kick();
  }

  /** One round: list if needed, then read the children marked dirty. True if the view changed. */
  private async refresh(): Promise<boolean> {
    let changed = false;
    if (this.listDirty) {
      this.listDirty = false;
      const names = await this.list();
      if (names === undefined) return false; // the parent appeared meanwhile: list again
      const present = new Set(names);
      for (const [name, child] of this.view) {
        if (present.has(name)) continue;
        this.view.delete(name);
        this.dataDirty.delete(name);
        this.emit('childRemoved', child);
        changed = true;
      }
      for (const name of names) {
        if (this.view.has(name)) continue;
        if (this.withData) { this.dataDirty.add(name); continue; }
        const child: ChildData = { name, path: joinPath(this.path, name) };
        this.view.set(name, child);
        this.emit('childAdded', child);
        changed = true;
      }
    }
    if (!this.withData || this.dataDirty.size === 0 || this.listDirty) return changed;
    const names = [...this.dataDirty];
    this.dataDirty.clear();
    const reads = await Promise.allSettled(names.map((name) => this.session.get(joinPath(this.path, name), {
      watch: () => { this.dataDirty.add(name); this.kick(); },
    })));
    let failure: unknown;
    reads.forEach((r, i) => {
      const name = names[i]!;
      if (r.status === 'rejected') {
        if (!(r.reason instanceof NoNodeError)) { this.dataDirty.add(name); failure ??= r.reason; return; }
        const gone = this.view.get(name);
        if (gone) { this.view.delete(name); this.emit('childRemoved', gone); changed = true; }
        return;
      }
      if (this.loop.phase !== 'started') return;
      const child: ChildData = { name, path: joinPath(this.path, name), data: r.value.data, stat: r.value.stat };
      const prev = this.view.get(name);
      if (prev?.stat && prev.stat.czxid === child.stat!.czxid && prev.stat.mzxid === child.stat!.mzxid) return;
      this.view.set(name, child);
      if (prev) this.emit('childUpdated', child, prev);
      else this.emit('childAdded', child);
      changed = true;
    });
    if (failure !== undefined) {
      if (changed) this.emit('change', this.view);
      throw failure;
    }
    return changed;
  }

  /** Lists the children, arming the watch; undefined when the parent must be listed again. */
  private async list(): Promise<string[] | undefined> {
    const watch = () => { this.listDirty = true; this.kick(); };
    try {
      return await this.session.getChildren(this.path, { watch });
    } catch (err) {
      if (!(err instanceof NoNodeError)) throw err;
      if (await this.session.exists(this.path, { watch })) { this.listDirty = true; return undefined; }
      return [];
    }
  }
}
