/**
 * Distributed queue (Curator's `DistributedQueue` / `SimpleDistributedQueue`, kazoo's `Queue`).
 *
 * Znode layout (names as Curator's, so either library can read the other's items):
 * ```
 * <path>                          PERSISTENT, created on the first put. Not a container: a
 *                                 reaped and recreated parent restarts sequence numbers, and a
 *                                 consumer finishing late would delete a new item that reused
 *                                 the name of the one it handled (items are deleted by name).
 *   queue-_c_<uuid>-0000000000    one PERSISTENT_SEQUENTIAL node per item; data = codec bytes.
 *   queue-0000000001              The `_c_<uuid>-` marker of a protected put (the default) lets a
 *                                 put retried after a connection loss find its item; ordering
 *                                 ignores it (priority queue: queue-<priority>…, delay queue:
 *                                 queue-|<due>|…; Curator's unmarked names sort among ours)
 * <path>-locks                    container: claims of consumers (never among the items)
 *   queue-0000000000              EPHEMERAL: a consumer is handling this item
 * <path>-poison                   container: items whose bytes did not decode, moved aside
 *   queue-0000000007              PERSISTENT, the original bytes
 * ```
 * With `bucketSize`, the FIFO queue keeps its items in buckets instead
 * (`<path>/bucket-<seq>/queue-…`, see recipes/queue-buckets.ts), so that no listing grows with the
 * backlog: Curator's consumers cannot read that layout.
 *
 * Item data is whatever the codec makes (JSON by default). To share a path with Curator's
 * `DistributedQueue` (with its `lockPath` set to `<path>-locks`; test/interop.test.ts checks both
 * directions and both consuming at once against Curator 5.4.0), use `curatorCodec(inner)`, which
 * adds Curator's item framing.
 *
 * Items are delivered in name order. Two ways to get them:
 * - `take()` / `poll()`: removes the head and returns it (at most once: the item is deleted before
 *   the caller sees it). The read and the delete of the head go out together; the sorted list of
 *   names is cached and listed again only when used up. A delete that finds no node means another
 *   taker won it: the next name is tried (recipes/queue-take.ts).
 * - `consume(handler)`: at least once, with claims (see `recipes/queue-consumer.ts`).
 * Mixing `take` and `consume` on one queue is allowed, but `take` ignores claims: an item a
 * consumer is handling may also be taken (delivered twice).
 *
 * Connection: `suspended` — calls wait for the connection and retry (a put retried after a
 * connection loss finds its own item first, so it is written once; a take may then return an item
 * another taker also got). `lost` — waits continue on the new session; consumers' claims are gone (see there).
 * @module
 */
import { EventEmitter } from 'eventemitter3';
import { InvalidArgumentError, NoNodeError, NodeExistsError, UnsupportedError } from '../src/errors.js';
import { joinPath } from '../src/paths.js';
import type { ZkSession } from '../src/session.js';
import { WaitScope, checkWaitOptions, type WaitOptions } from '../src/wait.js';
import { checkCodec, encodeAll, jsonCodec, type Codec } from './codec.js';
import { checkOptions, checkRecipeArgs } from './options.js';
import { claimName } from './queue-buckets.js';
import { QueuePuts } from './queue-put.js';
import { QueueConsumer, type ConsumeOptions, type ItemHandler } from './queue-consumer.js';
import { checkQueueOpen, takeOne, type TakeResult } from './queue-take.js';
import { CLAIMS_SUFFIX, ITEM_PREFIX, POISON_SUFFIX, QueueView, fifoOrdering, type Ordering, type PoisonInfo, type QueueCore } from './queue-view.js';

/** Options of the queue constructors. */
export interface QueueOptions<T> {
  /** How items become bytes. @default JSON (`jsonCodec`) */
  codec?: Codec<T>;
  /**
   * Protected puts: each item's name carries a `_c_<uuid>-` marker before its sequence number, so
   * that a put retried after a connection loss finds its own item instead of writing it twice.
   * Curator's consumers take such items too, but order them by the whole name (the marker's uuid)
   * rather than by sequence: set `false` where Curator consumers must see FIFO order (a put retried
   * after a connection loss may then be written twice, as Curator's own put is). @default true
   */
  protectedPuts?: boolean;
}

/** Options of {@link DistributedQueue}. */
export interface DistributedQueueOptions<T> extends QueueOptions<T> {
  /**
   * Hold the items in buckets of about this many (an integer in 16..100000): the layout for
   * backlogs beyond what one listing carries (Curator's flat layout tops out near 10 000 items;
   * bucketed, puts and takes cost the same at a million). The layout is
   * `<path>/bucket-<seq>/queue-…` (see recipes/queue-buckets.ts), which Curator's consumers
   * cannot read; every producer and consumer of a queue must use the same layout. A taker (or a
   * consumer alone) gets each producer's items in order. @default undefined (Curator's flat layout)
   */
  bucketSize?: number;
}

/** Typed events of every queue. */
export interface QueueEvents<T> {
  /** An item's bytes did not decode; they were moved to `<path>-poison/<name>` (never dropped). */
  poison: [info: PoisonInfo];
  /** A consumer's handler threw; the item stays in the queue for a retry. */
  handlerError: [
    info: {
      /** The item's node name under the queue's path. */
      name: string;
      /** The decoded item. */
      item: T;
      /** What the handler threw. */
      error: unknown;
    },
  ];
  /** A consumer or take met an unexpected failure (it carries on after a pause). */
  consumerError: [error: unknown];
}

/**
 * What every queue of the family does: take, poll, size, consume, close. `take` waits (on a
 * children watch, never by polling) until an item is available; `poll` does not wait.
 *
 * Connection states ({@link ConnectionState}): on `suspended` calls wait for the connection and
 * retry (a put retried after a connection loss finds its own item first, so it is written once; a
 * take may then return an item another taker also got); a waiting `take` keeps waiting. On `lost`
 * waits and consumers go on with the new session (consumers' claims are gone: see
 * {@link QueueConsumer}). After `close()`, or when the session is closed, pending takes fail with
 * `ClosedError`.
 */
export abstract class QueueBase<T> extends EventEmitter<QueueEvents<T>> implements AsyncDisposable {
  /** The items' parent node. */
  readonly path: string;
  /** Where consumers' claims live: `<path>-locks`. */
  readonly lockPath: string;
  /** Where undecodable items are moved: `<path>-poison`. */
  readonly poisonPath: string;
  /** @internal */
  protected readonly core: QueueCore<T>;
  private view: QueueView | undefined;
  private readonly consumers = new Set<QueueConsumer<T>>();
  private closed = false;
  private readonly puts: QueuePuts;

  /**
   * @param recipe - the recipe name errors and op names start with (`queue`, `priority-queue`, ...)
   * @param session - the session that owns the queue's nodes
   * @param path - the items' parent node
   * @param options - see {@link QueueOptions}
   * @param ordering - how item names sort and when an item is due
   * @param bucketSize - the bucketed layout's bucket size (checked by the caller); undefined: flat
   * @internal
   */
  protected constructor(
    protected readonly recipe: string,
    protected readonly session: ZkSession,
    path: string,
    options: QueueOptions<T> | undefined,
    ordering: Ordering,
    bucketSize?: number,
  ) {
    super();
    checkRecipeArgs(recipe, session, path);
    // Only the FIFO queue has a bucketed layout (a priority or delay order needs one sorted listing).
    checkOptions(recipe, options, recipe === 'queue' ? ['codec', 'protectedPuts', 'bucketSize'] : ['codec', 'protectedPuts']);
    if (options?.protectedPuts !== undefined && typeof options.protectedPuts !== 'boolean') {
      throw new InvalidArgumentError(`${recipe} ${path}: option protectedPuts must be a boolean`, { op: recipe, path });
    }
    const codec = options?.codec === undefined ? (jsonCodec as Codec<T>) : checkCodec<T>(recipe, options.codec);
    this.path = path;
    this.puts = new QueuePuts(session, path, options?.protectedPuts ?? true, bucketSize);
    this.lockPath = path + CLAIMS_SUFFIX;
    this.poisonPath = path + POISON_SUFFIX;
    const self = this;
    this.core = {
      recipe,
      session,
      path,
      lockPath: this.lockPath,
      poisonPath: this.poisonPath,
      codec,
      ordering,
      bucketSize,
      get isClosed() {
        return self.closed;
      },
      movePoison: (name, data) => this.movePoison(name, data),
      reportPoison: (info) => {
        this.emit('poison', info);
      },
      handlerError: (name, item, error) => {
        this.emit('handlerError', { name, item, error });
      },
      consumerError: (error) => {
        this.emit('consumerError', error);
      },
    };
  }

  /**
   * Removes the head item and returns it, waiting while the queue is empty (or, for a delay
   * queue, until the head is due). Waits on a children watch, never by polling.
   * An abort or timeout ends the wait and leaves the queue as it was; an item whose delete already
   * went out is returned even if the signal fired meanwhile (it is never dropped).
   * @throws TimeoutError, AbortedError, ClosedError
   */
  async take(options?: WaitOptions): Promise<T> {
    const op = `${this.recipe}.take`;
    checkWaitOptions(options, op);
    this.checkOpen(op);
    const scope = new WaitScope(options, op, this.path);
    try {
      for (;;) {
        scope.throwIfAborted();
        const r: TakeResult<T> = await takeOne(this.core, this.takeView(), op);
        if (r.got) return r.item;
        const view = this.takeView();
        if (view.shouldRelist()) continue;
        let timer: NodeJS.Timeout | undefined;
        const wake =
          r.wakeAt === Infinity
            ? view.changed()
            : Promise.race([
                view.changed(),
                new Promise<void>((res) => {
                  timer = setTimeout(res, Math.min(Math.max(0, r.wakeAt - Date.now()) + 1, 2 ** 31 - 1));
                }),
              ]);
        try {
          await scope.race(wake);
        } finally {
          clearTimeout(timer);
        }
        this.checkOpen(op);
      }
    } finally {
      scope.dispose();
    }
  }

  /**
   * Removes the head item and returns it, or returns undefined at once when none is available.
   * @throws ClosedError
   */
  async poll(): Promise<T | undefined> {
    const op = `${this.recipe}.poll`;
    this.checkOpen(op);
    const r = await takeOne(this.core, this.takeView(), op);
    return r.got ? r.item : undefined;
  }

  /** Number of items in the queue (for a delay queue, due or not). One listing; waits for the reply. */
  async size(): Promise<number> {
    this.checkOpen(`${this.recipe}.size`);
    try {
      if (this.core.bucketSize) return await this.puts.bucketedSize();
      return (await this.session.getChildren(this.path)).filter((c) => c.startsWith(ITEM_PREFIX)).length;
    } catch (err) {
      if (err instanceof NoNodeError) return 0;
      throw err;
    }
  }

  /**
   * Starts a long-running, at-least-once consumer: `handler` runs for each item (up to
   * `concurrency` at once); the item is deleted only after the handler succeeded. Stop it with
   * `options.signal`, `consumer.close()`, `await using`, or `queue.close()`.
   * @throws InvalidArgumentError for a bad handler or option; ClosedError; UnsupportedError on
   * the native transport (finishing an item is a transaction)
   */
  consume(handler: ItemHandler<T>, options: ConsumeOptions = {}): QueueConsumer<T> {
    const op = `${this.recipe}.consume`;
    if (typeof handler !== 'function') throw new InvalidArgumentError(`${op} ${this.path}: handler must be a function`, { op, path: this.path });
    checkOptions(op, options, ['concurrency', 'signal', 'retryDelayMs']);
    const { concurrency, signal, retryDelayMs } = options;
    if (concurrency !== undefined && (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 10_000)) {
      throw new InvalidArgumentError(`${op} ${this.path}: option concurrency must be an integer in 1..10000, got ${String(concurrency)}`, {
        op,
        path: this.path,
      });
    }
    if (retryDelayMs !== undefined && (typeof retryDelayMs !== 'number' || !Number.isFinite(retryDelayMs) || retryDelayMs < 0)) {
      throw new InvalidArgumentError(`${op} ${this.path}: option retryDelayMs must be a finite number >= 0, got ${String(retryDelayMs)}`, {
        op,
        path: this.path,
      });
    }
    checkWaitOptions({ signal }, op);
    this.checkOpen(op);
    if (this.session.transport === 'native') {
      throw new UnsupportedError(`${op} ${this.path}: consumers finish each item with a transaction (multi), which the native transport lacks`, {
        op,
        path: this.path,
      });
    }
    const c = new QueueConsumer<T>(this.core, handler, options).start();
    this.consumers.add(c);
    void c.done.catch(() => undefined).finally(() => this.consumers.delete(c));
    return c;
  }

  /** Stops every consumer (waiting for their in-flight items) and fails pending takes with `ClosedError`. Idempotent; the session stays open. */
  async close(): Promise<void> {
    this.closed = true;
    this.view?.detach();
    await Promise.all([...this.consumers].map((c) => c.close()));
  }

  /** Same as `close()`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /**
   * Encodes every item first (a codec failure writes nothing), then issues all the creates at once.
   * @internal
   */
  protected async putEncoded(op: string, items: readonly T[], prefix: (i: number) => string): Promise<string[]> {
    this.checkOpen(op);
    const datas = encodeAll(this.core.codec, items, op, this.path);
    return this.puts.write(datas, prefix);
  }

  private async movePoison(name: string, data: Buffer): Promise<string> {
    const target = joinPath(this.poisonPath, claimName(name));
    try {
      return await this.session.create(target, data, { createParents: true });
    } catch (err) {
      if (err instanceof NodeExistsError) return target;
      throw err;
    }
  }

  private takeView(): QueueView {
    this.view ??= new QueueView(this.core as QueueCore<unknown>, false);
    return this.view;
  }

  private checkOpen(op: string): void {
    checkQueueOpen(this.core, op);
  }
}

function checkBucketSize(path: string, v: unknown): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 16 || v > 100_000) {
    throw new InvalidArgumentError(`queue ${path}: option bucketSize must be an integer in 16..100000, got ${String(v)}`, { op: 'queue', path });
  }
  return v;
}

/**
 * A FIFO queue of items of type `T` under `path` (Curator `DistributedQueue` layout). Construction
 * only validates; nothing is written until the first put.
 *
 * Connection states: as every queue's (see {@link QueueBase}).
 *
 * ```ts
 * const q = new DistributedQueue<Job>(session, '/jobs');
 * await q.put({ id: 1 });
 * const job = await q.take({ timeoutMs: 5000 });
 * await using consumer = q.consume(async (job) => run(job), { concurrency: 8 });
 * ```
 */
export class DistributedQueue<T = unknown> extends QueueBase<T> {
  /**
   * @param session - the session to use (the queue never closes it)
   * @param path - the queue's node, e.g. `/app/jobs` (not `/`, not under `/zookeeper`)
   * @param options - codec, protectedPuts, bucketSize
   * @throws InvalidPathError, InvalidArgumentError
   */
  constructor(session: ZkSession, path: string, options?: DistributedQueueOptions<T>) {
    super('queue', session, path, options, fifoOrdering, checkBucketSize(path, options?.bucketSize));
  }

  /**
   * Adds one item (one create). Resolves with the item's path.
   * @throws InvalidArgumentError if the codec cannot encode it (nothing is written); ClosedError
   */
  async put(item: T): Promise<string> {
    return (await this.putEncoded('queue.put', [item], () => ITEM_PREFIX))[0]!;
  }

  /**
   * Adds several items: all are encoded first (one failure writes none), then every create goes
   * out at once; they get consecutive positions in array order unless other puts interleave.
   * Not atomic: if a create fails, the ones before it may be written. Resolves with the paths.
   * @throws InvalidArgumentError (nothing written), ZkError of the first failed create
   */
  async putMany(items: readonly T[]): Promise<string[]> {
    if (!Array.isArray(items)) throw new InvalidArgumentError(`queue.putMany ${this.path}: items must be an array`, { op: 'queue.putMany', path: this.path });
    return this.putEncoded('queue.putMany', items, () => ITEM_PREFIX);
  }
}
