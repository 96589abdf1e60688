/**
 * The one waiting toolkit of the recipes: every wait on a watch ends the same way — the awaited
 * change, or the session lost (`SessionExpiredError`, where the wait cannot outlive the session's
 * nodes), or closed (`ClosedError`), or the caller's `signal` / `timeoutMs` (the scope's
 * `AbortedError` / `TimeoutError`). {@link untilEvent} is that wait as a promise. Waits that park
 * by the thousand (lock contenders, ./contender.ts) use its parts directly and stay small: one
 * entry in the session's parked waits ({@link park}: one `lost` / `closed` listener pair per
 * session) and one in its node waits ({@link watchNode}: one watch callback per session). The
 * waits that start with a create ({@link createWithin}) put the create under the same scope, so
 * `timeoutMs` bounds the whole call, the first create and its retries included.
 * @internal
 * @module
 */
import { ClosedError, SessionExpiredError } from '../src/errors.js';
import type { CreateOptions, NodeData, ZkSession } from '../src/session.js';
import type { WaitScope } from '../src/wait.js';

/** What a wait's errors name. */
export interface WaitContext {
  /** Recipe name, e.g. `lock`. */
  readonly recipe: string;
  /** Operation, e.g. `lock.acquire`. */
  readonly op: string;
  /** The recipe's path. */
  readonly path: string;
}

/** A parked wait that the session's end can fail. */
export interface Ending {
  readonly ctx: WaitContext;
  /** Whether `lost` ends it (else only `closed`). */
  readonly onLost: boolean;
  fail(err: Error): void;
}

/**
 * The waits parked on each session, failed together on `lost` / `closed` by one listener pair
 * per session: a waiter costs a set entry, not two listeners (10 000 waiters on one lock would
 * otherwise each hold two listener records and their closures).
 */
const parked = new WeakMap<ZkSession, Set<Ending>>();

function parkedOn(session: ZkSession): Set<Ending> {
  let set = parked.get(session);
  if (set) return set;
  const waits = new Set<Ending>();
  set = waits;
  parked.set(session, waits);
  session.on('lost', () => {
    for (const w of [...waits])
      if (w.onLost) w.fail(new SessionExpiredError(`${w.ctx.recipe}: session lost while waiting on ${w.ctx.path}`, { op: w.ctx.op, path: w.ctx.path }));
  });
  session.on('closed', () => {
    for (const w of [...waits]) w.fail(closedError(w.ctx));
  });
  return waits;
}

/**
 * Parks `w` on the session: `lost` (if `w.onLost`) and `closed` fail it, until {@link unpark}.
 * The set entry is all a parked wait costs the session.
 */
export function park(session: ZkSession, w: Ending): void {
  parkedOn(session).add(w);
}

/** Takes `w` off the session's parked waits. */
export function unpark(session: ZkSession, w: Ending): void {
  parked.get(session)?.delete(w);
}

function closedError(ctx: WaitContext): ClosedError {
  return new ClosedError(`${ctx.recipe}: session closed while waiting on ${ctx.path}`, { op: ctx.op, path: ctx.path });
}

/**
 * Waits for `event`, or until the session is lost (with `lost: 'reject'`, the default: the wait
 * was about nodes of that session) or closed, or the scope fires. Nothing is left registered
 * once it settles.
 */
export function untilEvent<T>(session: ZkSession, scope: WaitScope, ctx: WaitContext, event: Promise<T>, lost: 'reject' | 'ignore' = 'reject'): Promise<T> {
  if (session.state === 'closed') return Promise.reject(closedError(ctx));
  const waits = parkedOn(session);
  return new Promise<T>((resolve, reject) => {
    const ending: Ending = { ctx, onLost: lost === 'reject', fail: reject };
    waits.add(ending);
    scope
      .race(event)
      .then(resolve, reject)
      .finally(() => waits.delete(ending));
  });
}

/** A wait woken by a watch on one node (see {@link watchNode}). */
export interface NodeWaiter {
  /** The node changed or went (or the watch fired for a reason the waiter must check). */
  wake(): void;
}

/**
 * The node waits of one session: the waiters of each watched path, and the one watch callback
 * that every read arming such a wait passes (so 10 000 lock waiters cost the session 10 000 map
 * entries, not 10 000 closures).
 */
class NodeWaits {
  readonly byPath = new Map<string, NodeWaiter | NodeWaiter[]>();
  readonly watcher = (ev: { path: string }): void => {
    const w = this.byPath.get(ev.path);
    if (w === undefined) return;
    this.byPath.delete(ev.path);
    if (Array.isArray(w)) for (const one of w) one.wake();
    else w.wake();
  };
}

const nodeWaits = new WeakMap<ZkSession, NodeWaits>();

/**
 * Registers `w` to be woken by the next watch event on `path` (a one-shot: the event takes it
 * away) and returns the callback to pass as the `watch` of the read that sets the watch.
 * Register *before* that read: the event can come right behind its reply.
 */
export function watchNode(session: ZkSession, path: string, w: NodeWaiter): (ev: { path: string }) => void {
  let waits = nodeWaits.get(session);
  if (!waits) {
    waits = new NodeWaits();
    nodeWaits.set(session, waits);
  }
  const m = waits.byPath;
  const had = m.get(path);
  if (had === undefined) m.set(path, w);
  else if (!Array.isArray(had)) m.set(path, had === w ? w : [had, w]);
  else if (!had.includes(w)) had.push(w);
  return waits.watcher;
}

/** Takes `w` off the waiters of `path` (no-op when an event took it already). */
export function unwatchNode(session: ZkSession, path: string, w: NodeWaiter): void {
  const m = nodeWaits.get(session)?.byPath;
  const had = m?.get(path);
  if (had === undefined) return;
  if (had === w) m!.delete(path);
  else if (Array.isArray(had)) {
    const i = had.indexOf(w);
    if (i >= 0) had.splice(i, 1);
    if (had.length === 0) m!.delete(path);
  }
}

/**
 * A protected create bounded by `scope` (none: the create alone). When the scope fires first the
 * call rejects, and the node the create may still make never blocks the line:
 * - connected: the reply is on its way, so it is awaited and the node deleted before the call
 *   rejects (a cancelled acquire leaves nothing behind, as callers of a timed-out acquire expect);
 * - not connected (or the connection drops meanwhile): the create is cancelled at once, and the
 *   session deletes its node in the background if the server made it (found by its protected
 *   prefix), so a timeout is never stretched by a connection that is down.
 */
export async function createWithin(session: ZkSession, scope: WaitScope | undefined, path: string, data: NodeData, options: CreateOptions): Promise<string> {
  if (!scope?.bound) return session.create(path, data, options);
  const cancel = new AbortController(); // the create's own: aborted only when the scope fires while not connected
  const creating = session.create(path, data, { ...options, signal: cancel.signal });
  try {
    return await scope.race(creating);
  } catch (err) {
    if (!scope.aborted) throw err; // the create itself failed
    await removeLanded(session, creating, cancel);
    throw err;
  }
}

async function removeLanded(session: ZkSession, creating: Promise<string>, cancel: AbortController): Promise<void> {
  if (session.state !== 'connected') return void cancel.abort();
  const onState = (state: string) => {
    if (state !== 'connected') cancel.abort();
  };
  session.on('state', onState);
  try {
    const made = await creating;
    await session.delete(made, { guaranteed: true });
  } catch {
    // Cancelled (the session cleans up), failed (nothing made), or the delete handed to the background.
  } finally {
    session.off('state', onState);
  }
}
