/**
 * The dispatcher role: while this instance holds the leadership of `<path>/leader`, it scans
 * ZooKeeper, fires due schedule periods, takes tasks back from vanished workers, repairs
 * interrupted steps and assigns due tasks. See ./index.ts for the layout and the step ordering.
 *
 * Each scan lists the workers, the assignment nodes and the task ids, but reads only the tasks
 * that can have changed since the last scan: new ids, and ids whose assignment node came or went
 * by another hand (every step that moves a task off its holder deletes its node in the same
 * transaction). The one change without a node change — a worker starting an assigned task — does
 * not change what the dispatcher does with it. The picture can still be stale, and that is safe:
 * every write is a compare-and-set, so a stale entry costs one failed write and a re-read. A new
 * term, and every {@link FULL_READ_MS} of one, reads every unfinished task again, so a scan after
 * a failover is the same as any other: reconciliation is not a special case.
 * @internal
 * @module
 */
import type { ZkSession } from '../../src/session.js';
import { LeaderLatch } from '../leader-latch.js';
import { Rerun } from '../rerun.js';
import { fireDue } from './schedules.js';
import type { Store } from './store.js';
import { TERMINAL_STATES, type SchedulerEvents, type TaskStatus, type WorkerRecord } from './types.js';

type Emit = <K extends keyof SchedulerEvents>(event: K, ...args: SchedulerEvents[K]) => void;
type LiveWorker = WorkerRecord & { session: string };

/** What one scan read: live workers, assignment nodes by worker, and the tasks not known finished before. */
interface ScanView {
  workers: Map<string, LiveWorker>;
  assigned: Map<string, Set<string>>;
  tasks: Map<string, TaskStatus>;
}

/** Dispatcher settings taken from the scheduler's options. */
export interface DispatcherSettings {
  backoffMs: number;
  rescanMs: number;
  /** Participant id written into the latch node. */
  id: string;
}

/** A leading dispatcher reads every unfinished task again this often (a safety net; see the top). */
export const FULL_READ_MS = 30_000;

/** Campaigns for leadership and, while leader, keeps tasks moving. */
export class Dispatcher {
  private readonly stopCtl = new AbortController();
  private readonly session: ZkSession;
  private readonly terminal = new Set<string>();
  private listed = new Set<string>();
  private cversion = -1;
  private readonly armed = new Set<string>();
  /** Unfinished tasks as last read or written by this term. */
  private readonly known = new Map<string, TaskStatus>();
  /** Tasks to read again at the next scan (a write of ours found them changed). */
  private readonly dirty = new Set<string>();
  /** Assignment nodes as of the last scan and our own writes since: worker → task ids. */
  private nodes = new Map<string, Set<string>>();
  /** When the next scan reads every unfinished task. */
  private fullReadAt = 0;
  /** Tasks given to each worker so far: breaks ties between equally loaded workers. */
  private readonly given = new Map<string, number>();
  /** The scan driver of the current term (pokes: a watch fired, a timer, the term ended). */
  private scans: Rerun | undefined;
  private loop: Promise<void> | undefined;
  private leading = false;

  constructor(
    private readonly store: Store,
    private readonly s: DispatcherSettings,
    private readonly emit: Emit,
  ) {
    this.session = store.session;
  }

  /** True while this instance is the dispatcher. */
  get isLeader(): boolean {
    return this.leading;
  }

  /** Starts campaigning (returns at once). */
  start(): void {
    this.loop = this.campaign();
  }

  /** Steps down and stops campaigning. */
  async stop(): Promise<void> {
    this.stopCtl.abort(new Error('scheduler: dispatcher stopped'));
    this.kick();
    await this.loop;
  }

  private kick = (): void => {
    this.scans?.poke();
  };

  /** A one-shot watch for `path`, unless one is already armed there. */
  private watchOn(path: string): (() => void) | undefined {
    if (this.armed.has(path)) return undefined;
    this.armed.add(path);
    return () => {
      this.armed.delete(path);
      this.kick();
    };
  }

  private campaign(): Promise<void> {
    const latch = new LeaderLatch(this.session, this.store.leader, { id: this.s.id });
    let term: AbortController | undefined;
    let leading: Promise<void> = Promise.resolve();
    latch.on('isLeader', () => {
      term?.abort();
      const ctl = new AbortController();
      term = ctl;
      leading = leading.then(async () => {
        if (ctl.signal.aborted) return;
        this.leading = true;
        this.armed.clear(); // watches of an earlier session are gone; re-arm them
        this.fullReadAt = 0; // another dispatcher may have led meanwhile: read everything
        this.emit('isLeader');
        try {
          await this.lead(ctl.signal);
        } finally {
          this.leading = false;
          this.emit('notLeader');
        }
      });
    });
    latch.on('notLeader', () => {
      term?.abort();
      this.kick();
    });
    latch.start();
    return new Promise<void>((resolve) => {
      this.stopCtl.signal.addEventListener(
        'abort',
        () => {
          term?.abort();
          void latch
            .close()
            .catch(() => undefined)
            .then(() => leading)
            .then(resolve, resolve);
        },
        { once: true },
      );
    });
  }

  /**
   * Scans while leading: on every poke (a watch, the term's end) and when the last scan said the
   * next one is due (a schedule period, a retry, `rescanMs` at the latest). Ends with the term.
   */
  private async lead(lost: AbortSignal): Promise<void> {
    const stop = this.stopCtl.signal;
    let timer: NodeJS.Timeout | undefined;
    const scans = new Rerun(
      async () => {
        clearTimeout(timer);
        if (lost.aborted || stop.aborted) return;
        let next = Date.now() + this.s.rescanMs;
        try {
          next = Math.min(next, await this.pass(lost));
        } catch (err) {
          if (!lost.aborted && !stop.aborted && this.session.state !== 'closed') this.emit('error', err as Error);
          next = Math.min(next, Date.now() + 200);
        }
        timer = setTimeout(() => scans.poke(), Math.max(0, next - Date.now()));
      },
      () => undefined,
    ); // the job reports its own failures
    this.scans = scans;
    const over = AbortSignal.any([lost, stop]);
    const ended = new Promise<void>((resolve) => {
      if (over.aborted) resolve();
      else over.addEventListener('abort', () => resolve(), { once: true });
    });
    scans.poke();
    await ended;
    if (this.scans === scans) this.scans = undefined;
    await scans.stop();
    clearTimeout(timer);
  }

  /**
   * Keeps the cache of terminal task ids true: drops ids no longer listed, and clears it all if
   * the children version moved by more than the visible adds and removes (a task was purged and
   * created again with the same id between two scans).
   */
  private pruneTerminal(ids: string[], cversion: number): void {
    const now = new Set(ids);
    let changes = 0;
    for (const id of now) if (!this.listed.has(id)) changes++;
    for (const id of this.listed) if (!now.has(id)) changes++;
    if (cversion - this.cversion !== changes) this.terminal.clear();
    for (const id of this.terminal) if (!now.has(id)) this.terminal.delete(id);
    this.listed = now;
    this.cversion = cversion;
  }

  /** One scan: fire schedules, reclaim, repair, assign. Returns when the next scan is due. */
  private async pass(lost: AbortSignal): Promise<number> {
    const now = Date.now();
    let next = await fireDue(this.store, now, { backoffMs: this.s.backoffMs }, (id, k, taskId) => this.emit('fired', id, k, taskId));
    const view = await this.readView();
    if (lost.aborted) return next;
    await this.dropStale(view);
    const load = new Map<string, number>();
    const due: TaskStatus[] = [];
    for (const t of [...view.tasks.values()]) {
      if (lost.aborted) return next;
      if (t.state === 'assigned' || t.state === 'running') {
        const back = await this.checkHolder(t, view, load);
        if (back) due.push(back);
      } else if (t.state === 'pending' || t.state === 'failed') {
        const at = t.state === 'failed' ? Math.max(t.runAt, t.retryAt ?? 0) : t.runAt;
        if (at <= now) due.push(t);
        else next = Math.min(next, at);
      }
    }
    await this.assignDue(due, view.workers, load, lost);
    // A write of ours met a newer state (a worker started the task, say): read it and act again now.
    return this.dirty.size > 0 ? Date.now() : next;
  }

  /** The scan's reads, arming the watches that poke the next scan: live workers, assignment nodes, tasks. */
  private async readView(): Promise<ScanView> {
    const st = this.store;
    const workers = (await st.liveWorkers(this.watchOn(st.workers))) as Map<string, LiveWorker>;
    // Assignment nodes, read before the tasks (see index.ts: a task's state is written first).
    const assigned = new Map<string, Set<string>>();
    // Independent reads go out together (pipelined on the one connection), not one per round trip.
    await Promise.all(
      (await st.children(st.assign)).map(async (w) => {
        const watch = workers.has(w) ? this.watchOn(st.assignDir(w)) : undefined;
        assigned.set(w, new Set(await st.children(st.assignDir(w), watch)));
      }),
    );
    const { ids, cversion } = await st.taskIdsWithVersion(this.watchOn(st.tasks));
    this.pruneTerminal(ids, cversion);
    const full = Date.now() >= this.fullReadAt;
    if (full) this.fullReadAt = Date.now() + FULL_READ_MS;
    const moved = nodesMoved(this.nodes, assigned);
    this.nodes = new Map([...assigned].map(([w, ids]) => [w, new Set(ids)]));
    const stale = ids.filter((id) => !this.terminal.has(id) && (full || !this.known.has(id) || this.dirty.has(id) || moved.has(id)));
    this.dirty.clear();
    const read = await Promise.all(stale.map((id) => st.readTask(id)));
    stale.forEach((id, i) => {
      const t = read[i];
      if (t && TERMINAL_STATES.has(t.state)) this.terminal.add(id);
      if (t && !TERMINAL_STATES.has(t.state)) this.known.set(id, t);
      else this.known.delete(id);
    });
    const listed = new Set(ids);
    for (const id of this.known.keys()) if (!listed.has(id)) this.known.delete(id);
    return { workers, assigned, tasks: this.known };
  }

  /** Records what one of our writes did: the task's new status (null: someone wrote first, read it again) and its node. */
  private wrote(id: string, now: TaskStatus | null, node?: { workerId: string; present: boolean }): void {
    if (!now) {
      this.dirty.add(id);
      return;
    }
    if (TERMINAL_STATES.has(now.state)) {
      this.known.delete(id);
      this.terminal.add(id);
    } else this.known.set(id, now);
    if (!node) return;
    const set = this.nodes.get(node.workerId) ?? new Set<string>();
    this.nodes.set(node.workerId, set);
    if (node.present) set.add(id);
    else set.delete(id);
  }

  /** Stale assignment nodes: the task is no longer assigned to (or running on) that worker. */
  private async dropStale({ assigned, tasks }: ScanView): Promise<void> {
    for (const [w, ids] of assigned) {
      for (const id of ids) {
        const t = tasks.get(id);
        const current = t && (t.state === 'assigned' || t.state === 'running') && t.worker === w;
        if (!current) {
          await this.store.remove(this.store.assignment(w, id));
          this.nodes.get(w)?.delete(id);
        }
      }
    }
  }

  /**
   * A task `assigned`/`running`: counted in its worker's load while that worker is live with the
   * same session, else taken back (step 5). Returns it when taken back and due again.
   */
  private async checkHolder(t: TaskStatus, { workers, assigned }: ScanView, load: Map<string, number>): Promise<TaskStatus | undefined> {
    const w = workers.get(t.worker ?? '');
    if (w && w.session === t.workerSession) {
      load.set(t.worker!, (load.get(t.worker!) ?? 0) + 1);
      // An assigned task without its node (left by a version that wrote them apart): repair.
      if (t.state === 'assigned' && !assigned.get(t.worker!)?.has(t.id)) {
        await this.store.createAssignment(t.worker!, t.id, t.attempt);
        this.wrote(t.id, t, { workerId: t.worker!, present: true });
      }
      return undefined;
    }
    // The worker vanished (or restarted with a new session): take the task back.
    const exhausted = t.attempt >= t.maxAttempts;
    const back = await this.store.casTask(
      t,
      exhausted
        ? { state: 'dead', error: `worker ${t.worker} vanished on the last attempt`, finishedAt: Date.now() }
        : { state: 'pending', worker: undefined, workerSession: undefined },
      { kind: 'delete', workerId: t.worker ?? '' },
    );
    this.wrote(t.id, back, { workerId: t.worker ?? '', present: false });
    if (!back) return undefined;
    this.emit('reclaimed', t.id, t.worker ?? '');
    return exhausted ? undefined : back;
  }

  /**
   * Step 2 for each due task, oldest first: picks the least loaded worker for each, then sends every
   * CAS to `assigned` (+ create of its node) at once, pipelined.
   */
  private async assignDue(due: TaskStatus[], workers: Map<string, LiveWorker>, load: Map<string, number>, lost: AbortSignal): Promise<void> {
    due.sort((a, b) => (a.retryAt ?? a.runAt) - (b.retryAt ?? b.runAt) || a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
    const plans: { t: TaskStatus; id: string; rec: LiveWorker }[] = [];
    for (const t of due) {
      const w = pickWorker(workers, load, this.given, t.type);
      if (!w) continue;
      load.set(w[0], (load.get(w[0]) ?? 0) + 1);
      this.given.set(w[0], (this.given.get(w[0]) ?? 0) + 1);
      plans.push({ t, id: w[0], rec: w[1] });
    }
    if (lost.aborted) return;
    const results = await Promise.allSettled(plans.map((p) => this.assignOne(p.t, p.id, p.rec)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  private async assignOne(t: TaskStatus, id: string, rec: LiveWorker): Promise<void> {
    const change = { state: 'assigned', worker: id, workerSession: rec.session, attempt: t.attempt + 1, assignedAt: Date.now(), retryAt: undefined } as const;
    const done = await this.store.casTask(t, change, { kind: 'create', workerId: id, attempt: change.attempt });
    this.wrote(t.id, done, done ? { workerId: id, present: true } : undefined);
    if (done) this.emit('assigned', t.id, id, done.attempt); // stale view (null): the next scan reads it again
  }
}

/** Ids whose assignment node came or went between two listings (worker → task ids). */
function nodesMoved(before: Map<string, Set<string>>, after: Map<string, Set<string>>): Set<string> {
  const out = new Set<string>();
  for (const [w, ids] of after) for (const id of ids) if (!before.get(w)?.has(id)) out.add(id);
  for (const [w, ids] of before) for (const id of ids) if (!after.get(w)?.has(id)) out.add(id);
  return out;
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
    if (l >= w.capacity) continue;
    const key: [number, number, string] = [l / w.capacity, given.get(id) ?? 0, id];
    if (!bestKey || key[0] < bestKey[0] || (key[0] === bestKey[0] && (key[1] < bestKey[1] || (key[1] === bestKey[1] && key[2] < bestKey[2])))) {
      best = [id, w];
      bestKey = key;
    }
  }
  return best;
}
