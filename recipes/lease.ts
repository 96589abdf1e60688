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
 * Connection states ({@link ConnectionState}), for every lease of every contender recipe (lock,
 * read-write lock, semaphore, selector): on `suspended` the lease must be presumed lost (its
 * `signal` aborts and `lost` fires), because the session may expire before the connection returns
 * and another client may then acquire. On `lost` the node is gone with the session. A lost lease
 * stays lost: acquire again. While *waiting* to acquire, `suspended` does not stop the wait (the
 * watch survives a reconnect to the same session) and `lost` fails it with `SessionExpiredError`.
 */
export class Lease extends EventEmitter<LeaseEvents> {
  /** Full path of the node that represents this lease. */
  readonly path: string;
  /** Strictly increasing across successive holders of the same path: pass it to the resource. */
  readonly fencingToken: bigint;
  private ctl: AbortController | undefined;
  private lostReason: LeaseLostReason | 'released' | undefined;
  private releasing: Promise<void> | undefined;
  private readonly detach: () => void;

  /**
   * @internal created by recipes
   * @param session - the session holding the node
   * @param path - the node
   * @param fencingToken - token of the listing that confirmed ownership
   * @param doRelease - deletes the node (and whatever else the recipe holds)
   */
  constructor(
    session: ZkSession,
    path: string,
    fencingToken: bigint,
    private readonly doRelease: () => Promise<void>,
  ) {
    super();
    this.path = path;
    this.fencingToken = fencingToken;
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

  /**
   * Aborts when the lease may be lost (suspended, lost, closed) or is released; give it to the
   * guarded work. Created on first use: most leases are released without anyone asking.
   */
  get signal(): AbortSignal {
    if (!this.ctl) {
      this.ctl = new AbortController();
      if (this.lostReason) this.ctl.abort(this.reasonError());
    }
    return this.ctl.signal;
  }

  /** True once released, or once the lease may have been lost. */
  get isLost(): boolean {
    return this.lostReason !== undefined;
  }

  private reasonError(): LockLostError {
    const r = this.lostReason;
    return new LockLostError(r === 'released' ? `lease ${this.path}: released` : `lease ${this.path}: may be lost (${r})`, { path: this.path, op: 'lease' });
  }

  private markLost(reason: LeaseLostReason): void {
    if (this.lostReason) return;
    this.lostReason = reason;
    this.ctl?.abort(this.reasonError());
    if (!this.releasing) this.emit('lost', reason);
  }

  /** Releases the lease (deletes its node, guaranteed). Idempotent; safe after `lost`. */
  release(): Promise<void> {
    if (!this.releasing) {
      this.detach();
      if (!this.lostReason) {
        this.lostReason = 'released';
        this.ctl?.abort(this.reasonError());
      }
      this.releasing = this.doRelease();
    }
    return this.releasing;
  }

  /** Releases the lease at the end of an `await using` scope. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.release();
  }
}
