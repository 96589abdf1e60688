/**
 * Transactions: `multi` (check / create / delete / setData, all or nothing) and `multiRead`
 * (getChildren / getData, each answered on its own). On the wire each op is a `MultiHeader`
 * (type, done=false, err=-1) and its record, closed by a header with done=true; the reply holds
 * one header and result per op. In a failed multi the failing op carries its error code, the ops
 * before it 0 and the ops after it -2 (RUNTIME_INCONSISTENCY): the error names the failing op.
 * @internal
 * @module
 */
import { fromRc, type ZkError } from '../errors.js';
import { DecodeError, type Reader, type Writer } from './jute.js';
import { Op, readData, readStat, type Stat, type WireAcl } from './records.js';
import { writeCreate, writePath, writePathVersion, writeSetData } from './requests.js';

/** One write of a transaction (paths as the server sees them). */
export type MultiOp =
  | { type: 'create'; path: string; data: Uint8Array; acl: readonly WireAcl[]; flags: number; ttl?: number | undefined }
  | { type: 'delete'; path: string; version: number }
  | { type: 'setData'; path: string; data: Uint8Array; version: number }
  | { type: 'check'; path: string; version: number };

/** The result of one op of a successful transaction. */
export type MultiResult = { type: 'create'; path: string; stat?: Stat } | { type: 'delete' } | { type: 'setData'; stat: Stat } | { type: 'check' };

/** One read of a `multiRead`. */
export type ReadOp = { type: 'getData'; path: string } | { type: 'getChildren'; path: string };

/** The result of one read: each read succeeds or fails on its own. */
export type ReadResult = { type: 'getData'; data: Buffer; stat: Stat } | { type: 'getChildren'; children: string[] } | { type: 'error'; error: ZkError };

function createOpcode(o: Extract<MultiOp, { type: 'create' }>): number {
  if (o.ttl !== undefined) return Op.createTTL;
  return o.flags === 4 ? Op.createContainer : Op.create2;
}

/** Writes a `multi` body. */
export function writeMulti(w: Writer, ops: readonly MultiOp[]): void {
  for (const o of ops) {
    switch (o.type) {
      case 'create':
        w.int(createOpcode(o)).bool(false).int(-1);
        writeCreate(w, o.path, o.data, o.acl, o.flags, o.ttl);
        break;
      case 'delete':
        w.int(Op.delete).bool(false).int(-1);
        writePathVersion(w, o.path, o.version);
        break;
      case 'setData':
        w.int(Op.setData).bool(false).int(-1);
        writeSetData(w, o.path, o.data, o.version);
        break;
      case 'check':
        w.int(Op.check).bool(false).int(-1);
        writePathVersion(w, o.path, o.version);
        break;
    }
  }
  w.int(-1).bool(true).int(-1);
}

/** Writes a `multiRead` body. */
export function writeMultiRead(w: Writer, ops: readonly ReadOp[]): void {
  for (const o of ops) {
    w.int(o.type === 'getData' ? Op.getData : Op.getChildren)
      .bool(false)
      .int(-1);
    // GetDataRequest / GetChildrenRequest: path and watch flag (no watches from a multiRead).
    writePath(w, o.path);
    w.bool(false);
  }
  w.int(-1).bool(true).int(-1);
}

/**
 * Reads a `multi` reply; throws the failing op's typed error (with `opIndex`) if it failed.
 * `stripPath` maps a server path back to the caller's (chroot).
 */
export function readMulti(r: Reader, ops: readonly MultiOp[], stripPath: (p: string) => string): MultiResult[] {
  const out: MultiResult[] = [];
  let failure: ZkError | undefined;
  let sawError = false;
  for (let i = 0; ; i++) {
    const type = r.int();
    const done = r.bool();
    const err = r.int();
    if (done) break;
    if (i >= ops.length) throw new DecodeError(`multi reply has more results than the ${ops.length} ops sent`);
    const op = ops[i]!;
    switch (type) {
      case Op.create:
        out.push({ type: 'create', path: stripPath(r.string()) });
        break;
      case Op.create2:
      case Op.createContainer:
      case Op.createTTL:
        out.push({ type: 'create', path: stripPath(r.string()), stat: readStat(r) });
        break;
      case Op.delete:
        out.push({ type: 'delete' });
        break;
      case Op.setData:
        out.push({ type: 'setData', stat: readStat(r) });
        break;
      case Op.check:
        out.push({ type: 'check' });
        break;
      case Op.error: {
        const code = r.int();
        sawError = true;
        if (code !== 0 && code !== -2 && !failure) failure = fromRc(code, `multi op ${i} (${op.type})`, stripPath(op.path), undefined, i);
        out.push({ type: op.type } as MultiResult);
        break;
      }
      default:
        throw new DecodeError(`multi reply: unknown result type ${type} (err ${err})`);
    }
  }
  if (failure) throw failure;
  // Error results without a real cause: the server rolled back; report it, never as a success.
  if (sawError) throw fromRc(-2, 'multi', undefined);
  if (out.length !== ops.length) throw new DecodeError(`multi reply has ${out.length} results for ${ops.length} ops`);
  return out;
}

/** Reads a `multiRead` reply. */
export function readMultiRead(r: Reader, ops: readonly ReadOp[], stripPath: (p: string) => string): ReadResult[] {
  const out: ReadResult[] = [];
  for (let i = 0; ; i++) {
    const type = r.int();
    const done = r.bool();
    r.int();
    if (done) break;
    if (i >= ops.length) throw new DecodeError(`multiRead reply has more results than the ${ops.length} reads sent`);
    const op = ops[i]!;
    switch (type) {
      case Op.getData:
        out.push({ type: 'getData', data: readData(r), stat: readStat(r) });
        break;
      case Op.getChildren:
        out.push({ type: 'getChildren', children: r.strings() });
        break;
      case Op.error:
        out.push({ type: 'error', error: fromRc(r.int(), `multiRead op ${i} (${op.type})`, stripPath(op.path), undefined, i) });
        break;
      default:
        throw new DecodeError(`multiRead reply: unknown result type ${type}`);
    }
  }
  if (out.length !== ops.length) throw new DecodeError(`multiRead reply has ${out.length} results for ${ops.length} reads`);
  return out;
}
