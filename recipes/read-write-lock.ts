/**
 * A distributed read-write lock, wire-compatible with Curator's InterProcessReadWriteLock:
 * readers share, a writer excludes everyone, and a waiting writer blocks later readers (writers
 * are not starved).
 *
 * Layout (one parent for both sides, ordered together by the sequence suffix):
 * ```
 * <path>/                                   container
 *   _c_<uuid>-__READ__0000000004            ephemeral-sequential, a reader
 *   _c_<uuid>-__WRIT__0000000005            ephemeral-sequential, a writer
 * ```
 * A reader holds when no writer precedes it; otherwise it watches the first writer (when that one
 * goes, it checks again). A writer holds when it is first of all nodes; otherwise it watches its
 * immediate predecessor, reader or writer. Both sides are {@link Lock}s over the shared contender
 * core (./contender.ts), so acquire, tryAcquire, withLock, timeouts, aborts, fencing tokens and
 * connection-state handling are the Lock's. Not re-entrant, and no downgrade from write to read
 * (Curator allows the thread holding the write lock to take the read lock).
 * @module
 */
import type { ZkSession } from '../src/session.js';
import { firstN, type HoldPredicate } from './contender.js';
import { Lock, type LockOptions, type LockVariant } from './lock.js';
import { checkOptions, checkRecipeArgs } from './options.js';

/** Marker of reader nodes (Curator's `READ_LOCK_NAME`). */
export const READ_MARKER = '__READ__';
/** Marker of writer nodes (Curator's `WRITE_LOCK_NAME`). */
export const WRITE_MARKER = '__WRIT__';

const MARKERS = [READ_MARKER, WRITE_MARKER] as const;

/**
 * A reader holds if no writer comes before it; otherwise it watches the first writer, as
 * Curator's `readLockPredicate`.
 */
export const readerHolds: HoldPredicate = (ordered, ourIndex) => {
  for (let i = 0; i < ourIndex; i++) {
    if (ordered[i]!.marker === WRITE_MARKER) return { hold: false, watch: ordered[i]!.name };
  }
  return { hold: true };
};

/** Options of {@link ReadWriteLock}. */
export type ReadWriteLockOptions = LockOptions;

/**
 * A read-write lock on `path`. Use `readLock` for shared access and `writeLock` for exclusive
 * access; each is a {@link Lock} (acquire / tryAcquire / withLock → {@link Lease}).
 *
 * Connection states: as every contender recipe's (see {@link Lease}).
 */
export class ReadWriteLock {
  /** Shared side: any number of readers hold together while no writer is ahead of them. */
  readonly readLock: Lock;
  /** Exclusive side: one writer, and no reader, holds at a time. */
  readonly writeLock: Lock;

  /**
   * @param session - the session that owns the lock nodes
   * @param path - the lock's path (absolute, not the root, not under /zookeeper)
   * @param options - see {@link LockOptions}
   * @throws InvalidPathError, InvalidArgumentError
   */
  constructor(
    session: ZkSession,
    readonly path: string,
    options?: ReadWriteLockOptions,
  ) {
    checkRecipeArgs('read-write-lock', session, path);
    checkOptions('read-write-lock', options, ['data']);
    this.readLock = new ReadSide(session, path, options);
    this.writeLock = new WriteSide(session, path, options);
  }
}

const READ_VARIANT: LockVariant = { marker: READ_MARKER, markers: MARKERS, predicate: readerHolds, recipe: 'read-write-lock.read' };
const WRITE_VARIANT: LockVariant = { marker: WRITE_MARKER, markers: MARKERS, predicate: firstN(1), recipe: 'read-write-lock.write' };

/** The shared side: a Lock whose `__READ__` nodes hold unless a writer is ahead. */
class ReadSide extends Lock {
  protected override get variant(): LockVariant {
    return READ_VARIANT;
  }
}

/** The exclusive side: a Lock whose `__WRIT__` node holds when first among readers and writers. */
class WriteSide extends Lock {
  protected override get variant(): LockVariant {
    return WRITE_VARIANT;
  }
}
