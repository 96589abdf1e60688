/**
 * The jute codec: ZooKeeper's serialization (big-endian ints and longs, length-prefixed buffers,
 * strings and vectors, -1 for null). Encoding goes into one reusable scratch area and is copied
 * out once, as the frame; decoding reads a frame in place and throws {@link DecodeError} on any
 * short or malformed field, never a RangeError from Node.
 * @internal
 * @module
 */

/** A frame could not be decoded: truncated, a negative or oversized length, bad UTF-8 length. */
export class DecodeError extends Error {
  /** @internal */
  constructor(message: string) {
    super(message);
    this.name = 'DecodeError';
  }
}

const TWO_32 = 4294967296;

/**
 * Writes jute fields into a growing scratch buffer. One writer serves every client of the process
 * ({@link sharedWriter}: encoding is synchronous, so requests never interleave in it): `begin()`,
 * write the fields, `finish()` returns a fresh copy holding the 4-byte length prefix and the
 * payload (the only allocation per request). After a large frame the scratch area shrinks back.
 */
export class Writer {
  private buf: Buffer;
  private off = 0;
  private readonly initial: number;

  constructor(initial = 64 * 1024) {
    this.initial = Math.max(initial, 64);
    this.buf = Buffer.allocUnsafe(this.initial);
  }

  /** Starts a frame: reserves the length prefix. */
  begin(): this {
    this.off = 4;
    return this;
  }

  /** Ends the frame: writes the length prefix, returns a copy of the frame. */
  finish(): Buffer {
    this.buf.writeInt32BE(this.off - 4, 0);
    const out = Buffer.allocUnsafe(this.off);
    this.buf.copy(out, 0, 0, this.off);
    if (this.buf.length > 4 * this.initial) this.buf = Buffer.allocUnsafe(this.initial);
    return out;
  }

  /** Bytes written so far, prefix included. */
  get length(): number {
    return this.off;
  }

  private room(n: number): void {
    if (this.off + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.off + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.off);
    this.buf = next;
  }

  int(v: number): this {
    this.room(4);
    this.buf.writeInt32BE(v | 0, this.off);
    this.off += 4;
    return this;
  }

  /** A long from a safe integer (zxids, versions, TTLs). */
  long(v: number): this {
    this.room(8);
    const hi = Math.floor(v / TWO_32);
    this.buf.writeInt32BE(hi | 0, this.off);
    this.buf.writeUInt32BE(v - hi * TWO_32, this.off + 4);
    this.off += 8;
    return this;
  }

  /** A long given as its 8 raw bytes (session ids, exact beyond 2^53). */
  longBytes(b: Buffer): this {
    if (b.length !== 8) throw new RangeError(`a long is 8 bytes, got ${b.length}`);
    this.room(8);
    b.copy(this.buf, this.off, 0, 8);
    this.off += 8;
    return this;
  }

  bool(v: boolean): this {
    this.room(1);
    this.buf[this.off++] = v ? 1 : 0;
    return this;
  }

  /** A length-prefixed buffer; `null` writes -1. */
  buffer(b: Uint8Array | null): this {
    if (b === null) return this.int(-1);
    this.room(4 + b.length);
    this.buf.writeInt32BE(b.length, this.off);
    this.buf.set(b, this.off + 4);
    this.off += 4 + b.length;
    return this;
  }

  /** A length-prefixed UTF-8 string; `null` writes -1. */
  string(s: string | null): this {
    if (s === null) return this.int(-1);
    // Every UTF-16 unit is at most 3 UTF-8 bytes: reserve that, write, then fix the length.
    this.room(4 + s.length * 3);
    const n = this.buf.write(s, this.off + 4, 'utf8');
    this.buf.writeInt32BE(n, this.off);
    this.off += 4 + n;
    return this;
  }

  /** A vector of strings. */
  strings(list: readonly string[] | null): this {
    if (list === null) return this.int(-1);
    this.int(list.length);
    for (const s of list) this.string(s);
    return this;
  }
}

/** The process-wide writer every client encodes its requests with. */
export const sharedWriter = new Writer();

/** Reads jute fields from one frame, in place. */
export class Reader {
  /** Current offset into `buf`. */
  off: number;
  private readonly end: number;

  constructor(
    private readonly buf: Buffer,
    start = 0,
    end = buf.length,
  ) {
    this.off = start;
    this.end = end;
  }

  /** Bytes left. */
  get remaining(): number {
    return this.end - this.off;
  }

  private need(n: number, what: string): void {
    if (this.off + n > this.end) throw new DecodeError(`frame truncated: ${what} needs ${n} bytes at offset ${this.off}, ${this.end - this.off} left`);
  }

  int(): number {
    this.need(4, 'int');
    const v = this.buf.readInt32BE(this.off);
    this.off += 4;
    return v;
  }

  /** A long as a number (exact up to 2^53: zxids, times). */
  long(): number {
    this.need(8, 'long');
    const hi = this.buf.readInt32BE(this.off);
    const lo = this.buf.readUInt32BE(this.off + 4);
    this.off += 8;
    return hi * TWO_32 + lo;
  }

  /** A long as lowercase hex without leading zeros (session ids: exact for all 64 bits). */
  longHex(): string {
    this.need(8, 'long');
    const hi = this.buf.readUInt32BE(this.off);
    const lo = this.buf.readUInt32BE(this.off + 4);
    this.off += 8;
    return hi === 0 ? lo.toString(16) : hi.toString(16) + lo.toString(16).padStart(8, '0');
  }

  /** A long as its 8 raw bytes (a copy). */
  longBytes(): Buffer {
    this.need(8, 'long');
    const b = Buffer.from(this.buf.subarray(this.off, this.off + 8));
    this.off += 8;
    return b;
  }

  bool(): boolean {
    this.need(1, 'boolean');
    return this.buf[this.off++] !== 0;
  }

  private len(what: string): number {
    const n = this.int();
    if (n < -1) throw new DecodeError(`bad ${what} length ${n}`);
    if (n > this.end - this.off) throw new DecodeError(`frame truncated: ${what} of ${n} bytes, ${this.end - this.off} left`);
    return n;
  }

  /** A buffer (a view into the frame); -1 (null) reads as an empty buffer. */
  buffer(): Buffer {
    const n = this.len('buffer');
    if (n <= 0) return EMPTY;
    const b = this.buf.subarray(this.off, this.off + n);
    this.off += n;
    return b;
  }

  /** A string; -1 (null) reads as ''. */
  string(): string {
    const n = this.len('string');
    if (n <= 0) return '';
    const s = this.buf.toString('utf8', this.off, this.off + n);
    this.off += n;
    return s;
  }

  /** A vector of strings; -1 (null) reads as []. */
  strings(): string[] {
    const n = this.int();
    if (n < -1) throw new DecodeError(`bad vector length ${n}`);
    // Each element takes at least its 4-byte length: a larger count is a corrupt frame.
    if (n * 4 > this.end - this.off) throw new DecodeError(`frame truncated: vector of ${n} strings, ${this.end - this.off} bytes left`);
    const out = new Array<string>(Math.max(n, 0));
    for (let i = 0; i < n; i++) out[i] = this.string();
    return out;
  }

  /** A vector's element count, checked against the bytes left (`minBytes` per element). */
  count(minBytes: number, what: string): number {
    const n = this.int();
    if (n < -1) throw new DecodeError(`bad ${what} count ${n}`);
    if (n * minBytes > this.end - this.off) throw new DecodeError(`frame truncated: ${n} ${what}, ${this.end - this.off} bytes left`);
    return Math.max(n, 0);
  }
}

const EMPTY = Buffer.alloc(0);
