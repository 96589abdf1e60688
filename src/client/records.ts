/**
 * ZooKeeper's wire records (`zookeeper.jute`) and constants: op codes, special xids, event types,
 * create flags, and the encoders and decoders of the records the client sends and receives.
 * Field order follows `zookeeper.jute` exactly; nothing here does I/O.
 * @internal
 * @module
 */
import { DecodeError, type Reader, type Writer } from './jute.js';

/** Request op codes (`ZooDefs.OpCode`). */
export const Op = {
  notification: 0,
  create: 1,
  delete: 2,
  exists: 3,
  getData: 4,
  setData: 5,
  getACL: 6,
  setACL: 7,
  getChildren: 8,
  sync: 9,
  ping: 11,
  getChildren2: 12,
  check: 13,
  multi: 14,
  create2: 15,
  reconfig: 16,
  checkWatches: 17,
  removeWatches: 18,
  createContainer: 19,
  deleteContainer: 20,
  createTTL: 21,
  multiRead: 22,
  auth: 100,
  setWatches: 101,
  sasl: 102,
  getEphemerals: 103,
  getAllChildrenNumber: 104,
  setWatches2: 105,
  addWatch: 106,
  whoAmI: 107,
  createSession: -10,
  closeSession: -11,
  error: -1,
} as const;

/** Reserved xids of requests the client makes on its own behalf. */
export const Xid = { notification: -1, ping: -2, auth: -4, setWatches: -8 } as const;

/** Watch event types (`Watcher.Event.EventType`). */
export const EventType = {
  none: -1,
  created: 1,
  deleted: 2,
  dataChanged: 3,
  childrenChanged: 4,
  dataWatchRemoved: 5,
  childWatchRemoved: 6,
  persistentWatchRemoved: 7,
} as const;

/** Keeper states carried by events (`Watcher.Event.KeeperState`). */
export const KeeperState = { disconnected: 0, syncConnected: 3, authFailed: 4, connectedReadOnly: 5, saslAuthenticated: 6, expired: -112, closed: 7 } as const;

/** Create flags (`CreateMode.toFlag()`). */
export const CreateFlag = {
  persistent: 0,
  ephemeral: 1,
  persistentSequential: 2,
  ephemeralSequential: 3,
  container: 4,
  persistentWithTtl: 5,
  persistentSequentialWithTtl: 6,
} as const;

/** `AddWatchMode`. */
export const AddWatchMode = { persistent: 0, persistentRecursive: 1 } as const;

/** `WatcherType` of checkWatches / removeWatches. */
export const WatcherType = { children: 1, data: 2, any: 3, persistent: 4, persistentRecursive: 5 } as const;

/** A node's metadata (`org.apache.zookeeper.data.Stat`). zxids are numbers (exact up to 2^53, far beyond any real zxid). */
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

/** One ACL entry as on the wire. */
export interface WireAcl {
  perms: number;
  scheme: string;
  id: string;
}

/** Bytes of a Stat on the wire. */
export const STAT_BYTES = 68;

export function readStat(r: Reader): Stat {
  const czxid = r.long();
  const mzxid = r.long();
  const ctime = new Date(r.long());
  const mtime = new Date(r.long());
  const version = r.int();
  const cversion = r.int();
  const aversion = r.int();
  const ephemeralOwner = r.longHex();
  const dataLength = r.int();
  const numChildren = r.int();
  const pzxid = r.long();
  return { czxid, mzxid, pzxid, ctime, mtime, version, cversion, aversion, ephemeralOwner, dataLength, numChildren };
}

export function writeAcls(w: Writer, acl: readonly WireAcl[]): void {
  w.int(acl.length);
  for (const a of acl) w.int(a.perms).string(a.scheme).string(a.id);
}

export function readAcls(r: Reader): WireAcl[] {
  const n = r.count(12, 'ACL entries');
  const out: WireAcl[] = [];
  for (let i = 0; i < n; i++) out.push({ perms: r.int(), scheme: r.string(), id: r.string() });
  return out;
}

/** A copy of a data field: a view would pin the whole socket chunk it came in. */
export function readData(r: Reader): Buffer {
  const view = r.buffer();
  return view.length === 0 ? view : Buffer.from(view);
}

// ---- session establishment ---------------------------------------------------------------------

/** `ConnectRequest` (+ the `readOnly` flag every client since 3.4 appends). */
export interface ConnectRequest {
  lastZxidSeen: number;
  timeoutMs: number;
  /** 8 bytes; zeros for a new session. */
  sessionId: Buffer;
  /** 16 bytes; zeros for a new session. */
  password: Buffer;
  readOnly: boolean;
}

export function writeConnectRequest(w: Writer, c: ConnectRequest): void {
  w.int(0).long(c.lastZxidSeen).int(c.timeoutMs).longBytes(c.sessionId).buffer(c.password).bool(c.readOnly);
}

/** `ConnectResponse`; a `timeoutMs` of 0 or less means the session expired. */
export interface ConnectResponse {
  protocolVersion: number;
  timeoutMs: number;
  sessionId: Buffer;
  password: Buffer;
  readOnly: boolean;
}

export function readConnectResponse(r: Reader): ConnectResponse {
  const protocolVersion = r.int();
  const timeoutMs = r.int();
  const sessionId = r.longBytes();
  const password = Buffer.from(r.buffer());
  // Servers before 3.4 do not send the flag.
  const readOnly = r.remaining > 0 ? r.bool() : false;
  return { protocolVersion, timeoutMs, sessionId, password, readOnly };
}

// ---- headers -----------------------------------------------------------------------------------

/** `ReplyHeader`. */
export interface ReplyHeader {
  xid: number;
  zxid: number;
  err: number;
}

export function readReplyHeader(r: Reader): ReplyHeader {
  return { xid: r.int(), zxid: r.long(), err: r.int() };
}

/** `WatcherEvent`. */
export interface WatcherEvent {
  type: number;
  state: number;
  path: string;
}

export function readWatcherEvent(r: Reader): WatcherEvent {
  return { type: r.int(), state: r.int(), path: r.string() };
}

/** `SetWatches2`: every watch kind, relative to the last zxid seen. */
export interface SetWatches2 {
  relativeZxid: number;
  data: string[];
  exist: string[];
  child: string[];
  persistent: string[];
  persistentRecursive: string[];
}

export function writeSetWatches2(w: Writer, s: SetWatches2): void {
  w.long(s.relativeZxid).strings(s.data).strings(s.exist).strings(s.child).strings(s.persistent).strings(s.persistentRecursive);
}

/** Checks that a decoder used the whole body: trailing bytes mean we misread the frame. */
export function expectEnd(r: Reader, what: string): void {
  if (r.remaining !== 0) throw new DecodeError(`${what}: ${r.remaining} unexpected trailing bytes`);
}
