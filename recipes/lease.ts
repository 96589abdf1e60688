/**
 * A held lock, semaphore lease or leadership term: what a caller releases.
 * @module
 */
import { EventEmitter } from 'eventemitter3';
import type { ZkSession } from '../src/session.js';
import { LockLostError } from '../src/errors.js';

/** Why a lease may no longer be held. */
export type LeaseLostReason = 'suspended' | 'lost' | 'closed';

/** Typed events of a {@link Lease}. */
export interface LeaseEvents {
  /**
   * The lease may be lost: the connection was suspended (another client may hold it once our
   * session expires) or the session was lost or closed. Fires at most once; `signal` aborts too.
   */
  lost: [reason: LeaseLostReason];
}

/**
 * A held lease. `await using lease = await lock.acquire()` releases it at the end of the scope.
 *
 * On `suspended` the lease must be presumed lost (its `signal` aborts and `lost` fires), because
 * the session may expire before the connection returns and another client may then acquire. On
 * `lost` the node is gone with the session. A lost lease stays lost: acquire again.
 */
export class Lease extends EventEmitter<LeaseEvents> {
  /** Full path of the node that represents this lease. */
  readonly path: string;
  /** Strictly increasing across successive holders of the same path: pass it to the resource. */
  readonly fencingToken: bigint;
  /** Aborts when the lease may be lost (suspended, lost, closed); give it to the guarded work. */
  readonly signal: AbortSignal;
  private readonly ctl = new AbortController();
  private releasing: Promise<void> | undefined;
  private readonly detach: () => void;

  /**
   * @internal created by recipes
   * @param session - the session holding the node
   * @param path - the node
   * @param fencingToken - token of the listing that confirmed ownership
   * @param doRelease - deletes the node (and whatever else the recipe holds)
   */
  constructor(session: ZkSession, path: string, fencingToken: bigint, private readonly doRelease: () => Promise<void>) {
    super();
    this.path = path;
    this.fencingToken = fencingToken;
    this.signal = this.ctl.signal;
    const onSuspended = () => this.markLost('suspended');
    const onLost = () => this.markLost('lost');
    const onClosed = () => this.markLost('closed');
    session.on('suspended', onSuspended);
    session.on('lost', onLost);
    session.on('closed', onClosed);
    this.detach = () => {
      session.off('suspended', onSuspended);
      session.off('lost', onLost);
      session.off('closed', onClosed);
    };
    if (session.state !== 'connected') this.markLost(session.state === 'suspended' ? 'suspended' : 'lost');
  }

  /** True once released, or once the lease may have been lost. */
  get isLost(): boolean {
    return this.ctl.signal.aborted;
  }

  private markLost(reason: LeaseLostReason): void {
    if (this.ctl.signal.aborted) return;
    this.ctl.abort(new LockLostError(`lease ${this.path}: may be lost (${reason})`, { path: this.path, op: 'lease' }));
    if (!this.releasing) this.emit('lost', reason);
  }

  /** Releases the lease (deletes its node, guaranteed). Idempotent; safe after `lost`. */
  release(): Promise<void> {
    if (!this.releasing) {
      this.detach();
      if (!this.ctl.signal.aborted) this.ctl.abort(new LockLostError(`lease ${this.path}: released`, { path: this.path, op: 'release' }));
      this.releasing = this.doRelease();
    }
    return this.releasing;
  }

  /** Releases the lease at the end of an `await using` scope. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.release();
  }
}
