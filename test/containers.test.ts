// The test kit's server lifecycle, proven against whatever it hands out. With
// ZK_STRATEGY=container (scripts/ci-containers.sh) it proves the container path: servers are
// containers, stop/restart keep data, pause freezes the server, an ensemble member can be killed
// and restarted, and no container is left behind (counted through the engine). Without it, the
// same lifecycle runs against local servers. It never skips when containers were requested: no
// engine means a failure with the fix in the message.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ZkSession } from '../src/index.js';
import { dockerAvailable, startEnsemble, startZooKeeper, type ZooKeeperEnsemble, type ZooKeeperServer } from '../src/testing/index.js';
import { listTestContainers } from '../src/testing/containers.js';
import { nextEvent, uniquePath, waitUntil } from './helpers.js';

const strategy = process.env['ZK_STRATEGY'];
const wantContainers = strategy === 'container';
const external = strategy === 'external' || (!strategy && Boolean(process.env['ZK_CONNECT']));

const sessions = new Set<ZkSession>();
async function connect(connectString: string, sessionTimeoutMs = 4000): Promise<ZkSession> {
  const s = await ZkSession.connect(connectString, { sessionTimeoutMs });
  sessions.add(s);
  return s;
}

describe('test kit servers', () => {
  let server: ZooKeeperServer | undefined;
  let ensemble: ZooKeeperEnsemble | undefined;

  beforeAll(async () => {
    if (wantContainers && !(await dockerAvailable())) {
      throw new Error(
        `ZK_STRATEGY=container but no Docker engine answers at DOCKER_HOST=${process.env['DOCKER_HOST'] ?? '(unset)'}; run: eval "$(bash scripts/containers.sh start)"`,
      );
    }
    if (wantContainers) expect(await listTestContainers('process')).toEqual([]);
    server = await startZooKeeper();
  });

  afterAll(async () => {
    await Promise.all([...sessions].map((s) => s.close()));
    await ensemble?.close();
    await server?.close();
  });

  it('hands out the requested kind of server, and a session can create and read', async () => {
    if (wantContainers) {
      expect(server!.kind).toBe('container');
      expect(await listTestContainers('process')).toHaveLength(1);
    } else {
      expect(['local', 'external']).toContain(server!.kind);
    }
    const s = await connect(server!.connectString);
    const path = uniquePath('kit');
    await s.create(path, 'hello');
    expect((await s.get(path)).data.toString()).toBe('hello');
  });

  it.skipIf(external)('stop() + restart() keep the data; a session goes suspended then reconnected', async () => {
    const s = await connect(server!.connectString, 10_000);
    const path = uniquePath('kept');
    await s.create(path, 'survives');
    const suspended = nextEvent(s, 'suspended');
    await server!.stop();
    await suspended;
    const reconnected = nextEvent<[{ sessionId: string; newSession: boolean }]>(s, 'reconnected', 30_000);
    await server!.restart();
    const [info] = await reconnected;
    expect(info.newSession).toBe(false); // the restarted server restored the session from its data
    expect((await s.get(path)).data.toString()).toBe('survives');
    const fresh = await connect(server!.connectString);
    expect((await fresh.get(path)).data.toString()).toBe('survives');
  });

  it.skipIf(external)('pause() freezes the server (suspended), resume() brings it back (reconnected)', async () => {
    const s = await connect(server!.connectString, 4000);
    const path = uniquePath('paused');
    await s.create(path, 'x');
    const suspended = nextEvent(s, 'suspended', 20_000);
    await server!.pause();
    try {
      await suspended;
      expect(s.state).toBe('suspended');
    } finally {
      await server!.resume();
    }
    await waitUntil(() => s.state === 'connected', 'the session to reconnect after resume()');
    expect((await s.get(path)).data.toString()).toBe('x');
  });

  it('an ensemble survives killing the server a session is connected to', async () => {
    ensemble = await startEnsemble(3);
    if (wantContainers) {
      expect(ensemble.servers.every((sv) => sv.kind === 'container')).toBe(true);
      expect(await listTestContainers('process')).toHaveLength(4);
    }
    const s = await connect(ensemble.connectString, 8000);
    const path = uniquePath('ens');
    await s.create(path, 'replicated');
    const victim =
      (await waitUntil(async () => {
        const i = await ensemble!.serverOf(s.sessionId);
        return i >= 0 ? i + 1 : 0;
      }, 'serverOf the session')) - 1;
    const suspended = nextEvent(s, 'suspended');
    const reconnected = nextEvent<[{ sessionId: string; newSession: boolean }]>(s, 'reconnected', 40_000);
    await ensemble.kill(victim);
    await suspended;
    expect((await reconnected)[0].newSession).toBe(false);
    const now =
      (await waitUntil(async () => {
        const i = await ensemble!.serverOf(s.sessionId);
        return i >= 0 ? i + 1 : 0;
      }, 'serverOf after failover')) - 1;
    expect(now).not.toBe(victim);
    expect((await s.get(path)).data.toString()).toBe('replicated');
    // The killed server comes back with its data and rejoins the quorum.
    await ensemble.restart(victim);
    const direct = await connect(ensemble.servers[victim]!.connectString);
    expect((await direct.get(path)).data.toString()).toBe('replicated');
    expect(await ensemble.leaderIndex()).toBeGreaterThanOrEqual(0);
  });

  it('fails with a clear message, never a skip, when containers are asked of an engine that does not answer', async () => {
    const saved = { DOCKER_HOST: process.env['DOCKER_HOST'], ZK_STRATEGY: process.env['ZK_STRATEGY'] };
    process.env['DOCKER_HOST'] = 'unix:///nonexistent/zk-recipes-test.sock';
    process.env['ZK_STRATEGY'] = 'container';
    try {
      const clear = /no Docker engine answers \(unix:\/\/\/nonexistent.*\n.*scripts\/containers\.sh start/;
      await expect(startZooKeeper()).rejects.toThrow(clear);
      await expect(startEnsemble(3)).rejects.toThrow(clear);
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });

  it('leaves no container behind', async () => {
    await Promise.all([...sessions].map((s) => s.close()));
    sessions.clear();
    await ensemble?.close();
    await server?.close();
    if (wantContainers) expect(await listTestContainers('process')).toEqual([]);
  });
});

describe('freePort', () => {
  it("hands out distinct bindable ports below the kernel's ephemeral range, where outgoing connections cannot take them", async () => {
    const { readFileSync } = await import('node:fs');
    const { createServer } = await import('node:net');
    const { freePort } = await import('../src/testing/index.js');
    const lo = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    const ports = await Promise.all(Array.from({ length: 20 }, () => freePort()));
    expect(new Set(ports).size).toBe(20);
    for (const p of ports) expect(p).toBeLessThan(lo);
    const srv = createServer();
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(ports[0], '127.0.0.1', resolve);
    });
    await new Promise((r) => srv.close(r));
  });
});
