/**
 * Local ZooKeeper servers: the Java server from a local install, started as child processes on
 * free loopback ports with temporary data dirs. Every process started here is killed when the
 * test process exits, and its pid is recorded where the test runner's global teardown finds it.
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync, closeSync, unlinkSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import createDebug from 'debug';
import { withoutInheritedFds } from '../fds.js';
import { fourLetterWord } from './fourlw.js';
import { ProbedEnsemble } from './ensemble-probe.js';
import { generateTestCerts } from './tls.js';
import type { ZooKeeperEnsemble, ZooKeeperServer, ZooKeeperTls } from './types.js';

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
    // The jar's manifest Class-Path names netty-handler and netty-transport but not what they need
    // (netty-codec, netty-resolver): without them the Netty connection factory, and so TLS, fails
    // on the first connection with NoClassDefFoundError. The plain NIO factory needs neither.
    const netty = ['netty-codec', 'netty-resolver'].map((j) => `/usr/share/java/${j}.jar`).filter((j) => existsSync(j));
    return { classpath: ['/etc/zookeeper/conf', '/usr/share/java/zookeeper.jar', ...netty].join(':'), source: '/usr/share/java/zookeeper.jar (Debian package)' };
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
  /** Extra `-D` options (read-only mode, the superuser digest). */
  jvmArgs?: readonly string[];
  /** The TLS client port, which must listen too before the server counts as ready. */
  tlsPort?: number;
}

/** Whether something accepts TCP connections on 127.0.0.1:`port`. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host: '127.0.0.1', port });
    sock.setTimeout(1000, () => { sock.destroy(); resolve(false); });
    sock.once('connect', () => { sock.destroy(); resolve(true); });
    sock.once('error', () => resolve(false));
  });
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
    if (Date.now() > deadline) throw new Error(`server on port ${port}: mode ${String(mode)} not reached within ${timeoutMs} ms (last: ${seen ?? 'not serving'})`);
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
    ...(spec.jvmArgs ?? []),
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

  constructor(readonly spec: ProcessSpec, private readonly readyModes: RegExp, private readonly ownsDir: boolean, readonly tls?: ZooKeeperTls) {
    this.connectString = `127.0.0.1:${spec.port}`;
  }

  get port(): number { return this.spec.port; }

  async start(timeoutMs = 60_000): Promise<void> {
    this.child = startProcess(this.spec);
    // The secure port is bound after the plain one starts serving: wait for both.
    const tlsPort = this.spec.tlsPort;
    await waitFor(async () => this.readyModes.test((await localServerMode(this.spec.port)) ?? '') && (tlsPort === undefined || (await listening(tlsPort))),
      timeoutMs, `ZooKeeper on ${this.connectString}`, this.child);
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
  /**
   * Also serve a TLS client port (`secureClientPort`, client certificate required), with
   * certificates made for this server; the server's `tls` says how to connect. @default false
   */
  tls?: boolean;
}

/**
 * The zoo.cfg lines of a TLS client port. ZooKeeper 3.8 turns every zoo.cfg key it does not know
 * into the system property `zookeeper.<key>`, which is where its X509Util reads `ssl.*` from.
 * Only the Netty connection factory speaks TLS; it then serves the plain port too.
 */
function tlsConfig(port: number, keyStore: string, trustStore: string): string[] {
  return [
    'serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory',
    `secureClientPort=${port}`,
    'secureClientPortAddress=127.0.0.1',
    `ssl.keyStore.location=${keyStore}`,
    'ssl.keyStore.type=PEM',
    `ssl.trustStore.location=${trustStore}`,
    'ssl.trustStore.type=PEM',
    'ssl.clientAuth=need', // the default, written out: tests rely on a client certificate being checked
  ];
}

/**
 * Starts one standalone server as a child Java process on a free loopback port with a temporary
 * data dir. Resolves once it answers `srvr` (and, with `tls`, its TLS port listens).
 */
export async function startLocalServer(options: LocalServerOptions = {}): Promise<ZooKeeperServer> {
  const install = options.install ?? findLocalInstall();
  if (!install) throw new Error('no local ZooKeeper install found');
  const port = options.port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'zk-recipes-'));
  const cfgFile = join(dir, 'zoo.cfg');
  let tls: ZooKeeperTls | undefined;
  const cfg = [...BASE_CFG, `dataDir=${join(dir, 'data')}`, `clientPort=${port}`, 'clientPortAddress=127.0.0.1'];
  try {
    if (options.tls) {
      const certs = await generateTestCerts(join(dir, 'tls'));
      const tlsPort = await freePort();
      tls = { port: tlsPort, connectString: `127.0.0.1:${tlsPort}`, ca: certs.ca, cert: certs.cert, key: certs.key, serverName: certs.serverName };
      cfg.push(...tlsConfig(tlsPort, certs.serverKeyStoreFile, certs.caFile));
    }
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  writeFileSync(cfgFile, [...cfg, ''].join('\n'));
  const server = new LocalServer({ install, dir, cfgFile, port, tlsPort: tls?.port }, /standalone/, true, tls);
  try {
    await server.start();
  } catch (err) {
    await server.close();
    throw err;
  }
  return server;
}

/** The superuser of a `reconfig` ensemble, as `user:password` for `addAuth('digest', SUPER_AUTH)`. */
export const SUPER_AUTH = 'super:test';

/** `user:base64(sha1("user:password"))`: the form `DigestAuthenticationProvider.superDigest` takes. */
function superDigest(auth: string): string {
  return `${auth.slice(0, auth.indexOf(':'))}:${createHash('sha1').update(auth).digest('base64')}`;
}

/** Options of {@link startLocalEnsemble}. */
export interface LocalEnsembleOptions {
  /** The install to run. @default findLocalInstall() */
  install?: LocalInstall;
  /**
   * Start servers with `-Dreadonlymode.enabled=true`: a server that lost the quorum serves reads
   * as `read-only` (about 2 s after it lost it). @default false
   */
  readOnly?: boolean;
  /**
   * Enable dynamic reconfiguration: `reconfigEnabled=true`, membership in a dynamic config file,
   * and the superuser {@link SUPER_AUTH} (the one who may run `reconfig`, whose ACL check it
   * passes). Needed for {@link LocalZooKeeperEnsemble.spawnJoiner}. @default false
   */
  reconfig?: boolean;
}

/** A server started to be added to a running ensemble by a reconfig (see `spawnJoiner`). */
export interface LocalJoiner extends ZooKeeperServer {
  /** Its server id (`myid`). */
  readonly id: number;
  /** Its quorum (follower-to-leader) port. */
  readonly quorumPort: number;
  /** Its leader-election port. */
  readonly electionPort: number;
  /**
   * `server.<id>=127.0.0.1:<quorum>:<election>:participant;127.0.0.1:<client>`: what to pass to
   * `reconfig` as joining servers (zkCli: `reconfig -add <serverLine>`) to add it as a voter.
   */
  readonly serverLine: string;
  /** Polls `srvr` until it reports `mode` (`follower` both before and after the reconfig; see `spawnJoiner`). */
  waitForMode(mode: ServerMode | RegExp, timeoutMs?: number): Promise<void>;
}

/** A local ensemble: a {@link ZooKeeperEnsemble} with what only local processes can offer. */
export interface LocalZooKeeperEnsemble extends ZooKeeperEnsemble {
  /** Polls `srvr` on server `i` until it reports `mode`, e.g. `read-only` after a quorum loss. */
  waitForMode(i: number, mode: ServerMode | RegExp, timeoutMs?: number): Promise<void>;
  /**
   * Starts one more server that can join by a reconfig (ensembles started with `reconfig: true`).
   * Following the reconfig guide, it starts with the last committed membership plus itself as an
   * observer, so it finds the leader and syncs without being a voter. Resolves once it serves:
   * ZooKeeper 3.8 then reports it as `follower` already — the leader's config, which it adopts,
   * does not list it, and such a server becomes a non-voting participant (the leader's `mntr`
   * counts it in `zk_synced_non_voting_followers` until the reconfig makes it a voter).
   * The ensemble's `close()` stops it too; `servers` does not list it.
   * @throws Error when the ensemble was not started with `reconfig: true`
   */
  spawnJoiner(): Promise<LocalJoiner>;
}

class JoinerServer extends LocalServer implements LocalJoiner {
  constructor(spec: ProcessSpec, readonly id: number, readonly quorumPort: number, readonly electionPort: number, readonly serverLine: string) {
    // Configured as observer, it serves as a non-voting follower before its reconfig (see
    // spawnJoiner); any serving mode counts as ready.
    super(spec, /observer|follower|leader/, false);
  }
}

interface MemberPorts { client: number; quorum: number; election: number }

/** Lines of a reconfig-enabled server's dynamic config file. */
const memberLine = (id: number, p: MemberPorts, role: 'participant' | 'observer') =>
  `server.${id}=127.0.0.1:${p.quorum}:${p.election}:${role};127.0.0.1:${p.client}`;

class LocalEnsemble extends ProbedEnsemble<LocalServer> implements LocalZooKeeperEnsemble {
  private closed = false;
  private readonly joiners: JoinerServer[] = [];

  constructor(servers: readonly LocalServer[], private readonly dir: string, private readonly settings: EnsembleSettings) {
    super(servers);
  }

  protected running(s: LocalServer): boolean { return s.child !== undefined; }

  async restart(i: number): Promise<void> {
    const s = this.at(i);
    await s.stop();
    s.spawnOnly();
    await this.waitForQuorum();
  }

  waitForMode(i: number, mode: ServerMode | RegExp, timeoutMs?: number): Promise<void> {
    return this.at(i).waitForMode(mode, timeoutMs);
  }

  /**
   * The `server.N=` lines of the last committed membership, from a running member's files: each
   * server rewrites its zoo.cfg to name a new dynamic file when a reconfig commits.
   */
  private committedMembers(): string[] {
    for (const s of [...this.servers, ...this.joiners]) {
      if (!this.running(s)) continue;
      const dyn = /^dynamicConfigFile=(.*)$/m.exec(readFileSync(s.spec.cfgFile, 'utf8'))?.[1];
      if (!dyn || !existsSync(dyn)) continue;
      const lines = readFileSync(dyn, 'utf8').split('\n').filter((l) => l.startsWith('server.'));
      if (lines.length > 0) return lines;
    }
    throw new Error('ensemble: no running member to read the membership from');
  }

  async spawnJoiner(): Promise<LocalJoiner> {
    if (!this.settings.reconfig) throw new Error('spawnJoiner: start the ensemble with startLocalEnsemble(n, { reconfig: true })');
    if (this.closed) throw new Error('spawnJoiner: the ensemble is closed');
    const id = this.servers.length + this.joiners.length + 1;
    const p: MemberPorts = { client: await freePort(), quorum: await freePort(), election: await freePort() };
    const others = this.committedMembers().filter((l) => !l.startsWith(`server.${id}=`));
    const spec = writeMember(join(this.dir, `s${id}`), id, p, [...others, memberLine(id, p, 'observer')], this.settings);
    const joiner = new JoinerServer(spec, id, p.quorum, p.election, memberLine(id, p, 'participant'));
    this.joiners.push(joiner);
    await joiner.start();
    return joiner;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.servers, ...this.joiners].map((s) => s.close()));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** What every member of one ensemble shares. */
interface EnsembleSettings {
  install: LocalInstall;
  reconfig: boolean;
  readOnly: boolean;
  jvmArgs: string[];
}

/**
 * Writes server `id`'s dir (myid, zoo.cfg and, with reconfig, the dynamic config file holding
 * `members`, the `server.N=` lines) and returns how to start it.
 */
function writeMember(sdir: string, id: number, p: MemberPorts, members: readonly string[], settings: EnsembleSettings): ProcessSpec {
  mkdirSync(join(sdir, 'data'), { recursive: true });
  writeFileSync(join(sdir, 'data', 'myid'), `${id}\n`);
  const cfgFile = join(sdir, 'zoo.cfg');
  // A read-only server can only hand out local sessions (a global one needs a transaction): without
  // them it answers every new client with NOT_READONLY instead of a session.
  const common = [...BASE_CFG, `dataDir=${join(sdir, 'data')}`, 'standaloneEnabled=false', ...(settings.readOnly ? ['localSessionsEnabled=true'] : [])];
  if (settings.reconfig) {
    // The client address lives in the dynamic file's lines (`;127.0.0.1:port`), not in zoo.cfg:
    // a reconfig may change it, and ZooKeeper rejects a static clientPort that disagrees.
    const dynFile = join(sdir, 'zoo.cfg.dynamic');
    writeFileSync(dynFile, [...members, ''].join('\n'));
    writeFileSync(cfgFile, [...common, 'reconfigEnabled=true', `dynamicConfigFile=${dynFile}`, ''].join('\n'));
  } else {
    writeFileSync(cfgFile, [...common, `clientPort=${p.client}`, 'clientPortAddress=127.0.0.1', 'reconfigEnabled=false', ...members, ''].join('\n'));
  }
  return { install: settings.install, dir: sdir, cfgFile, port: p.client, jvmArgs: settings.jvmArgs };
}

/**
 * Starts an ensemble of `n` local servers on loopback (free ports) and waits for a quorum.
 * @param n - number of servers (3 for failover tests)
 * @param options - a {@link LocalInstall} (the older form), or {@link LocalEnsembleOptions}
 */
export async function startLocalEnsemble(n = 3, options: LocalInstall | LocalEnsembleOptions = {}): Promise<LocalZooKeeperEnsemble> {
  const opts: LocalEnsembleOptions = 'classpath' in options ? { install: options } : options;
  const install = opts.install ?? findLocalInstall();
  if (!install) throw new Error('no local ZooKeeper install found');
  const jvmArgs: string[] = [];
  // Read by QuorumPeer without the `zookeeper.` prefix, and only as a system property.
  if (opts.readOnly) jvmArgs.push('-Dreadonlymode.enabled=true');
  // reconfig needs WRITE on /zookeeper/config, which only the superuser has (skipACL would do too,
  // but would also switch off every ACL the tests might check).
  if (opts.reconfig) jvmArgs.push(`-Dzookeeper.DigestAuthenticationProvider.superDigest=${superDigest(SUPER_AUTH)}`);
  const settings: EnsembleSettings = { install, reconfig: opts.reconfig ?? false, readOnly: opts.readOnly ?? false, jvmArgs };
  const dir = mkdtempSync(join(tmpdir(), 'zk-recipes-ens-'));
  const ports: MemberPorts[] = [];
  for (let i = 0; i < n; i++) ports.push({ client: await freePort(), quorum: await freePort(), election: await freePort() });
  const members = ports.map((p, i) => (settings.reconfig ? memberLine(i + 1, p, 'participant') : `server.${i + 1}=127.0.0.1:${p.quorum}:${p.election}`));
  const servers = ports.map((p, i) => new LocalServer(writeMember(join(dir, `s${i + 1}`), i + 1, p, members, settings), /leader|follower/, false));
  const ensemble = new LocalEnsemble(servers, dir, settings);
  try {
    for (const s of servers) s.spawnOnly();
    await ensemble.waitForQuorum();
  } catch (err) {
    await ensemble.close();
    throw err;
  }
  return ensemble;
}
