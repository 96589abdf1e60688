/**
 * Cancellation and deadlines for every wait: `{ signal, timeoutMs }`.
 * @module
 */
import { AbortedError, InvalidArgumentError, TimeoutError } from './errors.js';
import { callbackThrew } from './listeners.js';

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
 *
 * Cheap to hold while parked (ten thousand lock waiters each hold one): the combined
 * `AbortController` is made only when someone asks for {@link WaitScope.signal}; {@link WaitScope.race}
 * and {@link WaitScope.onFire} need none; the listener on the caller's signal exists only with a
 * signal, and the error is made when the scope fires. Deadlines share one timer: the scopes with
 * a pending `timeoutMs` wait in a min-heap by deadline, and one Node timer is set for the earliest
 * (a timer of its own would cost each scope ~240 B: the Timeout, its arguments, two numbers).
 */
export class WaitScope {
  private ctl: AbortController | undefined;
  /** The deadline (`performance.now()` ms) while in the deadline heap. */
  private at = 0;
  /** Index in the deadline heap; -1 when not there. */
  private slot = -1;
  private onAbort: (() => void) | undefined;
  /** The scope's error, once it has fired. */
  private reason: Error | undefined;
  /** What to call when it fires: one function, or several. */
  private hooks: FireHook | FireHook[] | undefined;

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
    if (s?.aborted) {
      this.fire('aborted');
      return;
    }
    if (s) {
      this.onAbort = () => this.fire('aborted');
      s.addEventListener('abort', this.onAbort, { once: true });
    }
    if (opts?.timeoutMs !== undefined) {
      this.at = performance.now() + opts.timeoutMs;
      WaitScope.addDue(this);
    }
  }

  /** Aborts when the caller's signal aborts or the timeout passes (never, without either). */
  get signal(): AbortSignal {
    if (!this.ctl) {
      this.ctl = new AbortController();
      if (this.reason) this.ctl.abort(this.reason);
    }
    return this.ctl.signal;
  }

  /** Whether a signal or a timeout can end this scope. */
  get bound(): boolean {
    return this.opts?.signal !== undefined || this.opts?.timeoutMs !== undefined;
  }

  /** Whether the scope has fired (its error is what {@link WaitScope.throwIfAborted} throws). */
  get aborted(): boolean {
    return this.reason !== undefined;
  }

  /** The scope's signal when the caller gave a signal or a timeout; undefined when nothing can end it (no listener to add). */
  get boundSignal(): AbortSignal | undefined {
    return this.bound ? this.signal : undefined;
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
    if (this.reason) throw this.reason;
  }

  /**
   * Calls `hook` with the scope's error when the scope fires (at once if it has fired), until
   * {@link WaitScope.offFire} or `dispose()`. A scope that nothing can end keeps no hook.
   */
  onFire(hook: FireHook): void {
    if (this.reason) {
      hook(this.reason);
      return;
    }
    if (!this.bound) return;
    const h = this.hooks;
    if (h === undefined) this.hooks = hook;
    else if (typeof h === 'function') this.hooks = [h, hook];
    else h.push(hook);
  }

  /** Takes back a hook given to {@link WaitScope.onFire}. */
  offFire(hook: FireHook): void {
    const h = this.hooks;
    if (h === hook) this.hooks = undefined;
    else if (typeof h === 'object') {
      const i = h.indexOf(hook);
      if (i >= 0) h.splice(i, 1);
      if (h.length < 2) this.hooks = h[0]; // back to one function (or none): no array kept while parked
    }
  }

  /** Resolves with `p`, or rejects with the scope's error as soon as it fires. */
  race<T>(p: Promise<T>): Promise<T> {
    if (!this.bound) return p;
    if (this.reason) return Promise.reject(this.reason);
    return new Promise<T>((resolve, reject) => {
      this.onFire(reject);
      p.then(
        (v) => {
          this.offFire(reject);
          resolve(v);
        },
        (e) => {
          this.offFire(reject);
          reject(e);
        },
      );
    });
  }

  /** Removes timers and listeners. */
  dispose(): void {
    if (this.slot >= 0) WaitScope.removeDue(this);
    if (this.onAbort) this.opts?.signal?.removeEventListener('abort', this.onAbort);
    this.hooks = undefined;
  }

  /** Fires once: the error made, the signal aborted, the hooks called. */
  private fire(kind: 'aborted' | 'timeout'): void {
    if (this.reason) return;
    const reason = this.error(kind);
    this.reason = reason;
    const h = this.hooks;
    this.dispose();
    this.ctl?.abort(reason);
    if (typeof h === 'function') callHook(h, reason);
    else if (h) for (const hook of h) callHook(hook, reason);
  }

  // ---- the deadline heap: a binary min-heap of the scopes with a pending timeout, one timer ----

  private static readonly due: WaitScope[] = [];
  private static dueTimer: NodeJS.Timeout | undefined;
  /** When the timer fires (`performance.now()` ms); infinite when none is set. */
  private static dueTimerAt = Number.POSITIVE_INFINITY;

  private static addDue(s: WaitScope): void {
    s.slot = WaitScope.due.push(s) - 1;
    WaitScope.siftUp(s.slot);
    WaitScope.armDue();
  }

  private static removeDue(s: WaitScope): void {
    const h = WaitScope.due;
    const i = s.slot;
    s.slot = -1;
    const last = h.pop()!;
    if (last !== s) {
      h[i] = last;
      last.slot = i;
      WaitScope.siftDown(i);
      WaitScope.siftUp(last.slot);
    }
    if (h.length === 0) WaitScope.armDue(); // no timer keeps the process alive for nothing
  }

  private static siftUp(i: number): void {
    const h = WaitScope.due;
    const s = h[i]!;
    while (i > 0) {
      const up = (i - 1) >> 1;
      const parent = h[up]!;
      if (parent.at <= s.at) break;
      h[i] = parent;
      parent.slot = i;
      i = up;
    }
    h[i] = s;
    s.slot = i;
  }

  private static siftDown(i: number): void {
    const h = WaitScope.due;
    const s = h[i]!;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= h.length) break;
      if (c + 1 < h.length && h[c + 1]!.at < h[c]!.at) c++;
      const child = h[c]!;
      if (child.at >= s.at) break;
      h[i] = child;
      child.slot = i;
      i = c;
    }
    h[i] = s;
    s.slot = i;
  }

  /** Sets the one timer for the earliest deadline (clears it when no scope waits). */
  private static armDue(): void {
    const first = WaitScope.due[0];
    if (first && WaitScope.dueTimer && WaitScope.dueTimerAt <= first.at) return; // fires in time (early: runDue sets it again)
    if (WaitScope.dueTimer) clearTimeout(WaitScope.dueTimer);
    WaitScope.dueTimer = undefined;
    WaitScope.dueTimerAt = Number.POSITIVE_INFINITY;
    if (!first) return;
    const now = performance.now();
    const ms = Math.min(Math.max(Math.ceil(first.at - now), 1), MAX_TIMER_MS); // a longer one overflows Node's timer
    WaitScope.dueTimerAt = now + ms;
    WaitScope.dueTimer = setTimeout(WaitScope.runDue, ms);
  }

  /** The timer's callback: fires every scope whose deadline has passed, then sets the timer again. */
  private static runDue(): void {
    WaitScope.dueTimer = undefined;
    WaitScope.dueTimerAt = Number.POSITIVE_INFINITY;
    const h = WaitScope.due;
    const now = performance.now();
    while (h.length > 0 && h[0]!.at <= now) {
      const s = h[0]!;
      WaitScope.removeDue(s);
      s.fire('timeout');
    }
    WaitScope.armDue();
  }
}

/** Node's timers take at most 2^31 - 1 ms. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** What {@link WaitScope.onFire} calls with the scope's error. */
export type FireHook = (reason: Error) => void;

function callHook(hook: FireHook, reason: Error): void {
  try {
    hook(reason);
  } catch (err) {
    callbackThrew('a wait scope hook', err); // never out of a timer or an abort listener
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
