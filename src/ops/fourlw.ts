/**
 * ZooKeeper's four-letter words (`srvr`, `mntr`, `cons`, `ruok`, ...) over a plain TCP socket, and
 * connect-string parsing. Used by {@link ensembleHealth} and the inspector; the test kit reuses it.
 * @module
 */
import { connect } from 'node:net';
import { InvalidArgumentError } from '../errors.js';

/** One `host:port` of a connect string. */
export interface ServerAddress {
  /** Host name or IP (IPv6 without brackets). */
  host: string;
  /** Client port. */
  port: number;
}

/**
 * Splits a connect string (`host:port[,host:port...][/chroot]`) into addresses. A missing port
 * means 2181; IPv6 hosts are written in brackets (`[::1]:2181`).
 * @throws InvalidArgumentError naming the bad entry
 */
export function parseConnectString(connectString: string, op = 'health'): ServerAddress[] {
  if (typeof connectString !== 'string' || connectString.trim() === '') {
    throw new InvalidArgumentError(`${op}: connect string must be a non-empty "host:port[,host:port...]", got ${JSON.stringify(connectString)}`, { op });
  }
  const slash = connectString.indexOf('/');
  const hosts = slash >= 0 ? connectString.slice(0, slash) : connectString;
  return hosts.split(',').map((entry) => {
    const e = entry.trim();
    const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(e) ?? /^([^:\s[\]]+)(?::(\d+))?$/.exec(e);
    const port = m ? Number(m[2] ?? 2181) : NaN;
    if (!m || !Number.isInteger(port) || port < 1 || port > 65535) {
      throw new InvalidArgumentError(`${op}: bad server ${JSON.stringify(e)} in connect string ${JSON.stringify(connectString)} (want host:port)`, { op });
    }
    return { host: m[1]!, port };
  });
}

/** Formats an address as `host:port` (`[v6]:port` for IPv6). */
export function formatAddress(a: ServerAddress): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

/**
 * Sends a four-letter word and resolves with the whole reply: `''` when the server closes at once
 * (some versions do so for a word that is not in `4lw.commands.whitelist`).
 * @param timeoutMs - how long to wait for the reply to end
 * @throws Error (the socket's, e.g. `ECONNREFUSED`) when the connection fails, or one saying no
 * answer came within `timeoutMs`
 */
export function fourLetterWord(host: string, port: number, word: string, timeoutMs = 2000): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host, port });
    const chunks: Buffer[] = [];
    let failed = false;
    const timer = setTimeout(() => {
      failed = true;
      sock.destroy();
      reject(new Error(`${word} to ${formatAddress({ host, port })}: no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    sock.on('connect', () => sock.end(word));
    sock.on('data', (d: Buffer) => chunks.push(d));
    sock.on('error', (e) => {
      failed = true;
      clearTimeout(timer);
      reject(e);
    });
    sock.on('close', () => {
      clearTimeout(timer);
      if (!failed) resolve(Buffer.concat(chunks).toString('utf8'));
    });
  });
}

/** True when a reply says the word is not in the server's `4lw.commands.whitelist`. */
export function notWhitelisted(reply: string): boolean {
  return reply.trim() === '' || /not in the whitelist/i.test(reply);
}

/**
 * The session ids (hex, lower case, no `0x`, no leading zeros) connected to a server, from `cons`.
 * Undefined when the server does not answer or `cons` is not whitelisted.
 */
export async function connectedSessions(address: ServerAddress, timeoutMs = 2000): Promise<Set<string> | undefined> {
  let reply: string;
  try {
    reply = await fourLetterWord(address.host, address.port, 'cons', timeoutMs);
  } catch {
    return undefined;
  }
  if (notWhitelisted(reply)) return undefined;
  const ids = new Set<string>();
  for (const m of reply.matchAll(/sid=0x([0-9a-f]+)/gi)) ids.add(normalizeSessionId(m[1]!));
  return ids;
}

/** A session id in one canonical form: hex, lower case, without `0x` or leading zeros. */
export function normalizeSessionId(id: string): string {
  const s = id
    .toLowerCase()
    .replace(/^0x/, '')
    .replace(/^0+(?=.)/, '');
  return s;
}
