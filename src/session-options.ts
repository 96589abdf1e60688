/**
 * Checking what callers hand the session, before anything is sent: the connect string and the
 * session's options (resolved here with their defaults), and the arguments every operation
 * shares: data (a Buffer, Uint8Array or string under ZooKeeper's limit), ACLs, versions, and a
 * create's mode, TTL and ACL (one check for `create` and for a transaction's create op).
 * @internal
 * @module
 */
import type { TlsOptions } from './client/connection.js';
import { parseConnectString } from './client/hosts.js';
import { CreateFlag as Z } from './client/records.js';
import { InvalidArgumentError, type ZkErrorContext } from './errors.js';
import { MAX_DATA_BYTES, validatePath } from './paths.js';
import { Acls, type Acl, type AuthInfo, type CreateMode, type NodeData, type RetryOptions, type SessionOptions } from './session-types.js';
import type { TransportName } from './transport.js';

/** The session's options with every default filled in. */
export interface Resolved {
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

const DEFAULTS = { sessionTimeoutMs: 10000, connectTimeoutMs: 15000 };
const RETRY_DEFAULTS: Required<RetryOptions> = { retries: 5, minDelayMs: 100, maxDelayMs: 5000, factor: 2 };
const KNOWN = [
  'sessionTimeoutMs',
  'connectTimeoutMs',
  'namespace',
  'retry',
  'auth',
  'defaultAcl',
  'reconnectAfterLost',
  'transport',
  'canBeReadOnly',
  'tls',
  'maxFrameBytes',
  'nativeLogLevel',
];
const HOST = String.raw`(\[[0-9a-fA-F:.]+\]|[^\s,/[\]]+):\d+`;
const CONNECT_STRING = new RegExp(`^${HOST}(,${HOST})*(\\/.*)?$`);

/** Empty data. */
export const EMPTY = Buffer.alloc(0);

/** The wire flags of each create mode. */
export const MODE_FLAGS: Record<CreateMode, number> = {
  persistent: Z.persistent,
  ephemeral: Z.ephemeral,
  persistent_sequential: Z.persistentSequential,
  ephemeral_sequential: Z.ephemeralSequential,
  container: Z.container,
  persistent_ttl: Z.persistentWithTtl,
  persistent_sequential_ttl: Z.persistentSequentialWithTtl,
};
const SEQUENTIAL = new Set<number>([Z.persistentSequential, Z.ephemeralSequential, Z.persistentSequentialWithTtl]);

function bad(message: string): never {
  throw new InvalidArgumentError(message, { op: 'connect' });
}

function num(v: unknown, name: string, min: number, integer = true): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || (integer && !Number.isInteger(v))) {
    bad(`session: option ${name} must be ${integer ? 'an integer' : 'a number'} >= ${min}, got ${String(v)}`);
  }
  return v;
}

/** `acl` as a non-empty ACL list. @throws InvalidArgumentError naming `name` */
export function checkAcl(acl: unknown, name: string): readonly Acl[] {
  if (
    !Array.isArray(acl)
    || acl.length === 0
    || !acl.every((a) => a && typeof a.perms === 'number' && typeof a.scheme === 'string' && typeof a.id === 'string')
  ) {
    throw new InvalidArgumentError(`${name} must be a non-empty array of { perms, scheme, id }`, { op: name });
  }
  return acl as readonly Acl[];
}

/** Data as bytes. @throws InvalidArgumentError for another type, or over ZooKeeper's limit */
export function toData(data: NodeData | undefined, op: string, path: string): Uint8Array {
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

/** An expected version (`-1`: any; `fallback` when unset). @throws InvalidArgumentError after `where` */
export function checkVersion(v: unknown, fallback: number | undefined, where: string, ctx: ZkErrorContext): number {
  const n = v ?? fallback;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < -1) throw new InvalidArgumentError(`${where}: version must be an integer >= -1`, ctx);
  return n;
}

/** A create's mode, TTL and ACL, checked. */
export interface CreateSpec {
  /** The wire flags of the mode. */
  flags: number;
  /** The TTL, for `_ttl` modes only. */
  ttl: number | undefined;
  /** The ACL asked for (undefined: the session's default, or OPEN). */
  acl: readonly Acl[] | undefined;
}

/**
 * Checks a create's mode, path, TTL and ACL. `where` starts each message (`create /a`),
 * `pathOp` names the operation in a path error, `ctx` goes with each error.
 */
export function checkCreate(
  o: { mode?: CreateMode | undefined; ttlMs?: number | undefined; acl?: readonly Acl[] | undefined },
  path: string,
  where: string,
  pathOp: string,
  ctx: ZkErrorContext,
  defaultAcl: readonly Acl[] | undefined,
): CreateSpec {
  const mode = o.mode ?? 'persistent';
  const flags = MODE_FLAGS[mode];
  if (flags === undefined) throw new InvalidArgumentError(`${where}: unknown mode ${String(mode)}`, ctx);
  validatePath(path, pathOp, SEQUENTIAL.has(flags));
  const isTtl = mode === 'persistent_ttl' || mode === 'persistent_sequential_ttl';
  if (isTtl && (typeof o.ttlMs !== 'number' || !Number.isInteger(o.ttlMs) || o.ttlMs <= 0)) {
    throw new InvalidArgumentError(`${where}: mode ${mode} needs ttlMs, a positive integer`, ctx);
  }
  const acl = o.acl === undefined ? defaultAcl : checkAcl(o.acl, `${where}: option acl`);
  return { flags, ttl: isTtl ? o.ttlMs : undefined, acl };
}

/** The ACL that goes on the wire for a create asked for with `acl`. */
export function wireAcl(acl: readonly Acl[] | undefined): readonly Acl[] {
  return acl ?? Acls.OPEN;
}

/**
 * Checks the connect string and the options, and fills in the defaults.
 * @throws InvalidArgumentError naming the bad option (nothing is opened)
 */
export function resolveOptions(connectString: unknown, o: SessionOptions | undefined): Resolved {
  if (typeof connectString !== 'string' || !CONNECT_STRING.test(connectString)) {
    bad(`session: connectString must look like "host:port[,host:port...][/chroot]", got ${JSON.stringify(connectString)}`);
  }
  parseConnectString(connectString);
  if (o !== undefined && (o === null || typeof o !== 'object')) bad('session: options must be an object');
  const opts = o ?? {};
  for (const k of Object.keys(opts)) if (!KNOWN.includes(k)) bad(`session: unknown option ${k}`);
  checkFlags(opts);
  return {
    sessionTimeoutMs: num(opts.sessionTimeoutMs ?? DEFAULTS.sessionTimeoutMs, 'sessionTimeoutMs', 1),
    connectTimeoutMs: num(opts.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs, 'connectTimeoutMs', 1),
    namespace: resolveNamespace(opts.namespace),
    retry: resolveRetry(opts.retry ?? {}),
    auth: resolveAuth(opts.auth),
    defaultAcl: opts.defaultAcl === undefined ? undefined : checkAcl(opts.defaultAcl, 'session: option defaultAcl'),
    reconnectAfterLost: opts.reconnectAfterLost ?? true,
    transport: opts.transport ?? 'client',
    canBeReadOnly: opts.canBeReadOnly ?? false,
    tls: opts.tls,
    maxFrameBytes: opts.maxFrameBytes === undefined ? undefined : num(opts.maxFrameBytes, 'maxFrameBytes', 1024),
    nativeLogLevel: opts.nativeLogLevel ?? 0,
  };
}

/** The options that are one of a few values (booleans, the transport, the log level, tls). */
function checkFlags(opts: SessionOptions): void {
  const level = opts.nativeLogLevel ?? 0;
  if (![0, 1, 2, 3, 4].includes(level)) bad(`session: option nativeLogLevel must be 0..4, got ${String(level)}`);
  if (opts.reconnectAfterLost !== undefined && typeof opts.reconnectAfterLost !== 'boolean') bad('session: option reconnectAfterLost must be a boolean');
  const transport = opts.transport ?? 'client';
  if (transport !== 'client' && transport !== 'native') bad(`session: option transport must be 'client' or 'native', got ${String(transport)}`);
  if (opts.canBeReadOnly !== undefined && typeof opts.canBeReadOnly !== 'boolean') bad('session: option canBeReadOnly must be a boolean');
  if (opts.tls !== undefined && (opts.tls === null || typeof opts.tls !== 'object'))
    bad('session: option tls must be an object { ca?, cert?, key?, servername?, rejectUnauthorized? }');
}

function resolveNamespace(namespace: string | undefined): string {
  if (namespace === undefined) return '';
  validatePath(namespace, 'session: option namespace');
  return namespace === '/' ? '' : namespace;
}

function resolveRetry(r: RetryOptions): Required<RetryOptions> {
  if (typeof r !== 'object' || r === null) bad('session: option retry must be an object');
  return {
    retries: num(r.retries ?? RETRY_DEFAULTS.retries, 'retry.retries', 0),
    minDelayMs: num(r.minDelayMs ?? RETRY_DEFAULTS.minDelayMs, 'retry.minDelayMs', 0),
    maxDelayMs: num(r.maxDelayMs ?? RETRY_DEFAULTS.maxDelayMs, 'retry.maxDelayMs', 0),
    factor: num(r.factor ?? RETRY_DEFAULTS.factor, 'retry.factor', 1, false),
  };
}

function resolveAuth(auth: SessionOptions['auth']): AuthInfo[] {
  const list = (auth === undefined ? [] : Array.isArray(auth) ? auth : [auth]) as AuthInfo[];
  for (const a of list) {
    if (!a || typeof a.credentials !== 'string' || (a.scheme !== undefined && typeof a.scheme !== 'string')) {
      bad('session: option auth must be { scheme?, credentials: string } (credentials not shown)');
    }
  }
  return list;
}
