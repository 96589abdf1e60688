/**
 * A shared 32-bit counter (Curator's `SharedCount`): a {@link SharedValue} of a 4-byte int. Read
 * it, set it, or add to it with a versioned compare-and-set that retries when another writer got
 * there first.
 *
 * Layout (Curator's, so Java and Node processes share one counter):
 * ```
 * <path>    persistent node; data = the value as a 4-byte big-endian signed int. Parents are
 *           containers. A missing node reads as the seed (default 0); start() creates it with
 *           the seed, as Curator's does, and any write creates it when it is missing.
 * ```
 * Arithmetic wraps at 32 bits, as Java's `int` does.
 * @module
 */
import { EventEmitter } from 'eventemitter3';
import type { ZkSession } from '../src/session.js';
import { IllegalStateError, InvalidArgumentError, InvalidPathError } from '../src/errors.js';
import { emitSafely } from '../src/listeners.js';
import { rejectReserved, validatePath } from '../src/paths.js';
import type { WaitOptions } from '../src/wait.js';
import type { Codec } from './codec.js';
import { checkOptions, checkSession } from './options.js';
import { SharedValue, type VersionedValue } from './shared-value.js';

/** Options of {@link SharedCounter}. */
export interface SharedCounterOptions {
  /** Value of a counter whose node does not exist yet (a 32-bit integer). @default 0 */
  seed?: number;
}

/** Typed events of a {@link SharedCounter} (only between `start()` and `close()`). */
export interface SharedCounterEvents {
  /** The counter's value changed on the server. */
  change: [value: number];
  /** The cache behind `start()` failed to refresh, or the node holds something else than 4 bytes. */
  error: [err: Error];
}

const INT_MIN = -0x80000000;
const INT_MAX = 0x7fffffff;

/** Encodes a value as Curator does: 4 bytes, big-endian, signed. */
export function encodeCount(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(value | 0);
  return b;
}

/**
 * Decodes Curator's 4-byte big-endian signed int.
 * @throws IllegalStateError when the data is not 4 bytes
 */
export function decodeCount(data: Buffer, path: string): number {
  if (data.length !== 4)
    throw new IllegalStateError(`shared-counter ${path}: node holds ${data.length} bytes, not a 4-byte counter`, { op: 'shared-counter.get', path });
  return data.readInt32BE(0);
}

function checkInt(v: unknown, what: string, path: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < INT_MIN || v > INT_MAX) {
    throw new InvalidArgumentError(`shared-counter ${path}: ${what} must be a 32-bit integer, got ${String(v)}`, { op: 'shared-counter', path });
  }
  return v;
}

/**
 * A counter at `path`. `get`, `set` and `increment` work at any time (no `start()` needed);
 * `start()` additionally keeps `value` current and emits `change`.
 *
 * Connection states: calls fail like any session call: on `suspended` they retry with the session's policy, then
 * throw a `ConnectionLossError`. Each `increment` attempt is a compare-and-set on the version it
 * read, so concurrent writers never lose an update; but, as with Curator, if the connection drops
 * after the server applied a write and before its answer arrived, the retried write sees
 * BAD_VERSION and the increment is applied once more. On `lost` nothing is lost: the node is
 * persistent.
 */
export class SharedCounter extends EventEmitter<SharedCounterEvents> {
  /** The counter's path. */
  readonly path: string;
  private readonly shared: SharedValue<number>;

  /**
   * @param session - the session to use
   * @param path - the counter node
   * @param options - `seed`
   * @throws InvalidPathError, InvalidArgumentError naming the bad option
   */
  constructor(session: ZkSession, path: string, options: SharedCounterOptions = {}) {
    super();
    checkSession('shared-counter', session);
    validatePath(path, 'shared-counter');
    rejectReserved(path, 'shared-counter');
    if (path === '/') throw new InvalidPathError('shared-counter: the root cannot be a counter', { op: 'shared-counter', path });
    checkOptions('shared-counter', options, ['seed']);
    this.path = path;
    const codec: Codec<number> = { encode: encodeCount, decode: (data) => decodeCount(data, path) };
    const seed = checkInt(options?.seed ?? 0, 'option seed', path);
    this.shared = new SharedValue(session, path, { codec, seed }, 'shared-counter');
    this.shared.on('change', (value) => emitSafely(this, 'change', value));
    this.shared.on('error', (err) => emitSafely(this, 'error', err));
  }

  /**
   * Reads the value and the node's version (`-1` when the node does not exist yet). One read; it
   * waits only for the server's reply (and the session's retries while `suspended`).
   */
  read(): Promise<VersionedValue<number>> {
    return this.shared.getVersioned();
  }

  /** Reads the current value from the server (one read; waits for the reply). */
  get(): Promise<number> {
    return this.shared.get();
  }

  /** Sets the value unconditionally (creating the node if needed). Waits for the server to apply it. */
  async set(value: number): Promise<void> {
    await this.shared.set(checkInt(value, 'value', this.path));
  }

  /**
   * Sets the value only if the node is still at `version` (from {@link read}; `-1`: the node must
   * not exist yet). Curator's `trySetCount`: after `start()` the version must also be the cached
   * one. One conditional write; waits for the reply.
   * @returns false when another writer changed the counter first
   * @throws IndeterminateError when a connection loss left the write's outcome unknown (read to find out)
   */
  async compareAndSet(version: number, value: number): Promise<boolean> {
    checkInt(value, 'value', this.path);
    if (!Number.isInteger(version) || version < -1)
      throw new InvalidArgumentError(`shared-counter ${this.path}: version must be an integer >= -1, got ${String(version)}`, {
        op: 'shared-counter.compareAndSet',
        path: this.path,
      });
    return this.shared.trySetValue({ version }, value);
  }

  /**
   * Adds `by` (default 1) atomically and returns the new value: read, compare-and-set on the read
   * version, and on BAD_VERSION read again and retry. Waits until one attempt succeeds.
   * @throws IndeterminateError when a connection loss left an attempt's outcome unknown: retrying
   * could count it twice (Curator's and kazoo's counters may), so the caller decides
   */
  async increment(by = 1): Promise<number> {
    checkInt(by, 'increment', this.path);
    return (await this.shared.update((value) => (value + by) | 0)).value;
  }

  /** The value as last seen by the cache (`start()`), or undefined before. */
  get value(): number | undefined {
    return this.shared.value;
  }

  /**
   * Creates the node with the seed if it is missing, then watches the counter: `value` stays
   * current and `change` fires on every change seen. Waits for the first read (bounded by `wait`).
   * @throws IllegalStateError on a second `start()`
   */
  start(wait?: WaitOptions): Promise<void> {
    return this.shared.start(wait);
  }

  /** Stops watching; waits for a refresh in progress to end. Idempotent. */
  close(): Promise<void> {
    return this.shared.close();
  }

  /** `await using counter = ...` closes it at the end of the scope. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
