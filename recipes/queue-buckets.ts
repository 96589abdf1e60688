/**
 * The bucketed layout of a FIFO queue (`new DistributedQueue(s, path, { bucketSize })`): for
 * backlogs far beyond what one listing can carry. Curator's flat layout puts every item under
 * `<path>`, and a listing of 100 000 items is about 6 MB, past the protocol's 1 MB frame (Curator's
 * own tracker puts its DistributedQueue's limit near 10 000 items). Here no listing is unbounded:
 *
 * ```
 * <path>                                      PERSISTENT
 *   bucket-0000000000                         PERSISTENT_SEQUENTIAL, made by a producer
 *     queue-_c_<uuid>-0000000000              the items, as in the flat layout
 *   bucket-0000000001
 *     ...
 * <path>-locks/bucket-0000000000.queue-...    consumers' claims ('/' of the item's name as '.')
 * <path>-poison/bucket-0000000000.queue-...   undecodable items, moved aside
 * ```
 * Producers put into the newest bucket they know. The server's sequence of an item is the
 * bucket's child-change count, so a put whose sequence reaches `bucketSize` tells its producer
 * the bucket is full: the next put looks for a newer bucket and, if there is none, creates one
 * (two producers doing so at once make two buckets; both are used). A bucket holds at most
 * `bucketSize` plus the puts in flight when it filled (a batch goes out in slices of at most
 * `bucketSize / 4`).
 *
 * Consumers read the oldest bucket that has items: one listing of `<path>` (the buckets: a
 * thousand names for a million items at the default size), then one of that bucket. An empty
 * bucket that is not the newest is deleted on the way — producers have moved past it — and a
 * NOT_EMPTY answer (a late put landed) means it is read again, so nothing is skipped. A producer
 * whose bucket was deleted under it gets NO_NODE and puts into the newest one instead.
 *
 * Order: a taker, or a consumer alone, gets each producer's items in its order (a producer's
 * buckets only grow, and a bucket is left only once empty); between producers, as in the flat
 * layout, in the order the server applied the puts, bucket by bucket. Several consumers spread
 * over a listing (./queue-consumer.ts) and keep no order among themselves. Curator's consumers cannot read this layout (Curator's QueueSharder is a different
 * one: random shards, no order).
 * @internal
 * @module
 */
import { NoNodeError, NotEmptyError } from '../src/errors.js';
import { joinPath } from '../src/paths.js';
import type { Watcher, ZkSession } from '../src/session.js';
import { sequenceSuffix } from './layout.js';

/** Every bucket's name starts with this. */
export const BUCKET_PREFIX = 'bucket-';

/** The name of an item's claim (and poison copy): `<bucket>/<item>` with '/' as '.' (flat names are unchanged). */
export function claimName(item: string): string {
  return item.replace('/', '.');
}

/** The item a claim name stands for (the inverse of {@link claimName}). */
export function itemOfClaim(claim: string): string {
  return claim.startsWith(BUCKET_PREFIX) ? claim.replace('.', '/') : claim;
}

/** The buckets under `path` (names starting with `prefix`), oldest first. Throws NoNodeError when `path` does not exist. */
export async function listBuckets(session: ZkSession, path: string, watch?: Watcher, prefix = BUCKET_PREFIX): Promise<string[]> {
  const children = await session.getChildren(path, watch ? { watch } : {});
  return children.filter((c) => c.startsWith(prefix)).sort();
}

/**
 * The items of the oldest bucket that has any, as `<bucket>/<item>` names (not sorted), deleting
 * empty buckets older than the newest on the way. `[]` when every bucket is empty (or there is
 * none). With `watch`, it is armed on `<path>` (a new bucket) and on every bucket listed (a new
 * item in the newest). Throws NoNodeError when `path` does not exist.
 */
export async function listHeadBucket(session: ZkSession, path: string, itemPrefix: string, watch?: Watcher): Promise<string[]> {
  const buckets = await listBuckets(session, path, watch);
  for (let i = 0; i < buckets.length; i++) {
    const bucket = buckets[i]!;
    let children: string[];
    try {
      children = await session.getChildren(joinPath(path, bucket), watch ? { watch } : {});
    } catch (err) {
      if (err instanceof NoNodeError) continue; // another consumer removed it: it was empty
      throw err;
    }
    const items = children.filter((c) => c.startsWith(itemPrefix));
    if (items.length > 0) return items.map((c) => `${bucket}/${c}`);
    if (i === buckets.length - 1) return []; // the newest: producers still put here
    try {
      await session.delete(joinPath(path, bucket));
    } catch (err) {
      if (err instanceof NotEmptyError)
        i--; // a late put landed: read this bucket again
      else if (!(err instanceof NoNodeError)) throw err;
    }
  }
  return [];
}

/**
 * A producer's bucket: the newest it knows, until a put's sequence says it is full or a put finds
 * it deleted. Concurrent puts share one search.
 */
export class BucketWriter {
  private current: string | undefined;
  private full = false;
  private finding: Promise<string> | undefined;

  /**
   * @param session - the producer's session
   * @param path - the queue's node (it exists)
   * @param bucketSize - items per bucket
   * @param prefix - the buckets' names start with this (the server appends the sequence)
   */
  constructor(
    private readonly session: ZkSession,
    private readonly path: string,
    readonly bucketSize: number,
    private readonly prefix = BUCKET_PREFIX,
  ) {}

  /** The bucket the next puts go to. */
  bucket(): Promise<string> {
    if (this.current !== undefined && !this.full) return Promise.resolve(this.current);
    this.finding ??= this.find().finally(() => {
      this.finding = undefined;
    });
    return this.finding;
  }

  /** A put into `bucket` was written as `itemPath`: from the sequence `bucketSize - 1` on, the bucket is full. */
  written(bucket: string, itemPath: string): void {
    const seq = sequenceSuffix(itemPath);
    if (bucket === this.current && seq !== undefined && seq + 1 >= this.bucketSize) this.full = true;
  }

  /** A put into `bucket` found it deleted (consumers emptied it): look for the newest again. */
  gone(bucket: string): void {
    if (bucket === this.current) this.current = undefined;
  }

  private async find(): Promise<string> {
    const newest = (await listBuckets(this.session, this.path, undefined, this.prefix)).at(-1);
    // Another producer's newer bucket (or, on a first put, the newest one) is used as it is: if it
    // is full, the first put's sequence says so.
    if (newest !== undefined && (newest !== this.current || !this.full)) {
      this.current = newest;
      this.full = false;
      return newest;
    }
    const made = await this.session.create(joinPath(this.path, this.prefix), undefined, { mode: 'persistent_sequential' });
    this.current = made.slice(made.lastIndexOf('/') + 1);
    this.full = false;
    return this.current;
  }
}
