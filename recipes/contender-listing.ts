/**
 * Shared looks: the contenders of one session on one path that look at the same moment share one
 * listing (getChildren2) and its order.
 *
 * Why a shared listing is as good as each contender's own: it is sent after every contender that
 * joined it asked, and ZooKeeper serves one session's requests in order, so it is served after
 * everything that session did before the ask: the create whose reply the contender had (or the
 * delete whose watch event woke it) is in it. It shows what the contender's own listing, sent at
 * that moment, would show.
 *
 * The listing goes out in a microtask after the first ask, so the contenders whose create replies
 * came in the same socket read join it: 10 000 waiters queueing at once make a few hundred
 * listings (each of up to 10 000 names) instead of 10 000, and sort each once. A contender that
 * looks alone (a waiter woken by its predecessor's delete) orders the listing itself, as before.
 * @internal
 * @module
 */
import type { Stat, ZkSession } from '../src/session.js';
import { orderBySequence, orderWithoutStrays, type ContenderEntry, type HoldPredicate } from './contender-order.js';
import { protectedPrefix } from './layout.js';

/** What one look says: we hold (the listing's `pzxid` is the fencing token), or whom we watch. */
export type Look = { hold: true; token: bigint } | { hold: false; watch: string };

/** Where our node is in a listing's order. */
interface Place {
  /** The contenders in sequence order, without our own strays. */
  ordered: readonly ContenderEntry[];
  /** Our index in `ordered`, or -1 when our node is not there. */
  index: number;
}

/** One listing of a contender path, and the order its lookers derive from it, made once. */
export class Listing {
  private order: ContenderEntry[] | undefined;
  private orderMarkers: readonly string[] | undefined;
  private index: Map<string, number> | undefined;
  private prefixes: Map<string, number> | undefined;

  /**
   * @param children - the child names listed
   * @param stat - the parent's stat, read with them
   * @param lookers - how many contenders share the listing
   */
  constructor(
    readonly children: readonly string[],
    readonly stat: Stat,
    readonly lookers: number,
  ) {}

  /** What the predicate says for `ourName`; undefined when our node is not in the listing. */
  look(ourName: string, markers: readonly string[], predicate: HoldPredicate, onStray: (name: string) => void): Look | undefined {
    const { ordered, index } = this.place(ourName, markers, onStray);
    if (index < 0) return undefined;
    const decision = predicate(ordered, index);
    return decision.hold ? { hold: true, token: BigInt(this.stat.pzxid) } : { hold: false, watch: decision.watch };
  }

  /** Our place: the shared order when nothing of ours is a stray, else an order of our own. */
  private place(ourName: string, markers: readonly string[], onStray: (name: string) => void): Place {
    if (this.lookers === 1 || this.hasStray(ourName)) {
      const ordered = orderWithoutStrays(this.children, markers, ourName, onStray);
      return { ordered, index: ordered.findIndex((e) => e.name === ourName) };
    }
    if (this.order === undefined || this.orderMarkers !== markers) {
      this.order = orderBySequence(this.children, markers);
      this.orderMarkers = markers;
      this.index = new Map(this.order.map((e, i) => [e.name, i]));
    }
    return { ordered: this.order, index: this.index!.get(ourName) ?? -1 };
  }

  /** Whether another child carries the protected prefix of `ourName` (a stray of our create). */
  private hasStray(ourName: string): boolean {
    const prefix = protectedPrefix(ourName);
    if (!prefix) return false;
    if (!this.prefixes) {
      this.prefixes = new Map();
      for (const c of this.children) {
        const p = protectedPrefix(c);
        if (p) this.prefixes.set(p, (this.prefixes.get(p) ?? 0) + 1);
      }
    }
    return (this.prefixes.get(prefix) ?? 0) > 1;
  }
}

/** A listing asked for and not sent yet: who asks now joins it. */
interface Open {
  promise: Promise<Listing>;
  lookers: number;
}

const open = new WeakMap<ZkSession, Map<string, Open>>();

/**
 * The children of `path` with its stat, from a listing sent after this call (shared with the
 * other contenders of `session` that ask before it goes out). Not cancellable: a contender that
 * gives up stops waiting for it, and the others still need it (a read left to finish is harmless).
 */
export function listContenders(session: ZkSession, path: string): Promise<Listing> {
  let byPath = open.get(session);
  if (!byPath) {
    byPath = new Map();
    open.set(session, byPath);
  }
  const joined = byPath.get(path);
  if (joined) {
    joined.lookers++;
    return joined.promise;
  }
  const asks = byPath;
  const o = { lookers: 1 } as Open;
  o.promise = Promise.resolve().then(() => {
    asks.delete(path); // sent now: who asks from here on needs a later listing
    return session.getChildrenWithStat(path).then(({ children, stat }) => new Listing(children, stat, o.lookers));
  });
  byPath.set(path, o);
  return o.promise;
}
