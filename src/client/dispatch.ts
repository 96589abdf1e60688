/**
 * Sending one request: its xid, its frame, the size check against `maxFrameBytes` (a request the
 * server would drop the connection for fails here, before anything is written), and its place
 * in the connection's reply queue. The diagnostics channels live here too, because the request
 * and its reply are only both in view here; they cost nothing while nobody subscribes.
 *
 * Some connection losses are the request's own doing, and sending it again (the session retries
 * a CONNECTION_LOSS) would only lose the connection again, and with it every other request of the
 * session each time. Those fail here with an error that is not retried:
 * - its reply was over `maxFrameBytes` (framing.ts names the reply's xid): a `ProtocolError`;
 * - a request of {@link LARGE_REQUEST_BYTES} or more under which the server closed the connection,
 *   a second time on a second connection: a server closes the connection of a request over its
 *   `jute.maxbuffer` (1 MB by default) as soon as it reads the length, and says nothing else. The
 *   first loss names that probable cause and is retried once; the second is an
 *   `InvalidArgumentError`. Smaller requests are never taken for that (no server is set so low).
 * @internal
 * @module
 */
import { channel } from 'node:diagnostics_channel';
import { ConnectionLossError, InvalidArgumentError, ProtocolError, type ZkError } from '../errors.js';
import type { Connection, Pending } from './connection.js';
import { FrameTooLargeError } from './framing.js';
import { sharedWriter, type Reader, type Writer } from './jute.js';
import type { ReplyHeader } from './records.js';

/** Requests this large (bytes on the wire) are suspected when the server closes their connection. */
export const LARGE_REQUEST_BYTES = 64 * 1024;

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
  /** Large requests the server closed a connection under (once): key → that connection. */
  private readonly lost = new Map<string, Connection>();

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
    const large = bytes.length >= LARGE_REQUEST_BYTES && conn.open ? `${opcode} ${bytes.length} ${path}` : undefined;
    return new Promise<T>((resolve, reject) => {
      const started = traced ? performance.now() : 0;
      const fail = (e: ZkError) => {
        const f = this.failure(e, { xid, op, path, conn, size: bytes.length, large });
        if (traced) channels.reply.publish({ op, path, xid, err: f.rc ?? -1, ms: performance.now() - started });
        reject(f);
      };
      const p: Pending = {
        xid,
        opcode,
        op,
        path,
        onReply,
        decode: decode as Pending['decode'],
        resolve:
          traced || large
            ? (v) => {
                if (large) this.lost.delete(large);
                if (traced) channels.reply.publish({ op, path, xid, err: 0, ms: performance.now() - started });
                resolve(v as T);
              }
            : (resolve as (v: unknown) => void),
        reject: fail,
      };
      conn.request(p, bytes);
    });
  }

  /** What a request fails with: `e`, unless the loss of the connection was the request's doing. */
  private failure(e: ZkError, r: { xid: number; op: string; path: string | undefined; conn: Connection; size: number; large: string | undefined }): ZkError {
    if (!(e instanceof ConnectionLossError)) {
      if (r.large) this.lost.delete(r.large);
      return e;
    }
    const where = `${r.op}${r.path === undefined ? '' : ` ${r.path}`}`;
    const tooLarge = replyTooLarge(e, r.xid);
    if (tooLarge) {
      return new ProtocolError(
        `${where}: the reply of ${tooLarge.length} bytes is over maxFrameBytes (${tooLarge.limit}); the connection was dropped, and the request is not sent again (its reply would be as large): raise maxFrameBytes (and the server's jute.maxbuffer) or read less at once`,
        { op: r.op, path: r.path, cause: tooLarge },
      );
    }
    if (!r.large || !closedByServer(e)) return e;
    const seen = this.lost.get(r.large);
    if (seen && seen !== r.conn) {
      this.lost.delete(r.large);
      return new InvalidArgumentError(
        `${where}: the server closed the connection each time this request of ${r.size} bytes was sent (twice): probably over the server's jute.maxbuffer (1 MB by default); not sent again`,
        { op: r.op, path: r.path, cause: e },
      );
    }
    if (!seen) this.lost.set(r.large, r.conn);
    if (this.lost.size > 64) this.lost.delete(this.lost.keys().next().value!);
    return new ConnectionLossError(
      `${e.message}; a request of ${r.size} bytes was in flight: a server closes the connection of a request over its jute.maxbuffer (1 MB by default), so it is sent once more only`,
      { op: r.op, path: r.path, rc: -4, cause: e.cause },
    );
  }

  private nextXid(): number {
    const x = this.xid;
    this.xid = x >= 0x7ffffffe ? 1 : x + 1;
    return x;
  }
}

/** The too-large frame that ended the connection of `e`, if it was the reply to `xid`. */
function replyTooLarge(e: ZkError, xid: number): FrameTooLargeError | undefined {
  let c: unknown = e.cause;
  for (let depth = 0; c instanceof Error && depth < 4; depth++, c = c.cause) if (c instanceof FrameTooLargeError) return c.xid === xid ? c : undefined;
  return undefined;
}

/** Whether the server ended the connection (a FIN or a reset), rather than the client or a timeout. */
function closedByServer(e: ZkError): boolean {
  const code = (e.cause as NodeJS.ErrnoException | undefined)?.code;
  if (e.cause === undefined) return e.message.endsWith('(closed by the server)');
  return code === 'ECONNRESET' || code === 'EPIPE';
}
