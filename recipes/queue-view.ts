/**
 * The shared machinery of the queue family: how item names sort, and a cached, watched view of a
 * queue's children that `take` and `consume` read from instead of listing the children per item.
 *
 * A view lists `<path>` once (arming one children watch) and keeps the sorted names; readers walk
 * a cursor through them and list again only when the cursor is exhausted (or, for orderings where
 * a new item can sort before old ones, as soon as the watch fired). With `claims`, the same round
 * trip also lists `<path>-locks` (claims of consumers) and watches it.
 * @internal
 * @module
 */
import { ClosedError, NoNodeError } from '../src/errors.js';
import type { WatchEvent, ZkSession } from '../src/session.js';
import type { Codec } from './codec.js';
import { itemOfClaim, listHeadBucket } from './queue-buckets.js';
import { PROTECTED_MARKER, PROTECTED_PREFIX, SEQUENCE_DIGITS } from './layout.js';

/** Every item node's name starts with this (Curator's `QUEUE_ITEM_NAME`). */
export const ITEM_PREFIX = 'queue-';

/** `<path>` + this: the node holding consumers' claims (Curator's `lockPath` as we set it). */
export const CLAIMS_SUFFIX = '-locks';

/** `<path>` + this: the node where items whose bytes did not decode are moved. */
export const POISON_SUFFIX = '-poison';

/** How a queue family orders its item names. @internal */
export interface Ordering {
  /** Sorts names, head first. */
  compare(a: string, b: string): number;
  /** Epoch ms before which the item must not be delivered; 0 when it is due at once. */
  dueAt(name: string): number;
  /** A new item can sort before older ones: refresh as soon as the children change. */
  eager: boolean;
}

/**
 * The marker of a protected put (`_c_<uuid>-`), between the ordering part of an item's name and
 * the server's sequence number: `queue-_c_<uuid>-0000000042` (a priority queue's
 * `queue-<priority>_c_<uuid>-<seq>`, a delay queue's `queue-|<due>|_c_<uuid>-<seq>`).
 */
export const PUT_MARKER = new RegExp(`${PROTECTED_MARKER.source}(?=\\d{${SEQUENCE_DIGITS}}$)`);

/** An item's name without its put marker: what the orderings compare (Curator's names as they are). */
export function itemSortName(name: string): string {
  return name.includes(PROTECTED_PREFIX) ? name.replace(PUT_MARKER, '') : name;
}

/** Sorts item names head first by `ordering`, ignoring put markers (a protected and a plain name compare by their sequence). */
export function sortItems(names: readonly string[], ordering: Ordering): string[] {
  return names
    .map((n) => [itemSortName(n), n] as const)
    .sort((a, b) => ordering.compare(a[0], b[0]))
    .map((x) => x[1]);
}

/** FIFO by the server's sequence suffix (names without their put markers differ only in it). @internal */
export const fifoOrdering: Ordering = {
  compare: (a, b) => (a < b ? -1 : a > b ? 1 : 0),
  dueAt: () => 0,
  eager: false,
};

/** An item that could not be decoded, moved aside. */
export interface PoisonInfo {
  /** The item's node name, e.g. `queue-0000000007`. */
  name: string;
  /** The raw bytes. */
  data: Buffer;
  /** What `codec.decode` threw. */
  error: unknown;
  /** Where the bytes now live (`<path>-poison/<name>`), or undefined if moving them failed (see `moveError`). */
  movedTo: string | undefined;
  /** Why moving failed, if it did. */
  moveError?: unknown;
}

/** What a queue shares with its views and consumers. @internal */
export interface QueueCore<T> {
  readonly recipe: string;
  readonly session: ZkSession;
  readonly path: string;
  readonly lockPath: string;
  readonly poisonPath: string;
  readonly codec: Codec<T>;
  readonly ordering: Ordering;
  /** Items per bucket in the bucketed layout (./queue-buckets.ts); undefined: Curator's flat layout. */
  readonly bucketSize: number | undefined;
  readonly isClosed: boolean;
  /** Writes the bytes under `<path>-poison/<name>` (an existing one is kept); returns that path. */
  movePoison(name: string, data: Buffer): Promise<string>;
  /** Emits the `poison` event. */
  reportPoison(info: PoisonInfo): void;
  handlerError(name: string, item: T, error: unknown): void;
  consumerError(error: unknown): void;
}

/** A cached, watched, sorted list of a queue's item names. @internal */
export class QueueView {
  /** Sorted names from the last listing. */
  names: string[] = [];
  /** Readers' cursor into `names`. */
  pos = 0;
  /** Names being worked on here (skip them). */
  readonly busy = new Set<string>();
  /** Names removed by us; pruned to what the latest listing still shows. */
  readonly done = new Set<string>();
  /** Names another consumer holds a claim on (from the claims listing or a NODE_EXISTS). */
  claimed = new Set<string>();
  /** The children changed since the last listing (or it never happened). */
  itemsStale = true;
  /** The claims changed since the last listing. */
  claimsStale = false;
  private itemsArmed = false;
  private claimsArmed = false;
  private listing: Promise<void> | undefined;
  private change: { promise: Promise<void>; resolve: () => void } | undefined;
  private attached = false;
  private readonly onItems = (_e: WatchEvent) => {
    this.itemsArmed = false;
    this.itemsStale = true;
    this.wake();
  };
  private readonly onClaims = (_e: WatchEvent) => {
    this.claimsArmed = false;
    this.claimsStale = true;
    this.wake();
  };
  private readonly onReconnected = (info: { newSession: boolean }) => {
    if (info.newSession) {
      this.itemsArmed = false;
      this.claimsArmed = false;
      this.claimed.clear();
    }
    this.itemsStale = true;
    this.wake();
  };

  constructor(
    private readonly core: QueueCore<unknown>,
    private readonly withClaims: boolean,
  ) {}

  /** The cursor is past the last name. */
  get exhausted(): boolean {
    return this.pos >= this.names.length;
  }

  /** Whether a reader should list again before picking. */
  shouldRelist(): boolean {
    if (this.itemsStale && (this.exhausted || this.core.ordering.eager)) return true;
    if (!this.exhausted) return false;
    return this.claimsStale || !this.itemsArmed || (this.withClaims && this.claimed.size > 0 && !this.claimsArmed);
  }

  /** Marks the listing out of date and wakes waiters (e.g. a retry delay ended). */
  invalidate(): void {
    this.itemsStale = true;
    this.wake();
  }

  /**
   * Lists again and re-arms the watches: the safety net of an idle consumer. A watch asked for
   * by a request that failed during a connection drop is not armed, and a consumer must never
   * stall on one; an idle relist every few seconds costs one round trip.
   */
  refreshIdle(): void {
    this.itemsArmed = false;
    this.claimsArmed = false;
    this.invalidate();
  }

  /** Resolves at the next change (watch, reconnect, invalidate, close). */
  changed(): Promise<void> {
    if (!this.change) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => {
        resolve = r;
      });
      this.change = { promise, resolve };
    }
    return this.change.promise;
  }

  /** Wakes every `changed()` waiter. */
  wake(): void {
    const c = this.change;
    this.change = undefined;
    c?.resolve();
  }

  /** Lists again (one listing at a time; callers share it). */
  relist(): Promise<void> {
    if (this.core.isClosed) return Promise.reject(new ClosedError(`${this.core.recipe}: closed`, { op: this.core.recipe, path: this.core.path }));
    if (!this.attached) {
      this.attached = true;
      this.core.session.on('reconnected', this.onReconnected);
    }
    this.listing ??= this.doRelist().finally(() => {
      this.listing = undefined;
    });
    return this.listing;
  }

  /** Stops listening to the session. Armed watches fire once more, harmlessly. */
  detach(): void {
    if (this.attached) this.core.session.off('reconnected', this.onReconnected);
    this.attached = false;
    this.wake();
  }

  private async doRelist(): Promise<void> {
    const { session, path, lockPath, ordering } = this.core;
    this.itemsStale = false;
    this.claimsStale = false;
    const armItems = !this.itemsArmed;
    const armClaims = this.withClaims && !this.claimsArmed;
    if (armItems) this.itemsArmed = true;
    if (armClaims) this.claimsArmed = true;
    // Both reads go out together: one round trip (the bucketed layout lists the buckets first).
    const itemsP = this.core.bucketSize
      ? listHeadBucket(session, path, ITEM_PREFIX, armItems ? this.onItems : undefined)
      : session.getChildren(path, armItems ? { watch: this.onItems } : {}).then((c) => c.filter((n) => n.startsWith(ITEM_PREFIX)));
    const claimsP = this.withClaims ? session.getChildren(lockPath, armClaims ? { watch: this.onClaims } : {}) : undefined;
    const [items, claims] = await Promise.allSettled([itemsP, claimsP]);
    let children: string[] = [];
    if (items.status === 'fulfilled') {
      children = items.value;
    } else if (items.reason instanceof NoNodeError) {
      // No queue node yet: watch for its creation instead.
      if (armItems) {
        try {
          if (await session.exists(path, { watch: this.onItems })) {
            // Created meanwhile: that watch only fires on its delete; list again with a children watch.
            this.itemsArmed = false;
            this.itemsStale = true;
          }
        } catch (err) {
          this.itemsArmed = false;
          throw err;
        }
      }
    } else {
      if (armItems) this.itemsArmed = false;
      this.itemsStale = true;
      throw items.reason;
    }
    if (claims.status === 'fulfilled' && claims.value) {
      this.claimed = new Set(claims.value.map(itemOfClaim).filter((c) => !this.busy.has(c)));
    } else if (claims.status === 'rejected') {
      if (armClaims) this.claimsArmed = false;
      if (!(claims.reason instanceof NoNodeError)) {
        this.claimsStale = true;
        throw claims.reason;
      }
      this.claimed.clear(); // no claims node: nothing claimed (the watch is not armed; a NODE_EXISTS teaches us)
    }
    const names = sortItems(children, ordering);
    const present = new Set(names);
    for (const d of this.done) if (!present.has(d)) this.done.delete(d);
    this.names = names;
    this.pos = 0;
  }
}
