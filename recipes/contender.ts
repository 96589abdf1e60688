/**
 * The contender core shared by Lock, ReadWriteLock, Semaphore and LeaderSelector (and the
 * algorithm LeaderLatch follows): ZooKeeper's lock recipe, written out once.
 *
 * Layout (Curator's, so Java and Node contenders share one path):
 * ```
 * <path>/                                    container (created on demand, reaped when empty)
 *   _c_<uuid>-<marker><seq:10 digits>        ephemeral-sequential, one per contender
 * ```
 * Algorithm:
 * 1. Create a protected ephemeral-sequential node (after a connection loss the `_c_<uuid>-`
 *    prefix finds our node instead of creating a second one, CURATOR-45).
 * 2. List the children *with the parent's stat*, order them by the sequence suffix after the
 *    marker (the random prefix must not affect order), and ask the predicate whether we hold.
 * 3. If not, watch only the node the predicate names (our predecessor) with `get`, not
 *    `exists`, so no watch is left behind on a node that is already gone; when it goes, re-check.
 *    A release therefore wakes exactly one waiter: no thundering herd.
 * 4. On timeout, abort or error our node is removed with a guaranteed delete. One scope covers
 *    the whole call, the create included: a timeout during a create that waits for the connection
 *    ends the call at once, and the node that create makes later is deleted when it lands.
 *
 * A create that lost its connection may still be applied later (a paused leader commits it after
 * the retry already made a node): a second node with our `_c_<uuid>-` prefix is ours, made by the
 * same call, and would otherwise wait in the queue forever (or, ahead of us, make us wait on
 * ourselves — Curator has this hole). Every listing drops such a node from the order and deletes it.
 *
 * Fencing token: the parent's `pzxid` read in the listing that confirmed ownership. It is the
 * zxid of the latest child create/delete under the path, so it exceeds any token an earlier holder
 * saw (that holder's node was deleted, with a larger zxid, before we could hold), also when the
 * container was reaped and recreated (sequence numbers restart, zxids never do). No extra round
 * trip: the listing is needed anyway.
 * @module
 */
import type { ZkSession } from '../src/session.js';
import { ClosedError, NoNodeError, SessionExpiredError } from '../src/errors.js';
import { joinPath, nodeName } from '../src/paths.js';
import { WaitScope, type WaitOptions } from '../src/wait.js';
import { createWithin, untilDeleted, type WaitContext } from './waits.js';
import { protectedPrefix } from './layout.js';

/** A contender's node as seen in a listing. */
export interface ContenderEntry {
  /** Node name (no path). */
  name: string;
  /** The marker it carries (`lock-`, `__READ__`, ...). */
  marker: string;
  /** Sequence number parsed from the suffix after the marker. */
  seq: number;
}

/** What the predicate decides for our node. */
export type HoldDecision = { hold: true } | { hold: false; watch: string };

/** Decides, from the ordered contenders and our index, whether we hold or whom to watch. */
export type HoldPredicate = (ordered: readonly ContenderEntry[], ourIndex: number) => HoldDecision;

/** The first `n` contenders hold; the others watch the one `n` places ahead (Curator's driver). */
export function firstN(n: number): HoldPredicate {
  return (ordered, i) => (i < n ? { hold: true } : { hold: false, watch: ordered[i - n]!.name });
}

/**
 * Parses a child name into its marker and sequence, or undefined for a foreign node.
 * The sequence is the suffix after the *last* occurrence of a marker.
 */
export function parseEntry(name: string, markers: readonly string[]): ContenderEntry | undefined {
  for (const marker of markers) {
    const at = name.lastIndexOf(marker);
    if (at < 0) continue;
    const suffix = name.slice(at + marker.length);
    if (suffix.length === 0 || !/^-?\d+$/.test(suffix)) continue;
    return { name, marker, seq: Number(suffix) };
  }
  return undefined;
}

/** Orders child names by sequence suffix, dropping names that carry none of the markers. */
export function orderBySequence(children: readonly string[], markers: readonly string[]): ContenderEntry[] {
  const out: ContenderEntry[] = [];
  for (const c of children) {
    const e = parseEntry(c, markers);
    if (e) out.push(e);
  }
  return out.sort((a, b) => a.seq - b.seq);
}

/**
 * Orders the children and takes out our own strays: other nodes with the protected prefix of
 * `ourName` (see the module docs). `onStray` gets each one's name, to delete it.
 */
export function orderWithoutStrays(
  children: readonly string[],
  markers: readonly string[],
  ourName: string,
  onStray: (name: string) => void,
): ContenderEntry[] {
  const ordered = orderBySequence(children, markers);
  const prefix = protectedPrefix(ourName);
  if (!prefix) return ordered;
  return ordered.filter((e) => {
    if (e.name === ourName || !e.name.startsWith(prefix)) return true;
    onStray(e.name);
    return false;
  });
}

/** Counters of one contender, for herd checks and benchmarks. */
export interface ContenderStats {
  /** Times a watch woke a wait and the children were listed again. */
  wakeups: number;
}

/** Result of entering: our node and the fencing token of the listing that confirmed we hold. */
export interface Held {
  /** Full path of our node. */
  path: string;
  /** Strictly increasing across successive holders of the path (see module docs). */
  fencingToken: bigint;
}

/** What one contender is: who creates which node where, and which rule says it holds. */
export interface ContenderOptions {
  /** The session that owns the node. */
  session: ZkSession;
  /** The recipe's parent path (validated by the caller). */
  path: string;
  /** This contender's marker, e.g. `lock-`: the server appends the sequence. */
  marker: string;
  /** Every marker that takes part in the ordering (e.g. both read-write-lock markers). */
  markers: readonly string[];
  /** Who holds. */
  predicate: HoldPredicate;
  /** Counters to update. @default fresh counters */
  stats?: ContenderStats;
  /** Recipe name for errors and op names. @default 'lock' */
  recipe?: string;
}

/**
 * One attempt to hold a place under `path`. Create one per acquire.
 */
export class Contender {
  /** Our node's path once created. */
  nodePath: string | undefined;
  private readonly session: ZkSession;
  private readonly stats: ContenderStats;
  private readonly ctx: WaitContext;

  /** @param o - see {@link ContenderOptions} */
  constructor(private readonly o: ContenderOptions) {
    this.session = o.session;
    this.stats = o.stats ?? { wakeups: 0 };
    const recipe = o.recipe ?? 'lock';
    this.ctx = { recipe, op: `${recipe}.acquire`, path: o.path };
  }

  /**
   * Creates our node and waits until the predicate says we hold, all under one scope: `wait`
   * bounds the whole call, the create and its retries included. On timeout, abort or error our
   * node is deleted (guaranteed; a create still in flight is cleaned up when it lands) before the
   * error is thrown.
   * @param data - our node's data
   * @param wait - `{ signal, timeoutMs }`
   * @param once - check once and return null (leaving no node) instead of waiting
   */
  async acquire(data: Buffer | string, wait: WaitOptions | undefined, once = false): Promise<Held | null> {
    const scope = new WaitScope(wait, this.ctx.op, this.o.path);
    try {
      scope.throwIfAborted();
      this.nodePath = await createWithin(this.session, scope, joinPath(this.o.path, this.o.marker), data, {
        mode: 'ephemeral_sequential',
        protected: true,
        createParents: true,
      });
      const held = await this.waitToHold(this.nodePath, scope, once);
      if (!held) await this.remove();
      return held;
    } catch (err) {
      await this.remove(err);
      throw err;
    } finally {
      scope.dispose();
    }
  }

  /**
   * Waits until `ours` (a node already made) holds, within `scope`; with `once`, looks once and
   * returns null instead of waiting. {@link Contender.acquire} is this after its create.
   * @internal
   */
  async waitToHold(ours: string, scope: WaitScope, once: boolean): Promise<Held | null> {
    const ourName = nodeName(ours);
    const sessionAtStart = this.session.sessionId;
    for (;;) {
      scope.throwIfAborted();
      const step = await this.check(ourName, ours, scope, sessionAtStart);
      if (step.hold) return { path: ours, fencingToken: step.token };
      if (once) return null;
      await untilDeleted(this.session, joinPath(this.o.path, step.watch), scope, this.ctx, sessionAtStart);
      this.stats.wakeups++;
    }
  }

  /**
   * One look at the children: do we hold, or whom do we watch? A separate step so that a waiter
   * keeps only the name it watches, not the whole listing, while it waits (1000 waiters on one
   * path would otherwise hold 1000 copies of a 1000-name listing).
   */
  private async check(
    ourName: string,
    ours: string,
    scope: WaitScope,
    sessionAtStart: string,
  ): Promise<{ hold: true; token: bigint } | { hold: false; watch: string }> {
    const { children, stat } = await scope.race(this.session.getChildrenWithStat(this.o.path));
    const ordered = orderWithoutStrays(children, this.o.markers, ourName, (stray) => this.dropStray(stray));
    const i = ordered.findIndex((e) => e.name === ourName);
    if (i < 0) {
      const { recipe, op } = this.ctx;
      throw this.session.sessionId !== sessionAtStart
        ? new SessionExpiredError(`${recipe}: session was lost while waiting on ${this.o.path}; our node is gone`, { op, path: ours })
        : new NoNodeError(`${recipe}: our node ${ours} disappeared while waiting`, { op, path: ours });
    }
    const decision = this.o.predicate(ordered, i);
    return decision.hold ? { hold: true, token: BigInt(stat.pzxid) } : { hold: false, watch: decision.watch };
  }

  private dropStray(name: string): void {
    this.session.delete(joinPath(this.o.path, name), { guaranteed: true }).catch(() => undefined); // gone already: fine
  }

  /**
   * Deletes our node (guaranteed: retried in the background through connection loss). Called
   * with the failure that made us give up, a cleanup failure is left to the session's log so the
   * original error stays the one the caller sees.
   */
  async remove(cause?: unknown): Promise<void> {
    const p = this.nodePath;
    if (!p) return;
    this.nodePath = undefined;
    try {
      await this.session.delete(p, { guaranteed: true });
    } catch (err) {
      // Gone already, or the session is closed (its ephemeral nodes went with it).
      if (err instanceof NoNodeError || err instanceof ClosedError || cause !== undefined) return;
      throw err;
    }
  }
}
