/**
 * ZooKeeper in containers, through testcontainers (an optional dev dependency, loaded lazily).
 * @module
 */
import type { ZooKeeperEnsemble, ZooKeeperServer } from './types.js';

/** Whether a Docker engine answers (DOCKER_HOST or the default socket). */
export async function dockerAvailable(): Promise<boolean> {
  return false;
}

/** Starts one ZooKeeper container. */
export async function startContainerServer(): Promise<ZooKeeperServer> {
  throw new Error('containers: not implemented yet');
}

/** Starts an ensemble of `n` ZooKeeper containers. */
export async function startContainerEnsemble(_n = 3): Promise<ZooKeeperEnsemble> {
  throw new Error('containers: not implemented yet');
}
