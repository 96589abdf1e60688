/**
 * The ZooKeeper client: one ZooKeeper session over a sequence of connections, following the Java
 * client's `ClientCnxn` for semantics.
 *
 * States (the `state` property; a `state` event on each change):
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
 * first, then the watches (SetWatches2, batched), and only then do requests flow, so every
 * request sees the auth and every change made while away fires its one-shot watches (persistent
 * watches are set again but, as in ZooKeeper itself, do not replay what changed meanwhile). A notification is
 * delivered (synchronously, in frame order) before the reply of any read sent after it resolves.
 * @internal
 * @module
 */
import { channel } from 'node:diagnostics_channel';
import createDebug from 'debug';
import { EventEmitter } from 'eventemitter3';
import { emitSafely } from '../listeners.js';
import { fourLetterWord } from '../ops/fourlw.js';
import {
  AuthFailedError, ClosedError, ConnectionLossError, InvalidArgumentError, NoNodeError, ProtocolError, SessionExpiredError, ZkError,
} from '../errors.js';
import { Connection, frame, type Pending, type TlsOptions } from './connection.js';
import { DEFAULT_MAX_FRAME_BYTES } from './framing.js';
import { HostList, parseConnectString, resolve, type HostPort } from './hosts.js';
import { sharedWriter, type Reader, type Writer } from './jute.js';
import { readMulti, readMultiRead, writeMulti, writeMultiRead, type MultiOp, type MultiResult, type ReadOp, type ReadResult } from './multi.js';
import {
  AddWatchMode, EventType, Op, WatcherType, Xid, readStat, readWatcherEvent, writeSetWatches2, type ConnectResponse, type ReplyHeader, type Stat, type WireAcl,
} from './records.js';
import {
  readChildren2, readCreate2, readGetAcl, readGetData, readWhoAmI, writeAuth, writeCreate, writePath, writePathInt, writePathVersion,
  writePathWatch, writeReconfig, writeSetAcl, writeSetData,
} from './requests.js';
import { WatchRegistry, type ClientWatcher, type WatchKind } from './watches.js';
import type { Transport, TransportEvents } from '../transport.js';

const log = createDebug('zk-recipes:client');

/** `node:diagnostics_channel` channels: free when nobody subscribes. */
export const channels = {
  /** `{ op, path, xid }` as each request is sent. */
  request: channel('zk-recipes:client:request'),
  /** `{ op, path, xid, err, ms }` as each reply arrives (err 0 on success). */
  reply: channel('zk-recipes:client:reply'),
  /** `{ state, previous, sessionId, server }` on each state change. */
  state: channel('zk-recipes:client:state'),
};

/** Client states; see the module documentation. */
export type ClientState = 'connecting' | 'connected' | 'readOnly' | 'expired' | 'authFailed' | 'closed';

/** Events of a {@link ZkClient}. */
export type ClientEvents = TransportEvents;

/** One credential to send with `addAuth` (replayed on every reconnect). */
export interface ClientAuth {
  scheme: string;
  credentials: string | Buffer;
}

/** Options of {@link ZkClient}. */
export interface ClientOptions {
  /** Requested session timeout; the server negotiates it. @default 10000 */
  sessionTimeoutMs?: number;
  /** Accept a read-only server when no quorum can be reached. @default false */
  canBeReadOnly?: boolean;
  /** Credentials (digest `user:password`, ...), sent before any request on every connection. */
  auth?: readonly ClientAuth[];
  /** TLS for a `secureClientPort`. Off by default. */
  tls?: TlsOptions;
  /** Largest frame accepted from the server. @default 1 MB + 64 KB */
  maxFrameBytes?: number;
  /** Attach to an existing session instead of creating one (hex id and password). */
  session?: { id: string; password: Buffer };
  /** Follow `/zookeeper/config` and use the ensemble's current members as the host list. @default true */
  followConfig?: boolean;
}

/** Options of a create. */
export interface ClientCreateOptions {
  acl: readonly WireAcl[];
  /** A {@link CreateFlag}. */
  flags: number;
  /** For TTL modes, in ms. */
  ttl?: number | undefined;
}

const ZERO_ID = Buffer.alloc(8);
const ZERO_PASSWORD = Buffer.alloc(16);
const SET_WATCHES_MAX_BYTES = 128 * 1024;
const CONFIG_NODE = '/zookeeper/config';

function idToBytes(hex: string): Buffer {
  const b = Buffer.alloc(8);
  const v = BigInt(`0x${hex}`);
  b.writeBigUInt64BE(v);
  return b;
}

function bytesToId(b: Buffer): string {
  const hi = b.readUInt32BE(0);
  const lo = b.readUInt32BE(4);
  return hi === 0 ? lo.toString(16) : hi.toString(16) + lo.toString(16).padStart(8, '0');
}

/** A ZooKeeper session over its connections. Start it with `start()`. */
export class ZkClient extends EventEmitter<ClientEvents> implements Transport {
  /** This transport's name. */
  readonly name = 'client' as const;
  /** The ACL travels with the create. */
  readonly aclAtCreate = true;
  /** The chroot from the connect string ('' when none). */
  readonly chroot: string;
  private readonly hosts: HostList;
  private readonly writer = sharedWriter;
  private readonly watches = new WatchRegistry();
  private readonly requestedTimeoutMs: number;
  private readonly maxFrameBytes: number;
  private _state: ClientState = 'connecting';
  private conn: Connection | undefined;
  private server: HostPort | undefined;
  private sessionIdBytes: Buffer;
  private password: Buffer;
  private _negotiatedMs: number;
  private lastZxid = 0;
  private xid = 1;
  private seenRwServer = false;
  private expiryTimer: NodeJS.Timeout | undefined;
  private preferred: HostPort | undefined;
  private authReplies: Array<(err: number) => void> = [];
  private setWatchesReplies: Array<(err: number) => void> = [];
  private closing: Promise<void> | undefined;
  /** The connection whose handshake is under way. */
  private opening: Connection | undefined;
  private wake: (() => void) | undefined;

  constructor(connectString: string, private readonly options: ClientOptions = {}) {
    super();
    const { hosts, chroot } = parseConnectString(connectString);
    this.chroot = chroot;
    this.hosts = new HostList(hosts);
    this.requestedTimeoutMs = options.sessionTimeoutMs ?? 10_000;
    this._negotiatedMs = this.requestedTimeoutMs;
    this.maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    if (options.session) {
      this.sessionIdBytes = idToBytes(options.session.id);
      this.password = options.session.password;
      this.seenRwServer = true;
    } else {
      this.sessionIdBytes = ZERO_ID;
      this.password = ZERO_PASSWORD;
    }
  }

  /** Starts connecting (once). */
  start(): this {
    void this.run().catch((err) => log('connection loop failed: %O', err));
    return this;
  }

  /** The current state. */
  get state(): ClientState {
    return this._state;
  }

  /** The session id (hex), '0' before the first connection. */
  get sessionId(): string {
    return bytesToId(this.sessionIdBytes);
  }

  /** The session password (for attaching a second client to the session, as tests do). */
  get sessionPassword(): Buffer {
    return this.password;
  }

  /** The negotiated session timeout (the requested one until connected). */
  get sessionTimeoutMs(): number {
    return this._negotiatedMs;
  }

  /** The last zxid seen in a reply. */
  get lastZxidSeen(): number {
    return this.lastZxid;
  }

  /** `host:port` of the server connected to, or undefined. */
  get connectedServer(): string | undefined {
    return this.conn && this.server ? `${this.server.host}:${this.server.port}` : undefined;
  }

  /** The servers in use (updated from `/zookeeper/config`). */
  get serverList(): readonly HostPort[] {
    return this.hosts.hosts;
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
    emitSafely(this, 'state', next, prev);
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
      const t = setTimeout(() => { this.wake = undefined; r(); }, ms);
      this.wake = () => { clearTimeout(t); this.wake = undefined; r(); };
    });
  }

  /** One attempt on one server; resolves once that connection is over. Returns whether it connected. */
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
      const sessionId = this.seenRwServer ? this.sessionIdBytes : ZERO_ID;
      const { conn, ready } = Connection.open({
        address, port: host.port, host: host.host, maxFrameBytes: this.maxFrameBytes, tls: this.options.tls, writer: this.writer,
        // At most a third of the session timeout, however few the hosts: a server that accepts the
        // connection but never answers (ZooKeeper 3.8.0 does so to a connection that arrives while
        // it starts, ZOOKEEPER-5051; a paused one too) must leave time for more attempts before
        // the session expires.
        connectTimeoutMs: Math.max(1, Math.floor(this._negotiatedMs / Math.max(3, this.hosts.size))),
        handler: { onHeader: (h) => this.onHeader(h), onSpecial: (h, r) => this.onSpecial(h, r) },
      }, {
        lastZxidSeen: this.lastZxid, timeoutMs: this.requestedTimeoutMs, sessionId,
        password: this.seenRwServer ? this.password : ZERO_PASSWORD, readOnly: this.options.canBeReadOnly ?? false,
      });
      this.opening = conn; // so that close() or an expiry cuts a handshake short
      let response: ConnectResponse;
      try {
        response = await ready;
      } catch (err) {
        log('connect to %s (%s):%d failed: %s', host.host, address, host.port, (err as Error).message);
        continue;
      } finally {
        this.opening = undefined;
      }
      if (this.terminal) { conn.close(); return false; }
      if (response.timeoutMs <= 0) {
        conn.close('session expired');
        this.expire('server');
        return false;
      }
      // A new id on a live client happens only around read-only servers (their sessions are
      // local); the watches are sent again on it, as the Java client does.
      const newSession = !response.sessionId.equals(this.sessionIdBytes);
      this.conn = conn;
      this.server = host;
      this.sessionIdBytes = response.sessionId;
      this.password = response.password;
      this._negotiatedMs = response.timeoutMs;
      if (!response.readOnly) this.seenRwServer = true;
      conn.startTimers(response.timeoutMs);
      const primed = await this.prime(conn);
      if (primed && conn.open && !this.terminal) {
        clearTimeout(this.expiryTimer);
        this.expiryTimer = undefined;
        this.setState(response.readOnly ? 'readOnly' : 'connected');
        emitSafely(this, 'connected', { sessionId: this.sessionId, readOnly: response.readOnly, newSession, server: `${host.host}:${host.port}` });
        if (this.options.followConfig !== false && !response.readOnly) this.readConfig(conn);
        if (response.readOnly) void this.seekReadWrite(conn);
      }
      const reason = await conn.closed;
      this.conn = undefined;
      this.failSpecials();
      if (!this.terminal) this.onDisconnected(reason.message);
      return primed;
    }
    return false;
  }

  /**
   * Credentials first, then the watches; waits for the auth replies (a rejected credential ends
   * the session here, before any request of the caller runs without it).
   */
  private async prime(conn: Connection): Promise<boolean> {
    const auths = this.options.auth ?? [];
    const replies: Array<Promise<number>> = [];
    for (const a of auths) {
      replies.push(new Promise((r) => this.authReplies.push(r)));
      conn.send(frame(this.writer, (w) => {
        w.int(Xid.auth).int(Op.auth);
        writeAuth(w, a.scheme, typeof a.credentials === 'string' ? Buffer.from(a.credentials) : a.credentials);
      }));
    }
    this.sendSetWatches(conn);
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

  private sendSetWatches(conn: Connection): void {
    if (this.watches.size === 0) return;
    const all = this.watches.paths();
    const kinds: WatchKind[] = ['data', 'exist', 'child', 'persistent', 'persistentRecursive'];
    // Batches of at most 128 KB of paths, as the Java client sends them.
    let batch: Record<WatchKind, string[]> = { data: [], exist: [], child: [], persistent: [], persistentRecursive: [] };
    let bytes = 0;
    const flush = () => {
      const b = batch;
      const v2 = b.persistent.length > 0 || b.persistentRecursive.length > 0;
      this.setWatchesReplies.push((err) => { if (err !== 0) log('setWatches failed rc=%d', err); });
      conn.send(frame(this.writer, (w) => {
        w.int(Xid.setWatches).int(v2 ? Op.setWatches2 : Op.setWatches);
        if (v2) writeSetWatches2(w, { relativeZxid: this.lastZxid, data: b.data, exist: b.exist, child: b.child, persistent: b.persistent, persistentRecursive: b.persistentRecursive });
        else w.long(this.lastZxid).strings(b.data).strings(b.exist).strings(b.child);
      }));
      batch = { data: [], exist: [], child: [], persistent: [], persistentRecursive: [] };
      bytes = 0;
    };
    for (const k of kinds) {
      for (const p of all[k]) {
        const sp = this.toServer(p);
        if (bytes + sp.length > SET_WATCHES_MAX_BYTES && bytes > 0) flush();
        batch[k].push(sp);
        bytes += sp.length;
      }
    }
    if (bytes > 0) flush();
  }

  private failSpecials(): void {
    const a = this.authReplies;
    const s = this.setWatchesReplies;
    this.authReplies = [];
    this.setWatchesReplies = [];
    for (const r of a) r(-4);
    for (const r of s) r(-4);
  }

  private onDisconnected(reason: string): void {
    log('disconnected from %s: %s', this.server ? `${this.server.host}:${this.server.port}` : '?', reason);
    const wasUp = this._state === 'connected' || this._state === 'readOnly';
    this.setState('connecting');
    if (wasUp) emitSafely(this, 'disconnected', { reason });
    // Past a whole session timeout without a connection the server has expired us: say so now.
    if (!this.expiryTimer && this.sessionIdBytes !== ZERO_ID) {
      this.expiryTimer = setTimeout(() => { this.expiryTimer = undefined; if (this._state === 'connecting') this.expire('timeout'); }, this._negotiatedMs);
      this.expiryTimer.unref();
    }
  }

  private expire(reason: 'server' | 'timeout'): void {
    if (this.terminal) return;
    this.terminate('expired');
    emitSafely(this, 'expired', { reason });
  }

  private terminate(state: 'expired' | 'authFailed' | 'closed'): void {
    clearTimeout(this.expiryTimer);
    this.expiryTimer = undefined;
    this.watches.clear();
    this.setState(state);
    if (state === 'authFailed') emitSafely(this, 'authFailed');
    this.wake?.();
    this.opening?.close(`client ${state}`);
    const conn = this.conn;
    if (conn && state !== 'closed') conn.close(state === 'expired' ? 'session expired' : 'authentication failed');
  }

  // ---- incoming -----------------------------------------------------------------------------------

  private onHeader(h: ReplyHeader): void {
    if (h.xid >= 0 && h.zxid > this.lastZxid) this.lastZxid = h.zxid;
  }

  private onSpecial(h: ReplyHeader, r: Reader): void {
    switch (h.xid) {
      case Xid.ping: return;
      case Xid.auth: {
        const cb = this.authReplies.shift();
        cb?.(h.err);
        return;
      }
      case Xid.setWatches: {
        const cb = this.setWatchesReplies.shift();
        cb?.(h.err);
        return;
      }
      case Xid.notification: {
        const ev = readWatcherEvent(r);
        if (ev.type === EventType.none) return; // session events come from the connection, not from here
        if (ev.path === CONFIG_NODE && this.configWatched) {
          this.configWatched = false;
          if (this.conn) this.readConfig(this.conn);
        }
        const type = ev.type === EventType.created ? 'created'
          : ev.type === EventType.deleted ? 'deleted'
            : ev.type === EventType.dataChanged ? 'changed'
              : ev.type === EventType.childrenChanged ? 'child' : undefined;
        if (!type) throw new ProtocolError(`notification with unknown event type ${ev.type} for ${ev.path}`, { op: 'watch' });
        const path = this.fromServer(ev.path);
        if (path === undefined) return;
        this.watches.deliver({ type, path });
      }
    }
  }

  // ---- dynamic membership -------------------------------------------------------------------------

  private configWatched = false;

  /** Reads `/zookeeper/config` (outside any chroot) with a watch and adopts its member list. */
  private readConfig(conn: Connection): void {
    const p = this.rawRequest<{ data: Buffer }>(conn, Op.getData, 'getConfig', CONFIG_NODE, (w) => writePathWatch(w, CONFIG_NODE, true), (r) => readGetData(r));
    this.configWatched = true;
    p.then(({ data }) => {
      const hosts = parseConfig(data.toString('utf8'));
      if (hosts.length === 0) return;
      const same = hosts.length === this.hosts.size && hosts.every((h) => this.hosts.hosts.some((x) => x.host === h.host && x.port === h.port));
      if (same) return;
      log('ensemble configuration: %s', hosts.map((h) => `${h.host}:${h.port}`).join(','));
      const stillMember = this.hosts.replace(hosts, this.server);
      if (!stillMember && this.conn === conn) conn.close('server left the ensemble configuration');
    }, (err: unknown) => {
      this.configWatched = false;
      if (!(err instanceof NoNodeError)) log('reading %s failed: %s', CONFIG_NODE, (err as Error).message);
    });
  }

  /** While on a read-only server, looks for a read-write one (`isro`) and moves there. */
  private async seekReadWrite(conn: Connection): Promise<void> {
    let delay = 100;
    while (conn.open && this._state === 'readOnly') {
      await new Promise((r) => setTimeout(r, delay).unref());
      delay = Math.min(delay * 2, 5000);
      for (const h of this.hosts.hosts) {
        if (!conn.open || this._state !== 'readOnly') return;
        if (this.server && h.host === this.server.host && h.port === this.server.port) continue;
        const answer = await fourLetterWord(h.host, h.port, 'isro', 1000).catch(() => '');
        if (answer.trim() === 'rw') {
          log('read-write server found at %s:%d; moving there', h.host, h.port);
          this.preferred = h;
          conn.close('moving to a read-write server');
          return;
        }
      }
    }
  }

  // ---- requests -----------------------------------------------------------------------------------

  private toServer(path: string): string {
    if (!this.chroot) return path;
    return path === '/' ? this.chroot : this.chroot + path;
  }

  private fromServer(path: string): string | undefined {
    if (!this.chroot) return path;
    if (path === this.chroot) return '/';
    return path.startsWith(`${this.chroot}/`) ? path.slice(this.chroot.length) : undefined;
  }

  private readonly strip = (p: string): string => this.fromServer(p) ?? p;

  private nextXid(): number {
    const x = this.xid;
    this.xid = x >= 0x7ffffffe ? 1 : x + 1;
    return x;
  }

  private unavailable(op: string, path: string | undefined): ZkError {
    const where = path === undefined ? op : `${op} ${path}`;
    switch (this._state) {
      case 'closed': return new ClosedError(`${where}: client is closed`, { op, path });
      case 'expired': return new SessionExpiredError(`${where}: session expired`, { op, path, rc: -112 });
      case 'authFailed': return new AuthFailedError(`${where}: authentication failed`, { op, path, rc: -115 });
      default: return new ConnectionLossError(`${where}: not connected (${this._state})`, { op, path, rc: -4 });
    }
  }

  /** Sends one request on the current connection; the reply body goes through `decode`. */
  private submit<T>(opcode: number, op: string, path: string | undefined, body: ((w: Writer) => void) | undefined, decode: ((r: Reader, h: ReplyHeader) => T) | undefined, onReply?: (err: number) => void): Promise<T> {
    const conn = this.conn;
    if (!conn || (this._state !== 'connected' && this._state !== 'readOnly')) return Promise.reject(this.unavailable(op, path));
    return this.rawRequest(conn, opcode, op, path, body, decode, onReply);
  }

  /** Registers `watcher` when the reply says the server set the watch (`kind` on success, `missing` on NO_NODE). */
  private watchOnReply(path: string, watcher: ClientWatcher | undefined, kind: WatchKind, missing?: WatchKind): ((err: number) => void) | undefined {
    if (!watcher) return undefined;
    return (err) => {
      if (err === 0) this.watches.add(kind, path, watcher);
      else if (err === -101 && missing) this.watches.add(missing, path, watcher);
    };
  }

  private rawRequest<T>(conn: Connection, opcode: number, op: string, path: string | undefined, body: ((w: Writer) => void) | undefined, decode: ((r: Reader, h: ReplyHeader) => T) | undefined, onReply?: (err: number) => void): Promise<T> {
    const xid = this.nextXid();
    const w = this.writer.begin().int(xid).int(opcode);
    if (body) body(w);
    const bytes = w.finish();
    if (bytes.length - 4 > this.maxFrameBytes) {
      return Promise.reject(new InvalidArgumentError(`${op}${path === undefined ? '' : ` ${path}`}: request of ${bytes.length} bytes is over maxFrameBytes (${this.maxFrameBytes})`, { op, path }));
    }
    const traced = channels.reply.hasSubscribers;
    if (channels.request.hasSubscribers) channels.request.publish({ op, path, xid });
    return new Promise<T>((resolve, reject) => {
      const started = traced ? performance.now() : 0;
      const p: Pending = {
        xid, opcode, op, path, onReply,
        decode: decode as Pending['decode'],
        resolve: traced ? (v) => { channels.reply.publish({ op, path, xid, err: 0, ms: performance.now() - started }); resolve(v as T); } : resolve as (v: unknown) => void,
        reject: traced ? (e) => { channels.reply.publish({ op, path, xid, err: e.rc ?? -1, ms: performance.now() - started }); reject(e); } : reject,
      };
      conn.request(p, bytes);
    });
  }

  /** Creates a node (create2: the reply holds the stat; containers and TTL nodes by their own op codes). */
  create(path: string, data: Uint8Array, o: ClientCreateOptions): Promise<{ path: string; stat: Stat }> {
    const sp = this.toServer(path);
    const opcode = o.ttl !== undefined ? Op.createTTL : o.flags === 4 ? Op.createContainer : Op.create2;
    return this.submit(opcode, 'create', path, (w) => writeCreate(w, sp, data, o.acl, o.flags, o.ttl), (r) => {
      const c = readCreate2(r);
      return { path: this.strip(c.path), stat: c.stat };
    });
  }

  /** Deletes a node (`version` -1: any). */
  delete(path: string, version = -1): Promise<void> {
    const sp = this.toServer(path);
    return this.submit(Op.delete, 'delete', path, (w) => writePathVersion(w, sp, version), undefined);
  }

  /** A node's stat, or null; a watcher fires on its create (if missing), change or delete. */
  exists(path: string, watcher?: ClientWatcher): Promise<Stat | null> {
    const sp = this.toServer(path);
    return this.submit(Op.exists, 'exists', path, (w) => writePathWatch(w, sp, watcher !== undefined), (r) => readStat(r), this.watchOnReply(path, watcher, 'data', 'exist'))
      .catch((err: unknown) => {
        if (!(err instanceof NoNodeError)) throw err;
        return null;
      });
  }

  /** A node's data and stat; a watcher fires on its change or delete. */
  getData(path: string, watcher?: ClientWatcher): Promise<{ data: Buffer; stat: Stat }> {
    const sp = this.toServer(path);
    return this.submit(Op.getData, 'get', path, (w) => writePathWatch(w, sp, watcher !== undefined), readGetData, this.watchOnReply(path, watcher, 'data'));
  }

  /** Writes data (`version` -1: any); returns the new stat. */
  setData(path: string, data: Uint8Array, version = -1): Promise<Stat> {
    const sp = this.toServer(path);
    return this.submit(Op.setData, 'set', path, (w) => writeSetData(w, sp, data, version), (r) => readStat(r));
  }

  /** A node's ACL and stat. */
  getACL(path: string): Promise<{ acl: WireAcl[]; stat: Stat }> {
    const sp = this.toServer(path);
    return this.submit(Op.getACL, 'getAcl', path, (w) => writePath(w, sp), (r) => readGetAcl(r));
  }

  /** Replaces a node's ACL (`version`: expected ACL version, -1 any). */
  setACL(path: string, acl: readonly WireAcl[], version = -1): Promise<Stat> {
    const sp = this.toServer(path);
    return this.submit(Op.setACL, 'setAcl', path, (w) => writeSetAcl(w, sp, acl, version), (r) => readStat(r));
  }

  /** Children and the parent's stat (getChildren2); a watcher fires on a child created or deleted, or the node deleted. */
  getChildren(path: string, watcher?: ClientWatcher): Promise<{ children: string[]; stat: Stat }> {
    const sp = this.toServer(path);
    return this.submit(Op.getChildren2, 'getChildren', path, (w) => writePathWatch(w, sp, watcher !== undefined), readChildren2, this.watchOnReply(path, watcher, 'child'));
  }

  /** Number of all descendants of a node. */
  getAllChildrenNumber(path: string): Promise<number> {
    const sp = this.toServer(path);
    return this.submit(Op.getAllChildrenNumber, 'getAllChildrenNumber', path, (w) => writePath(w, sp), (r) => r.int());
  }

  /** Paths of this session's ephemeral nodes under `prefix` ('/' for all). */
  getEphemerals(prefix = '/'): Promise<string[]> {
    const sp = this.toServer(prefix);
    return this.submit(Op.getEphemerals, 'getEphemerals', prefix, (w) => writePath(w, sp), (r) => r.strings().map(this.strip));
  }

  /** Lets the server catch up with the leader before later reads. */
  sync(path: string): Promise<void> {
    const sp = this.toServer(path);
    return this.submit(Op.sync, 'sync', path, (w) => writePath(w, sp), () => undefined);
  }

  /** The identities the server associates with this session. */
  whoAmI(): Promise<Array<{ scheme: string; user: string }>> {
    return this.submit(Op.whoAmI, 'whoAmI', undefined, undefined, (r) => readWhoAmI(r));
  }

  /** All-or-nothing writes; throws the failing op's typed error with `opIndex`. */
  multi(ops: readonly MultiOp[]): Promise<MultiResult[]> {
    const server = ops.map((o) => ({ ...o, path: this.toServer(o.path) }));
    return this.submit(Op.multi, 'multi', undefined, (w) => writeMulti(w, server), (r) => readMulti(r, server, this.strip));
  }

  /** Several reads in one round trip, each answered on its own. */
  multiRead(ops: readonly ReadOp[]): Promise<ReadResult[]> {
    const server = ops.map((o) => ({ ...o, path: this.toServer(o.path) }));
    return this.submit(Op.multiRead, 'multiRead', undefined, (w) => writeMultiRead(w, server), (r) => readMultiRead(r, server, this.strip));
  }

  /** A persistent watch (recursive: the whole subtree) that stays until removed. */
  async addWatch(path: string, watcher: ClientWatcher, recursive: boolean): Promise<void> {
    const sp = this.toServer(path);
    const mode = recursive ? AddWatchMode.persistentRecursive : AddWatchMode.persistent;
    await this.submit(Op.addWatch, 'addWatch', path, (w) => writePathInt(w, sp, mode), undefined, this.watchOnReply(path, watcher, recursive ? 'persistentRecursive' : 'persistent'));
  }

  /**
   * Removes a watcher (or all watchers of the kind) from `path`; when none of the kind remains the
   * server's watch is removed too (removeWatches). Resolves whether anything was removed.
   */
  async removeWatch(path: string, kind: WatchKind, watcher?: ClientWatcher): Promise<boolean> {
    const { removed, remaining } = this.watches.remove(kind, path, watcher);
    if (!removed || remaining) return removed;
    // The server keeps one data watch for data and exist watchers, and (3.8) takes no persistent
    // watch type in removeWatches: only "any" (3) removes a persistent one. So a server watch that
    // other watchers of this path still need stays; with nothing left to deliver to, it is harmless.
    const still = (...kinds: WatchKind[]) => kinds.some((k) => this.watches.has(k, path));
    let type: number;
    if (kind === 'data' || kind === 'exist') {
      if (still('data', 'exist')) return true;
      type = WatcherType.data;
    } else if (kind === 'child') {
      type = WatcherType.children;
    } else {
      if (still('data', 'exist', 'child', 'persistent', 'persistentRecursive')) return true;
      type = WatcherType.any;
    }
    const sp = this.toServer(path);
    await this.submit(Op.removeWatches, 'removeWatches', path, (w) => writePathInt(w, sp, type), undefined).catch((err: unknown) => {
      // The server may have fired (and so dropped) the watch meanwhile.
      if (!(err instanceof ZkError && err.code === 'NO_WATCHER')) throw err;
    });
    return true;
  }

  /** Asks the server whether it holds a watch of `type` (1 children, 2 data, 3 any) on `path`. */
  checkWatches(path: string, type: 1 | 2 | 3): Promise<void> {
    const sp = this.toServer(path);
    return this.submit(Op.checkWatches, 'checkWatches', path, (w) => writePathInt(w, sp, type), undefined);
  }

  /** Dynamic reconfiguration (needs the super user or `skipACL`); returns the new config. */
  reconfig(o: { joining?: string; leaving?: string; newMembers?: string; fromConfig?: number }): Promise<{ data: Buffer; stat: Stat }> {
    return this.submit(Op.reconfig, 'reconfig', CONFIG_NODE, (w) => writeReconfig(w, o.joining ?? null, o.leaving ?? null, o.newMembers ?? null, o.fromConfig ?? -1), (r) => readGetData(r));
  }

  /** Registered watch paths by kind (for tests and diagnostics). */
  watchedPaths(): Record<WatchKind, string[]> {
    return this.watches.paths();
  }

  /**
   * Closes the session on the server (closeSession: its ephemerals go at once) and the
   * connection. Idempotent; later calls fail with CLOSED.
   */
  close(timeoutMs = 2000): Promise<void> {
    if (this.closing) return this.closing;
    const conn = this.conn;
    const wasUp = conn !== undefined && (this._state === 'connected' || this._state === 'readOnly');
    const terminalBefore = this.terminal;
    this.closing = (async () => {
      if (wasUp && conn && !terminalBefore) {
        const req = this.rawRequest(conn, Op.closeSession, 'close', undefined, undefined, undefined).catch(() => undefined);
        this.terminate('closed');
        const t = new Promise<void>((r) => setTimeout(r, timeoutMs).unref());
        await Promise.race([req, conn.closed, t]);
      } else if (!terminalBefore) {
        this.terminate('closed');
      } else {
        this.setState('closed');
      }
      conn?.close('closed by the client');
      emitSafely(this, 'closed');
    })();
    return this.closing;
  }
}

/**
 * The client addresses in a dynamic configuration (`server.N=host:q:e[:role];[addr:]port`). A
 * wildcard client address (0.0.0.0, ::) means the server's own host.
 */
export function parseConfig(text: string): HostPort[] {
  const out: HostPort[] = [];
  for (const line of text.split('\n')) {
    const m = /^server\.\d+=([^;]*);(.+)$/.exec(line.trim());
    if (!m) continue;
    const quorumHost = m[1]!.replace(/^\[([^\]]+)\].*$/, '$1').split(':')[0]!;
    const client = m[2]!.trim();
    const i = client.lastIndexOf(':');
    const port = Number(i < 0 ? client : client.slice(i + 1));
    let host = i < 0 ? quorumHost : client.slice(0, i).replace(/^\[|\]$/g, '');
    if (host === '0.0.0.0' || host === '::' || host === '') host = quorumHost;
    if (Number.isInteger(port) && port > 0 && port < 65536) out.push({ host, port });
  }
  return out;
}
