/**
 * Ensemble health from ZooKeeper's `srvr` and `mntr` four-letter words: for each server of a
 * connect string, whether it answers, its mode, the round trip of the request, outstanding
 * requests, znode and watch counts and the server version. Never throws for a server that is
 * down: each server's result says what went wrong.
 *
 * The server must allow the words: `4lw.commands.whitelist=srvr,mntr` (or `*`) in `zoo.cfg`.
 * A server that refuses `mntr` still reports what `srvr` told, plus an error naming the setting.
 * @module
 */
import { InvalidArgumentError } from '../errors.js';
import { WaitScope, checkWaitOptions, type WaitOptions } from '../wait.js';
import { formatAddress, fourLetterWord, notWhitelisted, parseConnectString, type ServerAddress } from './fourlw.js';

/** What a server says it is. `unknown`: it answered but named no mode we know. */
export type ServerMode = 'leader' | 'follower' | 'standalone' | 'observer' | 'read-only' | 'unknown';

/** Health of one server. Fields the server did not report are undefined. */
export interface ServerHealth {
  /** `host:port` as in the connect string. */
  address: string;
  /** Host part. */
  host: string;
  /** Client port. */
  port: number;
  /** The server answered `srvr` (TCP connection and a reply). */
  answering: boolean;
  /** The server answers and serves clients (it has a mode; not "not currently serving requests"). */
  serving: boolean;
  /** Leader, follower, standalone, observer or read-only; undefined when not serving. */
  mode: ServerMode | undefined;
  /** Round trip of the `srvr` request (connect, ask, full reply), in ms. */
  latencyMs: number | undefined;
  /** Server version, e.g. `3.8.0-...`. */
  version: string | undefined;
  /** Requests queued in the server. */
  outstandingRequests: number | undefined;
  /** Number of znodes. */
  znodeCount: number | undefined;
  /** Number of watches (from `mntr`). */
  watchCount: number | undefined;
  /** Ephemeral nodes (from `mntr`). */
  ephemeralsCount: number | undefined;
  /** Client connections. */
  connections: number | undefined;
  /** Last zxid, hex as the server prints it (`0x1a`). */
  zxid: string | undefined;
  /** Server-side request latency min/avg/max in ms. */
  requestLatencyMs:
    | {
        /** Lowest request latency since the server's stats were reset, in ms. */
        min: number;
        /** Average request latency, in ms. */
        avg: number;
        /** Highest request latency, in ms. */
        max: number;
      }
    | undefined;
  /** Followers in sync (leader only, from `mntr`). */
  syncedFollowers: number | undefined;
  /** Problems, one sentence each (unreachable, timed out, word not whitelisted, not serving). */
  errors: string[];
}

/** Result of {@link ensembleHealth}. */
export interface EnsembleHealth {
  /** The connect string asked about. */
  connectString: string;
  /** When the check ran. */
  checkedAt: Date;
  /** One entry per server, in connect-string order. */
  servers: ServerHealth[];
  /** `host:port` of the leader (or the standalone server), if one answered. */
  leader: string | undefined;
  /** Every server answers and serves, and there is exactly one leader or standalone server. */
  healthy: boolean;
}

/** Options of {@link ensembleHealth}. */
export interface HealthOptions extends WaitOptions {
  /** How long each four-letter word may take per server (servers are asked in parallel). @default 2000 */
  timeoutMs?: number | undefined;
}

const WHITELIST_HINT = 'add it to 4lw.commands.whitelist in zoo.cfg (e.g. 4lw.commands.whitelist=srvr,mntr,cons,ruok)';

function numberOrUndefined(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const n = Number(s.trim());
  return Number.isFinite(n) ? n : undefined;
}

function toMode(s: string | undefined): ServerMode | undefined {
  if (s === undefined) return undefined;
  const m = s.trim().toLowerCase();
  if (m === 'leader' || m === 'follower' || m === 'standalone' || m === 'observer' || m === 'read-only') return m;
  return 'unknown';
}

/** Parses `srvr`'s `Key: value` lines into the result. */
function applySrvr(h: ServerHealth, reply: string): void {
  const line = (key: string) => new RegExp(`^${key}:\\s*(.*)$`, 'mi').exec(reply)?.[1];
  h.version = line('Zookeeper version')?.trim();
  const lat = /^Latency min\/avg\/max:\s*([\d.]+)\/([\d.]+)\/([\d.]+)/im.exec(reply);
  if (lat) h.requestLatencyMs = { min: Number(lat[1]), avg: Number(lat[2]), max: Number(lat[3]) };
  h.connections = numberOrUndefined(line('Connections'));
  h.outstandingRequests = numberOrUndefined(line('Outstanding'));
  h.zxid = line('Zxid')?.trim();
  h.znodeCount = numberOrUndefined(line('Node count'));
  h.mode = toMode(line('Mode'));
  h.serving = h.mode !== undefined;
  if (!h.serving) {
    h.errors.push(
      /not currently serving/i.test(reply)
        ? `${h.address}: not currently serving requests (no quorum, or still starting)`
        : `${h.address}: srvr reply has no Mode line: ${JSON.stringify(reply.slice(0, 120))}`,
    );
  }
}

/** Parses `mntr`'s tab-separated `zk_<key>\t<value>` lines into the result (mntr wins over srvr). */
function applyMntr(h: ServerHealth, reply: string): void {
  const kv = new Map<string, string>();
  for (const l of reply.split('\n')) {
    const tab = l.indexOf('\t');
    if (tab > 0) kv.set(l.slice(0, tab).trim(), l.slice(tab + 1).trim());
  }
  h.version = kv.get('zk_version') ?? h.version;
  h.mode = toMode(kv.get('zk_server_state')) ?? h.mode;
  h.outstandingRequests = numberOrUndefined(kv.get('zk_outstanding_requests')) ?? h.outstandingRequests;
  h.znodeCount = numberOrUndefined(kv.get('zk_znode_count')) ?? h.znodeCount;
  h.watchCount = numberOrUndefined(kv.get('zk_watch_count'));
  h.ephemeralsCount = numberOrUndefined(kv.get('zk_ephemerals_count'));
  h.connections = numberOrUndefined(kv.get('zk_num_alive_connections')) ?? h.connections;
  h.syncedFollowers = numberOrUndefined(kv.get('zk_synced_followers'));
}

function describeSocketError(err: unknown, address: string): string {
  const e = err as NodeJS.ErrnoException;
  if (e?.code === 'ECONNREFUSED') return `${address}: not answering (connection refused)`;
  if (e?.code === 'ENOTFOUND' || e?.code === 'EAI_AGAIN') return `${address}: not answering (host not found)`;
  if (e?.code) return `${address}: not answering (${e.code})`;
  return `${address}: not answering (${e instanceof Error ? e.message : String(err)})`;
}

/**
 * Asks one server `srvr` then `mntr`, waiting for each reply up to `timeoutMs`. Never throws;
 * failures land in `errors`.
 * @param address - the server
 * @param timeoutMs - per-word timeout
 */
export async function serverHealth(address: ServerAddress, timeoutMs = 2000): Promise<ServerHealth> {
  const addr = formatAddress(address);
  const h: ServerHealth = {
    address: addr,
    host: address.host,
    port: address.port,
    answering: false,
    serving: false,
    mode: undefined,
    latencyMs: undefined,
    version: undefined,
    outstandingRequests: undefined,
    znodeCount: undefined,
    watchCount: undefined,
    ephemeralsCount: undefined,
    connections: undefined,
    zxid: undefined,
    requestLatencyMs: undefined,
    syncedFollowers: undefined,
    errors: [],
  };
  const t0 = performance.now();
  let srvr: string;
  try {
    srvr = await fourLetterWord(address.host, address.port, 'srvr', timeoutMs);
  } catch (err) {
    h.errors.push(describeSocketError(err, addr));
    return h;
  }
  h.latencyMs = Math.round((performance.now() - t0) * 100) / 100;
  h.answering = true;
  if (notWhitelisted(srvr)) {
    h.errors.push(`${addr}: srvr is not allowed by this server; ${WHITELIST_HINT}`);
  } else {
    applySrvr(h, srvr);
  }
  let mntr: string;
  try {
    mntr = await fourLetterWord(address.host, address.port, 'mntr', timeoutMs);
  } catch (err) {
    h.errors.push(`${addr}: mntr failed after srvr answered (${(err as Error).message})`);
    return h;
  }
  if (notWhitelisted(mntr)) {
    h.errors.push(`${addr}: mntr is not allowed by this server (watch count unavailable); ${WHITELIST_HINT}`);
  } else if (/not currently serving/i.test(mntr)) {
    // srvr already said so
  } else {
    applyMntr(h, mntr);
    h.serving = h.mode !== undefined;
  }
  return h;
}

/**
 * Checks every server of a connect string, in parallel, with `srvr` and `mntr`.
 *
 * Waits at most `timeoutMs` per word per server (so about twice that in all). Never throws for a
 * server that is down or slow: it is reported with `answering: false` and an error.
 * @param connectString - `host:port[,host:port...][/chroot]` (the chroot is ignored)
 * @param options - `timeoutMs` per word (default 2000), `signal` to give up early
 * @throws InvalidArgumentError for a malformed connect string or options
 * @throws AbortedError when `signal` aborts
 */
export async function ensembleHealth(connectString: string, options: HealthOptions = {}): Promise<EnsembleHealth> {
  checkWaitOptions(options, 'health');
  const timeoutMs = options.timeoutMs ?? 2000;
  if (timeoutMs <= 0) throw new InvalidArgumentError(`health: timeoutMs must be > 0, got ${timeoutMs}`, { op: 'health' });
  const addresses = parseConnectString(connectString, 'health');
  const checkedAt = new Date();
  const work = Promise.all(addresses.map((a) => serverHealth(a, timeoutMs)));
  let servers: ServerHealth[];
  const signal = options.signal;
  if (signal) {
    const scope = new WaitScope({ signal }, 'health');
    try {
      servers = await scope.race(work);
    } finally {
      scope.dispose();
    }
  } else {
    servers = await work;
  }
  const leaders = servers.filter((s) => s.mode === 'leader' || s.mode === 'standalone');
  return {
    connectString,
    checkedAt,
    servers,
    leader: leaders[0]?.address,
    healthy: servers.every((s) => s.answering && s.serving) && leaders.length === 1,
  };
}

/** Renders an {@link EnsembleHealth} as a few lines of text for a person. */
export function formatHealth(h: EnsembleHealth): string {
  const lines: string[] = [];
  const up = h.servers.filter((s) => s.serving).length;
  lines.push(`ZooKeeper ${h.connectString}: ${h.healthy ? 'HEALTHY' : 'UNHEALTHY'} (${up}/${h.servers.length} serving, leader ${h.leader ?? 'none'})`);
  for (const s of h.servers) {
    if (!s.answering) {
      lines.push(`  ${s.address}  DOWN`);
    } else {
      const parts = [
        s.mode ?? 'not serving',
        s.latencyMs !== undefined ? `rtt ${s.latencyMs} ms` : undefined,
        s.outstandingRequests !== undefined ? `outstanding ${s.outstandingRequests}` : undefined,
        s.znodeCount !== undefined ? `znodes ${s.znodeCount}` : undefined,
        s.watchCount !== undefined ? `watches ${s.watchCount}` : undefined,
        s.connections !== undefined ? `connections ${s.connections}` : undefined,
        s.zxid !== undefined ? `zxid ${s.zxid}` : undefined,
        s.version !== undefined ? `version ${s.version.split(/[-,\s]/)[0]}` : undefined,
      ].filter(Boolean);
      lines.push(`  ${s.address}  ${parts.join(', ')}`);
    }
    for (const e of s.errors) lines.push(`    ! ${e}`);
  }
  return lines.join('\n');
}
