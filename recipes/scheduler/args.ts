/**
 * The scheduler's argument checks: each names the option and the scheduler's path.
 * @internal
 * @module
 */
import { InvalidArgumentError } from '../../src/errors.js';
import { NAME_RE } from './store.js';

/** An integer option >= `min`. */
export function posInt(v: unknown, name: string, path: string, min = 1): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min)
    throw new InvalidArgumentError(`scheduler: option ${name} must be an integer >= ${min}, got ${String(v)} (path ${path})`, { op: 'scheduler', path });
  return v;
}

/** A worker, schedule or task id: a node name without '@'. */
export function checkName(v: unknown, what: string, path: string): string {
  if (typeof v !== 'string' || !NAME_RE.test(v) || v.includes('@')) {
    throw new InvalidArgumentError(`scheduler: ${what} must be 1-200 letters, digits, "_", "." or "-", got ${JSON.stringify(v)} (path ${path})`, {
      op: 'scheduler',
      path,
    });
  }
  return v;
}

/** A Date or epoch ms. */
export function toTime(v: unknown, name: string, path: string): number {
  const t = v instanceof Date ? v.getTime() : v;
  if (typeof t !== 'number' || !Number.isFinite(t))
    throw new InvalidArgumentError(`scheduler: ${name} must be a Date or epoch ms (path ${path})`, { op: 'scheduler', path });
  return t;
}
