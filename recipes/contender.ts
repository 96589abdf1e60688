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
 * 4. On timeout, abort or error our node is removed with a guaranteed delete.
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
import { WaitScope, deferred, type WaitOptions } from '../src/wait.js';

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
export function orderWithoutStrays(children: readonly string[], markers: readonly string[], ourName: string, onStray: (name: string) => void): ContenderEntry[] {
  const ordered = orderBySequence(children, markers);
  const prefix = /^_c_[0-9a-f-]{36}-/.exec(ourName)?.[0];
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

/**
 * One attempt to hold a place under `path`. Create one per acquire.
 */
export class Contender {
  /** Our node's path once created. */
  nodePath: string | undefined;

  /**
   * @param session - the session that owns the node
   * @param path - the recipe's parent path (validated by the caller)
   * @param marker - this contender's marker, e.g. `lock-`
   * @param markers - every marker that takes part in the ordering (e.g. both RW-lock markers)
   * @param predicate - who holds
   * @param stats - counters to update
   */
  constructor(
    private readonly session: ZkSession,
    private readonly path: string,
    private readonly marker: string,
    private readonly markers: readonly string[],
    private readonly predicate: HoldPredicate,
    private readonly stats: ContenderStats = { wakeups: 0 },
    private readonly recipe = 'lock',
  ) {}

  /** Creates our protected ephemeral-sequential node (parents as containers). */
  async create(data: Buffer | string): Promise<string> {
    this.nodePath = await this.session.create(joinPath(this.path, this.marker), data, {
      mode: 'ephemeral_sequential', protected: true, createParents: true,
    });
    return this.nodePath;
  }

  /**
   * Waits until the predicate says we hold. Our node must exist (`create` first).
   * On timeout, abort or error our node is deleted (guaranteed) before the error is thrown.
   * @param wait - `{ signal, timeoutMs }`
   * @param once - check once and return null instead of waiting
   */
  async waitToHold(wait: WaitOptions | undefined, once = false): Promise<Held | null> {
    const ours = this.nodePath!;
    const ourName = nodeName(ours);
    const scope = new WaitScope(wait, `${this.recipe}.acquire`, this.path);
    const sessionAtStart = this.session.sessionId;
    try {
      for (;;) {
        scope.throwIfAborted();
        const step = await this.check(ourName, ours, scope, sessionAtStart);
        if (step.hold) return { path: ours, fencingToken: step.token };
        if (once) { await this.remove(); return null; }
        await this.waitForDelete(joinPath(this.path, step.watch), scope, sessionAtStart);
        this.stats.wakeups++;
      }
    } catch (err) {
      await this.remove(err);
      throw err;
    } finally {
      scope.dispose();
    }
  }

  /**
   * One look at the children: do we hold, or whom do we watch? A separate step so that a waiter
   * keeps only the name it watches, not the whole listing, while it waits (1000 waiters on one
   * path would otherwise hold 1000 copies of a 1000-name listing).
   */
  private async check(ourName: string, ours: string, scope: WaitScope, sessionAtStart: string): Promise<{ hold: true; token: bigint } | { hold: false; watch: string }> {
    const { children, stat } = await scope.race(this.session.getChildrenWithStat(this.path));
    const ordered = orderWithoutStrays(children, this.markers, ourName, (stray) => this.dropStray(stray));
    const i = ordered.findIndex((e) => e.name === ourName);
    if (i < 0) {
      throw this.session.sessionId !== sessionAtStart
        ? new SessionExpiredError(`${this.recipe}: session was lost while waiting on ${this.path}; our node is gone`, { op: `${this.recipe}.acquire`, path: ours })
        : new NoNodeError(`${this.recipe}: our node ${ours} disappeared while waiting`, { op: `${this.recipe}.acquire`, path: ours });
    }
    const decision = this.predicate(ordered, i);
    return decision.hold ? { hold: true, token: BigInt(stat.pzxid) } : { hold: false, watch: decision.watch };
  }

  private dropStray(name: string): void {
    this.session.delete(joinPath(this.path, name), { guaranteed: true }).catch(() => undefined); // gone already: fine
  }

  /** Waits until `target` is deleted (or is already gone), the scope fires, or the session is lost. */
  private async waitForDelete(target: string, scope: WaitScope, sessionAtStart: string): Promise<void> {
    const gone = deferred<void>();
    gone.promise.catch(() => undefined); // may reject while `get` is in flight, before anyone awaits it
    const onLost = () => gone.reject(new SessionExpiredError(`${this.recipe}: session lost while waiting on ${this.path}`, { op: `${this.recipe}.acquire`, path: this.path }));
    const onClosed = () => gone.reject(new ClosedError(`${this.recipe}: session closed while waiting on ${this.path}`, { op: `${this.recipe}.acquire`, path: this.path }));
    this.session.on('lost', onLost);
    this.session.on('closed', onClosed);
    try {
      try {
        // get, not exists: on a node already gone, exists would leave a watch behind.
        await this.session.get(target, { watch: () => gone.resolve() });
      } catch (err) {
        if (err instanceof NoNodeError) return;
        throw err;
      }
      if (this.session.sessionId !== sessionAtStart) return; // re-check: the listing will tell
      await scope.race(gone.promise);
    } finally {
      this.session.off('lost', onLost);
      this.session.off('closed', onClosed);
    }
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
