/**
 * The one waiting toolkit of the recipes: every wait on a watch ends in {@link untilEvent}, so
 * each ends the same way — the awaited change, or the session lost (`SessionExpiredError`, where
 * the wait cannot outlive the session's nodes), or closed (`ClosedError`), or the caller's
 * `signal` / `timeoutMs` (the scope's `AbortedError` / `TimeoutError`). The waits that start with
 * a create ({@link createWithin}) put the create under the same scope, so `timeoutMs` bounds the
 * whole call, the first create and its retries included.
 * @internal
 * @module
 */
import { ClosedError, NoNodeError, SessionExpiredError } from '../src/errors.js';
import type { CreateOptions, NodeData, ZkSession } from '../src/session.js';
import { deferred, type WaitScope } from '../src/wait.js';

/** What a wait's errors name. */
export interface WaitContext {
  /** Recipe name, e.g. `lock`. */
  readonly recipe: string;
  /** Operation, e.g. `lock.acquire`. */
  readonly op: string;
  /** The recipe's path. */
  readonly path: string;
}

/**
 * Waits for `event`, or until the session is lost (with `lost: 'reject'`, the default: the wait
 * was about nodes of that session) or closed, or the scope fires. Listeners are removed when it
 * settles.
 */
export async function untilEvent<T>(
  session: ZkSession,
  scope: WaitScope,
  ctx: WaitContext,
  event: Promise<T>,
  lost: 'reject' | 'ignore' = 'reject',
): Promise<T> {
  const ended = deferred<never>();
  ended.promise.catch(() => undefined); // observed through the race below; never unhandled
  const onLost = () => ended.reject(new SessionExpiredError(`${ctx.recipe}: session lost while waiting on ${ctx.path}`, { op: ctx.op, path: ctx.path }));
  const onClosed = () => ended.reject(new ClosedError(`${ctx.recipe}: session closed while waiting on ${ctx.path}`, { op: ctx.op, path: ctx.path }));
  if (lost === 'reject') session.on('lost', onLost);
  session.on('closed', onClosed);
  if (session.state === 'closed') onClosed();
  try {
    return await scope.race(Promise.race([event, ended.promise]));
  } finally {
    session.off('lost', onLost);
    session.off('closed', onClosed);
  }
}

/**
 * Waits until `target` is deleted (at once when it is gone already). Reads it with `get`, not
 * `exists`, so no watch is left behind on a node that is already gone. Returns early, for the
 * caller to look again, when the session is no longer `sessionAtStart` (the watch went with it).
 */
export async function untilDeleted(session: ZkSession, target: string, scope: WaitScope, ctx: WaitContext, sessionAtStart: string): Promise<void> {
  const gone = deferred<void>();
  gone.promise.catch(() => undefined);
  try {
    await scope.race(session.get(target, { watch: () => gone.resolve(), signal: scope.boundSignal }));
  } catch (err) {
    if (err instanceof NoNodeError) return;
    throw err;
  }
  if (session.sessionId !== sessionAtStart) return;
  await untilEvent(session, scope, ctx, gone.promise);
}

/**
 * A protected create bounded by `scope` (none: the create alone). When the scope fires first the
 * call rejects at once; the node the create may still make (its reply comes later, or a retry
 * finds it by its protected prefix) is deleted with a guaranteed delete once its name is known,
 * so a cancelled acquire leaves no node behind to block the line.
 */
export async function createWithin(session: ZkSession, scope: WaitScope | undefined, path: string, data: NodeData, options: CreateOptions): Promise<string> {
  if (!scope) return session.create(path, data, options);
  // The signal stops a create still waiting for the connection from going out at all.
  const creating = session.create(path, data, { ...options, signal: scope.boundSignal });
  try {
    return await scope.race(creating);
  } catch (err) {
    creating.then((made) => session.delete(made, { guaranteed: true })).catch(() => undefined); // failed, or gone with the session
    throw err;
  }
}
