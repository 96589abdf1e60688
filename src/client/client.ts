/**
 * The ZooKeeper client, `ZkClient`: what a caller asks of the session, as ZooKeeper requests.
 * Each operation maps its paths into the chroot, encodes its body (requests.ts, multi.ts) and
 * hands it to the session machine (session-machine.ts), which sends it on the current connection
 * or fails it at once saying why there is none. A watch is registered as the reply of the read
 * that set it is read, before the read resolves, so that a notification in the very next frame
 * finds it.
 * @internal
 * @module
 */
import { EventEmitter } from 'eventemitter3';
import { NoNodeError, ZkError } from '../errors.js';
import { Chroot } from './chroot.js';
import type { TlsOptions } from './connection.js';
import { parseConnectString, type HostPort } from './hosts.js';
import { CONFIG_NODE } from './membership.js';
import { readMulti, readMultiRead, writeMulti, writeMultiRead, type MultiOp, type MultiResult, type ReadOp, type ReadResult } from './multi.js';
import { AddWatchMode, Op, WatcherType, readStat, type Stat, type WireAcl } from './records.js';
import {
  readChildren2,
  readCreate2,
  readGetAcl,
  readGetData,
  readWhoAmI,
  writeCreate,
  writePath,
  writePathInt,
  writePathVersion,
  writePathWatch,
  writeReconfig,
  writeSetAcl,
  writeSetData,
} from './requests.js';
import { SessionMachine, type ClientState } from './session-machine.js';
import { WatchRegistry, type ClientWatcher, type WatchKind } from './watches.js';
import type { Transport, TransportEvents } from '../transport.js';

export { channels } from './dispatch.js';
export { parseConfig } from './membership.js';
export type { ClientState } from './session-machine.js';

/** One credential to send with `addAuth` (replayed on every reconnect). */
export interface ClientAuth {
  scheme: string;
  credentials: string | Buffer;
}

/** Options of {@link ZkClient} (the session machine is what reads them). */
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
  /** Follow `/zookeeper/config` and use the ensemble's current members as the host list (never with `tls`: the config names plain ports only). @default true */
  followConfig?: boolean;
  /** Hears each failed connection attempt (`error` a TlsError when the TLS check failed). */
  onConnectFailed?: (info: { server: string; error: Error }) => void;
}

/** Events of a {@link ZkClient}. */
export type ClientEvents = TransportEvents;

/** Options of a create. */
export interface ClientCreateOptions {
  acl: readonly WireAcl[];
  /** A {@link CreateFlag}. */
  flags: number;
  /** For TTL modes, in ms. */
  ttl?: number | undefined;
}

/** A ZooKeeper session over its connections. Start it with `start()`. */
export class ZkClient extends EventEmitter<ClientEvents> implements Transport {
  /** This transport's name. */
  readonly name = 'client' as const;
  /** The ACL travels with the create. */
  readonly aclAtCreate = true;
  /** The chroot from the connect string ('' when none). */
  readonly chroot: string;
  private readonly paths: Chroot;
  private readonly watches = new WatchRegistry();
  private readonly machine: SessionMachine;

  constructor(connectString: string, options: ClientOptions = {}) {
    super();
    const { hosts, chroot } = parseConnectString(connectString);
    this.chroot = chroot;
    this.paths = new Chroot(chroot);
    this.machine = new SessionMachine(this, hosts, this.paths, this.watches, options);
  }

  /** Starts connecting (once). */
  start(): this {
    this.machine.start();
    return this;
  }

  /** The current state. */
  get state(): ClientState {
    return this.machine.state;
  }

  /** The session id (hex), '0' before the first connection. */
  get sessionId(): string {
    return this.machine.sessionId;
  }

  /** The session password (for attaching a second client to the session, as tests do). */
  get sessionPassword(): Buffer {
    return this.machine.sessionPassword;
  }

  /** The negotiated session timeout (the requested one until connected). */
  get sessionTimeoutMs(): number {
    return this.machine.sessionTimeoutMs;
  }

  /** The last zxid seen in a reply. */
  get lastZxidSeen(): number {
    return this.machine.lastZxidSeen;
  }

  /** `host:port` of the server connected to, or undefined. */
  get connectedServer(): string | undefined {
    return this.machine.connectedServer;
  }

  /** The servers in use (updated from `/zookeeper/config`). */
  get serverList(): readonly HostPort[] {
    return this.machine.hosts.hosts;
  }

  /** Registers `watcher` when the reply says the server set the watch (`kind` on success, `missing` on NO_NODE). */
  private watchOnReply(path: string, watcher: ClientWatcher | undefined, kind: WatchKind, missing?: WatchKind): ((err: number) => void) | undefined {
    if (!watcher) return undefined;
    return (err) => {
      if (err === 0) this.watches.add(kind, path, watcher);
      else if (err === -101 && missing) this.watches.add(missing, path, watcher);
    };
  }

  /** Creates a node (create2: the reply holds the stat; containers and TTL nodes by their own op codes). */
  create(path: string, data: Uint8Array, o: ClientCreateOptions): Promise<{ path: string; stat: Stat }> {
    const sp = this.paths.toServer(path);
    const opcode = o.ttl !== undefined ? Op.createTTL : o.flags === 4 ? Op.createContainer : Op.create2;
    return this.machine.submit(
      opcode,
      'create',
      path,
      (w) => writeCreate(w, sp, data, o.acl, o.flags, o.ttl),
      (r) => {
        const c = readCreate2(r);
        return { path: this.paths.strip(c.path), stat: c.stat };
      },
    );
  }

  /** Deletes a node (`version` -1: any). */
  delete(path: string, version = -1): Promise<void> {
    const sp = this.paths.toServer(path);
    return this.machine.submit(Op.delete, 'delete', path, (w) => writePathVersion(w, sp, version), undefined);
  }

  /** A node's stat, or null; a watcher fires on its create (if missing), change or delete. */
  exists(path: string, watcher?: ClientWatcher): Promise<Stat | null> {
    const sp = this.paths.toServer(path);
    return this.machine
      .submit(
        Op.exists,
        'exists',
        path,
        (w) => writePathWatch(w, sp, watcher !== undefined),
        (r) => readStat(r),
        this.watchOnReply(path, watcher, 'data', 'exist'),
      )
      .catch((err: unknown) => {
        if (!(err instanceof NoNodeError)) throw err;
        return null;
      });
  }

  /** A node's data and stat; a watcher fires on its change or delete. */
  getData(path: string, watcher?: ClientWatcher): Promise<{ data: Buffer; stat: Stat }> {
    const sp = this.paths.toServer(path);
    return this.machine.submit(
      Op.getData,
      'get',
      path,
      (w) => writePathWatch(w, sp, watcher !== undefined),
      readGetData,
      this.watchOnReply(path, watcher, 'data'),
    );
  }

  /** Writes data (`version` -1: any); returns the new stat. */
  setData(path: string, data: Uint8Array, version = -1): Promise<Stat> {
    const sp = this.paths.toServer(path);
    return this.machine.submit(
      Op.setData,
      'set',
      path,
      (w) => writeSetData(w, sp, data, version),
      (r) => readStat(r),
    );
  }

  /** A node's ACL and stat. */
  getACL(path: string): Promise<{ acl: WireAcl[]; stat: Stat }> {
    const sp = this.paths.toServer(path);
    return this.machine.submit(
      Op.getACL,
      'getAcl',
      path,
      (w) => writePath(w, sp),
      (r) => readGetAcl(r),
    );
  }

  /** Replaces a node's ACL (`version`: expected ACL version, -1 any). */
  setACL(path: string, acl: readonly WireAcl[], version = -1): Promise<Stat> {
    const sp = this.paths.toServer(path);
    return this.machine.submit(
      Op.setACL,
      'setAcl',
      path,
      (w) => writeSetAcl(w, sp, acl, version),
      (r) => readStat(r),
    );
  }

  /** Children and the parent's stat (getChildren2); a watcher fires on a child created or deleted, or the node deleted. */
  getChildren(path: string, watcher?: ClientWatcher): Promise<{ children: string[]; stat: Stat }> {
    const sp = this.paths.toServer(path);
    return this.machine.submit(
      Op.getChildren2,
      'getChildren',
      path,
      (w) => writePathWatch(w, sp, watcher !== undefined),
      readChildren2,
      this.watchOnReply(path, watcher, 'child'),
    );
  }

  /** Number of all descendants of a node. */
  getAllChildrenNumber(path: string): Promise<number> {
    const sp = this.paths.toServer(path);
    return this.machine.submit(
      Op.getAllChildrenNumber,
      'getAllChildrenNumber',
      path,
      (w) => writePath(w, sp),
      (r) => r.int(),
    );
  }

  /** Paths of this session's ephemeral nodes under `prefix` ('/' for all). */
  getEphemerals(prefix = '/'): Promise<string[]> {
    const sp = this.paths.toServer(prefix);
    return this.machine.submit(
      Op.getEphemerals,
      'getEphemerals',
      prefix,
      (w) => writePath(w, sp),
      (r) => r.strings().map(this.paths.strip),
    );
  }

  /** Lets the server catch up with the leader before later reads. */
  sync(path: string): Promise<void> {
    const sp = this.paths.toServer(path);
    return this.machine.submit(
      Op.sync,
      'sync',
      path,
      (w) => writePath(w, sp),
      () => undefined,
    );
  }

  /** The identities the server associates with this session. */
  whoAmI(): Promise<Array<{ scheme: string; user: string }>> {
    return this.machine.submit(Op.whoAmI, 'whoAmI', undefined, undefined, (r) => readWhoAmI(r));
  }

  /** All-or-nothing writes; throws the failing op's typed error with `opIndex`. */
  multi(ops: readonly MultiOp[]): Promise<MultiResult[]> {
    const server = ops.map((o) => ({ ...o, path: this.paths.toServer(o.path) }));
    return this.machine.submit(
      Op.multi,
      'multi',
      undefined,
      (w) => writeMulti(w, server),
      (r) => readMulti(r, server, this.paths.strip),
    );
  }

  /** Several reads in one round trip, each answered on its own. */
  multiRead(ops: readonly ReadOp[]): Promise<ReadResult[]> {
    const server = ops.map((o) => ({ ...o, path: this.paths.toServer(o.path) }));
    return this.machine.submit(
      Op.multiRead,
      'multiRead',
      undefined,
      (w) => writeMultiRead(w, server),
      (r) => readMultiRead(r, server, this.paths.strip),
    );
  }

  /** A persistent watch (recursive: the whole subtree) that stays until removed. */
  async addWatch(path: string, watcher: ClientWatcher, recursive: boolean): Promise<void> {
    const sp = this.paths.toServer(path);
    const mode = recursive ? AddWatchMode.persistentRecursive : AddWatchMode.persistent;
    await this.machine.submit(
      Op.addWatch,
      'addWatch',
      path,
      (w) => writePathInt(w, sp, mode),
      undefined,
      this.watchOnReply(path, watcher, recursive ? 'persistentRecursive' : 'persistent'),
    );
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
    const sp = this.paths.toServer(path);
    await this.machine
      .submit(Op.removeWatches, 'removeWatches', path, (w) => writePathInt(w, sp, type), undefined)
      .catch((err: unknown) => {
        // The server may have fired (and so dropped) the watch meanwhile.
        if (!(err instanceof ZkError && err.code === 'NO_WATCHER')) throw err;
      });
    return true;
  }

  /** Asks the server whether it holds a watch of `type` (1 children, 2 data, 3 any) on `path`. */
  checkWatches(path: string, type: 1 | 2 | 3): Promise<void> {
    const sp = this.paths.toServer(path);
    return this.machine.submit(Op.checkWatches, 'checkWatches', path, (w) => writePathInt(w, sp, type), undefined);
  }

  /** Dynamic reconfiguration (needs the super user or `skipACL`); returns the new config. */
  reconfig(o: { joining?: string; leaving?: string; newMembers?: string; fromConfig?: number }): Promise<{ data: Buffer; stat: Stat }> {
    return this.machine.submit(
      Op.reconfig,
      'reconfig',
      CONFIG_NODE,
      (w) => writeReconfig(w, o.joining ?? null, o.leaving ?? null, o.newMembers ?? null, o.fromConfig ?? -1),
      (r) => readGetData(r),
    );
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
    return this.machine.close(timeoutMs);
  }
}
