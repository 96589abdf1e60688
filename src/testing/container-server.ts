/**
 * One ZooKeeper server container: its files (rendered by server-config.ts at {@link CONTAINER_PATHS})
 * copied in before start, the command that runs it, readiness by `srvr` from the host, and
 * stop/kill/restart/pause on the same container.
 * @module
 */
import type * as Tc from 'testcontainers';
import createDebug from 'debug';
import {
  CONTAINER_LABEL,
  OWNER,
  OWNER_LABEL,
  RUN_LABEL,
  containerLogTail,
  engineAddress,
  removeById,
  trackContainer,
  untrackContainer,
} from './docker-engine.js';
import type { TcModule } from './testcontainers.js';
import { serverMode } from './fourlw.js';
import { containerPaths, javaArgs, type ServerConfig } from './server-config.js';
import type { NetworkMode, ZooKeeperServer } from './types.js';

const log = createDebug('zk-recipes:testing:containers');

/** How long a container may take to answer `srvr` with a ready mode. */
export const STARTUP_TIMEOUT_MS = 90_000;

/** Where a server's files live inside its container. */
export const CONTAINER_PATHS = containerPaths('/zk');

/** Debian's classpath (the image scripts/containers.sh builds). */
const DEBIAN_CLASSPATH = '/etc/zookeeper/conf:/usr/share/java/zookeeper.jar';

const shellQuote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * The container command: Debian's jar with `java` when the image has it (the image
 * scripts/containers.sh builds), else the official image's `zkServer.sh start-foreground`,
 * both with the config's JVM flags and {@link CONTAINER_PATHS}' zoo.cfg.
 */
export function containerCommand(config: ServerConfig): string[] {
  const spaced = config.jvmFlags.find((f) => /\s/.test(f));
  // zkServer.sh splits SERVER_JVMFLAGS on spaces.
  if (spaced) throw new Error(`zk-recipes/testing: a JVM flag with white space cannot pass zkServer.sh: ${spaced}`);
  const java = javaArgs(config, DEBIAN_CLASSPATH, CONTAINER_PATHS.cfgFile).map(shellQuote).join(' ');
  return [
    'bash',
    '-c',
    [
      'if [ -f /usr/share/java/zookeeper.jar ]; then',
      `  exec java ${java};`,
      'else',
      `  export SERVER_JVMFLAGS=${shellQuote(config.jvmFlags.join(' '))}; exec zkServer.sh start-foreground ${shellQuote(CONTAINER_PATHS.cfgFile)};`,
      'fi',
    ].join('\n'),
  ];
}

export type { NetworkMode } from './types.js';

/** Everything needed to create one server container. */
export interface ServerPlan {
  /** The image to run (`ZK_IMAGE`). */
  image: string;
  /** Host network, or a port mapping (and a user network for ensembles). */
  mode: NetworkMode;
  /** Client port on the host. */
  hostPort: number;
  /** Client port inside the container (the host port in host mode). */
  innerPort: number;
  /** Its rendered files (container paths) and JVM flags. */
  config: ServerConfig;
  /** `bridge` ensembles: the user network the members share. */
  network?: Tc.StartedNetwork;
  /** `bridge` ensembles: this member's name on that network (`zk1`, ...). */
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
  constructor(
    private readonly port: number,
    private readonly modes: RegExp,
  ) {}

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

  withStartupTimeout(ms: number): this {
    this.timeoutMs = ms;
    this.timeoutSet = true;
    return this;
  }
  isStartupTimeoutSet(): boolean {
    return this.timeoutSet;
  }
  getStartupTimeout(): number {
    return this.timeoutMs;
  }
}

async function ignoreStatus(p: Promise<unknown>, ...codes: number[]): Promise<void> {
  try {
    await p;
  } catch (err) {
    if (!codes.includes((err as { statusCode?: number }).statusCode ?? -1)) throw err;
  }
}

/** A server container; `start()` resolves once `srvr` from the host reports one of `readyModes`. */
export class ContainerServer implements ZooKeeperServer {
  readonly kind = 'container' as const;
  readonly connectString: string;
  state: State = 'stopped';
  private started: Tc.StartedTestContainer | undefined;
  private handle: EngineContainer | undefined;
  private createdId: string | undefined;
  private unpausing: Promise<void> | undefined;
  private unpauseError: unknown;

  constructor(
    private readonly tc: TcModule,
    private readonly plan: ServerPlan,
    private readonly readyModes: string,
  ) {
    this.connectString = `127.0.0.1:${plan.hostPort}`;
  }

  get port(): number {
    return this.plan.hostPort;
  }
  get id(): string | undefined {
    return this.started?.getId();
  }

  /** The container, not started yet: labelled, files copied in, recorded the moment it is created. */
  private container(): Tc.GenericContainer {
    const { plan, tc } = this;
    const onCreated = (id: string) => {
      trackContainer(id);
      this.createdId = id;
    };
    class TrackedContainer extends tc.GenericContainer {
      protected override async containerCreated(id: string): Promise<void> {
        onCreated(id);
      }
    }
    let c = new TrackedContainer(plan.image)
      .withLabels({ [CONTAINER_LABEL]: 'true', [RUN_LABEL]: process.env['ZK_RECIPES_PID_DIR'] ?? 'none', [OWNER_LABEL]: OWNER })
      .withCopyContentToContainer(plan.config.files.map((f) => ({ content: f.content, target: f.path })))
      .withCommand(containerCommand(plan.config))
      .withWaitStrategy(new SrvrFromHost(plan.hostPort, new RegExp(`^(${this.readyModes})$`)))
      .withStartupTimeout(STARTUP_TIMEOUT_MS);
    if (plan.mode === 'host') return c.withNetworkMode('host');
    c = c.withExposedPorts({ container: plan.innerPort, host: plan.hostPort });
    return plan.network ? c.withNetwork(plan.network).withNetworkAliases(plan.alias!) : c;
  }

  async start(): Promise<void> {
    const t0 = Date.now();
    try {
      this.started = await this.container().start();
    } catch (err) {
      const tail = this.createdId ? await containerLogTail(this.createdId) : '';
      throw new Error(
        `zk-recipes/testing: container ${this.createdId?.slice(0, 12) ?? '(not created)'} for ${this.connectString} did not become ready: ${(err as Error).message}${tail ? `\n--- its last log lines ---\n${tail}` : ''}`,
        { cause: err },
      );
    }
    this.handle = (await this.tc.getContainerRuntimeClient()).container.getById(this.started.getId());
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
    if (wait)
      await this.started!.restart({ timeout: 5000 }); // runs the wait strategy again
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
    this.unpausing = this.engineContainer()
      .unpause()
      .then(
        () => {
          this.unpausing = undefined;
        },
        (err: unknown) => {
          this.unpausing = undefined;
          this.state = 'paused';
          this.unpauseError = err;
        },
      );
  }

  async close(): Promise<void> {
    if (this.state === 'closed') return;
    await this.unpausing;
    this.state = 'closed';
    const id = this.createdId; // also when start() failed half-way
    if (!id) return;
    const addr = engineAddress();
    if (addr)
      await removeById(addr, id); // bounded, retried, fresh connections
    else {
      const handle = this.handle ?? (await this.tc.getContainerRuntimeClient()).container.getById(id);
      await ignoreStatus(handle.remove({ force: true, v: true }), 404);
    }
    untrackContainer(id);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
