/**
 * Distributed delay queue (Curator's `DistributedDelayQueue`): an item is not delivered before
 * its due time; due items come out earliest-due first.
 *
 * Znode layout: as `DistributedQueue` (see `recipes/queue.ts`), with the due time in the name
 * exactly as Curator writes it:
 * ```
 * <path>/queue-|<due>|<seq10>
 *   <due>  epoch milliseconds in upper-case hex, at least 8 digits (Curator's `%08X`)
 *   e.g. queue-|18F3A2B4C10|0000000003
 * ```
 * A name without `|…|` counts as due at once (as in Curator). `take` and consumers that find the
 * head not yet due set a timer for it (and still watch the children, since a new item may be due
 * sooner). Due times are compared with this machine's clock.
 * Connection handling: as `DistributedQueue`.
 * @module
 */
import { InvalidArgumentError } from '../src/errors.js';
import type { ZkSession } from '../src/session.js';
import { QueueBase, type QueueOptions } from './queue.js';
import { SEQUENCE_DIGITS } from './layout.js';
import { ITEM_PREFIX, type Ordering } from './queue-view.js';

/** What encloses an item's due time in its name: `queue-|<due hex>|<seq>` (Curator's `SEPARATOR`). */
export const DUE_SEPARATOR = '|';

/** The epoch ms encoded in a name, or 0 (Curator's `getEpoch`). @internal */
export function dueOf(name: string): number {
  const end = name.lastIndexOf(DUE_SEPARATOR);
  const start = end > 0 ? name.lastIndexOf(DUE_SEPARATOR, end - 1) : -1;
  if (start <= 0 || end <= start + 1) return 0;
  const v = Number.parseInt(name.slice(start + 1, end), 16);
  return Number.isFinite(v) ? v : 0;
}

/** Earliest due first, then by sequence; due at {@link dueOf}. @internal */
export const delayOrdering: Ordering = {
  compare(a, b) {
    const d = dueOf(a) - dueOf(b);
    if (d !== 0) return d;
    const sa = a.slice(-SEQUENCE_DIGITS);
    const sb = b.slice(-SEQUENCE_DIGITS);
    return sa < sb ? -1 : sa > sb ? 1 : 0;
  },
  dueAt: dueOf,
  eager: true,
};

/**
 * A queue whose items become visible at a due time. `take` waits until an item is due (a timer
 * for the head, and a children watch for a new item that may be due sooner); due times are
 * compared with this machine's clock.
 *
 * Connection states: as every queue's (see {@link QueueBase}).
 *
 * ```ts
 * const q = new DistributedDelayQueue<Job>(session, '/later');
 * await q.put(job, Date.now() + 60_000);   // or a Date
 * await q.take();                           // waits until it is due
 * ```
 */
export class DistributedDelayQueue<T = unknown> extends QueueBase<T> {
  /**
   * @param session - the session to use (the queue never closes it)
   * @param path - the queue's node (not `/`, not under `/zookeeper`)
   * @param options - codec
   * @throws InvalidPathError, InvalidArgumentError
   */
  constructor(session: ZkSession, path: string, options?: QueueOptions<T>) {
    super('delay-queue', session, path, options, delayOrdering);
  }

  /**
   * Adds one item, due at `dueAt` (epoch ms or a Date; a past time means at once). Resolves with its path.
   * @throws InvalidArgumentError for a bad time or an item the codec refuses (nothing written)
   */
  async put(item: T, dueAt: number | Date): Promise<string> {
    const d = this.checkDue('delay-queue.put', dueAt);
    return (await this.putEncoded('delay-queue.put', [item], () => d))[0]!;
  }

  /**
   * Adds several items with one due time; encoded first, then every create goes out at once.
   * @throws InvalidArgumentError (nothing written), ZkError of the first failed create
   */
  async putMany(items: readonly T[], dueAt: number | Date): Promise<string[]> {
    const op = 'delay-queue.putMany';
    if (!Array.isArray(items)) throw new InvalidArgumentError(`${op} ${this.path}: items must be an array`, { op, path: this.path });
    const d = this.checkDue(op, dueAt);
    return this.putEncoded(op, items, () => d);
  }

  private checkDue(op: string, dueAt: number | Date): string {
    const ms = dueAt instanceof Date ? dueAt.getTime() : dueAt;
    if (typeof ms !== 'number' || !Number.isInteger(ms) || ms <= 0 || ms > 8.64e15) {
      throw new InvalidArgumentError(`${op} ${this.path}: dueAt must be a positive integer epoch ms or a valid Date, got ${String(dueAt)}`, {
        op,
        path: this.path,
      });
    }
    return `${ITEM_PREFIX}${DUE_SEPARATOR}${ms.toString(16).toUpperCase().padStart(8, '0')}${DUE_SEPARATOR}`;
  }
}
