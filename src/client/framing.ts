/**
 * Framing: ZooKeeper frames are a 4-byte big-endian length and that many bytes. The decoder keeps
 * the chunks of an incomplete frame in a list and joins them once, when the frame is complete
 * (never by concatenating on every chunk), and rejects a length over `maxFrameBytes` or below
 * zero before buffering it. A frame over the limit is reported with the xid of its reply header
 * when the bytes at hand already hold it (they almost always do: a server writes the prefix and
 * the header together), so that the request it answers can fail for good instead of being sent
 * again for the same answer (dispatch.ts).
 * @internal
 * @module
 */
import { DecodeError } from './jute.js';

/** A frame's length prefix was over the limit (ZooKeeper's `jute.maxbuffer`). */
export class FrameTooLargeError extends DecodeError {
  /** @internal */
  constructor(
    readonly length: number,
    readonly limit: number,
    /** The xid of the frame's reply header, when its 4 bytes had arrived with the prefix. */
    readonly xid?: number,
  ) {
    super(`frame of ${length} bytes is over the limit of ${limit} bytes (maxFrameBytes)${xid === undefined ? '' : ` (reply xid ${xid})`}`);
    this.name = 'FrameTooLargeError';
  }
}

/** Default frame limit: ZooKeeper's 1 MB `jute.maxbuffer` default plus room for headers. */
export const DEFAULT_MAX_FRAME_BYTES = 1024 * 1024 + 64 * 1024;

/** Splits a byte stream into frames (payloads without the length prefix). */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Payload length of the frame being collected, or -1 before its prefix is complete. */
  private want = -1;

  constructor(private readonly maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES) {}

  /**
   * Feeds one chunk; calls `onFrame` for each complete frame, in order. Throws {@link DecodeError}
   * (and keeps nothing) on a bad length; the caller then drops the connection.
   */
  push(chunk: Buffer, onFrame: (frame: Buffer) => void): void {
    let off = 0;
    // Fast path: nothing buffered, whole frames inside this chunk are handed out as views.
    if (this.buffered === 0) {
      while (chunk.length - off >= 4) {
        const n = chunk.readInt32BE(off);
        if (n < 0 || n > this.maxFrameBytes) this.bad(n, chunk.length - off >= 8 ? chunk.readInt32BE(off + 4) : undefined);
        if (chunk.length - off - 4 < n) break;
        onFrame(chunk.subarray(off + 4, off + 4 + n));
        off += 4 + n;
      }
      if (off === chunk.length) return;
      chunk = off === 0 ? chunk : chunk.subarray(off);
    }
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    for (;;) {
      if (this.want < 0) {
        if (this.buffered < 4) return;
        const n = this.peekInt(0);
        if (n < 0 || n > this.maxFrameBytes) this.bad(n, this.buffered >= 8 ? this.peekInt(4) : undefined);
        this.want = n;
      }
      if (this.buffered < 4 + this.want) return;
      const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.buffered);
      const end = 4 + this.want;
      const frame = all.subarray(4, end);
      const rest = all.subarray(end);
      this.chunks = rest.length > 0 ? [rest] : [];
      this.buffered = rest.length;
      this.want = -1;
      onFrame(frame);
      if (this.buffered === 0) return;
    }
  }

  /** Drops whatever is buffered (the connection is gone). */
  reset(): void {
    this.chunks = [];
    this.buffered = 0;
    this.want = -1;
  }

  /** Rejects a frame length below zero or over the limit; `xid` is the int after the prefix, when at hand. */
  private bad(n: number, xid: number | undefined): never {
    this.reset();
    if (n < 0) throw new DecodeError(`bad frame length ${n}`);
    throw new FrameTooLargeError(n, this.maxFrameBytes, xid);
  }

  /** The int at `at` (0 or 4) of the buffered bytes; there are at least `at + 4`. */
  private peekInt(at: number): number {
    const first = this.chunks[0]!;
    if (first.length >= at + 4) return first.readInt32BE(at);
    return Buffer.concat(this.chunks, at + 4).readInt32BE(at);
  }
}
