// Shared test helpers: one real server per test file, sessions closed after each test, and waits
// on conditions with generous deadlines (never fixed sleeps).
import { spawn, type ChildProcess, type SpawnOptions, type StdioOptions } from 'node:child_process';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { ZkSession, withoutInheritedFds, type SessionOptions } from '../src/index.js';
import { startZooKeeper, type ZooKeeperServer } from '../src/testing/index.js';

/**
 * The transport the suites run on: the default client, or `ZK_TEST_TRANSPORT=native` (CI runs the
 * conformance, lock and latch suites on the native binding too; child fixtures read it as well).
 */
export const TEST_TRANSPORT: 'client' | 'native' = process.env['ZK_TEST_TRANSPORT'] === 'native' ? 'native' : 'client';

/** Starts one server for the file (beforeAll) and closes it (afterAll). */
export function useServer(): { readonly server: ZooKeeperServer; connect(opts?: SessionOptions): Promise<ZkSession> } {
  let server: ZooKeeperServer | undefined;
  const sessions = new Set<ZkSession>();
  beforeAll(async () => {
    server = await startZooKeeper();
  });
  afterEach(async () => {
    await Promise.all([...sessions].map((s) => s.close()));
    sessions.clear();
  });
  afterAll(async () => {
    await server?.close();
  });
  return {
    get server() {
      if (!server) throw new Error('server not started');
      return server;
    },
    async connect(opts: SessionOptions = {}) {
      const s = await ZkSession.connect(server!.connectString, { sessionTimeoutMs: 4000, transport: TEST_TRANSPORT, ...opts });
      sessions.add(s);
      return s;
    },
  };
}

/** A fresh unique path for a test. */
let counter = 0;
export function uniquePath(name = 't'): string {
  return `/${name}-${process.pid}-${Date.now().toString(36)}-${counter++}`;
}

/** Polls `check` until it returns a truthy value; fails after `timeoutMs` naming `what`. */
export async function waitUntil<T>(check: () => T | Promise<T>, what: string, timeoutMs = 20_000, everyMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Resolves with the arguments of the next `event` from `emitter`, or fails after `timeoutMs`. */
export function nextEvent<A extends unknown[] = unknown[]>(
  // biome-ignore lint/suspicious/noExplicitAny: any typed emitter (eventemitter3's are generic over their event map)
  emitter: { once(event: any, fn: any): unknown; off(event: any, fn: any): unknown },
  event: string,
  timeoutMs = 20_000,
): Promise<A> {
  return new Promise((resolve, reject) => {
    const fn = (...args: A) => {
      clearTimeout(t);
      resolve(args);
    };
    const t = setTimeout(() => {
      emitter.off(event, fn);
      reject(new Error(`no '${event}' event within ${timeoutMs} ms`));
    }, timeoutMs);
    emitter.once(event, fn);
  });
}

/** The children of `path`, or [] when it does not exist (or cannot be read). */
export async function childrenOf(s: ZkSession, path: string): Promise<string[]> {
  try {
    return await s.getChildren(path);
  } catch {
    return [];
  }
}

/**
 * `spawn(argv[0], argv.slice(1), opts)` without the descriptors this process would leak into the
 * child (the binding's sockets lack close-on-exec: docs/binding-issues.md).
 */
export function spawnClean(argv: string[], opts: SpawnOptions & { stdio: StdioOptions & unknown[] }): ChildProcess {
  const [cmd, ...args] = withoutInheritedFds(argv, Math.max(3, opts.stdio.length));
  return spawn(cmd!, args, opts);
}
