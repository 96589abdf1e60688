/**
 * zk-recipes' test kit (`zk-recipes/testing`): real ZooKeeper servers for tests, as Curator users
 * have curator-test. Servers come from, in order: `ZK_CONNECT` (an external server), a local
 * ZooKeeper install started as a child Java process, or containers when a Docker engine answers.
 * `ZK_STRATEGY=external|local|container` forces one.
 * @module
 */
import { dockerAvailable, startContainerEnsemble, startContainerServer } from './containers.js';
import { findLocalInstall, startLocalEnsemble, startLocalServer } from './local.js';
import type { ZooKeeperEnsemble, ZooKeeperServer } from './types.js';

export type { ZooKeeperEnsemble, ZooKeeperEnsembleTls, ZooKeeperServer, ZooKeeperTls } from './types.js';
export { expireSession } from './expire.js';
export {
  SUPER_AUTH,
  findLocalInstall,
  freePort,
  localServerMode,
  startLocalEnsemble,
  startLocalServer,
  waitForServerMode,
  type LocalEnsembleOptions,
  type LocalInstall,
  type LocalJoiner,
  type LocalServerOptions,
  type LocalZooKeeperEnsemble,
  type ServerMode,
} from './local.js';
export { TLS_SERVER_NAME, generateServerCert, generateTestCerts, tlsFourLetterWord, type ServerCert, type TestCerts, type TlsEndpoint } from './tls.js';
export { dockerAvailable, listTestContainers, removeRunContainers, startContainerEnsemble, startContainerServer } from './containers.js';
export { fourLetterWord, serverMode } from './fourlw.js';

/** The message shown when no server can be had: every way to provide one. */
export const NO_SERVER_MESSAGE = [
  'zk-recipes/testing: no ZooKeeper server available. Provide one of:',
  '  - ZK_CONNECT=host:port          an external server (e.g. `docker run -p 2181:2181 zookeeper:3.9`)',
  '  - a local install               Debian/Ubuntu: `apt-get install zookeeper` (uses /usr/share/java/zookeeper.jar);',
  '                                  or ZOOKEEPER_HOME=<unpacked release> or ZOOKEEPER_CLASSPATH=<classpath>; needs `java`',
  '  - a Docker engine               DOCKER_HOST or /var/run/docker.sock (image: ZK_IMAGE, default zookeeper:3.9)',
  "In this repository, `npm test` installs Debian's zookeeper package by itself when run as root with apt-get.",
].join('\n');

type Strategy = 'external' | 'local' | 'container';

function strategyFromEnv(): Strategy | undefined {
  const s = process.env['ZK_STRATEGY'];
  if (s === undefined || s === '') return undefined;
  if (s !== 'external' && s !== 'local' && s !== 'container') throw new Error(`zk-recipes/testing: ZK_STRATEGY must be external, local or container, got ${s}`);
  return s;
}

function externalServer(connectString: string): ZooKeeperServer {
  const port = Number(connectString.split(',')[0]!.split(':')[1]);
  const unsupported = async () => {
    throw new Error('zk-recipes/testing: an external server (ZK_CONNECT) cannot be stopped, restarted or paused');
  };
  return {
    kind: 'external',
    connectString,
    port,
    stop: unsupported,
    restart: unsupported,
    pause: unsupported,
    resume: unsupported,
    close: async () => undefined,
    [Symbol.asyncDispose]: async () => undefined,
  };
}

/**
 * Gives a real ZooKeeper server: `ZK_CONNECT` if set (no stop/restart), else a local install,
 * else a container. Fails with {@link NO_SERVER_MESSAGE} when none is available.
 * @param options - `heapMb`: the started server JVM's heap limit in MB (default 256; about 1 GB
 * per million znodes); an external server is as it is. `tls`: also a TLS client port with
 * throwaway certificates (the server's `tls`), local servers only
 * @throws Error when `tls` is asked of an external server or a container
 */
export async function startZooKeeper(options: { heapMb?: number; tls?: boolean } = {}): Promise<ZooKeeperServer> {
  const forced = strategyFromEnv();
  const ext = process.env['ZK_CONNECT'];
  if (options.tls && (forced === 'container' || (forced !== 'local' && ext) || (forced === undefined && !findLocalInstall()))) {
    throw new Error(`zk-recipes/testing: a TLS test server needs a local install (ZK_CONNECT and containers have no TLS port)\n${NO_SERVER_MESSAGE}`);
  }
  if ((forced === undefined || forced === 'external') && ext) return externalServer(ext);
  if (forced === 'external') throw new Error(`ZK_STRATEGY=external needs ZK_CONNECT\n${NO_SERVER_MESSAGE}`);
  if (forced !== 'container' && findLocalInstall()) return startLocalServer(options);
  if (forced === 'local') throw new Error(`ZK_STRATEGY=local but no local install was found\n${NO_SERVER_MESSAGE}`);
  if (forced === 'container' || (await dockerAvailable())) return startContainerServer(options);
  throw new Error(NO_SERVER_MESSAGE);
}

/**
 * Starts an ensemble of `n` servers (local processes, else containers) and waits for a quorum.
 * An external `ZK_CONNECT` server cannot serve as one.
 */
export async function startEnsemble(n = 3): Promise<ZooKeeperEnsemble> {
  const forced = strategyFromEnv();
  if (forced !== 'container' && findLocalInstall()) return startLocalEnsemble(n);
  if (forced === 'local') throw new Error(`ZK_STRATEGY=local but no local install was found\n${NO_SERVER_MESSAGE}`);
  if (forced === 'container' || (await dockerAvailable())) return startContainerEnsemble(n);
  throw new Error(NO_SERVER_MESSAGE);
}
export { startProxy, type ZkProxy, type ProxyDirection, type ProxyCorruption } from './proxy.js';
