/**
 * Leader election that runs a function while leading, wire-compatible with Curator's
 * LeaderSelector (which is an InterProcessMutex whose nodes carry the participant id).
 *
 * Layout:
 * ```
 * <path>/                                    container
 *   _c_<uuid>-lock-0000000004               ephemeral-sequential, data = participant id (UTF-8)
 * ```
 * A participant acquires the mutex (see ./lock.ts), runs `onLeadership(signal, term)`, and
 * releases the mutex when it returns; with `autoRequeue` it then queues again at the back, so
 * leadership rotates in arrival order.
 * @module
 */
import createDebug from 'debug';
import { EventEmitter } from 'eventemitter3';
import type { ZkSession } from '../src/session.js';
import { AbortedError, ClosedError, IllegalStateError, InvalidArgumentError, LockLostError } from '../src/errors.js';
import { delay } from '../src/wait.js';
import { listParticipants, type LeaderTerm, type Participant } from './leader-latch.js';
import type { Lease } from './lease.js';
import { LOCK_MARKER, Lock } from './lock.js';
import { checkOptions, checkRecipeArgs, defaultNodeData } from './options.js';

const log = createDebug('zk-recipes:leader-selector');

/** Options of {@link LeaderSelector}. */
export interface LeaderSelectorOptions {
  /** This participant's id, written into its node. @default `<hostname>/<pid>` */
  id?: string;
  /**
   * Runs while this participant leads; leadership ends when the returned promise settles.
   * `signal` aborts when leadership may be lost (connection suspended, session lost) or the
   * selector is closed: stop the work then. `term.fencingToken` guards external resources.
   */
  onLeadership: (signal: AbortSignal, term: LeaderTerm) => Promise<void> | void;
  /** Queue again after each term (and after connection trouble while waiting). @default false */
  autoRequeue?: boolean;
}

/** Typed events of a {@link LeaderSelector}. */
export interface LeaderSelectorEvents {
  /** A term began; `onLeadership` is about to run. */
  isLeader: [term: LeaderTerm];
  /** The term ended, or its signal aborted (leadership may be lost). */
  notLeader: [];
  /** `onLeadership` threw, or waiting for leadership failed (without `autoRequeue`). */
  error: [err: unknown];
}

type State = 'latent' | 'started' | 'closed';

/**
 * Runs `onLeadership` on one participant of `path` at a time.
 *
 * Connection states: as every contender recipe's (see {@link Lease}): with `autoRequeue` a wait
 * ended by `lost` queues again once connected; while leading, `suspended` and `lost` abort the
 * term's signal and emit `notLeader`, and the mutex is released once `onLeadership` returns.
 */
export class LeaderSelector extends EventEmitter<LeaderSelectorEvents> {
  /** This participant's id. */
  readonly id: string;
  private readonly lock: Lock;
  private readonly onLeadership: LeaderSelectorOptions['onLeadership'];
  private readonly autoRequeue: boolean;
  private state: State = 'latent';
  private leading = false;
  private loop: Promise<void> | undefined;
  /** Queued or leading: `requeue()` says false. */
  private queued = false;
  /** Counts `requeue()` calls, so an ending run never clears the flag of a newer one. */
  private generation = 0;
  private readonly closeCtl = new AbortController();

  /**
   * @param session - the session that owns our node
   * @param path - the election's path (absolute, not under /zookeeper)
   * @param options - see {@link LeaderSelectorOptions}
   * @throws InvalidPathError, InvalidArgumentError (nothing is written)
   */
  constructor(
    private readonly session: ZkSession,
    readonly path: string,
    options: LeaderSelectorOptions,
  ) {
    super();
    checkRecipeArgs('leader-selector', session, path);
    if (options === undefined)
      throw new InvalidArgumentError(`leader-selector: options with onLeadership are required (path ${path})`, { op: 'leader-selector', path });
    checkOptions('leader-selector', options, ['id', 'onLeadership', 'autoRequeue']);
    if (typeof options.onLeadership !== 'function')
      throw new InvalidArgumentError(`leader-selector: option onLeadership must be a function (path ${path})`, { op: 'leader-selector', path });
    const id = options.id ?? defaultNodeData();
    if (typeof id !== 'string') throw new InvalidArgumentError(`leader-selector: option id must be a string (path ${path})`, { op: 'leader-selector', path });
    if (options.autoRequeue !== undefined && typeof options.autoRequeue !== 'boolean') {
      throw new InvalidArgumentError(`leader-selector: option autoRequeue must be a boolean (path ${path})`, { op: 'leader-selector', path });
    }
    this.id = id;
    this.onLeadership = options.onLeadership;
    this.autoRequeue = options.autoRequeue ?? false;
    this.lock = new Lock(session, path, { data: id.length > 0 ? id : defaultNodeData() });
  }

  /**
   * Queues for leadership in the background and returns at once.
   * @throws IllegalStateError on a second call
   */
  start(): void {
    if (this.state !== 'latent')
      throw new IllegalStateError(`leader-selector: ${this.path} already ${this.state}`, { op: 'leader-selector.start', path: this.path });
    this.state = 'started';
    this.requeue();
  }

  /**
   * Queues again after a term ended (without `autoRequeue`).
   * @returns false if already queued or leading
   * @throws IllegalStateError unless started
   */
  requeue(): boolean {
    if (this.state !== 'started')
      throw new IllegalStateError(`leader-selector: ${this.path} is ${this.state}`, { op: 'leader-selector.requeue', path: this.path });
    if (this.queued) return false;
    this.queued = true;
    const gen = ++this.generation;
    // A term that just ended may still be releasing its node: the new run starts after it.
    const next: Promise<void> = (this.loop ?? Promise.resolve())
      .then(() => this.run(gen))
      .finally(() => {
        if (this.loop === next) this.loop = undefined;
      });
    this.loop = next;
    return true;
  }

  /** True while `onLeadership` runs and its signal has not aborted. */
  hasLeadership(): boolean {
    return this.leading;
  }

  /** Every participant, in queue order (the first present one leads). Reads the server. */
  getParticipants(): Promise<Participant[]> {
    return listParticipants(this.session, this.path, LOCK_MARKER);
  }

  /**
   * Leaves: aborts a wait for leadership, aborts a running term's signal, waits for
   * `onLeadership` to return, and releases the mutex (guaranteed delete). Idempotent.
   */
  async close(): Promise<void> {
    if (this.state === 'closed') return this.loop?.catch(() => undefined);
    this.state = 'closed';
    this.closeCtl.abort(new ClosedError(`leader-selector: ${this.path} closed`, { op: 'leader-selector.close', path: this.path }));
    await this.loop?.catch(() => undefined);
  }

  /** Closes the selector at the end of an `await using` scope. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  private async run(gen: number): Promise<void> {
    try {
      await this.contend();
    } finally {
      if (this.generation === gen) this.queued = false;
    }
  }

  private async contend(): Promise<void> {
    while (this.state === 'started') {
      let lease: Lease;
      try {
        lease = await this.lock.acquire({ signal: this.closeCtl.signal });
      } catch (err) {
        if (this.state !== 'started' || err instanceof AbortedError || this.session.state === 'closed') return;
        if (!this.autoRequeue) {
          this.emit('error', err);
          return;
        }
        log('%s: waiting for leadership failed (%s); queueing again', this.path, (err as Error).message);
        await delay(200, this.closeCtl.signal).catch(() => undefined);
        await this.session.waitConnected().catch(() => undefined);
        continue;
      }
      await this.runTerm(lease);
      if (!this.autoRequeue) return;
    }
  }

  private async runTerm(lease: Lease): Promise<void> {
    const ctl = new AbortController();
    const term: LeaderTerm = { fencingToken: lease.fencingToken, path: lease.path };
    const end = (reason: unknown) => {
      if (!ctl.signal.aborted) ctl.abort(reason);
      if (!this.autoRequeue) this.queued = false; // requeue() works from `notLeader` on, while the node is released
      if (this.leading) {
        this.leading = false;
        this.emit('notLeader');
      }
    };
    const onLeaseLost = () => end(lease.signal.reason);
    const onClose = () => end(this.closeCtl.signal.reason);
    try {
      if (lease.signal.aborted || this.state !== 'started') return;
      lease.signal.addEventListener('abort', onLeaseLost, { once: true });
      this.closeCtl.signal.addEventListener('abort', onClose, { once: true });
      this.leading = true;
      log('%s: leading as %s (token %s)', this.path, term.path, term.fencingToken);
      this.emit('isLeader', term);
      try {
        await this.onLeadership(ctl.signal, term);
      } catch (err) {
        if (!(ctl.signal.aborted && (err === ctl.signal.reason || err instanceof LockLostError || err instanceof ClosedError))) this.emit('error', err);
      }
    } finally {
      lease.signal.removeEventListener('abort', onLeaseLost);
      this.closeCtl.signal.removeEventListener('abort', onClose);
      end(new LockLostError(`leader-selector: term on ${this.path} ended`, { op: 'leader-selector', path: this.path }));
      await lease.release().catch((err: unknown) => log('%s: release failed: %s', this.path, (err as Error).message));
    }
  }
}
