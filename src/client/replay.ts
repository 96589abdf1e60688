/**
 * What each new connection gets before any request of the caller: the credentials again (every
 * `addAuth`, so that no request runs without them) and then the registered watches
 * (SetWatches, or SetWatches2 when persistent ones are among them) relative to the last zxid
 * seen, so that a change made while away fires its one-shot watches. Both carry reserved xids:
 * their replies are not matched by xid but come back in the order sent, one queue each.
 * @internal
 * @module
 */
import createDebug from 'debug';
import { frame, type Connection } from './connection.js';
import type { Chroot } from './chroot.js';
import type { ClientAuth } from './client.js';
import { sharedWriter } from './jute.js';
import { Op, Xid, writeSetWatches2 } from './records.js';
import { writeAuth } from './requests.js';
import type { WatchKind, WatchRegistry } from './watches.js';

const log = createDebug('zk-recipes:client');

/** Paths per SetWatches frame, at most, as the Java client sends them. */
const SET_WATCHES_MAX_BYTES = 128 * 1024;
const KINDS: readonly WatchKind[] = ['data', 'exist', 'child', 'persistent', 'persistentRecursive'];

type ReplyCallback = (err: number) => void;

/** The callers waiting for replies with reserved xids (auth, setWatches), in the order sent. */
export class ReservedReplies {
  private auth: ReplyCallback[] = [];
  private setWatches: ReplyCallback[] = [];

  /** The error code of the reply to the auth frame about to be sent. */
  expectAuth(): Promise<number> {
    return new Promise((r) => this.auth.push(r));
  }

  /** `cb` gets the error code of the reply to the SetWatches frame about to be sent. */
  expectSetWatches(cb: ReplyCallback): void {
    this.setWatches.push(cb);
  }

  /** An auth reply arrived. */
  onAuth(err: number): void {
    this.auth.shift()?.(err);
  }

  /** A SetWatches reply arrived. */
  onSetWatches(err: number): void {
    this.setWatches.shift()?.(err);
  }

  /** The connection is gone: every caller still waiting hears CONNECTION_LOSS (-4). */
  failAll(): void {
    const a = this.auth;
    const s = this.setWatches;
    this.auth = [];
    this.setWatches = [];
    for (const r of a) r(-4);
    for (const r of s) r(-4);
  }
}

/** Sends every credential; resolves each with its reply's error code. */
export function sendCredentials(conn: Connection, auths: readonly ClientAuth[], replies: ReservedReplies): Array<Promise<number>> {
  const codes: Array<Promise<number>> = [];
  for (const a of auths) {
    codes.push(replies.expectAuth());
    conn.send(
      frame(sharedWriter, (w) => {
        w.int(Xid.auth).int(Op.auth);
        writeAuth(w, a.scheme, typeof a.credentials === 'string' ? Buffer.from(a.credentials) : a.credentials);
      }),
    );
  }
  return codes;
}

/** Sends the registry's watches (as the server names the paths) in batches of at most 128 KB. */
export function sendSetWatches(conn: Connection, watches: WatchRegistry, relativeZxid: number, chroot: Chroot, replies: ReservedReplies): void {
  if (watches.size === 0) return;
  const all = watches.paths();
  let batch = emptyBatch();
  let bytes = 0;
  for (const k of KINDS) {
    for (const p of all[k]) {
      const sp = chroot.toServer(p);
      if (bytes + sp.length > SET_WATCHES_MAX_BYTES && bytes > 0) {
        sendBatch(conn, batch, relativeZxid, replies);
        batch = emptyBatch();
        bytes = 0;
      }
      batch[k].push(sp);
      bytes += sp.length;
    }
  }
  if (bytes > 0) sendBatch(conn, batch, relativeZxid, replies);
}

function emptyBatch(): Record<WatchKind, string[]> {
  return { data: [], exist: [], child: [], persistent: [], persistentRecursive: [] };
}

function sendBatch(conn: Connection, b: Record<WatchKind, string[]>, relativeZxid: number, replies: ReservedReplies): void {
  const v2 = b.persistent.length > 0 || b.persistentRecursive.length > 0;
  replies.expectSetWatches((err) => {
    if (err !== 0) log('setWatches failed rc=%d', err);
  });
  conn.send(
    frame(sharedWriter, (w) => {
      w.int(Xid.setWatches).int(v2 ? Op.setWatches2 : Op.setWatches);
      if (v2)
        writeSetWatches2(w, {
          relativeZxid,
          data: b.data,
          exist: b.exist,
          child: b.child,
          persistent: b.persistent,
          persistentRecursive: b.persistentRecursive,
        });
      else w.long(relativeZxid).strings(b.data).strings(b.exist).strings(b.child);
    }),
  );
}
