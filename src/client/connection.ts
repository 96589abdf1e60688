/**
 * One TCP (or TLS) connection to one server, for its whole life: connect within a deadline, the
 * ConnectRequest / ConnectResponse handshake, then frames both ways. It owns what dies with the
 * socket: the queue of requests waiting for their reply (matched by xid, in order), the read
 * timeout (no byte from the server within it: the server is silent, drop it) and the pings that
 * keep an idle connection from reaching that timeout. When the connection ends, for any reason,
 * every waiting request fails with CONNECTION_LOSS in the order it was sent, and `closed`
 * resolves with the reason. Nothing here throws out of a socket handler.
 *
 * Over TLS the ConnectRequest waits for `secureConnect`, which Node emits only once the server's
 * certificate verified (CA and host name): a server that fails the check, or refuses our
 * certificate, never sees a byte of the session. That failure ends the attempt with a
 * {@link TlsError} naming the server and Node's code.
 * @internal
 * @module
 */
import { connect as netConnect, type Socket } from 'node:net';
import { checkServerIdentity, connect as tlsConnect, type ConnectionOptions as TlsConnectionOptions, type TLSSocket } from 'node:tls';
import { ConnectionLossError, ProtocolError, TlsError, ZkError, fromRc } from '../errors.js';
import { FrameDecoder } from './framing.js';
import { DecodeError, Reader, type Writer } from './jute.js';
import { Op, Xid, readConnectResponse, readReplyHeader, writeConnectRequest, type ConnectRequest, type ConnectResponse, type ReplyHeader } from './records.js';

/** TLS settings for a server's `secureClientPort`. */
export interface TlsOptions {
  /** CA certificate(s) (PEM) the server's certificate must chain to. */
  ca?: string | Buffer | Array<string | Buffer>;
  /** Client certificate (PEM), when the server asks for one. */
  cert?: string | Buffer;
  /** Client private key (PEM). */
  key?: string | Buffer;
  /** Name to check the server certificate against (and to send as SNI). @default the host */
  servername?: string;
  /** Reject a server whose certificate does not verify. @default true */
  rejectUnauthorized?: boolean;
}

/** A request waiting for its reply. */
export interface Pending {
  xid: number;
  opcode: number;
  /** Decodes the reply body (after the header); only called when `err` is 0 (or a multi's body). */
  decode: ((r: Reader, h: ReplyHeader) => unknown) | undefined;
  /**
   * Called with the reply's error code as the reply is read, before the promise settles: a
   * watch is registered here, so that a notification in the very next frame finds it.
   */
  onReply?: ((err: number) => void) | undefined;
  resolve(value: unknown): void;
  reject(err: ZkError): void;
  op: string;
  path: string | undefined;
}

/** What the owner of a connection hears from it. */
export interface ConnectionHandler {
  /** A frame with a reserved xid (notification, ping, auth, setWatches) after the handshake. */
  onSpecial(h: ReplyHeader, r: Reader): void;
  /** Every reply header (for the last zxid seen). */
  onHeader(h: ReplyHeader): void;
}

/** Options of one connection attempt. */
export interface ConnectionOptions {
  address: string;
  port: number;
  /** Host name as given (for TLS server-name checks). */
  host: string;
  /** Deadline for TCP connect + TLS + handshake. */
  connectTimeoutMs: number;
  maxFrameBytes: number;
  tls: TlsOptions | undefined;
  writer: Writer;
  handler: ConnectionHandler;
}

/** Why a connection ended. */
export interface CloseReason {
  /** The error that ended it (a socket error, a protocol error, a timeout), or undefined for a clean close. */
  error: Error | undefined;
  /** Text for logs. */
  message: string;
}

/** One connection to one server; see the module documentation. */
export class Connection {
  /** Resolves once, when the socket is gone. */
  readonly closed: Promise<CloseReason>;
  private resolveClosed!: (r: CloseReason) => void;
  private readonly socket: Socket;
  private readonly frames: FrameDecoder;
  private readonly pending: Pending[] = [];
  private head = 0;
  private ended: CloseReason | undefined;
  private handshake: { resolve(r: ConnectResponse): void; reject(e: Error): void } | undefined;
  private lastRecv = Date.now();
  private lastSend = Date.now();
  private readTimeoutMs = 0;
  private pingEveryMs = 0;
  private ticker: NodeJS.Timeout | undefined;
  private corked = false;

  private constructor(private readonly o: ConnectionOptions) {
    this.closed = new Promise((r) => {
      this.resolveClosed = r;
    });
    this.frames = new FrameDecoder(o.maxFrameBytes);
    const tcp = { host: o.address, port: o.port, noDelay: true };
    this.socket = o.tls ? tlsConnect({ ...tcp, ...tlsOptions(o.tls, o.host) }) : netConnect(tcp);
    this.socket.setNoDelay(true);
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('error', (err) => {
      const e = this.tlsFailure(err) ?? err;
      this.end(e, `${e instanceof TlsError ? 'TLS' : 'socket'} error: ${err.message}`);
    });
    this.socket.on('close', () => this.end(undefined, 'closed by the server'));
    this.socket.on('end', () => this.end(undefined, 'closed by the server'));
  }

  /**
   * Connects and runs the handshake. `ready` resolves with the server's answer (a `timeoutMs` of
   * 0 or less there means the session expired); it rejects (and the connection closes) on a
   * timeout, a refused connection, a bad answer, or `conn.close()` meanwhile.
   */
  static open(o: ConnectionOptions, request: ConnectRequest): { conn: Connection; ready: Promise<ConnectResponse> } {
    const conn = new Connection(o);
    const ready = new Promise<ConnectResponse>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          conn.end(new ConnectionLossError(`connect to ${o.host}:${o.port} timed out after ${o.connectTimeoutMs} ms`, { op: 'connect' }), 'connect timeout'),
        o.connectTimeoutMs,
      );
      timer.unref();
      conn.handshake = {
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      const hello = frame(o.writer, (w) => writeConnectRequest(w, request));
      if (o.tls) conn.socket.once('secureConnect', () => conn.send(hello));
      else conn.send(hello);
    });
    return { conn, ready };
  }

  /** Starts the read timeout (2/3 of the negotiated session timeout) and pings at half of it. */
  startTimers(negotiatedMs: number): void {
    this.readTimeoutMs = Math.max(1, Math.floor((negotiatedMs * 2) / 3));
    this.pingEveryMs = Math.max(1, Math.floor(this.readTimeoutMs / 2));
    const tick = Math.max(10, Math.min(1000, Math.floor(this.readTimeoutMs / 8)));
    this.ticker = setInterval(() => this.onTick(), tick);
    this.ticker.unref();
  }

  /** Whether the connection is still open. */
  get open(): boolean {
    return this.ended === undefined;
  }

  /** Requests sent and not yet answered. */
  get inFlight(): number {
    return this.pending.length - this.head;
  }

  /** Sends a request frame and queues its reply handler. */
  request(p: Pending, bytes: Buffer): void {
    if (this.ended) {
      p.reject(
        new ConnectionLossError(`${p.op}${p.path === undefined ? '' : ` ${p.path}`}: connection lost (${this.ended.message})`, {
          op: p.op,
          path: p.path,
          rc: -4,
        }),
      );
      return;
    }
    this.pending.push(p);
    this.send(bytes);
  }

  /** Sends a frame that gets no queued handler (ping, auth, setWatches: reserved xids). */
  send(bytes: Buffer): void {
    if (this.ended) return;
    this.lastSend = Date.now();
    // Frames written in one tick go out in one writev.
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(() => {
        this.corked = false;
        this.socket.uncork();
      });
    }
    this.socket.write(bytes);
  }

  /** Closes the connection (no closeSession: that is the client's request). Idempotent. */
  close(reason = 'closed by the client', error?: Error): void {
    this.end(error, reason);
  }

  /**
   * A failed TLS check, as a TlsError: before the session's handshake, the server's certificate
   * failed our check (`authorizationError`) or the server sent a TLS alert (`ERR_SSL_*`).
   */
  private tlsFailure(err: Error): TlsError | undefined {
    if (!this.o.tls || !this.handshake) return undefined;
    const verify = (this.socket as TLSSocket).authorizationError as unknown as string | null | undefined;
    const code = (err as NodeJS.ErrnoException).code ?? (verify ? String(verify) : '');
    if (!verify && !code.startsWith('ERR_SSL_')) return undefined;
    const server = `${this.o.host}:${this.o.port}`;
    const what = verify ? "its certificate failed the client's check" : 'it refused the TLS handshake';
    return new TlsError(`tls: ${server}: ${what}: ${code} (${err.message.trim()})`, { op: 'connect', server, tlsCode: code, cause: err });
  }

  private onTick(): void {
    const now = Date.now();
    if (now - this.lastRecv >= this.readTimeoutMs) {
      this.end(
        new ConnectionLossError(`no answer from ${this.o.host}:${this.o.port} within the read timeout of ${this.readTimeoutMs} ms`, { op: 'read' }),
        'read timeout',
      );
      return;
    }
    if (now - this.lastSend >= this.pingEveryMs) this.send(PING);
  }

  private onData(chunk: Buffer): void {
    this.lastRecv = Date.now();
    try {
      this.frames.push(chunk, (f) => this.onFrame(f));
    } catch (err) {
      const e = err instanceof ZkError ? err : new ProtocolError(`${this.o.host}:${this.o.port}: ${(err as Error).message}`, { op: 'read', cause: err });
      this.end(e, e.message);
    }
  }

  private onFrame(f: Buffer): void {
    if (this.ended) return;
    const r = new Reader(f);
    if (this.handshake) {
      this.onConnectResponse(this.handshake, f, r);
      return;
    }
    const h = readReplyHeader(r);
    this.o.handler.onHeader(h);
    if (h.xid < 0) {
      if (h.xid !== Xid.notification && h.xid !== Xid.ping && h.xid !== Xid.auth && h.xid !== Xid.setWatches) {
        throw new ProtocolError(`${this.o.host}:${this.o.port}: reply with unknown xid ${h.xid}`, { op: 'read' });
      }
      this.o.handler.onSpecial(h, r);
      return;
    }
    this.settle(this.takePending(h.xid), h, r);
  }

  private onConnectResponse(hs: NonNullable<Connection['handshake']>, f: Buffer, r: Reader): void {
    // A bare reply header instead of a ConnectResponse: the server refused the session (a
    // read-only server asked for a global session answers NOT_READONLY).
    if (f.length === 16) {
      const refused = readReplyHeader(r);
      throw fromRc(refused.err, 'connect', undefined);
    }
    let response: ConnectResponse;
    try {
      response = readConnectResponse(r);
    } catch (err) {
      throw new ProtocolError(`${this.o.host}:${this.o.port}: bad ConnectResponse: ${(err as Error).message}`, { op: 'connect', cause: err });
    }
    this.handshake = undefined;
    hs.resolve(response);
  }

  /** The request a reply with `xid` answers: the oldest one waiting (replies come in order). */
  private takePending(xid: number): Pending {
    const p = this.pending[this.head];
    if (!p || p.xid !== xid) {
      throw new ProtocolError(`${this.o.host}:${this.o.port}: reply xid ${xid} out of order (expected ${p ? p.xid : 'none'})`, { op: 'read' });
    }
    this.pending[this.head++] = undefined as unknown as Pending;
    if (this.head > 1024 && this.head * 2 > this.pending.length) {
      this.pending.splice(0, this.head);
      this.head = 0;
    }
    return p;
  }

  /** Settles `p` with its reply; a body that does not decode also ends the connection (throws). */
  private settle(p: Pending, h: ReplyHeader, r: Reader): void {
    p.onReply?.(h.err);
    if (h.err !== 0 && !(p.opcode === Op.multi && r.remaining > 0)) {
      p.reject(fromRc(h.err, p.op, p.path));
      return;
    }
    let value: unknown;
    try {
      value = p.decode ? p.decode(r, h) : undefined;
    } catch (err) {
      if (!(err instanceof DecodeError)) {
        p.reject(err instanceof ZkError ? err : new ProtocolError(`${p.op}: ${(err as Error).message}`, { op: p.op, path: p.path, cause: err }));
        return;
      }
      const e = new ProtocolError(`${p.op}${p.path === undefined ? '' : ` ${p.path}`}: bad reply from ${this.o.host}:${this.o.port}: ${err.message}`, {
        op: p.op,
        path: p.path,
        cause: err,
      });
      p.reject(e);
      throw e;
    }
    p.resolve(value);
  }

  private end(error: Error | undefined, message: string): void {
    if (this.ended) return;
    this.ended = { error, message };
    clearInterval(this.ticker);
    this.frames.reset();
    try {
      this.socket.destroy();
    } catch {
      /* already gone */
    }
    if (this.handshake) {
      const hs = this.handshake;
      this.handshake = undefined;
      hs.reject(error ?? new ConnectionLossError(`connect to ${this.o.host}:${this.o.port}: ${message}`, { op: 'connect', rc: -4 }));
    }
    // Fail what was sent, in the order it was sent: the caller cannot know what the server did.
    const waiting = this.pending.slice(this.head);
    this.pending.length = 0;
    this.head = 0;
    for (const p of waiting) {
      p.reject(
        new ConnectionLossError(`${p.op}${p.path === undefined ? '' : ` ${p.path}`}: connection lost (${message})`, {
          op: p.op,
          path: p.path,
          rc: -4,
          cause: error,
        }),
      );
    }
    this.resolveClosed(this.ended);
  }
}

function tlsOptions(t: TlsOptions, host: string): TlsConnectionOptions {
  const o: TlsConnectionOptions = { rejectUnauthorized: t.rejectUnauthorized ?? true };
  if (t.ca !== undefined) o.ca = t.ca;
  if (t.cert !== undefined) o.cert = t.cert;
  if (t.key !== undefined) o.key = t.key;
  const name = t.servername ?? host;
  // SNI must not be an IP literal; the certificate check still uses `servername`.
  if (!/^[\d.]+$|:/.test(name)) o.servername = name;
  o.checkServerIdentity = (_host, cert) => checkServerIdentity(name, cert);
  return o;
}

/** Encodes one frame with the shared writer. */
export function frame(w: Writer, body: (w: Writer) => void): Buffer {
  w.begin();
  body(w);
  return w.finish();
}

/** The ping frame never changes: header xid -2, op 11, no body. */
const PING: Buffer = (() => {
  const b = Buffer.alloc(12);
  b.writeInt32BE(8, 0);
  b.writeInt32BE(Xid.ping, 4);
  b.writeInt32BE(Op.ping, 8);
  return b;
})();
