/**
 * The session's connection-state machine: one transport (one ZooKeeper session) after another,
 * the `state` they put the session in, the events for each change, and the waits for a
 * connection. The states and events are described on {@link ZkSession}.
 *
 * A transport reports `connected` (again after each reconnect, with its session id),
 * `disconnected`, and one terminal event: `expired` (by the server, or no connection for a whole
 * session timeout) or `authFailed`. A terminal event makes the session `lost`; unless
 * `reconnectAfterLost` is off (or the credentials were refused) a new transport is opened at
 * once, or after a growing delay when the lost one never connected (so that a server refusing
 * every session is not hammered in a tight loop). Events of a transport that was replaced are
 * ignored.
 *
 * A TLS failure (the client's check of a server's certificate, or the server refusing ours) is a
 * misconfigured client, not a down server: while `start()` waits, once every server of the
 * connect string failed the TLS check in a row (no other kind of failure in between, so one bad
 * member of an ensemble does not fail the connect), `start()` rejects with the {@link TlsError}
 * at once instead of waiting out `connectTimeoutMs`. Later (an established session reconnecting,
 * or a new one after `lost`) TLS failures are retried like any other: certificates get rotated.
 * @internal
 * @module
 */
import createDebug from 'debug';
import type { EventEmitter } from 'eventemitter3';
import { ZkClient } from './client/client.js';
import { ClosedError, ConnectTimeoutError, ConnectionLossError, TlsError, fromRc } from './errors.js';
import { emitSafely } from './listeners.js';
import { openNativeTransport } from './native.js';
import { abortError } from './session-abort.js';
import type { Resolved } from './session-options.js';
import type { ConnectionState, SessionEvents } from './session-types.js';
import type { Transport } from './transport.js';
import { deferred, type Deferred } from './wait.js';

const log = createDebug('zk-recipes:session');

/** What the machine asks of the session that owns it. */
export interface ConnectionHooks {
  /** Connected to a new ZooKeeper session after `lost`: re-add what lives per session. */
  newSession(t: Transport): void;
  /** Connected again to the same ZooKeeper session: re-send what a connection loss cut short. */
  sameSession(t: Transport): void;
  /** Lost for good (no reconnect): close the session. */
  close(): void;
}

/** One session's transports and connection state. */
export class SessionConnection {
  private t: Transport | undefined;
  private _state: ConnectionState = 'connecting';
  private _sessionId = '0';
  private negotiatedTimeoutMs: number;
  private readonly waiters = new Set<Deferred<void>>();
  private readonly connectedOnce = new WeakSet<Transport>();
  private reopenDelayMs = 0;
  /** While `start()` waits: the servers whose attempts failed the TLS check since any other failure. */
  private tlsFailed: Map<string, TlsError> | undefined;
  private failStart: ((err: TlsError) => void) | undefined;

  constructor(
    private readonly connectString: string,
    private readonly opts: Resolved,
    private readonly events: EventEmitter<SessionEvents>,
    private readonly hooks: ConnectionHooks,
  ) {
    this.negotiatedTimeoutMs = opts.sessionTimeoutMs;
  }

  /** The current transport (undefined while lost, and after close). */
  get transport(): Transport | undefined {
    return this.t;
  }

  /** The connection state. */
  get state(): ConnectionState {
    return this._state;
  }

  /** The current ZooKeeper session id (hex). */
  get sessionId(): string {
    return this._sessionId;
  }

  /** The session timeout the server granted, in ms. */
  get sessionTimeoutMs(): number {
    return this.negotiatedTimeoutMs;
  }

  /** Opens a transport (a new ZooKeeper session) and follows its events. */
  open(): void {
    const o = this.opts;
    const auth = o.auth.map((a) => ({ scheme: a.scheme ?? 'digest', credentials: a.credentials }));
    const t: Transport =
      o.transport === 'native'
        ? openNativeTransport(this.connectString, {
            sessionTimeoutMs: o.sessionTimeoutMs,
            auth,
            canBeReadOnly: o.canBeReadOnly,
            tls: o.tls,
            maxFrameBytes: o.maxFrameBytes,
            nativeLogLevel: o.nativeLogLevel,
          })
        : new ZkClient(this.connectString, {
            sessionTimeoutMs: o.sessionTimeoutMs,
            auth,
            canBeReadOnly: o.canBeReadOnly,
            tls: o.tls,
            maxFrameBytes: o.maxFrameBytes,
            onConnectFailed: ({ server, error }) => this.onConnectFailed(t, server, error),
          });
    this.t = t;
    t.on('connected', (info) => this.onConnect(t, info.readOnly));
    t.on('disconnected', () => this.onDisconnected(t));
    t.on('expired', ({ reason }) => this.sessionLost(t, reason === 'server' ? 'expired' : 'timeout'));
    t.on('authFailed', () => this.sessionLost(t, 'auth_failed'));
    t.start();
  }

  /**
   * Opens the first transport and resolves once it is connected.
   * @throws ConnectTimeoutError naming the connect string after `connectTimeoutMs`
   * @throws AuthFailedError when the server rejects the credentials
   * @throws TlsError once every server failed the TLS check in a row (see the module documentation)
   */
  async start(): Promise<void> {
    const connected = this.nextConnected();
    const onLost = (info: { reason: string }) => {
      if (info.reason === 'auth_failed') connected.reject(fromRc(-115, 'connect', undefined));
    };
    this.events.on('lost', onLost);
    const ms = this.opts.connectTimeoutMs;
    const timer = setTimeout(() => {
      connected.reject(new ConnectTimeoutError(`session: could not connect to ${this.connectString} within ${ms} ms`, { op: 'connect' }));
    }, ms);
    this.tlsFailed = new Map();
    this.failStart = (err) => connected.reject(err);
    try {
      this.open();
      await connected.promise;
    } finally {
      this.tlsFailed = undefined;
      this.failStart = undefined;
      clearTimeout(timer);
      this.events.off('lost', onLost);
      this.waiters.delete(connected); // a transport that failed to open leaves no wait for close() to fail
    }
  }

  /** A wait for the next connection, settled by the machine (or by `close`). */
  private nextConnected(): Deferred<void> {
    const d = deferred<void>();
    this.waiters.add(d);
    return d;
  }

  /**
   * Resolves when connected (at once if it is).
   * @throws the abort error when `signal` aborts first, ClosedError when closed first,
   * ConnectionLossError when not connected within `timeoutMs`
   */
  async waitConnected(timeoutMs: number, op: string, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) throw abortError(signal, op);
    if (this._state === 'connected') return;
    if (this._state === 'closed') throw new ClosedError(`${op}: session is closed`, { op });
    const d = this.nextConnected();
    const fail = (err: unknown) => {
      this.waiters.delete(d);
      d.reject(err);
    };
    const timer = setTimeout(() => fail(new ConnectionLossError(`${op}: not connected to ${this.connectString} within ${timeoutMs} ms`, { op })), timeoutMs);
    const onAbort = () => fail(abortError(signal!, op));
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await d.promise;
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Marks the session closed and fails every wait; returns the transport, for the caller to close. */
  close(): Transport | undefined {
    const t = this.t;
    this.t = undefined;
    this.setState('closed');
    for (const w of this.waiters) w.reject(new ClosedError('session: closed', { op: 'close' }));
    this.waiters.clear();
    return t;
  }

  private setState(next: ConnectionState): void {
    const prev = this._state;
    if (prev === next) return;
    this._state = next;
    log('state %s -> %s (session 0x%s)', prev, next, this._sessionId);
    emitSafely(this.events, 'state', next, prev);
  }

  private onConnect(t: Transport, readOnly: boolean): void {
    if (t !== this.t || this._state === 'closed') return;
    this.connectedOnce.add(t);
    this.reopenDelayMs = 0;
    const id = t.sessionId;
    const prev = this._state;
    const newSession = id !== this._sessionId;
    this._sessionId = id;
    this.negotiatedTimeoutMs = t.sessionTimeoutMs || this.opts.sessionTimeoutMs;
    if (prev !== 'connecting') {
      if (newSession) this.hooks.newSession(t);
      else this.hooks.sameSession(t);
    }
    this.setState(readOnly ? 'readOnly' : 'connected');
    for (const w of this.waiters) w.resolve();
    this.waiters.clear();
    if (prev === 'connecting') emitSafely(this.events, 'connected', { sessionId: id });
    else emitSafely(this.events, 'reconnected', { sessionId: id, newSession });
  }

  /**
   * One failed attempt of `t` on `server` while `start()` waits: a TLS failure is remembered, any
   * other (of a server that had not failed TLS) forgets them all; all servers failed TLS: reject.
   */
  private onConnectFailed(t: Transport, server: string, error: Error): void {
    const failed = this.tlsFailed;
    if (t !== this.t || !failed || !(t instanceof ZkClient)) return;
    if (!(error instanceof TlsError)) {
      if (!failed.has(server)) failed.clear();
      return;
    }
    failed.set(server, error);
    const hosts = t.serverList.map((h) => `${h.host}:${h.port}`);
    if (!hosts.every((h) => failed.has(h))) return;
    const each = hosts.map((h) => `${h}: ${failed.get(h)!.tlsCode}`).join(', ');
    const all = new TlsError(`session: every server of ${this.connectString} failed the TLS check (${each})`, {
      op: 'connect',
      server: hosts.join(','),
      tlsCode: error.tlsCode,
      cause: error,
    });
    this.failStart?.(hosts.length === 1 ? error : all);
  }

  private onDisconnected(t: Transport): void {
    if (t !== this.t || (this._state !== 'connected' && this._state !== 'readOnly')) return;
    this.setState('suspended');
    emitSafely(this.events, 'suspended');
  }

  private sessionLost(t: Transport, reason: 'expired' | 'timeout' | 'auth_failed'): void {
    if (t !== this.t || this._state === 'closed') return;
    const sessionId = this._sessionId;
    this.t = undefined;
    t.removeAllListeners();
    void t.close().catch(() => undefined);
    this.setState('lost');
    emitSafely(this.events, 'lost', { sessionId, reason });
    if (this._state !== 'lost') return; // a listener closed us
    if (!this.opts.reconnectAfterLost || reason === 'auth_failed') {
      this.hooks.close();
      return;
    }
    // A transport lost before it ever connected must not be replaced in a tight loop.
    const delayMs = this.connectedOnce.has(t) ? 0 : Math.min(Math.max(this.reopenDelayMs * 2, 50), 5000);
    this.reopenDelayMs = delayMs;
    if (delayMs === 0) this.open();
    else
      setTimeout(() => {
        if (this._state === 'lost') this.open();
      }, delayMs);
  }
}
