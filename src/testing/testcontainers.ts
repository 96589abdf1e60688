/**
 * testcontainers, loaded on first use. Its own module: the only one whose declarations name
 * testcontainers' types, and one no public entry of the test kit re-exports, so a package
 * installed without testcontainers still type-checks.
 * @module
 */
import type * as Tc from 'testcontainers';
import { dockerAvailable, engineAddress } from './docker-engine.js';

/** The testcontainers module. */
export type TcModule = typeof Tc;
let tcPromise: Promise<TcModule> | undefined;

/** The testcontainers module, imported on first use (a dev dependency: a clear error when it is absent). */
export function loadTestcontainers(): Promise<TcModule> {
  tcPromise ??= import('testcontainers').then(
    (m) => ((m as { GenericContainer?: unknown }).GenericContainer ? m : (m as unknown as { default: TcModule }).default),
    (err: unknown) => {
      tcPromise = undefined;
      throw new Error('zk-recipes/testing: containers need the testcontainers package (`npm install -D testcontainers`)', { cause: err });
    },
  );
  return tcPromise;
}

/**
 * testcontainers, once an engine answers.
 * @throws Error naming `scripts/containers.sh` when no Docker engine answers
 */
export async function requireEngine(): Promise<TcModule> {
  if (!(await dockerAvailable())) {
    const where = engineAddress()?.describe ?? 'DOCKER_HOST unset, no /var/run/docker.sock';
    throw new Error(
      [
        `zk-recipes/testing: ZooKeeper containers were requested but no Docker engine answers (${where}).`,
        'On a machine without a running engine: eval "$(bash scripts/containers.sh start)" (starts Debian\'s dockerd,',
        'builds a local ZooKeeper image and exports DOCKER_HOST, TESTCONTAINERS_* , ZK_IMAGE, ZK_CONTAINER_NETWORK).',
      ].join('\n'),
    );
  }
  return loadTestcontainers();
}
