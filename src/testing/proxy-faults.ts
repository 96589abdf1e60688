/**
 * The faults of the test kit's proxy (proxy.ts) on the bytes themselves: the delay line (latency
 * that keeps the order), how a chunk is mangled, which chunks are (one, or a random share of
 * them), and the ordered output of one direction of a connection, which must keep the order of
 * bytes and of the close when a chunk is dripped out in pieces.
 *
 * The modes, and what a ZooKeeper client facing them must do (test/hostile-wire.test.ts checks ours):
 *
 * | mode        | the chunk becomes                                                  | the client must            |
 * |-------------|--------------------------------------------------------------------|----------------------------|
 * | `garbage`   | random bytes of the same length, each differing from the original  | drop the connection        |
 * | `truncate`  | its first half, then FIN; what else comes for that socket is lost  | drop it (EOF)              |
 * | `oversize`  | a 0x7fffffff length prefix, then the chunk                         | drop it, typed error       |
 * | `duplicate` | itself, with its whole frames sent twice                           | drop it: a reply not asked |
 * | `split`     | pieces of 1–3 bytes, each after a `setImmediate` (legal TCP)       | NOT drop it: reassemble    |
 * | `flip`      | itself with one random bit of one random byte flipped              | see below                  |
 *
 * `duplicate` follows ZooKeeper's framing (a 4-byte big-endian length, then that many bytes) in
 * the stream as the source sent it: the frames that begin and end inside the chunk are written
 * again right after the last of them, so the destination sees whole frames replayed, never a frame
 * cut into another one. A chunk that holds no whole frame is forwarded as it is, and a pending
 * `corruptNext('duplicate')` waits for the next chunk that does. Toward the client it is a replayed
 * reply, whose xid answers nothing the client waits for. Toward the server it is a replayed
 * request: ZooKeeper runs it again (it does not deduplicate xids: a create is made twice, a
 * sequential node twice over), and then its second reply is the replayed reply. TCP never does
 * either; it shows that a client never hands a reply to a request it does not answer.
 *
 * `flip` models corruption that TCP's checksum would have caught: ZooKeeper frames carry no
 * checksum of their own, so a client cannot detect every flip. One in a length prefix, an xid or
 * an error code breaks the stream or the reply matching and the connection is dropped (a length
 * that grew leaves the client waiting for a frame that never ends: only a read timeout counted in
 * whole frames, not in bytes, ends that); one in a payload (node data, a name, a stat, a path in a
 * request) is handed on as it came; one in a zxid may make the client ask later for a zxid the
 * server never had (the server then refuses to reconnect the session until it expires). Tests of
 * recipes' promises leave `flip` out.
 *
 * One-shot or continuous: `corruptNext(direction, how)` mangles the next chunk in that direction
 * (a later call replaces one still pending); `corruptEvery(direction, how, probability, random?)`
 * mangles each chunk with that probability, by a mode drawn from `how` (one or a list), until
 * called again with probability 0. A pending `corruptNext` goes first.
 * @module
 */
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';

/** A direction of forwarding: server to client, or client to server. */
export type ProxyDirection = 'toClient' | 'toServer';

/** How a chunk is mangled; see the module documentation. */
export type ProxyCorruption = 'garbage' | 'truncate' | 'oversize' | 'duplicate' | 'split' | 'flip';

/** Every corruption mode. */
export const PROXY_CORRUPTIONS: readonly ProxyCorruption[] = ['garbage', 'truncate', 'oversize', 'duplicate', 'split', 'flip'];

const OVERSIZE = Buffer.from([0x7f, 0xff, 0xff, 0xff]);

function checkMode(how: unknown): ProxyCorruption {
  if (!PROXY_CORRUPTIONS.includes(how as ProxyCorruption))
    throw new RangeError(`proxy: unknown corruption ${JSON.stringify(how)}, not one of ${PROXY_CORRUPTIONS.join(', ')}`);
  return how as ProxyCorruption;
}

/** Runs tasks in the order given, each no sooner than the delay given with it. */
export class DelayLine {
  private readonly queue: Array<{ due: number; run: () => void }> = [];
  private timer: NodeJS.Timeout | undefined;

  push(delayMs: number, run: () => void): void {
    if (delayMs <= 0 && this.queue.length === 0) {
      run();
      return;
    }
    this.queue.push({ due: performance.now() + delayMs, run });
    if (!this.timer) this.pump();
  }

  cancel(): void {
    this.queue.length = 0;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private readonly pump = (): void => {
    this.timer = undefined;
    // Timers may fire a little early: check the clock, and wait again if need be.
    while (this.queue.length > 0 && this.queue[0]!.due <= performance.now()) this.queue.shift()!.run();
    const head = this.queue[0];
    if (head && !this.timer) this.timer = setTimeout(this.pump, Math.max(1, Math.ceil(head.due - performance.now())));
  };
}

/** Random bytes of the same length, each one different from the original's. */
export function garble(chunk: Buffer): Buffer {
  const noise = randomBytes(chunk.length);
  return Buffer.from(chunk.map((b, i) => b ^ (1 + (noise[i]! % 255))));
}

/**
 * Follows length-prefixed framing through a byte stream, chunk by chunk: where frames begin and
 * end. A length of zero or less counts as an empty frame (the stream is not ZooKeeper's then, and
 * what `duplicate` does with it does not matter).
 */
export class FrameTracker {
  /** Payload bytes still to come in the current frame. */
  private need = 0;
  /** Bytes of a length prefix seen so far. */
  private prefix: number[] = [];

  /** Feeds a chunk; returns the offsets inside it that are frame boundaries (0 when it starts one). */
  feed(chunk: Buffer): number[] {
    const bounds: number[] = this.need === 0 && this.prefix.length === 0 ? [0] : [];
    let i = 0;
    while (i < chunk.length) {
      if (this.need > 0) {
        const n = Math.min(this.need, chunk.length - i);
        i += n;
        this.need -= n;
        if (this.need === 0) bounds.push(i);
        continue;
      }
      this.prefix.push(chunk[i++]!);
      if (this.prefix.length < 4) continue;
      const len = Buffer.from(this.prefix).readInt32BE(0);
      this.prefix = [];
      if (len > 0) this.need = len;
      else bounds.push(i);
    }
    return bounds;
  }
}

/**
 * The ordered output of one direction of one connection: writes, pieces of a dripped chunk and
 * the end (FIN) leave in the order given. After `end()` (or `cancel()`) nothing more is written.
 */
export class Outlet {
  private readonly queue: Array<{ drip: boolean; data: Buffer } | null> = [];
  private busy = false;
  private closing = false;
  private immediate: NodeJS.Immediate | undefined;

  constructor(
    private readonly socket: () => Socket | undefined,
    private readonly random: () => number = Math.random,
  ) {}

  /** Writes `data` after whatever is queued. */
  write(data: Buffer, drip = false): void {
    if (this.closing) return;
    if (this.busy || this.queue.length > 0) this.queue.push({ drip, data });
    else this.run({ drip, data });
  }

  /** Ends the destination socket after whatever is queued; later writes are dropped. */
  end(): void {
    if (this.closing) return;
    this.closing = true;
    if (this.busy || this.queue.length > 0) this.queue.push(null);
    else endSocket(this.socket());
  }

  /** Drops what is queued (the connection is being reset). */
  cancel(): void {
    this.closing = true;
    this.queue.length = 0;
    if (this.immediate) clearImmediate(this.immediate);
    this.immediate = undefined;
  }

  private run(item: { drip: boolean; data: Buffer }): void {
    const s = this.socket();
    if (!s || s.destroyed || s.writableEnded) return;
    if (!item.drip) {
      s.write(item.data);
      return;
    }
    this.busy = true;
    this.drip(item.data, 0);
  }

  private drip(data: Buffer, at: number): void {
    const s = this.socket();
    if (!s || s.destroyed || s.writableEnded) {
      this.busy = false;
      return;
    }
    const n = Math.min(data.length - at, 1 + Math.floor(this.random() * 3));
    s.write(data.subarray(at, at + n));
    if (at + n < data.length) {
      this.immediate = setImmediate(() => this.drip(data, at + n));
      return;
    }
    this.immediate = undefined;
    this.busy = false;
    this.drain();
  }

  private drain(): void {
    while (!this.busy && this.queue.length > 0) {
      const item = this.queue.shift()!;
      if (item === null) endSocket(this.socket());
      else this.run(item);
    }
  }
}

function endSocket(s: Socket | undefined): void {
  if (s && !s.destroyed && !s.writableEnded) s.end();
}

/** The whole frames of `chunk` (from its first boundary to its last), or undefined when there are none. */
export function wholeFrames(bounds: readonly number[]): [number, number] | undefined {
  if (bounds.length < 2) return undefined;
  return [bounds[0]!, bounds[bounds.length - 1]!];
}

/** Writes `chunk` to `out` mangled as `how` says; `frames` is its span of whole frames (for `duplicate`). */
export function writeCorrupted(out: Outlet, how: ProxyCorruption, chunk: Buffer, frames: [number, number] | undefined, random: () => number): void {
  if (how === 'truncate') {
    out.write(chunk.subarray(0, chunk.length >> 1));
    out.end();
  } else if (how === 'split') out.write(chunk, true);
  else out.write(mangled(how, chunk, frames, random));
}

function mangled(how: 'garbage' | 'oversize' | 'duplicate' | 'flip', chunk: Buffer, frames: [number, number] | undefined, random: () => number): Buffer {
  if (how === 'garbage') return garble(chunk);
  if (how === 'oversize') return Buffer.concat([OVERSIZE, chunk]);
  if (how === 'duplicate') {
    const [from, to] = frames ?? [0, 0];
    return Buffer.concat([chunk.subarray(0, to), chunk.subarray(from, to), chunk.subarray(to)]);
  }
  const copy = Buffer.from(chunk);
  const i = Math.floor(random() * copy.length);
  copy[i] = copy[i]! ^ (1 << Math.floor(random() * 8));
  return copy;
}

/** Continuous corruption of one direction. */
interface Every {
  modes: readonly ProxyCorruption[];
  probability: number;
  random: () => number;
}

/** Which chunks get mangled, and how; counts what was done. */
export class Corrupter {
  /** Chunks mangled so far, per mode. */
  readonly counts: Record<ProxyCorruption, number> = { garbage: 0, truncate: 0, oversize: 0, duplicate: 0, split: 0, flip: 0 };
  private readonly next: Partial<Record<ProxyDirection, ProxyCorruption>> = {};
  private readonly every: Partial<Record<ProxyDirection, Every>> = {};

  /** `corruptNext`. */
  setNext(direction: ProxyDirection, how: ProxyCorruption): void {
    this.next[direction] = checkMode(how);
  }

  /** `corruptEvery`: probability 0 turns it off. */
  setEvery(direction: ProxyDirection, how: ProxyCorruption | readonly ProxyCorruption[], probability: number, random: () => number = Math.random): void {
    if (!Number.isFinite(probability) || probability < 0 || probability > 1) throw new RangeError(`proxy: probability must be in [0, 1], got ${probability}`);
    const modes = (typeof how === 'string' ? [how] : [...how]).map(checkMode);
    if (modes.length === 0) throw new RangeError('proxy: corruptEvery needs at least one mode');
    if (typeof random !== 'function') throw new RangeError('proxy: random must be a function returning [0, 1)');
    if (probability === 0) delete this.every[direction];
    else this.every[direction] = { modes, probability, random };
  }

  /** The random source for a direction's mangling (the continuous mode's, else Math.random). */
  random(direction: ProxyDirection): () => number {
    return this.every[direction]?.random ?? Math.random;
  }

  /**
   * The mode for the next chunk in `direction`, or undefined to forward it as it is. `hasFrames`:
   * whether the chunk holds a whole frame (`duplicate` needs one).
   */
  pick(direction: ProxyDirection, hasFrames: boolean): ProxyCorruption | undefined {
    const pending = this.next[direction];
    if (pending && (pending !== 'duplicate' || hasFrames)) {
      delete this.next[direction];
      this.counts[pending]++;
      return pending;
    }
    const e = this.every[direction];
    if (!e || e.random() >= e.probability) return undefined;
    const how = e.modes[Math.floor(e.random() * e.modes.length)]!;
    if (how === 'duplicate' && !hasFrames) return undefined;
    this.counts[how]++;
    return how;
  }
}
