/**
 * Transactions (`multi`): every op is checked and put in wire form before anything is sent (an
 * error names the op by its index), the transaction goes out once (never retried: after a
 * connection loss its outcome is unknown), and the results come back with the namespace removed.
 * A failing op's error keeps its `opIndex`, with the caller's path.
 * @internal
 * @module
 */
import { InvalidArgumentError, ZkError, fromRc } from './errors.js';
import { validatePath } from './paths.js';
import { callSignal, throwIfAborted } from './session-abort.js';
import type { SessionCore } from './session-calls.js';
import { checkCreate, checkVersion, toData, wireAcl } from './session-options.js';
import type { SessionCallOptions, TxnOp, TxnResult } from './session-types.js';
import type { MultiOp, MultiResult } from './transport.js';

/** `ZkSession.multi`. */
export async function multi(core: SessionCore, ops: readonly TxnOp[], options?: SessionCallOptions): Promise<TxnResult[]> {
  if (!Array.isArray(ops) || ops.length === 0) throw new InvalidArgumentError('multi: ops must be a non-empty array', { op: 'multi' });
  const signal = callSignal(options, 'multi');
  const wire: MultiOp[] = ops.map((o, i) => txnOp(core, o, i));
  throwIfAborted(signal, 'multi');
  if (core.state !== 'connected' && core.state !== 'closed') {
    await core.waitConnected(core.opts.connectTimeoutMs, 'multi', signal).catch(() => throwIfAborted(signal, 'multi'));
  }
  const results = await core
    .call('multi', ops[0]!.path, (t) => t.multi(wire), signal)
    .catch((err: unknown) => {
      if (err instanceof ZkError && err.opIndex !== undefined && core.opts.namespace) {
        const o = ops[err.opIndex]!;
        throw fromRc(err.rc ?? -1, `multi op ${err.opIndex} (${o.op})`, o.path, err, err.opIndex);
      }
      throw err;
    });
  return results.map((r) => txnResult(core, r));
}

function txnResult(core: SessionCore, r: MultiResult): TxnResult {
  switch (r.type) {
    case 'create':
      return { op: 'create', path: core.calls.strip(r.path) };
    case 'setData':
      return { op: 'set', stat: r.stat };
    case 'delete':
      return { op: 'delete' };
    default:
      return { op: 'check' };
  }
}

/** One op, checked, in wire form. @throws InvalidArgumentError / InvalidPathError naming the op */
function txnOp(core: SessionCore, o: TxnOp, i: number): MultiOp {
  const name = `multi op ${i}`;
  if (!o || typeof o !== 'object') throw new InvalidArgumentError(`${name}: must be an object { op, path, ... }`, { op: 'multi', opIndex: i });
  const ctx = { op: 'multi', path: o.path, opIndex: i };
  const version = (v: unknown, fallback: number | undefined) => checkVersion(v, fallback, `${name} (${o.op} ${o.path})`, ctx);
  const full = () => core.calls.full(o.path);
  switch (o.op) {
    case 'create': {
      const spec = checkCreate(o, o.path, `${name} (create ${o.path})`, `${name} (create)`, ctx, core.opts.defaultAcl);
      return { type: 'create', path: full(), data: toData(o.data, name, o.path), acl: wireAcl(spec.acl), flags: spec.flags, ttl: spec.ttl };
    }
    case 'delete':
      validatePath(o.path, `${name} (delete)`);
      return { type: 'delete', path: full(), version: version(o.version, -1) };
    case 'set':
      validatePath(o.path, `${name} (set)`);
      return { type: 'setData', path: full(), data: toData(o.data, name, o.path), version: version(o.version, -1) };
    case 'check':
      validatePath(o.path, `${name} (check)`);
      return { type: 'check', path: full(), version: version(o.version, undefined) };
    default:
      throw new InvalidArgumentError(`${name}: op must be 'create', 'delete', 'set' or 'check', got ${JSON.stringify((o as { op?: unknown }).op)}`, {
        op: 'multi',
        opIndex: i,
      });
  }
}
