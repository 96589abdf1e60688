/**
 * How a session operation reaches the server: the namespace put on paths going out and taken off
 * paths (and watch events) coming back, one attempt on the current transport (failing at once,
 * and typed, when there is none), and retries of what is safe to retry (connection loss,
 * operation timeout, throttling) with the session's backoff, waiting for the connection between
 * attempts. The caller's `signal` bounds all of it (see `session-abort.ts`).
 *
 * {@link SessionCore} is the part of a session the operation modules (create, delete, multi,
 * persistent watches) are given, rather than the session itself.
 * @internal
 * @module
 */
import createDebug from 'debug';
import pRetry from 'p-retry';
import { ClosedError, ConnectionLossError, ZkError, fromRc, isRetryable } from './errors.js';
import { abortError, raceAbort, throwIfAborted } from './session-abort.js';
import type { SessionConnection } from './session-connection.js';
import type { Resolved } from './session-options.js';
import type { Acl, ConnectionState, SessionCallOptions, Stat, Watcher, WatchOptions } from './session-types.js';
import type { ClientWatcher, Transport } from './transport.js';

const log = createDebug('zk-recipes:session');

/** Runs one request on a transport. */
export type Run<T> = (t: Transport) => Promise<T>;

/** What the operation modules use of a session. */
export interface SessionCore {
  /** The session's options, resolved. */
  readonly opts: Resolved;
  /** The connection state now. */
  readonly state: ConnectionState;
  /** The ZooKeeper session id now (hex). */
  readonly sessionId: string;
  /** The session timeout the server granted. */
  readonly sessionTimeoutMs: number;
  /** Whether the current transport applies the ACL with the create (true when there is none). */
  readonly aclAtCreate: boolean;
  /** Namespace mapping and the request plumbing. */
  readonly calls: SessionCalls;
  /** One attempt (the session's own `call`, the one every request goes through). */
  call<T>(op: string, path: string, run: Run<T>, signal?: AbortSignal): Promise<T>;
  /** See {@link SessionConnection.waitConnected}. */
  waitConnected(timeoutMs: number, op: string, signal?: AbortSignal): Promise<void>;
  /** The session's public reads and ACL write, which the create path uses. */
  exists(path: string, options?: WatchOptions): Promise<Stat | null>;
  getChildren(path: string, options?: WatchOptions): Promise<string[]>;
  sync(path: string, options?: SessionCallOptions): Promise<void>;
  setAcl(path: string, acl: readonly Acl[], options?: SessionCallOptions & { version?: number }): Promise<void>;
}

/** The session's reads and ACL write that the create path uses. */
export type SessionReads = Pick<SessionCore, 'exists' | 'getChildren' | 'sync' | 'setAcl'>;

/** The {@link SessionCore} of a session, from its parts; `call` is the session's own. */
export function sessionCore(conn: SessionConnection, calls: SessionCalls, call: SessionCore['call'], reads: SessionReads): SessionCore {
  return {
    opts: calls.opts,
    calls,
    get state() {
      return conn.state;
    },
    get sessionId() {
      return conn.sessionId;
    },
    get sessionTimeoutMs() {
      return conn.sessionTimeoutMs;
    },
    get aclAtCreate() {
      return conn.transport?.aclAtCreate ?? true;
    },
    call,
    waitConnected: (ms, op, signal) => conn.waitConnected(ms, op, signal),
    exists: (path, o) => reads.exists(path, o),
    getChildren: (path, o) => reads.getChildren(path, o),
    sync: (path, o) => reads.sync(path, o),
    setAcl: (path, acl, o) => reads.setAcl(path, acl, o),
  };
}

/** The namespace mapping, single attempts and retries of one session. */
export class SessionCalls {
  constructor(
    private readonly conn: SessionConnection,
    readonly opts: Resolved,
  ) {}

  /** `path` as the server sees it (namespace put on). */
  full(path: string): string {
    const ns = this.opts.namespace;
    if (!ns) return path;
    return path === '/' ? ns : ns + path;
  }

  /** A server path as the caller sees it (namespace taken off). */
  strip(path: string): string {
    const ns = this.opts.namespace;
    if (!ns) return path;
    return path.length === ns.length ? '/' : path.slice(ns.length);
  }

  /** A watcher given paths as the caller sees them. */
  wrapWatcher(w: Watcher): ClientWatcher {
    if (!this.opts.namespace) return w;
    return (ev) => w({ type: ev.type, path: this.strip(ev.path) });
  }

  /**
   * One attempt on the current transport, raced against `signal`; errors name the caller's path
   * (namespace removed).
   */
  attempt<T>(op: string, path: string, run: Run<T>, signal: AbortSignal | undefined): Promise<T> {
    if (signal?.aborted) return Promise.reject(abortError(signal, op, path));
    const t = this.conn.transport;
    const state = this.conn.state;
    if (!t || state === 'closed') {
      return Promise.reject(
        state === 'closed'
          ? new ClosedError(`${op} ${path}: session is closed`, { op, path })
          : new ConnectionLossError(`${op} ${path}: no connection (session ${state})`, { op, path }),
      );
    }
    return raceAbort(
      settle(() => run(t)).catch((err: unknown) => {
        throw this.callError(err, op, path);
      }),
      signal,
      op,
      path,
    );
  }

  /**
   * Runs `attempt`, retrying retryable failures (connection loss, operation timeout) with the
   * session's backoff, waiting for the connection to come back between attempts; `signal` ends
   * the waits, the backoff and the attempt on the wire.
   */
  retrying<T>(op: string, path: string, attempt: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (signal?.aborted) return Promise.reject(abortError(signal, op, path));
    // Connected: the attempt goes out now, with no await before it (requests leave in the order
    // they were asked for) and no extra promise on the way back unless it fails.
    if (!this.ready()) return this.connectedFirst(op, path, signal).then(() => this.afterFirst(op, path, attempt, signal, settle(attempt)));
    return this.afterFirst(op, path, attempt, signal, settle(attempt));
  }

  /** The first attempt's outcome, or the retries after a retryable failure. */
  private afterFirst<T>(op: string, path: string, attempt: () => Promise<T>, signal: AbortSignal | undefined, first: Promise<T>): Promise<T> {
    return first.catch((err: unknown) => {
      if (!isRetryable(err) || this.opts.retry.retries === 0 || signal?.aborted) throw err;
      log('%s %s: %s; retrying', op, path, (err as Error).message);
      return this.retryLoop(op, path, attempt, signal);
    });
  }

  private async retryLoop<T>(op: string, path: string, attempt: () => Promise<T>, signal: AbortSignal | undefined): Promise<T> {
    const r = this.opts.retry;
    try {
      return await pRetry(
        async () => {
          await this.conn.waitConnected(this.conn.sessionTimeoutMs, op, signal);
          return attempt();
        },
        {
          retries: r.retries - 1,
          minTimeout: r.minDelayMs,
          maxTimeout: r.maxDelayMs,
          factor: r.factor,
          randomize: true,
          signal,
          shouldRetry: ({ error }) => isRetryable(error) && this.conn.state !== 'closed',
        },
      );
    } catch (err) {
      throw signal?.aborted ? abortError(signal, op, path) : err;
    }
  }

  /** Whether a first attempt goes out at once: connected (or read-only), or closed (it fails at once). */
  private ready(): boolean {
    const state = this.conn.state;
    return state === 'connected' || state === 'readOnly' || state === 'closed';
  }

  /**
   * Before a first attempt while not connected: waits (up to `connectTimeoutMs`) for the
   * connection; a wait that times out lets the attempt fail with its own error. Aborts throw.
   */
  private async connectedFirst(op: string, path: string, signal: AbortSignal | undefined): Promise<void> {
    await this.conn.waitConnected(this.opts.connectTimeoutMs, op, signal).catch(() => throwIfAborted(signal, op, path));
  }

  /**
   * A request cut off by `close()` fails with CLOSED, not with the connection loss the transport
   * saw (a transport replaced after `lost` reports CONNECTION_LOSS: retryable, as it should be);
   * and errors name the caller's path, without the namespace.
   */
  private callError(err: unknown, op: string, path: string): unknown {
    if (this.conn.state === 'closed' && err instanceof ConnectionLossError)
      return new ClosedError(`${op} ${path}: session is closed`, { op, path, cause: err });
    return this.opts.namespace ? relabel(err, op, path) : err;
  }
}

/**
 * `f()`, with a synchronous throw turned into a rejection: a transport that throws at once (say,
 * not connected while a reconnection is under way) must reach the retry path like one that
 * rejects, not escape it.
 */
function settle<T>(f: () => Promise<T>): Promise<T> {
  try {
    return f();
  } catch (err) {
    return Promise.reject(err);
  }
}

/** The same typed error with the caller's op and path (the namespace removed). */
function relabel(err: unknown, op: string, path: string): unknown {
  if (!(err instanceof ZkError) || err.rc === undefined || err.code === 'CLOSED') return err;
  if (err.opIndex !== undefined) return err;
  return fromRc(err.rc, op, path, err.cause);
}
