/**
 * The session: one ZooKeeper session (and the native handle behind it) with a promise API, typed
 * errors, a connection-state machine, retries of what is safe to retry, protected creates,
 * container parents, a namespace, ACLs and guaranteed deletes. Recipes hold a session, never the
 * native handle.
 *
 * Connection states (the `state` property, and an event for each change):
 *
 * | state        | meaning                                                                  |
 * |--------------|--------------------------------------------------------------------------|
 * | `connecting` | first connection not yet made                                            |
 * | `connected`  | connected; emitted as `connected` first, `reconnected` after a drop      |
 * | `suspended`  | connection dropped; the session (and its ephemeral nodes) may still live |
 * | `lost`       | the session expired, or was suspended longer than its timeout            |
 * | `closed`     | `close()` was called; every call fails with `CLOSED`                     |
 *
 * After `lost` the session opens a new ZooKeeper session by itself (unless
 * `reconnectAfterLost: false`): `sessionId` changes and `reconnected` fires with `newSession: true`.
 * @module
 */
import { randomUUID } from 'node:crypto';
import createDebug from 'debug';
import { EventEmitter } from 'eventemitter3';
import pRetry from 'p-retry';
import { loadBinding, Z, type BindingHandle, type NativeHandle, type RawAcl, type RawStat, type RawWatcher } from './binding.js';
import {
  ClosedError, ConnectionLossError, ConnectTimeoutError, InvalidArgumentError, NoNodeError, NodeExistsError,
  NotEmptyError, ZkError, fromBindingError, fromRc, isRetryable,
} from './errors.js';
import { MAX_DATA_BYTES, joinPath, nodeName, parentOf, validatePath } from './paths.js';
import { deferred, type Deferred } from './wait.js';
import { NOT_CONNECTED, holdFreeFds, releaseFds } from './fd-guard.js';

const log = createDebug('zk-recipes:session');

/** A node's metadata. zxids are numbers (exact up to 2^53, far beyond any real zxid). */
export interface Stat {
  /** zxid of the create. */
  czxid: number;
  /** zxid of the last data change. */
  mzxid: number;
  /** zxid of the last change to the children (create or delete of a child). */
  pzxid: number;
  /** Creation time. */
  ctime: Date;
  /** Last modification time. */
  mtime: Date;
  /** Data version. */
  version: number;
  /** Children version. */
  cversion: number;
  /** ACL version. */
  aversion: number;
  /** Session id (hex) owning an ephemeral node; `'0'` for other nodes. */
  ephemeralOwner: string;
  /** Bytes of data. */
  dataLength: number;
  /** Number of children. */
  numChildren: number;
}

/** How a node is created. `_ttl` modes need a server with `extendedTypesEnabled`. */
export type CreateMode =
  | 'persistent'
  | 'ephemeral'
  | 'persistent_sequential'
  | 'ephemeral_sequential'
  | 'container'
  | 'persistent_ttl'
  | 'persistent_sequential_ttl';

const MODE_FLAGS: Record<CreateMode, number> = {
  persistent: Z.PERSISTENT,
  ephemeral: Z.EPHEMERAL,
  persistent_sequential: Z.PERSISTENT_SEQUENTIAL,
  ephemeral_sequential: Z.EPHEMERAL_SEQUENTIAL,
  container: Z.CONTAINER,
  persistent_ttl: Z.PERSISTENT_WITH_TTL,
  persistent_sequential_ttl: Z.PERSISTENT_SEQUENTIAL_WITH_TTL,
};

/** One ACL entry. `perms` is a bit set of {@link Perms}. */
export interface Acl {
  /** Permission bits. */
  perms: number;
  /** `world`, `auth`, `digest`, `ip`, ... */
  scheme: string;
  /** The id within the scheme (`anyone`, `user:base64(sha1)`, ...). */
  id: string;
}

/** ACL permission bits: OR them together for an {@link Acl}'s `perms`. */
export const Perms = {
  /** Read the node's data and list its children. */
  READ: 1,
  /** Set the node's data. */
  WRITE: 2,
  /** Create children. */
  CREATE: 4,
  /** Delete children. */
  DELETE: 8,
  /** Set the node's ACL. */
  ADMIN: 16,
  /** All of the above. */
  ALL: 31,
} as const;

/** Ready-made ACLs. */
export const Acls = {
  /** Anyone may do anything (ZooKeeper's `OPEN_ACL_UNSAFE`). */
  OPEN: [{ perms: Perms.ALL, scheme: 'world', id: 'anyone' }] as readonly Acl[],
  /** Only the authenticated creator (ZooKeeper's `CREATOR_ALL_ACL`): needs `auth` on the session. */
  CREATOR_ALL: [{ perms: Perms.ALL, scheme: 'auth', id: '' }] as readonly Acl[],
  /** Anyone may read. */
  READ_ONLY: [{ perms: Perms.READ, scheme: 'world', id: 'anyone' }] as readonly Acl[],
};

/** A node event delivered to a one-shot watch. Session events never reach node watches. */
export interface WatchEvent {
  /** What happened to the node. `notwatching`: the server removed the watch. */
  type: 'created' | 'deleted' | 'changed' | 'child' | 'notwatching';
  /** The watched path (namespace removed). */
  path: string;
}

/** A one-shot watch callback. */
export type Watcher = (event: WatchEvent) => void;

/** Options of reads that can leave a watch. */
export interface WatchOptions {
  /** Called once when the node (or its children) next changes. Never called for session events. */
  watch?: Watcher | undefined;
}

/** Data accepted by `create` and `set`. */
export type NodeData = Buffer | Uint8Array | string;

/** Options of {@link ZkSession.create}. */
export interface CreateOptions {
  /** @default 'persistent' */
  mode?: CreateMode;
  /** Create missing parents (as containers unless `parentMode` says otherwise). @default false */
  createParents?: boolean;
  /** Mode of parents created by `createParents`. @default 'container' */
  parentMode?: 'container' | 'persistent';
  /**
   * Protected create: the name gets Curator's `_c_<uuid>-` prefix so that, after a connection
   * loss during the create, the session finds its own node instead of creating a second one.
   * @default false
   */
  protected?: boolean;
  /** Time to live for `_ttl` modes, in ms. */
  ttlMs?: number;
  /** ACL to set on the node (and on created parents). @default the session's `defaultAcl` */
  acl?: readonly Acl[];
}

/** Options of {@link ZkSession.delete}. */
export interface DeleteOptions {
  /** Expected data version; `-1` (default) matches any. */
  version?: number;
  /** Delete the children first, depth-first. @default false */
  recursive?: boolean;
  /**
   * Keep retrying in the background after a connection loss until the node is gone or the session
   * is closed (Curator's `guaranteed()`); the call itself resolves once the first attempt either
   * succeeded or was handed to the background. @default false
   */
  guaranteed?: boolean;
}

/** Retry policy for retryable failures (connection loss, operation timeout). */
export interface RetryOptions {
  /** Retries after the first attempt. @default 5 */
  retries?: number;
  /** First delay. @default 100 */
  minDelayMs?: number;
  /** Largest delay. @default 5000 */
  maxDelayMs?: number;
  /** Growth of the delay per retry. @default 2 */
  factor?: number;
}

/** Authentication, e.g. `{ scheme: 'digest', credentials: 'user:password' }`. */
export interface AuthInfo {
  /** Auth scheme. @default 'digest' */
  scheme?: string;
  /** Scheme-specific credentials; never logged. */
  credentials: string;
}

/** Options of {@link ZkSession.connect}. */
export interface SessionOptions {
  /** Requested session timeout; the server may negotiate it into [2, 20] ticks. @default 10000 */
  sessionTimeoutMs?: number;
  /** How long `connect` waits for the first connection. @default 15000 */
  connectTimeoutMs?: number;
  /** A chroot prefix applied to every path, e.g. `/my-app`. Created on connect if missing. */
  namespace?: string;
  /** Retry policy for retryable failures. */
  retry?: RetryOptions;
  /** Authentication added to every handle of this session. */
  auth?: AuthInfo | readonly AuthInfo[];
  /** ACL given to every node this session creates, unless `create` says otherwise. @default Acls.OPEN */
  defaultAcl?: readonly Acl[];
  /** After `lost`, open a new ZooKeeper session by itself. @default true */
  reconnectAfterLost?: boolean;
  /**
   * Log level of the native C client, which writes straight to stderr (0 silent … 4 debug).
   * The setting is process-wide. @default 0
   */
  nativeLogLevel?: 0 | 1 | 2 | 3 | 4;
}

/** Connection state of a session. */
export type ConnectionState = 'connecting' | 'connected' | 'suspended' | 'lost' | 'closed';

/** Typed events of a {@link ZkSession}. */
export interface SessionEvents {
  /** First connection made. */
  connected: [info: {
    /** The session id (hex, as {@link ZkSession.sessionId}). */
    sessionId: string;
  }];
  /** The connection dropped; the session may still be alive on the server. */
  suspended: [];
  /** Connected again: the same session (`newSession: false`) or a new one after `lost`. */
  reconnected: [info: {
    /** The session id now in use (hex). */
    sessionId: string;
    /** True when this is a new session (after `lost`): every ephemeral node and watch of the old one is gone. */
    newSession: boolean;
  }];
  /** The session is gone: expired on the server, or suspended longer than its timeout. */
  lost: [info: {
    /** The id of the session that was lost (hex). */
    sessionId: string;
    /**
     * `expired`: the server expired it; `timeout`: suspended longer than the session timeout;
     * `auth_failed`: the server rejected the credentials.
     */
    reason: 'expired' | 'timeout' | 'auth_failed';
  }];
  /** `close()` was called. */
  closed: [];
  /** Every state change. */
  state: [state: ConnectionState, previous: ConnectionState];
}

/** @internal access to the session's credentials, for the test kit's real session expiry. */
export const kCredentials = Symbol('zk-recipes.credentials');

const DEFAULTS = { sessionTimeoutMs: 10000, connectTimeoutMs: 15000 };
const RETRY_DEFAULTS: Required<RetryOptions> = { retries: 5, minDelayMs: 100, maxDelayMs: 5000, factor: 2 };

function toStat(s: RawStat): Stat {
  return s as Stat; // the binding's object already has exactly these fields
}

function toData(data: NodeData | undefined, op: string, path: string): Buffer | string {
  if (data === undefined) return '';
  if (typeof data === 'string') {
    if (data.length > MAX_DATA_BYTES / 3 && Buffer.byteLength(data) > MAX_DATA_BYTES) tooLarge(Buffer.byteLength(data), op, path);
    return data;
  }
  if (data instanceof Uint8Array) {
    if (data.byteLength > MAX_DATA_BYTES) tooLarge(data.byteLength, op, path);
    return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  }
  throw new InvalidArgumentError(`${op} ${path}: data must be a Buffer, Uint8Array or string, got ${typeof data}`, { op, path });
}

function tooLarge(n: number, op: string, path: string): never {
  throw new InvalidArgumentError(`${op} ${path}: data is ${n} bytes, over ZooKeeper's limit of ${MAX_DATA_BYTES}`, { op, path });
}

function eventType(t: number): WatchEvent['type'] {
  switch (t) {
    case Z.CREATED_EVENT: return 'created';
    case Z.DELETED_EVENT: return 'deleted';
    case Z.CHANGED_EVENT: return 'changed';
    case Z.CHILD_EVENT: return 'child';
    default: return 'notwatching';
  }
}

function num(v: unknown, name: string, min: number, integer = true): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || (integer && !Number.isInteger(v))) {
    throw new InvalidArgumentError(`session: option ${name} must be ${integer ? 'an integer' : 'a number'} >= ${min}, got ${String(v)}`, { op: 'connect' });
  }
  return v;
}

function checkAcl(acl: unknown, name: string): readonly Acl[] {
  if (!Array.isArray(acl) || acl.length === 0 || !acl.every((a) => a && typeof a.perms === 'number' && typeof a.scheme === 'string' && typeof a.id === 'string')) {
    throw new InvalidArgumentError(`${name} must be a non-empty array of { perms, scheme, id }`, { op: name });
  }
  return acl as readonly Acl[];
}

interface Resolved {
  sessionTimeoutMs: number;
  connectTimeoutMs: number;
  namespace: string;
  retry: Required<RetryOptions>;
  auth: AuthInfo[];
  defaultAcl: readonly Acl[] | undefined;
  reconnectAfterLost: boolean;
  nativeLogLevel: number;
}

function resolveOptions(connectString: unknown, o: SessionOptions | undefined): Resolved {
  if (typeof connectString !== 'string' || !/^[^\s,/]+:\d+(,[^\s,/]+:\d+)*(\/.*)?$/.test(connectString)) {
    throw new InvalidArgumentError(`session: connectString must look like "host:port[,host:port...]", got ${JSON.stringify(connectString)}`, { op: 'connect' });
  }
  if (o !== undefined && (o === null || typeof o !== 'object')) throw new InvalidArgumentError('session: options must be an object', { op: 'connect' });
  const opts = o ?? {};
  const known = ['sessionTimeoutMs', 'connectTimeoutMs', 'namespace', 'retry', 'auth', 'defaultAcl', 'reconnectAfterLost', 'nativeLogLevel'];
  for (const k of Object.keys(opts)) if (!known.includes(k)) throw new InvalidArgumentError(`session: unknown option ${k}`, { op: 'connect' });
  const r = opts.retry ?? {};
  if (typeof r !== 'object' || r === null) throw new InvalidArgumentError('session: option retry must be an object', { op: 'connect' });
  let namespace = '';
  if (opts.namespace !== undefined) {
    validatePath(opts.namespace, 'session: option namespace');
    namespace = opts.namespace === '/' ? '' : opts.namespace;
  }
  const authList = opts.auth === undefined ? [] : Array.isArray(opts.auth) ? opts.auth : [opts.auth];
  for (const a of authList as AuthInfo[]) {
    if (!a || typeof a.credentials !== 'string' || (a.scheme !== undefined && typeof a.scheme !== 'string')) {
      throw new InvalidArgumentError('session: option auth must be { scheme?, credentials: string } (credentials not shown)', { op: 'connect' });
    }
  }
  const level = opts.nativeLogLevel ?? 0;
  if (![0, 1, 2, 3, 4].includes(level)) throw new InvalidArgumentError(`session: option nativeLogLevel must be 0..4, got ${String(level)}`, { op: 'connect' });
  if (opts.reconnectAfterLost !== undefined && typeof opts.reconnectAfterLost !== 'boolean') {
    throw new InvalidArgumentError('session: option reconnectAfterLost must be a boolean', { op: 'connect' });
  }
  return {
    sessionTimeoutMs: num(opts.sessionTimeoutMs ?? DEFAULTS.sessionTimeoutMs, 'sessionTimeoutMs', 1),
    connectTimeoutMs: num(opts.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs, 'connectTimeoutMs', 1),
    namespace,
    retry: {
      retries: num(r.retries ?? RETRY_DEFAULTS.retries, 'retry.retries', 0),
      minDelayMs: num(r.minDelayMs ?? RETRY_DEFAULTS.minDelayMs, 'retry.minDelayMs', 0),
      maxDelayMs: num(r.maxDelayMs ?? RETRY_DEFAULTS.maxDelayMs, 'retry.maxDelayMs', 0),
      factor: num(r.factor ?? RETRY_DEFAULTS.factor, 'retry.factor', 1, false),
    },
    auth: authList as AuthInfo[],
    defaultAcl: opts.defaultAcl === undefined ? undefined : checkAcl(opts.defaultAcl, 'session: option defaultAcl'),
    reconnectAfterLost: opts.reconnectAfterLost ?? true,
    nativeLogLevel: level,
  };
}

type RawCb = (rc: number, err: string, a?: unknown, b?: unknown) => void;

/**
 * A ZooKeeper session with a promise API. Create one with {@link ZkSession.connect} (which waits
 * for the first connection); release it with `close()` or `await using`. Each call waits for the
 * server's reply.
 *
 * Connection states: on `suspended` the session (and its ephemeral nodes and watches) may still
 * live on the server; calls wait for the connection (up to `connectTimeoutMs`) and retry what is
 * safe to retry (connection loss, operation timeout) with the `retry` policy, then fail with
 * `ConnectionLossError` (or `OperationTimeoutError`); registered watches survive a reconnect to the same session. If the
 * connection is not back within the session timeout the session is treated as `lost`. On `lost`
 * the ephemeral nodes and watches of the old session are gone (a watch never fires for session
 * events); calls in flight fail (with `SessionExpiredError`, or a `ClosedError` while the handle is
 * replaced: such a request may or may not have been applied); unless `reconnectAfterLost: false`
 * a new ZooKeeper session is opened, later calls wait for it, and `reconnected` fires with
 * `newSession: true`. After `close()` every call fails with `ClosedError`.
 */
export class ZkSession extends EventEmitter<SessionEvents> {
  /** The connect string given to `connect` (without credentials, which never appear in it). */
  readonly connectString: string;
  /** The namespace prefix ('' when none). */
  readonly namespace: string;
  private readonly opts: Resolved;
  private handle: BindingHandle | undefined;
  private native: NativeHandle | undefined;
  /** The handle whose closed socket's descriptor number is being held (src/fd-guard.ts). */
  private fdGuard: { native: NativeHandle } | undefined;
  private _state: ConnectionState = 'connecting';
  private _sessionId = '0';
  private lostTimer: NodeJS.Timeout | undefined;
  private waiters = new Set<Deferred<void>>();
  private backgroundDeletes = new Set<string>();
  private negotiatedTimeoutMs: number;
  private closedPromise: Promise<void> | undefined;
  private readonly connectedOnce = new WeakSet<BindingHandle>();
  private reopenDelayMs = 0;

  private constructor(connectString: string, opts: Resolved) {
    super();
    this.connectString = connectString;
    this.opts = opts;
    this.namespace = opts.namespace;
    this.negotiatedTimeoutMs = opts.sessionTimeoutMs;
  }

  /**
   * Connects to ZooKeeper. Resolves once connected (and the namespace node exists).
   * @param connectString - `host:port[,host:port...]`
   * @param options - see {@link SessionOptions}; each is validated, an error names the bad one
   * @throws InvalidArgumentError for bad options (nothing is opened)
   * @throws ConnectTimeoutError naming the connect string after `connectTimeoutMs`
   */
  static async connect(connectString: string, options?: SessionOptions): Promise<ZkSession> {
    const opts = resolveOptions(connectString, options);
    const session = new ZkSession(connectString, opts);
    const connected = session.nextConnected();
    session.openHandle();
    const timer = setTimeout(() => {
      connected.reject(new ConnectTimeoutError(`session: could not connect to ${connectString} within ${opts.connectTimeoutMs} ms`, { op: 'connect' }));
    }, opts.connectTimeoutMs);
    try {
      await connected.promise;
    } catch (err) {
      await session.close();
      throw err;
    } finally {
      clearTimeout(timer);
    }
    if (opts.namespace) await session.ensureNamespace();
    return session;
  }

  /** The current connection state. */
  get state(): ConnectionState {
    return this._state;
  }

  /** The current ZooKeeper session id (hex); changes after `lost` and a new session. */
  get sessionId(): string {
    return this._sessionId;
  }

  /** The session timeout the server granted, in ms. */
  get sessionTimeoutMs(): number {
    return this.negotiatedTimeoutMs;
  }

  /** Number of guaranteed deletes still being retried in the background. */
  get pendingDeletes(): number {
    return this.backgroundDeletes.size;
  }

  /** @internal session id and password, for a real server-side expiry in tests. */
  [kCredentials](): { clientId: string; password: string } {
    if (!this.handle) throw new ClosedError('session: no handle', { op: 'credentials' });
    return { clientId: this.handle.client_id, password: this.handle.client_password };
  }

  // ---- connection state machine -------------------------------------------------------------

  private openHandle(): void {
    const Binding = loadBinding();
    const handle = new Binding({
      connect: this.connectString,
      timeout: this.opts.sessionTimeoutMs,
      debug_level: this.opts.nativeLogLevel,
      host_order_deterministic: false,
      // The binding closes a handle as if its session had expired after 10 wake-ups in a row
      // with no complete response (`response_counter_limit`); while a server restarts on a busy
      // machine that fires in storms. The C client's own timeouts are the ones to trust.
      response_counter_limit: 2 ** 30,
    });
    this.handle = handle;
    this.native = handle.native;
    handle.on('connect', () => this.onConnect(handle));
    handle.on('connecting', () => this.onConnecting(handle));
    handle.on('close', (_self: unknown, rc: unknown) => this.onHandleClose(handle, Number(rc)));
    handle.init({});
    for (const a of this.opts.auth) {
      handle.native.add_auth(a.scheme ?? 'digest', a.credentials, (rc) => {
        if (rc !== 0) log('add_auth failed rc=%d (scheme %s)', rc, a.scheme ?? 'digest');
      });
    }
  }

  private setState(next: ConnectionState): void {
    const prev = this._state;
    if (prev === next) return;
    this._state = next;
    log('state %s -> %s (session 0x%s)', prev, next, this._sessionId);
    this.emit('state', next, prev);
  }

  private onConnect(handle: BindingHandle): void {
    if (handle !== this.handle || this._state === 'closed') return;
    clearTimeout(this.lostTimer);
    this.connectedOnce.add(handle);
    this.reopenDelayMs = 0;
    const id = handle.client_id;
    const prev = this._state;
    const newSession = id !== this._sessionId;
    this._sessionId = id;
    this.negotiatedTimeoutMs = handle.native.timeout || this.opts.sessionTimeoutMs;
    this.setState('connected');
    for (const w of this.waiters) w.resolve();
    this.waiters.clear();
    if (prev === 'connecting') this.emit('connected', { sessionId: id });
    else this.emit('reconnected', { sessionId: id, newSession });
  }

  private onConnecting(handle: BindingHandle): void {
    if (handle !== this.handle || this._state !== 'connected') return;
    this.setState('suspended');
    this.emit('suspended');
    // The server expires a silent session after its timeout; past that, our ephemerals are gone
    // for everyone else, so treat the session as lost now rather than when we hear of it.
    this.lostTimer = setTimeout(() => {
      if (this.handle === handle && this._state === 'suspended') this.sessionLost(handle, 'timeout');
    }, this.negotiatedTimeoutMs);
  }

  private onHandleClose(handle: BindingHandle, rc: number): void {
    if (handle !== this.handle || this._state === 'closed') return;
    if (rc === -112) this.sessionLost(handle, 'expired');
    else if (rc === -113 || rc === -115) this.sessionLost(handle, 'auth_failed');
    else log('handle closed unexpectedly rc=%d', rc);
  }

  private sessionLost(handle: BindingHandle, reason: 'expired' | 'timeout' | 'auth_failed'): void {
    clearTimeout(this.lostTimer);
    const sessionId = this._sessionId;
    this.handle = undefined;
    this.native = undefined;
    handle.removeAllListeners();
    try { handle.close(); } catch { /* already dead */ }
    this.setState('lost');
    this.emit('lost', { sessionId, reason });
    if (this._state !== 'lost') return; // a listener closed us
    if (this.opts.reconnectAfterLost && reason !== 'auth_failed') {
      // A handle lost before it ever connected must not be replaced in a tight loop.
      const delayMs = this.connectedOnce.has(handle) ? 0 : Math.min(Math.max(this.reopenDelayMs * 2, 50), 5000);
      this.reopenDelayMs = delayMs;
      if (delayMs === 0) this.openHandle();
      else setTimeout(() => { if (this._state === 'lost') this.openHandle(); }, delayMs);
    } else {
      void this.close();
    }
  }

  private nextConnected(): Deferred<void> {
    const d = deferred<void>();
    this.waiters.add(d);
    return d;
  }

  /**
   * Resolves when the session is connected (at once if it is).
   * @throws ClosedError when the session is closed first
   * @throws ConnectionLossError when not connected within `timeoutMs`
   */
  async waitConnected(timeoutMs: number = this.opts.connectTimeoutMs, op = 'waitConnected'): Promise<void> {
    if (this._state === 'connected') return;
    if (this._state === 'closed') throw new ClosedError(`${op}: session is closed`, { op });
    const d = this.nextConnected();
    const t = setTimeout(() => {
      this.waiters.delete(d);
      d.reject(new ConnectionLossError(`${op}: not connected to ${this.connectString} within ${timeoutMs} ms`, { op }));
    }, timeoutMs);
    try {
      await d.promise;
    } finally {
      clearTimeout(t);
    }
  }

  private async ensureNamespace(): Promise<void> {
    try {
      await this.mkdirs('/', 'persistent', this.opts.defaultAcl);
    } catch (err) {
      if (!(err instanceof NodeExistsError)) throw err;
    }
  }

  // ---- request plumbing ---------------------------------------------------------------------

  private full(path: string): string {
    if (!this.namespace) return path;
    return path === '/' ? this.namespace : this.namespace + path;
  }

  private strip(path: string): string {
    if (!this.namespace) return path;
    return path.length === this.namespace.length ? '/' : path.slice(this.namespace.length);
  }

  private wrapWatcher(w: Watcher): RawWatcher {
    return (type, _state, path) => {
      if (type === Z.SESSION_EVENT) return;
      w({ type: eventType(type), path: this.strip(path) });
    };
  }

  /** One attempt: issue the request on the current handle. */
  private call<T>(op: string, path: string, invoke: (n: NativeHandle, cb: RawCb) => number, map: (a: unknown, b: unknown) => T): Promise<T> {
    const native = this.native;
    if (!native || this._state === 'closed') {
      return Promise.reject(this._state === 'closed'
        ? new ClosedError(`${op} ${path}: session is closed`, { op, path })
        : new ConnectionLossError(`${op} ${path}: no connection (session ${this._state})`, { op, path }));
    }
    return new Promise<T>((resolve, reject) => {
      let rc: number;
      try {
        rc = invoke(native, (code, _err, a, b) => {
          if (code === 0) resolve(map(a, b));
          // -116 from a handle we replaced after `lost` (not from close()): the outcome is
          // unknown, as after any connection loss, and the request may be retried.
          else if (code === -116 && this._state !== 'closed') reject(new ConnectionLossError(`${op} ${path}: connection replaced (session ${this._state})`, { op, path, rc: code }));
          else reject(fromRc(code, op, path));
        });
      } catch (err) {
        reject(this._state === 'closed' ? new ClosedError(`${op} ${path}: session is closed`, { op, path, cause: err }) : fromBindingError(err, op, path));
        return;
      }
      if (native.state === NOT_CONNECTED) this.guardClosedSocket(native);
      if (typeof rc === 'number' && rc < 0) {
        reject(this._state === 'closed' || rc === -9 ? this.unusable(op, path, rc) : fromRc(rc, op, path));
      }
    });
  }

  /**
   * The C client closed its socket inside a request call: hold the free descriptor numbers until
   * it has a new socket (then the binding has dropped its stale poll handle). See src/fd-guard.ts.
   */
  private guardClosedSocket(native: NativeHandle): void {
    if (this.fdGuard?.native === native) return;
    const held = holdFreeFds();
    if (held.length === 0) return;
    log('socket closed inside a request call: holding %d free descriptor numbers until the client reconnects', held.length);
    const deadline = Date.now() + 2 * this.negotiatedTimeoutMs + 1000;
    const timer = setInterval(() => {
      const s = this.native === native ? native.state : -1;
      if (s === 1 || s === 2 || s === 3 || this.native !== native || Date.now() > deadline) {
        clearInterval(timer);
        releaseFds(held);
        if (this.fdGuard?.native === native) this.fdGuard = undefined;
      }
    }, 20);
    timer.unref();
    this.fdGuard = { native };
  }

  private unusable(op: string, path: string, rc: number): ZkError {
    if (this._state === 'closed') return new ClosedError(`${op} ${path}: session is closed`, { op, path, rc });
    return new ConnectionLossError(`${op} ${path}: handle not usable (session ${this._state})`, { op, path, rc });
  }

  /**
   * Runs `attempt`, retrying retryable failures (connection loss, operation timeout) with the
   * session's backoff, waiting for the connection to come back between attempts.
   */
  private async retrying<T>(op: string, path: string, attempt: () => Promise<T>): Promise<T> {
    if (this._state !== 'connected' && this._state !== 'closed') await this.waitConnected(this.opts.connectTimeoutMs, op).catch(() => undefined);
    try {
      return await attempt();
    } catch (err) {
      if (!isRetryable(err) || this.opts.retry.retries === 0) throw err;
      log('%s %s: %s; retrying', op, path, (err as Error).message);
    }
    const r = this.opts.retry;
    return pRetry(async () => {
      await this.waitConnected(this.negotiatedTimeoutMs, op);
      return attempt();
    }, {
      retries: r.retries - 1,
      minTimeout: r.minDelayMs,
      maxTimeout: r.maxDelayMs,
      factor: r.factor,
      randomize: true,
      shouldRetry: ({ error }) => isRetryable(error) && this._state !== 'closed',
    });
  }

  // ---- operations ---------------------------------------------------------------------------

  /**
   * Creates a node and returns its path (with the sequence suffix for sequential modes).
   * @param path - absolute path; for sequential modes the prefix the server appends to
   * @param data - payload (≤ 1 MB)
   * @param options - mode, parents, protection, TTL, ACL
   * @throws NodeExistsError, NoNodeError (parent missing and `createParents` off), NoAuthError, ...
   */
  async create(path: string, data?: NodeData, options: CreateOptions = {}): Promise<string> {
    const mode = options.mode ?? 'persistent';
    const flags = MODE_FLAGS[mode];
    if (flags === undefined) throw new InvalidArgumentError(`create ${path}: unknown mode ${String(mode)}`, { op: 'create', path });
    validatePath(path, 'create', flags === Z.PERSISTENT_SEQUENTIAL || flags === Z.EPHEMERAL_SEQUENTIAL || flags === Z.PERSISTENT_SEQUENTIAL_WITH_TTL);
    const bytes = toData(data, 'create', path);
    const ttl = options.ttlMs;
    const isTtl = mode === 'persistent_ttl' || mode === 'persistent_sequential_ttl';
    if (isTtl && (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl <= 0)) {
      throw new InvalidArgumentError(`create ${path}: mode ${mode} needs ttlMs, a positive integer`, { op: 'create', path });
    }
    const acl = options.acl === undefined ? this.opts.defaultAcl : checkAcl(options.acl, `create ${path}: option acl`);
    let target = path;
    let prefix: string | undefined;
    if (options.protected) {
      prefix = `_c_${randomUUID()}-`;
      target = joinPath(parentOf(path), prefix + nodeName(path));
    }
    const attempt = async (): Promise<string> => {
      if (prefix) {
        const mine = await this.findProtected(parentOf(path), prefix, mode);
        if (mine) return mine;
      }
      return this.createOnce(target, bytes, flags, ttl, options, acl);
    };
    let created: string;
    try {
      created = await this.createOnce(target, bytes, flags, ttl, options, acl);
    } catch (err) {
      if (!isRetryable(err)) throw err;
      // The create may have happened: a protected create looks for its node before trying again.
      created = await this.retrying('create', path, attempt);
    }
    return created;
  }

  private async createOnce(path: string, data: Buffer | string, flags: number, ttl: number | undefined, o: CreateOptions, acl: readonly Acl[] | undefined): Promise<string> {
    const full = this.full(path);
    const invoke = (n: NativeHandle, cb: RawCb) => (ttl ? n.a_create_ttl(full, data, flags, ttl, cb) : n.a_create(full, data, flags, cb));
    let created: string;
    try {
      created = await this.call('create', path, invoke, (p) => this.strip(p as string));
    } catch (err) {
      if (!(err instanceof NoNodeError) || !o.createParents) throw err;
      await this.mkdirs(parentOf(path), o.parentMode ?? 'container', acl);
      created = await this.call('create', path, invoke, (p) => this.strip(p as string));
    }
    if (acl && acl !== Acls.OPEN) await this.setAcl(created, acl);
    return created;
  }

  /** Creates `path` and its missing ancestors (containers by default). Existing nodes are kept. */
  private async mkdirs(path: string, mode: 'container' | 'persistent', acl: readonly Acl[] | undefined): Promise<void> {
    if (path === '/' && !this.namespace) return;
    const full = this.full(path);
    const flags = mode === 'container' ? Z.CONTAINER : Z.PERSISTENT;
    try {
      await this.retrying('create', path, () => this.call('create', path, (n, cb) => n.a_create(full, '', flags, cb), () => undefined));
      if (acl && acl !== Acls.OPEN) await this.setAcl(path, acl);
    } catch (err) {
      if (err instanceof NodeExistsError) return;
      if (!(err instanceof NoNodeError) || path === '/') throw err;
      await this.mkdirs(parentOf(path), mode, acl);
      await this.mkdirs(path, mode, acl);
    }
  }

  /** Finds a protected node by its `_c_<uuid>-` prefix; ephemerals only if owned by this session. */
  private async findProtected(parent: string, prefix: string, mode: CreateMode): Promise<string | undefined> {
    let children: string[];
    try {
      children = await this.getChildren(parent);
    } catch (err) {
      if (err instanceof NoNodeError) return undefined;
      throw err;
    }
    const name = children.find((c) => c.startsWith(prefix));
    if (!name) return undefined;
    const found = joinPath(parent, name);
    if (mode === 'ephemeral' || mode === 'ephemeral_sequential') {
      const stat = await this.exists(found);
      if (!stat || stat.ephemeralOwner !== this._sessionId) return undefined;
    }
    log('protected create: adopted %s after connection loss', found);
    return found;
  }

  /**
   * Reads a node's data and stat.
   * @throws NoNodeError
   */
  async get(path: string, options: WatchOptions = {}): Promise<{
    /** The node's data (empty when it has none). */
    data: Buffer;
    /** The node's stat at the time of the read. */
    stat: Stat;
  }> {
    validatePath(path, 'get');
    const full = this.full(path);
    const w = options.watch ? this.wrapWatcher(options.watch) : undefined;
    return this.retrying('get', path, () => this.call('get', path,
      (n, cb) => (w ? n.aw_get(full, w, cb) : n.a_get(full, false, cb)),
      (stat, data) => ({ data: (data as Buffer | undefined) ?? Buffer.alloc(0), stat: toStat(stat as RawStat) })));
  }

  /**
   * Writes a node's data; `version` (default -1, any) makes it a compare-and-set.
   * @throws NoNodeError, BadVersionError
   */
  async set(path: string, data: NodeData, options: { version?: number } = {}): Promise<Stat> {
    validatePath(path, 'set');
    const bytes = toData(data, 'set', path);
    const version = options.version ?? -1;
    if (!Number.isInteger(version) || version < -1) throw new InvalidArgumentError(`set ${path}: version must be an integer >= -1`, { op: 'set', path });
    const full = this.full(path);
    return this.retrying('set', path, () => this.call('set', path, (n, cb) => n.a_set(full, bytes, version, cb), (s) => toStat(s as RawStat)));
  }

  /**
   * Tells whether a node exists; with `watch`, the watch fires on create, change or delete.
   * @returns the stat, or null
   */
  async exists(path: string, options: WatchOptions = {}): Promise<Stat | null> {
    validatePath(path, 'exists');
    const full = this.full(path);
    const w = options.watch ? this.wrapWatcher(options.watch) : undefined;
    return this.retrying('exists', path, async () => {
      try {
        return await this.call('exists', path, (n, cb) => (w ? n.aw_exists(full, w, cb) : n.a_exists(full, false, cb)), (s) => toStat(s as RawStat));
      } catch (err) {
        if (err instanceof NoNodeError) return null;
        throw err;
      }
    });
  }

  /**
   * Lists a node's children (names, unordered).
   * @throws NoNodeError
   */
  async getChildren(path: string, options: WatchOptions = {}): Promise<string[]> {
    validatePath(path, 'getChildren');
    const full = this.full(path);
    const w = options.watch ? this.wrapWatcher(options.watch) : undefined;
    return this.retrying('getChildren', path, () => this.call('getChildren', path,
      (n, cb) => (w ? n.aw_get_children(full, w, cb) : n.a_get_children(full, false, cb)), (c) => c as string[]));
  }

  /**
   * Lists a node's children together with the node's own stat (one round trip). The stat's
   * `pzxid` is what recipes use as a fencing token.
   * @throws NoNodeError
   */
  async getChildrenWithStat(path: string, options: WatchOptions = {}): Promise<{
    /** Child names, unordered. */
    children: string[];
    /** The parent's stat, read atomically with the list (its `pzxid` changes with every child created or deleted). */
    stat: Stat;
  }> {
    validatePath(path, 'getChildren');
    const full = this.full(path);
    const w = options.watch ? this.wrapWatcher(options.watch) : undefined;
    return this.retrying('getChildren', path, () => this.call('getChildren', path,
      (n, cb) => (w ? n.aw_get_children2(full, w, cb) : n.a_get_children2(full, false, cb)),
      (c, s) => ({ children: c as string[], stat: toStat(s as RawStat) })));
  }

  /**
   * Deletes a node. A retried delete that finds the node gone counts as success.
   * @throws NoNodeError (first attempt only), BadVersionError, NotEmptyError (unless `recursive`)
   */
  async delete(path: string, options: DeleteOptions = {}): Promise<void> {
    validatePath(path, 'delete');
    if (path === '/') throw new InvalidArgumentError('delete: refusing to delete the root', { op: 'delete', path });
    const version = options.version ?? -1;
    if (!Number.isInteger(version) || version < -1) throw new InvalidArgumentError(`delete ${path}: version must be an integer >= -1`, { op: 'delete', path });
    if (options.recursive) return this.deleteRecursive(path);
    const full = this.full(path);
    const once = () => this.call('delete', path, (n, cb) => n.a_delete_(full, version, cb), () => undefined);
    try {
      await once();
      return;
    } catch (err) {
      if (!isRetryable(err)) throw err;
      if (options.guaranteed) {
        this.guaranteeDelete(path, version);
        return;
      }
    }
    try {
      await this.retrying('delete', path, once);
    } catch (err) {
      if (!(err instanceof NoNodeError)) throw err; // our earlier attempt may have done it
    }
  }

  private guaranteeDelete(path: string, version: number): void {
    if (this.backgroundDeletes.has(path)) return;
    this.backgroundDeletes.add(path);
    log('guaranteed delete of %s continues in the background', path);
    const full = this.full(path);
    const loop = async () => {
      let delayMs = this.opts.retry.minDelayMs;
      while (this._state !== 'closed') {
        try {
          await this.waitConnected(this.negotiatedTimeoutMs, 'delete');
          await this.call('delete', path, (n, cb) => n.a_delete_(full, version, cb), () => undefined);
          log('guaranteed delete of %s done', path);
          return;
        } catch (err) {
          if (err instanceof NoNodeError || err instanceof ClosedError) return;
          if (!isRetryable(err)) { log('guaranteed delete of %s failed: %s', path, (err as Error).message); return; }
        }
        await new Promise((r) => setTimeout(r, delayMs));
        delayMs = Math.min(delayMs * this.opts.retry.factor, this.opts.retry.maxDelayMs);
      }
    };
    void loop().finally(() => this.backgroundDeletes.delete(path));
  }

  private async deleteRecursive(path: string): Promise<void> {
    let children: string[];
    try {
      children = await this.getChildren(path);
    } catch (err) {
      if (err instanceof NoNodeError) return;
      throw err;
    }
    await Promise.all(children.map((c) => this.deleteRecursive(joinPath(path, c))));
    try {
      await this.delete(path);
    } catch (err) {
      if (err instanceof NoNodeError) return;
      if (err instanceof NotEmptyError) return this.deleteRecursive(path); // a child appeared meanwhile
      throw err;
    }
  }

  /** Makes this server catch up with the leader for `path` (before a read that must be current). */
  async sync(path: string): Promise<void> {
    validatePath(path, 'sync');
    const full = this.full(path);
    return this.retrying('sync', path, () => this.call('sync', path, (n, cb) => n.a_sync(full, cb), () => undefined));
  }

  /** Reads a node's ACL. */
  async getAcl(path: string): Promise<{
    /** The node's ACL entries. */
    acl: Acl[];
    /** The node's stat (`aversion` is the ACL version). */
    stat: Stat;
  }> {
    validatePath(path, 'getAcl');
    const full = this.full(path);
    return this.retrying('getAcl', path, () => this.call('getAcl', path, (n, cb) => n.a_get_acl(full, cb),
      (acl, stat) => ({ acl: (acl as RawAcl[]).map((a) => ({ perms: a.perms, scheme: a.scheme, id: a.auth })), stat: toStat(stat as RawStat) })));
  }

  /** Replaces a node's ACL; `version` (default -1) is the expected ACL version. */
  async setAcl(path: string, acl: readonly Acl[], options: { version?: number } = {}): Promise<void> {
    validatePath(path, 'setAcl');
    checkAcl(acl, `setAcl ${path}: acl`);
    const full = this.full(path);
    const raw = acl.map((a) => ({ perm: a.perms, scheme: a.scheme, auth: a.id }));
    return this.retrying('setAcl', path, () => this.call('setAcl', path, (n, cb) => n.a_set_acl(full, options.version ?? -1, raw, cb), () => undefined));
  }

  /**
   * Closes the session: its ephemeral nodes go at once, pending waits settle with `CLOSED`, and
   * every later call fails with `CLOSED`. Idempotent.
   */
  close(): Promise<void> {
    if (this.closedPromise) return this.closedPromise;
    clearTimeout(this.lostTimer);
    const handle = this.handle;
    this.handle = undefined;
    this.native = undefined;
    this.setState('closed');
    for (const w of this.waiters) w.reject(new ClosedError('session: closed', { op: 'close' }));
    this.waiters.clear();
    this.closedPromise = new Promise<void>((resolve) => {
      if (!handle) return resolve();
      handle.removeAllListeners();
      handle.on('close', () => resolve());
      const t = setTimeout(resolve, 2000); // never let close() hang on a dead connection
      t.unref();
      try { handle.close(); } catch { resolve(); }
    }).then(() => { this.emit('closed'); });
    return this.closedPromise;
  }

  /** `await using session = await ZkSession.connect(...)` closes it at the end of the scope. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
