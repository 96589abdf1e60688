/**
 * Cancelling one session call with the caller's `signal` (the rules callers see are on
 * {@link SessionCallOptions}): the signal is checked with the call's other arguments, an aborted
 * signal stops the call before anything is sent, and a request on the wire is raced against it;
 * the request's late outcome is then left to whoever must clean up after it (a protected create,
 * a watch). Each race removes its listener from the signal as it settles, so that one long-lived
 * signal can serve any number of calls.
 * @internal
 * @module
 */
import { AbortedError, InvalidArgumentError, ZkError } from './errors.js';
import type { SessionCallOptions } from './session-types.js';

function where(op: string, path: string | undefined): string {
  return path === undefined ? op : `${op} ${path}`;
}

/**
 * The `signal` of a call's options, checked (with the options object itself).
 * @throws InvalidArgumentError when `options` is not an object or `signal` not an AbortSignal
 */
export function callSignal(options: SessionCallOptions | undefined, op: string, path?: string): AbortSignal | undefined {
  if (options === undefined) return undefined;
  if (options === null || typeof options !== 'object') throw new InvalidArgumentError(`${where(op, path)}: options must be an object`, { op, path });
  const { signal } = options;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new InvalidArgumentError(`${where(op, path)}: option signal must be an AbortSignal, got ${signal === null ? 'null' : typeof signal}`, { op, path });
  }
  return signal;
}

/** The error an aborted call rejects with: the signal's reason when it is a ZkError, else an AbortedError. */
export function abortError(signal: AbortSignal, op: string, path?: string): ZkError {
  const reason: unknown = signal.reason;
  if (reason instanceof ZkError) return reason;
  return new AbortedError(`${where(op, path)}: aborted`, { op, path, cause: reason });
}

/** Throws the call's abort error if `signal` has aborted. */
export function throwIfAborted(signal: AbortSignal | undefined, op: string, path?: string): void {
  if (signal?.aborted) throw abortError(signal, op, path);
}

/**
 * Settles with `p`, or rejects with the abort error as soon as `signal` aborts (`p` then goes on
 * unobserved: its late rejection is swallowed, never unhandled).
 */
export function raceAbort<T>(p: Promise<T>, signal: AbortSignal | undefined, op: string, path?: string): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) {
    p.catch(() => undefined);
    return Promise.reject(abortError(signal, op, path));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortError(signal, op, path));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
