/**
 * The session's state machine: one ZooKeeper session over a sequence of connections, following
 * the Java client's `ClientCnxn` for semantics. `ZkClient` (client.ts) builds the requests; this
 * decides when they may flow and keeps the session alive between connections.
 *
 * States (the client's `state` property; a `state` event on each change):
 *
 * | state        | meaning                                                                      |
 * |--------------|------------------------------------------------------------------------------|
 * | `connecting` | no connection now; trying the servers in turn (the session may still live)   |
 * | `connected`  | connected to a read-write server                                             |
 * | `readOnly`   | connected to a server in read-only mode (`canBeReadOnly`): reads only        |
 * | `expired`    | the server expired the session, or no connection for a whole session timeout |
 * | `authFailed` | the server rejected the credentials                                          |
 * | `closed`     | `close()` was called                                                         |
 *
 * The last three are terminal: a new session needs a new client (the session layer does that).
 *
 * The connection loop: hosts in a shuffled order, each resolved at its attempt; a connect timeout
 * of the session timeout divided by the number of hosts, and by at least 3 (a server that accepts
 * and never answers must not use up the session); after a full round without success, a
 * jittered backoff. On reconnect the ConnectRequest carries the session id and password and the
 * last zxid seen (a server that is behind refuses it and the next is tried); the credentials go
 * first, then the watches (replay.ts), and only then do requests flow, so every request sees the
 * auth and every change made while away fires its one-shot watches (persistent watches are set
 * again but, as in ZooKeeper itself, do not replay what changed meanwhile). A notification
 * (incoming.ts) is delivered synchronously, in frame order, before the reply of any read sent
 * after it resolves. Each failed attempt goes to `onConnectFailed` (a TlsError when the TLS check
 * failed); the loop goes on regardless.
 * @internal
 * @module
 */
import createDebug from 'debug';
import type { EventEmitter } from 'eventemitter3';
import { callbackThrew, emitSafely } from '../listeners.js';
import { AuthFailedError, ClosedError, ConnectionLossError, SessionExpiredError, type ZkError } from '../errors.js';
import type { Chroot } from './chroot.js';
import type { ClientOptions } from './client.js';
import { Connection } from './connection.js';
import { Dispatcher, channels, type BodyWriter, type ReplyDecoder, type ReplyHook } from './dispatch.js';
import { DEFAULT_MAX_FRAME_BYTES } from './framing.js';
import { HostList, resolve, type HostPort } from './hosts.js';
import { SessionIdentity } from './identity.js';
import { SpecialFrames } from './incoming.js';
import { sharedWriter } from './jute.js';
import { ConfigFollower, seekReadWrite, type MembershipView } from './membership.js';
import { Op, type ConnectResponse } from './records.js';
import { ReservedReplies, sendCredentials, sendSetWatches } from './replay.js';
import type { WatchRegistry } from './watches.js';
import type { TransportEvents } from '../transport.js';

const log = createDebug('zk-recipes:client');

/** Client states; see the module documentation. */
export type ClientState = 'connecting' | 'connected' | 'readOnly' | 'expired' | 'authFailed' | 'closed';

/** One session's states and connections; events go out on `events` (the client). */
export class SessionMachine implements MembershipView {
  /** The servers, in the order tried (replaced from `/zookeeper/config`). */
  readonly hosts: HostList;
  private readonly dispatch: Dispatcher;
  private readonly reserved = new ReservedReplies();
  private readonly config: ConfigFollower;
  /** Pings, the priming replies and watch notifications (incoming.ts). */
  private readonly incoming: SpecialFrames;
  private readonly identity: SessionIdentity;
  private readonly maxFrameBytes: number;
  private _state: ClientState = 'connecting';
  private conn: Connection | undefined;
  private _server: HostPort | undefined;
  private expiryTimer: NodeJS.Timeout | undefined;
  private preferred: HostPort | undefined;
  private closing: Promise<void> | undefined;
  /** The connection whose handshake is under way. */
  private opening: Connection | undefined;
  private wake: (() => void) | undefined;

  constructor(
    private readonly events: EventEmitter<TransportEvents>,
    hosts: readonly HostPort[],
    private readonly chroot: Chroot,
    private readonly watches: WatchRegistry,
    private readonly options: ClientOptions,
  ) {
    this.hosts = new HostList(hosts);
    this.identity = new SessionIdentity(options.sessionTimeoutMs ?? 10_000, options.session);
    this.maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.dispatch = new Dispatcher(this.maxFrameBytes);
    this.config = new ConfigFollower(this, this.dispatch);
    this.incoming = new SpecialFrames(this.reserved, this.config, chroot, watches);
  }

  /** Starts the connection loop (once). */
  start(): void {
    void this.run().catch((err) => log('connection loop failed: %O', err));
  }

  /** The current state. */
  get state(): ClientState {
    return this._state;
  }

  /** The session id (hex), '0' before the first connection. */
  get sessionId(): string {
    return this.identity.id;
  }

  /** The session password. */
  get sessionPassword(): Buffer {
    return this.identity.password;
  }

  /** The negotiated session timeout (the requested one until connected). */
  get sessionTimeoutMs(): number {
    return this.identity.negotiatedMs;
  }

  /** The last zxid seen in a reply. */
  get lastZxidSeen(): number {
    return this.identity.lastZxid;
  }

  /** The connection in use, if any. */
  get connection(): Connection | undefined {
    return this.conn;
  }

  /** The server connected to (or last connected to). */
  get server(): HostPort | undefined {
    return this._server;
  }

  /** `host:port` of the server connected to, or undefined. */
  get connectedServer(): string | undefined {
    return this.conn && this._server ? `${this._server.host}:${this._server.port}` : undefined;
  }

  /** Makes `host` the next one tried. */
  prefer(host: HostPort): void {
    this.preferred = host;
  }

  private get terminal(): boolean {
    return this._state === 'expired' || this._state === 'authFailed' || this._state === 'closed';
  }

  private setState(next: ClientState): void {
    const prev = this._state;
    if (prev === next) return;
    this._state = next;
    log('state %s -> %s (session 0x%s)', prev, next, this.sessionId);
    if (channels.state.hasSubscribers) channels.state.publish({ state: next, previous: prev, sessionId: this.sessionId, server: this.connectedServer });
    emitSafely(this.events, 'state', next, prev);
  }

  // ---- requests -----------------------------------------------------------------------------------

  /** Sends one request on the current connection, or fails at once saying why there is none. */
  submit<T>(
    opcode: number,
    op: string,
    path: string | undefined,
    body: BodyWriter | undefined,
    decode: ReplyDecoder<T> | undefined,
    onReply?: ReplyHook,
  ): Promise<T> {
    const conn = this.conn;
    if (!conn || (this._state !== 'connected' && this._state !== 'readOnly')) return Promise.reject(this.unavailable(op, path));
    return this.dispatch.request(conn, opcode, op, path, body, decode, onReply);
  }

  private unavailable(op: string, path: string | undefined): ZkError {
    const where = path === undefined ? op : `${op} ${path}`;
    switch (this._state) {
      case 'closed':
        return new ClosedError(`${where}: client is closed`, { op, path });
      case 'expired':
        return new SessionExpiredError(`${where}: session expired`, { op, path, rc: -112 });
      case 'authFailed':
        return new AuthFailedError(`${where}: authentication failed`, { op, path, rc: -115 });
      default:
        return new ConnectionLossError(`${where}: not connected (${this._state})`, { op, path, rc: -4 });
    }
  }

  /**
   * Closes the session on the server (closeSession: its ephemerals go at once) and the
   * connection. Idempotent.
   */
  close(timeoutMs: number): Promise<void> {
    if (this.closing) return this.closing;
    const conn = this.conn;
    const wasUp = conn !== undefined && (this._state === 'connected' || this._state === 'readOnly');
    const terminalBefore = this.terminal;
    this.closing = (async () => {
      if (wasUp && conn && !terminalBefore) {
        const req = this.dispatch.request(conn, Op.closeSession, 'close', undefined, undefined, undefined).catch(() => undefined);
        this.terminate('closed');
        const t = new Promise<void>((r) => setTimeout(r, timeoutMs).unref());
        await Promise.race([req, conn.closed, t]);
      } else if (!terminalBefore) {
        this.terminate('closed');
      } else {
        this.setState('closed');
      }
      conn?.close('closed by the client');
      emitSafely(this.events, 'closed');
    })();
    return this.closing;
  }

  // ---- the connection loop ----------------------------------------------------------------------

  private async run(): Promise<void> {
    let failedRounds = 0;
    while (!this.terminal) {
      let host: HostPort;
      if (this.preferred) {
        host = this.preferred;
        this.preferred = undefined;
      } else {
        const n = this.hosts.next();
        host = n.host;
        if (n.wrapped && failedRounds > 0) await this.backoff(failedRounds);
        if (n.wrapped) failedRounds++;
      }
      if (this.terminal) return;
      try {
        if (await this.attempt(host)) failedRounds = 0;
      } catch (err) {
        // Nothing in an attempt should throw; if something does, the loop must live on.
        log('connection attempt to %s:%d failed unexpectedly: %O', host.host, host.port, err);
        this.conn?.close('internal error', err as Error);
        this.conn = undefined;
      }
    }
  }

  /** Waits a jittered, growing delay (50 ms → 1 s), cut short by close(). */
  private backoff(rounds: number): Promise<void> {
    const ms = Math.min(1000, 50 * 2 ** Math.min(rounds - 1, 5)) * (0.5 + Math.random() / 2);
    return new Promise((r) => {
      const t = setTimeout(() => {
        this.wake = undefined;
        r();
      }, ms);
      this.wake = () => {
        clearTimeout(t);
        this.wake = undefined;
        r();
      };
    });
  }

  /** One attempt on one server, its addresses in turn; resolves once that connection is over. Returns whether it connected. */
  private async attempt(host: HostPort): Promise<boolean> {
    let addresses: string[];
    try {
      addresses = await resolve(host);
    } catch (err) {
      log('resolve %s failed: %s', host.host, (err as Error).message);
      return false;
    }
    for (const address of addresses) {
      if (this.terminal) return false;
      const { conn, ready } = this.open(host, address);
      this.opening = conn; // so that close() or an expiry cuts a handshake short
      let response: ConnectResponse;
      try {
        response = await ready;
      } catch (err) {
        log('connect to %s (%s):%d failed: %s', host.host, address, host.port, (err as Error).message);
        this.reportFailure(host, err as Error);
        continue;
      } finally {
        this.opening = undefined;
      }
      if (this.terminal) {
        conn.close();
        return false;
      }
      if (response.timeoutMs <= 0) {
        conn.close('session expired');
        this.expire('server');
        return false;
      }
      return this.serve(host, conn, response);
    }
    return false;
  }

  /** Opens a connection to one address of `host`, asking for this session (identity.ts says which). */
  private open(host: HostPort, address: string): ReturnType<typeof Connection.open> {
    return Connection.open(
      {
        address,
        port: host.port,
        host: host.host,
        maxFrameBytes: this.maxFrameBytes,
        tls: this.options.tls,
        writer: sharedWriter,
        // At most a third of the session timeout, however few the hosts: a server that accepts the
        // connection but never answers (ZooKeeper 3.8.0 does so to a connection that arrives while
        // it starts, ZOOKEEPER-5051; a paused one too) must leave time for more attempts before
        // the session expires.
        connectTimeoutMs: Math.max(1, Math.floor(this.identity.negotiatedMs / Math.max(3, this.hosts.size))),
        handler: { onHeader: (h) => this.identity.onHeader(this.incoming.seen(h)), onSpecial: (h, r) => this.incoming.handle(h, r) },
      },
      this.identity.request(this.options.canBeReadOnly ?? false),
    );
  }

  private reportFailure(host: HostPort, error: Error): void {
    try {
      this.options.onConnectFailed?.({ server: `${host.host}:${host.port}`, error });
    } catch (err) {
      callbackThrew('onConnectFailed', err);
    }
  }

  /** Runs one connection whose handshake succeeded, until it ends. Returns whether it was primed. */
  private async serve(host: HostPort, conn: Connection, response: ConnectResponse): Promise<boolean> {
    const newSession = this.identity.adopt(response);
    this.conn = conn;
    this._server = host;
    conn.startTimers(response.timeoutMs);
    this.incoming.watchFrames(conn, response.timeoutMs, `${host.host}:${host.port}`); // a read timeout in whole frames (incoming.ts)
    const primed = await this.prime(conn);
    if (primed && conn.open && !this.terminal) this.goUp(host, conn, response.readOnly, newSession);
    const reason = await conn.closed;
    this.conn = undefined;
    this.reserved.failAll();
    if (!this.terminal) this.onDisconnected(reason.message);
    return primed;
  }

  /**
   * Credentials first, then the watches; waits for the auth replies (a rejected credential ends
   * the session here, before any request of the caller runs without it).
   */
  private async prime(conn: Connection): Promise<boolean> {
    const replies = sendCredentials(conn, this.options.auth ?? [], this.reserved);
    sendSetWatches(conn, this.watches, this.identity.lastZxid, this.chroot, this.reserved);
    if (replies.length === 0) return true;
    // The connection may end before the answers come: then there is nothing to wait for.
    const codes = await Promise.race([Promise.all(replies), conn.closed.then(() => [-4])]);
    const bad = codes.find((c) => c !== 0);
    if (bad === undefined) return true;
    if (bad === -115) {
      this.terminate('authFailed');
      conn.close('authentication failed');
    }
    return false;
  }

  /** Requests may flow: the session is up on `conn`. */
  private goUp(host: HostPort, conn: Connection, readOnly: boolean, newSession: boolean): void {
    clearTimeout(this.expiryTimer);
    this.expiryTimer = undefined;
    this.setState(readOnly ? 'readOnly' : 'connected');
    emitSafely(this.events, 'connected', { sessionId: this.sessionId, readOnly, newSession, server: `${host.host}:${host.port}` });
    // /zookeeper/config names the plain client ports only: a TLS client keeps its own list.
    if (this.options.followConfig !== false && !this.options.tls && !readOnly) this.config.read(conn);
    if (readOnly) void seekReadWrite(this, conn);
  }

  private onDisconnected(reason: string): void {
    log('disconnected from %s: %s', this._server ? `${this._server.host}:${this._server.port}` : '?', reason);
    const wasUp = this._state === 'connected' || this._state === 'readOnly';
    this.setState('connecting');
    if (wasUp) emitSafely(this.events, 'disconnected', { reason });
    // Past a whole session timeout without a connection the server has expired us: say so now.
    if (!this.expiryTimer && this.identity.established) {
      this.expiryTimer = setTimeout(() => {
        this.expiryTimer = undefined;
        if (this._state === 'connecting') this.expire('timeout');
      }, this.identity.negotiatedMs);
      this.expiryTimer.unref();
    }
  }

  private expire(reason: 'server' | 'timeout'): void {
    if (this.terminal) return;
    this.terminate('expired');
    emitSafely(this.events, 'expired', { reason });
  }

  private terminate(state: 'expired' | 'authFailed' | 'closed'): void {
    clearTimeout(this.expiryTimer);
    this.expiryTimer = undefined;
    this.watches.clear();
    this.setState(state);
    if (state === 'authFailed') emitSafely(this.events, 'authFailed');
    this.wake?.();
    this.opening?.close(`client ${state}`);
    const conn = this.conn;
    if (conn && state !== 'closed') conn.close(state === 'expired' ? 'session expired' : 'authentication failed');
  }
}
