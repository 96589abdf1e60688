/**
 * The take path of the queue family (`take()` / `poll()` of every queue): one attempt to remove
 * the head item.
 *
 * The cursor walks the view's cached, sorted names (see ./queue-view.ts), listing them again only
 * when used up; the first name that is due and not being taken here is read and deleted in one
 * round trip. The delete decides who owns the item: NO_NODE means another taker won it, and the
 * next name is tried. So an item is delivered at most once: it is gone before the caller sees it.
 * Bytes that do not decode are moved to `<path>-poison/<name>` and reported (never dropped).
 * @internal
 * @module
 */
import { ClosedError, NoNodeError, ZkError } from '../src/errors.js';
import { joinPath } from '../src/paths.js';
import type { Ordering, PoisonInfo, QueueCore, QueueView } from './queue-view.js';

/** What one attempt got: the item, or when to look again (`Infinity`: when the children change). @internal */
export type TakeResult<T> = { got: true; item: T } | { got: false; wakeAt: number };

/**
 * Throws `ClosedError` once the queue is closed.
 * @internal
 */
export function checkQueueOpen(core: QueueCore<unknown>, op: string): void {
  if (core.isClosed) throw new ClosedError(`${op} ${core.path}: queue closed`, { op, path: core.path });
}

/**
 * One attempt: take the first available name from the cached list (listing it if used up).
 * @internal
 */
export async function takeOne<T>(core: QueueCore<T>, v: QueueView, op: string): Promise<TakeResult<T>> {
  for (;;) {
    checkQueueOpen(core, op);
    if (v.shouldRelist()) await v.relist();
    const head = nextName(v, core.ordering);
    if (head === undefined) {
      if (v.shouldRelist()) continue;
      return { got: false, wakeAt: Infinity };
    }
    if (typeof head !== 'string') return { got: false, wakeAt: head.dueAt };
    const data = await removeItem(core, v, head, op);
    if (data === undefined) continue;
    const got = await decodeItem(core, head, data);
    if (got) return got;
  }
}

/**
 * Moves the cursor to the next name to try: a name, the head's due time when it is not due yet
 * (later names are due later still), or undefined when the list is used up.
 */
function nextName(v: QueueView, ordering: Ordering): string | { dueAt: number } | undefined {
  const now = Date.now();
  while (v.pos < v.names.length) {
    const n = v.names[v.pos]!;
    const due = ordering.dueAt(n);
    if (due > now) return { dueAt: due };
    v.pos++;
    if (!v.busy.has(n) && !v.done.has(n)) return n;
  }
  return undefined;
}

/**
 * Reads and deletes `name` in one round trip; its bytes when our delete removed it. Undefined
 * when another taker won it, or when ours removed it but the read failed (a `consumerError`).
 */
async function removeItem(core: QueueCore<unknown>, v: QueueView, name: string, op: string): Promise<Buffer | undefined> {
  const itemPath = joinPath(core.path, name);
  v.busy.add(name);
  let got: PromiseSettledResult<{ data: Buffer }>;
  let removed: PromiseSettledResult<void>;
  try {
    // Read and delete in one round trip; the delete decides who owns the item.
    [got, removed] = await Promise.allSettled([core.session.get(itemPath), core.session.delete(itemPath)]);
  } finally {
    v.busy.delete(name);
  }
  if (removed.status === 'rejected') {
    if (removed.reason instanceof NoNodeError) {
      v.done.add(name);
      return undefined;
    } // another taker won it
    throw removed.reason;
  }
  v.done.add(name);
  if (got.status === 'fulfilled') return got.value.data;
  core.consumerError(
    new ZkError('UNKNOWN', `${op} ${itemPath}: item removed but its data could not be read: ${String((got.reason as Error)?.message ?? got.reason)}`, {
      op,
      path: itemPath,
      cause: got.reason,
    }),
  );
  return undefined;
}

/** Decodes a removed item; bytes that do not decode go to `<path>-poison/<name>` (a `poison` event) and undefined is returned. */
async function decodeItem<T>(core: QueueCore<T>, name: string, data: Buffer): Promise<TakeResult<T> | undefined> {
  try {
    return { got: true, item: core.codec.decode(data) };
  } catch (error) {
    const info: PoisonInfo = { name, data, error, movedTo: undefined };
    try {
      info.movedTo = await core.movePoison(name, data);
    } catch (moveError) {
      info.moveError = moveError;
    }
    core.reportPoison(info);
    return undefined;
  }
}
