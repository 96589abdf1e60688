/**
 * What the soak's roles share: the znode paths of one run, a worker's context (its session, its
 * log, its random source, the stop and quiet switches) and the loop every role runs in.
 * @module
 */
import type { ZkSession } from '../src/index.js';
import type { SoakEvent } from './log.js';
import type { Random } from './random.js';

/** The znodes of one soak run, all under its root. */
export interface SoakPaths {
  root: string;
  lock: string;
  rw: string;
  sem: string;
  latch: string;
  selector: string;
  queue: string;
  sched: string;
  group: string;
  tree: string;
  shared: string;
  disc: string;
  register: string;
}

/** The service name workers register under `disc`. */
export const SERVICE_NAME = 'soak-svc';
/** Leases of the soak's semaphore. */
export const SEM_LEASES = 2;

/** The paths of a run rooted at `root`. */
export function soakPaths(root: string): SoakPaths {
  const p = (name: string) => `${root}/${name}`;
  return {
    root,
    lock: p('lock'),
    rw: p('rw'),
    sem: p('sem'),
    latch: p('latch'),
    selector: p('selector'),
    queue: p('queue'),
    sched: p('sched'),
    group: p('group'),
    tree: p('tree'),
    shared: p('tree/shared'),
    disc: p('disc'),
    register: p('register'),
  };
}

/** One worker incarnation's view of the run. */
export interface RoleContext {
  readonly session: ZkSession;
  readonly paths: SoakPaths;
  /** `<worker>.<generation>`: a participant id, a member id, a worker id. */
  readonly who: string;
  readonly rng: Random;
  /** Aborts when the worker is told to stop. */
  readonly stopping: AbortSignal;
  /** True once the runner asked for quiet: roles that change data stop doing so. */
  readonly quiet: boolean;
  log(event: SoakEvent): void;
  /** A new id unique within this incarnation, `<prefix>:<who>:<n>`. */
  id(prefix: string): string;
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) {
      resolve();
      return;
    }
    const done = () => {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** The `code` of an error (ZkError's), or its name. */
export function codeOf(err: unknown): string {
  const e = err as { code?: unknown; name?: unknown };
  return typeof e?.code === 'string' ? e.code : typeof e?.name === 'string' ? e.name : 'UNKNOWN';
}

/**
 * Runs `body` again and again until the worker stops; a failure is logged (as `err`, naming
 * `where`) and followed by a short random pause, so a role rides out every fault by itself.
 */
export async function loop(ctx: RoleContext, where: string, body: () => Promise<void>): Promise<void> {
  while (!ctx.stopping.aborted) {
    try {
      await body();
    } catch (err) {
      if (ctx.stopping.aborted) return;
      ctx.log({ ev: 'err', where, code: codeOf(err), message: String((err as Error)?.message ?? err).slice(0, 200) });
      await sleep(ctx.rng.int(50, 300), ctx.stopping);
    }
  }
}

/** Like {@link loop}, for a role that changes data: it idles while the run is quiet. */
export function writerLoop(ctx: RoleContext, where: string, everyMs: [number, number], body: () => Promise<void>): Promise<void> {
  return loop(ctx, where, async () => {
    await sleep(ctx.rng.int(everyMs[0], everyMs[1]), ctx.stopping);
    if (!ctx.quiet && !ctx.stopping.aborted) await body();
  });
}

/**
 * A started handle: makes one and starts it, and after a failed start (a fault mid-way) disposes
 * of it and tries a new one, until it starts or the worker stops (then undefined).
 */
export async function startFresh<T>(
  ctx: RoleContext,
  where: string,
  make: () => T,
  start: (h: T) => Promise<void>,
  dispose: (h: T) => Promise<void>,
): Promise<T | undefined> {
  while (!ctx.stopping.aborted) {
    const h = make();
    try {
      await start(h);
      return h;
    } catch (err) {
      ctx.log({ ev: 'err', where, code: codeOf(err), message: String((err as Error)?.message ?? err).slice(0, 200) });
      await dispose(h).catch(() => undefined);
      await sleep(ctx.rng.int(100, 500), ctx.stopping);
    }
  }
  return undefined;
}
