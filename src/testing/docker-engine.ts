/**
 * The Docker engine, for the container strategy: small helpers that speak HTTP to `DOCKER_HOST`
 * directly (a unix socket or plain tcp; ping, list, remove, logs — no testcontainers needed),
 * testcontainers loaded on first use, and the registry of containers this process created, which
 * removes them when the process exits (through exit-hooks.ts).
 *
 * Every container is labelled {@link CONTAINER_LABEL}, with this process as owner and the test
 * run (`ZK_RECIPES_PID_DIR`) as run id, so the global teardown and `scripts/containers.sh stop`
 * find what a killed worker left.
 * @module
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { hostname } from 'node:os';
import createDebug from 'debug';
import { onProcessExit } from './exit-hooks.js';
import { loadTestcontainers } from './testcontainers.js';

const log = createDebug('zk-recipes:testing:containers');

/** Label put on every container the test kit starts. */
export const CONTAINER_LABEL = 'org.zk-recipes.testing';
/** Label holding the test run (`ZK_RECIPES_PID_DIR`) a container belongs to. */
export const RUN_LABEL = `${CONTAINER_LABEL}.run`;
/** Label holding the process (`host:pid`) that created a container. */
export const OWNER_LABEL = `${CONTAINER_LABEL}.owner`;
/** This process, as {@link OWNER_LABEL} names it. */
export const OWNER = `${hostname()}:${process.pid}`;

/** How to reach the engine over HTTP. */
export interface EngineAddress {
  /** The unix socket, for `unix://`. */
  socketPath?: string;
  /** Host and port, for plain `tcp://`. */
  host?: string;
  port?: number;
  /** The address as `DOCKER_HOST` spells it, for messages. */
  describe: string;
}

/** The engine's address from `DOCKER_HOST` (else `/var/run/docker.sock`), or undefined. */
export function engineAddress(env: NodeJS.ProcessEnv = process.env): EngineAddress | undefined {
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

/** Removes container `id` with its volumes (force); a missing one counts as removed. Retried on no answer. */
export async function removeById(addr: EngineAddress, id: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    let res: { status: number; body: string };
    try {
      res = await engineCall(addr, 'DELETE', `/containers/${id}?force=1&v=1`, 15_000);
    } catch (err) {
      if (attempt < 3) continue; // no answer: ask again on a new connection
      throw err;
    }
    if (res.status !== 204 && res.status !== 404)
      throw new Error(`zk-recipes/testing: removing container ${id.slice(0, 12)} failed: HTTP ${res.status} ${res.body}`);
    return;
  }
}

/** The last lines a container wrote (stdout and stderr), for an error message; '' if unavailable. */
export async function containerLogTail(id: string, lines = 30): Promise<string> {
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
    } catch {
      /* not answering: try testcontainers' detection below */
    }
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

/** Records a container the moment it is created: it is removed when the process exits. */
export function trackContainer(id: string): void {
  live.add(id);
  onProcessExit(removeLiveSync);
  log('created container %s', id.slice(0, 12));
}

/** Forgets a container that was removed. */
export function untrackContainer(id: string): void {
  live.delete(id);
  log('removed container %s', id.slice(0, 12));
}
