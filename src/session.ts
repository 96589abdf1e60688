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
 *
 * This file is the class and its public operations; each job lives in a module of its own:
 * types (`session-types.ts`), option checks (`session-options.ts`), the state machine
 * (`session-connection.ts`), the request plumbing and retries (`session-calls.ts`), cancellation
 * (`session-abort.ts`), creates (`session-create.ts`), deletes (`session-delete.ts`),
 * transactions (`session-multi.ts`), persistent watches (`session-watch.ts`), the plain one-path
 * requests (`session-request.ts`), and connecting, waiting for the connection and closing
 * (`session-lifecycle.ts`). Those take a {@link SessionCore}, the narrow view of the session
 * they need.
 * @module
 */
import { EventEmitter } from 'eventemitter3';
import { ClosedError } from './errors.js';
import { SessionCalls, sessionCore, type Run, type SessionCore } from './session-calls.js';
import { SessionConnection } from './session-connection.js';
import { createNode } from './session-create.js';
import { BackgroundTasks, deleteNode } from './session-delete.js';
import { closeSession, openSession, waitForConnection } from './session-lifecycle.js';
import { multi } from './session-multi.js';
import { resolveOptions, type Resolved } from './session-options.js';
import { ephemerals, operation, setAclRequest, setDataRequest } from './session-request.js';
import {
  kCredentials,
  type Acl,
  type ConnectionState,
  type CreateOptions,
  type DeleteOptions,
  type NodeData,
  type PersistentWatch,
  type SessionCallOptions,
  type SessionEvents,
  type SessionOptions,
  type Stat,
  type TxnOp,
  type TxnResult,
  type Watcher,
  type WatchOptions,
} from './session-types.js';
import { PersistentWatches } from './session-watch.js';
import type { TransportName } from './transport.js';
import type { TlsOptions } from './client/connection.js';

export * from './session-types.js';

/**
 * A ZooKeeper session with a promise API. Create one with {@link ZkSession.connect} (which waits
 * for the first connection); release it with `close()` or `await using`. Each call waits for the
 * server's reply; every call that can wait takes a `signal` ({@link SessionCallOptions} says what
 * an abort does).
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
  private readonly conn: SessionConnection;
  private readonly calls: SessionCalls;
  private readonly core: SessionCore;
  private readonly background: BackgroundTasks;
  private readonly watches: PersistentWatches;
  private closedPromise: Promise<void> | undefined;

  private constructor(connectString: string, opts: Resolved) {
    super();
    this.connectString = connectString;
    this.namespace = opts.namespace;
    this.transport = opts.transport;
    this.conn = new SessionConnection(connectString, opts, this, {
      newSession: (t) => this.watches.readd(t),
      sameSession: (t) => this.watches.readdCut(t),
      close: () => void this.close(),
    });
    this.calls = new SessionCalls(this.conn, opts);
    this.core = sessionCore(this.conn, this.calls, (op, path, run, signal) => this.call(op, path, run, signal), this);
    this.background = new BackgroundTasks(this.core);
    this.watches = new PersistentWatches(this.core);
  }

  /**
   * Connects to ZooKeeper. Resolves once connected (and the namespace node exists).
   * @param connectString - `host:port[,host:port...][/chroot]` (IPv6 as `[::1]:2181`)
   * @param options - see {@link SessionOptions}; each is validated, an error names the bad one
   * @throws InvalidArgumentError for bad options (nothing is opened)
   * @throws ConnectTimeoutError naming the connect string after `connectTimeoutMs`
   * @throws AuthFailedError when the server rejects the credentials
   * @throws TlsError (code `TLS`) when every server of the connect string failed the TLS check in a row
   */
  static async connect(connectString: string, options?: SessionOptions): Promise<ZkSession> {
    const opts = resolveOptions(connectString, options);
    const session = new ZkSession(connectString, opts);
    await openSession(session.core, session.conn, () => session.close());
    return session;
  }

  /** The current connection state. */
  get state(): ConnectionState {
    return this.conn.state;
  }

  /** The current ZooKeeper session id (hex); changes after `lost` and a new session. */
  get sessionId(): string {
    return this.conn.sessionId;
  }

  /** The session timeout the server granted, in ms. */
  get sessionTimeoutMs(): number {
    return this.conn.sessionTimeoutMs;
  }

  /** Number of guaranteed deletes (and removals after aborted protected creates) still being retried in the background. */
  get pendingDeletes(): number {
    return this.background.size;
  }

  /** @internal session id and password, for a real server-side expiry in tests. */
  [kCredentials](): { clientId: string; password: Buffer; transport: TransportName; tls: TlsOptions | undefined } {
    const t = this.conn.transport;
    if (!t) throw new ClosedError('session: no transport', { op: 'credentials' });
    return { clientId: t.sessionId, password: t.sessionPassword, transport: this.transport, tls: this.core.opts.tls };
  }

  /**
   * Resolves when the session is connected (at once if it is).
   * @param timeoutMs - how long to wait, in ms (default `connectTimeoutMs`); or the options
   * `{ timeoutMs, signal }`
   * @param op - the operation named in errors
   * @throws ClosedError when the session is closed first
   * @throws ConnectionLossError when not connected within `timeoutMs`
   * @throws AbortedError (or the signal's ZkError reason) when `signal` aborts first
   */
  async waitConnected(
    timeoutMs?:
      | number
      | (SessionCallOptions & {
          /** How long to wait, in ms (a finite number >= 0). @default the session's `connectTimeoutMs` */
          timeoutMs?: number;
        }),
    op = 'waitConnected',
  ): Promise<void> {
    return waitForConnection(this.core, timeoutMs, op);
  }

  /** One attempt on the current transport: every request of the session goes through here. */
  private call<T>(op: string, path: string, run: Run<T>, signal?: AbortSignal): Promise<T> {
    return this.calls.attempt(op, path, run, signal);
  }

  /**
   * Creates a node and returns its path (with the sequence suffix for sequential modes). The ACL
   * is part of the create: no moment exists in which the node is open to others.
   * @param path - absolute path; for sequential modes the prefix the server appends to
   * @param data - payload (≤ 1 MB)
   * @param options - mode, parents, protection, TTL, ACL, `signal` ({@link SessionCallOptions}:
   * an aborted protected create leaves no node behind)
   * @throws NodeExistsError, NoNodeError (parent missing and `createParents` off), NoAuthError, ...
   */
  async create(path: string, data?: NodeData, options: CreateOptions = {}): Promise<string> {
    return (await createNode(this.core, this.background, path, data, options)).path;
  }

  /**
   * Same as {@link ZkSession.create}, and also returns the new node's stat from the create's own
   * reply (no second round trip). With the native transport, and for a node a retried protected
   * create adopted, `stat` is read with an `exists` after the create.
   */
  async createWithStat(
    path: string,
    data?: NodeData,
    options: CreateOptions = {},
  ): Promise<{
    /** The created path. */
    path: string;
    /** The new node's stat. */
    stat: Stat;
  }> {
    return (await createNode(this.core, this.background, path, data, options, true)) as { path: string; stat: Stat };
  }

  /**
   * Reads a node's data and stat.
   * @throws NoNodeError
   */
  async get(
    path: string,
    options: WatchOptions = {},
  ): Promise<{
    /** The node's data (empty when it has none). */
    data: Buffer;
    /** The node's stat at the time of the read. */
    stat: Stat;
  }> {
    return operation(this.core, 'get', path, options, (full, w) => (t) => t.getData(full, w));
  }

  /**
   * Writes a node's data; `version` (default -1, any) makes it a compare-and-set. An aborted
   * `set` may have been applied ({@link SessionCallOptions}).
   * @throws NoNodeError, BadVersionError
   */
  async set(
    path: string,
    data: NodeData,
    options: SessionCallOptions & {
      /** Expected data version; `-1` (default) matches any. */
      version?: number;
    } = {},
  ): Promise<Stat> {
    return operation(this.core, 'set', path, options, setDataRequest(path, data, options));
  }

  /**
   * Tells whether a node exists; with `watch`, the watch fires on create, change or delete.
   * @returns the stat, or null
   */
  exists(path: string, options: WatchOptions = {}): Promise<Stat | null> {
    return operation(this.core, 'exists', path, options, (full, w) => (t) => t.exists(full, w));
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
  async getChildrenWithStat(
    path: string,
    options: WatchOptions = {},
  ): Promise<{
    /** Child names, unordered. */
    children: string[];
    /** The parent's stat, read atomically with the list (its `pzxid` changes with every child created or deleted). */
    stat: Stat;
  }> {
    return operation(this.core, 'getChildren', path, options, (full, w) => (t) => t.getChildren(full, w));
  }

  /**
   * Deletes a node. A retried delete that finds the node gone counts as success. An aborted
   * delete may have been applied; an aborted guaranteed delete that was sent goes on in the
   * background ({@link SessionCallOptions}).
   * @throws NoNodeError (first attempt only), BadVersionError, NotEmptyError (unless `recursive`)
   */
  async delete(path: string, options: DeleteOptions = {}): Promise<void> {
    return deleteNode(this.core, this.background, path, options);
  }

  /**
   * Runs writes as one transaction: all happen, or none does. Every op is checked before anything
   * is sent. Not retried after a connection loss (the outcome is then unknown: check, or make
   * the transaction idempotent with `check` ops), nor is an aborted one known not to have been
   * applied; `UnsupportedError` on the native transport.
   * @param ops - the writes, in order
   * @param options - `signal` ({@link SessionCallOptions})
   * @throws the failing op's typed error (`NodeExistsError`, `BadVersionError`, ...) with
   * `opIndex` naming the op; nothing was applied
   */
  async multi(ops: readonly TxnOp[], options?: SessionCallOptions): Promise<TxnResult[]> {
    return multi(this.core, ops, options);
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
  async addWatch(
    path: string,
    listener: Watcher,
    options: SessionCallOptions & {
      /** Watch the whole subtree. @default false */
      recursive?: boolean;
    } = {},
  ): Promise<PersistentWatch> {
    return this.watches.add(path, listener, options);
  }

  /** Number of all nodes below `path` (ZooKeeper 3.6+). */
  async getAllChildrenNumber(path: string, options: SessionCallOptions = {}): Promise<number> {
    return operation(this.core, 'getAllChildrenNumber', path, options, (full) => (t) => t.getAllChildrenNumber(full));
  }

  /** Paths of this session's ephemeral nodes under `prefix` (ZooKeeper 3.6+). */
  async getEphemerals(prefix = '/', options: SessionCallOptions = {}): Promise<string[]> {
    return ephemerals(this.core, prefix, options);
  }

  /** The identities the server associates with this session (ZooKeeper 3.7+). */
  async whoAmI(options: SessionCallOptions = {}): Promise<
    Array<{
      /** Auth scheme (`ip`, `digest`, ...). */
      scheme: string;
      /** The identity within the scheme. */
      user: string;
    }>
  > {
    return operation(this.core, 'whoAmI', '/', options, () => (t) => t.whoAmI());
  }

  /** Makes this server catch up with the leader for `path` (before a read that must be current). */
  async sync(path: string, options: SessionCallOptions = {}): Promise<void> {
    return operation(this.core, 'sync', path, options, (full) => (t) => t.sync(full));
  }

  /** Reads a node's ACL. */
  async getAcl(
    path: string,
    options: SessionCallOptions = {},
  ): Promise<{
    /** The node's ACL entries. */
    acl: Acl[];
    /** The node's stat (`aversion` is the ACL version). */
    stat: Stat;
  }> {
    return operation(this.core, 'getAcl', path, options, (full) => (t) => t.getACL(full));
  }

  /**
   * Replaces a node's ACL; `version` (default -1) is the expected ACL version. An aborted
   * `setAcl` may have been applied ({@link SessionCallOptions}).
   */
  async setAcl(
    path: string,
    acl: readonly Acl[],
    options: SessionCallOptions & {
      /** Expected ACL version; `-1` (default) matches any. */
      version?: number;
    } = {},
  ): Promise<void> {
    await operation(this.core, 'setAcl', path, options, setAclRequest(path, acl, options));
  }

  /**
   * Closes the session: its ephemeral nodes go at once, pending waits settle with `CLOSED`, and
   * every later call fails with `CLOSED`. Idempotent.
   */
  close(): Promise<void> {
    if (this.closedPromise) return this.closedPromise;
    this.closedPromise = closeSession(this.conn, this.watches, this);
    return this.closedPromise;
  }

  /** `await using session = await ZkSession.connect(...)` closes it at the end of the scope. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
