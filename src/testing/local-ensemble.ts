/**
 * Local ensembles: `n` server processes on loopback (free client, quorum and election ports), each
 * in its own dir under one temporary dir, with what only local processes offer: waiting for a
 * server's mode (read-only after a quorum loss) and spawning a joiner for a dynamic reconfig.
 *
 * Members start all at once (none is ready before a quorum), then the ensemble waits for a
 * quorum: every running server `leader` or `follower`, one of them `leader` (and, with TLS, every
 * running server's TLS port listening).
 *
 * With `tls`, one CA for the whole ensemble: each member gets its own server certificate from it
 * (valid for `localhost` / `127.0.0.1`) and a `secureClientPort`, so a client that trusts the CA
 * trusts every member, and one client certificate is accepted by all. The quorum itself stays
 * plain (only client connections are under test).
 * @module
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProbedEnsemble } from './ensemble-probe.js';
import { LocalServer, findLocalInstall, writeServerFiles, type LocalInstall, type ProcessSpec, type ServerMode } from './local-process.js';
import { freePort, listening } from './ports.js';
import { SUPER_AUTH, renderServerConfig, serverLine, serverPaths, type ServerConfig, type ServerTlsConfig } from './server-config.js';
import { generateServerCert, generateTestCerts, tlsFourLetterWord, type TestCerts } from './tls.js';
import type { ZooKeeperEnsemble, ZooKeeperEnsembleTls, ZooKeeperServer, ZooKeeperTls } from './types.js';

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
  /**
   * Also serve a TLS client port (`secureClientPort`, client certificate required) on every
   * member, certificates from one CA made for this ensemble; the ensemble's `tls` (and each
   * server's) says how to connect. @default false
   */
  tls?: boolean;
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

/** What every member of one ensemble shares. */
export interface EnsembleSettings {
  /** The install every member runs. */
  install: LocalInstall;
  /** Members in a dynamic config file, reconfig allowed to the superuser. */
  reconfig: boolean;
  /** Read-only mode after a quorum loss. */
  readOnly: boolean;
  /** TLS client ports: the ensemble's CA and client certificate, in `dir`. */
  tls?: { dir: string; certs: TestCerts };
}

/** A member's TLS client port: its zoo.cfg part and how clients reach it. */
interface MemberTls {
  config: ServerTlsConfig;
  tls: ZooKeeperTls;
}

/** Member `id`'s TLS port and server certificate (from the ensemble's CA), when the ensemble has TLS. */
async function memberTls(settings: EnsembleSettings, id: number): Promise<MemberTls | undefined> {
  if (!settings.tls) return undefined;
  const { dir, certs } = settings.tls;
  const [leaf, port] = await Promise.all([generateServerCert(dir, `server${id}`), freePort()]);
  return {
    config: { port, keyStore: leaf.keyStoreFile, trustStore: certs.caFile },
    tls: { port, connectString: `127.0.0.1:${port}`, ca: certs.ca, cert: certs.cert, key: certs.key, serverName: certs.serverName },
  };
}

/** A member's loopback ports. */
export interface MemberPorts {
  /** Client port. */
  client: number;
  /** Quorum (follower-to-leader) port. */
  quorum: number;
  /** Leader-election port. */
  election: number;
}

/** A local member's `server.N=` line; with reconfig, with its role and client address. */
export function localMemberLine(id: number, p: MemberPorts, reconfig: boolean, role: 'participant' | 'observer' = 'participant'): string {
  return serverLine(id, '127.0.0.1', p.quorum, p.election, reconfig ? { role, address: '127.0.0.1', port: p.client } : undefined);
}

/** The rendered config of local member `id`, rooted at `sdir` (host paths), with `members` its `server.N=` lines. */
export function localMemberConfig(
  sdir: string,
  id: number,
  clientPort: number,
  members: readonly string[],
  settings: Omit<EnsembleSettings, 'install'>,
  tls?: ServerTlsConfig,
): ServerConfig {
  return renderServerConfig({
    paths: serverPaths(sdir),
    clientPort,
    clientPortAddress: '127.0.0.1',
    member: { id, members, reconfig: settings.reconfig, readOnly: settings.readOnly },
    tls,
  });
}

/** Writes server `id`'s files into `sdir` and returns how to start it. */
function writeMember(sdir: string, id: number, port: number, members: readonly string[], settings: EnsembleSettings, tls?: MemberTls): ProcessSpec {
  const config = localMemberConfig(sdir, id, port, members, settings, tls?.config);
  writeServerFiles(config);
  return { install: settings.install, dir: sdir, config, cfgFile: serverPaths(sdir).cfgFile, port, tlsPort: tls?.tls.port };
}

class JoinerServer extends LocalServer implements LocalJoiner {
  constructor(
    spec: ProcessSpec,
    readonly id: number,
    readonly quorumPort: number,
    readonly electionPort: number,
    readonly serverLine: string,
    tls: ZooKeeperTls | undefined,
  ) {
    // Configured as observer, it serves as a non-voting follower before its reconfig (see
    // spawnJoiner); any serving mode counts as ready.
    super(spec, /observer|follower|leader/, false, tls);
  }
}

const newPorts = async (): Promise<MemberPorts> => ({ client: await freePort(), quorum: await freePort(), election: await freePort() });

class LocalEnsemble extends ProbedEnsemble<LocalServer> implements LocalZooKeeperEnsemble {
  private closed = false;
  private readonly joiners: JoinerServer[] = [];
  readonly tls?: ZooKeeperEnsembleTls;

  constructor(
    servers: readonly LocalServer[],
    private readonly dir: string,
    private readonly settings: EnsembleSettings,
  ) {
    super(servers);
    const certs = settings.tls?.certs;
    const ports = servers.map((s) => s.tls?.port).filter((p): p is number => p !== undefined);
    if (certs && ports.length === servers.length) {
      const connectString = ports.map((p) => `127.0.0.1:${p}`).join(',');
      this.tls = { connectString, ports, ca: certs.ca, cert: certs.cert, key: certs.key, serverName: certs.serverName };
    }
  }

  protected running(s: LocalServer): boolean {
    return s.child !== undefined;
  }

  /** A quorum, and with TLS every running server's TLS port listening (it is bound after the plain one serves). */
  override async waitForQuorum(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    await super.waitForQuorum(timeoutMs);
    for (const s of this.servers) {
      const port = s.tls?.port;
      while (port !== undefined && this.running(s) && !(await listening(port))) {
        if (Date.now() > deadline) throw new Error(`ensemble: TLS port ${port} not listening within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  /** As for any ensemble, and TLS sessions too: `cons` on a TLS port lists the TLS connections only. */
  override async serverOf(sessionId: string): Promise<number> {
    const plain = await super.serverOf(sessionId);
    if (plain >= 0 || !this.tls) return plain;
    const want = `sid=0x${sessionId.toLowerCase()}`;
    for (let i = 0; i < this.servers.length; i++) {
      const s = this.servers[i]!;
      if (!s.tls || !this.running(s)) continue;
      const cons = await tlsFourLetterWord(s.tls, 'cons', 2000).catch(() => '');
      if (cons.toLowerCase().includes(want)) return i;
    }
    return -1;
  }

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
      const lines = readFileSync(dyn, 'utf8')
        .split('\n')
        .filter((l) => l.startsWith('server.'));
      if (lines.length > 0) return lines;
    }
    throw new Error('ensemble: no running member to read the membership from');
  }

  async spawnJoiner(): Promise<LocalJoiner> {
    if (!this.settings.reconfig) throw new Error('spawnJoiner: start the ensemble with startLocalEnsemble(n, { reconfig: true })');
    if (this.closed) throw new Error('spawnJoiner: the ensemble is closed');
    const id = this.servers.length + this.joiners.length + 1;
    const p = await newPorts();
    const others = this.committedMembers().filter((l) => !l.startsWith(`server.${id}=`));
    const tls = await memberTls(this.settings, id);
    const spec = writeMember(join(this.dir, `s${id}`), id, p.client, [...others, localMemberLine(id, p, true, 'observer')], this.settings, tls);
    const joiner = new JoinerServer(spec, id, p.quorum, p.election, localMemberLine(id, p, true), tls?.tls);
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

/**
 * Starts an ensemble of `n` local servers on loopback (free ports) and waits for a quorum.
 * @param n - number of servers (3 for failover tests)
 * @param options - a {@link LocalInstall} (the older form), or {@link LocalEnsembleOptions}
 */
export async function startLocalEnsemble(n = 3, options: LocalInstall | LocalEnsembleOptions = {}): Promise<LocalZooKeeperEnsemble> {
  const opts: LocalEnsembleOptions = 'classpath' in options ? { install: options } : options;
  const install = opts.install ?? findLocalInstall();
  if (!install) throw new Error('no local ZooKeeper install found');
  const dir = mkdtempSync(join(tmpdir(), 'zk-recipes-ens-'));
  let ensemble: LocalEnsemble;
  try {
    const tlsDir = join(dir, 'tls');
    const tls = opts.tls ? { dir: tlsDir, certs: await generateTestCerts(tlsDir) } : undefined;
    const settings: EnsembleSettings = { install, reconfig: opts.reconfig ?? false, readOnly: opts.readOnly ?? false, tls };
    ensemble = new LocalEnsemble(await createMembers(n, dir, settings), dir, settings);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  try {
    for (const s of ensemble.servers) s.spawnOnly();
    await ensemble.waitForQuorum();
  } catch (err) {
    await ensemble.close();
    throw err;
  }
  return ensemble;
}

/** Writes the files of `n` members under `dir` (ports, and TLS certificates when asked) and returns their servers, not started. */
async function createMembers(n: number, dir: string, settings: EnsembleSettings): Promise<LocalServer[]> {
  const ports: MemberPorts[] = [];
  for (let i = 0; i < n; i++) ports.push(await newPorts());
  const members = ports.map((p, i) => localMemberLine(i + 1, p, settings.reconfig));
  const servers: LocalServer[] = [];
  for (const [i, p] of ports.entries()) {
    const t = await memberTls(settings, i + 1);
    servers.push(new LocalServer(writeMember(join(dir, `s${i + 1}`), i + 1, p.client, members, settings, t), /leader|follower/, false, t?.tls));
  }
  return servers;
}
