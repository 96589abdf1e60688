/**
 * A local, current copy of one service's instances (Curator's `ServiceCache`).
 *
 * Layout: none of its own; it reads `<basePath>/<name>` (which may be missing) and its children,
 * each an instance's JSON (recipes/service-discovery.ts).
 *
 * Algorithm: a {@link ChildrenCache} with data follows the service node (its watches are described
 * in recipes/children-cache.ts): it reports every child that appears, changes or goes, and after
 * every `reconnected` (same session or new) reads the children and their data again, so what
 * changed while the connection was down is reported then. Each child's data is parsed as Curator's
 * JSON; the differences become `added`, `updated`, `removed` and one `change` with the whole list.
 * A child that does not hold an instance is left out and reported as an `error`. Curator's cache is
 * the same design (`PathChildrenCache` semantics on `CuratorCache`); like the children cache, it
 * needs a transport with persistent watches.
 * @module
 */
import { EventEmitter } from 'eventemitter3';
import type { ZkSession } from '../src/session.js';
import { emitSafely } from '../src/listeners.js';
import type { WaitOptions } from '../src/wait.js';
import { ChildrenCache, type ChildData } from './children-cache.js';
import { checkRecipeArgs } from './options.js';
import { servicePath } from './service-discovery.js';
import { checkNodeName, parseInstance, type ServiceInstance } from './service-instance.js';

/** Typed events of a {@link ServiceCache}. */
export interface ServiceCacheEvents {
  /** An instance appeared (also those found by the initial load). */
  added: [instance: ServiceInstance];
  /** An instance's data changed. */
  updated: [instance: ServiceInstance, previous: ServiceInstance];
  /** An instance went away (unregistered, or its session ended). */
  removed: [instance: ServiceInstance];
  /** After a refresh that changed anything: every instance, sorted by node name. */
  change: [instances: ServiceInstance[]];
  /** A node does not hold an instance (it is left out), or a refresh failed. */
  error: [err: Error];
}

/**
 * Caches the instances of the service `name` under `basePath`. `start()` loads them;
 * `instances()` is the current list.
 *
 * Connection states: on `suspended` and `lost` the cache keeps its last list (it may be stale) and
 * reads everything again on `reconnected`, reporting the differences as events.
 */
export class ServiceCache extends EventEmitter<ServiceCacheEvents> {
  /** The service's name. */
  readonly name: string;
  /** The service's node, `<basePath>/<name>`. */
  readonly path: string;
  private readonly children: ChildrenCache;
  private readonly view = new Map<string, ServiceInstance>();

  /**
   * @param session - the session to use
   * @param basePath - the registry's root (as given to {@link ServiceDiscovery})
   * @param name - the service to follow
   * @throws InvalidPathError, InvalidArgumentError (for a bad name)
   */
  constructor(session: ZkSession, basePath: string, name: string) {
    super();
    checkRecipeArgs('service-cache', session, basePath);
    checkNodeName(name, 'name', 'service-cache');
    this.name = name;
    this.path = servicePath(basePath, name);
    this.children = new ChildrenCache(session, this.path, { withData: true });
    this.children.on('childAdded', (c) => this.put(c));
    this.children.on('childUpdated', (c) => this.put(c));
    this.children.on('childRemoved', (c) => this.drop(c.name));
    this.children.on('change', () => emitSafely(this, 'change', this.instances()));
    this.children.on('error', (err) => emitSafely(this, 'error', err));
  }

  /** Every cached instance, sorted by node name (copies: changing them changes nothing). */
  instances(): ServiceInstance[] {
    return [...this.view.keys()].sort().map((k) => structuredClone(this.view.get(k)!));
  }

  /** The instance with this id (for `DYNAMIC_SEQUENTIAL` ones, the first), or undefined. */
  get(id: string): ServiceInstance | undefined {
    const found = this.view.get(id) ?? this.instances().find((i) => i.id === id);
    return found && structuredClone(found);
  }

  /**
   * Starts the cache and waits for the initial load.
   * @param wait - `signal`/`timeoutMs` bound the initial load (the cache keeps running)
   * @throws IllegalStateError on a second `start()`; the first read's error when it fails
   */
  start(wait?: WaitOptions): Promise<void> {
    return this.children.start(wait);
  }

  /** Stops the cache: no more reads or events. Idempotent. */
  close(): Promise<void> {
    return this.children.close();
  }

  /** `await using cache = ...` closes it at the end of the scope. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  private put(child: ChildData): void {
    let next: ServiceInstance;
    try {
      next = parseInstance(child.data ?? Buffer.alloc(0), child.path);
    } catch (err) {
      this.drop(child.name);
      emitSafely(this, 'error', err as Error);
      return;
    }
    const prev = this.view.get(child.name);
    this.view.set(child.name, next);
    if (prev) emitSafely(this, 'updated', structuredClone(next), structuredClone(prev));
    else emitSafely(this, 'added', structuredClone(next));
  }

  private drop(nodeName: string): void {
    const prev = this.view.get(nodeName);
    if (!prev) return;
    this.view.delete(nodeName);
    emitSafely(this, 'removed', prev);
  }
}
