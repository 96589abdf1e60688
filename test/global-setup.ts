// Runs once per `vitest run`: checks a ZooKeeper can be had (fails loudly, never skips), and
// kills any server process a test file left behind, even when a worker crashed.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NO_SERVER_MESSAGE, dockerAvailable, findLocalInstall } from '../src/testing/index.js';
import { killRecorded } from '../src/testing/local.js';
import { removeRunContainers } from '../src/testing/containers.js';

export default async function setup(): Promise<() => Promise<void>> {
  if (!process.env['ZK_CONNECT'] && !findLocalInstall() && !(await dockerAvailable())) {
    throw new Error(NO_SERVER_MESSAGE);
  }
  const dir = mkdtempSync(join(tmpdir(), 'zk-recipes-pids-'));
  process.env['ZK_RECIPES_PID_DIR'] = dir;
  return async () => {
    const c = await removeRunContainers(dir);
    if (c > 0) console.warn(`[global-teardown] removed ${c} leftover ZooKeeper container(s)`);
    const n = killRecorded(dir);
    if (n > 0) console.warn(`[global-teardown] killed ${n} leftover ZooKeeper process(es)`);
    rmSync(dir, { recursive: true, force: true });
  };
}
