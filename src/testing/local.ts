/**
 * Local ZooKeeper servers: the Java server from a local install, started as child processes on
 * free loopback ports with temporary data dirs. Every process started here is killed when the
 * test process exits, and its pid is recorded where the test runner's global teardown finds it.
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync, closeSync, unlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import createDebug from 'debug';
import { withoutInheritedFds } from '../fds.js';
import { serverMode } from './fourlw.js';
import { ProbedEnsemble } from './ensemble-probe.js';
import type { ZooKeeperEnsemble, ZooKeeperServer } from './types.js';

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
    const jars = readdirSync(join(home, 'lib')).filter((f) => f.endsWith('.jar')).map((f) => join(home, 'lib', f));
    return { classpath: [join(home, 'conf'), ...jars].join(':'), source: `ZOOKEEPER_HOME=${home}` };
  }
  if (existsSync('/usr/share/java/zookeeper.jar')) {
    return { classpath: '/etc/zookeeper/conf:/usr/share/java/zookeeper.jar', source: '/usr/share/java/zookeeper.jar (Debian package)' };
  }
  return undefined;
}

/** Binds `port` (0: any) on 127.0.0.1 and closes it again; resolves the port, or 0 if it is taken. */
function tryBind(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', (err: NodeJS.ErrnoException) => (err.code === 'EADDRINUSE' || err.code === 'EACCES' ? resolve(0) : reject(err)));
    srv.listen(port, '127.0.0.1', () => {
      const { port: bound } = srv.address() as { port: number };
      srv.close(() => resolve(bound));
    });
  });
}

/** The kernel's range of ports for outgoing connections (Linux), or undefined. */
function ephemeralRange(): [number, number] | undefined {
  try {
    const [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    return lo && hi ? [lo, hi] : undefined;
  } catch {
    return undefined;
  }
}

const handedOut = new Set<number>();

/**
 * Finds a free TCP port on 127.0.0.1 for a server, below the kernel's ephemeral range where it can:
 * a port from that range (what `listen(0)` gives) can be taken by any outgoing connection's local
 * end between the check and the server's bind — or while a killed server waits for its restart —
 * and the server then fails to start (seen as a container stuck before readiness).
 */
export async function freePort(): Promise<number> {
  const lo = ephemeralRange()?.[0] ?? 0;
  if (lo > 12_000) {
    for (let i = 0; i < 100; i++) {
      const candidate = 10_000 + Math.floor(Math.random() * (lo - 10_000));
      if (handedOut.has(candidate)) continue;
      handedOut.add(candidate); // before the await: concurrent calls must not pick it too
      if (await tryBind(candidate)) return candidate;
      handedOut.delete(candidate);
    }
  }
  return tryBind(0);
}

// ---- process registry: no orphan Java processes ----------------------------------------------

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function track(child: ChildProcess): void {
  live.add(child);
  const dir = process.env['ZK_RECIPES_PID_DIR'];
  const pidFile = dir && child.pid ? join(dir, String(child.pid)) : undefined;
  if (pidFile) { try { writeFileSync(pidFile, ''); } catch { /* dir gone */ } }
  child.once('exit', () => {
    live.delete(child);
    if (pidFile) { try { unlinkSync(pidFile); } catch { /* already gone */ } }
  });
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    const killAll = () => { for (const c of live) { try { c.kill('SIGKILL'); } catch { /* gone */ } } };
    process.once('exit', killAll);
    for (const sig of ['SIGINT', 'SIGTERM'] as const) {
      // Exit only if nobody else handles the signal: a program with its own cleanup keeps control.
      process.once(sig, () => { killAll(); if (process.listenerCount(sig) === 0) process.exit(130); });
    }
  }
}

/** Kills every process recorded in `dir` (the global teardown's safety net) and empties it. */
export function killRecorded(dir: string): number {
  let n = 0;
  if (!existsSync(dir)) return 0;
  for (const f of readdirSync(dir)) {
    const pid = Number(f);
    if (Number.isInteger(pid)) {
      try { process.kill(pid, 'SIGKILL'); n++; } catch { /* already gone */ }
    }
    rmSync(join(dir, f), { force: true });
  }
  return n;
}

// ---- one server process ----------------------------------------------------------------------

interface ProcessSpec {
  install: LocalInstall;
  dir: string;
  cfgFile: string;
  port: number;
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

function startProcess(spec: ProcessSpec): ChildProcess {
  const out = openSync(join(spec.dir, 'server.log'), 'a');
  // With util-linux's setpriv the server gets SIGKILL when the process that started it dies,
  // even by SIGKILL (no exit hook runs then): no orphan Java processes, whatever happens.
  const java = existsSync('/usr/bin/setpriv') ? ['/usr/bin/setpriv', '--pdeathsig', 'KILL', 'java'] : ['java'];
  const launcher = withoutInheritedFds(java);
  const child = spawn(launcher[0]!, [...launcher.slice(1),
    '-Xmx256m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-Xshare:auto',
    '-Dzookeeper.admin.enableServer=false',
    '-Dzookeeper.4lw.commands.whitelist=*',
    '-Dznode.container.checkIntervalMs=1000',
    '-Dzookeeper.extendedTypesEnabled=true',
    // Ensemble tests kill and restart servers: re-elect in about a second, not after the default
    // notification back-off (up to 60 s) and 5 s connection timeouts between peers.
    '-Dzookeeper.fastleader.maxNotificationInterval=1000',
    '-Dzookeeper.cnxTimeout=1000',
    '-Dzookeeper.root.logger=WARN,CONSOLE',
    '-cp', spec.install.classpath,
    'org.apache.zookeeper.server.quorum.QuorumPeerMain', spec.cfgFile,
  ], { stdio: ['ignore', out, out] });
  closeSync(out);
  track(child);
  log('started java pid %d for port %d', child.pid, spec.port);
  return child;
}

function stopProcess(child: ChildProcess | undefined, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => { try { child.kill('SIGKILL'); } catch { /* gone */ } }, 5000);
    child.once('exit', () => { clearTimeout(t); resolve(); });
    try {
      child.kill('SIGCONT'); // a paused process cannot act on SIGTERM
      child.kill(signal);
    } catch { resolve(); }
  });
}

class LocalServer implements ZooKeeperServer {
  readonly kind = 'local' as const;
  readonly connectString: string;
  child: ChildProcess | undefined;
  private closed = false;

  constructor(readonly spec: ProcessSpec, private readonly readyModes: RegExp, private readonly ownsDir: boolean) {
    this.connectString = `127.0.0.1:${spec.port}`;
  }

  get port(): number { return this.spec.port; }

  async start(timeoutMs = 60_000): Promise<void> {
    this.child = startProcess(this.spec);
    await waitFor(async () => this.readyModes.test((await serverMode('127.0.0.1', this.spec.port)) ?? ''), timeoutMs, `ZooKeeper on ${this.connectString}`, this.child);
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

  async pause(): Promise<void> { this.child?.kill('SIGSTOP'); }
  async resume(): Promise<void> { this.child?.kill('SIGCONT'); }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.stop();
    if (this.ownsDir) rmSync(this.spec.dir, { recursive: true, force: true });
  }

  [Symbol.asyncDispose](): Promise<void> { return this.close(); }
}

const BASE_CFG = [
  'tickTime=200',
  'initLimit=50',
  'syncLimit=25',
  'minSessionTimeout=400',
  'maxSessionTimeout=60000',
  'maxClientCnxns=0',
  'admin.enableServer=false',
  '4lw.commands.whitelist=*',
  'extendedTypesEnabled=true',
  'forceSync=no',
];

/** Options of {@link startLocalServer}. */
export interface LocalServerOptions {
  /** The install to run. @default findLocalInstall() */
  install?: LocalInstall;
  /** Client port. @default a free port */
  port?: number;
}

/**
 * Starts one standalone server as a child Java process on a free loopback port with a temporary
 * data dir. Resolves once it answers `srvr`.
 */
export async function startLocalServer(options: LocalServerOptions = {}): Promise<ZooKeeperServer> {
  const install = options.install ?? findLocalInstall();
  if (!install) throw new Error('no local ZooKeeper install found');
  const port = options.port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'zk-recipes-'));
  const cfgFile = join(dir, 'zoo.cfg');
  writeFileSync(cfgFile, [...BASE_CFG, `dataDir=${join(dir, 'data')}`, `clientPort=${port}`, 'clientPortAddress=127.0.0.1', ''].join('\n'));
  const server = new LocalServer({ install, dir, cfgFile, port }, /standalone/, true);
  try {
    await server.start();
  } catch (err) {
    await server.close();
    throw err;
  }
  return server;
}

class LocalEnsemble extends ProbedEnsemble<LocalServer> {
  private closed = false;
  constructor(servers: readonly LocalServer[], private readonly dir: string) {
    super(servers);
  }

  protected running(s: LocalServer): boolean { return s.child !== undefined; }

  async restart(i: number): Promise<void> {
    const s = this.at(i);
    await s.stop();
    s.spawnOnly();
    await this.waitForQuorum();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.servers.map((s) => s.close()));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * Starts an ensemble of `n` local servers on loopback (free ports) and waits for a quorum.
 * @param n - number of servers (3 for failover tests)
 */
export async function startLocalEnsemble(n = 3, install = findLocalInstall()): Promise<ZooKeeperEnsemble> {
  if (!install) throw new Error('no local ZooKeeper install found');
  const dir = mkdtempSync(join(tmpdir(), 'zk-recipes-ens-'));
  const ports: Array<{ client: number; quorum: number; election: number }> = [];
  for (let i = 0; i < n; i++) ports.push({ client: await freePort(), quorum: await freePort(), election: await freePort() });
  const serverLines = ports.map((p, i) => `server.${i + 1}=127.0.0.1:${p.quorum}:${p.election}`);
  const servers = ports.map((p, i) => {
    const sdir = join(dir, `s${i + 1}`);
    mkdirSync(join(sdir, 'data'), { recursive: true });
    writeFileSync(join(sdir, 'data', 'myid'), `${i + 1}\n`);
    const cfgFile = join(sdir, 'zoo.cfg');
    writeFileSync(cfgFile, [...BASE_CFG, `dataDir=${join(sdir, 'data')}`, `clientPort=${p.client}`, 'clientPortAddress=127.0.0.1',
      'standaloneEnabled=false', 'reconfigEnabled=false', ...serverLines, ''].join('\n'));
    return new LocalServer({ install, dir: sdir, cfgFile, port: p.client }, /leader|follower/, false);
  });
  const ensemble = new LocalEnsemble(servers, dir);
  try {
    for (const s of servers) s.spawnOnly();
    await ensemble.waitForQuorum();
  } catch (err) {
    await ensemble.close();
    throw err;
  }
  return ensemble;
}
