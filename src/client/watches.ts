/**
 * The watch registry: which callbacks wait for which server event, following the Java client's
 * `ZKWatchManager`. One-shot watches are registered only once the read that set them succeeded
 * (an exists on a missing node leaves an exist watch), and an event takes them away:
 *
 * | event            | one-shot watches it fires                  |
 * |------------------|--------------------------------------------|
 * | created, changed | data and exist watches of the path         |
 * | deleted          | data, exist and child watches of the path  |
 * | child            | child watches of the path                  |
 *
 * Persistent watches fire for every event on their path and stay; recursive ones fire for every
 * event except `child` on their path and everything below it. After a reconnect the registry's
 * paths go back to the server in SetWatches2: one-shot watches then fire for changes made
 * meanwhile; persistent ones are set again from then on (the server replays nothing for them).
 * @internal
 * @module
 */
import { callbackThrew } from '../listeners.js';

/** What happened to a watched node. */
export type WatchEventType = 'created' | 'deleted' | 'changed' | 'child';

/** A node event as the client delivers it (path relative to the chroot). */
export interface ClientWatchEvent {
  type: WatchEventType;
  path: string;
}

/** A watch callback. */
export type ClientWatcher = (event: ClientWatchEvent) => void;

/** Kinds of watch the server keeps. */
export type WatchKind = 'data' | 'exist' | 'child' | 'persistent' | 'persistentRecursive';

const KINDS: readonly WatchKind[] = ['data', 'exist', 'child', 'persistent', 'persistentRecursive'];

/**
 * The callbacks of one path and kind: the callback itself while it is the only one (almost
 * always: a lock waiter watches its own predecessor), a set once a second one joins. A set per
 * path would cost ~200 bytes more per watch, ten thousand times over for ten thousand waiters.
 */
type Entry = ClientWatcher | Set<ClientWatcher>;

function pushAll(entry: Entry, into: ClientWatcher[]): void {
  if (typeof entry === 'function') into.push(entry);
  else for (const w of entry) into.push(w);
}

export class WatchRegistry {
  private readonly maps: Record<WatchKind, Map<string, Entry>> = {
    data: new Map(),
    exist: new Map(),
    child: new Map(),
    persistent: new Map(),
    persistentRecursive: new Map(),
  };

  /** Adds `watcher` for `path`. */
  add(kind: WatchKind, path: string, watcher: ClientWatcher): void {
    const m = this.maps[kind];
    const entry = m.get(path);
    if (entry === undefined) m.set(path, watcher);
    else if (typeof entry !== 'function') entry.add(watcher);
    else if (entry !== watcher) m.set(path, new Set([entry, watcher]));
  }

  /**
   * Removes `watcher` (or every watcher) of `path` for the kinds given. Returns whether the server
   * still needs a watch of that kind on the path (another callback remains).
   */
  remove(kind: WatchKind, path: string, watcher?: ClientWatcher): { removed: boolean; remaining: boolean } {
    const m = this.maps[kind];
    const entry = m.get(path);
    if (entry === undefined) return { removed: false, remaining: false };
    if (typeof entry === 'function') {
      if (watcher !== undefined && watcher !== entry) return { removed: false, remaining: true };
      m.delete(path);
      return { removed: true, remaining: false };
    }
    const removed = watcher === undefined ? entry.size > 0 : entry.delete(watcher);
    if (watcher === undefined) entry.clear();
    if (entry.size === 0) m.delete(path);
    return { removed, remaining: entry.size > 0 };
  }

  /** Whether any watcher of `kind` is registered on `path`. */
  has(kind: WatchKind, path: string): boolean {
    return this.maps[kind].has(path);
  }

  /** Total number of registered (path, kind) pairs. */
  get size(): number {
    let n = 0;
    for (const k of KINDS) n += this.maps[k].size;
    return n;
  }

  /** The paths of each kind, for SetWatches2 after a reconnect. */
  paths(): Record<WatchKind, string[]> {
    return {
      data: [...this.maps.data.keys()],
      exist: [...this.maps.exist.keys()],
      child: [...this.maps.child.keys()],
      persistent: [...this.maps.persistent.keys()],
      persistentRecursive: [...this.maps.persistentRecursive.keys()],
    };
  }

  /** Forgets every watch (the session is gone: its watches died with it). */
  clear(): void {
    for (const k of KINDS) this.maps[k].clear();
  }

  /** Delivers a server event to the callbacks it concerns, taking one-shot watches away. */
  deliver(event: ClientWatchEvent): void {
    const { type, path } = event;
    const fire: ClientWatcher[] = [];
    const take = (kind: WatchKind) => {
      const entry = this.maps[kind].get(path);
      if (entry === undefined) return;
      this.maps[kind].delete(path);
      pushAll(entry, fire);
    };
    if (type === 'created' || type === 'changed') {
      take('data');
      take('exist');
    } else if (type === 'deleted') {
      take('data');
      take('exist');
      take('child');
    } else take('child');
    const p = this.maps.persistent.get(path);
    if (p) pushAll(p, fire);
    if (type !== 'child' && this.maps.persistentRecursive.size > 0) {
      for (let at = path; ; at = parentPath(at)) {
        const r = this.maps.persistentRecursive.get(at);
        if (r) pushAll(r, fire);
        if (at === '/') break;
      }
    }
    // A callback registered twice for one event fires once (the Java client's set semantics).
    const seen = fire.length > 1 ? new Set<ClientWatcher>() : undefined;
    for (const w of fire) {
      if (seen) {
        if (seen.has(w)) continue;
        seen.add(w);
      }
      try {
        w(event);
      } catch (err) {
        callbackThrew(`a watch callback for ${path}`, err); // never out of the socket handler
      }
    }
  }
}

function parentPath(p: string): string {
  const i = p.lastIndexOf('/');
  return i <= 0 ? '/' : p.slice(0, i);
}
