/**
 * Local ZooKeeper servers: the Java server from a local install, started as child processes on
 * free loopback ports with temporary data dirs. Every process started here is killed when the
 * test process exits, and its pid is recorded where the test runner's global teardown finds it
 * (exit-hooks.ts).
 *
 * The parts: local-process.ts runs one server process (install lookup, spawn, readiness, stop,
 * pause); local-ensemble.ts runs ensembles (read-only mode, reconfig joiners); server-config.ts
 * renders what every server runs with, the same for containers. This file starts a standalone
 * server and re-exports the rest, so callers import one module.
 * @module
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalServer, findLocalInstall, writeServerFiles, type LocalInstall } from './local-process.js';
import { freePort } from './ports.js';
import { renderServerConfig, serverPaths, type ServerConfig } from './server-config.js';
import { generateTestCerts } from './tls.js';
import type { ZooKeeperServer, ZooKeeperTls } from './types.js';

export { killRecorded } from './exit-hooks.js';
export { freePort } from './ports.js';
export { SUPER_AUTH } from './server-config.js';
export { findLocalInstall, localServerMode, waitForServerMode, type LocalInstall, type ServerMode } from './local-process.js';
export { startLocalEnsemble, type LocalEnsembleOptions, type LocalJoiner, type LocalZooKeeperEnsemble } from './local-ensemble.js';

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
  /** The server JVM's heap limit in MB (a million znodes need about 1 GB). @default 256 */
  heapMb?: number;
  /** More JVM flags, after the test kit's own (e.g. `-Djute.maxbuffer=65536`). @default none */
  jvmFlags?: readonly string[];
}

/** The rendered config of a local standalone server rooted at `dir` (host paths). */
export function localStandaloneConfig(dir: string, port: number, tls?: { port: number; keyStore: string; trustStore: string }, heapMb?: number): ServerConfig {
  return renderServerConfig({ paths: serverPaths(dir), clientPort: port, clientPortAddress: '127.0.0.1', tls, heapMb });
}

/** Makes a server's certificates under `dir`/tls and picks its TLS port. */
async function prepareTls(dir: string): Promise<{ tls: ZooKeeperTls; keyStore: string; trustStore: string }> {
  const certs = await generateTestCerts(join(dir, 'tls'));
  const port = await freePort();
  const tls = { port, connectString: `127.0.0.1:${port}`, ca: certs.ca, cert: certs.cert, key: certs.key, serverName: certs.serverName };
  return { tls, keyStore: certs.serverKeyStoreFile, trustStore: certs.caFile };
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
  let server: LocalServer;
  try {
    const t = options.tls ? await prepareTls(dir) : undefined;
    const rendered = localStandaloneConfig(dir, port, t && { port: t.tls.port, keyStore: t.keyStore, trustStore: t.trustStore }, options.heapMb);
    const config = options.jvmFlags?.length ? { ...rendered, jvmFlags: [...rendered.jvmFlags, ...options.jvmFlags] } : rendered;
    writeServerFiles(config);
    server = new LocalServer({ install, dir, config, cfgFile: serverPaths(dir).cfgFile, port, tlsPort: t?.tls.port }, /standalone/, true, t?.tls);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  try {
    await server.start();
  } catch (err) {
    await server.close();
    throw err;
  }
  return server;
}
