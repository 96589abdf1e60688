/**
 * The frames a connection hands the session that answer no request of the caller (the special
 * xids): pings, the replies to the credentials and watches sent when a connection is primed
 * (replay.ts waits on those), and watch notifications. A notification goes to the config follower
 * (membership.ts) and then, its path taken out of the chroot, to the watch registry. This is its
 * own module so that the session machine (session-machine.ts) only decides when requests flow.
 *
 * Every frame's header passes here too (`seen`), for the read timeout counted in whole frames, as
 * the Java client's `lastHeard` is ({@link FrameWatch}): the connection's own timer counts bytes,
 * and a stream out of step (a length prefix that lies, so that the decoder waits for a frame that
 * never ends) goes on bringing bytes, the replies to our pings, while no request is ever answered.
 * @internal
 * @module
 */
import { ConnectionLossError, ProtocolError } from '../errors.js';
import type { Chroot } from './chroot.js';
import type { Connection } from './connection.js';
import type { Reader } from './jute.js';
import type { ConfigFollower } from './membership.js';
import { EventType, Xid, readWatcherEvent, type ReplyHeader } from './records.js';
import type { ReservedReplies } from './replay.js';
import type { WatchEventType, WatchRegistry } from './watches.js';

function watchEventType(t: number): WatchEventType | undefined {
  return t === EventType.created
    ? 'created'
    : t === EventType.deleted
      ? 'deleted'
      : t === EventType.dataChanged
        ? 'changed'
        : t === EventType.childrenChanged
          ? 'child'
          : undefined;
}

/**
 * Drops a connection that made no complete frame within the read timeout (2/3 of the session
 * timeout, the connection's own figure): a healthy one makes one at least every half of it, the
 * reply to a ping.
 */
export class FrameWatch {
  /** Frames so far (a count, not a clock: this runs for every frame). */
  private frames = 0;

  /** A complete frame arrived. */
  frame(): void {
    this.frames++;
  }

  /** Watches `conn` (to `where`) until it closes. */
  watch(conn: Connection, negotiatedMs: number, where: string): void {
    const limit = Math.max(1, Math.floor((negotiatedMs * 2) / 3));
    let seen = this.frames;
    let since = Date.now();
    const timer = setInterval(
      () => {
        if (!conn.open) {
          clearInterval(timer);
          return;
        }
        if (this.frames !== seen) {
          seen = this.frames;
          since = Date.now();
          return;
        }
        if (Date.now() - since < limit) return;
        clearInterval(timer);
        const reason = `read timeout: no complete frame from ${where} within ${limit} ms`;
        conn.close(reason, new ConnectionLossError(reason, { op: 'read' }));
      },
      Math.max(10, Math.min(1000, Math.floor(limit / 8))),
    );
    timer.unref();
  }
}

/** Routes one session's special frames (the connection's `onSpecial`) to where they belong. */
export class SpecialFrames {
  /** The read timeout in whole frames. */
  private readonly frames = new FrameWatch();

  constructor(
    private readonly reserved: ReservedReplies,
    private readonly config: ConfigFollower,
    private readonly chroot: Chroot,
    private readonly watches: WatchRegistry,
  ) {}

  /** Every frame's header, as it arrives (for {@link FrameWatch}); returns it. */
  seen(h: ReplyHeader): ReplyHeader {
    this.frames.frame();
    return h;
  }

  /** Starts the read timeout in whole frames on a connection whose handshake succeeded. */
  watchFrames(conn: Connection, negotiatedMs: number, where: string): void {
    this.frames.watch(conn, negotiatedMs, where);
  }

  /** Handles one frame with a special xid; throws ProtocolError for a notification it cannot read. */
  handle(h: ReplyHeader, r: Reader): void {
    switch (h.xid) {
      case Xid.ping:
        return;
      case Xid.auth:
        this.reserved.onAuth(h.err);
        return;
      case Xid.setWatches:
        this.reserved.onSetWatches(h.err);
        return;
      case Xid.notification:
        this.onNotification(r);
    }
  }

  private onNotification(r: Reader): void {
    const ev = readWatcherEvent(r);
    if (ev.type === EventType.none) return; // session events come from the connection, not from here
    this.config.onNotification(ev.path);
    const type = watchEventType(ev.type);
    if (!type) throw new ProtocolError(`notification with unknown event type ${ev.type} for ${ev.path}`, { op: 'watch' });
    const path = this.chroot.fromServer(ev.path);
    if (path === undefined) return;
    this.watches.deliver({ type, path });
  }
}
