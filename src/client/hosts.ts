/**
 * The host list: parsing a connect string (`host:port[,host:port...][/chroot]`, IPv6 in brackets),
 * a shuffled order, name resolution at every attempt (a server that moved to a new address is
 * found again), and replacement of the list when the ensemble's configuration changes.
 * @internal
 * @module
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { InvalidArgumentError } from '../errors.js';

/** One server address from a connect string. */
export interface HostPort {
  /** Host name or IP literal (IPv6 without brackets). */
  host: string;
  port: number;
}

/** A parsed connect string. */
export interface ParsedConnectString {
  hosts: HostPort[];
  /** The chroot suffix (`/app`), or '' for none. */
  chroot: string;
}

const HOST_PORT = /^(?:\[([0-9a-fA-F:.]+)\]|([^\s,/:[\]]+)):(\d{1,5})$/;

/** Parses `host:port[,host:port...][/chroot]`; throws InvalidArgumentError naming the bad part. */
export function parseConnectString(cs: string): ParsedConnectString {
  if (typeof cs !== 'string' || cs.length === 0)
    throw new InvalidArgumentError(`client: connect string must be a non-empty string, got ${JSON.stringify(cs)}`, { op: 'connect' });
  const slash = cs.indexOf('/');
  const list = slash < 0 ? cs : cs.slice(0, slash);
  let chroot = slash < 0 ? '' : cs.slice(slash);
  if (chroot === '/') chroot = '';
  if (chroot && (chroot.endsWith('/') || chroot.includes('//') || chroot.includes('\0'))) {
    throw new InvalidArgumentError(`client: bad chroot ${JSON.stringify(chroot)} in connect string`, { op: 'connect' });
  }
  const hosts = list.split(',').map((part) => {
    const m = HOST_PORT.exec(part.trim());
    const port = m ? Number(m[3]) : NaN;
    if (!m || port < 1 || port > 65535)
      throw new InvalidArgumentError(`client: bad server address ${JSON.stringify(part)} in connect string (want host:port or [ipv6]:port)`, { op: 'connect' });
    return { host: (m[1] ?? m[2])!, port };
  });
  return { hosts, chroot };
}

/** Fisher–Yates, so that clients spread over the ensemble. */
export function shuffle<T>(items: readonly T[]): T[] {
  const a = [...items];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

/** Resolves one address to IPs (every attempt: DNS may have changed). IP literals skip DNS. */
export async function resolve(h: HostPort): Promise<string[]> {
  if (isIP(h.host)) return [h.host];
  const found = await lookup(h.host, { all: true });
  return found.map((a) => a.address);
}

/** Cycles through the servers in a shuffled order; `next()` says when a round is complete. */
export class HostList {
  private order: HostPort[];
  private index = -1;

  constructor(hosts: readonly HostPort[]) {
    this.order = shuffle(hosts);
  }

  /** Number of servers. */
  get size(): number {
    return this.order.length;
  }

  /** The servers, in the current order. */
  get hosts(): readonly HostPort[] {
    return this.order;
  }

  /** The next server, and whether it starts a new round (every server was tried since). */
  next(): { host: HostPort; wrapped: boolean } {
    this.index = (this.index + 1) % this.order.length;
    return { host: this.order[this.index]!, wrapped: this.index === 0 };
  }

  /**
   * Replaces the list (a new ensemble configuration), shuffled again. Returns whether `current`
   * is still a member, so the caller can move off a retired server.
   */
  replace(hosts: readonly HostPort[], current: HostPort | undefined): boolean {
    if (hosts.length === 0) return true;
    this.order = shuffle(hosts);
    this.index = -1;
    return current === undefined || hosts.some((h) => h.host === current.host && h.port === current.port);
  }
}
