/**
 * What the session needs from a transport: one ZooKeeper session's operations and its state
 * events. Two implement it: the TypeScript client (`src/client/`, the default) and the optional
 * native binding (`src/native.ts`), which has no multi, persistent watches, ACL at create, TLS or
 * whoAmI and says so with an {@link UnsupportedError} naming the feature.
 *
 * Paths here are as the server sees them (the session's namespace included); errors are typed
 * {@link ZkError}s built from ZooKeeper's return codes.
 * @internal
 * @module
 */
import type { EventEmitter } from 'eventemitter3';
import type { ClientWatcher, WatchKind } from './client/watches.js';
import type { MultiOp, MultiResult, ReadOp, ReadResult } from './client/multi.js';
import type { Stat, WireAcl } from './client/records.js';

export type { ClientWatcher, WatchKind, MultiOp, MultiResult, ReadOp, ReadResult, Stat, WireAcl };

/** The transports a session can use. */
export type TransportName = 'client' | 'native';

/** Events every transport emits (`state` and `closed` only the TypeScript client). */
export interface TransportEvents {
  /** Every state change of the TypeScript client. */
  state: [state: import('./client/client.js').ClientState, previous: import('./client/client.js').ClientState];
  /** Connected (after the credentials were accepted); `newSession` when the session id changed. */
  connected: [info: { sessionId: string; readOnly: boolean; newSession: boolean; server?: string }];
  /** The connection dropped; the transport reconnects by itself. */
  disconnected: [info: { reason: string }];
  /** Terminal: the server expired the session, or no connection for a whole session timeout. */
  expired: [info: { reason: 'server' | 'timeout' }];
  /** Terminal: the credentials were rejected. */
  authFailed: [];
  /** Terminal: `close()`. */
  closed: [];
}

/** Options the session hands to a transport. */
export interface TransportOptions {
  sessionTimeoutMs: number;
  auth: ReadonlyArray<{ scheme: string; credentials: string }>;
  canBeReadOnly: boolean;
  tls: import('./client/connection.js').TlsOptions | undefined;
  maxFrameBytes: number | undefined;
  nativeLogLevel: number;
}

/** One ZooKeeper session's operations. */
export interface Transport extends EventEmitter<TransportEvents> {
  /** Which transport this is. */
  readonly name: TransportName;
  /** Whether `create` applies the ACL atomically (else the session sets it right after). */
  readonly aclAtCreate: boolean;
  /** The session id (hex). */
  readonly sessionId: string;
  /** The session password (for a second handle on the same session, as the test kit's expiry does). */
  readonly sessionPassword: Buffer;
  /** The negotiated session timeout. */
  readonly sessionTimeoutMs: number;
  /** Starts connecting. */
  start(): this;
  create(
    path: string,
    data: Uint8Array,
    o: { acl: readonly WireAcl[]; flags: number; ttl?: number | undefined },
  ): Promise<{ path: string; stat?: Stat | undefined }>;
  delete(path: string, version?: number): Promise<void>;
  exists(path: string, watcher?: ClientWatcher): Promise<Stat | null>;
  getData(path: string, watcher?: ClientWatcher): Promise<{ data: Buffer; stat: Stat }>;
  setData(path: string, data: Uint8Array, version?: number): Promise<Stat>;
  getACL(path: string): Promise<{ acl: WireAcl[]; stat: Stat }>;
  setACL(path: string, acl: readonly WireAcl[], version?: number): Promise<Stat>;
  getChildren(path: string, watcher?: ClientWatcher): Promise<{ children: string[]; stat: Stat }>;
  sync(path: string): Promise<void>;
  getAllChildrenNumber(path: string): Promise<number>;
  getEphemerals(prefix?: string): Promise<string[]>;
  whoAmI(): Promise<Array<{ scheme: string; user: string }>>;
  multi(ops: readonly MultiOp[]): Promise<MultiResult[]>;
  multiRead(ops: readonly ReadOp[]): Promise<ReadResult[]>;
  addWatch(path: string, watcher: ClientWatcher, recursive: boolean): Promise<void>;
  removeWatch(path: string, kind: WatchKind, watcher?: ClientWatcher): Promise<boolean>;
  /** Closes the session (closeSession) and the connection. Idempotent. */
  close(): Promise<void>;
}
