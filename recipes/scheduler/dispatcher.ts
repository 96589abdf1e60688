/**
 * The dispatcher role: while this instance holds the leadership of `<path>/leader`, it scans
 * (./scan.ts): fires due schedule periods, takes tasks back from vanished workers, repairs
 * interrupted steps and assigns due tasks. A scan runs on every poke (a watch fired, the term
 * began or ended) and when the last one said the next is due. See ./index.ts for the layout and
 * the step ordering.
 * @internal
 * @module
 */
import type { ZkSession } from '../../src/session.js';
import { LeaderLatch } from '../leader-latch.js';
import { Rerun } from '../rerun.js';
import { Scanner } from './scan.js';
import type { Store } from './store.js';
import type { SchedulerEvents } from './types.js';

type Emit = <K extends keyof SchedulerEvents>(event: K, ...args: SchedulerEvents[K]) => void;

/** Dispatcher settings taken from the scheduler's options. */
export interface DispatcherSettings {
  backoffMs: number;
  rescanMs: number;
  /** Participant id written into the latch node. */
  id: string;
}

/** Campaigns for leadership and, while leader, keeps tasks moving. */
export class Dispatcher {
  private readonly stopCtl = new AbortController();
  private readonly session: ZkSession;
  private readonly armed = new Set<string>();
  private readonly scanner: Scanner;
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
    this.scanner = new Scanner(store, { emit, watchOn: (p) => this.watchOn(p), readyWatch: () => this.kick(), backoffMs: s.backoffMs });
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
        this.scanner.reset(); // another dispatcher may have led meanwhile: read everything
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
          next = Math.min(next, await this.scanner.pass(lost));
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
}
