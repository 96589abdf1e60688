/**
 * The one place that touches the native `zookeeper` binding. The session calls the native handle's
 * callback API directly: the binding's JavaScript wrapper formats every call with `util.inspect`
 * for its logger even when no logger is set, which costs more than the request on a fast path.
 * @internal
 * @module
 */
import { createRequire } from 'node:module';
import type { Stat } from './client/records.js';

const require = createRequire(import.meta.url);

/** A raw stat as the binding reports it: the same fields as the client's. */
export type RawStat = Stat;
/** A raw ACL entry as the binding reports it. */
export interface RawAcl {
  perms: number;
  scheme: string;
  auth: string;
}
type Cb = (rc: number, err: string, a?: unknown, b?: unknown) => void;
/** Native watcher: `(type, state, path)`; type -1 is a session event. */
export type RawWatcher = (type: number, state: number, path: string) => void;

/** The native handle's callback API (each returns the C client's immediate rc). */
export interface NativeHandle {
  a_create(path: string, data: Buffer | string, flags: number, cb: Cb): number;
  a_create_ttl(path: string, data: Buffer | string, flags: number, ttl: number, cb: Cb): number;
  a_exists(path: string, watch: boolean, cb: Cb): number;
  aw_exists(path: string, watcher: RawWatcher, cb: Cb): number;
  a_get(path: string, watch: boolean, cb: Cb): number;
  aw_get(path: string, watcher: RawWatcher, cb: Cb): number;
  a_get_children(path: string, watch: boolean, cb: Cb): number;
  aw_get_children(path: string, watcher: RawWatcher, cb: Cb): number;
  a_get_children2(path: string, watch: boolean, cb: Cb): number;
  aw_get_children2(path: string, watcher: RawWatcher, cb: Cb): number;
  a_set(path: string, data: Buffer | string, version: number, cb: Cb): number;
  a_delete_(path: string, version: number, cb: Cb): number;
  a_get_acl(path: string, cb: Cb): number;
  a_set_acl(path: string, version: number, acl: Array<{ perm: number; scheme: string; auth: string }>, cb: Cb): number;
  a_sync(path: string, cb: Cb): number;
  add_auth(scheme: string, auth: string, cb: (rc: number) => void): number;
  readonly timeout: number;
  /** The C client's `zoo_state()`: 1 connecting, 2 associating, 3 connected, 999 not connected, ... */
  readonly state: number;
}

/** The binding's wrapper object (an EventEmitter) around one native handle. */
export interface BindingHandle {
  native: NativeHandle;
  on(event: 'connect' | 'connecting' | 'close', fn: (...args: unknown[]) => void): void;
  removeAllListeners(): void;
  init(config: object): void;
  close(): void;
  readonly client_id: string;
  readonly client_password: string;
}

/** Constructor of the binding's wrapper. */
export type BindingClass = new (config: object) => BindingHandle;

/** The binding's numeric constants. */
export const Z = {
  PERSISTENT: 0,
  EPHEMERAL: 1,
  PERSISTENT_SEQUENTIAL: 2,
  EPHEMERAL_SEQUENTIAL: 3,
  CONTAINER: 4,
  PERSISTENT_WITH_TTL: 5,
  PERSISTENT_SEQUENTIAL_WITH_TTL: 6,
  CREATED_EVENT: 1,
  DELETED_EVENT: 2,
  CHANGED_EVENT: 3,
  CHILD_EVENT: 4,
  SESSION_EVENT: -1,
  NOTWATCHING_EVENT: -2,
} as const;

let cached: BindingClass | undefined;

/** Loads the binding once (lazily, so importing zk-recipes never loads native code by itself). */
export function loadBinding(): BindingClass {
  if (!cached) {
    const mod = require('zookeeper') as BindingClass & { constants: Record<string, number> };
    const c = mod.constants;
    if (c['ZOO_EPHEMERAL_SEQUENTIAL'] !== Z.EPHEMERAL_SEQUENTIAL || c['ZOO_CONTAINER'] !== Z.CONTAINER || c['ZOO_SESSION_EVENT'] !== Z.SESSION_EVENT) {
      throw new Error('zk-recipes: unexpected constants in the zookeeper binding; this version is not supported');
    }
    cached = mod;
  }
  return cached;
}
