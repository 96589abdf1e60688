/**
 * Long-running, at-least-once consumers of a distributed queue (`queue.consume(handler)`).
 *
 * For each item, in queue order and with up to `concurrency` items in flight, a consumer:
 * 1. creates the EPHEMERAL claim `<path>-locks/<item name>` (Curator's `lockPath/<itemNode>`);
 *    NODE_EXISTS means another consumer has it: skip it (and list the claims with the items, so
 *    it is skipped without trying next time); the read of the item goes out in the same round trip;
 * 2. decodes the item; bytes that do not decode are moved to `<path>-poison/<name>` and reported
 *    with a `poison` event;
 * 3. runs the handler; if it throws, the claim is deleted (the item stays for a retry, by anyone,
 *    after `retryDelayMs` here) and a `handlerError` event is emitted;
 * 4. on success deletes the item and the claim in one transaction (`multi`), so no moment exists
 *    in which the item is gone and its claim still blocks the name, or the claim is gone and a
 *    handled item is still there for the next consumer. An item that did not decode goes to
 *    `<path>-poison/<name>` in the same way: create the copy, delete the item and the claim, at once.
 * Finishing needs `multi`: on the native transport `consume` fails with `UnsupportedError`.
 *
 * If the consumer's process dies, its session's claims vanish and the item goes to another
 * consumer (claims are watched). The children of `<path>` are listed once and then only when the
 * cursor is exhausted and the children watch fired (for priority/delay queues: as soon as it fired).
 *
 * `suspended`: requests wait for the connection and retry; handlers keep running. `lost`: the claims
 * are gone, so another consumer may get an item that is still being handled here (a duplicate,
 * never a loss); the consumer lists again on the new session and carries on.
 * @module
 */
import { ClosedError, NoNodeError, NodeExistsError, ZkError, isRetryable } from '../src/errors.js';
import { joinPath } from '../src/paths.js';
import type { TxnOp } from '../src/session.js';
import { delay } from '../src/wait.js';
import { claimName } from './queue-buckets.js';
import { QueueView, type QueueCore } from './queue-view.js';

/** What a handler gets besides the item. */
export interface ItemContext {
  /** The item's node name, e.g. `queue-0000000042` (unique, never reused). */
  name: string;
  /** Aborts when the consumer is stopping: a handler that gives up (throws) leaves the item for a retry. */
  signal: AbortSignal;
}

/** Processes one item. Throw (or reject) to leave the item in the queue for a retry. */
export type ItemHandler<T> = (item: T, context: ItemContext) => unknown;

/** Options of `consume`. */
export interface ConsumeOptions {
  /** Items handled at once (claims, reads and deletes of several items overlap). @default 32 */
  concurrency?: number;
  /** Stops the consumer: no new items are claimed; `done` resolves once the in-flight ones end. */
  signal?: AbortSignal;
  /** After a handler failed for an item, this consumer waits this long before trying it again. @default 1000 */
  retryDelayMs?: number;
}

/** An idle consumer lists again (and re-arms its watches) after this long without any event. */
const IDLE_RELIST_MS = 3000;

/**
 * A running consumer, from `queue.consume(...)`: claims items, runs the handler, deletes each
 * item after the handler succeeded (at least once). `close()` stops it and waits for the
 * in-flight items to end; `done` settles then.
 *
 * Connection states: on `suspended` its requests wait for the connection and retry; handlers keep
 * running. On `lost` its claims are gone with the session, so another consumer may get an item
 * still being handled here (a duplicate, never a loss); it lists again on the new session and
 * carries on. When the queue or the session is closed, `done` rejects with `ClosedError`.
 */
export class QueueConsumer<T> implements AsyncDisposable {
  /**
   * Settles when the consumer has stopped and its in-flight items ended: resolves after `close()`
   * or the signal; rejects with `ClosedError` if the queue or session was closed under it.
   */
  get done(): Promise<void> {
    return this._done;
  }
  private _done: Promise<void> = Promise.resolve();
  private _processed = 0;
  private readonly view: QueueView;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly retryAt = new Map<string, number>();
  private readonly stopCtl = new AbortController();
  private readonly concurrency: number;
  private readonly retryDelayMs: number;
  private timer: NodeJS.Timeout | undefined;
  /** After a failure that is not about the item (connection, session), claim nothing until then. */
  private pausedUntil = 0;
  private pauseMs = 0;
  /** Another consumer's claim was met since the last listing: spread out over the next one. */
  private contended = false;
  /** Where the walk over the current listing starts, and the listing it is for. */
  private rotation = 0;
  private rotatedFor: readonly string[] | undefined;
  private readonly onAbort = () => this.stop();

  /** @internal use `queue.consume(handler, options)` */
  constructor(
    private readonly core: QueueCore<T>,
    private readonly handler: ItemHandler<T>,
    private readonly opts: ConsumeOptions,
  ) {
    this.concurrency = opts.concurrency ?? 32;
    this.retryDelayMs = opts.retryDelayMs ?? 1000;
    this.view = new QueueView(core as QueueCore<unknown>, true);
  }

  /** @internal called once by `queue.consume` */
  start(): this {
    const signal = this.opts.signal;
    if (signal?.aborted) this.stop();
    else signal?.addEventListener('abort', this.onAbort, { once: true });
    this._done = this.run().finally(() => signal?.removeEventListener('abort', this.onAbort));
    this._done.catch(() => undefined); // a caller that never awaits `done` gets no unhandled rejection
    return this;
  }

  /** Items handled successfully (and deleted) so far. */
  get processed(): number {
    return this._processed;
  }

  /** Items being handled right now. */
  get active(): number {
    return this.inFlight.size;
  }

  /** Stops claiming items and waits for the in-flight ones. Idempotent. */
  async close(): Promise<void> {
    this.stop();
    await this.done.catch((err) => {
      if (!(err instanceof ClosedError)) throw err;
    });
  }

  /** Same as `close()`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** @internal */
  stop(): void {
    if (this.stopCtl.signal.aborted) return;
    this.stopCtl.abort();
    clearTimeout(this.timer);
    this.view.wake();
  }

  private get stopped(): boolean {
    return this.stopCtl.signal.aborted || this.core.isClosed;
  }

  private async run(): Promise<void> {
    const v = this.view;
    let backoffMs = 50;
    try {
      while (!this.stopped) {
        if (this.inFlight.size >= this.concurrency) {
          await Promise.race([v.changed(), ...this.inFlight]);
          continue;
        }
        const retryWake = this.expireRetries();
        try {
          if (v.shouldRelist()) await v.relist();
          backoffMs = 50;
        } catch (err) {
          if (err instanceof ClosedError || this.stopped) throw err;
          this.core.consumerError(err);
          await delay(backoffMs, this.stopCtl.signal).catch(() => undefined);
          backoffMs = Math.min(backoffMs * 2, 2000);
          continue;
        }
        const picked = Date.now() < this.pausedUntil ? this.pausedUntil : this.pick();
        if (typeof picked === 'string') {
          this.launch(picked);
          continue;
        }
        if (v.shouldRelist()) continue; // it changed while we listed
        this.armTimer(Math.min(picked, retryWake));
        const idle = setTimeout(() => v.refreshIdle(), IDLE_RELIST_MS);
        try {
          await Promise.race([v.changed(), ...this.inFlight]);
        } finally {
          clearTimeout(idle);
        }
      }
    } finally {
      clearTimeout(this.timer);
      await Promise.allSettled([...this.inFlight]);
      v.detach();
    }
    if (this.core.isClosed)
      throw new ClosedError(`${this.core.recipe}.consume ${this.core.path}: queue closed`, { op: `${this.core.recipe}.consume`, path: this.core.path });
  }

  /** Ends retry delays that passed (the view is listed again for them); returns the next end. */
  private expireRetries(): number {
    const now = Date.now();
    let next = Infinity;
    for (const [name, at] of this.retryAt) {
      if (at <= now) {
        this.retryAt.delete(name);
        this.view.invalidate();
      } else next = Math.min(next, at);
    }
    return next;
  }

  /**
   * The next name to claim, or when the head becomes due (Infinity: nothing to wait for).
   * A consumer that meets another's claim jumps to a random place in the listing (a FIFO queue
   * only), wrapping round: without that, n consumers all try the same head items and each item
   * costs n claims (3 requests per item per consumer, measured). What a jump skips is in the
   * next listing.
   */
  private pick(): string | number {
    const v = this.view;
    const now = Date.now();
    const spread = this.contended && !this.core.ordering.eager && this.core.ordering.dueAt(v.names[0] ?? '') === 0;
    if (v.names !== this.rotatedFor || spread) {
      if (v.names !== this.rotatedFor) this.rotation = 0;
      this.rotatedFor = v.names;
      if (spread) this.rotation += Math.floor(Math.random() * v.names.length);
      this.contended = false;
    }
    while (v.pos < v.names.length) {
      const name = v.names[(v.pos + this.rotation) % v.names.length]!;
      const due = this.core.ordering.dueAt(name);
      if (due > now) return due; // later names are due later still
      v.pos++;
      if (v.busy.has(name) || v.done.has(name) || v.claimed.has(name) || this.retryAt.has(name)) continue;
      return name;
    }
    return Infinity;
  }

  private armTimer(at: number): void {
    clearTimeout(this.timer);
    if (at === Infinity) return;
    this.timer = setTimeout(() => this.view.wake(), Math.min(Math.max(0, at - Date.now()) + 1, 2 ** 31 - 1));
  }

  private launch(name: string): void {
    this.view.busy.add(name);
    const p: Promise<void> = this.process(name)
      .then(
        () => {
          this.pauseMs = 0;
        },
        (err) => {
          // Not about this item: pause claiming (50 ms, doubling to 2 s) instead of failing every item in turn.
          this.pauseMs = Math.min(Math.max(50, this.pauseMs * 2), 2000);
          this.pausedUntil = Date.now() + this.pauseMs;
          if (!(err instanceof ClosedError)) this.core.consumerError(err);
        },
      )
      .finally(() => {
        this.view.busy.delete(name);
        this.inFlight.delete(p);
      });
    this.inFlight.add(p);
  }

  /** Whether the claim node exists and belongs to this consumer's current session. */
  private async ownsClaim(claimPath: string): Promise<boolean> {
    const stat = await this.core.session.exists(claimPath).catch(() => null);
    return stat !== null && stat.ephemeralOwner === this.core.session.sessionId;
  }

  /** Steps 1-4 of the header for one item. A throw is not about the item (the consumer pauses). */
  private async process(name: string): Promise<void> {
    const itemPath = joinPath(this.core.path, name);
    const claimPath = joinPath(this.core.lockPath, claimName(name));
    const { claim, got } = await this.claimAndRead(itemPath, claimPath);
    if (!(await this.holdsClaim(name, claimPath, claim))) return;
    if (got.status === 'rejected') {
      await this.release(claimPath);
      if (got.reason instanceof NoNodeError) {
        this.view.done.add(name);
        this.contended = true;
        return;
      } // taken meanwhile
      this.retryLater(name);
      throw got.reason;
    }
    const data = got.value.data;
    let item: T;
    try {
      item = this.core.codec.decode(data);
    } catch (error) {
      await this.movePoison(name, itemPath, claimPath, data, error);
      return;
    }
    try {
      await this.handler(item, { name, signal: this.stopCtl.signal });
    } catch (err) {
      await this.release(claimPath);
      this.retryLater(name);
      this.core.handlerError(name, item, err);
      return;
    }
    await this.finish(itemPath, claimPath);
    this.view.done.add(name);
    this._processed++;
  }

  /** Step 1: creates the claim and reads the item in one round trip (creating `<path>-locks` if missing). */
  private async claimAndRead(
    itemPath: string,
    claimPath: string,
  ): Promise<{ claim: PromiseSettledResult<string>; got: PromiseSettledResult<{ data: Buffer }> }> {
    const { session, lockPath } = this.core;
    for (let attempt = 0; ; attempt++) {
      // Claim, then read: the server answers them in this order, so the read sees the item as it
      // is after the claim (if another consumer finished it first, the read finds no node).
      const [claim, got] = await Promise.allSettled([session.create(claimPath, session.sessionId, { mode: 'ephemeral' }), session.get(itemPath)]);
      if (claim.status === 'rejected' && claim.reason instanceof NoNodeError && attempt < 3) {
        await session.create(lockPath, undefined, { mode: 'container', createParents: true }).catch(ignoreExists);
        continue;
      }
      return { claim, got };
    }
  }

  /**
   * Whether the claim is ours. NODE_EXISTS from another consumer: skip the item (false); any
   * other failure: try it again later (throws).
   */
  private async holdsClaim(name: string, claimPath: string, claim: PromiseSettledResult<string>): Promise<boolean> {
    if (claim.status === 'fulfilled') return true;
    if (claim.reason instanceof NodeExistsError) {
      // Our own claim: an earlier create was applied but its answer was lost with the connection
      // and the retry found the node. Treating it as another consumer's would block the item for
      // as long as this session lives.
      if (await this.ownsClaim(claimPath)) return true;
      this.view.claimed.add(name);
      this.contended = true;
      return false;
    }
    this.retryLater(name);
    throw claim.reason;
  }

  /** Step 2, bytes that do not decode: moved to `<path>-poison/<name>` with the item and claim deleted, at once. */
  private async movePoison(name: string, itemPath: string, claimPath: string, data: Buffer, error: unknown): Promise<void> {
    const movedTo = joinPath(this.core.poisonPath, claimName(name));
    try {
      await this.finish(itemPath, claimPath, { op: 'create', path: movedTo, data });
    } catch (moveError) {
      await this.release(claimPath);
      this.retryLater(name); // the item stays where it is; try moving it again later
      throw moveError;
    }
    this.view.done.add(name);
    this.core.reportPoison({ name, data, error, movedTo });
  }

  /**
   * Deletes the item and its claim in one transaction, after `first` (the poison copy) when given.
   * A retry after a connection loss may meet its own applied transaction: the item is gone, which
   * is what was wanted. Only the item gone: another taker or a retry finished it; only the claim
   * gone (this session's claims vanished with it): the item is still deleted, since its handler
   * succeeded (at least once, never lost). A poison copy that exists already is not made again.
   */
  private async finish(itemPath: string, claimPath: string, first?: TxnOp): Promise<void> {
    const { session } = this.core;
    let ops: TxnOp[] = [...(first ? [first] : []), { op: 'delete', path: itemPath }, { op: 'delete', path: claimPath }];
    for (let attempt = 0; ; attempt++) {
      try {
        await session.multi(ops);
        return;
      } catch (err) {
        const at = err instanceof ZkError ? err.opIndex : undefined;
        const failed = at === undefined ? undefined : ops[at];
        if (isRetryable(err) && attempt < 8) await session.waitConnected().catch(() => undefined);
        else if (err instanceof NodeExistsError && failed === first) ops = ops.filter((o) => o !== first);
        else if (err instanceof NoNodeError && failed === first)
          await session.create(this.core.poisonPath, undefined, { mode: 'container', createParents: true }).catch(ignoreExists);
        else if (err instanceof NoNodeError && failed?.path === itemPath) return this.release(claimPath);
        else if (err instanceof NoNodeError && failed?.path === claimPath) ops = ops.filter((o) => o.path !== claimPath);
        else throw err;
        if (ops.length === 0) return;
      }
    }
  }

  private release(claimPath: string): Promise<void> {
    return this.core.session.delete(claimPath, { guaranteed: true }).catch((e) => {
      if (!(e instanceof NoNodeError)) throw e;
    });
  }

  private retryLater(name: string): void {
    this.retryAt.set(name, Date.now() + this.retryDelayMs);
    this.armTimer(Date.now() + this.retryDelayMs);
  }
}

function ignoreExists(err: unknown): void {
  if (!(err instanceof NodeExistsError)) throw err;
}
