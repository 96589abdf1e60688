/**
 * Distributed priority queue (Curator's `DistributedPriorityQueue`): lower numbers come out first,
 * equal priorities in put order.
 *
 * Znode layout: as `DistributedQueue` (see `recipes/queue.ts`), with the priority encoded in the
 * item's name exactly as Curator does, so names sort by priority, then by sequence:
 * ```
 * <path>/queue-<p><hex8><seq10>
 *   <p>    '1' for priority >= 0, '0' for a negative one (negatives sort first)
 *   <hex8> the 32-bit two's-complement priority in 8 upper-case hex digits
 *   e.g. priority 5 → queue-1000000050000000003, priority -1 → queue-0FFFFFFFF0000000004
 * ```
 * Consumers and takers list the children again as soon as they change (a new item can sort before
 * the ones already listed), so a busy priority queue costs more listings than a FIFO queue.
 * Connection handling: as `DistributedQueue`.
 * @module
 */
import { InvalidArgumentError } from '../src/errors.js';
import type { ZkSession } from '../src/session.js';
import { QueueBase, type QueueOptions } from './queue.js';
import { SEQUENCE_DIGITS } from './layout.js';
import { ITEM_PREFIX, fifoOrdering, type Ordering } from './queue-view.js';

const priorityOrdering: Ordering = { ...fifoOrdering, eager: true };

/**
 * Encodes a priority the way Curator's `priorityToString` does.
 * @internal
 */
export function priorityToString(priority: number): string {
  return (priority >= 0 ? '1' : '0') + (priority >>> 0).toString(16).toUpperCase().padStart(8, '0');
}

const PRIORITY_NAME = new RegExp(`^${ITEM_PREFIX}[01]([0-9A-F]{8})\\d{${SEQUENCE_DIGITS}}$`);

/**
 * The priority a priority queue's item name carries (see the layout above), or undefined for a
 * name of another queue. Give it the name without its put marker (`itemSortName`).
 * @internal
 */
export function priorityOf(sortName: string): number | undefined {
  const m = PRIORITY_NAME.exec(sortName);
  return m ? Number.parseInt(m[1]!, 16) | 0 : undefined;
}

/**
 * A queue whose items come out by priority (lowest first), then in put order. `take` waits until
 * an item is available; a new item with a lower priority is seen as soon as it is put.
 *
 * Connection states: as every queue's (see {@link QueueBase}).
 *
 * ```ts
 * const q = new DistributedPriorityQueue<Job>(session, '/jobs');
 * await q.put(urgent, -10);
 * await q.put(routine, 5);
 * await q.take(); // urgent
 * ```
 */
export class DistributedPriorityQueue<T = unknown> extends QueueBase<T> {
  /**
   * @param session - the session to use (the queue never closes it)
   * @param path - the queue's node (not `/`, not under `/zookeeper`)
   * @param options - codec
   * @throws InvalidPathError, InvalidArgumentError
   */
  constructor(session: ZkSession, path: string, options?: QueueOptions<T>) {
    super('priority-queue', session, path, options, priorityOrdering);
  }

  /**
   * Adds one item with a priority (a 32-bit integer; lower comes out first). Resolves with its path.
   * @throws InvalidArgumentError for a bad priority or an item the codec refuses (nothing written)
   */
  async put(item: T, priority: number): Promise<string> {
    const p = this.checkPriority('priority-queue.put', priority);
    return (await this.putEncoded('priority-queue.put', [item], () => ITEM_PREFIX + p))[0]!;
  }

  /**
   * Adds several items with one priority; encoded first, then every create goes out at once.
   * @throws InvalidArgumentError (nothing written), ZkError of the first failed create
   */
  async putMany(items: readonly T[], priority: number): Promise<string[]> {
    const op = 'priority-queue.putMany';
    if (!Array.isArray(items)) throw new InvalidArgumentError(`${op} ${this.path}: items must be an array`, { op, path: this.path });
    const p = this.checkPriority(op, priority);
    return this.putEncoded(op, items, () => ITEM_PREFIX + p);
  }

  private checkPriority(op: string, priority: number): string {
    if (!Number.isInteger(priority) || priority < -(2 ** 31) || priority >= 2 ** 31) {
      throw new InvalidArgumentError(`${op} ${this.path}: priority must be a 32-bit integer, got ${String(priority)}`, { op, path: this.path });
    }
    return priorityToString(priority);
  }
}
