/**
 * Persistent watches (`addWatch`, ZooKeeper 3.6+): the session keeps every watch it added so that
 * it can add them again on a new ZooKeeper session after `lost` (the transport itself sets them
 * again after a reconnect to the same session).
 *
 * An `addWatch` aborted while its request is on the wire may still be set by the server, and the
 * transport registers the listener as the late reply is read. So a watch added with a `signal`
 * gets a listener of its own that goes quiet once the call is abandoned, and that listener is
 * removed again (on the server too) once the last request of the call has settled.
 * @internal
 * @module
 */
import createDebug from 'debug';
import { ClosedError, InvalidArgumentError, isRetryable } from './errors.js';
import { validatePath } from './paths.js';
import { callSignal, throwIfAborted } from './session-abort.js';
import type { SessionCore } from './session-calls.js';
import type { PersistentWatch, SessionCallOptions, Watcher } from './session-types.js';
import type { ClientWatcher, Transport, WatchKind } from './transport.js';

const log = createDebug('zk-recipes:session');

/** The options of `addWatch`. */
export type AddWatchOptions = SessionCallOptions & {
  /** Watch the whole subtree. @default false */
  recursive?: boolean;
};

interface Entry {
  path: string;
  recursive: boolean;
  watcher: ClientWatcher;
}

/** The persistent watches of one session. */
export class PersistentWatches {
  private readonly entries = new Set<Entry>();
  /** Watches whose re-adding failed on a connection loss: re-sent on the next connection. */
  private readonly cut = new Set<Entry>();

  constructor(private readonly core: SessionCore) {}

  /** `ZkSession.addWatch`. */
  async add(path: string, listener: Watcher, options: AddWatchOptions = {}): Promise<PersistentWatch> {
    validatePath(path, 'addWatch');
    if (typeof listener !== 'function') throw new InvalidArgumentError(`addWatch ${path}: listener must be a function`, { op: 'addWatch', path });
    const signal = callSignal(options, 'addWatch', path);
    throwIfAborted(signal, 'addWatch', path);
    const recursive = options.recursive ?? false;
    let abandoned = false;
    const watcher = this.core.calls.wrapWatcher(
      signal
        ? (ev) => {
            if (!abandoned) listener(ev);
          }
        : listener,
    );
    const entry: Entry = { path, recursive, watcher };
    const full = this.core.calls.full(path);
    let last: Promise<void> | undefined;
    const send = (t: Transport) => (last = t.addWatch(full, watcher, recursive));
    try {
      await this.core.calls.retrying('addWatch', path, () => this.core.call('addWatch', path, send, signal), signal);
    } catch (err) {
      if (signal?.aborted && last) {
        abandoned = true;
        last
          .then(
            () => this.unwatch(entry),
            () => undefined,
          )
          .catch((e: unknown) => log('removing the abandoned watch on %s failed: %s', path, (e as Error).message));
      }
      throw err;
    }
    this.entries.add(entry);
    let removed: Promise<void> | undefined;
    const remove = (): Promise<void> => {
      if (removed) return removed;
      this.entries.delete(entry);
      removed = this.unwatch(entry);
      return removed;
    };
    return { path, recursive, remove, [Symbol.asyncDispose]: remove };
  }

  /**
   * Adds every watch again, on the transport of a new ZooKeeper session, before `reconnected` is
   * emitted (so a cache's walk on `reconnected` is read under the watch).
   */
  readd(t: Transport): void {
    this.cut.clear();
    for (const e of this.entries) this.send(t, e);
  }

  /**
   * Back on the same session: adds again the watches whose re-adding a connection loss cut short
   * (the transport sets again only those the server had confirmed), before `reconnected` too.
   */
  readdCut(t: Transport): void {
    const cut = [...this.cut];
    this.cut.clear();
    for (const e of cut) if (this.entries.has(e)) this.send(t, e);
  }

  private send(t: Transport, e: Entry): void {
    const full = this.core.calls.full(e.path);
    let sent: Promise<void>;
    try {
      sent = t.addWatch(full, e.watcher, e.recursive);
    } catch (err) {
      sent = Promise.reject(err);
    }
    sent.catch((err: unknown) => {
      // A connection loss (or a transport already replaced): add it on the next connection.
      if (isRetryable(err) && this.entries.has(e)) this.cut.add(e);
      log('re-adding the persistent watch on %s failed: %s', e.path, (err as Error).message);
    });
  }

  /** Forgets every watch (the session is closed). */
  clear(): void {
    this.entries.clear();
    this.cut.clear();
  }

  /** Removes a watch's listener, and the server's watch when no listener needs it any more. */
  private unwatch(e: Entry): Promise<void> {
    const kind: WatchKind = e.recursive ? 'persistentRecursive' : 'persistent';
    const full = this.core.calls.full(e.path);
    if (this.core.state === 'closed') return Promise.resolve();
    return this.core
      .call('removeWatch', e.path, (t) => t.removeWatch(full, kind, e.watcher))
      .then(
        () => undefined,
        (err: unknown) => {
          if (!isRetryable(err) && !(err instanceof ClosedError)) throw err;
          // Not connected: the watch is forgotten here and dies with the connection's session.
        },
      );
  }
}
