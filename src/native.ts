/**
 * The optional native transport: the `zookeeper` binding (the C client) behind the session's
 * {@link Transport} interface, for `ZkSession.connect(cs, { transport: 'native' })`. The package
 * is an optional peer dependency: install it yourself to use this.
 *
 * What the C client cannot do fails with an {@link UnsupportedError} naming the feature: multi,
 * multiRead, persistent watches (it has no addWatch), whoAmI, getEphemerals,
 * getAllChildrenNumber, TLS, read-only mode. It creates nodes with an open ACL (the session sets
 * the requested ACL right after: `aclAtCreate` is false). Its two known faults and what guards
 * against them here (the descriptor guard of `fd-guard.ts`, `response_counter_limit`) are in
 * `docs/binding-issues.md`.
 * @internal
 * @module
 */
import createDebug from 'debug';
import { EventEmitter } from 'eventemitter3';
import { emitSafely } from './listeners.js';
import { loadBinding, Z, type BindingHandle, type NativeHandle, type RawAcl, type RawStat, type RawWatcher } from './binding.js';
import { ClosedError, ConnectionLossError, UnsupportedError, type ZkError, fromBindingError, fromRc } from './errors.js';
import { NOT_CONNECTED, holdFreeFds, releaseFds } from './fd-guard.js';
import type { ClientWatcher, Stat, Transport, TransportEvents, TransportOptions, WireAcl } from './transport.js';

const log = createDebug('zk-recipes:native');

type RawCb = (rc: number, err: string, a?: unknown, b?: unknown) => void;

function eventType(t: number): 'created' | 'deleted' | 'changed' | 'child' | undefined {
  switch (t) {
    case Z.CREATED_EVENT:
      return 'created';
    case Z.DELETED_EVENT:
      return 'deleted';
    case Z.CHANGED_EVENT:
      return 'changed';
    case Z.CHILD_EVENT:
      return 'child';
    default:
      return undefined;
  }
}

/** Opens a native transport (loads the binding; throws if it is not installed). */
export function openNativeTransport(connectString: string, o: TransportOptions): Transport {
  if (o.tls) throw new UnsupportedError('session: TLS is not supported by the native transport (use the default transport)', { op: 'connect' });
  if (o.canBeReadOnly)
    throw new UnsupportedError('session: canBeReadOnly is not supported by the native transport (use the default transport)', { op: 'connect' });
  let Binding: ReturnType<typeof loadBinding>;
  try {
    Binding = loadBinding();
  } catch (err) {
    throw new UnsupportedError(
      `session: transport "native" needs the optional peer dependency \`zookeeper\`, built for this Node (npm install zookeeper): ${(err as Error)?.message ?? String(err)}`,
      { op: 'connect', cause: err },
    );
  }
  return new NativeTransport(
    new Binding({
      connect: connectString,
      timeout: o.sessionTimeoutMs,
      debug_level: o.nativeLogLevel,
      host_order_deterministic: false,
      // The binding closes a handle as if its session had expired after 10 wake-ups in a row
      // with no complete response (`response_counter_limit`); while a server restarts on a busy
      // machine that fires in storms. The C client's own timeouts are the ones to trust.
      response_counter_limit: 2 ** 30,
    }),
    o,
  );
}

class NativeTransport extends EventEmitter<TransportEvents> implements Transport {
  readonly name = 'native' as const;
  readonly aclAtCreate = false;
  private native: NativeHandle | undefined;
  private connected = false;
  private everConnected = false;
  private closed = false;
  private lostTimer: NodeJS.Timeout | undefined;
  private lastId = '0';
  /** The handle whose closed socket's descriptor number is being held (fd-guard.ts). */
  private guarding = false;
  /** add_auth calls not answered yet; `connected` waits for them (a rejected credential ends the session first). */
  private authPending = 0;
  private connectDeferred = false;

  constructor(
    private readonly handle: BindingHandle,
    private readonly o: TransportOptions,
  ) {
    super();
    this.native = handle.native;
  }

  get sessionId(): string {
    return this.handle.client_id;
  }

  get sessionPassword(): Buffer {
    return Buffer.from(this.handle.client_password, 'hex');
  }

  get sessionTimeoutMs(): number {
    return this.native?.timeout || this.o.sessionTimeoutMs;
  }

  start(): this {
    const h = this.handle;
    h.on('connect', () => this.onConnect());
    h.on('connecting', () => this.onConnecting());
    h.on('close', (_self: unknown, rc: unknown) => this.onClose(Number(rc)));
    h.init({});
    for (const a of this.o.auth) {
      this.authPending++;
      h.native.add_auth(a.scheme, a.credentials, (rc) => {
        this.authPending--;
        if (this.closed) return;
        if (rc === -115 || rc === -113) {
          this.terminal(() => emitSafely(this, 'authFailed'));
          return;
        }
        if (rc !== 0) log('add_auth failed rc=%d (scheme %s)', rc, a.scheme);
        if (this.authPending === 0 && this.connectDeferred) {
          this.connectDeferred = false;
          this.onConnect();
        }
      });
    }
    return this;
  }

  private onConnect(): void {
    if (this.closed || !this.native) return;
    if (this.authPending > 0) {
      this.connectDeferred = true;
      return;
    }
    clearTimeout(this.lostTimer);
    const id = this.handle.client_id;
    const newSession = id !== this.lastId;
    this.lastId = id;
    this.connected = true;
    this.everConnected = true;
    emitSafely(this, 'connected', { sessionId: id, readOnly: false, newSession });
  }

  private onConnecting(): void {
    if (this.closed || !this.connected) return;
    this.connected = false;
    emitSafely(this, 'disconnected', { reason: 'connection dropped' });
    // The server expires a silent session after its timeout; past that, our ephemerals are gone
    // for everyone else, so say so now rather than when we hear of it.
    this.lostTimer = setTimeout(() => {
      if (!this.closed && !this.connected) this.terminal(() => emitSafely(this, 'expired', { reason: 'timeout' }));
    }, this.sessionTimeoutMs);
  }

  private onClose(rc: number): void {
    if (this.closed) return;
    if (rc === -112) this.terminal(() => emitSafely(this, 'expired', { reason: 'server' }));
    else if (rc === -113 || rc === -115) this.terminal(() => emitSafely(this, 'authFailed'));
    else log('handle closed unexpectedly rc=%d (ever connected: %s)', rc, this.everConnected);
  }

  private terminal(announce: () => void): void {
    clearTimeout(this.lostTimer);
    this.native = undefined;
    announce();
  }

  /** One request on the native handle. */
  private call<T>(op: string, path: string, invoke: (n: NativeHandle, cb: RawCb) => number, map: (a: unknown, b: unknown) => T): Promise<T> {
    const native = this.native;
    if (!native || this.closed) {
      return Promise.reject(
        this.closed
          ? new ClosedError(`${op} ${path}: session is closed`, { op, path })
          : new ConnectionLossError(`${op} ${path}: no connection (native handle gone)`, { op, path }),
      );
    }
    return new Promise<T>((resolve, reject) => {
      let rc: number;
      try {
        rc = invoke(native, (code, _err, a, b) => {
          if (code === 0) resolve(map(a, b));
          // -116: the handle was closed under the request (the session replaced it after `lost`,
          // or closed): the outcome is unknown, as after any connection loss; the session turns
          // it into CLOSED when it was its own close().
          else if (code === -116) reject(new ConnectionLossError(`${op} ${path}: handle closed under the request`, { op, path, rc: code }));
          else reject(fromRc(code, op, path));
        });
      } catch (err) {
        reject(this.closed ? new ClosedError(`${op} ${path}: session is closed`, { op, path, cause: err }) : fromBindingError(err, op, path));
        return;
      }
      if (native.state === NOT_CONNECTED) this.guardClosedSocket(native);
      if (typeof rc === 'number' && rc < 0) reject(this.unusable(op, path, rc));
    });
  }

  private unusable(op: string, path: string, rc: number): ZkError {
    if (this.closed) return new ClosedError(`${op} ${path}: session is closed`, { op, path, rc });
    if (rc === -9) return new ConnectionLossError(`${op} ${path}: handle not usable`, { op, path, rc });
    return fromRc(rc, op, path);
  }

  /**
   * The C client closed its socket inside a request call: hold the free descriptor numbers until
   * it has a new socket (then the binding has dropped its stale poll handle). See fd-guard.ts.
   */
  private guardClosedSocket(native: NativeHandle): void {
    if (this.guarding) return;
    const held = holdFreeFds();
    if (held.length === 0) return;
    this.guarding = true;
    log('socket closed inside a request call: holding %d free descriptor numbers until the client reconnects', held.length);
    const deadline = Date.now() + 2 * this.sessionTimeoutMs + 1000;
    const timer = setInterval(() => {
      const s = this.native === native ? native.state : -1;
      if (s === 1 || s === 2 || s === 3 || this.native !== native || Date.now() > deadline) {
        clearInterval(timer);
        releaseFds(held);
        this.guarding = false;
      }
    }, 20);
    timer.unref();
  }

  private watcher(w: ClientWatcher | undefined): RawWatcher | undefined {
    if (!w) return undefined;
    return (type, _state, path) => {
      const t = eventType(type);
      if (t) w({ type: t, path });
    };
  }

  create(
    path: string,
    data: Uint8Array,
    o: { acl: readonly WireAcl[]; flags: number; ttl?: number | undefined },
  ): Promise<{ path: string; stat?: Stat | undefined }> {
    const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    return this.call(
      'create',
      path,
      (n, cb) => (o.ttl ? n.a_create_ttl(path, buf, o.flags, o.ttl, cb) : n.a_create(path, buf, o.flags, cb)),
      (p) => ({ path: p as string }),
    );
  }

  delete(path: string, version = -1): Promise<void> {
    return this.call(
      'delete',
      path,
      (n, cb) => n.a_delete_(path, version, cb),
      () => undefined,
    );
  }

  async exists(path: string, watcher?: ClientWatcher): Promise<Stat | null> {
    const w = this.watcher(watcher);
    try {
      return await this.call(
        'exists',
        path,
        (n, cb) => (w ? n.aw_exists(path, w, cb) : n.a_exists(path, false, cb)),
        (s) => s as RawStat as Stat,
      );
    } catch (err) {
      if ((err as ZkError).code === 'NO_NODE') return null;
      throw err;
    }
  }

  getData(path: string, watcher?: ClientWatcher): Promise<{ data: Buffer; stat: Stat }> {
    const w = this.watcher(watcher);
    return this.call(
      'get',
      path,
      (n, cb) => (w ? n.aw_get(path, w, cb) : n.a_get(path, false, cb)),
      (stat, data) => ({ data: (data as Buffer | undefined) ?? Buffer.alloc(0), stat: stat as RawStat as Stat }),
    );
  }

  setData(path: string, data: Uint8Array, version = -1): Promise<Stat> {
    const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    return this.call(
      'set',
      path,
      (n, cb) => n.a_set(path, buf, version, cb),
      (s) => s as RawStat as Stat,
    );
  }

  async getACL(path: string): Promise<{ acl: WireAcl[]; stat: Stat }> {
    // The binding frees the ACL vector of a failed a_get_acl, which is NULL: the process dies
    // (SIGSEGV, node-zk.cpp acl_completion). Ask first, so a missing node fails here instead;
    // a node deleted between the two requests can still crash it (docs/binding-issues.md).
    if ((await this.exists(path)) === null) throw fromRc(-101, 'getAcl', path);
    return this.call(
      'getAcl',
      path,
      (n, cb) => n.a_get_acl(path, cb),
      (acl, stat) => ({ acl: (acl as RawAcl[]).map((a) => ({ perms: a.perms, scheme: a.scheme, id: a.auth })), stat: stat as RawStat as Stat }),
    );
  }

  setACL(path: string, acl: readonly WireAcl[], version = -1): Promise<Stat> {
    const raw = acl.map((a) => ({ perm: a.perms, scheme: a.scheme, auth: a.id }));
    return this.call(
      'setAcl',
      path,
      (n, cb) => n.a_set_acl(path, version, raw, cb),
      () => ({}) as Stat,
    );
  }

  getChildren(path: string, watcher?: ClientWatcher): Promise<{ children: string[]; stat: Stat }> {
    const w = this.watcher(watcher);
    return this.call(
      'getChildren',
      path,
      (n, cb) => (w ? n.aw_get_children2(path, w, cb) : n.a_get_children2(path, false, cb)),
      (c, s) => ({ children: c as string[], stat: s as RawStat as Stat }),
    );
  }

  sync(path: string): Promise<void> {
    return this.call(
      'sync',
      path,
      (n, cb) => n.a_sync(path, cb),
      () => undefined,
    );
  }

  private unsupported(feature: string): Promise<never> {
    return Promise.reject(
      new UnsupportedError(`${feature} is not supported by the native transport (the C client has no such call); use the default transport`, { op: feature }),
    );
  }

  getAllChildrenNumber(): Promise<number> {
    return this.unsupported('getAllChildrenNumber');
  }
  getEphemerals(): Promise<string[]> {
    return this.unsupported('getEphemerals');
  }
  whoAmI(): Promise<Array<{ scheme: string; user: string }>> {
    return this.unsupported('whoAmI');
  }
  multi(): Promise<never> {
    return this.unsupported('multi');
  }
  multiRead(): Promise<never> {
    return this.unsupported('multiRead');
  }
  addWatch(): Promise<void> {
    return this.unsupported('addWatch (persistent watches)');
  }
  removeWatch(): Promise<boolean> {
    return this.unsupported('removeWatch (persistent watches)');
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    clearTimeout(this.lostTimer);
    this.native = undefined;
    const h = this.handle;
    return new Promise<void>((resolve) => {
      h.removeAllListeners();
      h.on('close', () => resolve());
      const t = setTimeout(resolve, 2000); // never let close() hang on a dead connection
      t.unref();
      try {
        h.close();
      } catch {
        resolve();
      }
    });
  }
}
