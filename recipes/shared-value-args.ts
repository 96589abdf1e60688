/**
 * What a `SharedValue` (./shared-value.ts) checks and converts at its edges, each failure a typed error raised
 * before anything is written: a value to the node's bytes (`encodeValue`), the node's bytes back
 * to a value (`decodeValue`), and the version of `trySetValue`'s `previous` (`checkPrevious`).
 * @internal
 * @module
 */
import { IllegalStateError, InvalidArgumentError } from '../src/errors.js';
import { MAX_DATA_BYTES } from '../src/paths.js';
import type { Codec } from './codec.js';

/** The version a missing node reads as (Curator's `UNINITIALIZED_VERSION`); as `trySetValue`'s `previous.version`: create it. */
export const MISSING_VERSION = -1;

/** ZooKeeper's data versions are 32-bit signed ints. */
const MAX_VERSION = 0x7fffffff;

/**
 * Encodes `value` (a copy), or throws a typed error naming `what`: before anything is written.
 * @internal
 * @throws InvalidArgumentError when the codec throws, returns no bytes, or bytes over MAX_DATA_BYTES
 */
export function encodeValue<T>(codec: Codec<T>, value: T, what: string, op: string, path: string): Buffer {
  let bytes: unknown;
  try {
    bytes = codec.encode(value);
  } catch (err) {
    throw new InvalidArgumentError(`${op} ${path}: cannot encode ${what}: ${(err as Error)?.message ?? String(err)}`, {
      op,
      path,
      cause: err,
    });
  }
  if (!(bytes instanceof Uint8Array)) {
    throw new InvalidArgumentError(`${op} ${path}: codec.encode returned ${typeof bytes} for ${what}, not a Buffer or Uint8Array`, {
      op,
      path,
    });
  }
  if (bytes.byteLength > MAX_DATA_BYTES) {
    throw new InvalidArgumentError(`${op} ${path}: ${what} encodes to ${bytes.byteLength} bytes, over ZooKeeper's limit of ${MAX_DATA_BYTES}`, {
      op,
      path,
    });
  }
  return Buffer.from(bytes);
}

/**
 * Decodes a copy of `data` (the caller may keep and change what it gets).
 * @internal
 * @throws IllegalStateError when the codec cannot decode the bytes (the codec's error is the `cause`)
 */
export function decodeValue<T>(codec: Codec<T>, data: Buffer, recipe: string, path: string): T {
  try {
    return codec.decode(Buffer.from(data));
  } catch (err) {
    if (err instanceof IllegalStateError) throw err;
    throw new IllegalStateError(`${recipe} ${path}: the node's ${data.length} bytes do not decode: ${(err as Error)?.message ?? String(err)}`, {
      op: recipe,
      path,
      cause: err,
    });
  }
}

/**
 * The version of `trySetValue`'s `previous`: an integer from {@link MISSING_VERSION} to 2^31-1.
 * @internal
 * @throws InvalidArgumentError for anything else
 */
export function checkPrevious(previous: unknown, op: string, path: string): number {
  const v = (previous as { version?: unknown } | null)?.version;
  if (typeof previous !== 'object' || previous === null || typeof v !== 'number' || !Number.isInteger(v) || v < MISSING_VERSION || v > MAX_VERSION) {
    throw new InvalidArgumentError(
      `${op} ${path}: previous must be { value?, version } with version an integer from -1 to ${MAX_VERSION}, got version ${String(v)}`,
      { op, path },
    );
  }
  return v;
}
