/**
 * One dispatcher scan (see ./dispatcher.ts for when scans run): fire due schedule periods, take
 * tasks back from vanished workers, drop stale assignment nodes, assign due tasks.
 *
 * No scan reads every task. It lists the live workers and the assignment nodes (bounded by the
 * workers' capacity) and reads the ready index (./ready.ts) a bucket at a time:
 * - held tasks (`assigned`/`running`) are found through their assignment nodes; a task is read when
 *   its node appears by another hand, forgotten when its node goes (every step that moves a task
 *   off its holder deletes its node in the same transaction); a worker starting an assigned task
 *   changes nothing the dispatcher acts on;
 * - waiting tasks are found through their ready entries and read once, when first met.
 * The picture can be stale, and that is safe: every write is a compare-and-set, so a stale view
 * costs one failed write, and the task is read again at once. A new term, and every
 * {@link FULL_READ_MS} of one, reads every held task again and lists the ready index afresh.
 * Behind the ready index, a slow sweep of the task shards (./sweep.ts, a bounded step per scan)
 * finds waiting tasks that have no entry and writes them one.
 * @internal
 * @module
 */
import { fireDue } from './schedules.js';
import { ReadyReader, type ReadyEntry } from './ready.js';
import type { Store } from './store.js';
import { Sweeper } from './sweep.js';
import type { SchedulerEvents, TaskStatus, WorkerRecord } from './types.js';

type Emit = <K extends keyof SchedulerEvents>(event: K, ...args: SchedulerEvents[K]) => void;
type LiveWorker = WorkerRecord & { session: string };

/** A leading dispatcher reads every held task again this often (a safety net; see the top). */
export const FULL_READ_MS = 30_000;

/**
 * A worker is given up to this many times its capacity: it starts the extra tasks itself as its
 * runs end (it never runs more than its capacity), so a scan is not on the path from one task to
 * the next. The cost: up to one capacity of tasks may wait on a busy worker while another idles.
 */
export const PREFETCH = 2;

const HELD = new Set(['assigned', 'running']);
const WAITING = new Set(['pending', 'failed']);

/** What the scanner needs from its dispatcher. */
export interface ScanHooks {
  emit: Emit;
  /** A one-shot watch for `path` that pokes the next scan (undefined: one is armed already). */
  watchOn(path: string): (() => void) | undefined;
  /** A watch that pokes the next scan, for the ready index's nodes. */
  readyWatch: () => void;
  backoffMs: number;
}

/** The dispatcher's view across the scans of one term. */
export class Scanner {
  private readonly reader: ReadyReader;
  /** The safety net: finds waiting tasks that have no ready entry (./sweep.ts). */
  private readonly sweeper: Sweeper;
  /** Held tasks as last read or written. */
  private readonly held = new Map<string, TaskStatus>();
  /** Waiting tasks read through their entries (not assignable yet: no worker for the type, no room). */
  private readonly waiting = new Map<string, TaskStatus>();
  /** Tasks to read again at the next scan (a write of ours found them changed). */
  private readonly dirty = new Set<string>();
  /** Assignment nodes as of the last listing and our own writes since: worker → task ids. */
  private nodes = new Map<string, Set<string>>();
  private fullReadAt = 0;
  /** The workers live at the last scan. */
  private live = new Set<string>();
  /** Tasks given to each worker so far: breaks ties between equally loaded workers. */
  private readonly given = new Map<string, number>();

  constructor(
    private readonly store: Store,
    private readonly hooks: ScanHooks,
  ) {
    this.reader = new ReadyReader(store.session, store.ready);
    this.sweeper = new Sweeper(store);
  }

  /** A new term: another dispatcher may have written meanwhile, so the next scan reads everything again. */
  reset(): void {
    this.fullReadAt = 0;
    this.live.clear();
    this.reader.reset();
    this.waiting.clear();
  }

  /** One scan. Returns when the next one is due (a schedule period, a retry, an entry coming due). */
  async pass(lost: AbortSignal): Promise<number> {
    const now = Date.now();
    // Independent: the schedules' reads and the held tasks' go out together (pipelined).
    const [next, { workers, assigned }] = await Promise.all([
      fireDue(this.store, now, { backoffMs: this.hooks.backoffMs }, (id, k, taskId) => this.hooks.emit('fired', id, k, taskId)),
      this.readHeld(),
    ]);
    if (lost.aborted) return next;
    await this.dropStale(assigned);
    const load = new Map<string, number>();
    for (const t of [...this.held.values()]) {
      if (lost.aborted) return next;
      await this.checkHolder(t, workers, load);
    }
    if (!lost.aborted) await this.assignDue(workers, load, lost);
    const repaired = lost.aborted ? 0 : await this.repairOrphans();
    // A write of ours met a newer state (a worker started the task, say), or an orphan got its entry: act again now.
    return this.dirty.size > 0 || repaired > 0 ? Date.now() : Math.min(next, this.reader.nextDue);
  }

  /** Lists workers and assignment nodes; reads the held tasks that can have changed. */
  private async readHeld(): Promise<{ workers: Map<string, LiveWorker>; assigned: Map<string, Set<string>> }> {
    const st = this.store;
    const assigned = new Map<string, Set<string>>();
    // The workers and their assignment nodes are read together; a directory is watched while its
    // worker was live at the last scan (a new worker's is watched from the next one on).
    const [live] = await Promise.all([
      st.liveWorkers(this.hooks.watchOn(st.workers)),
      st.children(st.assign).then((dirs) =>
        Promise.all(
          dirs.map(async (w) => {
            const watch = this.live.has(w) ? this.hooks.watchOn(st.assignDir(w)) : undefined;
            assigned.set(w, new Set(await st.children(st.assignDir(w), watch)));
          }),
        ),
      ),
    ]);
    const workers = live as Map<string, LiveWorker>;
    const fresh = [...workers.keys()].filter((w) => !this.live.has(w));
    this.live = new Set(workers.keys());
    // A worker new since the last scan: watch its directory now (it has nothing yet but what we give it).
    for (const w of fresh) {
      const watch = this.hooks.watchOn(st.assignDir(w));
      if (watch) assigned.set(w, new Set(await st.children(st.assignDir(w), watch)));
    }
    const full = Date.now() >= this.fullReadAt;
    if (full) this.fullReadAt = Date.now() + FULL_READ_MS;
    const appeared = new Set<string>();
    for (const [w, ids] of assigned) for (const id of ids) if (full || !this.nodes.get(w)?.has(id) || this.dirty.has(id)) appeared.add(id);
    const present = new Set([...assigned.values()].flatMap((ids) => [...ids]));
    for (const id of this.held.keys()) if (!present.has(id)) this.held.delete(id); // its node went: no longer held
    this.nodes = new Map([...assigned].map(([w, ids]) => [w, new Set(ids)]));
    const ids = [...appeared];
    const read = await Promise.all(ids.map((id) => st.readTask(id)));
    ids.forEach((id, i) => {
      this.learn(id, read[i] ?? null);
    });
    for (const id of this.dirty) if (!appeared.has(id)) this.waiting.delete(id); // re-read through its entry
    this.dirty.clear();
    return { workers, assigned };
  }

  /** Files a task read or written under what it is now. */
  private learn(id: string, t: TaskStatus | null): void {
    this.held.delete(id);
    this.waiting.delete(id);
    if (t && HELD.has(t.state)) this.held.set(id, t);
    else if (t && WAITING.has(t.state)) this.waiting.set(id, t);
  }

  /** Records one of our writes: the task's new status (null: someone wrote first, read it again) and its node. */
  private wrote(id: string, now: TaskStatus | null, node?: { workerId: string; present: boolean }): void {
    if (!now) {
      this.dirty.add(id);
      return;
    }
    this.learn(id, now);
    if (!node) return;
    const set = this.nodes.get(node.workerId) ?? new Set<string>();
    this.nodes.set(node.workerId, set);
    if (node.present) set.add(id);
    else set.delete(id);
  }

  /** Stale assignment nodes: the task is no longer assigned to (or running on) that worker. */
  private async dropStale(assigned: Map<string, Set<string>>): Promise<void> {
    for (const [w, ids] of assigned) {
      for (const id of ids) {
        const t = this.held.get(id);
        if (t && t.worker === w) continue;
        if (this.dirty.has(id)) continue; // read again next scan before judging it
        await this.store.remove(this.store.assignment(w, id));
        this.nodes.get(w)?.delete(id);
      }
    }
  }

  /** A held task: counted in its worker's load while that worker is live with the same session, else taken back (step 5). */
  private async checkHolder(t: TaskStatus, workers: Map<string, LiveWorker>, load: Map<string, number>): Promise<void> {
    const w = workers.get(t.worker ?? '');
    if (w && w.session === t.workerSession) {
      load.set(t.worker!, (load.get(t.worker!) ?? 0) + 1);
      return;
    }
    // The worker vanished (or restarted with a new session): take the task back.
    const exhausted = t.attempt >= t.maxAttempts;
    const back = await this.store.casTask(
      t,
      exhausted
        ? { state: 'dead', error: `worker ${t.worker} vanished on the last attempt`, finishedAt: Date.now() }
        : { state: 'pending', worker: undefined, workerSession: undefined },
      { assignment: { kind: 'delete', workerId: t.worker ?? '' }, ready: exhausted ? undefined : { kind: 'enqueue', due: Date.now() } },
    );
    this.wrote(t.id, back, { workerId: t.worker ?? '', present: false });
    if (!back) return;
    this.emit('reclaimed', t.id, t.worker ?? '');
    if (!exhausted) this.reader.reset(); // its new entry is due now: list the index again
  }

  /**
   * Step 2: reads due entries in order, a slice of the free room at a time, and assigns each
   * task to the least loaded worker that handles its type: all CASes of a slice (each with its
   * node's create and its entry's delete) go out at once.
   */
  private async assignDue(workers: Map<string, LiveWorker>, load: Map<string, number>, lost: AbortSignal): Promise<void> {
    const room = () => [...workers].reduce((a, [id, w]) => a + (w.draining ? 0 : Math.max(0, w.capacity * PREFETCH - (load.get(id) ?? 0))), 0);
    const skipped = new Set<ReadyEntry>();
    for (let round = 0; round < 8 && !lost.aborted; round++) {
      const free = room();
      if (free === 0) return;
      const entries = (await this.reader.due(free + skipped.size, this.hooks.readyWatch)).filter((e) => !skipped.has(e));
      if (entries.length === 0) return;
      const tasks = await this.waitingTasks(entries);
      const plans: { e: ReadyEntry; t: TaskStatus; id: string; rec: LiveWorker }[] = [];
      for (const [i, e] of entries.entries()) {
        const t = tasks[i];
        if (!t) continue; // stale entry, dropped
        const w = pickWorker(workers, load, this.given, t.type);
        if (!w) {
          skipped.add(e);
          continue;
        }
        load.set(w[0], (load.get(w[0]) ?? 0) + 1);
        this.given.set(w[0], (this.given.get(w[0]) ?? 0) + 1);
        plans.push({ e, t, id: w[0], rec: w[1] });
      }
      const results = await Promise.allSettled(plans.map((p) => this.assignOne(p.e, p.t, p.id, p.rec)));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
      if (plans.length === 0) return;
    }
  }

  /** The waiting task of each entry (read once, then cached); a stale entry is deleted and gives undefined. */
  private async waitingTasks(entries: ReadyEntry[]): Promise<(TaskStatus | undefined)[]> {
    const unknown = entries.filter((e) => !this.waiting.has(e.taskId));
    const read = await Promise.all(unknown.map((e) => this.store.readTask(e.taskId)));
    unknown.forEach((e, i) => {
      this.learn(e.taskId, read[i] ?? null);
    });
    return Promise.all(
      entries.map(async (e) => {
        const t = this.waiting.get(e.taskId);
        if (t) return t;
        // Its task is not waiting (assigned through another entry, finished, gone): the entry is stale.
        await this.store.remove(this.store.readyEntry(e));
        this.reader.drop(e);
        return undefined;
      }),
    );
  }

  private async assignOne(e: ReadyEntry, t: TaskStatus, id: string, rec: LiveWorker): Promise<void> {
    const change = { state: 'assigned', worker: id, workerSession: rec.session, attempt: t.attempt + 1, assignedAt: Date.now(), retryAt: undefined } as const;
    const done = await this.store.casTask(t, change, {
      assignment: { kind: 'create', workerId: id, attempt: change.attempt },
      ready: { kind: 'dequeue', entry: e },
    });
    this.wrote(t.id, done, done ? { workerId: id, present: true } : undefined);
    if (done) {
      this.reader.drop(e);
      this.hooks.emit('assigned', t.id, id, done.attempt);
    }
  }

  /**
   * The safety net (./sweep.ts): a step of the shard sweep; each waiting task found without a ready
   * entry gets one, by a CAS of the task with an `enqueue` companion (a stale view fails the CAS).
   * Interrupted: the entry is written with the CAS or not at all; the sweep goes on next scan.
   * @returns how many got an entry
   */
  private async repairOrphans(): Promise<number> {
    const orphans = await this.sweeper.step(this.reader.complete, (id) => this.held.has(id) || this.waiting.has(id));
    let repaired = 0;
    for (const t of orphans) {
      const now = await this.store.casTask(t, {}, { ready: { kind: 'enqueue', due: Date.now() } });
      this.wrote(t.id, now);
      if (now) repaired++;
    }
    if (repaired > 0) this.reader.reset(); // the new entries are due now: list the index again
    return repaired;
  }

  private emit<K extends keyof SchedulerEvents>(event: K, ...args: SchedulerEvents[K]): void {
    this.hooks.emit(event, ...args);
  }
}

/**
 * The live, non-draining worker that handles `type`, has room left, and has the lowest load
 * relative to its capacity; ties go to the one given fewer tasks so far, then to the lower id.
 */
function pickWorker(workers: Map<string, LiveWorker>, load: Map<string, number>, given: Map<string, number>, type: string): [string, LiveWorker] | undefined {
  let best: [string, LiveWorker] | undefined;
  let bestKey: [number, number, string] | undefined;
  for (const [id, w] of workers) {
    if (w.draining || !w.types?.includes(type)) continue;
    const l = load.get(id) ?? 0;
    if (l >= w.capacity * PREFETCH) continue;
    const key: [number, number, string] = [l / w.capacity, given.get(id) ?? 0, id];
    if (!bestKey || key[0] < bestKey[0] || (key[0] === bestKey[0] && (key[1] < bestKey[1] || (key[1] === bestKey[1] && key[2] < bestKey[2])))) {
      best = [id, w];
      bestKey = key;
    }
  }
  return best;
}
