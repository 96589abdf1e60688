/**
 * Typed errors. Every failure the library reports is a {@link ZkError} with a stable `code`;
 * server answers map to one subclass per ZooKeeper return code, so callers can write
 * `if (err instanceof NoNodeError)` or `switch (err.code)` instead of matching message text.
 *
 * The `zookeeper` binding reports failures as `Error('-101 no node')` (asynchronous) or
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
  | 'UNKNOWN'
  // library codes (no server round trip involved)
  | 'CLOSED'
  | 'INVALID_PATH'
  | 'INVALID_ARGUMENT'
  | 'TIMEOUT'
  | 'ABORTED'
  | 'CONNECT_TIMEOUT'
  | 'LOCK_LOST'
  | 'ILLEGAL_STATE';

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
  }
}

/* One subclass per code, so `instanceof` works. Kept terse on purpose: they differ only in code. */

/** The node does not exist (rc -101). */
export class NoNodeError extends ZkError { /** @internal */ constructor(m: string, c?: ZkErrorContext) { super('NO_NODE', m, c); } }
/** The node already exists (rc -110). */
export class NodeExistsError extends ZkError { /** @internal */ constructor(m: string, c?: ZkErrorContext) { super('NODE_EXISTS', m, c); } }
/** The expected version did not match (rc -103). */
export class BadVersionError extends ZkError { /** @internal */ constructor(m: string, c?: ZkErrorContext) { super('BAD_VERSION', m, c); } }
/** The node has children (rc -111). */
export class NotEmptyError extends ZkError { /** @internal */ constructor(m: string, c?: ZkErrorContext) { super('NOT_EMPTY', m, c); } }
/** The connection dropped before an answer (rc -4); the operation may or may not have happened. */
export class ConnectionLossError extends ZkError { /** @internal */ constructor(m: string, c?: ZkErrorContext) { super('CONNECTION_LOSS', m, c); } }
/** The session expired (rc -112): its ephemeral nodes are gone. */
export class SessionExpiredError extends ZkError { /** @internal */ constructor(m: string, c?: ZkErrorContext) { super('SESSION_EXPIRED', m, c); } }
/** The caller lacks permission (rc -102). */
export class NoAuthError extends ZkError { /** @internal */ constructor(m: string, c?: ZkErrorContext) { super('NO_AUTH', m, c); } }
/** The request was in flight when the connection dropped (rc -7); outcome unknown. */
export class OperationTimeoutError extends ZkError { /** @internal */ constructor(m: string, c?: ZkErrorContext) { super('OPERATION_TIMEOUT', m, c); } }
/** A path broke ZooKeeper's path rules; nothing was sent. */
export class InvalidPathError extends ZkError { /** @internal */ constructor(m: string, c?: ZkErrorContext) { super('INVALID_PATH', m, c); } }
/** The session (or recipe) was closed; nothing was sent. */
export class ClosedError extends ZkError { /** @internal */ constructor(m: string, c?: ZkErrorContext) { super('CLOSED', m, c); } }
/** An argument or option had the wrong type or value; nothing was sent. */
export class InvalidArgumentError extends ZkError { /** @internal */ constructor(m: string, c?: ZkErrorContext) { super('INVALID_ARGUMENT', m, c); } }
/** A wait ran past its `timeoutMs`. */
export class TimeoutError extends ZkError { /** @internal */ constructor(m: string, c?: ZkErrorContext) { super('TIMEOUT', m, c); } }
/** A wait was cancelled by its `AbortSignal`. */
export class AbortedError extends ZkError { /** @internal */ constructor(m: string, c?: ZkErrorContext) { super('ABORTED', m, c); } }
/** `ZkSession.connect` did not reach the ensemble within `connectTimeoutMs`. */
export class ConnectTimeoutError extends ZkError { /** @internal */ constructor(m: string, c?: ZkErrorContext) { super('CONNECT_TIMEOUT', m, c); } }
/** A call was made in a state that does not allow it (e.g. a second `start()`). */
export class IllegalStateError extends ZkError { /** @internal */ constructor(m: string, c?: ZkErrorContext) { super('ILLEGAL_STATE', m, c); } }
/** A lock or lease was lost (connection suspended or session lost) while held. */
export class LockLostError extends ZkError { /** @internal */ constructor(m: string, c?: ZkErrorContext) { super('LOCK_LOST', m, c); } }
/** Authentication failed (rc -115). */
export class AuthFailedError extends ZkError { /** @internal */ constructor(m: string, c?: ZkErrorContext) { super('AUTH_FAILED', m, c); } }
/** The ACL was invalid (rc -114). */
export class InvalidAclError extends ZkError { /** @internal */ constructor(m: string, c?: ZkErrorContext) { super('INVALID_ACL', m, c); } }
/** Ephemeral nodes cannot have children (rc -108). */
export class NoChildrenForEphemeralsError extends ZkError { /** @internal */ constructor(m: string, c?: ZkErrorContext) { super('NO_CHILDREN_FOR_EPHEMERALS', m, c); } }

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
  [-118]: ['SESSION_MOVED', undefined, 'session moved to another server'],
};

/** Return codes after which retrying the same request is safe and may succeed. */
export function isRetryable(err: unknown): boolean {
  return err instanceof ConnectionLossError || err instanceof OperationTimeoutError;
}

/**
 * Builds the typed error for a ZooKeeper return code.
 * @param rc - the numeric code (negative)
 * @param op - the operation, e.g. `create`
 * @param path - the path concerned (namespace already removed)
 */
export function fromRc(rc: number, op: string, path?: string, cause?: unknown): ZkError {
  const known = RC[rc];
  const code = known?.[0] ?? 'UNKNOWN';
  const text = known?.[2] ?? `unknown error ${rc}`;
  const msg = `${op}${path === undefined ? '' : ` ${path}`}: ${text} (rc ${rc})`;
  const ctx: ZkErrorContext = { op, path, rc, cause };
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
