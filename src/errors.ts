/**
 * Typed errors. Every failure the library reports is a {@link ZkError} with a stable `code`;
 * server answers map to one subclass per ZooKeeper return code, so callers can write
 * `if (err instanceof NoNodeError)` or `switch (err.code)` instead of matching message text.
 *
 * The optional native transport (the `zookeeper` binding) reports failures as `Error('-101 no node')` (asynchronous) or
 * `Error('fn: "a_exists" ... result: "ZINVALIDSTATE -9"')` (synchronous); {@link fromBindingError}
 * parses both.
 * @module
 */

/** Stable error codes. Server codes mirror ZooKeeper's `KeeperException.Code` names. */
export type ZkErrorCode =
  | 'SYSTEM_ERROR'
  | 'RUNTIME_INCONSISTENCY'
  | 'DATA_INCONSISTENCY'
  | 'CONNECTION_LOSS'
  | 'MARSHALLING_ERROR'
  | 'UNIMPLEMENTED'
  | 'OPERATION_TIMEOUT'
  | 'BAD_ARGUMENTS'
  | 'INVALID_STATE'
  | 'API_ERROR'
  | 'NO_NODE'
  | 'NO_AUTH'
  | 'BAD_VERSION'
  | 'NO_CHILDREN_FOR_EPHEMERALS'
  | 'NODE_EXISTS'
  | 'NOT_EMPTY'
  | 'SESSION_EXPIRED'
  | 'INVALID_CALLBACK'
  | 'INVALID_ACL'
  | 'AUTH_FAILED'
  | 'CLOSING'
  | 'NOTHING'
  | 'SESSION_MOVED'
  | 'NEW_CONFIG_NO_QUORUM'
  | 'RECONFIG_IN_PROGRESS'
  | 'UNKNOWN_SESSION'
  | 'NOT_READONLY'
  | 'EPHEMERAL_ON_LOCAL_SESSION'
  | 'NO_WATCHER'
  | 'REQUEST_TIMEOUT'
  | 'RECONFIG_DISABLED'
  | 'SESSION_CLOSED_REQUIRE_SASL_AUTH'
  | 'QUOTA_EXCEEDED'
  | 'THROTTLED_OP'
  | 'UNKNOWN'
  // library codes (no server round trip involved)
  | 'CLOSED'
  | 'INVALID_PATH'
  | 'INVALID_ARGUMENT'
  | 'TIMEOUT'
  | 'ABORTED'
  | 'CONNECT_TIMEOUT'
  | 'LOCK_LOST'
  | 'ILLEGAL_STATE'
  | 'PROTOCOL_ERROR'
  | 'UNSUPPORTED'
  | 'TLS'
  | 'INDETERMINATE';

/** Context attached to an error: which operation on which path. */
export interface ZkErrorContext {
  /** The operation that failed, e.g. `create`, `lock.acquire`. */
  op?: string;
  /** The path the operation was about (namespace removed). */
  path?: string;
  /** ZooKeeper's numeric return code, when the server or client library produced one. */
  rc?: number;
  /** The underlying error, e.g. a cleanup failure or the binding's original error. */
  cause?: unknown;
  /** In a failed transaction: the index of the operation that failed. */
  opIndex?: number;
}

/** Base class of every error zk-recipes throws. */
export class ZkError extends Error {
  /** Stable machine-readable code. */
  readonly code: ZkErrorCode;
  /** ZooKeeper's numeric return code, if any (e.g. -101 for NO_NODE). */
  readonly rc: number | undefined;
  /** The path concerned, if any. */
  readonly path: string | undefined;
  /** The operation concerned, if any. */
  readonly op: string | undefined;
  /** In a failed transaction (`multi`): the index of the operation that failed, else undefined. */
  readonly opIndex: number | undefined;

  /**
   * @param code - stable code
   * @param message - human-readable text; should start with the component (`lock: ...`)
   * @param ctx - operation, path, rc and cause
   */
  constructor(code: ZkErrorCode, message: string, ctx: ZkErrorContext = {}) {
    super(message, ctx.cause === undefined ? undefined : { cause: ctx.cause });
    this.name = new.target.name;
    this.code = code;
    this.rc = ctx.rc;
    this.path = ctx.path;
    this.op = ctx.op;
    this.opIndex = ctx.opIndex;
  }
}

/* One subclass per code, so `instanceof` works. Kept terse on purpose: they differ only in code. */

/** The node does not exist (rc -101). */
export class NoNodeError extends ZkError {
  /** @internal */ constructor(m: string, c?: ZkErrorContext) {
    super('NO_NODE', m, c);
  }
}
/** The node already exists (rc -110). */
export class NodeExistsError extends ZkError {
  /** @internal */ constructor(m: string, c?: ZkErrorContext) {
    super('NODE_EXISTS', m, c);
  }
}
/** The expected version did not match (rc -103). */
export class BadVersionError extends ZkError {
  /** @internal */ constructor(m: string, c?: ZkErrorContext) {
    super('BAD_VERSION', m, c);
  }
}
/** The node has children (rc -111). */
export class NotEmptyError extends ZkError {
  /** @internal */ constructor(m: string, c?: ZkErrorContext) {
    super('NOT_EMPTY', m, c);
  }
}
/** The connection dropped before an answer (rc -4); the operation may or may not have happened. */
export class ConnectionLossError extends ZkError {
  /** @internal */ constructor(m: string, c?: ZkErrorContext) {
    super('CONNECTION_LOSS', m, c);
  }
}
/** The session expired (rc -112), or the server no longer knows it (rc -12, unknown session): its ephemeral nodes are gone. */
export class SessionExpiredError extends ZkError {
  /** @internal */ constructor(m: string, c?: ZkErrorContext) {
    super('SESSION_EXPIRED', m, c);
  }
}
/** The caller lacks permission (rc -102). */
export class NoAuthError extends ZkError {
  /** @internal */ constructor(m: string, c?: ZkErrorContext) {
    super('NO_AUTH', m, c);
  }
}
/** The request was in flight when the connection dropped (rc -7); outcome unknown. */
export class OperationTimeoutError extends ZkError {
  /** @internal */ constructor(m: string, c?: ZkErrorContext) {
    super('OPERATION_TIMEOUT', m, c);
  }
}
/** A path broke ZooKeeper's path rules; nothing was sent. */
export class InvalidPathError extends ZkError {
  /** @internal */ constructor(m: string, c?: ZkErrorContext) {
    super('INVALID_PATH', m, c);
  }
}
/** The session (or recipe) was closed; nothing was sent. */
export class ClosedError extends ZkError {
  /** @internal */ constructor(m: string, c?: ZkErrorContext) {
    super('CLOSED', m, c);
  }
}
/** An argument or option had the wrong type or value; nothing was sent. */
export class InvalidArgumentError extends ZkError {
  /** @internal */ constructor(m: string, c?: ZkErrorContext) {
    super('INVALID_ARGUMENT', m, c);
  }
}
/** A wait ran past its `timeoutMs`. */
export class TimeoutError extends ZkError {
  /** @internal */ constructor(m: string, c?: ZkErrorContext) {
    super('TIMEOUT', m, c);
  }
}
/** A wait was cancelled by its `AbortSignal`. */
export class AbortedError extends ZkError {
  /** @internal */ constructor(m: string, c?: ZkErrorContext) {
    super('ABORTED', m, c);
  }
}
/** `ZkSession.connect` did not reach the ensemble within `connectTimeoutMs`. */
export class ConnectTimeoutError extends ZkError {
  /** @internal */ constructor(m: string, c?: ZkErrorContext) {
    super('CONNECT_TIMEOUT', m, c);
  }
}
/** A call was made in a state that does not allow it (e.g. a second `start()`). */
export class IllegalStateError extends ZkError {
  /** @internal */ constructor(m: string, c?: ZkErrorContext) {
    super('ILLEGAL_STATE', m, c);
  }
}
/** A lock or lease was lost (connection suspended or session lost) while held. */
export class LockLostError extends ZkError {
  /** @internal */ constructor(m: string, c?: ZkErrorContext) {
    super('LOCK_LOST', m, c);
  }
}
/** Authentication failed (rc -115). */
export class AuthFailedError extends ZkError {
  /** @internal */ constructor(m: string, c?: ZkErrorContext) {
    super('AUTH_FAILED', m, c);
  }
}
/** The ACL was invalid (rc -114). */
export class InvalidAclError extends ZkError {
  /** @internal */ constructor(m: string, c?: ZkErrorContext) {
    super('INVALID_ACL', m, c);
  }
}
/** Ephemeral nodes cannot have children (rc -108). */
export class NoChildrenForEphemeralsError extends ZkError {
  /** @internal */ constructor(m: string, c?: ZkErrorContext) {
    super('NO_CHILDREN_FOR_EPHEMERALS', m, c);
  }
}

/** The session moved to another server (rc -118): this connection may not use it any more. */
export class SessionMovedError extends ZkError {
  /** @internal */ constructor(m: string, c?: ZkErrorContext) {
    super('SESSION_MOVED', m, c);
  }
}
/** A write reached a server in read-only mode (rc -119). */
export class NotReadOnlyError extends ZkError {
  /** @internal */ constructor(m: string, c?: ZkErrorContext) {
    super('NOT_READONLY', m, c);
  }
}
/** No such watch to remove (rc -121). */
export class NoWatcherError extends ZkError {
  /** @internal */ constructor(m: string, c?: ZkErrorContext) {
    super('NO_WATCHER', m, c);
  }
}
/** The server's quota for the path was exceeded (rc -125, with `zookeeper.enforceQuota`). */
export class QuotaExceededError extends ZkError {
  /** @internal */ constructor(m: string, c?: ZkErrorContext) {
    super('QUOTA_EXCEEDED', m, c);
  }
}
/** The server is shedding load and refused the request (rc -127); safe to retry later. */
export class ThrottledOpError extends ZkError {
  /** @internal */ constructor(m: string, c?: ZkErrorContext) {
    super('THROTTLED_OP', m, c);
  }
}
/** Dynamic reconfiguration is disabled on the ensemble (rc -123). */
export class ReconfigDisabledError extends ZkError {
  /** @internal */ constructor(m: string, c?: ZkErrorContext) {
    super('RECONFIG_DISABLED', m, c);
  }
}
/**
 * The server sent bytes that are not a valid ZooKeeper frame (truncated, over `maxFrameBytes`,
 * an unknown xid or event): the client dropped that connection and reconnects.
 */
export class ProtocolError extends ZkError {
  /** @internal */ constructor(m: string, c?: ZkErrorContext) {
    super('PROTOCOL_ERROR', m, c);
  }
}
/**
 * A TLS connection failed its check, so no session went over it: the server's certificate does
 * not chain to a trusted CA or does not name the host (`tlsCode` `UNABLE_TO_VERIFY_LEAF_SIGNATURE`,
 * `ERR_TLS_CERT_ALTNAME_INVALID`, ...; the client sent nothing of the session), or the server
 * refused the handshake with a TLS alert (`ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN`, ...: e.g. a
 * client certificate it does not trust). `ZkSession.connect` rejects with it once every server of the
 * connect string failed so in a row (a misconfigured client, not a down server); a session that
 * was connected keeps retrying, since certificates get rotated.
 */
export class TlsError extends ZkError {
  /** The server that failed the check, `host:port` (several, comma-separated, when all did). */
  readonly server: string;
  /** Node's code for the failure, e.g. `ERR_TLS_CERT_ALTNAME_INVALID`. */
  readonly tlsCode: string;
  /** @internal */ constructor(m: string, c: ZkErrorContext & { server: string; tlsCode: string }) {
    super('TLS', m, c);
    this.server = c.server;
    this.tlsCode = c.tlsCode;
  }
}
/** The transport in use cannot do this (e.g. multi on the native binding); nothing was sent. */
export class UnsupportedError extends ZkError {
  /** @internal */ constructor(m: string, c?: ZkErrorContext) {
    super('UNSUPPORTED', m, c);
  }
}

type Ctor = new (m: string, c?: ZkErrorContext) => ZkError;

/** ZooKeeper return codes → [code, class, text]. */
const RC: Record<number, [ZkErrorCode, Ctor | undefined, string]> = {
  [-1]: ['SYSTEM_ERROR', undefined, 'system error'],
  [-2]: ['RUNTIME_INCONSISTENCY', undefined, 'runtime inconsistency'],
  [-3]: ['DATA_INCONSISTENCY', undefined, 'data inconsistency'],
  [-4]: ['CONNECTION_LOSS', ConnectionLossError, 'connection loss'],
  [-5]: ['MARSHALLING_ERROR', undefined, 'marshalling error'],
  [-6]: ['UNIMPLEMENTED', undefined, 'unimplemented'],
  [-7]: ['OPERATION_TIMEOUT', OperationTimeoutError, 'operation timeout'],
  [-8]: ['BAD_ARGUMENTS', undefined, 'bad arguments'],
  [-9]: ['INVALID_STATE', undefined, 'invalid zhandle state'],
  // The server no longer has the session (closed or expired while this request was on its way): expired, for every caller.
  [-12]: ['SESSION_EXPIRED', SessionExpiredError, 'unknown session (expired or closed on the server)'],
  [-13]: ['NEW_CONFIG_NO_QUORUM', undefined, 'no quorum of the new configuration is connected'],
  [-14]: ['RECONFIG_IN_PROGRESS', undefined, 'another reconfiguration is in progress'],
  [-100]: ['API_ERROR', undefined, 'api error'],
  [-101]: ['NO_NODE', NoNodeError, 'no node'],
  [-102]: ['NO_AUTH', NoAuthError, 'not authenticated'],
  [-103]: ['BAD_VERSION', BadVersionError, 'bad version'],
  [-108]: ['NO_CHILDREN_FOR_EPHEMERALS', NoChildrenForEphemeralsError, 'no children for ephemerals'],
  [-110]: ['NODE_EXISTS', NodeExistsError, 'node exists'],
  [-111]: ['NOT_EMPTY', NotEmptyError, 'not empty'],
  [-112]: ['SESSION_EXPIRED', SessionExpiredError, 'session expired'],
  [-113]: ['INVALID_CALLBACK', undefined, 'invalid callback'],
  [-114]: ['INVALID_ACL', InvalidAclError, 'invalid acl'],
  [-115]: ['AUTH_FAILED', AuthFailedError, 'authentication failed'],
  [-116]: ['CLOSING', ClosedError, 'zookeeper is closing'],
  [-117]: ['NOTHING', undefined, '(not error) no server responses to process'],
  [-118]: ['SESSION_MOVED', SessionMovedError, 'session moved to another server'],
  [-119]: ['NOT_READONLY', NotReadOnlyError, 'not a read-only call (server in read-only mode)'],
  [-120]: ['EPHEMERAL_ON_LOCAL_SESSION', undefined, 'ephemeral node on a local session'],
  [-121]: ['NO_WATCHER', NoWatcherError, 'no such watcher'],
  [-122]: ['REQUEST_TIMEOUT', undefined, 'request timeout'],
  [-123]: ['RECONFIG_DISABLED', ReconfigDisabledError, 'reconfig is disabled'],
  [-124]: ['SESSION_CLOSED_REQUIRE_SASL_AUTH', undefined, 'session closed: SASL authentication required'],
  [-125]: ['QUOTA_EXCEEDED', QuotaExceededError, 'quota exceeded'],
  [-127]: ['THROTTLED_OP', ThrottledOpError, 'operation throttled by the server'],
};

/**
 * A conditional write whose outcome nobody can tell: its reply was cut by a connection loss, and
 * the retry found the node's version moved on — by this very write, or by another client's. The
 * session never turns that into a plain `BadVersionError` (which would say "not applied"): read
 * the node to find out. `cause` is the connection loss.
 */
export class IndeterminateError extends ZkError {
  constructor(m: string, c?: ZkErrorContext) {
    super('INDETERMINATE', m, c);
  }
}

/** Return codes after which retrying the same request is safe and may succeed. */
export function isRetryable(err: unknown): boolean {
  return err instanceof ConnectionLossError || err instanceof OperationTimeoutError || err instanceof ThrottledOpError;
}

/**
 * Builds the typed error for a ZooKeeper return code.
 * @param rc - the numeric code (negative)
 * @param op - the operation, e.g. `create`
 * @param path - the path concerned (namespace already removed)
 */
export function fromRc(rc: number, op: string, path?: string, cause?: unknown, opIndex?: number): ZkError {
  const known = RC[rc];
  const code = known?.[0] ?? 'UNKNOWN';
  const text = known?.[2] ?? `unknown error ${rc}`;
  const msg = `${op}${path === undefined ? '' : ` ${path}`}: ${text} (rc ${rc})`;
  const ctx: ZkErrorContext = { op, path, rc, cause, opIndex };
  // -116 "closing" is reported as CLOSED: the caller closed the session under the request.
  if (rc === -116) return new ClosedError(msg, ctx);
  const C = known?.[1];
  return C ? new C(msg, ctx) : new ZkError(code, msg, ctx);
}

const ASYNC_FORM = /^(-\d+)\s/;
const SYNC_FORM = /result:\s*"Z[A-Z_]*\s+(-\d+)"/;

/**
 * Parses an error produced by the `zookeeper` binding (`'-101 no node'` or
 * `'... result: "ZINVALIDSTATE -9"'`) into a typed error. Anything else becomes a `ZkError`
 * with code `UNKNOWN` carrying the original as `cause`.
 */
export function fromBindingError(err: unknown, op: string, path?: string): ZkError {
  if (err instanceof ZkError) return err;
  const text = err instanceof Error ? err.message : String(err);
  const m = ASYNC_FORM.exec(text) ?? SYNC_FORM.exec(text);
  if (m) return fromRc(Number(m[1]), op, path, err);
  return new ZkError('UNKNOWN', `${op}${path ? ` ${path}` : ''}: ${text}`, { op, path, cause: err });
}
