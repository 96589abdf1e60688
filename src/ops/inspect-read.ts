/**
 * The inspector's reads: listings with the parent's stat, node views (data preview, owning
 * session, whether that session is connected), and what a listing tells about how long a holder
 * has held. Reads only; never writes.
 * @internal
 * @module
 */
import { NoNodeError } from '../errors.js';
import { joinPath } from '../paths.js';
import type { Stat, ZkSession } from '../session.js';
import { connectedSessions, normalizeSessionId, parseConnectString } from './fourlw.js';
import type { HoldTime, InspectOptions, InspectionBase, NodeView } from './inspect-types.js';

/** A node's children and its stat, read together (one `getChildren2`). */
export interface Listing {
  /** The parent's path. */
  path: string;
  /** Child names. */
  names: string[];
  /** The parent's stat at the listing. */
  stat: Stat;
}

/** Data as text, or a hex preview for binary data; cut at 200 characters. */
export function preview(data: Buffer): string {
  const text = data.toString('utf8');
  // eslint-disable-next-line no-control-regex
  const printable = !text.includes('\uFFFD') && !/[\u0000-\u0008\u000e-\u001f]/.test(text);
  const s = printable ? text : `0x${data.subarray(0, 64).toString('hex')}`;
  return s.length > 200 ? `${s.slice(0, 199)}…` : s;
}

/** A JSON object from text, or undefined. */
export function parseJson(s: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(s);
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Orders by name (code units, as the server sorts nothing: a stable order for people). */
export function byName<T extends { name: string }>(a: T, b: T): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** Reads and the shared bits of one inspection. */
export class Reader {
  private live: Set<string> | undefined | null = null; // null: not asked yet
  private allAnswered = false;
  private readonly raw = new WeakMap<NodeView, Buffer>();

  constructor(
    readonly session: ZkSession,
    private readonly opts: InspectOptions,
    readonly now = Date.now(),
  ) {}

  /** A holder older than this gets a hint. */
  get staleAfterMs(): number {
    return this.opts.staleAfterMs ?? 600_000;
  }

  /** A fresh {@link InspectionBase} for `path`. */
  base(path: string): InspectionBase {
    return { path, inspectedAt: new Date(this.now), hints: [] };
  }

  /** The children of `path` with its stat; undefined when there is no such node. */
  async list(path: string): Promise<Listing | undefined> {
    try {
      const { children, stat } = await this.session.getChildrenWithStat(path);
      return { path, names: children, stat };
    } catch (err) {
      if (err instanceof NoNodeError) return undefined;
      throw err;
    }
  }

  /** The children of `path`; undefined when there is no such node. */
  async children(path: string): Promise<string[] | undefined> {
    return (await this.list(path))?.names;
  }

  /** One node's view; undefined when it is gone (deleted since the listing). */
  async node(path: string, name: string): Promise<NodeView | undefined> {
    let r: { data: Buffer; stat: Stat };
    try {
      r = await this.session.get(path);
    } catch (err) {
      if (err instanceof NoNodeError) return undefined;
      throw err;
    }
    const v = this.view(path, name, r.stat, r.data);
    this.raw.set(v, r.data);
    return v;
  }

  /** The whole data of a view {@link Reader.node} made (not a copy of it). */
  dataOf(n: NodeView): Buffer | undefined {
    return this.raw.get(n);
  }

  /** A view from a stat and data already read. */
  view(path: string, name: string, stat: Stat, data: Buffer): NodeView {
    const owner = stat.ephemeralOwner;
    const eph = owner !== '' && !/^0+$/.test(owner);
    const createdAt = new Date(stat.ctime);
    return {
      name,
      path,
      sequence: undefined,
      sessionId: eph ? `0x${normalizeSessionId(owner)}` : undefined,
      sessionConnected: undefined,
      createdAt,
      ageMs: Math.max(0, this.now - createdAt.getTime()),
      czxid: stat.czxid,
      data: preview(data),
      dataLength: stat.dataLength,
    };
  }

  /** Reads the named children of `parent` (in parallel batches), skipping ones that vanished. */
  async nodes(parent: string, names: readonly string[]): Promise<NodeView[]> {
    const out: NodeView[] = [];
    for (let i = 0; i < names.length; i += 64) {
      const batch = await Promise.all(names.slice(i, i + 64).map((n) => this.node(joinPath(parent, n), n)));
      for (const v of batch) if (v) out.push(v);
    }
    await this.markSessions(out);
    return out;
  }

  /** Lists `path` and reads every child; undefined when there is no such node. */
  async listAndRead(path: string): Promise<{ listing: Listing; nodes: NodeView[] } | undefined> {
    const listing = await this.list(path);
    return listing && { listing, nodes: await this.nodes(path, listing.names) };
  }

  private async markSessions(nodes: NodeView[]): Promise<void> {
    if (this.opts.checkSessions === false || !nodes.some((n) => n.sessionId)) return;
    if (this.live === null) {
      const addrs = parseConnectString(this.session.connectString, 'inspect');
      const sets = await Promise.all(addrs.map((a) => connectedSessions(a, 2000)));
      this.allAnswered = sets.every((s) => s !== undefined);
      const ids = sets.filter((s): s is Set<string> => s !== undefined);
      this.live = ids.length ? new Set(ids.flatMap((s) => [...s])) : undefined;
    }
    const live = this.live;
    for (const n of nodes) {
      if (!n.sessionId || !live) continue;
      const found = live.has(normalizeSessionId(n.sessionId));
      n.sessionConnected = found ? true : this.allAnswered ? false : undefined;
    }
  }
}

/**
 * How long `holder` has held, from the listing its line was read from. The parent's `pzxid` is
 * the zxid of its latest child create or delete. If it is the holder's own `czxid`, no node has
 * left since the holder's was made: nothing was ahead of it then, so it held from its creation.
 * If it is the `czxid` of a later node, every deletion (the hand-over to the holder among them)
 * came before that node's creation: the hold began no later than that. Otherwise the latest
 * change was a deletion after everyone now in line was made, and a deletion keeps no time.
 * `nodes` must be every child of the listing, read after it; when one vanished meanwhile, the
 * line changed under the inspection and nothing is claimed.
 */
export function holdTime(listing: Listing, nodes: readonly NodeView[], holder: NodeView, now: number): HoldTime {
  const maxMs = holder.ageMs;
  const unknown: HoldTime = { known: 'unknown', notAfter: undefined, minMs: undefined, maxMs };
  if (nodes.length !== listing.names.length) return unknown;
  const pzxid = listing.stat.pzxid;
  if (holder.czxid === pzxid) return { known: 'exact', notAfter: holder.createdAt, minMs: maxMs, maxMs };
  const later = nodes.find((n) => n.czxid === pzxid && n.czxid > holder.czxid);
  if (!later) return unknown;
  return { known: 'bounded', notAfter: later.createdAt, minMs: Math.max(0, Math.min(maxMs, now - later.createdAt.getTime())), maxMs };
}
