/**
 * A session's start and end, the parts of them that are more than a call on the connection: the
 * first connection (a session whose first connection fails is closed again, so that nothing is
 * left open; the namespace node is made once it succeeds), waiting for the connection with a
 * timeout or with call options, and closing (every wait failed and the persistent watches
 * forgotten at once, then the transport closed and `closed` emitted). The session class
 * (session.ts) keeps only the wiring of its parts.
 * @internal
 * @module
 */
import type { EventEmitter } from 'eventemitter3';
import { InvalidArgumentError } from './errors.js';
import { emitSafely } from './listeners.js';
import { callSignal } from './session-abort.js';
import type { SessionCore } from './session-calls.js';
import type { SessionConnection } from './session-connection.js';
import { mkdirs } from './session-create.js';
import type { SessionCallOptions, SessionEvents } from './session-types.js';
import type { PersistentWatches } from './session-watch.js';

/** Makes the first connection, then the namespace node; closes the session (`close`) when the connection fails. */
export async function openSession(core: SessionCore, conn: SessionConnection, close: () => Promise<void>): Promise<void> {
  try {
    await conn.start();
  } catch (err) {
    await close();
    throw err;
  }
  if (core.opts.namespace) await mkdirs(core, '/', 'persistent', core.opts.defaultAcl);
}

/**
 * Waits for the connection: up to `timeout` ms, or with `{ timeoutMs, signal }` (both checked);
 * either way `connectTimeoutMs` by default.
 * @throws InvalidArgumentError for a bad `timeoutMs` or `signal`
 */
export function waitForConnection(core: SessionCore, timeout: number | (SessionCallOptions & { timeoutMs?: number }) | undefined, op: string): Promise<void> {
  if (typeof timeout === 'number' || timeout === undefined) return core.waitConnected(timeout ?? core.opts.connectTimeoutMs, op);
  const signal = callSignal(timeout, op);
  const ms = timeout.timeoutMs ?? core.opts.connectTimeoutMs;
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) {
    throw new InvalidArgumentError(`${op}: option timeoutMs must be a finite number >= 0, got ${String(ms)}`, { op });
  }
  return core.waitConnected(ms, op, signal);
}

/**
 * Closes the session: at once, the connection marked closed (every wait fails) and the
 * persistent watches forgotten; then the transport closed and `closed` emitted on `session`.
 */
export async function closeSession(conn: SessionConnection, watches: PersistentWatches, session: EventEmitter<SessionEvents>): Promise<void> {
  const t = conn.close();
  watches.clear();
  if (t) {
    t.removeAllListeners();
    await t.close().catch(() => undefined);
  }
  emitSafely(session, 'closed');
}
