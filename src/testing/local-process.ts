/**
 * One local ZooKeeper server process: finding the install, spawning `java` on a rendered config
 * (server-config.ts), readiness by `srvr`, stop/kill/pause, and the registry that kills every
 * process started here when the test process exits (exit-hooks.ts).
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import createDebug from 'debug';
import { withoutInheritedFds } from '../fds.js';
import { onProcessExit, recordPid } from './exit-hooks.js';
import { fourLetterWord } from './fourlw.js';
import { listening } from './ports.js';
import { javaArgs, type ServerConfig } from './server-config.js';
import type { ZooKeeperServer, ZooKeeperTls } from './types.js';

const log = createDebug('zk-recipes:testing');

/** Where a local ZooKeeper install was found. */
export interface LocalInstall {
  /** Java classpath holding the server and its config dir. */
  classpath: string;
  /** What was found, for messages. */
  source: string;
}

/**
 * Finds a local ZooKeeper: `ZOOKEEPER_CLASSPATH`, `ZOOKEEPER_HOME` (a release tarball), or
 * Debian's `/usr/share/java/zookeeper.jar`. Undefined when there is none (or no `java`).
 */
export function findLocalInstall(env: NodeJS.ProcessEnv = process.env): LocalInstall | undefined {
  if (env['ZOOKEEPER_CLASSPATH']) return { classpath: env['ZOOKEEPER_CLASSPATH'], source: 'ZOOKEEPER_CLASSPATH' };
  const home = env['ZOOKEEPER_HOME'];
  if (home && existsSync(join(home, 'lib'))) {
    const jars = readdirSync(join(home, 'lib'))
      .filter((f) => f.endsWith('.jar'))
      .map((f) => join(home, 'lib', f));
    return { classpath: [join(home, 'conf'), ...jars].join(':'), source: `ZOOKEEPER_HOME=${home}` };
  }
  if (existsSync('/usr/share/java/zookeeper.jar')) {
    // The jar's manifest Class-Path names netty-handler and netty-transport but not what they need
    // (netty-codec, netty-resolver): without them the Netty connection factory, and so TLS, fails
    // on the first connection with NoClassDefFoundError. The plain NIO factory needs neither.
    const netty = ['netty-codec', 'netty-resolver'].map((j) => `/usr/share/java/${j}.jar`).filter((j) => existsSync(j));
    return {
      classpath: ['/etc/zookeeper/conf', '/usr/share/java/zookeeper.jar', ...netty].join(':'),
      source: '/usr/share/java/zookeeper.jar (Debian package)',
    };
  }
  return undefined;
}

/** A server mode as `srvr` reports it. */
export type ServerMode = 'standalone' | 'leader' | 'follower' | 'observer' | 'read-only';

/**
 * The whole `Mode:` word of `srvr` on 127.0.0.1:`port` (`read-only` included, which
 * `serverMode`'s `\w+` cuts to `read`), or undefined when the server does not serve.
 */
export async function localServerMode(port: number, timeoutMs = 1000): Promise<string | undefined> {
  try {
    return /Mode:\s*(\S+)/.exec(await fourLetterWord('127.0.0.1', port, 'srvr', timeoutMs))?.[1];
  } catch {
    return undefined;
  }
}

/**
 * Polls `srvr` on 127.0.0.1:`port` until the server reports `mode` (a mode, or a pattern such as
 * `/leader|follower/`). A read-only server starts about 2 s after its peer lost the quorum, and
 * a leader notices the loss only after `syncLimit` ticks (5 s here): hence the generous default.
 * @throws Error naming the last mode seen when the deadline passes
 */
export async function waitForServerMode(port: number, mode: ServerMode | RegExp, timeoutMs = 30_000): Promise<void> {
  const want = typeof mode === 'string' ? new RegExp(`^${mode}$`) : mode;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const seen = await localServerMode(port);
    if (seen !== undefined && want.test(seen)) return;
    if (Date.now() > deadline)
      throw new Error(`server on port ${port}: mode ${String(mode)} not reached within ${timeoutMs} ms (last: ${seen ?? 'not serving'})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string, child?: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child && child.exitCode !== null) throw new Error(`${what}: the server process exited with code ${child.exitCode}`);
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what}: not ready within ${timeoutMs} ms`);
}

// ---- process registry: no orphan Java processes ----------------------------------------------

const live = new Set<ChildProcess>();

function killLive(): void {
  for (const c of live) {
    try {
      c.kill('SIGKILL');
    } catch {
      /* gone */
    }
  }
  live.clear();
}

function track(child: ChildProcess): void {
  live.add(child);
  onProcessExit(killLive);
  const unrecord = recordPid(child.pid);
  child.once('exit', () => {
    live.delete(child);
    unrecord();
  });
}

// ---- one server process ----------------------------------------------------------------------

/** How to start one local server: its rendered config, where it was written, and its ports. */
export interface ProcessSpec {
  /** The install to run. */
  install: LocalInstall;
  /** The server's own dir (zoo.cfg, data, server.log). */
  dir: string;
  /** Its rendered files (already written) and JVM flags. */
  config: ServerConfig;
  /** Its zoo.cfg, the server's argument. */
  cfgFile: string;
  /** Its client port on 127.0.0.1. */
  port: number;
  /** The TLS client port, which must listen too before the server counts as ready. */
  tlsPort?: number;
}

/** Writes a rendered config's files (zoo.cfg, myid, dynamic file) at their host paths. */
export function writeServerFiles(config: ServerConfig): void {
  for (const f of config.files) {
    mkdirSync(dirname(f.path), { recursive: true });
    writeFileSync(f.path, f.content);
  }
}

function startProcess(spec: ProcessSpec): ChildProcess {
  const out = openSync(join(spec.dir, 'server.log'), 'a');
  // With util-linux's setpriv the server gets SIGKILL when the process that started it dies,
  // even by SIGKILL (no exit hook runs then): no orphan Java processes, whatever happens.
  const java = existsSync('/usr/bin/setpriv') ? ['/usr/bin/setpriv', '--pdeathsig', 'KILL', 'java'] : ['java'];
  const launcher = withoutInheritedFds(java);
  const args = [...launcher.slice(1), ...javaArgs(spec.config, spec.install.classpath, spec.cfgFile)];
  const child = spawn(launcher[0]!, args, { stdio: ['ignore', out, out] });
  closeSync(out);
  track(child);
  log('started java pid %d for port %d', child.pid, spec.port);
  return child;
}

function stopProcess(child: ChildProcess | undefined, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      try {
        child.kill('SIGKILL');
      } catch {
        /* gone */
      }
    }, 5000);
    child.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    try {
      child.kill('SIGCONT'); // a paused process cannot act on SIGTERM
      child.kill(signal);
    } catch {
      resolve();
    }
  });
}

/** A local server process; `start()` waits until `srvr` reports one of `readyModes`. */
export class LocalServer implements ZooKeeperServer {
  readonly kind = 'local' as const;
  readonly connectString: string;
  child: ChildProcess | undefined;
  private closed = false;

  constructor(
    readonly spec: ProcessSpec,
    private readonly readyModes: RegExp,
    private readonly ownsDir: boolean,
    readonly tls?: ZooKeeperTls,
  ) {
    this.connectString = `127.0.0.1:${spec.port}`;
  }

  get port(): number {
    return this.spec.port;
  }

  async start(timeoutMs = 60_000): Promise<void> {
    this.child = startProcess(this.spec);
    // The secure port is bound after the plain one starts serving: wait for both.
    const tlsPort = this.spec.tlsPort;
    await waitFor(
      async () => this.readyModes.test((await localServerMode(this.spec.port)) ?? '') && (tlsPort === undefined || (await listening(tlsPort))),
      timeoutMs,
      `ZooKeeper on ${this.connectString}`,
      this.child,
    );
  }

  /** Waits until `srvr` reports `mode`. */
  waitForMode(mode: ServerMode | RegExp, timeoutMs?: number): Promise<void> {
    return waitForServerMode(this.spec.port, mode, timeoutMs);
  }

  /** Starts the process without waiting (ensemble members need their peers to become ready). */
  spawnOnly(): void {
    this.child = startProcess(this.spec);
  }

  async stop(): Promise<void> {
    await stopProcess(this.child);
    this.child = undefined;
  }

  async kill(): Promise<void> {
    await stopProcess(this.child, 'SIGKILL');
    this.child = undefined;
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  async pause(): Promise<void> {
    this.child?.kill('SIGSTOP');
  }
  async resume(): Promise<void> {
    this.child?.kill('SIGCONT');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.stop();
    if (this.ownsDir) rmSync(this.spec.dir, { recursive: true, force: true });
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
