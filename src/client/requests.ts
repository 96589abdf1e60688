/**
 * Request bodies and reply decoders of every operation, as pure functions over the codec: what
 * `zookeeper.jute` says each request carries, and how its reply reads. Multi lives in `multi.ts`.
 * @internal
 * @module
 */
import type { Reader, Writer } from './jute.js';
import { readAcls, readData, readStat, writeAcls, type Stat, type WireAcl } from './records.js';

/** `CreateRequest` (+ `ttl` for `CreateTTLRequest`). */
export function writeCreate(w: Writer, path: string, data: Uint8Array, acl: readonly WireAcl[], flags: number, ttl: number | undefined): void {
  w.string(path).buffer(data);
  writeAcls(w, acl);
  w.int(flags);
  if (ttl !== undefined) w.long(ttl);
}

/** `Create2Response`: the created path and its stat. */
export function readCreate2(r: Reader): { path: string; stat: Stat } {
  return { path: r.string(), stat: readStat(r) };
}

/** `DeleteRequest`, `CheckVersionRequest`. */
export function writePathVersion(w: Writer, path: string, version: number): void {
  w.string(path).int(version);
}

/** `ExistsRequest`, `GetDataRequest`, `GetChildren2Request`. */
export function writePathWatch(w: Writer, path: string, watch: boolean): void {
  w.string(path).bool(watch);
}

/** `GetACLRequest`, `SyncRequest`, `GetAllChildrenNumberRequest`, `GetEphemeralsRequest`. */
export function writePath(w: Writer, path: string): void {
  w.string(path);
}

/** `SetDataRequest`. */
export function writeSetData(w: Writer, path: string, data: Uint8Array, version: number): void {
  w.string(path).buffer(data).int(version);
}

/** `SetACLRequest`. */
export function writeSetAcl(w: Writer, path: string, acl: readonly WireAcl[], version: number): void {
  w.string(path);
  writeAcls(w, acl);
  w.int(version);
}

/** `AddWatchRequest`, `CheckWatchesRequest`, `RemoveWatchesRequest`: a path and a mode/type. */
export function writePathInt(w: Writer, path: string, n: number): void {
  w.string(path).int(n);
}

/** `ReconfigRequest`. */
export function writeReconfig(w: Writer, joining: string | null, leaving: string | null, newMembers: string | null, fromConfig: number): void {
  w.string(joining).string(leaving).string(newMembers).long(fromConfig);
}

/** `GetDataResponse`. */
export function readGetData(r: Reader): { data: Buffer; stat: Stat } {
  return { data: readData(r), stat: readStat(r) };
}

/** `GetChildren2Response`. */
export function readChildren2(r: Reader): { children: string[]; stat: Stat } {
  return { children: r.strings(), stat: readStat(r) };
}

/** `GetACLResponse`. */
export function readGetAcl(r: Reader): { acl: WireAcl[]; stat: Stat } {
  return { acl: readAcls(r), stat: readStat(r) };
}

/** `WhoAmIResponse`: the identities the server associates with this session. */
export function readWhoAmI(r: Reader): Array<{ scheme: string; user: string }> {
  const n = r.count(8, 'client infos');
  const out: Array<{ scheme: string; user: string }> = [];
  for (let i = 0; i < n; i++) out.push({ scheme: r.string(), user: r.string() });
  return out;
}

/** `AuthPacket` (type 0). */
export function writeAuth(w: Writer, scheme: string, auth: Uint8Array): void {
  w.int(0).string(scheme).buffer(auth);
}
