/**
 * The worker role: registers `<path>/workers/<workerId>` (ephemeral), watches
 * `<path>/assign/<workerId>/`, runs the tasks assigned to it and writes their outcome with a
 * compare-and-set on the task node. See ./index.ts for the layout and the step ordering.
 * @internal
 * @module
 */
import type { ZkSession } from '../../src/session.js';
import { IllegalStateError, NodeExistsError } from '../../src/errors.js';
import { delay } from '../../src/wait.js';
import { Rerun } from '../rerun.js';
import { backoff, type Store } from './store.js';
import type { SchedulerEvents, TaskHandler, TaskStatus, WorkerRecord } from './types.js';

type Emit = <K extends keyof SchedulerEvents>(event: K, ...args: SchedulerEvents[K]) => void;

interface Run {
  ctl: AbortController;
  done: Promise<void>;
}

/** Worker settings taken from the scheduler's options. */
export interface WorkerSettings {
  workerId: string;
  capacity: number;
  handlers: Record<string, TaskHandler>;
  backoffMs: number;
  maxBackoffMs: number;
}

/** One worker: runs at most `capacity` tasks at once, each under an AbortSignal. */
export class Worker {
  private readonly running = new Map<string, Run>();
  private readonly handling = new Set<string>();
  private readonly session: ZkSession;
  /** Ephemeral owner of our registration: the dispatcher fences assignments with it. */
  private mySession = '';
  private stopping = false;
  /** Assigned tasks read while every slot was taken (the dispatcher gives a worker more than its capacity): started, in order, as runs end. */
  private readonly queued = new Map<string, TaskStatus>();
  /** Slots taken by starts in flight (their CAS not answered yet). */
  private starting = 0;
  /** Lists our assignments and handles the new ones; a poke during a scan makes one more. */
  private readonly scanner = new Rerun(
    () => this.scanOnce(),
    (err) => {
      if (this.session.state !== 'closed') this.emit('error', err as Error);
    },
  );
  private readonly onState = (state: string) => this.onConnection(state);

  constructor(
    private readonly store: Store,
    private readonly s: WorkerSettings,
    private readonly emit: Emit,
  ) {
    this.session = store.session;
  }

  /** Registers and starts watching the assignments. */
  async start(): Promise<void> {
    this.session.on('state', this.onState);
    await this.register();
    this.scan();
  }

  /** Connection-state handling: abort runs on suspended/lost, re-register after a new session. */
  private onConnection(state: string): void {
    if (state === 'suspended' || state === 'lost' || state === 'closed') {
      for (const r of this.running.values()) r.ctl.abort(new Error(`scheduler: worker ${this.s.workerId}: session ${state}`));
    } else if (state === 'connected' && !this.stopping) {
      void (async () => {
        try {
          // Same session: our node and watch survived. New session (after `lost`): register again.
          const stat = await this.session.exists(this.store.worker(this.s.workerId));
          if (!stat || stat.ephemeralOwner !== this.session.sessionId) await this.register();
          this.scan();
          await this.scanner.idle();
        } catch (err) {
          this.emit('error', err as Error);
        }
      })();
    }
  }

  private record(): string {
    const rec: WorkerRecord = {
      capacity: this.s.capacity,
      draining: this.stopping,
      types: Object.keys(this.s.handlers),
    };
    return JSON.stringify(rec);
  }

  /**
   * Creates our ephemeral node. A node of another session with our id (an earlier run whose
   * session has not expired yet) is waited out, for at most two session timeouts.
   */
  private async register(): Promise<void> {
    const p = this.store.worker(this.s.workerId);
    await this.store.mkdir(this.store.assignDir(this.s.workerId));
    const deadline = Date.now() + 2 * this.session.sessionTimeoutMs + 2000;
    for (;;) {
      try {
        await this.session.create(p, this.record(), { mode: 'ephemeral' });
      } catch (err) {
        if (!(err instanceof NodeExistsError)) throw err;
      }
      const stat = await this.session.exists(p);
      if (stat && stat.ephemeralOwner === this.session.sessionId) {
        this.mySession = stat.ephemeralOwner;
        return;
      }
      if (Date.now() > deadline) throw new IllegalStateError(`scheduler: worker id ${this.s.workerId} is in use at ${p}`, { op: 'scheduler.start', path: p });
      await delay(200);
    }
  }

  /** Rewrites our record (the dispatcher reads `draining` from it; it counts load from the tasks). */
  private rewriteRecord(): void {
    this.session.set(this.store.worker(this.s.workerId), this.record()).catch(() => undefined);
  }

  private scan(): void {
    this.scanner.poke();
  }

  /** Lists our assignments (leaving a watch) and handles the new ones. */
  private async scanOnce(): Promise<void> {
    const ids = await this.store.children(this.store.assignDir(this.s.workerId), () => this.scan());
    await Promise.all(ids.map((id) => this.handle(id)));
  }

  /** Acts on one assignment node. Safe to call again for the same id. */
  private async handle(id: string): Promise<void> {
    if (this.running.has(id) || this.handling.has(id) || this.queued.has(id)) return;
    this.handling.add(id);
    try {
      for (let i = 0; i < 3; i++) {
        const t = await this.store.readTask(id);
        if (!t) return this.store.remove(this.store.assignment(this.s.workerId, id));
        if (t.worker !== this.s.workerId || t.workerSession !== this.mySession) return; // not ours (any more): the dispatcher cleans up
        if (t.state === 'running') return void (await this.handBack(t, true)); // an interrupted run of ours
        if (t.state !== 'assigned') return this.store.remove(this.store.assignment(this.s.workerId, id)); // outcome written, node left over
        if (this.stopping) return void (await this.handBack(t));
        if (this.running.size + this.starting >= this.s.capacity) {
          this.queued.set(id, t); // started when a run ends
          return;
        }
        if (await this.startRun(t)) return;
      }
    } finally {
      this.handling.delete(id);
    }
  }

  /** CAS `assigned` → `running` (its slot reserved meanwhile), then runs it; false when the task changed (read it again). */
  private async startRun(t: TaskStatus): Promise<boolean> {
    this.starting++;
    try {
      const started = await this.store.casTask(t, { state: 'running', startedAt: Date.now() });
      if (started) this.run(started);
      return started !== null;
    } finally {
      this.starting--;
    }
  }

  /** A run ended: the first queued task starts (no read: a CAS against what was read fails if the task changed since). */
  private startQueued(): void {
    const first = this.queued.entries().next();
    if (first.done) return;
    const [id, t] = first.value;
    this.queued.delete(id);
    this.handling.add(id);
    void (async () => {
      try {
        if (this.stopping || !(await this.startRun(t))) {
          this.handling.delete(id);
          this.scan(); // stopping (hand it back), or changed: the scan reads it again
          return;
        }
      } catch (err) {
        this.emit('error', err as Error);
      }
      this.handling.delete(id);
    })();
  }

  private run(t: TaskStatus): void {
    const ctl = new AbortController();
    const entry: Run = { ctl, done: Promise.resolve() };
    this.running.set(t.id, entry);
    this.emit('started', t.id, t.attempt);
    entry.done = (async () => {
      let ok = false;
      let result: unknown;
      let error: Error | undefined;
      try {
        const handler = this.s.handlers[t.type];
        if (!handler) throw new Error(`scheduler: no handler for task type ${t.type}`);
        result = await handler(t.payload, { taskId: t.id, attempt: t.attempt, signal: ctl.signal });
        ok = true;
      } catch (err) {
        error = err instanceof Error ? err : new Error(String(err));
      }
      try {
        await this.finish(t, ctl.signal.aborted, ok, result, error);
      } catch (err) {
        this.emit('error', err as Error);
      } finally {
        this.running.delete(t.id);
        this.startQueued();
      }
    })();
  }

  /** Writes the outcome (compare-and-set against our `running` write) and drops the assignment, in one transaction. */
  private async finish(t: TaskStatus, aborted: boolean, ok: boolean, result: unknown, error: Error | undefined): Promise<void> {
    if (aborted) return void (await this.handBack(t, !this.stopping));
    const now = Date.now();
    const drop = { assignment: { kind: 'delete', workerId: this.s.workerId } } as const;
    // Stale (null): the dispatcher took the task back meanwhile (and dropped the node); its state wins.
    if (ok) {
      const written = await this.store.casTask(
        t,
        { state: 'succeeded', result: result === undefined ? null : result, error: undefined, finishedAt: now, retryAt: undefined },
        drop,
      );
      if (written) this.emit('succeeded', t.id, result);
    } else if (t.attempt >= t.maxAttempts) {
      const written = await this.store.casTask(t, { state: 'dead', error: error!.message, finishedAt: now, retryAt: undefined }, drop);
      if (written) this.emit('dead', t.id, error!);
    } else {
      const retryAt = now + backoff(t.backoffMs, t.attempt, this.s.maxBackoffMs);
      const written = await this.store.casTask(
        t,
        { state: 'failed', error: error!.message, finishedAt: now, retryAt },
        { ...drop, ready: { kind: 'enqueue', due: retryAt } },
      );
      if (written) this.emit('failed', t.id, error!, retryAt);
    }
  }

  /**
   * Gives a task back as `pending` and drops the assignment, in one transaction. An interrupted
   * run counts as an attempt (`dead` if it was the last); a task given back before it ran, or on
   * stop(), does not.
   */
  private async handBack(t: TaskStatus, interrupted = false): Promise<void> {
    const exhausted = interrupted && t.attempt >= t.maxAttempts;
    const back = await this.store.casTask(
      t,
      exhausted
        ? { state: 'dead', error: `run interrupted on worker ${this.s.workerId} on the last attempt`, finishedAt: Date.now() }
        : { state: 'pending', attempt: interrupted ? t.attempt : Math.max(0, t.attempt - 1), worker: undefined, workerSession: undefined },
      { assignment: { kind: 'delete', workerId: this.s.workerId }, ready: exhausted ? undefined : { kind: 'enqueue', due: Date.now() } },
    );
    if (back) this.emit('handedBack', t.id);
  }

  /** Drains: takes nothing new, lets runs finish for `drainTimeoutMs`, aborts and hands back the rest. */
  async stop(drainTimeoutMs: number): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    try {
      if (this.session.state !== 'closed') {
        this.rewriteRecord();
        this.queued.clear(); // read again by the scan, and handed back
        this.scan(); // hands back assigned-but-not-started tasks
        await this.scanner.idle();
        const all = () => Promise.all([...this.running.values()].map((r) => r.done));
        const timers = new AbortController();
        const timeout = () =>
          delay(drainTimeoutMs, timers.signal).then(
            () => 'timeout' as const,
            () => undefined,
          );
        try {
          if ((await Promise.race([all(), timeout()])) === 'timeout') {
            for (const r of this.running.values()) r.ctl.abort(new Error(`scheduler: worker ${this.s.workerId}: stopping`));
            await Promise.race([all(), timeout()]);
          }
        } finally {
          timers.abort();
        }
        await this.store.remove(this.store.worker(this.s.workerId));
      }
    } finally {
      this.session.off('state', this.onState);
      for (const r of this.running.values()) r.ctl.abort(new Error(`scheduler: worker ${this.s.workerId}: stopped`));
    }
  }
}
