/**
 * Codecs: how queue items become znode bytes and back. The default is JSON (UTF-8).
 *
 * A codec that throws in `encode` makes `put`/`putMany` reject with an {@link InvalidArgumentError}
 * before anything is written; a codec that throws in `decode` makes the item a *poison* item, which
 * the queue moves aside (see `recipes/queue.ts`) and reports with a `poison` event.
 * @module
 */
import { InvalidArgumentError } from '../src/errors.js';
import { MAX_DATA_BYTES } from '../src/paths.js';

/** Turns items into bytes and back. Both functions are synchronous. */
export interface Codec<T> {
  /** Encodes one item; throw to refuse it. */
  encode(item: T): Buffer | Uint8Array;
  /** Decodes one item; throw if the bytes are not a valid item. */
  decode(data: Buffer): T;
}

/** JSON in UTF-8. `undefined`, functions, symbols, BigInts and cycles are refused by `encode`. */
export const jsonCodec: Codec<unknown> = {
  encode(item: unknown): Buffer {
    const text = JSON.stringify(item);
    if (text === undefined) throw new TypeError(`JSON cannot encode a value of type ${typeof item}`);
    return Buffer.from(text, 'utf8');
  },
  decode(data: Buffer): unknown {
    return JSON.parse(data.toString('utf8'));
  },
};

/** Raw bytes: items are Buffers, stored as they are. */
export const bufferCodec: Codec<Buffer> = {
  encode(item: Buffer): Buffer {
    if (!Buffer.isBuffer(item)) throw new TypeError(`bufferCodec encodes Buffers, got ${typeof item}`);
    return item;
  },
  decode(data: Buffer): Buffer {
    return data;
  },
};

/** UTF-8 strings. */
export const stringCodec: Codec<string> = {
  encode(item: string): Buffer {
    if (typeof item !== 'string') throw new TypeError(`stringCodec encodes strings, got ${typeof item}`);
    return Buffer.from(item, 'utf8');
  },
  decode(data: Buffer): string {
    return data.toString('utf8');
  },
};

const CURATOR_VERSION = 0x00010001;

/**
 * Curator's `DistributedQueue` item framing around an inner codec, so Curator's queues and ours can
 * share a path: `int32 0x00010001`, then `0x01, int32 length, bytes` per item, then `0x02`
 * (Curator's `ItemSerializer`). A node Curator wrote with `putMulti` holds several items: it does
 * not decode here (it is moved aside as a poison item, never dropped).
 */
export function curatorCodec<T>(inner: Codec<T>): Codec<T> {
  return {
    encode(item: T): Buffer {
      const body = inner.encode(item);
      const out = Buffer.alloc(4 + 1 + 4 + body.byteLength + 1);
      out.writeInt32BE(CURATOR_VERSION, 0);
      out.writeUInt8(0x01, 4);
      out.writeInt32BE(body.byteLength, 5);
      out.set(body, 9);
      out.writeUInt8(0x02, 9 + body.byteLength);
      return out;
    },
    decode(data: Buffer): T {
      if (data.length < 5 || data.readInt32BE(0) !== CURATOR_VERSION) throw new Error('not a Curator queue item (bad version header)');
      if (data[4] === 0x02) throw new Error('Curator queue node holds no item');
      if (data[4] !== 0x01 || data.length < 9) throw new Error(`Curator queue item: bad opcode ${data[4]}`);
      const size = data.readInt32BE(5);
      if (size < 0 || data.length < 9 + size + 1) throw new Error(`Curator queue item: bad size ${size}`);
      if (data[9 + size] !== 0x02) throw new Error('Curator queue node holds several items (putMulti); decode them one by one with the raw bytes');
      return inner.decode(data.subarray(9, 9 + size));
    },
  };
}

/**
 * Checks that `codec` has `encode` and `decode` functions.
 * @internal
 */
export function checkCodec<T>(recipe: string, codec: unknown): Codec<T> {
  const c = codec as Partial<Codec<T>> | null;
  if (!c || typeof c !== 'object' || typeof c.encode !== 'function' || typeof c.decode !== 'function') {
    throw new InvalidArgumentError(`${recipe}: option codec must be an object with encode(item) and decode(data) functions`, { op: recipe });
  }
  return c as Codec<T>;
}

/**
 * Encodes every item, or throws for the first one that cannot be encoded (nothing is written).
 * @internal
 * @throws InvalidArgumentError naming the recipe, the path and the item's index; the codec's error is the `cause`
 */
export function encodeAll<T>(codec: Codec<T>, items: readonly T[], op: string, path: string): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < items.length; i++) {
    let bytes: Buffer | Uint8Array;
    const which = items.length === 1 ? 'the item' : `item ${i}`;
    try {
      bytes = codec.encode(items[i] as T);
    } catch (err) {
      throw new InvalidArgumentError(`${op} ${path}: cannot encode ${which}: ${(err as Error)?.message ?? String(err)}`, { op, path, cause: err });
    }
    if (!(bytes instanceof Uint8Array)) {
      throw new InvalidArgumentError(`${op} ${path}: codec.encode returned ${typeof bytes} for ${which}, not a Buffer or Uint8Array`, { op, path });
    }
    if (bytes.byteLength > MAX_DATA_BYTES) {
      throw new InvalidArgumentError(`${op} ${path}: ${which} encodes to ${bytes.byteLength} bytes, over ZooKeeper's limit of ${MAX_DATA_BYTES}`, { op, path });
    }
    out.push(Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  }
  return out;
}
