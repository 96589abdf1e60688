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
 *    The contenders of one session on one path that look at the same moment share one listing
 *    sent after all of them asked, which shows each what its own would (./contender-listing.ts):
 *    a queue of N waiters costs a few listings, not N listings of up to N names.
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
 *
 * Waiting cheaply (10 000 waiters on one lock cost about 1.2 KB each, the caller's promise
 * included): a parked waiter is a small record ({@link Contender}), not a chain of suspended async
 * functions, and it holds no `AbortController`, no timer (deadlines share one), no listener on the
 * session and no watch closure of its own.
 * @module
 */
import type { ZkSession } from '../src/session.js';
import { ClosedError, IllegalStateError, NoNodeError, SessionExpiredError } from '../src/errors.js';
import { joinPath, nodeName } from '../src/paths.js';
import { WaitScope, type WaitOptions } from '../src/wait.js';
import { createWithin, park, unpark, unwatchNode, watchNode, type Ending, type NodeWaiter, type WaitContext } from './waits.js';
import type { ContenderEntry, HoldDecision, HoldPredicate } from './contender-order.js';
import { listContenders, type Look } from './contender-listing.js';

export { firstN, orderBySequence, orderWithoutStrays, parseEntry } from './contender-order.js';
export type { ContenderEntry, HoldDecision, HoldPredicate };

/** Counters of one contender, for herd checks and benchmarks. */
export interface ContenderStats {
  /** Times the children were listed again after the first look (a watch woke the wait, or the watched node was gone already). */
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
  /** Counters to update. @default none kept */
  stats?: ContenderStats;
  /** Recipe name for errors and op names. @default 'lock' */
  recipe?: string;
}

/** Makes what an acquire resolves with from the node that holds (a lease, for a lock). */
export type Grant<T> = (held: Held, contender: Contender) => T;

const contexts = new WeakMap<ContenderOptions, WaitContext>();

/** The error context of a recipe's contenders: one object per options object, not per acquire. */
function contextOf(o: ContenderOptions): WaitContext {
  let ctx = contexts.get(o);
  if (!ctx) {
    const recipe = o.recipe ?? 'lock';
    ctx = { recipe, op: `${recipe}.acquire`, path: o.path };
    contexts.set(o, ctx);
  }
  return ctx;
}

/** Where a wait is: creating our node, looking (listing, arming the watch), parked on the watch, settled. */
type Phase = 'creating' | 'looking' | 'parked' | 'done';

/**
 * One attempt to hold a place under `path`. Create one per acquire (its options object can be
 * shared by every attempt of a recipe).
 *
 * A parked waiter is this object, its caller's promise, its scope (a slot in the deadline heap
 * with `timeoutMs`, a listener on the caller's signal with a `signal`), one entry in the session's
 * node waits ({@link watchNode}) and one in its parked waits ({@link park}): no async frame, no
 * listener of its own on the session, no `AbortController` is held while it waits. Each look
 * (list, arm the watch) is a short async step, started again by the watch.
 */
export class Contender implements Ending, NodeWaiter {
  /** Our node's path once created. */
  nodePath: string | undefined;
  /** What errors name. @internal */
  readonly ctx: WaitContext;
  private readonly o: ContenderOptions;
  private phase: Phase = 'creating';
  private ours = '';
  private scope: WaitScope | undefined;
  /** acquire(): the scope and the node are ours to dispose / delete when the wait ends. */
  private owned = false;
  private once = false;
  private grant: Grant<unknown> | undefined;
  private resolve: ((v: unknown) => void) | undefined;
  private reject: ((e: unknown) => void) | undefined;
  /** Called by the scope when it fires (made only for a scope that can fire). */
  private hook: ((reason: Error) => void) | undefined;
  private sessionAtStart = '';
  /** The node whose watch we wait for (armed or parked). */
  private watching: string | undefined;
  /** The watch fired while the read that set it was still on its way. */
  private woken = false;
  /** Ends the read arming the watch when the wait ends meanwhile (only for a scope that can fire). */
  private stepCtl: AbortController | undefined;

  /** @param o - see {@link ContenderOptions} */
  constructor(o: ContenderOptions) {
    this.o = o;
    this.ctx = contextOf(o);
  }

  /** `lost` ends a wait for our node: the node went with the session. @internal */
  get onLost(): boolean {
    return true;
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
  acquire(data: Buffer | string, wait: WaitOptions | undefined, once = false): Promise<Held | null> {
    return this.enter(data, wait, once, undefined);
  }

  /**
   * {@link Contender.acquire}, resolving with `grant(held, this)` instead of `held` (so a lock's
   * lease needs no promise of its own chained behind the wait).
   * @internal
   */
  enter<T = Held>(data: Buffer | string, wait: WaitOptions | undefined, once: boolean, grant: Grant<T> | undefined): Promise<T | null> {
    const p = this.begin<T>(new WaitScope(wait, this.ctx.op, this.o.path), once, true, grant);
    void this.create(data);
    return p;
  }

  /**
   * Waits until `ours` (a node already made) holds, within `scope`; with `once`, looks once and
   * returns null instead of waiting. {@link Contender.acquire} is this after its create; here the
   * caller keeps the scope and the node (nothing is deleted on failure).
   * @internal
   */
  waitToHold(ours: string, scope: WaitScope, once: boolean): Promise<Held | null> {
    const p = this.begin<Held>(scope, once, false, undefined);
    this.look(ours);
    return p;
  }

  private begin<T>(scope: WaitScope, once: boolean, owned: boolean, grant: Grant<T> | undefined): Promise<T | null> {
    if (this.scope) return Promise.reject(new IllegalStateError(`${this.ctx.op}: a contender waits once`, { op: this.ctx.op, path: this.o.path }));
    this.scope = scope;
    this.once = once;
    this.owned = owned;
    this.grant = grant;
    const p = new Promise<T | null>((resolve, reject) => {
      this.resolve = resolve as (v: unknown) => void;
      this.reject = reject;
    });
    if (scope.bound) {
      this.hook = (reason) => this.abandon(reason);
      scope.onFire(this.hook);
    }
    return p;
  }

  private async create(data: Buffer | string): Promise<void> {
    const scope = this.scope!;
    try {
      scope.throwIfAborted();
      this.nodePath = await createWithin(this.o.session, scope, joinPath(this.o.path, this.o.marker), data, {
        mode: 'ephemeral_sequential',
        protected: true,
        createParents: true,
      });
    } catch (err) {
      return this.end(err); // a create the scope ended was cleaned up by createWithin
    }
    this.look(this.nodePath);
  }

  /** After the create: park on the session (its loss ends the wait) and take the first look. */
  private look(ours: string): void {
    this.ours = ours;
    this.sessionAtStart = this.o.session.sessionId;
    this.phase = 'looking';
    park(this.o.session, this);
    void this.step();
  }

  /** Looks until we hold, or the watch is armed (parked: the watch's {@link Contender.wake} goes on). */
  private async step(): Promise<void> {
    try {
      for (;;) {
        this.scope!.throwIfAborted();
        const step = await this.check(nodeName(this.ours));
        if (step === undefined) return; // the wait ended meanwhile
        if (step.hold) return this.hold(step.token);
        if (this.once) return this.hold(null);
        if (await this.arm(joinPath(this.o.path, step.watch))) return;
        if (this.o.stats) this.o.stats.wakeups++;
      }
    } catch (err) {
      this.end(err);
    }
  }

  /**
   * Arms the watch on `target` with `get` (not `exists`: no watch is left on a node already
   * gone). Returns true when parked (or the wait ended meanwhile), false to look again now: the
   * node was gone, the watch fired already, or the session changed (its watch went with it).
   */
  private async arm(target: string): Promise<boolean> {
    const session = this.o.session;
    this.watching = target;
    this.woken = false;
    const watch = watchNode(session, target, this); // before the read: the event can follow its reply at once
    this.stepCtl = this.hook ? new AbortController() : undefined; // none is kept while parked
    try {
      await session.get(target, { watch, signal: this.stepCtl?.signal });
    } catch (err) {
      this.unwatch();
      if (this.phase === 'done') return true;
      if (err instanceof NoNodeError) return false;
      throw err;
    }
    if (this.phase === 'done') return true;
    if (this.woken || session.sessionId !== this.sessionAtStart) {
      this.unwatch();
      return false;
    }
    this.phase = 'parked';
    this.stepCtl = undefined;
    return true;
  }

  private unwatch(): void {
    if (this.watching !== undefined) unwatchNode(this.o.session, this.watching, this);
    this.watching = undefined;
  }

  /** The watched node changed or went: look again. @internal */
  wake(): void {
    this.watching = undefined; // the event took us off the node's waiters
    if (this.phase !== 'parked') {
      this.woken = true; // the step arming the watch looks again when its read returns
      return;
    }
    this.phase = 'looking';
    if (this.o.stats) this.o.stats.wakeups++;
    void this.step();
  }

  /** The session was lost or closed while we waited. @internal */
  fail(err: Error): void {
    this.stepCtl?.abort(err);
    this.end(err);
  }

  /** The scope fired (timeout, abort). During the create, createWithin ends the call once the create is dealt with. */
  private abandon(reason: Error): void {
    if (this.phase === 'creating') return;
    this.stepCtl?.abort(reason);
    this.end(reason);
  }

  /**
   * One look at the children: do we hold, or whom do we watch? A separate step so that a waiter
   * keeps only the name it watches, not the whole listing, while it waits (1000 waiters on one
   * path would otherwise hold 1000 copies of a 1000-name listing). Undefined: the wait ended.
   */
  private async check(ourName: string): Promise<Look | undefined> {
    const listing = await listContenders(this.o.session, this.o.path);
    if (this.phase === 'done') return undefined;
    const look = listing.look(ourName, this.o.markers, this.o.predicate, (stray) => this.dropStray(stray));
    if (look) return look;
    const { recipe, op } = this.ctx;
    throw this.o.session.sessionId !== this.sessionAtStart
      ? new SessionExpiredError(`${recipe}: session was lost while waiting on ${this.o.path}; our node is gone`, { op, path: this.ours })
      : new NoNodeError(`${recipe}: our node ${this.ours} disappeared while waiting`, { op, path: this.ours });
  }

  /** We hold (`token`), or with `once` do not (null): settle the call. */
  private hold(token: bigint | null): void {
    this.settle();
    const resolve = this.resolve!;
    const reject = this.reject!;
    if (token === null) {
      if (this.owned) this.remove().then(() => resolve(null), reject);
      else resolve(null);
      return;
    }
    const held: Held = { path: this.ours, fencingToken: token };
    try {
      resolve(this.grant ? this.grant(held, this) : held);
    } catch (err) {
      this.fault(err);
    }
  }

  /** The wait failed: our node is deleted first (acquire), then the call rejects with `err`. */
  private end(err: unknown): void {
    if (this.phase === 'done') return;
    this.settle();
    this.fault(err);
  }

  private fault(err: unknown): void {
    const rejectWith = () => this.reject!(err);
    if (this.owned) this.remove(err).then(rejectWith, rejectWith);
    else rejectWith();
  }

  /** Nothing of the wait stays registered: not on the session, the node waits or the scope. */
  private settle(): void {
    const was = this.phase;
    this.phase = 'done';
    if (was !== 'creating') unpark(this.o.session, this);
    this.unwatch();
    this.stepCtl = undefined;
    const scope = this.scope!;
    if (this.hook) scope.offFire(this.hook);
    if (this.owned) scope.dispose();
  }

  private dropStray(name: string): void {
    this.o.session.delete(joinPath(this.o.path, name), { guaranteed: true }).catch(() => undefined); // gone already: fine
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
      await this.o.session.delete(p, { guaranteed: true });
    } catch (err) {
      // Gone already, or the session is closed (its ephemeral nodes went with it).
      if (err instanceof NoNodeError || err instanceof ClosedError || cause !== undefined) return;
      throw err;
    }
  }
}
