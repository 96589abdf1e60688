/**
 * Which servers the session should be on. Two jobs that keep the host list right while connected:
 *
 * - Following `/zookeeper/config` (a watched read on every read-write connection): the ensemble's
 *   current members replace the connect string's list, so that a reconfigured ensemble is still
 *   found after its original servers are gone; a server that left the configuration is dropped.
 * - Leaving a read-only server: while on one, ask the other servers (`isro`, growing pauses up
 *   to 5 s) and move to the first read-write one, which the next attempt tries first.
 * @internal
 * @module
 */
import createDebug from 'debug';
import { NoNodeError } from '../errors.js';
import { fourLetterWord } from '../ops/fourlw.js';
import type { Connection } from './connection.js';
import type { Dispatcher } from './dispatch.js';
import type { HostList, HostPort } from './hosts.js';
import { Op } from './records.js';
import { readGetData, writePathWatch } from './requests.js';
import type { ClientState } from './session-machine.js';

const log = createDebug('zk-recipes:client');

/** The ensemble's dynamic configuration (outside any chroot). */
export const CONFIG_NODE = '/zookeeper/config';

/** What the membership jobs see of the session machine. */
export interface MembershipView {
  /** The servers to try. */
  readonly hosts: HostList;
  /** The connection in use, if any. */
  readonly connection: Connection | undefined;
  /** The server connected to (or last connected to). */
  readonly server: HostPort | undefined;
  /** The session's state. */
  readonly state: ClientState;
  /** Makes `host` the next one tried. */
  prefer(host: HostPort): void;
}

/**
 * The client addresses in a dynamic configuration (`server.N=host:q:e[:role];[addr:]port`). A
 * wildcard client address (0.0.0.0, ::) means the server's own host.
 */
export function parseConfig(text: string): HostPort[] {
  const out: HostPort[] = [];
  for (const line of text.split('\n')) {
    const m = /^server\.\d+=([^;]*);(.+)$/.exec(line.trim());
    if (!m) continue;
    const quorumHost = m[1]!.replace(/^\[([^\]]+)\].*$/, '$1').split(':')[0]!;
    const client = m[2]!.trim();
    const i = client.lastIndexOf(':');
    const port = Number(i < 0 ? client : client.slice(i + 1));
    let host = i < 0 ? quorumHost : client.slice(0, i).replace(/^\[|\]$/g, '');
    if (host === '0.0.0.0' || host === '::' || host === '') host = quorumHost;
    if (Number.isInteger(port) && port > 0 && port < 65536) out.push({ host, port });
  }
  return out;
}

/** Keeps the host list equal to the members in `/zookeeper/config`. */
export class ConfigFollower {
  /** Whether our watch on the config node is set (a one-shot watch: read again when it fires). */
  private watched = false;

  constructor(
    private readonly session: MembershipView,
    private readonly dispatch: Dispatcher,
  ) {}

  /** Reads `/zookeeper/config` (outside any chroot) with a watch and adopts its member list. */
  read(conn: Connection): void {
    const p = this.dispatch.request<{ data: Buffer }>(
      conn,
      Op.getData,
      'getConfig',
      CONFIG_NODE,
      (w) => writePathWatch(w, CONFIG_NODE, true),
      (r) => readGetData(r),
    );
    this.watched = true;
    p.then(
      ({ data }) => this.adopt(conn, data),
      (err: unknown) => {
        this.watched = false;
        if (!(err instanceof NoNodeError)) log('reading %s failed: %s', CONFIG_NODE, (err as Error).message);
      },
    );
  }

  /** A notification for `path` (as the server names it): the config changed, read it again. */
  onNotification(path: string): void {
    if (path !== CONFIG_NODE || !this.watched) return;
    this.watched = false;
    const conn = this.session.connection;
    if (conn) this.read(conn);
  }

  private adopt(conn: Connection, data: Buffer): void {
    const hosts = parseConfig(data.toString('utf8'));
    if (hosts.length === 0) return;
    const list = this.session.hosts;
    const same = hosts.length === list.size && hosts.every((h) => list.hosts.some((x) => x.host === h.host && x.port === h.port));
    if (same) return;
    log('ensemble configuration: %s', hosts.map((h) => `${h.host}:${h.port}`).join(','));
    const stillMember = list.replace(hosts, this.session.server);
    if (!stillMember && this.session.connection === conn) conn.close('server left the ensemble configuration');
  }
}

/** While `conn` is to a read-only server, looks for a read-write one (`isro`) and moves there. */
export async function seekReadWrite(session: MembershipView, conn: Connection): Promise<void> {
  let delay = 100;
  while (conn.open && session.state === 'readOnly') {
    await new Promise((r) => setTimeout(r, delay).unref());
    delay = Math.min(delay * 2, 5000);
    for (const h of session.hosts.hosts) {
      if (!conn.open || session.state !== 'readOnly') return;
      const server = session.server;
      if (server && h.host === server.host && h.port === server.port) continue;
      const answer = await fourLetterWord(h.host, h.port, 'isro', 1000).catch(() => '');
      if (answer.trim() === 'rw') {
        log('read-write server found at %s:%d; moving there', h.host, h.port);
        session.prefer(h);
        conn.close('moving to a read-write server');
        return;
      }
    }
  }
}
