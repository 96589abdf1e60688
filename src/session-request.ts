/**
 * One request on one path, the way the session's plain operations (get, set, exists, the child
 * lists, the ACLs, sync, the 3.6+ reads) send it: the path checked, then the call's `signal`, then
 * the request built for the path as the server sees it (namespace put on) and the options' watch
 * (given the caller's paths), its other arguments checked as it is built; it is sent through the
 * session's own `call` (the one every request goes through) with the session's retries. Nothing
 * is sent before every argument has been checked.
 * @internal
 * @module
 */
import { BadVersionError, IndeterminateError, isRetryable } from './errors.js';
import { validatePath } from './paths.js';
import { callSignal } from './session-abort.js';
import type { Run, SessionCore } from './session-calls.js';
import { checkAcl, checkVersion, toData } from './session-options.js';
import type { Acl, NodeData, SessionCallOptions, Stat, WatchOptions } from './session-types.js';
import type { ClientWatcher } from './transport.js';

/** Builds a request for the server's path and the wrapped watch, checking its other arguments. */
export type Prepare<T> = (full: string, watch: ClientWatcher | undefined) => Run<T>;

/**
 * One operation on `path`: the path and options checked, then the request that `prepare` builds
 * sent with the session's retries, bounded by the options' `signal`.
 */
export function operation<T>(core: SessionCore, op: string, path: string, options: WatchOptions | undefined, prepare: Prepare<T>): Promise<T> {
  let run: Run<T>;
  let signal: AbortSignal | undefined;
  try {
    validatePath(path, op);
    signal = callSignal(options, op, path);
    run = prepare(core.calls.full(path), options?.watch ? core.calls.wrapWatcher(options.watch) : undefined);
  } catch (err) {
    return Promise.reject(err); // bad input rejects, as from an async call, before anything is sent
  }
  return core.calls.retrying(op, path, () => core.call(op, path, run, signal), signal);
}

/**
 * The request of `set`: the data and `options.version` (default -1, any) checked, once the options
 * are. A conditional write (a version given) whose reply a connection loss cut may have been
 * applied; when its retry then meets BAD_VERSION, that may be our own write's doing, so the caller
 * gets IndeterminateError, never a BadVersionError that would say "not applied".
 */
export function setDataRequest(path: string, data: NodeData, options: { version?: number }): Prepare<Stat> {
  return (full) => {
    const bytes = toData(data, 'set', path);
    const v = checkVersion(options.version, -1, `set ${path}`, { op: 'set', path });
    if (v === -1) return (t) => t.setData(full, bytes, v);
    let cut: unknown;
    return (t) => {
      const sent = t.setData(full, bytes, v); // a synchronous throw: never sent, nothing to remember
      return sent.catch((err: unknown) => {
        if (isRetryable(err)) cut ??= err;
        else if (cut !== undefined && err instanceof BadVersionError) {
          throw new IndeterminateError(
            `set ${path}: a connection loss cut the reply to this conditional write (version ${v}), and the retry found the version changed: it may have been applied`,
            { op: 'set', path, cause: cut }, // no rc: a namespace's relabelling must not make it a BadVersionError again
          );
        }
        throw err;
      });
    };
  };
}

/** The request of `setAcl`: the ACL and `options.version` (default -1, any) checked, once the options are. */
export function setAclRequest(path: string, acl: readonly Acl[], options: { version?: number }): Prepare<Stat> {
  return (full) => {
    checkAcl(acl, `setAcl ${path}: acl`);
    const v = checkVersion(options.version, -1, `setAcl ${path}`, { op: 'setAcl', path });
    return (t) => t.setACL(full, acl, v);
  };
}

/**
 * The session's ephemeral nodes under `prefix`, as the caller sees them: with a namespace, those
 * inside it with the namespace taken off (the server lists the session's nodes everywhere).
 */
export async function ephemerals(core: SessionCore, prefix: string, options: SessionCallOptions): Promise<string[]> {
  const found = await operation(core, 'getEphemerals', prefix, options, (full) => (t) => t.getEphemerals(full));
  const ns = core.opts.namespace;
  return ns ? found.filter((p) => p === ns || p.startsWith(`${ns}/`)).map((p) => core.calls.strip(p)) : found;
}
