/**
 * The dispatcher's safety net for the ready index (./ready.ts): a slow sweep over the task shards
 * that finds a waiting task without a ready entry and writes it one, so every waiting task is
 * dispatched eventually, whatever lost its entry (a node deleted by hand, a fault we did not
 * foresee). The index is kept exact by the transactions of ./store.ts; this only repairs.
 *
 * How an orphan is told: the ready reader's last complete listing (every bucket due when it began
 * was read; `ReadyReader.complete`) began at `at` and met the entries of `ids`. A task read after
 * that which waits (`pending`, or `failed` with its retry), is due before `at`, was last written
 * before `at - ORPHAN_AGE_MS` (that write made its entry, in the same transaction) and is not in
 * `ids` had no entry at `at`. It is given one by a compare-and-set of the task with an `enqueue`
 * companion (`Store.casTask`, the one path that writes entries).
 * Why that is safe: a task judged on a stale read (assigned meanwhile) fails the CAS and is left
 * alone; a task that did have an entry (a clock skewed beyond the margin) gets a second one, which
 * the dispatcher deletes as stale when it meets it after the first was assigned.
 * Cost: a step at most every `SWEEP_STEP_MS`, of at most `SWEEP_LISTS` shard listings and
 * `SWEEP_READS` reads of tasks the dispatcher does not hold in view; tasks read terminal are
 * remembered and never read again (each task is read about once in its life). A sweep of all 256
 * shards starts at most every `SWEEP_CYCLE_MS`. Interrupted anywhere (an error, a new term), the sweep goes on from the next
 * shard; a CAS whose outcome was lost is read back by `casTask`.
 * @internal
 * @module
 */
import { joinPath } from '../../src/paths.js';
import { SHARD_NAMES, type Store, taskShard } from './store.js';
import { TERMINAL_STATES, type TaskStatus } from './types.js';

/** A sweep over every shard starts at most this often. */
export const SWEEP_CYCLE_MS = 60_000;
/** A step (listings and reads) runs at most this often, on a scan. */
export const SWEEP_STEP_MS = 1000;
/** Shard listings per step, at most. */
export const SWEEP_LISTS = 32;
/** Task reads per step, at most. */
export const SWEEP_READS = 64;
/** A waiting task last written less than this long before the listing is not judged (a margin for clocks). */
export const ORPHAN_AGE_MS = 10_000;

const WAITING = new Set(['pending', 'failed']);

/** When a waiting task is due. */
function dueOf(t: TaskStatus): number {
  return t.state === 'failed' ? (t.retryAt ?? t.runAt) : t.runAt;
}

/** Whether `t` waits, due, without an entry, as judged on the complete listing `listed`. */
export function isOrphan(t: TaskStatus, listed: { at: number; ids: ReadonlySet<string> }): boolean {
  return WAITING.has(t.state) && dueOf(t) <= listed.at && t.updatedAt < listed.at - ORPHAN_AGE_MS && !listed.ids.has(t.id);
}

/** The sweep's position and what it learnt: one instance per dispatcher, across its terms. */
export class Sweeper {
  /** The next shard to list (index into SHARD_NAMES; its length: the cycle is listed). */
  private shard = 0;
  private cycleAt = Number.NEGATIVE_INFINITY;
  private sweeping = false;
  private stepAt = Number.NEGATIVE_INFINITY;
  /** Ids of the shard listed last, not read yet. */
  private queue: string[] = [];
  /** Terminal tasks per shard: never read again (pruned to each new listing, so purged ids go). */
  private readonly terminal = new Map<string, Set<string>>();

  constructor(private readonly store: Store) {}

  /**
   * One step, if one is due: lists shards and reads tasks (within the per-step bounds) and returns the orphans
   * found, judged on `listed`. `known(id)`: a task the dispatcher holds in view (skipped).
   */
  async step(listed: { at: number; ids: ReadonlySet<string> } | undefined, known: (id: string) => boolean): Promise<TaskStatus[]> {
    if (!listed) return []; // no complete listing to judge on (a backlog is being worked)
    if (Date.now() < this.stepAt + SWEEP_STEP_MS) return [];
    this.stepAt = Date.now();
    if (!this.sweeping) {
      if (Date.now() < this.cycleAt + SWEEP_CYCLE_MS) return [];
      this.sweeping = true;
      this.cycleAt = Date.now();
      this.shard = 0;
    }
    const ids: string[] = [];
    for (let lists = 0; ids.length < SWEEP_READS; ) {
      if (this.queue.length > 0) {
        ids.push(...this.queue.splice(0, SWEEP_READS - ids.length).filter((id) => !known(id)));
      } else if (this.shard >= SHARD_NAMES.length) {
        this.sweeping = false; // every shard listed and read: the cycle is over
        break;
      } else if (lists++ < SWEEP_LISTS) {
        this.queue = await this.listShard(SHARD_NAMES[this.shard]!);
        this.shard++;
      } else break;
    }
    const read = await Promise.all(ids.map((id) => this.store.readTask(id)));
    const out: TaskStatus[] = [];
    for (const t of read) {
      if (t && TERMINAL_STATES.has(t.state)) this.terminal.get(taskShard(t.id))?.add(t.id);
      else if (t && isOrphan(t, listed)) out.push(t);
    }
    return out;
  }

  /** A shard's task ids less those known terminal; the shard's terminal set is pruned to the listing. */
  private async listShard(shard: string): Promise<string[]> {
    const names = await this.store.children(joinPath(this.store.tasks, shard));
    const present = new Set(names);
    const kept = new Set([...(this.terminal.get(shard) ?? [])].filter((id) => present.has(id)));
    this.terminal.set(shard, kept);
    return names.filter((id) => !kept.has(id));
  }
}
