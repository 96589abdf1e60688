/**
 * Picks an instance of a service to call (Curator's `ServiceProvider`): a {@link ServiceCache}
 * gives the instances, filters take out the disabled ones, the ones marked down and any the caller
 * rejects, and a strategy picks one of the rest.
 *
 * Layout: none of its own (the cache reads `<basePath>/<name>`).
 *
 * Strategies (Curator's `ProviderStrategy` implementations): round-robin (Curator's default)
 * walks the list — sorted by node name, so every provider walks it in the same order — one step
 * per call; random picks uniformly; sticky keeps returning the instance a master strategy picked
 * until that one is no longer in the list (gone, disabled or down), then picks again.
 *
 * Marking down (Curator's `DownInstanceManager` with `DownInstancePolicy(timeout, errorThreshold)`):
 * `noteError(instance)` counts a failed call; from `errorThreshold` errors on, the instance is left
 * out, until `timeoutMs` after its first counted error, when its count is forgotten. Curator checks
 * the timeout only every `timeoutMs / 2`, so its instances may stay down up to 1.5 × `timeoutMs`;
 * here it is exact. Counts are kept per instance id (Curator keys them by the whole instance, so
 * an updated instance starts from zero there).
 * @module
 */
import type { ZkSession } from '../src/session.js';
import { IllegalStateError, InvalidArgumentError } from '../src/errors.js';
import type { WaitOptions } from '../src/wait.js';
import { checkOptions } from './options.js';
import { ServiceCache } from './service-cache.js';
import type { ServiceInstance } from './service-instance.js';

/** Picks one of the available instances (Curator's `ProviderStrategy`). */
export interface ProviderStrategy {
  /** One of `instances` (never empty when called by a provider), or undefined. */
  getInstance(instances: readonly ServiceInstance[]): ServiceInstance | undefined;
}

/** Walks the list, one step per call (Curator's `RoundRobinStrategy`). */
export class RoundRobinStrategy implements ProviderStrategy {
  private index = 0;
  /** The next instance in turn. */
  getInstance(instances: readonly ServiceInstance[]): ServiceInstance | undefined {
    if (instances.length === 0) return undefined;
    const i = this.index;
    this.index = (this.index + 1) % Number.MAX_SAFE_INTEGER;
    return instances[i % instances.length];
  }
}

/** Picks uniformly at random (Curator's `RandomStrategy`). */
export class RandomStrategy implements ProviderStrategy {
  /** A random instance. */
  getInstance(instances: readonly ServiceInstance[]): ServiceInstance | undefined {
    if (instances.length === 0) return undefined;
    return instances[Math.floor(Math.random() * instances.length)];
  }
}

/** Keeps the instance its master strategy picked while it is available (Curator's `StickyStrategy`). */
export class StickyStrategy implements ProviderStrategy {
  private stuck: string | undefined;
  private picks = -1;

  /** @param master - picks the instance to stick to */
  constructor(private readonly master: ProviderStrategy = new RoundRobinStrategy()) {}

  /** How many times an instance was picked, less one (Curator's `getInstanceNumber`): tells when it changed. */
  get instanceNumber(): number {
    return this.picks;
  }

  /** The instance stuck to, as in the current list, or a new pick. */
  getInstance(instances: readonly ServiceInstance[]): ServiceInstance | undefined {
    const current = instances.find((i) => i.id === this.stuck);
    if (current) return current;
    const picked = this.master.getInstance(instances);
    this.stuck = picked?.id;
    if (picked) this.picks++;
    return picked;
  }
}

/** Curator's `DownInstancePolicy`. */
export interface DownInstancePolicy {
  /** How long an instance's error count lasts, from its first counted error. @default 30000 */
  timeoutMs?: number;
  /** Errors (within `timeoutMs`) that mark an instance down. @default 2 */
  errorThreshold?: number;
}

/** Options of {@link ServiceProvider}. */
export interface ServiceProviderOptions {
  /** `'round-robin'`, `'random'`, `'sticky'` (round-robin master) or a strategy object. @default 'round-robin' */
  strategy?: 'round-robin' | 'random' | 'sticky' | ProviderStrategy;
  /** When `noteError` marks an instance down. @default { timeoutMs: 30000, errorThreshold: 2 } */
  downInstancePolicy?: DownInstancePolicy;
  /** Another filter (Curator's `additionalFilter`): false leaves the instance out. */
  filter?: (instance: ServiceInstance) => boolean;
}

const STRATEGIES = { 'round-robin': () => new RoundRobinStrategy(), random: () => new RandomStrategy(), sticky: () => new StickyStrategy() };

/**
 * Gives instances of the service `name` to call. `start()` loads the cache; `getInstance()` picks
 * one; `noteError(instance)` reports a failed call to it.
 *
 * Connection states: as its {@link ServiceCache} (`cache`, whose events are there to listen to):
 * the last known list is used while disconnected, and read again on `reconnected`.
 */
export class ServiceProvider {
  /** The cache the instances come from. */
  readonly cache: ServiceCache;
  private readonly strategy: ProviderStrategy;
  private readonly timeoutMs: number;
  private readonly errorThreshold: number;
  private readonly filter: ((instance: ServiceInstance) => boolean) | undefined;
  private readonly down = new Map<string, { sinceMs: number; errors: number }>();
  private phase: 'latent' | 'started' | 'closed' = 'latent';

  /**
   * @param session - the session to use
   * @param basePath - the registry's root (as given to {@link ServiceDiscovery})
   * @param name - the service to provide
   * @param options - `strategy`, `downInstancePolicy`, `filter`
   * @throws InvalidPathError, InvalidArgumentError naming the bad option
   */
  constructor(session: ZkSession, basePath: string, name: string, options: ServiceProviderOptions = {}) {
    const op = 'service-provider';
    checkOptions(op, options, ['strategy', 'downInstancePolicy', 'filter']);
    const bad = (why: string): never => {
      throw new InvalidArgumentError(`${op} ${basePath}: ${why}`, { op });
    };
    const { strategy = 'round-robin', downInstancePolicy = {}, filter } = options;
    if (typeof strategy === 'string') {
      if (!Object.hasOwn(STRATEGIES, strategy))
        bad(`option strategy must be 'round-robin', 'random', 'sticky' or a strategy object, got ${JSON.stringify(strategy)}`);
      this.strategy = STRATEGIES[strategy]();
    } else {
      if (strategy === null || typeof strategy !== 'object' || typeof strategy.getInstance !== 'function')
        bad('option strategy must be a name or an object with getInstance(instances)');
      this.strategy = strategy;
    }
    checkOptions(`${op}: option downInstancePolicy`, downInstancePolicy, ['timeoutMs', 'errorThreshold']);
    const { timeoutMs = 30_000, errorThreshold = 2 } = downInstancePolicy;
    if (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs < 0)
      bad(`option downInstancePolicy.timeoutMs must be a finite number >= 0, got ${String(timeoutMs)}`);
    if (!Number.isInteger(errorThreshold) || errorThreshold < 1)
      bad(`option downInstancePolicy.errorThreshold must be an integer >= 1, got ${String(errorThreshold)}`);
    if (filter !== undefined && typeof filter !== 'function') bad('option filter must be a function');
    this.timeoutMs = timeoutMs;
    this.errorThreshold = errorThreshold;
    this.filter = filter;
    this.cache = new ServiceCache(session, basePath, name);
  }

  /**
   * Starts the cache and waits for its initial load.
   * @param wait - `signal`/`timeoutMs` bound the initial load
   * @throws IllegalStateError on a second `start()`
   */
  async start(wait?: WaitOptions): Promise<void> {
    await this.cache.start(wait);
    if (this.phase === 'latent') this.phase = 'started';
  }

  /**
   * An instance to call, picked by the strategy from the available ones, or undefined when none is.
   * Do not keep it: ask again for each call.
   * @throws IllegalStateError before `start()` or after `close()`
   */
  getInstance(): ServiceInstance | undefined {
    const available = this.getAllInstances();
    return available.length === 0 ? undefined : this.strategy.getInstance(available);
  }

  /**
   * Every available instance: enabled, not marked down, accepted by the filter; sorted by node name.
   * @throws IllegalStateError before `start()` or after `close()`
   */
  getAllInstances(): ServiceInstance[] {
    if (this.phase !== 'started') {
      throw new IllegalStateError(`service-provider ${this.cache.path}: ${this.phase === 'closed' ? 'closed' : 'not started'}`, {
        op: 'service-provider.getInstance',
        path: this.cache.path,
      });
    }
    this.purge();
    return this.cache.instances().filter((i) => i.enabled && !this.isDown(i) && (this.filter?.(i) ?? true));
  }

  /** Counts a failed call to `instance` (or to the instance with this id) toward marking it down. */
  noteError(instance: ServiceInstance | string): void {
    const id = typeof instance === 'string' ? instance : instance?.id;
    if (typeof id !== 'string' || id.length === 0)
      throw new InvalidArgumentError('service-provider.noteError: expected an instance or its id', { op: 'service-provider.noteError' });
    this.purge();
    const status = this.down.get(id) ?? { sinceMs: Date.now(), errors: 0 };
    status.errors++;
    this.down.set(id, status);
  }

  /** Stops the cache. Idempotent. */
  async close(): Promise<void> {
    this.phase = 'closed';
    await this.cache.close();
  }

  /** `await using provider = ...` closes it at the end of the scope. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  private isDown(i: ServiceInstance): boolean {
    return (this.down.get(i.id)?.errors ?? 0) >= this.errorThreshold;
  }

  /** Forgets the counts older than `timeoutMs`. */
  private purge(): void {
    const now = Date.now();
    for (const [id, s] of this.down) if (now - s.sinceMs >= this.timeoutMs) this.down.delete(id);
  }
}
