/**
 * The recipe inspector: looks at a path and tells which recipe lives there, from the znode names
 * and shapes Curator (and zk-recipes) use, and who is doing what: who holds a lock, since when it
 * has been in line and how long it has held, with which session; who leads; how deep a queue is;
 * which instances a service has; which workers a scheduler has.
 *
 * Recognised layouts (first match wins):
 *
 * | kind             | children of `<path>`                                                   |
 * |------------------|------------------------------------------------------------------------|
 * | `semaphore`      | `leases/` and/or `locks/` only, or `…lease-<seq>` nodes                 |
 * | `scheduler`      | two or more of `workers/`, `tasks/`, `leader/`, `assign/`, `schedules/` |
 * | `rwlock`         | `…__READ__<seq>` / `…__WRIT__<seq>`                                     |
 * | `leader-latch`   | `…latch-<seq>`                                                          |
 * | `lock`           | `…lock-<seq>` (also Curator's LeaderSelector)                           |
 * | `queue`          | `queue-…` items (claims in `<path>-locks`, poison in `<path>-poison`)   |
 * | `service`        | nodes holding Curator's service-instance JSON, named by the instance id |
 * | `double-barrier` | `ready` plus ephemeral participants (before `ready`: a `group`)        |
 * | `group`          | ephemeral, non-sequential children                                     |
 * | `tree`           | anything else: the node, its children and a summary of its subtree     |
 *
 * Every name is read by the recipes' own layout definitions (each recipe file exports its
 * markers and directories; recipes/layout.ts the shared protected-name and sequence grammar), so
 * the inspector and the recipes cannot disagree about what a node is. Reads only; never writes.
 * @module
 */
import { InvalidArgumentError } from '../errors.js';
import { validatePath } from '../paths.js';
import type { ZkSession } from '../session.js';
import { WaitScope, checkWaitOptions } from '../wait.js';
import { Reader, type Listing } from './inspect-read.js';
import { CONTENDER_MARKERS, isContender, isSemaphore, latchInspection, lockInspection, rwLockInspection, semaphoreInspection } from './inspect-locks.js';
import { isQueue, queueInspection } from './inspect-queue.js';
import { isScheduler, schedulerInspection } from './inspect-scheduler.js';
import { readInstances, serviceInspection } from './inspect-service.js';
import { barrierOrGroup, treeInspection } from './inspect-tree.js';
import type { InspectOptions, Inspection, InspectionBase } from './inspect-types.js';

export { formatAge, formatInspection } from './format.js';
export type * from './inspect-types.js';

const NUMERIC_OPTIONS = ['staleAfterMs', 'maxChildren', 'maxNodes'] as const;

/**
 * Recognises the recipe at `path` and reports its state. Reads only.
 *
 * Waits for the reads (and, unless `checkSessions: false`, one `cons` per server to tell which
 * holders' sessions are connected). On `suspended` the session's reads wait for the connection
 * and retry; a `lost` session's reads fail with its error. A missing path is not an error: it
 * gives `kind: 'missing'`.
 * @param session - a connected session
 * @param path - the recipe's path (e.g. the lock path, not one of its children)
 * @throws InvalidPathError, InvalidArgumentError for bad input; TimeoutError, AbortedError
 */
export async function inspect(session: ZkSession, path: string, options: InspectOptions = {}): Promise<Inspection> {
  validatePath(path, 'inspect');
  checkWaitOptions(options, 'inspect');
  for (const k of NUMERIC_OPTIONS) {
    const v = options[k];
    if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v) || v < 0)) {
      throw new InvalidArgumentError(`inspect ${path}: option ${k} must be a number >= 0, got ${String(v)}`, { op: 'inspect', path });
    }
  }
  const scope = new WaitScope(options, 'inspect', path);
  try {
    scope.throwIfAborted();
    const work = run(new Reader(session, options), path, options);
    work.catch(() => undefined); // if the scope fires first, a later failure of the reads is moot
    return await scope.race(work);
  } finally {
    scope.dispose();
  }
}

async function run(r: Reader, path: string, options: InspectOptions): Promise<Inspection> {
  const base = r.base(path);
  const top = await r.list(path);
  if (top === undefined) {
    return {
      ...base,
      kind: 'missing',
      hints: [`${path} does not exist: nobody holds, leads or waits there (recipes' container nodes are removed when empty).`],
    };
  }
  const names = top.names;
  if (isSemaphore(names)) return semaphoreInspection(r, base, top);
  if (isScheduler(names)) return schedulerInspection(r, base);
  const contenders = await contenderInspection(r, base, top);
  if (contenders) return contenders;
  if (isQueue(names)) return queueInspection(r, base, names);
  return otherInspection(r, base, top, options);
}

/** A read-write lock, latch or lock, by the markers among the children; undefined when none. */
async function contenderInspection(r: Reader, base: InspectionBase, top: Listing): Promise<Inspection | undefined> {
  const has = (markers: readonly string[]) => top.names.some((n) => isContender(n, markers));
  const kind = has(CONTENDER_MARKERS.rw)
    ? rwLockInspection
    : has(CONTENDER_MARKERS.latch)
      ? latchInspection
      : has(CONTENDER_MARKERS.lock)
        ? lockInspection
        : undefined;
  if (!kind) return undefined;
  return kind(r, base, top, await r.nodes(top.path, top.names));
}

/** Children without recipe markers: a service, a double barrier, a group, or a plain tree. */
async function otherInspection(r: Reader, base: InspectionBase, top: Listing, options: InspectOptions): Promise<Inspection> {
  // Classify by (at most) the first 1000 children; a huge flat node is summarised, not read whole.
  const sample = top.names.length > 1000 ? [...top.names].sort().slice(0, 1000) : top.names;
  const nodes = await r.nodes(top.path, sample);
  const service = readInstances(r, nodes);
  if (service) return serviceInspection(base, service);
  return barrierOrGroup(base, sample, nodes) ?? treeInspection(r, base, top, nodes, options);
}
