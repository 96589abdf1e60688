/**
 * The frames a connection hands the session that answer no request of the caller (the special
 * xids): pings, the replies to the credentials and watches sent when a connection is primed
 * (replay.ts waits on those), and watch notifications. A notification goes to the config follower
 * (membership.ts) and then, its path taken out of the chroot, to the watch registry. This is its
 * own module so that the session machine (session-machine.ts) only decides when requests flow.
 * @internal
 * @module
 */
import { ProtocolError } from '../errors.js';
import type { Chroot } from './chroot.js';
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

/** Routes one session's special frames (the connection's `onSpecial`) to where they belong. */
export class SpecialFrames {
  constructor(
    private readonly reserved: ReservedReplies,
    private readonly config: ConfigFollower,
    private readonly chroot: Chroot,
    private readonly watches: WatchRegistry,
  ) {}

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
