/**
 * ZooKeeper in containers, through testcontainers (a dev dependency, imported lazily: the library
 * and the local-process path never load it).
 *
 * Two network modes, chosen by `ZK_CONTAINER_NETWORK` (`host` | `bridge`):
 * - `host`: every server runs on the host's network with its own set of free loopback ports
 *   (client, quorum, election), like the local-process servers. This is the mode for an engine
 *   started by `scripts/containers.sh` (no bridge, no iptables, no registry), which exports
 *   `ZK_CONTAINER_NETWORK=host` and `ZK_IMAGE=zk-recipes/zookeeper:3.8-debian` (an image built
 *   from Debian's packages). When the variable is unset, an image named `zk-recipes/...` means
 *   `host` too.
 * - `bridge` (the default for any other image, e.g. the official `zookeeper:3.9` on a laptop):
 *   client port 2181 is mapped to a fixed free host port (so `connectString` survives restarts)
 *   and ensemble members talk over a user network by alias (`zk1`, `zk2`, ...).
 *
 * The image comes from `ZK_IMAGE` (default `zookeeper:3.9`). The container command writes
 * nothing: `zoo.cfg` and `myid` are copied in before start (same settings as local.ts: tickTime
 * 200, minSessionTimeout 400, maxSessionTimeout 60000, 4lw whitelist `*`, container reaping
 * every second, extended types), then it runs Debian's `/usr/share/java/zookeeper.jar` with
 * `java` when the image has it, else the official image's `zkServer.sh start-foreground`.
 * A server is ready when it answers `srvr` with a mode (asked from inside the container), never
 * on a log line.
 *
 * No leaked containers: each container is labelled and recorded the moment it is created, and
 * removed on `close()`, on process exit or SIGINT/SIGTERM (a synchronous child `node` deletes
 * them through the engine), and by {@link removeRunContainers}: the test runner's global teardown
 * calls it to remove every container labelled with its run (`ZK_RECIPES_PID_DIR`), even after a
 * worker was killed. `scripts/containers.sh stop` removes any labelled container left as well.
 *
 * `pause()` is `docker pause` (resolves once frozen); `resume()` resolves as soon as
 * `docker unpause` is sent, as SIGCONT does for a local process, so a test that awaits it and
 * then listens for `reconnected` cannot miss the event. `stop()`/`kill()` keep the container and
 * its data; `restart()` starts the same container again.
 *
 * Engine settings are testcontainers' own (`DOCKER_HOST`, `TESTCONTAINERS_HOST_OVERRIDE`,
 * `TESTCONTAINERS_RYUK_DISABLED`); `scripts/containers.sh start` prints them. The small engine
 * helpers here (ping, list, remove) speak HTTP over `DOCKER_HOST` (a unix socket or plain tcp).
 * @module
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { hostname } from 'node:os';
import createDebug from 'debug';
import type * as Tc from 'testcontainers';
import { ProbedEnsemble } from './ensemble-probe.js';
import { serverMode } from './fourlw.js';
import { freePort } from './local.js';
import type { ZooKeeperEnsemble, ZooKeeperServer } from './types.js';

const log = createDebug('zk-recipes:testing:containers');

/** Label put on every container the test kit starts. */
export const CONTAINER_LABEL = 'org.zk-recipes.testing';
const RUN_LABEL = `${CONTAINER_LABEL}.run`;
const OWNER_LABEL = `${CONTAINER_LABEL}.owner`;
const OWNER = `${hostname()}:${process.pid}`;
const DEFAULT_IMAGE = 'zookeeper:3.9';
const STARTUP_TIMEOUT_MS = 90_000;

// Same server settings as local.ts's BASE_CFG.
const BASE_CFG = [
  'tickTime=200', 'initLimit=50', 'syncLimit=25', 'minSessionTimeout=400', 'maxSessionTimeout=60000',
  'maxClientCnxns=0', 'admin.enableServer=false', '4lw.commands.whitelist=*', 'extendedTypesEnabled=true', 'forceSync=no',
];
const JVM_FLAGS = [
  '-Xmx256m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-Xshare:auto',
  '-Dzookeeper.admin.enableServer=false', '-Dzookeeper.4lw.commands.whitelist=*',
  '-Dznode.container.checkIntervalMs=1000', '-Dzookeeper.extendedTypesEnabled=true',
].join(' ');
// Debian's layout (the image scripts/containers.sh builds), else the official image's script.
const RUN_SERVER = [
  'if [ -f /usr/share/java/zookeeper.jar ]; then',
  `  exec java ${JVM_FLAGS} -cp /etc/zookeeper/conf:/usr/share/java/zookeeper.jar org.apache.zookeeper.server.quorum.QuorumPeerMain /zk/zoo.cfg;`,
  'else',
  `  export SERVER_JVMFLAGS="${JVM_FLAGS}"; exec zkServer.sh start-foreground /zk/zoo.cfg;`,
  'fi',
].join('\n');

type NetworkMode = 'host' | 'bridge';

function imageName(): string { return process.env['ZK_IMAGE'] || DEFAULT_IMAGE; }

function networkMode(image: string): NetworkMode {
  const v = process.env['ZK_CONTAINER_NETWORK'];
  if (v === 'host' || v === 'bridge') return v;
  if (v) throw new Error(`zk-recipes/testing: ZK_CONTAINER_NETWORK must be host or bridge, got ${v}`);
  return image.startsWith('zk-recipes/') ? 'host' : 'bridge';
}

// ---- the engine, spoken to directly (no testcontainers needed) -------------------------------

interface EngineAddress { socketPath?: string; host?: string; port?: number; describe: string }

function engineAddress(env: NodeJS.ProcessEnv = process.env): EngineAddress | undefined {
  const dh = env['DOCKER_HOST'];
  if (!dh) return existsSync('/var/run/docker.sock') ? { socketPath: '/var/run/docker.sock', describe: 'unix:///var/run/docker.sock' } : undefined;
  if (dh.startsWith('unix://')) return { socketPath: dh.slice('unix://'.length), describe: dh };
  const m = /^tcp:\/\/([^:/]+):(\d+)\/?$/.exec(dh);
  if (m && !env['DOCKER_TLS_VERIFY']) return { host: m[1]!, port: Number(m[2]), describe: dh };
  return undefined; // TLS or another scheme: only testcontainers itself can talk to it
}

function engineCall(addr: EngineAddress, method: string, path: string, timeoutMs = 5000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    // agent: false — a fresh connection per call, never a kept-alive socket that may have been
    // broken meanwhile (the binding's fault 2 in docs/binding-issues.md can unregister one).
    const req = request({ socketPath: addr.socketPath, host: addr.host, port: addr.port, method, path, timeout: timeoutMs, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} on ${addr.describe}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

async function listByLabel(addr: EngineAddress, label: string): Promise<string[]> {
  const filters = encodeURIComponent(JSON.stringify({ label: [label] }));
  const res = await engineCall(addr, 'GET', `/containers/json?all=1&filters=${filters}`);
  if (res.status !== 200) throw new Error(`zk-recipes/testing: listing containers on ${addr.describe} failed: HTTP ${res.status} ${res.body}`);
  return (JSON.parse(res.body) as Array<{ Id: string }>).map((c) => c.Id);
}

async function removeById(addr: EngineAddress, id: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    let res: { status: number; body: string };
    try {
      res = await engineCall(addr, 'DELETE', `/containers/${id}?force=1&v=1`, 15_000);
    } catch (err) {
      if (attempt < 3) continue; // no answer: ask again on a new connection
      throw err;
    }
    if (res.status !== 204 && res.status !== 404) throw new Error(`zk-recipes/testing: removing container ${id.slice(0, 12)} failed: HTTP ${res.status} ${res.body}`);
    return;
  }
}

/**
 * Whether a Docker engine answers: a `/_ping` to `DOCKER_HOST` (or `/var/run/docker.sock`), else,
 * when testcontainers is installed, testcontainers' own runtime detection (Docker Desktop, TLS,
 * `~/.testcontainers.properties`).
 */
export async function dockerAvailable(): Promise<boolean> {
  const addr = engineAddress();
  if (addr) {
    try {
      if ((await engineCall(addr, 'GET', '/_ping', 2000)).status === 200) return true;
    } catch { /* not answering: try testcontainers' detection below */ }
    if (process.env['DOCKER_HOST']) return false;
  }
  try {
    const tc = await loadTestcontainers();
    await tc.getContainerRuntimeClient();
    return true;
  } catch {
    return false;
  }
}

/**
 * Ids of the containers the test kit started: by this process (`'process'`), or by any process
 * on this engine (`'all'`). Asks the engine (running and stopped containers).
 */
export async function listTestContainers(scope: 'process' | 'all' = 'process'): Promise<string[]> {
  const addr = engineAddress();
  if (!addr) throw new Error('zk-recipes/testing: no Docker engine address (DOCKER_HOST unset and no /var/run/docker.sock)');
  return listByLabel(addr, scope === 'all' ? CONTAINER_LABEL : `${OWNER_LABEL}=${OWNER}`);
}

/**
 * The global teardown's safety net: removes every container labelled with this test run
 * (`runId`, default `ZK_RECIPES_PID_DIR`), e.g. left by a worker that crashed. Returns how many
 * it removed; 0 at once when no engine is configured.
 */
export async function removeRunContainers(runId = process.env['ZK_RECIPES_PID_DIR']): Promise<number> {
  const addr = engineAddress();
  if (!addr || !runId) return 0;
  let ids: string[];
  try {
    ids = await listByLabel(addr, `${RUN_LABEL}=${runId}`);
  } catch {
    return 0; // no engine answers: nothing can have been started on it
  }
  await Promise.all(ids.map((id) => removeById(addr, id)));
  return ids.length;
}

// ---- container registry: no leaked containers ------------------------------------------------

const live = new Set<string>();
let exitHookInstalled = false;

// Runs in a child `node` on process exit (exit handlers cannot wait for I/O).
const REMOVE_SCRIPT = `
const http = require('node:http');
const [dh, ...ids] = process.argv.slice(1);
const addr = dh.startsWith('unix://') ? { socketPath: dh.slice(7) } : (() => { const u = new URL(dh.replace(/^tcp:/, 'http:')); return { host: u.hostname, port: Number(u.port) }; })();
Promise.all(ids.map((id) => new Promise((done) => {
  const req = http.request({ ...addr, method: 'DELETE', path: '/containers/' + id + '?force=1&v=1', timeout: 10000 }, (res) => { res.resume(); res.on('end', done); });
  req.on('error', done); req.on('timeout', () => { req.destroy(); done(); }); req.end();
}))).then(() => process.exit(0));
`;

function removeLiveSync(): void {
  if (live.size === 0) return;
  const addr = engineAddress();
  if (!addr) return;
  const dh = addr.socketPath ? `unix://${addr.socketPath}` : `tcp://${addr.host}:${addr.port}`;
  spawnSync(process.execPath, ['-e', REMOVE_SCRIPT, dh, ...live], { stdio: 'ignore', timeout: 15_000 });
  live.clear();
}

function track(id: string): void {
  live.add(id);
  log('created container %s', id.slice(0, 12));
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', removeLiveSync);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => { removeLiveSync(); if (process.listenerCount(sig) === 0) process.exit(130); });
  }
}

// ---- testcontainers, loaded on first use -----------------------------------------------------

type TcModule = typeof Tc;
let tcPromise: Promise<TcModule> | undefined;

function loadTestcontainers(): Promise<TcModule> {
  tcPromise ??= import('testcontainers').then(
    (m) => ((m as { GenericContainer?: unknown }).GenericContainer ? m : (m as unknown as { default: TcModule }).default),
    (err: unknown) => {
      tcPromise = undefined;
      throw new Error('zk-recipes/testing: containers need the testcontainers package (`npm install -D testcontainers`)', { cause: err });
    },
  );
  return tcPromise;
}

async function requireEngine(): Promise<TcModule> {
  if (!(await dockerAvailable())) {
    const where = engineAddress()?.describe ?? 'DOCKER_HOST unset, no /var/run/docker.sock';
    throw new Error([
      `zk-recipes/testing: ZooKeeper containers were requested but no Docker engine answers (${where}).`,
      'On a machine without a running engine: eval "$(bash scripts/containers.sh start)" (starts Debian\'s dockerd,',
      'builds a local ZooKeeper image and exports DOCKER_HOST, TESTCONTAINERS_* , ZK_IMAGE, ZK_CONTAINER_NETWORK).',
    ].join('\n'));
  }
  return loadTestcontainers();
}

// ---- one server container --------------------------------------------------------------------

interface ServerPlan {
  image: string;
  mode: NetworkMode;
  /** Client port on the host. */
  hostPort: number;
  /** Client port inside the container (the host port in host mode). */
  innerPort: number;
  cfg: string;
  myid?: number;
  network?: Tc.StartedNetwork;
  alias?: string;
}

type State = 'running' | 'stopped' | 'paused' | 'closed';
type EngineContainer = ReturnType<Awaited<ReturnType<TcModule['getContainerRuntimeClient']>>['container']['getById']>;

/**
 * Readiness from the host: `srvr` on the server's client port answers with one of `modes`.
 * testcontainers' `forSuccessfulCommand` runs `docker exec` in a loop, and an exec whose result
 * never arrived held a start past its startup timeout (seen about 1 start in 8 on this project's
 * private engine, with the probe already finished inside the container); a 4lw request from here
 * has its own timeout and needs no exec.
 */
class SrvrFromHost implements Tc.WaitStrategy {
  private timeoutMs = STARTUP_TIMEOUT_MS;
  private timeoutSet = false;
  constructor(private readonly port: number, private readonly modes: RegExp) {}

  async waitUntilReady(): Promise<void> {
    const deadline = Date.now() + this.timeoutMs;
    let last: string | undefined;
    while (Date.now() < deadline) {
      last = await serverMode('127.0.0.1', this.port, 1000);
      if (last !== undefined && this.modes.test(last)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`no srvr answer with mode ${this.modes.source} on 127.0.0.1:${this.port} within ${this.timeoutMs} ms (last: ${last ?? 'none'})`);
  }

  withStartupTimeout(ms: number): this { this.timeoutMs = ms; this.timeoutSet = true; return this; }
  isStartupTimeoutSet(): boolean { return this.timeoutSet; }
  getStartupTimeout(): number { return this.timeoutMs; }
}

/** The last lines a container wrote (stdout and stderr), for an error message; '' if unavailable. */
async function containerLogTail(id: string, lines = 30): Promise<string> {
  const addr = engineAddress();
  if (!addr) return '';
  try {
    const res = await engineCall(addr, 'GET', `/containers/${id}/logs?stdout=1&stderr=1&tail=${lines}`);
    // Non-TTY logs come in frames with an 8-byte header: keep the text.
    return res.status === 200 ? res.body.replace(/[\u0000-\u0008\u000e-\u001f]/g, '').trim() : '';
  } catch {
    return '';
  }
}

class ContainerServer implements ZooKeeperServer {
  readonly kind = 'container' as const;
  readonly connectString: string;
  state: State = 'stopped';
  private started: Tc.StartedTestContainer | undefined;
  private handle: EngineContainer | undefined;
  private createdId: string | undefined;
  private unpausing: Promise<void> | undefined;
  private unpauseError: unknown;

  constructor(private readonly tc: TcModule, private readonly plan: ServerPlan, private readonly readyModes: string) {
    this.connectString = `127.0.0.1:${plan.hostPort}`;
  }

  get port(): number { return this.plan.hostPort; }
  get id(): string | undefined { return this.started?.getId(); }

  async start(): Promise<void> {
    const { plan, tc } = this;
    const onCreated = (id: string) => { track(id); this.createdId = id; };
    class TrackedContainer extends tc.GenericContainer {
      protected override async containerCreated(id: string): Promise<void> { onCreated(id); }
    }
    const files = [{ content: plan.cfg, target: '/zk/zoo.cfg' }];
    if (plan.myid !== undefined) files.push({ content: `${plan.myid}\n`, target: '/zk/data/myid' });
    let c = new TrackedContainer(plan.image)
      .withLabels({ [CONTAINER_LABEL]: 'true', [RUN_LABEL]: process.env['ZK_RECIPES_PID_DIR'] ?? 'none', [OWNER_LABEL]: OWNER })
      .withCopyContentToContainer(files)
      .withCommand(['bash', '-c', RUN_SERVER])
      .withWaitStrategy(new SrvrFromHost(plan.hostPort, new RegExp(`^(${this.readyModes})$`)))
      .withStartupTimeout(STARTUP_TIMEOUT_MS);
    if (plan.mode === 'host') c = c.withNetworkMode('host');
    else {
      c = c.withExposedPorts({ container: plan.innerPort, host: plan.hostPort });
      if (plan.network) c = c.withNetwork(plan.network).withNetworkAliases(plan.alias!);
    }
    const t0 = Date.now();
    try {
      this.started = await c.start();
    } catch (err) {
      const tail = this.createdId ? await containerLogTail(this.createdId) : '';
      throw new Error(`zk-recipes/testing: container ${this.createdId?.slice(0, 12) ?? '(not created)'} for ${this.connectString} did not become ready: ${(err as Error).message}${tail ? `\n--- its last log lines ---\n${tail}` : ''}`, { cause: err });
    }
    this.handle = (await tc.getContainerRuntimeClient()).container.getById(this.started.getId());
    this.state = 'running';
    log('container %s serves %s (%d ms)', this.started.getId().slice(0, 12), this.connectString, Date.now() - t0);
  }

  private engineContainer(): EngineContainer {
    if (!this.handle) throw new Error(`zk-recipes/testing: the container for ${this.connectString} was never started`);
    return this.handle;
  }

  /** Waits for a `resume()` still under way; rethrows its failure. */
  private async settle(): Promise<void> {
    await this.unpausing;
    const err = this.unpauseError;
    if (err !== undefined) {
      this.unpauseError = undefined;
      throw new Error(`zk-recipes/testing: docker unpause of ${this.connectString} failed`, { cause: err });
    }
  }

  async stop(): Promise<void> {
    await this.settle();
    if (this.state === 'closed' || this.state === 'stopped') return;
    const c = this.engineContainer();
    if (this.state === 'paused') await c.unpause();
    await ignoreStatus(c.stop({ t: 5 }), 304);
    this.state = 'stopped';
  }

  /** Kills the container (SIGKILL): a crash, the data stays. */
  async kill(): Promise<void> {
    await this.settle();
    if (this.state === 'closed' || this.state === 'stopped') return;
    await ignoreStatus(this.engineContainer().kill({ signal: 'SIGKILL' }), 409);
    this.state = 'stopped';
  }

  /** Starts the same container again (same data, same ports); waits for `srvr` unless `wait` is false. */
  async restart(wait = true): Promise<void> {
    await this.settle();
    if (this.state === 'closed') throw new Error(`zk-recipes/testing: the container for ${this.connectString} is closed`);
    if (this.state === 'paused') await this.engineContainer().unpause();
    if (wait) await this.started!.restart({ timeout: 5000 });
    else await this.engineContainer().restart({ t: 5 });
    this.state = 'running';
  }

  /** `docker pause`: resolves once the container is frozen. */
  async pause(): Promise<void> {
    await this.settle();
    if (this.state !== 'running') return;
    await this.engineContainer().pause();
    this.state = 'paused';
  }

  /**
   * `docker unpause`, resolving as soon as the request is sent, as SIGCONT does for a local
   * process: the server wakes a moment later, so a caller that awaits `resume()` and then
   * listens for `reconnected` cannot miss it. The next operation on this server waits for the
   * unpause to complete and reports its failure.
   */
  async resume(): Promise<void> {
    await this.settle();
    if (this.state !== 'paused') return;
    this.state = 'running';
    this.unpausing = this.engineContainer().unpause().then(
      () => { this.unpausing = undefined; },
      (err: unknown) => { this.unpausing = undefined; this.state = 'paused'; this.unpauseError = err; },
    );
  }

  async close(): Promise<void> {
    if (this.state === 'closed') return;
    await this.unpausing;
    this.state = 'closed';
    const id = this.createdId; // also when start() failed half-way
    if (!id) return;
    const addr = engineAddress();
    if (addr) await removeById(addr, id); // bounded, retried, fresh connections
    else {
      const handle = this.handle ?? (await this.tc.getContainerRuntimeClient()).container.getById(id);
      await ignoreStatus(handle.remove({ force: true, v: true }), 404);
    }
    live.delete(id);
    log('removed container %s', id.slice(0, 12));
  }

  [Symbol.asyncDispose](): Promise<void> { return this.close(); }
}

async function ignoreStatus(p: Promise<unknown>, ...codes: number[]): Promise<void> {
  try {
    await p;
  } catch (err) {
    if (!codes.includes((err as { statusCode?: number }).statusCode ?? -1)) throw err;
  }
}

/**
 * Starts one standalone ZooKeeper container (image `ZK_IMAGE`, default `zookeeper:3.9`) on a free
 * loopback port and resolves once it answers `srvr` as `standalone`. `stop()`/`restart()` stop
 * and start the same container (its data stays); `pause()` is `docker pause`.
 * @throws Error naming `scripts/containers.sh` when no Docker engine answers
 */
export async function startContainerServer(): Promise<ZooKeeperServer> {
  const tc = await requireEngine();
  const image = imageName();
  const mode = networkMode(image);
  const hostPort = await freePort();
  const innerPort = mode === 'host' ? hostPort : 2181;
  const cfg = [...BASE_CFG, 'dataDir=/zk/data', `clientPort=${innerPort}`, ...(mode === 'host' ? ['clientPortAddress=127.0.0.1'] : []), ''].join('\n');
  const server = new ContainerServer(tc, { image, mode, hostPort, innerPort, cfg }, 'standalone');
  try {
    await server.start();
  } catch (err) {
    await server.close().catch(() => undefined);
    throw err;
  }
  return server;
}

class ContainerEnsemble extends ProbedEnsemble<ContainerServer> {
  private closed = false;

  constructor(servers: readonly ContainerServer[], private readonly network: Tc.StartedNetwork | undefined) {
    super(servers);
  }

  protected running(s: ContainerServer): boolean { return s.state === 'running'; }

  async restart(i: number): Promise<void> {
    await this.at(i).restart(false);
    await this.waitForQuorum();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const results = await Promise.allSettled(this.servers.map((s) => s.close()));
    if (this.network) await this.network.stop().catch(() => undefined);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }
}

/**
 * Starts an ensemble of `n` ZooKeeper containers (all at once: each becomes ready only with a
 * quorum) and resolves when every one answers `srvr` as leader or follower. `kill(i)` kills
 * container i; `restart(i)` starts the same container again (its data stays) and waits for a quorum.
 * @throws Error naming `scripts/containers.sh` when no Docker engine answers
 */
export async function startContainerEnsemble(n = 3): Promise<ZooKeeperEnsemble> {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`ensemble: n must be a positive integer, got ${n}`);
  const tc = await requireEngine();
  const image = imageName();
  const mode = networkMode(image);
  const network = mode === 'bridge' ? await new tc.Network().start() : undefined;
  const plans: ServerPlan[] = [];
  const serverLines: string[] = [];
  for (let i = 1; i <= n; i++) {
    const hostPort = await freePort();
    if (mode === 'host') {
      serverLines.push(`server.${i}=127.0.0.1:${await freePort()}:${await freePort()}`);
      plans.push({ image, mode, hostPort, innerPort: hostPort, cfg: '', myid: i });
    } else {
      serverLines.push(`server.${i}=zk${i}:2888:3888`);
      plans.push({ image, mode, hostPort, innerPort: 2181, cfg: '', myid: i, network, alias: `zk${i}` });
    }
  }
  const servers = plans.map((p) => {
    p.cfg = [...BASE_CFG, 'dataDir=/zk/data', `clientPort=${p.innerPort}`,
      ...(mode === 'host' ? ['clientPortAddress=127.0.0.1'] : ['quorumListenOnAllIPs=true']),
      'standaloneEnabled=false', 'reconfigEnabled=false', ...serverLines, ''].join('\n');
    return new ContainerServer(tc, p, 'leader|follower');
  });
  const ensemble = new ContainerEnsemble(servers, network);
  const started = await Promise.allSettled(servers.map((s) => s.start()));
  const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    await ensemble.close().catch(() => undefined);
    throw failed.reason;
  }
  return ensemble;
}
