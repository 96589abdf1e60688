/**
 * ZooKeeper path rules, checked before anything is sent, and small path helpers.
 * @module
 */
import { InvalidPathError } from './errors.js';

/** ZooKeeper's largest znode payload (jute.maxbuffer default, 1 MiB), less room for the request. */
export const MAX_DATA_BYTES = 1024 * 1024 - 1024;

/**
 * Checks a path against ZooKeeper's rules (`PathUtils.validatePath`): absolute, no empty, `.` or
 * `..` segments, no trailing slash, no null or control characters, no surrogate-range or
 * reserved Unicode characters.
 * @param path - the path to check
 * @param op - the operation, named in the error
 * @param isSequential - a sequential create may end with `/` (the server appends the suffix)
 * @throws InvalidPathError naming the path and the rule it broke
 */
export function validatePath(path: unknown, op = 'path', isSequential = false): asserts path is string {
  const bad = (why: string): never => {
    throw new InvalidPathError(`${op}: invalid path ${JSON.stringify(path)}: ${why}`, { op, path: typeof path === 'string' ? path : undefined });
  };
  if (typeof path !== 'string') bad(`must be a string, got ${typeof path}`);
  const p = path as string;
  if (p.length === 0) bad('must not be empty');
  if (p[0] !== '/') bad('must be absolute (start with "/")');
  if (p.length === 1) return;
  if (p[p.length - 1] === '/' && !isSequential) bad('must not end with "/"');
  const segments = p.split('/');
  for (let i = 1; i < segments.length; i++) {
    const s = segments[i]!;
    if (s.length === 0 && !(isSequential && i === segments.length - 1)) bad('empty segment ("//")');
    if (s === '.' || s === '..') bad(`relative segment "${s}"`);
  }
  for (let i = 0; i < p.length; i++) {
    const c = p.charCodeAt(i);
    if (c === 0) bad(`null character at ${i}`);
    if ((c > 0x00 && c <= 0x1f) || (c >= 0x7f && c <= 0x9f)) bad(`control character at ${i}`);
    if ((c >= 0xd800 && c <= 0xf8ff) || (c >= 0xfff0 && c <= 0xffff)) bad(`illegal character at ${i}`);
  }
}

/** Joins a parent path and a child name (`/a` + `b` → `/a/b`, `/` + `b` → `/b`). */
export function joinPath(parent: string, child: string): string {
  return parent === '/' ? `/${child}` : `${parent}/${child}`;
}

/** The parent of a path (`/a/b` → `/a`, `/a` → `/`). */
export function parentOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

/** The last segment of a path (`/a/b` → `b`). */
export function nodeName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/**
 * Rejects paths under ZooKeeper's reserved `/zookeeper` subtree, which recipes must never use.
 * @throws InvalidPathError
 */
export function rejectReserved(path: string, op: string): void {
  if (path === '/zookeeper' || path.startsWith('/zookeeper/')) {
    throw new InvalidPathError(`${op}: path ${path} is in ZooKeeper's reserved /zookeeper subtree`, { op, path });
  }
}
