/**
 * Cancellation and deadlines for every wait: `{ signal, timeoutMs }`.
 * @module
 */
import { AbortedError, InvalidArgumentError, TimeoutError } from './errors.js';

/** Options accepted by every call that may wait. */
export interface WaitOptions {
  /** Cancels the wait; an already-aborted signal is honoured at once. */
  signal?: AbortSignal | undefined;
  /** Gives up after this many milliseconds (a finite number ≥ 0). Unset: wait without limit. */
  timeoutMs?: number | undefined;
}

/**
 * Validates `{ signal, timeoutMs }`.
 * @throws InvalidArgumentError naming the bad option
 */
export function checkWaitOptions(opts: WaitOptions | undefined, op: string): void {
  if (opts === undefined) return;
  if (opts === null || typeof opts !== 'object') throw new InvalidArgumentError(`${op}: options must be an object`, { op });
  const { timeoutMs, signal } = opts;
  if (timeoutMs !== undefined && (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs < 0)) {
    throw new InvalidArgumentError(`${op}: timeoutMs must be a finite number >= 0, got ${String(timeoutMs)}`, { op });
  }
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new InvalidArgumentError(`${op}: signal must be an AbortSignal`, { op });
  }
}

/**
 * A cancellation scope for one wait: combines the caller's signal and timeout into one
 * `AbortSignal` and tells why it fired. Always call `dispose()` (in `finally`).
 */
export class WaitScope {
  private ctl: AbortController | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly onAbort: (() => void) | undefined;

  /**
   * @param opts - the caller's `{ signal, timeoutMs }`
   * @param op - operation named in errors
   * @param path - path named in errors
   */
  constructor(
    private readonly opts: WaitOptions | undefined,
    private readonly op: string,
    private readonly path?: string,
  ) {
    const s = opts?.signal;
    // Fast path: with neither a signal nor a timeout there is nothing to combine or race.
    if (!s && opts?.timeoutMs === undefined) return;
    const ctl = new AbortController();
    this.ctl = ctl;
    this.onAbort = () => ctl.abort(this.error('aborted'));
    if (s?.aborted) this.onAbort();
    else s?.addEventListener('abort', this.onAbort, { once: true });
    if (opts?.timeoutMs !== undefined && !ctl.signal.aborted) {
      this.timer = setTimeout(() => ctl.abort(this.error('timeout')), opts.timeoutMs);
    }
  }

  /** Aborts when the caller's signal aborts or the timeout passes (never, without either). */
  get signal(): AbortSignal {
    if (!this.ctl) this.ctl = new AbortController();
    return this.ctl.signal;
  }

  /** The scope's signal when the caller gave a signal or a timeout; undefined when nothing can end it (no listener to add). */
  get boundSignal(): AbortSignal | undefined {
    return this.opts?.signal !== undefined || this.opts?.timeoutMs !== undefined ? this.signal : undefined;
  }

  /** The error to throw for this scope's abort. */
  error(kind: 'aborted' | 'timeout'): Error {
    const where = this.path ? ` ${this.path}` : '';
    return kind === 'timeout'
      ? new TimeoutError(`${this.op}${where}: timed out after ${this.opts?.timeoutMs} ms`, { op: this.op, path: this.path })
      : new AbortedError(`${this.op}${where}: aborted`, { op: this.op, path: this.path, cause: this.opts?.signal?.reason });
  }

  /** Throws the scope's error if it has fired. */
  throwIfAborted(): void {
    if (this.ctl?.signal.aborted) throw this.ctl.signal.reason;
  }

  /** Resolves with `p`, or rejects with the scope's error as soon as it fires. */
  race<T>(p: Promise<T>): Promise<T> {
    const ctl = this.ctl;
    if (!ctl) return p;
    const signal = ctl.signal;
    if (signal.aborted) return Promise.reject(signal.reason);
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      p.then(
        (v) => {
          signal.removeEventListener('abort', onAbort);
          resolve(v);
        },
        (e) => {
          signal.removeEventListener('abort', onAbort);
          reject(e);
        },
      );
    });
  }

  /** Removes timers and listeners. */
  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.onAbort) this.opts?.signal?.removeEventListener('abort', this.onAbort);
  }
}

/** A promise with its resolve/reject exposed (Node 20 has no `Promise.withResolvers`). */
export interface Deferred<T> {
  promise: Promise<T>;
  resolve: (v: T) => void;
  reject: (e: unknown) => void;
}

/** Creates a {@link Deferred}. */
export function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Sleeps `ms`, or rejects early when `signal` aborts. */
export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
