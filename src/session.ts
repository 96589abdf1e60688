/**
 * The session: one ZooKeeper session after another (each a transport: the TypeScript client by
 * default, the native binding as an option) with a promise API, typed errors, a connection-state
 * machine, retries of what is safe to retry, protected creates, container parents, a namespace,
 * ACLs at create, transactions, persistent watches and guaranteed deletes. Recipes hold a
 * session, never the transport.
 *
 * Connection states (the `state` property, and an event for each change):
 *
 * | state        | meaning                                                                  |
 * |--------------|--------------------------------------------------------------------------|
 * | `connecting` | first connection not yet made                                            |
 * | `connected`  | connected; emitted as `connected` first, `reconnected` after a drop      |
 * | `suspended`  | connection dropped; the session (and its ephemeral nodes) may still live |
 * | `readOnly`   | on a read-only server (only with `canBeReadOnly`): reads work, writes fail |
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
import { emitSafely } from './listeners.js';
import pRetry from 'p-retry';
import { ZkClient } from './client/client.js';
import type { TlsOptions } from './client/connection.js';
import { parseConnectString } from './client/hosts.js';
import { CreateFlag as Z } from './client/records.js';
import {
  ClosedError, ConnectionLossError, ConnectTimeoutError, InvalidArgumentError, NoNodeError, NodeExistsError,
  NotEmptyError, ZkError, fromRc, isRetryable,
} from './errors.js';
import { openNativeTransport } from './native.js';
import { MAX_DATA_BYTES, joinPath, nodeName, parentOf, validatePath } from './paths.js';
import type { ClientWatcher, MultiOp, MultiResult, Transport, TransportName, WatchKind } from './transport.js';
import { deferred, type Deferred } from './wait.js';

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
  persistent: Z.persistent,
  ephemeral: Z.ephemeral,
  persistent_sequential: Z.persistentSequential,
  ephemeral_sequential: Z.ephemeralSequential,
  container: Z.container,
  persistent_ttl: Z.persistentWithTtl,
  persistent_sequential_ttl: Z.persistentSequentialWithTtl,
};
const SEQUENTIAL = new Set<number>([Z.persistentSequential, Z.ephemeralSequential, Z.persistentSequentialWithTtl]);

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
   * Protected create: the name gets a `_c_<uuid>-` marker so that, after a connection loss during
   * the create, the session finds its own node (after a `sync`, so a create applied late by the
   * leader is seen) instead of creating a second one. `true` puts the marker first (Curator's
   * protection, as its locks and latches name their nodes); `'beforeSequence'` puts it at the end
   * of the given name, right before the server's sequence number (queue items keep Curator's
   * `queue-` prefix that Curator's consumers require).
   * @default false
   */
  protected?: boolean | 'beforeSequence';
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
   * `'client'`: the library's own TypeScript client (no native code). `'native'`: the `zookeeper`
   * binding (an optional peer dependency, install it yourself), which has no multi, persistent
   * watches, ACL at create or TLS: those fail with `UnsupportedError`. @default 'client'
   */
  transport?: TransportName;
  /**
   * Accept a server in read-only mode when no quorum can be reached: the state is `readOnly`,
   * reads work, writes fail with `NotReadOnlyError`; the session moves to a read-write server
   * when one appears. @default false
   */
  canBeReadOnly?: boolean;
  /** TLS to the servers' `secureClientPort` (CA, client certificate and key, server name). Off by default. */
  tls?: TlsOptions;
  /** Largest reply frame accepted (ZooKeeper's `jute.maxbuffer` on the client side). @default 1 MB + 64 KB */
  maxFrameBytes?: number;
  /**
   * Log level of the native C client (`transport: 'native'` only), which writes straight to
   * stderr (0 silent … 4 debug). The setting is process-wide. @default 0
   */
  nativeLogLevel?: 0 | 1 | 2 | 3 | 4;
}

/** Connection state of a session. */
export type ConnectionState = 'connecting' | 'connected' | 'readOnly' | 'suspended' | 'lost' | 'closed';

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

const EMPTY = Buffer.alloc(0);

function toData(data: NodeData | undefined, op: string, path: string): Uint8Array {
  if (data === undefined) return EMPTY;
  if (typeof data === 'string') {
    const b = Buffer.from(data, 'utf8');
    if (b.length > MAX_DATA_BYTES) tooLarge(b.length, op, path);
    return b;
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
  transport: TransportName;
  canBeReadOnly: boolean;
  tls: TlsOptions | undefined;
  maxFrameBytes: number | undefined;
  nativeLogLevel: number;
}

function resolveOptions(connectString: unknown, o: SessionOptions | undefined): Resolved {
  if (typeof connectString !== 'string' || !/^(\[[0-9a-fA-F:.]+\]|[^\s,/[\]]+):\d+(,(\[[0-9a-fA-F:.]+\]|[^\s,/[\]]+):\d+)*(\/.*)?$/.test(connectString)) {
    throw new InvalidArgumentError(`session: connectString must look like "host:port[,host:port...][/chroot]", got ${JSON.stringify(connectString)}`, { op: 'connect' });
  }
  parseConnectString(connectString);
  if (o !== undefined && (o === null || typeof o !== 'object')) throw new InvalidArgumentError('session: options must be an object', { op: 'connect' });
  const opts = o ?? {};
  const known = ['sessionTimeoutMs', 'connectTimeoutMs', 'namespace', 'retry', 'auth', 'defaultAcl', 'reconnectAfterLost', 'transport', 'canBeReadOnly', 'tls', 'maxFrameBytes', 'nativeLogLevel'];
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
  const transport = opts.transport ?? 'client';
  if (transport !== 'client' && transport !== 'native') throw new InvalidArgumentError(`session: option transport must be 'client' or 'native', got ${String(transport)}`, { op: 'connect' });
  if (opts.canBeReadOnly !== undefined && typeof opts.canBeReadOnly !== 'boolean') throw new InvalidArgumentError('session: option canBeReadOnly must be a boolean', { op: 'connect' });
  if (opts.tls !== undefined && (opts.tls === null || typeof opts.tls !== 'object')) throw new InvalidArgumentError('session: option tls must be an object { ca?, cert?, key?, servername?, rejectUnauthorized? }', { op: 'connect' });
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
    transport,
    canBeReadOnly: opts.canBeReadOnly ?? false,
    tls: opts.tls,
    maxFrameBytes: opts.maxFrameBytes === undefined ? undefined : num(opts.maxFrameBytes, 'maxFrameBytes', 1024),
    nativeLogLevel: level,
  };
}

/** One write of a {@link ZkSession.multi} transaction. */
export type TxnOp =
  | {
    /** Create a node. */
    op: 'create';
    /** The node's path (a sequential mode's prefix). */
    path: string;
    /** Payload (≤ 1 MB). */
    data?: NodeData;
    /** @default 'persistent' */
    mode?: CreateMode;
    /** @default the session's `defaultAcl` */
    acl?: readonly Acl[];
    /** For `_ttl` modes. */
    ttlMs?: number;
  }
  | {
    /** Delete a node. */
    op: 'delete';
    /** The node's path. */
    path: string;
    /** Expected data version; -1 (default) matches any. */
    version?: number;
  }
  | {
    /** Write a node's data. */
    op: 'set';
    /** The node's path. */
    path: string;
    /** New payload. */
    data: NodeData;
    /** Expected data version; -1 (default) matches any. */
    version?: number;
  }
  | {
    /** Check a node's data version (the transaction fails unless it matches). */
    op: 'check';
    /** The node's path. */
    path: string;
    /** Expected data version. */
    version: number;
  };

/** The result of one op of a committed transaction, in the order of the ops. */
export type TxnResult =
  | {
    /** A create. */
    op: 'create';
    /** The created path (with the sequence suffix). */
    path: string;
  }
  | {
    /** A delete. */
    op: 'delete';
  }
  | {
    /** A data write. */
    op: 'set';
    /** The node's new stat. */
    stat: Stat;
  }
  | {
    /** A version check. */
    op: 'check';
  };

/** A persistent watch from {@link ZkSession.addWatch}: remove it with `remove()` or `await using`. */
export interface PersistentWatch {
  /** The watched path. */
  readonly path: string;
  /** Whether it covers the whole subtree. */
  readonly recursive: boolean;
  /** Removes the watch (on the server too). Idempotent. */
  remove(): Promise<void>;
  /** Same as `remove()`. */
  [Symbol.asyncDispose](): Promise<void>;
}

interface PersistentEntry {
  path: string;
  recursive: boolean;
  watcher: ClientWatcher;
}

/**
 * A ZooKeeper session with a promise API. Create one with {@link ZkSession.connect} (which waits
 * for the first connection); release it with `close()` or `await using`. Each call waits for the
 * server's reply.
 *
 * Connection states: on `suspended` the session (and its ephemeral nodes and watches) may still
 * live on the server; calls wait for the connection (up to `connectTimeoutMs`) and retry what is
 * safe to retry (connection loss, operation timeout) with the `retry` policy, then fail with
 * `ConnectionLossError` (or `OperationTimeoutError`); registered watches survive a reconnect to
 * the same session (they are set again on the new connection, and one-shot watches fire for
 * changes made meanwhile).
 * If the connection is not back within the session timeout the session is treated as `lost`. On
 * `lost` the ephemeral nodes and one-shot watches of the old session are gone (a watch never
 * fires for session events); calls in flight fail with `ConnectionLossError` (they may or may not
 * have been applied); unless `reconnectAfterLost: false` a new ZooKeeper session is opened, later
 * calls wait for it, persistent watches are added again, and `reconnected` fires with
 * `newSession: true`. After `close()` every call fails with `ClosedError`.
 */
export class ZkSession extends EventEmitter<SessionEvents> {
  /** The connect string given to `connect` (without credentials, which never appear in it). */
  readonly connectString: string;
  /** The namespace prefix ('' when none). */
  readonly namespace: string;
  /** The transport in use: `'client'` (default) or `'native'`. */
  readonly transport: TransportName;
  private readonly opts: Resolved;
  private t: Transport | undefined;
  private _state: ConnectionState = 'connecting';
  private _sessionId = '0';
  private waiters = new Set<Deferred<void>>();
  private backgroundDeletes = new Set<string>();
  private negotiatedTimeoutMs: number;
  private closedPromise: Promise<void> | undefined;
  private readonly connectedOnce = new WeakSet<Transport>();
  private reopenDelayMs = 0;
  private readonly persistent = new Set<PersistentEntry>();

  private constructor(connectString: string, opts: Resolved) {
    super();
    this.connectString = connectString;
    this.opts = opts;
    this.namespace = opts.namespace;
    this.transport = opts.transport;
    this.negotiatedTimeoutMs = opts.sessionTimeoutMs;
  }

  /**
   * Connects to ZooKeeper. Resolves once connected (and the namespace node exists).
   * @param connectString - `host:port[,host:port...][/chroot]` (IPv6 as `[::1]:2181`)
   * @param options - see {@link SessionOptions}; each is validated, an error names the bad one
   * @throws InvalidArgumentError for bad options (nothing is opened)
   * @throws ConnectTimeoutError naming the connect string after `connectTimeoutMs`
   * @throws AuthFailedError when the server rejects the credentials
   */
  static async connect(connectString: string, options?: SessionOptions): Promise<ZkSession> {
    const opts = resolveOptions(connectString, options);
    const session = new ZkSession(connectString, opts);
    const connected = session.nextConnected();
    const onLost = (info: { reason: string }) => {
      if (info.reason === 'auth_failed') connected.reject(fromRc(-115, 'connect', undefined));
    };
    session.on('lost', onLost);
    session.openTransport();
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
      session.off('lost', onLost);
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
  [kCredentials](): { clientId: string; password: Buffer; transport: TransportName } {
    if (!this.t) throw new ClosedError('session: no transport', { op: 'credentials' });
    return { clientId: this.t.sessionId, password: this.t.sessionPassword, transport: this.transport };
  }

  // ---- connection state machine -------------------------------------------------------------

  private openTransport(): void {
    const o = this.opts;
    const auth = o.auth.map((a) => ({ scheme: a.scheme ?? 'digest', credentials: a.credentials }));
    const t: Transport = o.transport === 'native'
      ? openNativeTransport(this.connectString, { sessionTimeoutMs: o.sessionTimeoutMs, auth, canBeReadOnly: o.canBeReadOnly, tls: o.tls, maxFrameBytes: o.maxFrameBytes, nativeLogLevel: o.nativeLogLevel })
      : new ZkClient(this.connectString, { sessionTimeoutMs: o.sessionTimeoutMs, auth, canBeReadOnly: o.canBeReadOnly, tls: o.tls, maxFrameBytes: o.maxFrameBytes });
    this.t = t;
    t.on('connected', (info) => this.onConnect(t, info.readOnly));
    t.on('disconnected', () => this.onDisconnected(t));
    t.on('expired', ({ reason }) => this.sessionLost(t, reason === 'server' ? 'expired' : 'timeout'));
    t.on('authFailed', () => this.sessionLost(t, 'auth_failed'));
    t.start();
  }


  private setState(next: ConnectionState): void {
    const prev = this._state;
    if (prev === next) return;
    this._state = next;
    log('state %s -> %s (session 0x%s)', prev, next, this._sessionId);
    emitSafely(this, 'state', next, prev);
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
    if (newSession && prev !== 'connecting') this.readdPersistentWatches(t);
    this.setState(readOnly ? 'readOnly' : 'connected');
    for (const w of this.waiters) w.resolve();
    this.waiters.clear();
    if (prev === 'connecting') emitSafely(this, 'connected', { sessionId: id });
    else emitSafely(this, 'reconnected', { sessionId: id, newSession });
  }

  private onDisconnected(t: Transport): void {
    if (t !== this.t || (this._state !== 'connected' && this._state !== 'readOnly')) return;
    this.setState('suspended');
    emitSafely(this, 'suspended');
  }

  private sessionLost(t: Transport, reason: 'expired' | 'timeout' | 'auth_failed'): void {
    if (t !== this.t || this._state === 'closed') return;
    const sessionId = this._sessionId;
    this.t = undefined;
    t.removeAllListeners();
    void t.close().catch(() => undefined);
    this.setState('lost');
    emitSafely(this, 'lost', { sessionId, reason });
    if (this._state !== 'lost') return; // a listener closed us
    if (this.opts.reconnectAfterLost && reason !== 'auth_failed') {
      // A transport lost before it ever connected must not be replaced in a tight loop.
      const delayMs = this.connectedOnce.has(t) ? 0 : Math.min(Math.max(this.reopenDelayMs * 2, 50), 5000);
      this.reopenDelayMs = delayMs;
      if (delayMs === 0) this.openTransport();
      else setTimeout(() => { if (this._state === 'lost') this.openTransport(); }, delayMs);
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

  private wrapWatcher(w: Watcher): ClientWatcher {
    if (!this.namespace) return w;
    return (ev) => w({ type: ev.type, path: this.strip(ev.path) });
  }

  /** One attempt on the current transport; errors name the caller's path (namespace removed). */
  private call<T>(op: string, path: string, run: (t: Transport) => Promise<T>): Promise<T> {
    const t = this.t;
    if (!t || this._state === 'closed') {
      return Promise.reject(this._state === 'closed'
        ? new ClosedError(`${op} ${path}: session is closed`, { op, path })
        : new ConnectionLossError(`${op} ${path}: no connection (session ${this._state})`, { op, path }));
    }
    return run(t).catch((err: unknown) => { throw this.callError(err, op, path); });
  }

  /**
   * A request cut off by `close()` fails with CLOSED, not with the connection loss the transport
   * saw (a transport replaced after `lost` reports CONNECTION_LOSS: retryable, as it should be);
   * and errors name the caller's path, without the namespace.
   */
  private callError(err: unknown, op: string, path: string): unknown {
    if (this._state === 'closed' && err instanceof ConnectionLossError) return new ClosedError(`${op} ${path}: session is closed`, { op, path, cause: err });
    return this.namespace ? relabel(err, op, path) : err;
  }

  /**
   * Runs `attempt`, retrying retryable failures (connection loss, operation timeout) with the
   * session's backoff, waiting for the connection to come back between attempts.
   */
  private async retrying<T>(op: string, path: string, attempt: () => Promise<T>): Promise<T> {
    if (this._state !== 'connected' && this._state !== 'readOnly' && this._state !== 'closed') await this.waitConnected(this.opts.connectTimeoutMs, op).catch(() => undefined);
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
   * Creates a node and returns its path (with the sequence suffix for sequential modes). The ACL
   * is part of the create: no moment exists in which the node is open to others.
   * @param path - absolute path; for sequential modes the prefix the server appends to
   * @param data - payload (≤ 1 MB)
   * @param options - mode, parents, protection, TTL, ACL
   * @throws NodeExistsError, NoNodeError (parent missing and `createParents` off), NoAuthError, ...
   */
  async create(path: string, data?: NodeData, options: CreateOptions = {}): Promise<string> {
    return (await this.createNode(path, data, options)).path;
  }

  /**
   * Same as {@link ZkSession.create}, and also returns the new node's stat from the create's own
   * reply (no second round trip). With the native transport, and for a node a retried protected
   * create adopted, `stat` is read with an `exists` after the create.
   */
  async createWithStat(path: string, data?: NodeData, options: CreateOptions = {}): Promise<{
    /** The created path. */
    path: string;
    /** The new node's stat. */
    stat: Stat;
  }> {
    const created = await this.createNode(path, data, options);
    if (created.stat) return created as { path: string; stat: Stat };
    const stat = await this.exists(created.path);
    if (!stat) throw new NoNodeError(`create ${path}: node ${created.path} vanished right after its create`, { op: 'create', path });
    return { path: created.path, stat };
  }

  private async createNode(path: string, data: NodeData | undefined, options: CreateOptions): Promise<{ path: string; stat: Stat | undefined }> {
    const mode = options.mode ?? 'persistent';
    const flags = MODE_FLAGS[mode];
    if (flags === undefined) throw new InvalidArgumentError(`create ${path}: unknown mode ${String(mode)}`, { op: 'create', path });
    validatePath(path, 'create', SEQUENTIAL.has(flags));
    const bytes = toData(data, 'create', path);
    const ttl = options.ttlMs;
    const isTtl = mode === 'persistent_ttl' || mode === 'persistent_sequential_ttl';
    if (isTtl && (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl <= 0)) {
      throw new InvalidArgumentError(`create ${path}: mode ${mode} needs ttlMs, a positive integer`, { op: 'create', path });
    }
    const acl = options.acl === undefined ? this.opts.defaultAcl : checkAcl(options.acl, `create ${path}: option acl`);
    const p = options.protected;
    if (p !== undefined && typeof p !== 'boolean' && p !== 'beforeSequence') {
      throw new InvalidArgumentError(`create ${path}: option protected must be a boolean or 'beforeSequence', got ${JSON.stringify(p)}`, { op: 'create', path });
    }
    let target = path;
    let prefix: string | undefined;
    if (options.protected) {
      const marker = `_c_${randomUUID()}-`;
      prefix = options.protected === 'beforeSequence' ? nodeName(path) + marker : marker;
      target = joinPath(parentOf(path), options.protected === 'beforeSequence' ? prefix : prefix + nodeName(path));
    }
    const attempt = async (): Promise<{ path: string; stat: Stat | undefined }> => {
      if (prefix) {
        const mine = await this.findProtected(parentOf(path), prefix, mode);
        if (mine) return { path: mine, stat: undefined };
      }
      return this.createOnce(target, bytes, flags, isTtl ? ttl : undefined, options, acl);
    };
    let created: { path: string; stat: Stat | undefined };
    try {
      created = await this.createOnce(target, bytes, flags, isTtl ? ttl : undefined, options, acl);
    } catch (err) {
      if (!isRetryable(err)) throw err;
      // The create may have happened: a protected create looks for its node before trying again.
      created = await this.retrying('create', path, attempt);
    }
    return created;
  }

  private async createOnce(path: string, data: Uint8Array, flags: number, ttl: number | undefined, o: CreateOptions, acl: readonly Acl[] | undefined): Promise<{ path: string; stat: Stat | undefined }> {
    const full = this.full(path);
    const wire = acl ?? Acls.OPEN;
    const once = () => this.call('create', path, (t) => t.create(full, data, { acl: wire, flags, ttl }));
    let created: { path: string; stat?: Stat | undefined };
    try {
      created = await once();
    } catch (err) {
      if (!(err instanceof NoNodeError) || !o.createParents) throw err;
      await this.mkdirs(parentOf(path), o.parentMode ?? 'container', acl);
      created = await once();
    }
    const result = { path: this.strip(created.path), stat: created.stat };
    if (this.t && !this.t.aclAtCreate && acl && acl !== Acls.OPEN) await this.setAcl(result.path, acl);
    return result;
  }

  /** Creates `path` and its missing ancestors (containers by default). Existing nodes are kept. */
  private async mkdirs(path: string, mode: 'container' | 'persistent', acl: readonly Acl[] | undefined): Promise<void> {
    if (path === '/' && !this.namespace) return;
    const full = this.full(path);
    const flags = mode === 'container' ? Z.container : Z.persistent;
    const wire = acl ?? Acls.OPEN;
    try {
      await this.retrying('create', path, () => this.call('create', path, (t) => t.create(full, EMPTY, { acl: wire, flags })));
      if (this.t && !this.t.aclAtCreate && acl && acl !== Acls.OPEN) await this.setAcl(path, acl);
    } catch (err) {
      if (err instanceof NodeExistsError) return;
      if (!(err instanceof NoNodeError) || path === '/') throw err;
      await this.mkdirs(parentOf(path), mode, acl);
      await this.mkdirs(path, mode, acl);
    }
  }

  /**
   * Finds a protected node by the start of its name; ephemerals only if owned by this session.
   * The `sync` first: the server this session reconnected to may not have applied yet a create the
   * leader committed from the old connection (a paused leader does this), and listing without it
   * would miss the node and create a second one.
   */
  private async findProtected(parent: string, prefix: string, mode: CreateMode): Promise<string | undefined> {
    let children: string[];
    try {
      await this.sync(parent);
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
    return this.retrying('get', path, () => this.call('get', path, (t) => t.getData(full, w)));
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
    return this.retrying('set', path, () => this.call('set', path, (t) => t.setData(full, bytes, version)));
  }

  /**
   * Tells whether a node exists; with `watch`, the watch fires on create, change or delete.
   * @returns the stat, or null
   */
  async exists(path: string, options: WatchOptions = {}): Promise<Stat | null> {
    validatePath(path, 'exists');
    const full = this.full(path);
    const w = options.watch ? this.wrapWatcher(options.watch) : undefined;
    return this.retrying('exists', path, () => this.call('exists', path, (t) => t.exists(full, w)));
  }

  /**
   * Lists a node's children (names, unordered).
   * @throws NoNodeError
   */
  async getChildren(path: string, options: WatchOptions = {}): Promise<string[]> {
    return (await this.getChildrenWithStat(path, options)).children;
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
    return this.retrying('getChildren', path, () => this.call('getChildren', path, (t) => t.getChildren(full, w)));
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
    const once = () => this.deleteOnce(path, version);
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

  private deleteOnce(path: string, version: number): Promise<void> {
    const full = this.full(path);
    return this.call('delete', path, (t) => t.delete(full, version));
  }

  private guaranteeDelete(path: string, version: number): void {
    if (this.backgroundDeletes.has(path)) return;
    this.backgroundDeletes.add(path);
    log('guaranteed delete of %s continues in the background', path);
    const loop = async () => {
      let delayMs = this.opts.retry.minDelayMs;
      while (this._state !== 'closed') {
        try {
          await this.waitConnected(this.negotiatedTimeoutMs, 'delete');
          await this.deleteOnce(path, version);
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

  /**
   * Runs writes as one transaction: all happen, or none does. Every op is checked before anything
   * is sent. Not retried after a connection loss (the outcome is then unknown: check, or make
   * the transaction idempotent with `check` ops); `UnsupportedError` on the native transport.
   * @throws the failing op's typed error (`NodeExistsError`, `BadVersionError`, ...) with
   * `opIndex` naming the op; nothing was applied
   */
  async multi(ops: readonly TxnOp[]): Promise<TxnResult[]> {
    if (!Array.isArray(ops) || ops.length === 0) throw new InvalidArgumentError('multi: ops must be a non-empty array', { op: 'multi' });
    const wire: MultiOp[] = ops.map((o, i) => this.txnOp(o, i));
    if (this._state !== 'connected' && this._state !== 'closed') await this.waitConnected(this.opts.connectTimeoutMs, 'multi').catch(() => undefined);
    const results = await this.call('multi', ops[0]!.path, (t) => t.multi(wire)).catch((err: unknown) => {
      if (err instanceof ZkError && err.opIndex !== undefined && this.namespace) {
        const o = ops[err.opIndex]!;
        throw fromRc(err.rc ?? -1, `multi op ${err.opIndex} (${o.op})`, o.path, err, err.opIndex);
      }
      throw err;
    });
    return results.map((r): TxnResult => {
      switch (r.type) {
        case 'create': return { op: 'create', path: this.strip(r.path) };
        case 'setData': return { op: 'set', stat: r.stat };
        case 'delete': return { op: 'delete' };
        default: return { op: 'check' };
      }
    });
  }

  private txnOp(o: TxnOp, i: number): MultiOp {
    const name = `multi op ${i}`;
    if (!o || typeof o !== 'object') throw new InvalidArgumentError(`${name}: must be an object { op, path, ... }`, { op: 'multi', opIndex: i });
    const version = (v: unknown, dflt: number | undefined): number => {
      const n = v ?? dflt;
      if (typeof n !== 'number' || !Number.isInteger(n) || n < -1) throw new InvalidArgumentError(`${name} (${o.op} ${o.path}): version must be an integer >= -1`, { op: 'multi', path: o.path, opIndex: i });
      return n;
    };
    switch (o.op) {
      case 'create': {
        const mode = o.mode ?? 'persistent';
        const flags = MODE_FLAGS[mode];
        if (flags === undefined) throw new InvalidArgumentError(`${name} (create ${o.path}): unknown mode ${String(mode)}`, { op: 'multi', path: o.path, opIndex: i });
        validatePath(o.path, `${name} (create)`, SEQUENTIAL.has(flags));
        const isTtl = mode === 'persistent_ttl' || mode === 'persistent_sequential_ttl';
        if (isTtl && (typeof o.ttlMs !== 'number' || !Number.isInteger(o.ttlMs) || o.ttlMs <= 0)) {
          throw new InvalidArgumentError(`${name} (create ${o.path}): mode ${mode} needs ttlMs, a positive integer`, { op: 'multi', path: o.path, opIndex: i });
        }
        const acl = o.acl === undefined ? this.opts.defaultAcl : checkAcl(o.acl, `${name} (create ${o.path}): option acl`);
        return { type: 'create', path: this.full(o.path), data: toData(o.data, name, o.path), acl: acl ?? Acls.OPEN, flags, ttl: isTtl ? o.ttlMs : undefined };
      }
      case 'delete':
        validatePath(o.path, `${name} (delete)`);
        return { type: 'delete', path: this.full(o.path), version: version(o.version, -1) };
      case 'set':
        validatePath(o.path, `${name} (set)`);
        return { type: 'setData', path: this.full(o.path), data: toData(o.data, name, o.path), version: version(o.version, -1) };
      case 'check':
        validatePath(o.path, `${name} (check)`);
        return { type: 'check', path: this.full(o.path), version: version(o.version, undefined) };
      default:
        throw new InvalidArgumentError(`${name}: op must be 'create', 'delete', 'set' or 'check', got ${JSON.stringify((o as { op?: unknown }).op)}`, { op: 'multi', opIndex: i });
    }
  }

  /**
   * Adds a persistent watch: `listener` hears every change of `path` (with `recursive`, of every
   * node below it too; child-list changes are not reported to recursive watches, as in
   * ZooKeeper) until the watch is removed. It survives reconnects (set again on each new
   * connection) and is added again on a new session after `lost`; changes made while the
   * connection was down are not replayed (ZooKeeper replays none for persistent watches):
   * re-read on `reconnected`, as a cache does.
   * `UnsupportedError` on the native transport.
   */
  async addWatch(path: string, listener: Watcher, options: {
    /** Watch the whole subtree. @default false */
    recursive?: boolean;
  } = {}): Promise<PersistentWatch> {
    validatePath(path, 'addWatch');
    if (typeof listener !== 'function') throw new InvalidArgumentError(`addWatch ${path}: listener must be a function`, { op: 'addWatch', path });
    const recursive = options.recursive ?? false;
    const entry: PersistentEntry = { path, recursive, watcher: this.wrapWatcher(listener) };
    const full = this.full(path);
    await this.retrying('addWatch', path, () => this.call('addWatch', path, (t) => t.addWatch(full, entry.watcher, recursive)));
    this.persistent.add(entry);
    let removed: Promise<void> | undefined;
    const remove = (): Promise<void> => {
      if (removed) return removed;
      this.persistent.delete(entry);
      const kind: WatchKind = recursive ? 'persistentRecursive' : 'persistent';
      removed = this.t && this._state !== 'closed'
        ? this.call('removeWatch', path, (t) => t.removeWatch(full, kind, entry.watcher)).then(() => undefined, (err: unknown) => {
          if (!isRetryable(err) && !(err instanceof ClosedError)) throw err;
          // Not connected: the watch is forgotten here and dies with the connection's session.
        })
        : Promise.resolve();
      return removed;
    };
    return { path, recursive, remove, [Symbol.asyncDispose]: remove };
  }

  private readdPersistentWatches(t: Transport): void {
    for (const e of this.persistent) {
      const full = this.full(e.path);
      t.addWatch(full, e.watcher, e.recursive).catch((err: unknown) => log('re-adding the persistent watch on %s failed: %s', e.path, (err as Error).message));
    }
  }

  /** Number of all nodes below `path` (ZooKeeper 3.6+). */
  async getAllChildrenNumber(path: string): Promise<number> {
    validatePath(path, 'getAllChildrenNumber');
    const full = this.full(path);
    return this.retrying('getAllChildrenNumber', path, () => this.call('getAllChildrenNumber', path, (t) => t.getAllChildrenNumber(full)));
  }

  /** Paths of this session's ephemeral nodes under `prefix` (ZooKeeper 3.6+). */
  async getEphemerals(prefix = '/'): Promise<string[]> {
    validatePath(prefix, 'getEphemerals');
    const full = this.full(prefix);
    const found = await this.retrying('getEphemerals', prefix, () => this.call('getEphemerals', prefix, (t) => t.getEphemerals(full)));
    return this.namespace ? found.filter((p) => p === this.namespace || p.startsWith(`${this.namespace}/`)).map((p) => this.strip(p)) : found;
  }

  /** The identities the server associates with this session (ZooKeeper 3.7+). */
  async whoAmI(): Promise<Array<{
    /** Auth scheme (`ip`, `digest`, ...). */
    scheme: string;
    /** The identity within the scheme. */
    user: string;
  }>> {
    return this.retrying('whoAmI', '/', () => this.call('whoAmI', '/', (t) => t.whoAmI()));
  }

  /** Makes this server catch up with the leader for `path` (before a read that must be current). */
  async sync(path: string): Promise<void> {
    validatePath(path, 'sync');
    const full = this.full(path);
    return this.retrying('sync', path, () => this.call('sync', path, (t) => t.sync(full)));
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
    return this.retrying('getAcl', path, () => this.call('getAcl', path, (t) => t.getACL(full)));
  }

  /** Replaces a node's ACL; `version` (default -1) is the expected ACL version. */
  async setAcl(path: string, acl: readonly Acl[], options: { version?: number } = {}): Promise<void> {
    validatePath(path, 'setAcl');
    checkAcl(acl, `setAcl ${path}: acl`);
    const full = this.full(path);
    await this.retrying('setAcl', path, () => this.call('setAcl', path, (t) => t.setACL(full, acl, options.version ?? -1)));
  }

  /**
   * Closes the session: its ephemeral nodes go at once, pending waits settle with `CLOSED`, and
   * every later call fails with `CLOSED`. Idempotent.
   */
  close(): Promise<void> {
    if (this.closedPromise) return this.closedPromise;
    const t = this.t;
    this.t = undefined;
    this.setState('closed');
    for (const w of this.waiters) w.reject(new ClosedError('session: closed', { op: 'close' }));
    this.waiters.clear();
    this.persistent.clear();
    this.closedPromise = (async () => {
      if (t) {
        t.removeAllListeners();
        await t.close().catch(() => undefined);
      }
      emitSafely(this, 'closed');
    })();
    return this.closedPromise;
  }

  /** `await using session = await ZkSession.connect(...)` closes it at the end of the scope. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** The same typed error with the caller's op and path (the namespace removed). */
function relabel(err: unknown, op: string, path: string): unknown {
  if (!(err instanceof ZkError) || err.rc === undefined || err.code === 'CLOSED') return err;
  if (err.opIndex !== undefined) return err;
  return fromRc(err.rc, op, path, err.cause);
}
