/**
 * What names the session to a server across connections: its id and password, the negotiated
 * timeout and the last zxid seen. A reconnect asks for the session with these (a server that has
 * seen less than our last zxid refuses, and the next is tried), and each handshake's answer
 * updates them. Until a read-write server has given us a session, every ConnectRequest asks for a
 * new one: a read-only server's sessions are local to it.
 * @internal
 * @module
 */
import type { ConnectRequest, ConnectResponse, ReplyHeader } from './records.js';

const ZERO_ID = Buffer.alloc(8);
const ZERO_PASSWORD = Buffer.alloc(16);

function idToBytes(hex: string): Buffer {
  const b = Buffer.alloc(8);
  const v = BigInt(`0x${hex}`);
  b.writeBigUInt64BE(v);
  return b;
}

function bytesToId(b: Buffer): string {
  const hi = b.readUInt32BE(0);
  const lo = b.readUInt32BE(4);
  return hi === 0 ? lo.toString(16) : hi.toString(16) + lo.toString(16).padStart(8, '0');
}

/** One session's identity and progress, as the handshakes carry them. */
export class SessionIdentity {
  /** The last zxid seen in a reply. */
  lastZxid = 0;
  /** The negotiated session timeout (the requested one until connected). */
  negotiatedMs: number;
  private idBytes: Buffer = ZERO_ID;
  private pass: Buffer = ZERO_PASSWORD;
  private seenRwServer = false;

  /** `session`: an existing session to attach to (hex id and password). */
  constructor(
    private readonly requestedMs: number,
    session: { id: string; password: Buffer } | undefined,
  ) {
    this.negotiatedMs = requestedMs;
    if (session) {
      this.idBytes = idToBytes(session.id);
      this.pass = session.password;
      this.seenRwServer = true;
    }
  }

  /** The session id (hex), '0' before the first connection. */
  get id(): string {
    return bytesToId(this.idBytes);
  }

  /** The session password. */
  get password(): Buffer {
    return this.pass;
  }

  /** Whether a server has given us a session (else there is nothing to expire). */
  get established(): boolean {
    return this.idBytes !== ZERO_ID;
  }

  /** The ConnectRequest of the next handshake. */
  request(readOnly: boolean): ConnectRequest {
    return {
      lastZxidSeen: this.lastZxid,
      timeoutMs: this.requestedMs,
      sessionId: this.seenRwServer ? this.idBytes : ZERO_ID,
      password: this.seenRwServer ? this.pass : ZERO_PASSWORD,
      readOnly,
    };
  }

  /** Takes in a handshake's answer; returns whether the session id changed. */
  adopt(response: ConnectResponse): boolean {
    // A new id on a live client happens only around read-only servers (their sessions are
    // local); the watches are sent again on it, as the Java client does.
    const newSession = !response.sessionId.equals(this.idBytes);
    this.idBytes = response.sessionId;
    this.pass = response.password;
    this.negotiatedMs = response.timeoutMs;
    if (!response.readOnly) this.seenRwServer = true;
    return newSession;
  }

  /** Every reply header: a reply to a request of ours carries the zxid it saw. */
  onHeader(h: ReplyHeader): void {
    if (h.xid >= 0 && h.zxid > this.lastZxid) this.lastZxid = h.zxid;
  }
}
