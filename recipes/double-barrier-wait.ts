/**
 * The double barrier's waiting plumbing: one wait's wake-up loop (a watch, a reconnection or the
 * session's close wakes it; every wake-up only means "check again") and small promise helpers.
 * @internal
 * @module
 */
import type { ZkSession } from '../src/session.js';
import { ClosedError, NoNodeError, SessionExpiredError, isRetryable } from '../src/errors.js';
import { WaitScope, deferred, type Deferred, type WaitOptions } from '../src/wait.js';

/** Failures after which the next reconnection lets us check again. */
export function transient(err: unknown): boolean {
  return err instanceof SessionExpiredError || isRetryable(err);
}

/** Resolves when `p` does, or when it fails with NO_NODE. */
export function ignoreNoNode(p: Promise<void>): Promise<void> {
  return p.catch((err: unknown) => {
    if (!(err instanceof NoNodeError)) throw err;
  });
}

/** Like Promise.all, but waits for every promise to settle before rejecting (no stray rejections). */
export async function settleAll<A, B, C>(
  a: Promise<A> | undefined,
  b: Promise<B> | undefined,
  c: Promise<C>,
  ...more: (Promise<unknown> | undefined)[]
): Promise<[A | undefined, B | undefined, C]> {
  const r = await Promise.allSettled([a, b, c, ...more]);
  const failed = r.find((x): x is PromiseRejectedResult => x.status === 'rejected');
  if (failed) throw failed.reason;
  return r.map((x) => (x as PromiseFulfilledResult<unknown>).value) as [A | undefined, B | undefined, C];
}

/**
 * One wait's plumbing: the cancellation scope plus a wake-up that a watch, a reconnection or the
 * session's close triggers. Every wake-up only means "check again".
 */
export class WakeLoop {
  readonly scope: WaitScope;
  private wake: Deferred<void> | undefined;
  private readonly onReconnected: (info: { newSession: boolean }) => void;
  private readonly onState: (state: string) => void;

  constructor(
    private readonly session: ZkSession,
    wait: WaitOptions | undefined,
    op: string,
    path: string,
    reconnected?: (info: { newSession: boolean }) => void,
  ) {
    this.scope = new WaitScope(wait, op, path);
    this.onReconnected = (info) => {
      reconnected?.(info);
      this.wake?.resolve();
    };
    this.onState = (state) => {
      if (state === 'closed') this.wake?.reject(new ClosedError(`${op} ${path}: session closed`, { op, path }));
    };
    session.on('reconnected', this.onReconnected);
    session.on('state', this.onState);
  }

  next(): Deferred<void> {
    const w = deferred<void>();
    w.promise.catch(() => undefined);
    this.wake = w;
    return w;
  }

  dispose(): void {
    this.session.off('reconnected', this.onReconnected);
    this.session.off('state', this.onState);
    this.scope.dispose();
  }
}
