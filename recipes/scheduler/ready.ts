/**
 * The ready index: one entry per waiting task (`pending`, or `failed` with a retry due), so that
 * the dispatcher finds due work without listing every task.
 *
 * ```
 * <path>/ready/<window>-<seq>                   a bucket: PERSISTENT_SEQUENTIAL; `window` is the
 *                                               13-digit epoch ms its entries' due times start at
 *   <due>-<taskId>-<seq>                        an entry: PERSISTENT_SEQUENTIAL, no data
 * ```
 * A window is 1 s wide for tasks due within the minute, 1 min within the hour, 1 h within the
 * day, 1 day beyond: the buckets stay few however the due times spread. A bucket holds about
 * `READY_BUCKET_SIZE` entries (the entry's sequence tells its writer the bucket is full, as in the
 * bucketed queue, ../queue-buckets.ts), so no listing here grows with the backlog: the dispatcher
 * lists `ready/` (the buckets) and then one due bucket at a time.
 *
 * An entry is written in the same transaction as the CAS that makes its task wait (submit, a
 * retry, a hand-back, a take-back) and deleted in the same transaction as the CAS that assigns it.
 * So a waiting task has its entry; an entry whose task is not waiting (left by an older version,
 * or a task purged by hand) is deleted when the dispatcher meets it. Empty buckets of past
 * windows are deleted by the dispatcher; a writer that finds its bucket gone (NO_NODE) writes into
 * a new one.
 * @internal
 * @module
 */
import { NoNodeError, NotEmptyError } from '../../src/errors.js';
import { joinPath } from '../../src/paths.js';
import type { TxnOp, Watcher, ZkSession } from '../../src/session.js';
import { BucketWriter, listBuckets } from '../queue-buckets.js';

/** Entries per bucket. */
export const READY_BUCKET_SIZE = 1000;

const DUE_DIGITS = 13;

/** The start of the window an entry due at `due` goes into, seen at `now`. */
export function dueWindow(due: number, now: number): number {
  const ahead = due - now;
  const width = ahead < 60_000 ? 1000 : ahead < 3_600_000 ? 60_000 : ahead < 86_400_000 ? 3_600_000 : 86_400_000;
  return Math.floor(Math.max(0, due) / width) * width;
}

const pad = (n: number) => String(Math.max(0, Math.floor(n))).padStart(DUE_DIGITS, '0');

/** An entry as listed: its bucket, its name, the task and when it is due. */
export interface ReadyEntry {
  bucket: string;
  name: string;
  taskId: string;
  due: number;
}

/** Parses an entry name `<due>-<taskId>-<seq>`; undefined when it is not one. */
export function parseEntry(bucket: string, name: string): ReadyEntry | undefined {
  const m = /^(\d{13})-(.+)-\d{10}$/.exec(name);
  return m ? { bucket, name, taskId: m[2]!, due: Number(m[1]) } : undefined;
}

/** The writers' side: which bucket an entry goes into, as a transaction op. */
export class ReadyWriter {
  private readonly writers = new Map<number, BucketWriter>();

  constructor(
    private readonly session: ZkSession,
    private readonly dir: string,
  ) {}

  /** The create op of an entry for `taskId` due at `due`, and its bucket (for {@link written} / {@link gone}). */
  async entryOp(taskId: string, due: number): Promise<{ op: TxnOp; bucket: string; window: number }> {
    const now = Date.now();
    const window = dueWindow(due, now);
    let w = this.writers.get(window);
    if (!w) {
      // Forget the writers of windows long past (their buckets are being emptied and deleted).
      for (const k of this.writers.keys()) if (k < now - 120_000) this.writers.delete(k);
      w = new BucketWriter(this.session, this.dir, READY_BUCKET_SIZE, `${pad(window)}-`);
      this.writers.set(window, w);
    }
    const bucket = await w.bucket();
    return { op: { op: 'create', path: joinPath(joinPath(this.dir, bucket), `${pad(due)}-${taskId}-`), mode: 'persistent_sequential' }, bucket, window };
  }

  /** An entry was written at `path`: its sequence may say the bucket is full. */
  written(window: number, bucket: string, path: string): void {
    this.writers.get(window)?.written(bucket, path);
  }

  /** The bucket was gone (NO_NODE): the next entry looks for another. */
  gone(window: number, bucket: string): void {
    this.writers.get(window)?.gone(bucket);
  }
}

/**
 * The dispatcher's side: due entries, oldest window first, read a bucket at a time and kept
 * between scans; listed again when fewer than asked for are left.
 */
export class ReadyReader {
  private entries: ReadyEntry[] = [];
  /** When the earliest entry or bucket not yet due becomes due (Infinity: none). */
  nextDue = Number.POSITIVE_INFINITY;
  /**
   * The last listing that read every bucket due when it began (none left unread for the count):
   * when it began and the tasks of every entry it met. A task that waited, due, since before
   * `at` and is not in `ids` had no entry (./sweep.ts). Undefined until there is one.
   */
  complete: { at: number; ids: ReadonlySet<string> } | undefined;

  constructor(
    private readonly session: ZkSession,
    private readonly dir: string,
  ) {}

  /** Forgets everything read (a new term: another dispatcher may have assigned meanwhile). */
  reset(): void {
    this.entries = [];
    this.complete = undefined;
  }

  /** Drops an entry that was deleted (its task assigned) or found stale. */
  drop(entry: ReadyEntry): void {
    const i = this.entries.indexOf(entry);
    if (i >= 0) this.entries.splice(i, 1);
  }

  /**
   * Up to `want` due entries, oldest first. Lists again when fewer are cached, arming `watch` on
   * `ready/` and on each bucket read (a new entry or bucket wakes the dispatcher).
   */
  async due(want: number, watch: Watcher | undefined): Promise<ReadyEntry[]> {
    const now = Date.now();
    if (this.entries.filter((e) => e.due <= now).length < want) await this.read(want, now, watch);
    return this.entries.filter((e) => e.due <= now).slice(0, want);
  }

  private async read(want: number, now: number, watch: Watcher | undefined): Promise<void> {
    let buckets: string[];
    try {
      buckets = await listBuckets(this.session, this.dir, watch, '');
    } catch (err) {
      if (err instanceof NoNodeError) buckets = [];
      else throw err;
    }
    const current = dueWindow(now, now);
    const out: ReadyEntry[] = [];
    this.nextDue = Number.POSITIVE_INFINITY;
    this.complete = undefined;
    let whole = true;
    for (const bucket of buckets) {
      const window = Number(bucket.slice(0, DUE_DIGITS));
      if (window > now) {
        this.nextDue = Math.min(this.nextDue, window);
        break; // later buckets start later still
      }
      if (out.filter((e) => e.due <= now).length >= Math.max(want, READY_BUCKET_SIZE)) {
        whole = false;
        break;
      }
      const entries = await this.readBucket(bucket, window < current, watch);
      for (const e of entries) {
        if (e.due > now) this.nextDue = Math.min(this.nextDue, e.due);
        out.push(e);
      }
    }
    out.sort((a, b) => a.due - b.due || (a.name < b.name ? -1 : 1));
    this.entries = out;
    // An interrupted listing (an error thrown above) leaves `complete` undefined: nothing is judged on it.
    if (whole) this.complete = { at: now, ids: new Set(out.map((e) => e.taskId)) };
  }

  /** One bucket's entries; an empty bucket of a past window is deleted (NOT_EMPTY: read it again). */
  private async readBucket(bucket: string, past: boolean, watch: Watcher | undefined): Promise<ReadyEntry[]> {
    for (let i = 0; i < 3; i++) {
      let names: string[];
      try {
        names = await this.session.getChildren(joinPath(this.dir, bucket), watch ? { watch } : {});
      } catch (err) {
        if (err instanceof NoNodeError) return [];
        throw err;
      }
      if (names.length > 0 || !past) return names.map((n) => parseEntry(bucket, n)).filter((e): e is ReadyEntry => e !== undefined);
      try {
        await this.session.delete(joinPath(this.dir, bucket));
        return [];
      } catch (err) {
        if (err instanceof NoNodeError) return [];
        if (!(err instanceof NotEmptyError)) throw err;
      }
    }
    return [];
  }
}
