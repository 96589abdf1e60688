/**
 * What a test kit server runs with, written once for every strategy: its zoo.cfg (standalone or
 * ensemble member; TLS client port, read-only mode with local sessions, dynamic reconfig), its
 * myid and dynamic config files, and the JVM flags. local.ts writes the files into a temporary dir
 * on this machine, containers.ts copies them into a container: only the paths differ
 * ({@link serverPaths} of a host dir or of `/zk`), so both strategies' servers get the same
 * tuning and cannot drift apart.
 *
 * Tuning for tests: ticks of 200 ms (sessions from 400 ms, quorum loss noticed in 5 s), no fsync,
 * every four-letter word, container nodes reaped every second, extended types (TTL nodes), and
 * re-election in about a second after a kill instead of the default notification back-off (up to
 * 60 s) and 5 s connection timeouts between peers.
 * @module
 */
import { createHash } from 'node:crypto';
import { join, posix } from 'node:path';

/** The superuser of a `reconfig` ensemble, as `user:password` for `addAuth('digest', SUPER_AUTH)`. */
export const SUPER_AUTH = 'super:test';

/** The server's main class: standalone or quorum peer, as its zoo.cfg says. */
export const QUORUM_PEER_MAIN = 'org.apache.zookeeper.server.quorum.QuorumPeerMain';

/** The zoo.cfg lines every test kit server has, whatever the strategy. */
export const TUNING_CFG: readonly string[] = [
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

/** The JVM flags every test kit server has, whatever the strategy. */
export const TUNING_JVM_FLAGS: readonly string[] = [
  '-Xmx256m',
  '-XX:+UseSerialGC',
  '-XX:TieredStopAtLevel=1',
  '-Xshare:auto',
  '-Dzookeeper.admin.enableServer=false',
  '-Dzookeeper.4lw.commands.whitelist=*',
  '-Dznode.container.checkIntervalMs=1000',
  '-Dzookeeper.extendedTypesEnabled=true',
  // Read only as system properties (FastLeaderElection's static initializer, QuorumCnxManager).
  '-Dzookeeper.fastleader.maxNotificationInterval=1000',
  '-Dzookeeper.cnxTimeout=1000',
  '-Dzookeeper.root.logger=WARN,CONSOLE',
];

/** Where a server's files live, as the server itself sees them (a host dir, or inside a container). */
export interface ServerPaths {
  /** The zoo.cfg file, the server's one argument. */
  readonly cfgFile: string;
  /** `dataDir`: snapshots, transaction logs and myid. */
  readonly dataDir: string;
  /** The myid file of an ensemble member. */
  readonly myidFile: string;
  /** The dynamic config file of a reconfig-enabled member (its `server.N=` lines). */
  readonly dynamicConfigFile: string;
}

/** The paths of a server whose files live under `root` (host paths; see {@link containerPaths}). */
export function serverPaths(root: string, joinPath: (...parts: string[]) => string = join): ServerPaths {
  return {
    cfgFile: joinPath(root, 'zoo.cfg'),
    dataDir: joinPath(root, 'data'),
    myidFile: joinPath(root, 'data', 'myid'),
    dynamicConfigFile: joinPath(root, 'zoo.cfg.dynamic'),
  };
}

/** {@link serverPaths} inside a container (always POSIX). */
export const containerPaths = (root: string): ServerPaths => serverPaths(root, posix.join);

/** A TLS client port (`secureClientPort`) with PEM stores, paths as the server sees them. */
export interface ServerTlsConfig {
  /** The secure client port. */
  readonly port: number;
  /** The server's key store: its private key followed by its certificate chain. */
  readonly keyStore: string;
  /** The CA certificate that signs accepted client certificates. */
  readonly trustStore: string;
  /** The address the secure port binds. @default '127.0.0.1' */
  readonly address?: string;
}

/** What makes a server an ensemble member. */
export interface MembershipConfig {
  /** Its server id (`myid`). */
  readonly id: number;
  /** The `server.N=` lines of the membership (see {@link serverLine}). */
  readonly members: readonly string[];
  /**
   * Dynamic reconfiguration: the members go to the dynamic config file (their lines must then
   * carry the client address, `;host:port`), and the superuser {@link SUPER_AUTH} may reconfig.
   */
  readonly reconfig?: boolean;
  /** Serve reads as `read-only` after a quorum loss (with local sessions). */
  readonly readOnly?: boolean;
  /** Bind the quorum and election ports on every address (members behind container aliases). */
  readonly quorumListenOnAllIPs?: boolean;
}

/** Everything {@link renderServerConfig} needs about one server. */
export interface ServerConfigSpec {
  /** Where its files are, as the server sees them. */
  readonly paths: ServerPaths;
  /** The client port the server binds (in its own network namespace). */
  readonly clientPort: number;
  /** The address the client port binds; unset: every address (behind a container port mapping). */
  readonly clientPortAddress?: string;
  /** Ensemble membership; unset: a standalone server. */
  readonly member?: MembershipConfig;
  /** A TLS client port besides the plain one. */
  readonly tls?: ServerTlsConfig;
  /** The JVM's heap limit in MB (`-Xmx`). @default 256 */
  readonly heapMb?: number;
}

/** A file to put where the server finds it. */
export interface ServerFile {
  /** Its path as the server sees it (one of {@link ServerPaths}). */
  readonly path: string;
  /** Its text. */
  readonly content: string;
}

/** A rendered server: its files and the JVM flags to run it with. */
export interface ServerConfig {
  /** The zoo.cfg text (also in `files`, at `paths.cfgFile`). */
  readonly zooCfg: string;
  /** zoo.cfg, and for a member its myid and (reconfig) dynamic config file. */
  readonly files: readonly ServerFile[];
  /** JVM flags (no classpath, no main class): {@link javaArgs} adds those. */
  readonly jvmFlags: readonly string[];
}

/**
 * A `server.N=` line: `host:quorum:election`, and with `client` (reconfig-enabled members) the
 * role and client address, `...:participant;127.0.0.1:2181`.
 */
export function serverLine(
  id: number,
  host: string,
  quorumPort: number,
  electionPort: number,
  client?: { role: 'participant' | 'observer'; address: string; port: number },
): string {
  const base = `server.${id}=${host}:${quorumPort}:${electionPort}`;
  return client ? `${base}:${client.role};${client.address}:${client.port}` : base;
}

/** `user:base64(sha1("user:password"))`: the form `DigestAuthenticationProvider.superDigest` takes. */
export function superDigest(auth: string): string {
  return `${auth.slice(0, auth.indexOf(':'))}:${createHash('sha1').update(auth).digest('base64')}`;
}

/**
 * The zoo.cfg lines of a TLS client port. ZooKeeper 3.8 turns every zoo.cfg key it does not know
 * into the system property `zookeeper.<key>`, which is where its X509Util reads `ssl.*` from.
 * Only the Netty connection factory speaks TLS; it then serves the plain port too.
 */
function tlsLines(tls: ServerTlsConfig): string[] {
  return [
    'serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory',
    `secureClientPort=${tls.port}`,
    `secureClientPortAddress=${tls.address ?? '127.0.0.1'}`,
    `ssl.keyStore.location=${tls.keyStore}`,
    'ssl.keyStore.type=PEM',
    `ssl.trustStore.location=${tls.trustStore}`,
    'ssl.trustStore.type=PEM',
    'ssl.clientAuth=need', // the default, written out: tests rely on a client certificate being checked
  ];
}

/** The zoo.cfg lines that make a server a member; the members themselves unless in a dynamic file. */
function memberLines(m: MembershipConfig, paths: ServerPaths): string[] {
  return [
    'standaloneEnabled=false',
    ...(m.quorumListenOnAllIPs ? ['quorumListenOnAllIPs=true'] : []),
    // A read-only server can only hand out local sessions (a global one needs a transaction):
    // without them it answers every new client with NOT_READONLY instead of a session.
    ...(m.readOnly ? ['localSessionsEnabled=true'] : []),
    ...(m.reconfig ? ['reconfigEnabled=true', `dynamicConfigFile=${paths.dynamicConfigFile}`] : ['reconfigEnabled=false', ...m.members]),
  ];
}

/** The JVM flags of a server: the tuning, plus what read-only mode and reconfig need. */
function jvmFlagsOf(member: MembershipConfig | undefined, heapMb: number | undefined): string[] {
  return [
    ...TUNING_JVM_FLAGS.map((f) => (heapMb !== undefined && f.startsWith('-Xmx') ? `-Xmx${heapMb}m` : f)),
    // Read by QuorumPeer without the `zookeeper.` prefix, and only as a system property.
    ...(member?.readOnly ? ['-Dreadonlymode.enabled=true'] : []),
    // reconfig needs WRITE on /zookeeper/config, which only the superuser has (skipACL would do
    // too, but would also switch off every ACL the tests might check).
    ...(member?.reconfig ? [`-Dzookeeper.DigestAuthenticationProvider.superDigest=${superDigest(SUPER_AUTH)}`] : []),
  ];
}

/** Renders a server's files and JVM flags from its spec (pure: writes nothing). */
export function renderServerConfig(spec: ServerConfigSpec): ServerConfig {
  const { paths, member } = spec;
  // With reconfig the client address lives in the dynamic file's lines (`;127.0.0.1:port`), not
  // in zoo.cfg: a reconfig may change it, and ZooKeeper rejects a static clientPort that disagrees.
  const client = member?.reconfig ? [] : [`clientPort=${spec.clientPort}`, ...(spec.clientPortAddress ? [`clientPortAddress=${spec.clientPortAddress}`] : [])];
  const zooCfg = [
    ...TUNING_CFG,
    `dataDir=${paths.dataDir}`,
    ...client,
    ...(member ? memberLines(member, paths) : []),
    ...(spec.tls ? tlsLines(spec.tls) : []),
    '',
  ].join('\n');
  const files: ServerFile[] = [{ path: paths.cfgFile, content: zooCfg }];
  if (member) files.push({ path: paths.myidFile, content: `${member.id}\n` });
  if (member?.reconfig) files.push({ path: paths.dynamicConfigFile, content: [...member.members, ''].join('\n') });
  return { zooCfg, files, jvmFlags: jvmFlagsOf(member, spec.heapMb) };
}

/** The `java` arguments that run a server: its flags, the classpath, the main class and zoo.cfg. */
export function javaArgs(config: ServerConfig, classpath: string, cfgFile: string): string[] {
  return [...config.jvmFlags, '-cp', classpath, QUORUM_PEER_MAIN, cfgFile];
}

/** The keys of a zoo.cfg text, each with its value (`server.N` lines included). */
export function parseZooCfg(zooCfg: string): Map<string, string> {
  const keys = new Map<string, string>();
  for (const line of zooCfg.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0 && !line.startsWith('#')) keys.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim());
  }
  return keys;
}
