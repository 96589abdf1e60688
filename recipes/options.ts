/**
 * Validation shared by the recipes' constructors.
 * @internal
 * @module
 */
import { hostname } from 'node:os';
import { InvalidArgumentError, InvalidPathError } from '../src/errors.js';
import { rejectReserved, validatePath } from '../src/paths.js';
import { ZkSession } from '../src/session.js';

/** Checks that a recipe was given a session. */
export function checkSession(recipe: string, session: unknown): void {
  if (!(session instanceof ZkSession)) throw new InvalidArgumentError(`${recipe}: session must be a ZkSession`, { op: recipe });
}

/**
 * Checks the session and path every recipe takes: a valid absolute path, not under `/zookeeper`,
 * and not the root (`InvalidPathError`) unless `allowRoot` (a cache may watch the whole tree).
 * @throws InvalidArgumentError for a missing session; InvalidPathError for the path
 */
export function checkRecipeArgs(recipe: string, session: unknown, path: unknown, options: { allowRoot?: boolean } = {}): asserts path is string {
  checkSession(recipe, session);
  validatePath(path, recipe);
  if (path === '/' && !options.allowRoot) throw new InvalidPathError(`${recipe}: path must not be the root`, { op: recipe, path });
  rejectReserved(path, recipe);
}

/** Checks an options object's type and that it names no unknown option. */
export function checkOptions(recipe: string, options: unknown, known: readonly string[]): void {
  if (options === undefined) return;
  if (options === null || typeof options !== 'object') throw new InvalidArgumentError(`${recipe}: options must be an object`, { op: recipe });
  for (const k of Object.keys(options)) {
    if (!known.includes(k)) throw new InvalidArgumentError(`${recipe}: unknown option ${k}`, { op: recipe });
  }
}

/** Default node data: who holds, for a person reading the tree (`host/pid`). */
export function defaultNodeData(): string {
  return `${hostname()}/${process.pid}`;
}
