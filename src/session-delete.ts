/**
 * Deleting nodes, and the session's background deletes.
 *
 * - A plain delete is retried after a connection loss; a retry that finds the node gone counts
 *   as success (the earlier attempt may have deleted it before its reply was lost).
 * - A recursive delete deletes the children first, depth-first, and lists again when a child
 *   appeared meanwhile (`NOT_EMPTY`).
 * - A guaranteed delete (Curator's `guaranteed()`) whose first attempt fails with a connection
 *   loss, or is aborted on the wire, goes on in the background: {@link BackgroundTasks} waits
 *   for the connection and retries with the session's backoff until the node is gone or the
 *   session is closed. The same runner removes the node of an aborted protected create
 *   (session-create.ts); `pendingDeletes` counts both.
 * @internal
 * @module
 */
import createDebug from 'debug';
import { ClosedError, InvalidArgumentError, NoNodeError, NotEmptyError, isRetryable } from './errors.js';
import { joinPath, validatePath } from './paths.js';
import { callSignal, throwIfAborted } from './session-abort.js';
import type { SessionCore } from './session-calls.js';
import { checkVersion } from './session-options.js';
import type { DeleteOptions } from './session-types.js';
import { delay } from './wait.js';

const log = createDebug('zk-recipes:session');

/** Work the session carries on in the background until done or closed (guaranteed deletes). */
export class BackgroundTasks {
  private readonly running = new Set<string>();

  constructor(private readonly core: SessionCore) {}

  /** Number of tasks still running. */
  get size(): number {
    return this.running.size;
  }

  /**
   * Runs `task` once connected, again after each retryable failure (with the session's backoff),
   * until it succeeds, fails otherwise, or the session closes. A second task with a `key` still
   * running is dropped. `what` names it in the log.
   */
  run(key: string, what: string, task: () => Promise<void>): void {
    if (this.running.has(key)) return;
    this.running.add(key);
    log('%s continues in the background', what);
    void this.loop(what, task).finally(() => this.running.delete(key));
  }

  /** A guaranteed delete of `path`, carried on in the background. */
  delete(path: string, version: number): void {
    this.run(path, `guaranteed delete of ${path}`, () =>
      deleteOnce(this.core, path, version, undefined).catch((err: unknown) => {
        if (!(err instanceof NoNodeError)) throw err;
      }),
    );
  }

  private async loop(what: string, task: () => Promise<void>): Promise<void> {
    const r = this.core.opts.retry;
    let delayMs = r.minDelayMs;
    while (this.core.state !== 'closed') {
      try {
        await this.core.waitConnected(this.core.sessionTimeoutMs, 'delete');
        await task();
        log('%s done', what);
        return;
      } catch (err) {
        if (err instanceof ClosedError) return;
        if (!isRetryable(err)) {
          log('%s failed: %s', what, (err as Error).message);
          return;
        }
      }
      await delay(delayMs);
      delayMs = Math.min(delayMs * r.factor, r.maxDelayMs);
    }
  }
}

/**
 * `ZkSession.delete`: checks the arguments (nothing is sent for bad ones, or an aborted signal),
 * then deletes as `options` say.
 */
export async function deleteNode(core: SessionCore, background: BackgroundTasks, path: string, options: DeleteOptions = {}): Promise<void> {
  validatePath(path, 'delete');
  if (path === '/') throw new InvalidArgumentError('delete: refusing to delete the root', { op: 'delete', path });
  const signal = callSignal(options, 'delete', path);
  const version = checkVersion(options.version, -1, `delete ${path}`, { op: 'delete', path });
  throwIfAborted(signal, 'delete', path);
  if (options.recursive) return deleteRecursive(core, path, signal);
  if (options.guaranteed) return deleteGuaranteed(core, background, path, version, signal);
  return deleteRetried(core, path, version, signal);
}

/** One delete request. */
function deleteOnce(core: SessionCore, path: string, version: number, signal: AbortSignal | undefined): Promise<void> {
  const full = core.calls.full(path);
  return core.call('delete', path, (t) => t.delete(full, version), signal);
}

async function deleteRetried(core: SessionCore, path: string, version: number, signal: AbortSignal | undefined): Promise<void> {
  const once = () => deleteOnce(core, path, version, signal);
  try {
    await once();
    return;
  } catch (err) {
    if (!isRetryable(err)) throw err;
  }
  try {
    await core.calls.retrying('delete', path, once, signal);
  } catch (err) {
    if (!(err instanceof NoNodeError)) throw err; // our earlier attempt may have done it
  }
}

/** The first attempt; after a connection loss (or an abort with the request sent) the background goes on. */
async function deleteGuaranteed(core: SessionCore, background: BackgroundTasks, path: string, version: number, signal: AbortSignal | undefined): Promise<void> {
  try {
    await deleteOnce(core, path, version, signal);
  } catch (err) {
    const aborted = signal?.aborted === true;
    if (!isRetryable(err) && !aborted) throw err;
    background.delete(path, version);
    if (aborted) throw err;
  }
}

async function deleteRecursive(core: SessionCore, path: string, signal: AbortSignal | undefined): Promise<void> {
  let children: string[];
  try {
    children = await core.getChildren(path, { signal });
  } catch (err) {
    if (err instanceof NoNodeError) return;
    throw err;
  }
  await Promise.all(children.map((c) => deleteRecursive(core, joinPath(path, c), signal)));
  try {
    await deleteRetried(core, path, -1, signal);
  } catch (err) {
    if (err instanceof NoNodeError) return;
    if (err instanceof NotEmptyError) return deleteRecursive(core, path, signal); // a child appeared meanwhile
    throw err;
  }
}
