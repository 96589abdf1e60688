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
 *   client port 2181 is mapped to a fixed free host port (so `connectString` survives restarts),
 *   the client port listens on every address and ensemble members talk over a user network by
 *   alias (`zk1:2888:3888`, ...) with `quorumListenOnAllIPs`.
 *
 * The image comes from `ZK_IMAGE` (default `zookeeper:3.9`). The container command writes
 * nothing: zoo.cfg and myid are rendered by server-config.ts, the same as for local servers
 * (same tuning keys and JVM flags, only the paths are the container's, under `/zk`), and copied
 * in before start; then it runs Debian's `/usr/share/java/zookeeper.jar` with `java` when the
 * image has it, else the official image's `zkServer.sh start-foreground` (container-server.ts).
 *
 * Readiness: a server is handed out once `srvr`, sent from this process to 127.0.0.1 and the
 * server's host client port (in `bridge` mode through the port mapping), answers with the mode
 * wanted: `standalone` for a single server, `leader` or `follower` for each ensemble member (all
 * members start at once: none is ready before a quorum). It is asked every 100 ms, each try with
 * a 1 s timeout, for at most 90 s, as a testcontainers wait strategy that needs no `docker exec`
 * and no log line (Debian's server logs nothing by default); a container that does not get there
 * fails the start with its last log lines. A single server's `restart()` runs the same wait; an
 * ensemble's `restart(i)` restarts the container without it and waits for a quorum instead
 * (every running member `leader` or `follower` by `srvr` from the host, one of them `leader`).
 *
 * No leaked containers: each container is labelled and recorded the moment it is created, and
 * removed on `close()`, on process exit or SIGINT/SIGTERM (exit-hooks.ts; a synchronous child
 * `node` deletes them through the engine), and by {@link removeRunContainers}: the test runner's
 * global teardown calls it to remove every container labelled with its run (`ZK_RECIPES_PID_DIR`),
 * even after a worker was killed. `scripts/containers.sh stop` removes any labelled container left.
 *
 * `pause()` is `docker pause` (resolves once frozen); `resume()` resolves as soon as
 * `docker unpause` is sent, as SIGCONT does for a local process, so a test that awaits it and
 * then listens for `reconnected` cannot miss the event. `stop()`/`kill()` keep the container and
 * its data; `restart()` starts the same container again.
 *
 * Engine settings are testcontainers' own (`DOCKER_HOST`, `TESTCONTAINERS_HOST_OVERRIDE`,
 * `TESTCONTAINERS_RYUK_DISABLED`); `scripts/containers.sh start` prints them. The small engine
 * helpers (ping, list, remove; docker-engine.ts) speak HTTP over `DOCKER_HOST` (a unix socket or
 * plain tcp).
 * @module
 */
import type * as Tc from 'testcontainers';
import { CONTAINER_PATHS, ContainerServer, type ServerPlan } from './container-server.js';
import { requireEngine, type TcModule } from './testcontainers.js';
import { ProbedEnsemble } from './ensemble-probe.js';
import { freePort } from './ports.js';
import { renderServerConfig, serverLine, type ServerConfig } from './server-config.js';
import type { NetworkMode, ZooKeeperEnsemble, ZooKeeperServer } from './types.js';

export { CONTAINER_LABEL, dockerAvailable, listTestContainers, removeRunContainers } from './docker-engine.js';

const DEFAULT_IMAGE = 'zookeeper:3.9';
/** Ports inside a `bridge` mode container (the official image's). */
const BRIDGE_PORTS = { client: 2181, quorum: 2888, election: 3888 };

function imageName(): string {
  return process.env['ZK_IMAGE'] || DEFAULT_IMAGE;
}

function networkMode(image: string): NetworkMode {
  const v = process.env['ZK_CONTAINER_NETWORK'];
  if (v === 'host' || v === 'bridge') return v;
  if (v) throw new Error(`zk-recipes/testing: ZK_CONTAINER_NETWORK must be host or bridge, got ${v}`);
  return image.startsWith('zk-recipes/') ? 'host' : 'bridge';
}

/**
 * The rendered config of a container server (container paths): standalone, or member `id` of
 * `members` (its `server.N=` lines). In `host` mode the client port binds 127.0.0.1 as local
 * servers do; in `bridge` mode every address, behind the port mapping.
 */
export function containerServerConfig(
  mode: NetworkMode,
  clientPort: number,
  member?: { id: number; members: readonly string[] },
  heapMb?: number,
): ServerConfig {
  return renderServerConfig({
    paths: CONTAINER_PATHS,
    clientPort,
    clientPortAddress: mode === 'host' ? '127.0.0.1' : undefined,
    member: member && { ...member, quorumListenOnAllIPs: mode === 'bridge' },
    heapMb,
  });
}

/** Starts `server`; closes it (removing a half-created container) when it does not become ready. */
async function startOrClose(server: ContainerServer): Promise<void> {
  try {
    await server.start();
  } catch (err) {
    await server.close().catch(() => undefined);
    throw err;
  }
}

/**
 * Starts one standalone ZooKeeper container (image `ZK_IMAGE`, default `zookeeper:3.9`) on a free
 * loopback port and resolves once it answers `srvr` as `standalone`. `stop()`/`restart()` stop
 * and start the same container (its data stays); `pause()` is `docker pause`.
 * @param options - `heapMb`: the server JVM's heap limit (default 256)
 * @throws Error naming `scripts/containers.sh` when no Docker engine answers
 */
export async function startContainerServer(options: { heapMb?: number } = {}): Promise<ZooKeeperServer> {
  const tc = await requireEngine();
  const image = imageName();
  const mode = networkMode(image);
  const hostPort = await freePort();
  const innerPort = mode === 'host' ? hostPort : BRIDGE_PORTS.client;
  const server = new ContainerServer(
    tc,
    { image, mode, hostPort, innerPort, config: containerServerConfig(mode, innerPort, undefined, options.heapMb) },
    'standalone',
  );
  await startOrClose(server);
  return server;
}

class ContainerEnsemble extends ProbedEnsemble<ContainerServer> {
  private closed = false;

  constructor(
    servers: readonly ContainerServer[],
    private readonly network: Tc.StartedNetwork | undefined,
  ) {
    super(servers);
  }

  protected running(s: ContainerServer): boolean {
    return s.state === 'running';
  }

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

/** The plans of `n` members: ports and `server.N=` lines by network mode, configs rendered. */
async function memberPlans(tc: TcModule, n: number, image: string, mode: NetworkMode): Promise<{ plans: ServerPlan[]; network?: Tc.StartedNetwork }> {
  const network = mode === 'bridge' ? await new tc.Network().start() : undefined;
  const members: string[] = [];
  const placed: Array<Omit<ServerPlan, 'config'>> = [];
  for (let id = 1; id <= n; id++) {
    const hostPort = await freePort();
    if (mode === 'host') {
      members.push(serverLine(id, '127.0.0.1', await freePort(), await freePort()));
      placed.push({ image, mode, hostPort, innerPort: hostPort });
    } else {
      members.push(serverLine(id, `zk${id}`, BRIDGE_PORTS.quorum, BRIDGE_PORTS.election));
      placed.push({ image, mode, hostPort, innerPort: BRIDGE_PORTS.client, network, alias: `zk${id}` });
    }
  }
  const plans = placed.map((p, i) => ({ ...p, config: containerServerConfig(mode, p.innerPort, { id: i + 1, members }) }));
  return { plans, network };
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
  const { plans, network } = await memberPlans(tc, n, image, networkMode(image));
  const servers = plans.map((p) => new ContainerServer(tc, p, 'leader|follower'));
  const ensemble = new ContainerEnsemble(servers, network);
  const started = await Promise.allSettled(servers.map((s) => s.start()));
  const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    await ensemble.close().catch(() => undefined);
    throw failed.reason;
  }
  return ensemble;
}
