/**
 * What stops the test kit's servers when the test process ends without closing them, for every
 * strategy:
 * - in-process: each strategy registers one synchronous hook ({@link onProcessExit}: local.ts
 *   kills its Java processes, containers.ts removes its containers through a child `node`). The
 *   hooks run on `exit` and on SIGINT/SIGTERM; after a signal the process exits with 128+signal
 *   unless someone else listens for it (a program with its own cleanup keeps control).
 * - across processes: a server's pid is recorded as a file in `ZK_RECIPES_PID_DIR` while it
 *   runs ({@link recordPid}); the test runner's global teardown kills whatever is still recorded
 *   ({@link killRecorded}), also after a worker died by SIGKILL, when no hook ran. (Containers
 *   carry the same dir as a label instead: see `removeRunContainers`.)
 * @module
 */
import { existsSync, readdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';

/**
 * A synchronous cleanup (exit handlers cannot wait for I/O). It may run more than once — on a
 * signal, then on the exit that follows — so it acts only on what is still live; errors are dropped.
 */
export type ExitHook = () => void;

const hooks = new Set<ExitHook>();
let installed = false;

/** Runs every registered hook once (each in its own try); what the process exit does. */
export function runExitHooks(): void {
  for (const hook of [...hooks]) {
    try {
      hook();
    } catch {
      /* a cleanup must not stop the others */
    }
  }
}

function install(): void {
  if (installed) return;
  installed = true;
  process.once('exit', runExitHooks);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      runExitHooks();
      if (process.listenerCount(sig) === 0) process.exit(128 + constants.signals[sig]);
    });
  }
}

/**
 * Registers `hook` to run when the process exits (normally, by `process.exit`, or by SIGINT /
 * SIGTERM). Registering the same function again is a no-op. Returns a function that unregisters it.
 */
export function onProcessExit(hook: ExitHook): () => void {
  hooks.add(hook);
  install();
  return () => {
    hooks.delete(hook);
  };
}

/**
 * Records `pid` in `ZK_RECIPES_PID_DIR` (when set) for the global teardown; returns a function
 * that removes the record again (call it when the process exited).
 */
export function recordPid(pid: number | undefined): () => void {
  const dir = process.env['ZK_RECIPES_PID_DIR'];
  const file = dir && pid ? join(dir, String(pid)) : undefined;
  if (!file) return () => undefined;
  try {
    writeFileSync(file, '');
  } catch {
    /* dir gone */
  }
  return () => {
    try {
      unlinkSync(file);
    } catch {
      /* already gone */
    }
  };
}

/** Kills every process recorded in `dir` (the global teardown's safety net) and empties it. */
export function killRecorded(dir: string): number {
  let n = 0;
  if (!existsSync(dir)) return 0;
  for (const f of readdirSync(dir)) {
    const pid = Number(f);
    if (Number.isInteger(pid)) {
      try {
        process.kill(pid, 'SIGKILL');
        n++;
      } catch {
        /* already gone */
      }
    }
    rmSync(join(dir, f), { force: true });
  }
  return n;
}
