/**
 * A value shared through one node (Curator's `SharedValue`): read it, set it, compare-and-set it
 * on the node's version, update it with a retried compare-and-set, and follow it with a cache.
 *
 * Layout (Curator's, so Java and Node processes share one value):
 * ```
 * <path>    persistent node; data = the value's bytes as the codec writes them (by default the
 *           raw bytes, Curator's byte[]). Parents are containers. A missing node reads as the
 *           seed, at version -1 (MISSING_VERSION); start() creates it with the seed, as
 *           Curator's start() does, and any write creates it when it is missing.
 * ```
 * Writes:
 * - `set(v)`: an unconditional `setData`; on NO_NODE a create; on NODE_EXISTS (someone else
 *   created it in between) `setData` again.
 * - `trySetValue(previous, v)`: one `setData` conditional on `previous.version` (`-1`: a create,
 *   the node must not exist). After `start()` it first compares `previous` with the cache, as
 *   Curator does (the version, and the bytes of `previous.value` when given) and fails without
 *   writing when they differ; a failed write re-reads the node, so the cache then holds the
 *   value that won.
 * - `update(fn)`: read, `fn(value)`, compare-and-set on the version read; on a conflict read
 *   again. The server applies a conditional write only to the version it names, so each success
 *   applied one `fn` result to the exact state `fn` saw: concurrent updates serialize, none is
 *   lost, none is applied twice.
 *
 * Cache (after `start()`): a {@link NodeCache} follows the node. Its states come from one refresh
 * loop reading in server order. Our own writes and reads advance the cache as well, so a
 * `trySetValue(sv.versioned, ...)` right after our own write sees its version (Curator's
 * `updateValue`). What keeps the two sources in order: a state from our own call is taken only
 * when it is the cache's incarnation of the node (same `czxid`) and newer (larger `mzxid`; zxids
 * order every write); a recreated or deleted node is left to the NodeCache, which always reads
 * later. So `change` fires once per state the cache takes, in server order: within one
 * incarnation of the node, versions only grow. A deleted node reads as the seed at version -1
 * (Curator's cache keeps the last value instead).
 * @module
 */
import { EventEmitter } from 'eventemitter3';
import type { Stat, ZkSession } from '../src/session.js';
import { BadVersionError, ClosedError, IllegalStateError, InvalidArgumentError, NoNodeError, NodeExistsError, UnsupportedError } from '../src/errors.js';
import { emitSafely } from '../src/listeners.js';
import { WaitScope, checkWaitOptions, type WaitOptions } from '../src/wait.js';
import { bufferCodec, checkCodec, type Codec } from './codec.js';
import { NodeCache, type CachedNode } from './node-cache.js';
import { checkOptions, checkRecipeArgs } from './options.js';
import { MISSING_VERSION, checkPrevious, decodeValue, encodeValue } from './shared-value-args.js';

export { MISSING_VERSION };

/** A value with the node version it was read at (Curator's `VersionedValue`). */
export interface VersionedValue<T> {
  /** The value (the seed when the node does not exist). */
  value: T;
  /** The node's data version; {@link MISSING_VERSION} when the node does not exist. */
  version: number;
}

/** Options of {@link SharedValue}. */
export interface SharedValueOptions<T> {
  /**
   * How values become the node's bytes and back. The default is raw bytes, as Curator's `byte[]`:
   * any bytes a Java process writes read back unchanged (a JSON default would turn them into
   * decode errors), and `SharedValue` without options is honestly a `SharedValue<Buffer>`.
   * @default bufferCodec
   */
  codec?: Codec<T>;
  /** The value of a missing node, written by `start()`. Required with a codec. @default empty bytes */
  seed?: T;
}

/** Typed events of a {@link SharedValue} (only between `start()` and `close()`). */
export interface SharedValueEvents<T> {
  /** The cache took a new state of the node: its value and version (-1: deleted, reads as the seed). */
  change: [value: T, version: number];
  /** The cache failed to refresh, or the node holds bytes the codec cannot decode. */
  error: [err: Error];
}

/** One state of the node as the cache holds it: its decoded value, or why its bytes did not decode. */
interface Snapshot<T> {
  version: number;
  czxid: number;
  mzxid: number;
  bytes: Buffer;
  value?: T;
  error?: Error;
}

/**
 * A value at `path`. `get`, `getVersioned`, `set`, `trySetValue` and `update` work at any time
 * (no `start()` needed); `start()` creates the node with the seed if missing, keeps `value` /
 * `version` current and emits `change`.
 *
 * Connection states: calls fail like any session call: on `suspended` they retry with the
 * session's policy, then throw a `ConnectionLossError`; the cache keeps its last state and
 * re-reads on `reconnected` (also after `lost`, on the new session). As with Curator, if the
 * connection drops after the server applied a conditional write and before its answer came, the
 * session's retry sees BAD_VERSION: `trySetValue` answers false and `update` applies `fn` once
 * more. The node is persistent: nothing is lost on `lost`.
 */
export class SharedValue<T = Buffer> extends EventEmitter<SharedValueEvents<T>> {
  /** The value's node. */
  readonly path: string;
  private readonly codec: Codec<T>;
  private readonly seed: T;
  private readonly seedBytes: Buffer;
  private cache: NodeCache | undefined;
  private snap: Snapshot<T> | undefined;
  private loaded = false;
  private phase: 'latent' | 'started' | 'closed' = 'latent';

  /**
   * @param session - the session to use
   * @param path - the value's node
   * @param options - `codec`, `seed`
   * @param recipe - the name errors start with (a recipe built on this one passes its own)
   * @throws InvalidPathError, InvalidArgumentError naming the bad option (a seed the codec cannot encode)
   */
  constructor(
    private readonly session: ZkSession,
    path: string,
    options?: SharedValueOptions<T>,
    private readonly recipe = 'shared-value',
  ) {
    super();
    checkRecipeArgs(recipe, session, path);
    checkOptions(recipe, options, ['codec', 'seed']);
    this.path = path;
    this.codec = options?.codec === undefined ? (bufferCodec as unknown as Codec<T>) : checkCodec<T>(recipe, options.codec);
    if (options?.seed === undefined && this.codec !== (bufferCodec as unknown)) {
      throw new InvalidArgumentError(`${recipe} ${path}: option seed is required with a codec (the value of a missing node)`, { op: recipe, path });
    }
    this.seed = options?.seed ?? (Buffer.alloc(0) as unknown as T);
    this.seedBytes = this.encode(this.seed, 'option seed', recipe);
  }

  /**
   * Reads the value and the node's version from the server (one read; waits for the reply).
   * @throws IllegalStateError when the node holds bytes the codec cannot decode
   */
  async getVersioned(): Promise<VersionedValue<T>> {
    const node = await this.readNode();
    if (!node) return { value: this.seed, version: MISSING_VERSION };
    return { value: this.decode(node.data), version: node.stat.version };
  }

  /**
   * Reads the value from the server (one read; waits for the reply): the seed when the node does not exist.
   * @throws IllegalStateError when the node holds bytes the codec cannot decode
   */
  async get(): Promise<T> {
    return (await this.getVersioned()).value;
  }

  /**
   * Sets the value whatever it was (creating the node if needed); waits for the server to apply it.
   * @returns the node's new version
   * @throws InvalidArgumentError when the codec cannot encode `value` or it is over MAX_DATA_BYTES (nothing written)
   */
  async set(value: T): Promise<number> {
    const bytes = this.encode(value, 'the value', `${this.recipe}.set`);
    for (;;) {
      try {
        const stat = await this.session.set(this.path, bytes);
        this.fromOwn(bytes, stat);
        return stat.version;
      } catch (err) {
        if (!(err instanceof NoNodeError)) throw err;
      }
      const stat = await this.tryCreate(bytes);
      if (stat) return stat.version;
    }
  }

  /**
   * Sets `newValue` only if the node is still at `previous.version` (from `getVersioned()` or
   * `versioned`; {@link MISSING_VERSION}: only if the node does not exist). Curator's
   * `trySetValue(VersionedValue, newValue)`: after `start()`, `previous` must also match the
   * cache (its version, and its value's bytes when `previous.value` is given), or nothing is
   * written; after a failed write the cache holds the value that won. One conditional write.
   * @returns false when the value changed since `previous`
   * @throws InvalidArgumentError for a bad `previous` or a value the codec cannot encode (nothing written)
   * @throws IndeterminateError when a connection loss cut the write's reply and the retry found the
   * version moved: the write may have been applied (a plain `false` would wrongly say it was not)
   */
  async trySetValue(previous: { value?: T; version: number }, newValue: T): Promise<boolean> {
    const op = `${this.recipe}.trySetValue`;
    const version = checkPrevious(previous, op, this.path);
    const expected = previous.value === undefined ? undefined : this.encode(previous.value, 'previous.value', op);
    const bytes = this.encode(newValue, 'the new value', op);
    const cur = this.phase === 'started' ? this.snap : undefined;
    if (cur && (cur.version !== version || (expected && !expected.equals(cur.bytes)))) return false;
    if (await this.compareAndWrite(version, bytes)) return true;
    if (cur) await this.readNode(); // as Curator: the cache takes the state that won
    return false;
  }

  /**
   * Applies `fn` atomically: reads the value, writes `fn(value, version)` conditional on that
   * version, and on a conflict reads again and calls `fn` again. Waits until one attempt wins.
   * `signal`/`timeoutMs` are checked between attempts: an attempt in flight (a write the server
   * may apply) is never abandoned.
   * @returns the value written and the node's new version
   * @throws what `fn` throws; InvalidArgumentError when its result cannot be encoded (nothing written)
   * @throws IndeterminateError when an attempt's outcome cannot be told (see `trySetValue`): calling
   * `fn` again could apply it twice, so it is not retried
   */
  async update(fn: (value: T, version: number) => T | Promise<T>, wait?: WaitOptions): Promise<VersionedValue<T>> {
    const op = `${this.recipe}.update`;
    if (typeof fn !== 'function') throw new InvalidArgumentError(`${op} ${this.path}: fn must be a function`, { op, path: this.path });
    checkWaitOptions(wait, op);
    const scope = new WaitScope(wait, op, this.path);
    try {
      for (;;) {
        scope.throwIfAborted();
        const { value, version } = await this.getVersioned();
        const next = await fn(value, version);
        const stat = await this.compareAndWrite(version, this.encode(next, 'the value fn returned', op));
        if (stat) return { value: next, version: stat.version };
      }
    } finally {
      scope.dispose();
    }
  }

  /**
   * The value as the cache holds it (after `start()`), or undefined before.
   * @throws IllegalStateError when the node holds bytes the codec cannot decode
   */
  get value(): T | undefined {
    const s = this.snap;
    if (s?.error) throw s.error;
    return s?.value;
  }

  /** The node's version as the cache holds it (-1: missing), or undefined before `start()`. */
  get version(): number | undefined {
    return this.snap?.version;
  }

  /**
   * The cached value with its version (Curator's `getVersionedValue()`), for `trySetValue`;
   * undefined before `start()`.
   * @throws IllegalStateError when the node holds bytes the codec cannot decode
   */
  get versioned(): VersionedValue<T> | undefined {
    return this.snap && { value: this.value as T, version: this.snap.version };
  }

  /**
   * Creates the node with the seed if it is missing (as Curator's `start()`), then follows it:
   * `value`/`version` stay current and `change` fires for each new state (not for the first load).
   * Waits for the first load (bounded by `wait`; the cache keeps loading after a timeout).
   * @throws IllegalStateError on a second `start()`; UnsupportedError on the native transport;
   * the create's or the first read's error
   */
  async start(wait?: WaitOptions): Promise<void> {
    const op = `${this.recipe}.start`;
    checkWaitOptions(wait, op);
    if (this.phase !== 'latent')
      throw new IllegalStateError(`${op} ${this.path}: already ${this.phase === 'closed' ? 'closed' : 'started'}`, { op, path: this.path });
    if (this.session.transport === 'native') {
      // before the seed is written: the NodeCache needs a persistent watch
      throw new UnsupportedError(
        `${op} ${this.path}: following the value needs a persistent watch (addWatch), which the native transport does not support; use the default transport`,
        { op, path: this.path },
      );
    }
    this.phase = 'started';
    const scope = new WaitScope(wait, op, this.path);
    try {
      try {
        await scope.race(this.tryCreate(this.seedBytes)); // as Curator's start(); an existing node is kept
      } catch (err) {
        if (this.phase === 'started') this.phase = 'latent'; // nothing started: start() may be called again
        throw err;
      }
      if (this.phase !== 'started') throw new ClosedError(`${op} ${this.path}: closed while starting`, { op, path: this.path });
      const cache = new NodeCache(this.session, this.path);
      this.cache = cache;
      cache.on('change', (node) => this.fromCache(node));
      cache.on('error', (err) => {
        if (this.phase === 'started') emitSafely(this, 'error', err);
      });
      await scope.race(cache.start().finally(() => this.onLoaded(cache)));
    } finally {
      scope.dispose();
    }
  }

  /** Stops following the node (no more events); waits for a refresh in progress to end. Idempotent. */
  async close(): Promise<void> {
    this.phase = 'closed';
    await this.cache?.close();
  }

  /** `await using value = ...` closes it at the end of the scope. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** One conditional write on `version`; undefined when another writer got there first. */
  private async compareAndWrite(version: number, bytes: Buffer): Promise<Stat | undefined> {
    if (version === MISSING_VERSION) return this.tryCreate(bytes);
    try {
      const stat = await this.session.set(this.path, bytes, { version });
      this.fromOwn(bytes, stat);
      return stat;
    } catch (err) {
      if (err instanceof BadVersionError || err instanceof NoNodeError) return undefined;
      throw err;
    }
  }

  /** Creates the node with `bytes`; undefined when it already exists. */
  private async tryCreate(bytes: Buffer): Promise<Stat | undefined> {
    try {
      const { stat } = await this.session.createWithStat(this.path, bytes, { createParents: true });
      this.fromOwn(bytes, stat);
      return stat;
    } catch (err) {
      if (err instanceof NodeExistsError) return undefined;
      throw err;
    }
  }

  /** Reads the node (null when missing) and offers the state to the cache. */
  private async readNode(): Promise<CachedNode | null> {
    try {
      const node = await this.session.get(this.path);
      this.fromOwn(node.data, node.stat);
      return node;
    } catch (err) {
      if (err instanceof NoNodeError) return null;
      throw err;
    }
  }

  private onLoaded(cache: NodeCache): void {
    if (!this.snap) this.snap = this.snapshotOf(cache.current);
    this.loaded = true;
  }

  /** A state read by the NodeCache: in server order, so taken unless our own call got further. */
  private fromCache(node: CachedNode | null): void {
    if (this.phase !== 'started') return;
    const cur = this.snap;
    if (cur && node && cur.czxid === node.stat.czxid && cur.mzxid >= node.stat.mzxid) return;
    this.advance(this.snapshotOf(node));
  }

  /** A state our own read or write saw: taken only if newer, within the cached incarnation. */
  private fromOwn(data: Buffer, stat: Stat): void {
    const cur = this.snap;
    if (this.phase !== 'started' || !cur || cur.czxid !== stat.czxid || stat.mzxid <= cur.mzxid) return;
    this.advance(this.snapshotOf({ data, stat }));
  }

  private advance(next: Snapshot<T>): void {
    this.snap = next;
    if (!this.loaded) return; // the first load is start()'s result, not a change
    if (next.error) emitSafely(this, 'error', next.error);
    else emitSafely(this, 'change', next.value as T, next.version);
  }

  private snapshotOf(node: CachedNode | null): Snapshot<T> {
    if (!node) return { version: MISSING_VERSION, czxid: 0, mzxid: 0, bytes: this.seedBytes, value: this.seed };
    const s: Snapshot<T> = { version: node.stat.version, czxid: node.stat.czxid, mzxid: node.stat.mzxid, bytes: node.data };
    try {
      s.value = this.decode(node.data);
    } catch (err) {
      s.error = err as Error;
    }
    return s;
  }

  /** Decodes a copy of `data`; IllegalStateError when it does not decode. */
  private decode(data: Buffer): T {
    return decodeValue(this.codec, data, this.recipe, this.path);
  }

  /** Encodes `value` (a copy), or throws a typed error naming `what`: before anything is written. */
  private encode(value: T, what: string, op: string): Buffer {
    return encodeValue(this.codec, value, what, op, this.path);
  }
}
