/**
 * The session's public types and constants: node metadata, create modes, ACLs, watch events, the
 * options of each operation (every one that can wait takes a `signal`: {@link SessionCallOptions}),
 * the session's options, states and events, and the ops of a transaction. Re-exported by
 * `session.ts`, which is where callers import them from.
 * @module
 */
import type { TlsOptions } from './client/connection.js';
import type { Stat } from './client/records.js';

export type { Stat };
import type { TransportName } from './transport.js';

/** How a node is created. `_ttl` modes need a server with `extendedTypesEnabled`. */
export type CreateMode =
  | 'persistent'
  | 'ephemeral'
  | 'persistent_sequential'
  | 'ephemeral_sequential'
  | 'container'
  | 'persistent_ttl'
  | 'persistent_sequential_ttl';

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

/**
 * Cancellation of one session operation: every operation that can wait (create, read, write,
 * delete, `multi`, `sync`, ACLs, `addWatch`, `waitConnected`) takes `{ signal }`.
 *
 * - `signal` must be an `AbortSignal` or undefined; anything else is an `InvalidArgumentError`,
 *   thrown before anything is sent.
 * - Already aborted: the call rejects at once and sends nothing.
 * - Aborted while the call waits for a connection, or between retries: it rejects at once and
 *   sends nothing more.
 * - Aborted while a request is on the wire: the call rejects at once, but ZooKeeper cannot cancel
 *   a request, so the server may still apply it. A write (`set`, `delete`, `multi`, `setAcl`, a
 *   create that is not protected) may therefore have been applied: read before relying on either
 *   outcome. A protected create (`protected` in {@link CreateOptions}) leaves nothing behind: the
 *   session deletes its node in the background once it learns the node's name (from the late
 *   reply, or by looking for the `_c_<uuid>-` marker after a reconnect), as a guaranteed delete
 *   does (counted in {@link ZkSession.pendingDeletes}; `close()` ends it, and with it an
 *   ephemeral node, while a persistent one stays). A guaranteed delete already sent is
 *   carried through in the background. A persistent watch that an aborted `addWatch` may still
 *   set never calls its listener and is removed again; a one-shot watch that an aborted read may
 *   still set can fire once, as ZooKeeper's watches do.
 * - The rejection is an `AbortedError` whose `cause` is the signal's `reason`, unless that reason
 *   is itself a `ZkError` (the `TimeoutError` a recipe's `timeoutMs` aborts with, say): then the
 *   call rejects with the reason itself.
 * - The call's listener on `signal` is removed as the call settles: one long-lived signal can
 *   serve any number of calls.
 */
export interface SessionCallOptions {
  /** Cancels the call: see {@link SessionCallOptions} for what an abort does at each stage. */
  signal?: AbortSignal | undefined;
}

/** Options of reads that can leave a watch. */
export interface WatchOptions extends SessionCallOptions {
  /** Called once when the node (or its children) next changes. Never called for session events. */
  watch?: Watcher | undefined;
}

/** Data accepted by `create` and `set`. */
export type NodeData = Buffer | Uint8Array | string;

/** Options of {@link ZkSession.create}. */
export interface CreateOptions extends SessionCallOptions {
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
export interface DeleteOptions extends SessionCallOptions {
  /** Expected data version; `-1` (default) matches any. */
  version?: number;
  /** Delete the children first, depth-first. @default false */
  recursive?: boolean;
  /**
   * Keep retrying in the background after a connection loss until the node is gone or the session
   * is closed (Curator's `guaranteed()`); the call itself resolves once the first attempt either
   * succeeded or was handed to the background. Aborted once sent, the call rejects and the delete
   * still goes on in the background. @default false
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

/**
 * Connection state of a session — what every recipe's "Connection states" note refers to:
 * - `connecting`: before the first connection.
 * - `connected`: connected; `reconnected` fires on a return after a drop (`newSession: false`: the
 *   same session, its ephemeral nodes and watches intact; `newSession: true`: a new session after
 *   `lost`).
 * - `readOnly` (only with `canBeReadOnly`): on a server without quorum; reads work, writes fail
 *   with `NotReadOnlyError`. Recipes treat it as `suspended`.
 * - `suspended`: the connection dropped or the server was silent for 2/3 of the session
 *   timeout. The session may still live on the server — or expire before the connection
 *   returns, so anything held must be presumed lost (leases' signals abort). Calls wait for the
 *   connection and retry what is safe to retry.
 * - `lost`: the session expired (the server said so, or no connection for a whole session
 *   timeout): its ephemeral nodes and one-shot watches are gone. A new session follows unless
 *   `reconnectAfterLost: false`; calls in flight may or may not have been applied.
 * - `closed`: after `close()`; every call fails with `ClosedError`.
 */
export type ConnectionState = 'connecting' | 'connected' | 'readOnly' | 'suspended' | 'lost' | 'closed';

/** Typed events of a {@link ZkSession}. */
export interface SessionEvents {
  /** First connection made. */
  connected: [
    info: {
      /** The session id (hex, as {@link ZkSession.sessionId}). */
      sessionId: string;
    },
  ];
  /** The connection dropped; the session may still be alive on the server. */
  suspended: [];
  /** Connected again: the same session (`newSession: false`) or a new one after `lost`. */
  reconnected: [
    info: {
      /** The session id now in use (hex). */
      sessionId: string;
      /** True when this is a new session (after `lost`): every ephemeral node and watch of the old one is gone. */
      newSession: boolean;
    },
  ];
  /** The session is gone: expired on the server, or suspended longer than its timeout. */
  lost: [
    info: {
      /** The id of the session that was lost (hex). */
      sessionId: string;
      /**
       * `expired`: the server expired it; `timeout`: suspended longer than the session timeout;
       * `auth_failed`: the server rejected the credentials.
       */
      reason: 'expired' | 'timeout' | 'auth_failed';
    },
  ];
  /** `close()` was called. */
  closed: [];
  /** Every state change. */
  state: [state: ConnectionState, previous: ConnectionState];
}

/** @internal access to the session's credentials, for the test kit's real session expiry. */
export const kCredentials = Symbol('zk-recipes.credentials');

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
