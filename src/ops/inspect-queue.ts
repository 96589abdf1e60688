/**
 * The inspector's view of the queue family (recipes/queue.ts and its priority and delay
 * variants): depth, the head item as a taker would get it, claims in flight, poisoned items.
 * Item names are read by the queue's own definitions: the `queue-` prefix, the protected put's
 * marker (ignored for ordering, as the queue ignores it), a priority queue's priority and a delay
 * queue's due time, and the `-locks` / `-poison` siblings.
 * @internal
 * @module
 */
import { DUE_SEPARATOR, delayOrdering, dueOf } from '../../recipes/delay-queue.js';
import { priorityOf } from '../../recipes/priority-queue.js';
import { CLAIMS_SUFFIX, ITEM_PREFIX, POISON_SUFFIX, PUT_MARKER, fifoOrdering, itemSortName, sortItems } from '../../recipes/queue-view.js';
import { SEQUENCE_DIGITS } from '../../recipes/layout.js';
import { BUCKET_PREFIX } from '../../recipes/queue-buckets.js';
import { joinPath } from '../paths.js';
import { formatAge } from './format.js';
import type { Reader } from './inspect-read.js';
import type { Inspection, InspectionBase, QueueInspection, QueueItemView } from './inspect-types.js';

const BUCKET_NAME = new RegExp(`^${BUCKET_PREFIX}\\d{${SEQUENCE_DIGITS}}$`);

/** Whether a listing holds queue items, or the buckets of a bucketed queue. */
export function isQueue(names: readonly string[]): boolean {
  return names.some((n) => n.startsWith(ITEM_PREFIX)) || (names.length > 0 && names.every((n) => BUCKET_NAME.test(n)));
}

/** A bucketed queue's items as `<bucket>/<item>` names: every bucket's (one listing each), the head's bucket first. */
async function bucketedItems(r: Reader, path: string, buckets: readonly string[]): Promise<string[]> {
  const lists = await Promise.all(
    [...buckets].sort().map(async (b) => ((await r.children(joinPath(path, b))) ?? []).filter((n) => n.startsWith(ITEM_PREFIX)).map((n) => `${b}/${n}`)),
  );
  return lists.flat();
}

/** Which queue wrote these items: due times or priorities in the names, else FIFO. */
function flavourOf(sortNames: readonly string[]): QueueInspection['flavour'] {
  if (sortNames.some((n) => n.startsWith(ITEM_PREFIX + DUE_SEPARATOR) && dueOf(n) > 0)) return 'delay';
  if (sortNames.length > 0 && sortNames.every((n) => priorityOf(n) !== undefined)) return 'priority';
  return 'fifo';
}

function queueHints(path: string, head: QueueItemView | undefined, claims: string[] | undefined, poison: string[] | undefined, r: Reader): string[] {
  const hints: string[] = [];
  const due = head?.dueAt ? Math.max(head.createdAt.getTime(), head.dueAt.getTime()) : head?.createdAt.getTime();
  const waited = due === undefined ? 0 : r.now - due;
  if (head && waited > r.staleAfterMs) {
    hints.push(
      `the head item ${head.name} has waited ${formatAge(waited)}${head.dueAt ? ' since it was due' : ''}: are consumers running${claims?.length ? ` (${claims.length} claimed, in flight)` : ''}?`,
    );
  }
  if (poison?.length)
    hints.push(
      `${poison.length} item(s) could not be decoded and were moved to ${path}${POISON_SUFFIX}: look at them, fix the producer, then delete or re-queue them.`,
    );
  return hints;
}

/** A queue at `base.path` whose children are `names`. */
export async function queueInspection(r: Reader, base: InspectionBase, names: readonly string[]): Promise<Inspection> {
  const path = base.path;
  const buckets = names.filter((n) => BUCKET_NAME.test(n));
  const items =
    buckets.length > 0 && !names.some((n) => n.startsWith(ITEM_PREFIX))
      ? await bucketedItems(r, path, buckets)
      : names.filter((n) => n.startsWith(ITEM_PREFIX));
  const flavour = flavourOf(items.map(itemSortName));
  const sorted = sortItems(items, flavour === 'delay' ? delayOrdering : fifoOrdering);
  const first = sorted[0];
  const read = first === undefined ? undefined : await r.node(`${path === '/' ? '' : path}/${first}`, first);
  const sortName = first === undefined ? '' : itemSortName(first);
  const head: QueueItemView | undefined = read && {
    ...read,
    protectedPut: PUT_MARKER.test(read.name),
    priority: flavour === 'priority' ? priorityOf(sortName) : undefined,
    dueAt: flavour === 'delay' && dueOf(sortName) > 0 ? new Date(dueOf(sortName)) : undefined,
  };
  const [claims, poison] = path === '/' ? [] : await Promise.all([r.children(path + CLAIMS_SUFFIX), r.children(path + POISON_SUFFIX)]);
  const protectedItems = items.filter((n) => PUT_MARKER.test(n)).length;
  const hints = queueHints(path, head, claims, poison, r);
  const layout = buckets.length > 0 ? { buckets: buckets.length } : {};
  return { ...base, kind: 'queue', flavour, depth: items.length, protectedItems, head, inFlight: claims?.length, poisoned: poison?.length, hints, ...layout };
}
