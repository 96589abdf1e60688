// Shared test helpers: one real server per test file, sessions closed after each test, and waits
// on conditions with generous deadlines (never fixed sleeps). With ZK_TEST_TLS=1 the server also
// serves TLS and every session of `connect()` goes over it, checked after each test.
import { spawn, type ChildProcess, type SpawnOptions, type StdioOptions } from 'node:child_process';
import { createServer, connect as netConnect, type Server, type Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { ZkSession, withoutInheritedFds, type SessionOptions, type TlsOptions } from '../src/index.js';
import { fourLetterWord, startZooKeeper, tlsFourLetterWord, type ZooKeeperServer } from '../src/testing/index.js';

/**
 * The transport the suites run on: the default client, or `ZK_TEST_TRANSPORT=native` (CI runs the
 * conformance, lock and latch suites on the native binding too; child fixtures read it as well).
 */
export const TEST_TRANSPORT: 'client' | 'native' = process.env['ZK_TEST_TRANSPORT'] === 'native' ? 'native' : 'client';

/**
 * `ZK_TEST_TLS=1`: `useServer()` starts its server with a TLS client port, and sessions made by
 * `connect()` (or with {@link testConnectString} and {@link testSessionOptions}) go over it.
 * After each test, every session of `connect()` still connected must be listed by `cons` on the
 * TLS port and not on the plain one; after the file, at least one must have been checked.
 */
export const TEST_TLS = process.env['ZK_TEST_TLS'] === '1';

/** The client's TLS options for `server`'s TLS port (the test kit's certificates). */
export function tlsOptionsOf(server: ZooKeeperServer): TlsOptions {
  const t = server.tls;
  if (!t) throw new Error(`server ${server.connectString} has no TLS port (start it with tls: true)`);
  return { ca: t.ca, cert: t.cert, key: t.key, servername: t.serverName };
}

/** Where the suites' sessions connect: `server`'s TLS port under ZK_TEST_TLS, else its plain port. */
export function testConnectString(server: ZooKeeperServer): string {
  return TEST_TLS ? server.tls!.connectString : server.connectString;
}

/** `opts` with the TLS options under ZK_TEST_TLS (for a session on {@link testConnectString}, or a proxy in front of it). */
export function testSessionOptions(server: ZooKeeperServer, opts: SessionOptions = {}): SessionOptions {
  return TEST_TLS ? { ...opts, tls: tlsOptionsOf(server) } : opts;
}

/** Fails unless every connected session of `sessions` is a TLS connection of `server`; returns how many were checked. */
async function expectOverTls(server: ZooKeeperServer, sessions: Iterable<ZkSession>): Promise<number> {
  const live = [...sessions].filter((s) => s.state === 'connected');
  if (live.length === 0) return 0;
  const [secure, plain] = await Promise.all([tlsFourLetterWord(server.tls!, 'cons', 5000), fourLetterWord('127.0.0.1', server.port, 'cons', 5000)]);
  for (const s of live) {
    const sid = `sid=0x${s.sessionId.toLowerCase()}`;
    expect({ session: s.sessionId, onTlsPort: secure.includes(sid), onPlainPort: plain.includes(sid) }).toEqual({
      session: s.sessionId,
      onTlsPort: true,
      onPlainPort: false,
    });
  }
  return live.length;
}

/** Starts one server for the file (beforeAll) and closes it (afterAll). */
export function useServer(): { readonly server: ZooKeeperServer; connect(opts?: SessionOptions): Promise<ZkSession> } {
  let server: ZooKeeperServer | undefined;
  const sessions = new Set<ZkSession>();
  let checkedOverTls = 0;
  beforeAll(async () => {
    if (TEST_TLS && TEST_TRANSPORT === 'native') throw new Error('ZK_TEST_TLS=1: the native transport has no TLS');
    server = await startZooKeeper({ tls: TEST_TLS });
  });
  afterEach(async () => {
    try {
      if (TEST_TLS && server) checkedOverTls += await expectOverTls(server, sessions);
    } finally {
      await Promise.all([...sessions].map((s) => s.close()));
      sessions.clear();
    }
  });
  afterAll(async () => {
    await server?.close();
    if (!TEST_TLS) return;
    console.info(`[ZK_TEST_TLS] ${checkedOverTls} sessions of this file seen by cons on the TLS port, none on the plain port`);
    expect(checkedOverTls, 'ZK_TEST_TLS=1: sessions checked on the TLS port').toBeGreaterThan(0);
  });
  return {
    get server() {
      if (!server) throw new Error('server not started');
      return server;
    },
    async connect(opts: SessionOptions = {}) {
      const s = await ZkSession.connect(
        testConnectString(server!),
        testSessionOptions(server!, { sessionTimeoutMs: 4000, transport: TEST_TRANSPORT, ...opts }),
      );
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

/** A running {@link countingForwarder}. */
export interface CountingForwarder {
  /** The port it listens on (127.0.0.1). */
  readonly port: number;
  /** Connections accepted so far. */
  accepted(): number;
  /** Forwards connections accepted from now on to 127.0.0.1:`port` instead. */
  retarget(port: number): void;
  /** Resets every connection open now (new ones are accepted). */
  dropConnections(): void;
  close(): Promise<void>;
}

/**
 * A plain TCP forwarder to 127.0.0.1:`port` that counts the connections it accepted (TLS passes
 * through untouched). Listens on `listenPort` (default: a free one).
 */
export async function countingForwarder(port: number, listenPort = 0): Promise<CountingForwarder> {
  let accepted = 0;
  let target = port;
  const sockets = new Set<Socket>();
  const srv: Server = createServer((client) => {
    accepted++;
    const upstream = netConnect({ host: '127.0.0.1', port: target });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => {
        sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(listenPort, '127.0.0.1', resolve);
  });
  const dropConnections = () => {
    for (const s of sockets) s.resetAndDestroy();
  };
  return {
    port: (srv.address() as { port: number }).port,
    accepted: () => accepted,
    retarget: (p) => {
      target = p;
    },
    dropConnections,
    close: () =>
      new Promise<void>((r) => {
        dropConnections();
        srv.close(() => r());
      }),
  };
}

/**
 * For files that fault the wire: records every uncaught exception and unhandled rejection while
 * the file runs (nothing may escape a socket handler), runs the `closers` registered during a
 * test after it, then asserts nothing escaped.
 */
export function useNoEscapes(): { escaped: string[]; closers: Array<() => Promise<unknown>> } {
  const escaped: string[] = [];
  const closers: Array<() => Promise<unknown>> = [];
  const onUncaught = (err: unknown) => escaped.push(`uncaughtException: ${String((err as Error)?.stack ?? err)}`);
  const onUnhandled = (reason: unknown) => escaped.push(`unhandledRejection: ${String((reason as Error)?.stack ?? reason)}`);
  beforeAll(() => {
    process.on('uncaughtException', onUncaught);
    process.on('unhandledRejection', onUnhandled);
  });
  afterAll(() => {
    process.off('uncaughtException', onUncaught);
    process.off('unhandledRejection', onUnhandled);
  });
  afterEach(async () => {
    for (const f of closers.splice(0).reverse()) await f().catch(() => undefined);
    expect(escaped).toEqual([]);
  });
  return { escaped, closers };
}
