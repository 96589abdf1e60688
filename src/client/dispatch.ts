/**
 * Sending one request: its xid, its frame, the size check against `maxFrameBytes` (a request the
 * server would drop the connection for fails here, before anything is written), and its place
 * in the connection's reply queue. The diagnostics channels live here too, because the request
 * and its reply are only both in view here; they cost nothing while nobody subscribes.
 * @internal
 * @module
 */
import { channel } from 'node:diagnostics_channel';
import { InvalidArgumentError } from '../errors.js';
import type { Connection, Pending } from './connection.js';
import { sharedWriter, type Reader, type Writer } from './jute.js';
import type { ReplyHeader } from './records.js';

/** `node:diagnostics_channel` channels: free when nobody subscribes. */
export const channels = {
  /** `{ op, path, xid }` as each request is sent. */
  request: channel('zk-recipes:client:request'),
  /** `{ op, path, xid, err, ms }` as each reply arrives (err 0 on success). */
  reply: channel('zk-recipes:client:reply'),
  /** `{ state, previous, sessionId, server }` on each state change. */
  state: channel('zk-recipes:client:state'),
};

/** Writes a request's body (after the header). */
export type BodyWriter = (w: Writer) => void;
/** Decodes a reply's body (after the header). */
export type ReplyDecoder<T> = (r: Reader, h: ReplyHeader) => T;
/** Sees a reply's error code as the reply is read, before the promise settles. */
export type ReplyHook = (err: number) => void;

/** Numbers and sends the requests of one session (the xids run on across its connections). */
export class Dispatcher {
  private xid = 1;

  constructor(private readonly maxFrameBytes: number) {}

  /** Sends one request on `conn`; the reply body goes through `decode`. */
  request<T>(
    conn: Connection,
    opcode: number,
    op: string,
    path: string | undefined,
    body: BodyWriter | undefined,
    decode: ReplyDecoder<T> | undefined,
    onReply?: ReplyHook,
  ): Promise<T> {
    const xid = this.nextXid();
    const w = sharedWriter.begin().int(xid).int(opcode);
    if (body) body(w);
    const bytes = w.finish();
    if (bytes.length - 4 > this.maxFrameBytes) {
      return Promise.reject(
        new InvalidArgumentError(
          `${op}${path === undefined ? '' : ` ${path}`}: request of ${bytes.length} bytes is over maxFrameBytes (${this.maxFrameBytes})`,
          { op, path },
        ),
      );
    }
    const traced = channels.reply.hasSubscribers;
    if (channels.request.hasSubscribers) channels.request.publish({ op, path, xid });
    return new Promise<T>((resolve, reject) => {
      const started = traced ? performance.now() : 0;
      const p: Pending = {
        xid,
        opcode,
        op,
        path,
        onReply,
        decode: decode as Pending['decode'],
        resolve: traced
          ? (v) => {
              channels.reply.publish({ op, path, xid, err: 0, ms: performance.now() - started });
              resolve(v as T);
            }
          : (resolve as (v: unknown) => void),
        reject: traced
          ? (e) => {
              channels.reply.publish({ op, path, xid, err: e.rc ?? -1, ms: performance.now() - started });
              reject(e);
            }
          : reject,
      };
      conn.request(p, bytes);
    });
  }

  private nextXid(): number {
    const x = this.xid;
    this.xid = x >= 0x7ffffffe ? 1 : x + 1;
    return x;
  }
}
