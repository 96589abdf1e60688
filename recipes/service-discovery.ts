/**
 * Service discovery: services register their instances under a base path and find each other's
 * (Curator's `ServiceDiscovery`, `curator-x-discovery` 5.4, whose layout and JSON these are, so Java
 * and Node services share one registry).
 *
 * Layout (Curator's):
 * ```
 * <basePath>/                   persistent or container
 *   <name>/                     container, one per service (created on demand)
 *     <id>                      one per instance; data = the instance's JSON (recipes/service-instance.ts)
 * ```
 * The instance node is EPHEMERAL for `DYNAMIC` instances, EPHEMERAL_SEQUENTIAL (named
 * `<id><10 digits>`) for `DYNAMIC_SEQUENTIAL`, PERSISTENT for `STATIC` and `PERMANENT`.
 *
 * Registering: create the node. If it exists already, whose is it? Our current session's (a create
 * retried after a connection loss, or a second `registerService`): its data is replaced. One of our
 * earlier sessions' (lost by timeout, not yet expired on the server): deleted and created again.
 * A persistent node: replaced (as Curator does). Another live session's ephemeral node: the id is
 * taken, `NodeExistsError` (Curator would delete the other instance's node and take its place).
 *
 * Staying registered: after a new session (`reconnected` with `newSession: true`; the old session's
 * ephemeral nodes are gone) every instance is created again. Each instance node also carries an
 * `exists` watch: when someone else deletes it, it is created again (Curator 5.4 only logs a
 * warning then and re-creates on its next reconnection). A write that failed with a connection
 * problem is done again on the next `reconnected`. All writes for one instance run one after another,
 * so an unregister never races a re-registration. `close()` unregisters every instance it registered.
 * @module
 */
import { EventEmitter } from 'eventemitter3';
import type { CreateMode, ZkSession } from '../src/session.js';
import { ClosedError, IllegalStateError, InvalidArgumentError, NoNodeError, NodeExistsError, SessionExpiredError, isRetryable } from '../src/errors.js';
import { emitSafely } from '../src/listeners.js';
import { joinPath } from '../src/paths.js';
import { checkRecipeArgs } from './options.js';
import { checkNodeName, checkServiceInstance, parseInstance, serializeInstance, type ServiceInstance, type ServiceType } from './service-instance.js';

export { parseInstance } from './service-instance.js';

/** `<basePath>/<name>`: the node holding a service's instances. */
export function servicePath(basePath: string, name: string): string {
  return joinPath(basePath, name);
}

/** `<basePath>/<name>/<id>`: an instance's node (a `DYNAMIC_SEQUENTIAL` one's name has 10 more digits). */
export function instancePath(basePath: string, name: string, id: string): string {
  return joinPath(servicePath(basePath, name), id);
}

/** The node mode of each service type (Curator's `internalRegisterService`). */
export const SERVICE_NODE_MODES: Readonly<Record<ServiceType, CreateMode>> = {
  DYNAMIC: 'ephemeral',
  DYNAMIC_SEQUENTIAL: 'ephemeral_sequential',
  STATIC: 'persistent',
  PERMANENT: 'persistent',
};

/** Typed events of a {@link ServiceDiscovery}. */
export interface ServiceDiscoveryEvents {
  /** An instance's node was created again: after a new session, or after someone deleted it. */
  reregistered: [instance: ServiceInstance, reason: 'newSession' | 'deleted' | 'retry'];
  /** Re-registering an instance failed with something other than a connection problem. */
  error: [err: Error];
}

interface Entry {
  instance: ServiceInstance;
  /** The node's path (for DYNAMIC_SEQUENTIAL, with its suffix) once created. */
  nodePath: string;
  /** The writes for this instance, one after another. */
  chain: Promise<unknown>;
  /** A write failed with a connection problem: do it again on the next `reconnected`. */
  dirty: boolean;
  /** The `exists` watch on the node that counts (older ones are ignored when they fire), if any. */
  watch: { sid: string } | undefined;
}

/**
 * Registers this process's service instances under `basePath` and queries everyone's.
 *
 * Connection states: on `suspended` the ephemeral nodes stay as long as the session lives; on `lost`
 * they are gone for everyone, and when the session comes back with a new ZooKeeper session every
 * instance is registered again (`reregistered` events, `error` if that fails).
 */
export class ServiceDiscovery extends EventEmitter<ServiceDiscoveryEvents> {
  /** The registry's root. */
  readonly basePath: string;
  private readonly entries = new Map<string, Entry>();
  private readonly ourSessions = new Set<string>();
  private closed = false;
  private listening = false;
  private readonly onReconnected = (info: { sessionId: string; newSession: boolean }) => {
    this.ourSessions.add(info.sessionId);
    this.reconnected(info.newSession);
  };

  /**
   * @param session - the session to use
   * @param basePath - the registry's root (Curator's `basePath`)
   * @throws InvalidPathError, InvalidArgumentError (nothing is written)
   */
  constructor(
    private readonly session: ZkSession,
    basePath: string,
  ) {
    super();
    checkRecipeArgs('service-discovery', session, basePath);
    this.basePath = basePath;
  }

  /**
   * Registers an instance (made with `serviceInstance()`): creates its node. Registering an id that
   * is registered here already replaces its data (as `updateService`).
   * A connection problem rejects the call but leaves the registration in place: it is completed on
   * the next reconnection (`unregisterService` cancels it).
   * @throws InvalidArgumentError for a bad instance (nothing is written)
   * @throws NodeExistsError when another live session has registered this id of this service
   */
  async registerService(instance: ServiceInstance): Promise<void> {
    const op = 'service-discovery.registerService';
    const checked = this.check(instance, op);
    const existing = this.entries.get(checked.id);
    if (existing) return this.updateService(checked);
    const entry: Entry = { instance: checked, nodePath: this.pathOf(checked), chain: Promise.resolve(), dirty: false, watch: undefined };
    this.entries.set(checked.id, entry);
    if (!this.listening) {
      this.session.on('reconnected', this.onReconnected);
      this.listening = true;
    }
    try {
      await this.serial(entry, () => this.writeNode(entry));
    } catch (err) {
      if (!entry.dirty && this.entries.get(checked.id) === entry) this.entries.delete(checked.id);
      throw err;
    }
  }

  /**
   * Replaces the data of an instance registered here (same `name`, `id` and `serviceType`). If its
   * node is missing (deleted, or a new session not yet re-registered) it is created.
   * @throws IllegalStateError when the id is not registered here
   * @throws InvalidArgumentError for a bad instance, or one whose name or service type changed
   */
  async updateService(instance: ServiceInstance): Promise<void> {
    const op = 'service-discovery.updateService';
    const checked = this.check(instance, op);
    const entry = this.entries.get(checked.id);
    if (!entry)
      throw new IllegalStateError(`${op} ${this.basePath}: instance ${checked.id} of ${checked.name} is not registered here`, { op, path: this.basePath });
    if (entry.instance.name !== checked.name || entry.instance.serviceType !== checked.serviceType) {
      throw new InvalidArgumentError(
        `${op} ${this.basePath}: instance ${checked.id} is registered as ${entry.instance.serviceType} of ${entry.instance.name}; unregister it to change that`,
        { op, path: this.basePath },
      );
    }
    entry.instance = checked;
    await this.serial(entry, async () => {
      if (this.entries.get(checked.id) !== entry) return;
      try {
        await this.session.set(entry.nodePath, serializeInstance(entry.instance));
      } catch (err) {
        if (isRetryable(err)) entry.dirty = true; // written on the next `reconnected`
        if (!(err instanceof NoNodeError)) throw err;
        await this.writeNode(entry);
      }
    });
  }

  /**
   * Unregisters an instance registered here (by id or instance): deletes its node (guaranteed).
   * @returns false when it was not registered here (nothing is deleted, as in Curator)
   */
  async unregisterService(idOrInstance: string | ServiceInstance): Promise<boolean> {
    const op = 'service-discovery.unregisterService';
    const id = typeof idOrInstance === 'string' ? idOrInstance : (idOrInstance as { id?: unknown } | null)?.id;
    checkNodeName(id, 'id', op);
    const entry = this.entries.get(id);
    if (!entry) return false;
    this.entries.delete(id);
    await this.serial(entry, () => this.deleteNode(entry));
    return true;
  }

  /** The names of every registered service (the base path's children, sorted; none when it is missing). */
  async queryForNames(): Promise<string[]> {
    return (await this.children(this.basePath)).sort();
  }

  /**
   * Every instance of a service, sorted by node name (none when the service is unknown).
   * @throws InvalidArgumentError for a bad name, or a node that does not hold an instance
   */
  async queryForInstances(name: string): Promise<ServiceInstance[]> {
    checkNodeName(name, 'name', 'service-discovery.queryForInstances');
    const parent = servicePath(this.basePath, name);
    const ids = (await this.children(parent)).sort();
    const reads = await Promise.all(ids.map((id) => this.readInstance(joinPath(parent, id))));
    return reads.filter((r): r is ServiceInstance => r !== undefined);
  }

  /**
   * One instance of a service, or undefined when there is none with this id.
   * @throws InvalidArgumentError for a bad name or id, or a node that does not hold an instance
   */
  async queryForInstance(name: string, id: string): Promise<ServiceInstance | undefined> {
    checkNodeName(name, 'name', 'service-discovery.queryForInstance');
    checkNodeName(id, 'id', 'service-discovery.queryForInstance');
    return this.readInstance(instancePath(this.basePath, name, id));
  }

  /** The instances registered here (copies), by id. */
  registered(): ServiceInstance[] {
    return [...this.entries.values()].map((e) => structuredClone(e.instance));
  }

  /** Unregisters every instance registered here and stops re-registering. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.session.off('reconnected', this.onReconnected);
    const entries = [...this.entries.values()];
    this.entries.clear();
    const results = await Promise.allSettled(entries.map((e) => this.serial(e, () => this.deleteNode(e))));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /** `await using discovery = ...` closes it at the end of the scope. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  private check(instance: ServiceInstance, op: string): ServiceInstance {
    if (this.closed) throw new IllegalStateError(`${op} ${this.basePath}: closed`, { op, path: this.basePath });
    return checkServiceInstance(instance, op);
  }

  private pathOf(i: ServiceInstance): string {
    return instancePath(this.basePath, i.name, i.id);
  }

  /** Runs `fn` after the instance's earlier writes; the result is the caller's. */
  private serial<T>(entry: Entry, fn: () => Promise<T>): Promise<T> {
    const run = entry.chain.then(fn, fn);
    entry.chain = run.catch(() => undefined);
    return run;
  }

  private async children(path: string): Promise<string[]> {
    try {
      return await this.session.getChildren(path);
    } catch (err) {
      if (err instanceof NoNodeError) return [];
      throw err;
    }
  }

  private async readInstance(path: string): Promise<ServiceInstance | undefined> {
    try {
      return parseInstance((await this.session.get(path)).data, path);
    } catch (err) {
      if (err instanceof NoNodeError) return undefined;
      throw err;
    }
  }

  /** Creates the instance's node (see the module docs for an existing one), then watches it. */
  private async writeNode(entry: Entry): Promise<void> {
    const bytes = serializeInstance(entry.instance);
    const mode = SERVICE_NODE_MODES[entry.instance.serviceType];
    this.ourSessions.add(this.session.sessionId);
    try {
      if (mode === 'ephemeral_sequential') await this.dropOldSequential(entry);
      for (let attempt = 0; ; attempt++) {
        try {
          entry.nodePath = await this.session.create(this.pathOf(entry.instance), bytes, { mode, createParents: true });
          break;
        } catch (err) {
          if (!(err instanceof NodeExistsError) || attempt >= 2) throw err;
          if (await this.takeOver(entry, bytes, mode, err)) break;
        }
      }
      entry.dirty = false;
    } catch (err) {
      if (isRetryable(err) || err instanceof SessionExpiredError) entry.dirty = true;
      throw err;
    }
    this.arm(entry);
  }

  /**
   * The node exists: replace it when it is ours or persistent (true: done; false: create again).
   * @throws NodeExistsError when another live session's ephemeral node has this id
   */
  private async takeOver(entry: Entry, bytes: Buffer, mode: CreateMode, cause: NodeExistsError): Promise<boolean> {
    const path = this.pathOf(entry.instance);
    const stat = await this.session.exists(path);
    if (!stat) return false;
    const owner = stat.ephemeralOwner;
    const sameKind = (owner === '0') === (mode === 'persistent');
    if (sameKind && (owner === '0' || owner === this.session.sessionId)) {
      await this.session.set(path, bytes);
      entry.nodePath = path;
      return true;
    }
    if (owner !== '0' && owner !== this.session.sessionId && !this.ourSessions.has(owner)) {
      const { name, id } = entry.instance;
      throw new NodeExistsError(`service-discovery.registerService ${this.basePath}: instance ${id} of ${name} is registered by another session (0x${owner})`, {
        op: 'service-discovery.registerService',
        path,
        cause,
      });
    }
    await this.session.delete(path, { version: stat.version }).catch((err: unknown) => {
      if (!(err instanceof NoNodeError)) throw err;
    });
    return false;
  }

  /** A DYNAMIC_SEQUENTIAL instance's node from one of our earlier sessions, if still there, goes first. */
  private async dropOldSequential(entry: Entry): Promise<void> {
    if (entry.nodePath === this.pathOf(entry.instance)) return; // never created
    const stat = await this.session.exists(entry.nodePath);
    if (stat && stat.ephemeralOwner !== this.session.sessionId && this.ourSessions.has(stat.ephemeralOwner)) {
      await this.session.delete(entry.nodePath, { version: stat.version }).catch((err: unknown) => {
        if (!(err instanceof NoNodeError)) throw err;
      });
    }
  }

  private async deleteNode(entry: Entry): Promise<void> {
    if (entry.nodePath === this.pathOf(entry.instance) && entry.instance.serviceType === 'DYNAMIC_SEQUENTIAL') return; // never created
    try {
      await this.session.delete(entry.nodePath, { guaranteed: true });
    } catch (err) {
      if (!(err instanceof NoNodeError) && !(err instanceof ClosedError)) throw err;
    }
  }

  /** Watches the instance's node (one watch per session counts), to create it again when someone deletes it. */
  private arm(entry: Entry): void {
    const sid = this.session.sessionId;
    if (entry.watch?.sid === sid || this.entries.get(entry.instance.id) !== entry) return;
    const token = { sid };
    entry.watch = token;
    const path = entry.nodePath;
    const fired = (type: string) => {
      if (entry.watch !== token) return; // superseded by a later watch
      entry.watch = undefined;
      if (this.closed || this.entries.get(entry.instance.id) !== entry || path !== entry.nodePath) return;
      if (type === 'deleted') this.rewrite(entry, 'deleted');
      else this.arm(entry);
    };
    this.session.exists(path, { watch: (ev) => fired(ev.type) }).then(
      (stat) => {
        if (!stat) fired('deleted');
      },
      () => {
        if (entry.watch === token) entry.watch = undefined;
      }, // armed again on `reconnected`
    );
  }

  private reconnected(newSession: boolean): void {
    if (this.closed) return;
    for (const entry of this.entries.values()) {
      if (newSession || entry.dirty) this.rewrite(entry, newSession ? 'newSession' : 'retry');
      else this.arm(entry);
    }
  }

  /** Creates an instance's node again in the background; failures become `error` events. */
  private rewrite(entry: Entry, reason: 'newSession' | 'deleted' | 'retry'): void {
    this.serial(entry, async () => {
      if (this.closed || this.entries.get(entry.instance.id) !== entry) return;
      await this.writeNode(entry);
      emitSafely(this, 'reregistered', structuredClone(entry.instance), reason);
    }).catch((err: unknown) => {
      if (this.closed || err instanceof ClosedError || entry.dirty) return; // a connection problem: the next `reconnected` retries
      emitSafely(this, 'error', err as Error);
    });
  }
}
