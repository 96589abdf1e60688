/**
 * What happens when a listener or a watch callback throws: the error is logged and reported as a
 * process warning (as the Java client and kazoo log a failing watcher), and the code that emitted
 * goes on. A throwing listener must not stop a connection loop or leave a state change half
 * done; nor may it vanish without a trace.
 * @internal
 * @module
 */
import createDebug from 'debug';
import type { EventEmitter } from 'eventemitter3';

const log = createDebug('zk-recipes:listeners');

/** Reports an error thrown by a callback of ours (`what` says which). */
export function callbackThrew(what: string, err: unknown): void {
  log('%s threw: %O', what, err);
  process.emitWarning(`zk-recipes: ${what} threw: ${(err as Error)?.message ?? String(err)}`, 'ZkListenerWarning');
}

/** Emits `event` on `emitter`; a listener that throws is reported, and the caller goes on. */
export function emitSafely<E extends EventEmitter.ValidEventTypes, T extends EventEmitter.EventNames<E>>(
  emitter: EventEmitter<E>,
  event: T,
  ...args: EventEmitter.EventArgs<E, T>
): void {
  try {
    emitter.emit(event, ...args);
  } catch (err) {
    callbackThrew(`a '${String(event)}' listener`, err);
  }
}
