// The test kit's server capabilities for the wire client's conformance tests, against real Java
// processes: a TLS client port that checks client certificates, read-only mode after a quorum
// loss, and dynamic reconfig adding a spawned joiner (run with the install's own zkCli.sh, so the
// kit is proven without the client under test). Needs a local ZooKeeper install.
// Also, without a server: local and container servers are rendered with the same tuning (zoo.cfg
// keys and JVM flags), and the exit hooks run on SIGTERM (in a child process).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// The kit's modules directly, not index.js or ./helpers.js: those load the session layer, which
// the servers started here are meant to test, so this file must not depend on it.
import { containerCommand } from '../src/testing/container-server.js';
import { containerServerConfig } from '../src/testing/containers.js';
import { fourLetterWord } from '../src/testing/fourlw.js';
import { SUPER_AUTH, localServerMode, localStandaloneConfig, startLocalEnsemble, startLocalServer, waitForServerMode } from '../src/testing/local.js';
import { localMemberConfig, localMemberLine } from '../src/testing/local-ensemble.js';
import { TUNING_CFG, TUNING_JVM_FLAGS, parseZooCfg, serverLine, type ServerConfig } from '../src/testing/server-config.js';
import type { ZooKeeperServer } from '../src/testing/types.js';

/** Polls `check` every 100 ms until it holds; fails after `timeoutMs` naming `what`. */
async function waitUntil(check: () => boolean | Promise<boolean>, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The install's zkCli.sh: a release's bin/ under ZOOKEEPER_HOME, else Debian's. */
const ZKCLI = [process.env['ZOOKEEPER_HOME'] && join(process.env['ZOOKEEPER_HOME'], 'bin', 'zkCli.sh'), '/usr/share/zookeeper/bin/zkCli.sh'].find(
  (p): p is string => !!p && existsSync(p),
);

/**
 * Runs `commands` in one zkCli session, fed on stdin (zkCli runs only one command from its
 * arguments, and `addauth` must share the session with `reconfig`). Resolves with the output.
 */
function zkCli(port: number, commands: string[], timeoutMs = 60_000): Promise<string> {
  if (!ZKCLI) throw new Error('no zkCli.sh found (ZOOKEEPER_HOME/bin or /usr/share/zookeeper/bin)');
  return new Promise((resolve, reject) => {
    // Its own process group: zkCli.sh runs java as a child, and a timeout must stop both.
    const child = spawn(ZKCLI, ['-server', `127.0.0.1:${port}`], { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
      reject(new Error(`zkCli: no exit within ${timeoutMs} ms; output:\n${out}`));
    }, timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(out);
    });
    child.stdin.end(`${[...commands, 'quit'].join('\n')}\n`);
  });
}

/** A `key value` line of `mntr` as a number, or undefined. */
async function mntr(port: number, key: string): Promise<number | undefined> {
  const m = new RegExp(`^${key}\\s+(\\d+)`, 'm').exec(await fourLetterWord('127.0.0.1', port, 'mntr', 2000));
  return m ? Number(m[1]) : undefined;
}

/** Opens a TLS connection and resolves once the handshake ended (or rejects with its error). */
function handshake(options: ConnectionOptions): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const sock = tlsConnect(options);
    sock.once('error', reject);
    sock.once('secureConnect', () => {
      sock.off('error', reject);
      resolve(sock);
    });
  });
}

/** Sends a four-letter word on a TLS socket and resolves with the whole reply (errors included). */
function tlsWord(sock: TLSSocket, word: string): Promise<string> {
  return new Promise((resolve) => {
    let reply = '';
    sock.on('data', (d: Buffer) => {
      reply += d.toString();
    });
    sock.on('error', (e) => {
      reply += `<${e.message}>`;
    });
    sock.once('close', () => resolve(reply));
    sock.end(word);
  });
}

/** Java server processes started by this test process (the kit spawns them as its children). */
function ourServerPids(): number[] {
  const r = spawnSync('pgrep', ['-P', String(process.pid), '-f', 'org.apache.zookeeper.server'], { encoding: 'utf8' });
  return r.stdout.split('\n').filter(Boolean).map(Number);
}

describe('startLocalServer({ tls: true })', () => {
  let server: ZooKeeperServer;
  beforeAll(async () => {
    server = await startLocalServer({ tls: true });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('serves TLS with a client certificate from the CA, and the plain port still answers', async () => {
    const tls = server.tls!;
    expect(tls.connectString).toBe(`127.0.0.1:${tls.port}`);
    expect(tls.port).not.toBe(server.port);
    const sock = await handshake({ host: '127.0.0.1', port: tls.port, ca: tls.ca, cert: tls.cert, key: tls.key, servername: tls.serverName });
    expect(sock.authorized).toBe(true);
    // The server accepted the client certificate too: it answers on the secure connection.
    expect(await tlsWord(sock, 'ruok')).toBe('imok');
    expect(await fourLetterWord('127.0.0.1', server.port, 'srvr')).toMatch(/Mode: standalone/);
  });

  it('requires the client certificate (ssl.clientAuth=need)', async () => {
    const tls = server.tls!;
    // TLS 1.2 (3.8's default) rejects during the handshake, TLS 1.3 right after it: either way no reply.
    const outcome = await handshake({ host: '127.0.0.1', port: tls.port, ca: tls.ca, servername: tls.serverName }).then(
      (sock) => tlsWord(sock, 'ruok'),
      (e: Error) => `handshake failed: ${e.message}`,
    );
    expect(outcome).not.toBe('imok');
  });

  it('keeps serving TLS after a restart (same certificates)', async () => {
    await server.restart();
    const tls = server.tls!;
    const sock = await handshake({ host: '127.0.0.1', port: tls.port, ca: tls.ca, cert: tls.cert, key: tls.key, servername: tls.serverName });
    expect(await tlsWord(sock, 'ruok')).toBe('imok');
  });
});

describe('startLocalEnsemble(3, { readOnly: true })', () => {
  it('the server left after two of three are killed reports read-only', async () => {
    const ensemble = await startLocalEnsemble(3, { readOnly: true });
    try {
      await ensemble.kill(0);
      await ensemble.kill(1);
      await ensemble.waitForMode(2, 'read-only', 60_000);
      expect(await localServerMode(ensemble.servers[2]!.port)).toBe('read-only');
      // A restarted peer brings the quorum back, and waitForQuorum sees it.
      await ensemble.restart(0);
      await waitForServerMode(ensemble.servers[2]!.port, /leader|follower/, 60_000);
    } finally {
      await ensemble.close();
    }
  }, 180_000);
});

describe('startLocalEnsemble(3, { reconfig: true })', () => {
  it('a spawned joiner is added by reconfig (zkCli, as the superuser) and votes', async () => {
    const ensemble = await startLocalEnsemble(3, { reconfig: true });
    try {
      const joiner = await ensemble.spawnJoiner();
      expect(joiner.id).toBe(4);
      expect(joiner.serverLine).toBe(`server.4=127.0.0.1:${joiner.quorumPort}:${joiner.electionPort}:participant;127.0.0.1:${joiner.port}`);
      const leader = ensemble.servers[await ensemble.leaderIndex()]!;
      // Before the reconfig it syncs with the leader without a vote.
      await waitUntil(async () => (await mntr(leader.port, 'zk_synced_non_voting_followers')) === 1, 'the joiner synced as non-voting', 30_000);

      const out = await zkCli(ensemble.servers[0]!.port, [
        `reconfig -add ${joiner.serverLine}`, // refused: no auth yet
        `addauth digest ${SUPER_AUTH}`,
        `reconfig -add ${joiner.serverLine}`,
      ]);
      expect(out).toMatch(/Insufficient permission|NoAuth/i);
      expect(out).toContain('Committed new configuration');

      await joiner.waitForMode(/follower|leader/, 60_000);
      await waitUntil(
        async () => (await mntr(leader.port, 'zk_synced_followers')) === 3 && (await mntr(leader.port, 'zk_synced_non_voting_followers')) === 0,
        'the joiner to vote',
        30_000,
      );
      const config = await zkCli(joiner.port, ['get /zookeeper/config']);
      expect(config).toContain(joiner.serverLine);
      for (const s of ensemble.servers) expect(config).toContain(`;127.0.0.1:${s.port}`);
    } finally {
      await ensemble.close();
    }
  }, 180_000);

  it('spawnJoiner refuses an ensemble started without reconfig; its members run the rendered tuning', async () => {
    const ensemble = await startLocalEnsemble(3);
    try {
      await expect(ensemble.spawnJoiner()).rejects.toThrow(/reconfig: true/);
      // What the server itself reports (`conf`) is what server-config.ts rendered.
      const tuning = parseZooCfg(TUNING_CFG.join('\n'));
      const conf = parseZooCfg(await fourLetterWord('127.0.0.1', ensemble.servers[1]!.port, 'conf', 2000));
      for (const key of ['tickTime', 'initLimit', 'syncLimit', 'minSessionTimeout', 'maxSessionTimeout', 'maxClientCnxns']) {
        expect(conf.get(key), key).toBe(tuning.get(key));
      }
      expect(conf.get('serverId')).toBe('2');
    } finally {
      await ensemble.close();
    }
  }, 120_000);
});

/** Keys that place a server (paths, ports, addresses, membership lines) and may differ by strategy. */
const PLACEMENT = new Set(['dataDir', 'clientPort', 'clientPortAddress', 'quorumListenOnAllIPs', 'dynamicConfigFile']);

/** A rendered config's tuning: every zoo.cfg key that does not place the server, with its value. */
function tuningOf(config: ServerConfig): Record<string, string> {
  return Object.fromEntries([...parseZooCfg(config.zooCfg)].filter(([k]) => !PLACEMENT.has(k) && !k.startsWith('server.')));
}

describe('server configuration: local and container servers alike (rendered, no server)', () => {
  const ports = [1, 2, 3].map((i) => ({ client: 12_000 + i, quorum: 13_000 + i, election: 14_000 + i }));
  const localMembers = ports.map((p, i) => localMemberLine(i + 1, p, false));
  const hostMembers = ports.map((p, i) => serverLine(i + 1, '127.0.0.1', p.quorum, p.election));
  const bridgeMembers = [1, 2, 3].map((id) => serverLine(id, `zk${id}`, 2888, 3888));
  const local = localMemberConfig('/tmp/zk-test/s2', 2, ports[1]!.client, localMembers, { reconfig: false, readOnly: false });
  const host = containerServerConfig('host', ports[1]!.client, { id: 2, members: hostMembers });
  const bridge = containerServerConfig('bridge', 2181, { id: 2, members: bridgeMembers });

  it('an ensemble member has the same tuning keys and values, and the same JVM flags, in both strategies', () => {
    const want = tuningOf(local);
    // Every shared tuning line, and what makes a static-membership member.
    expect(want).toMatchObject(Object.fromEntries(parseZooCfg(TUNING_CFG.join('\n'))));
    expect(want).toMatchObject({ standaloneEnabled: 'false', reconfigEnabled: 'false' });
    expect(tuningOf(host)).toEqual(want);
    expect(tuningOf(bridge)).toEqual(want);
    expect(host.jvmFlags).toEqual(local.jvmFlags);
    expect(bridge.jvmFlags).toEqual(local.jvmFlags);
    // The two that containers once lacked: re-election in about a second after a kill.
    expect(bridge.jvmFlags).toEqual(expect.arrayContaining(['-Dzookeeper.fastleader.maxNotificationInterval=1000', '-Dzookeeper.cnxTimeout=1000']));
  });

  it('a standalone server has the same tuning and JVM flags in both strategies', () => {
    const want = localStandaloneConfig('/tmp/zk-test/one', 12_345);
    expect(tuningOf(containerServerConfig('host', 12_345))).toEqual(tuningOf(want));
    expect(tuningOf(containerServerConfig('bridge', 2181))).toEqual(tuningOf(want));
    expect(containerServerConfig('bridge', 2181).jvmFlags).toEqual([...TUNING_JVM_FLAGS]);
    expect(want.jvmFlags).toEqual([...TUNING_JVM_FLAGS]);
  });

  it('only placement differs: paths, client address, membership lines', () => {
    const l = parseZooCfg(local.zooCfg);
    const h = parseZooCfg(host.zooCfg);
    const b = parseZooCfg(bridge.zooCfg);
    expect([l.get('dataDir'), h.get('dataDir'), b.get('dataDir')]).toEqual(['/tmp/zk-test/s2/data', '/zk/data', '/zk/data']);
    expect([l.get('clientPortAddress'), h.get('clientPortAddress'), b.get('clientPortAddress')]).toEqual(['127.0.0.1', '127.0.0.1', undefined]);
    expect(b.get('quorumListenOnAllIPs')).toBe('true');
    expect(l.get('server.3')).toBe(`127.0.0.1:${ports[2]!.quorum}:${ports[2]!.election}`);
    expect(b.get('server.3')).toBe('zk3:2888:3888');
    expect(local.files.map((f) => f.path)).toEqual(['/tmp/zk-test/s2/zoo.cfg', '/tmp/zk-test/s2/data/myid']);
    expect(bridge.files.map((f) => [f.path, f.content])).toEqual([
      ['/zk/zoo.cfg', bridge.zooCfg],
      ['/zk/data/myid', '2\n'],
    ]);
  });

  it('the container command runs the server with every rendered JVM flag, on both image layouts', () => {
    const [shell, opt, script] = containerCommand(bridge);
    expect([shell, opt]).toEqual(['bash', '-c']);
    const [debian, official] = script!.split('\nelse\n');
    for (const flag of bridge.jvmFlags) {
      expect(debian).toContain(` '${flag}'`);
      expect(official).toContain(flag);
    }
    expect(debian).toContain(`'org.apache.zookeeper.server.quorum.QuorumPeerMain' '/zk/zoo.cfg'`);
    expect(official).toContain(`zkServer.sh start-foreground '/zk/zoo.cfg'`);
  });

  it('read-only and reconfig members get local sessions, the dynamic file and the superuser', () => {
    const members = ports.map((p, i) => localMemberLine(i + 1, p, true));
    const c = localMemberConfig('/tmp/zk-test/s1', 1, ports[0]!.client, members, { reconfig: true, readOnly: true });
    const keys = parseZooCfg(c.zooCfg);
    expect(keys.get('localSessionsEnabled')).toBe('true');
    expect(keys.get('reconfigEnabled')).toBe('true');
    expect(keys.get('dynamicConfigFile')).toBe('/tmp/zk-test/s1/zoo.cfg.dynamic');
    expect(keys.has('clientPort')).toBe(false); // in the dynamic file's lines instead
    expect(c.files.find((f) => f.path === '/tmp/zk-test/s1/zoo.cfg.dynamic')?.content).toBe(`${members.join('\n')}\n`);
    expect(members[0]).toBe(`server.1=127.0.0.1:${ports[0]!.quorum}:${ports[0]!.election}:participant;127.0.0.1:${ports[0]!.client}`);
    expect(c.jvmFlags).toContain('-Dreadonlymode.enabled=true');
    // sha1("super:test"), base64: what DigestAuthenticationProvider compares the digest auth with.
    expect(c.jvmFlags).toContain('-Dzookeeper.DigestAuthenticationProvider.superDigest=super:D/InIHSb7yEEbrWz8b9l71RjZJU=');
  });
});

describe('exit hooks (in a child process)', () => {
  it('run every registered hook on SIGTERM, also after one throws, and the process exits with 143', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'zk-recipes-hooks-'));
    try {
      const hooks = pathToFileURL(join(import.meta.dirname, '../src/testing/exit-hooks.ts')).href;
      const mark = (name: string) => `() => writeFileSync(${JSON.stringify(join(dir, name))}, 'ran')`;
      const script = [
        `import { writeFileSync } from 'node:fs';`,
        `import { onProcessExit } from ${JSON.stringify(hooks)};`,
        `onProcessExit(() => { throw new Error('a failing hook'); });`,
        `onProcessExit(${mark('kept')});`,
        `const off = onProcessExit(${mark('removed')}); off();`,
        `setInterval(() => undefined, 1000); console.log('ready');`,
      ].join('\n');
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
      const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.once('exit', (code, sig) => resolve([code, sig])));
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (d: Buffer) => {
          if (d.toString().includes('ready')) resolve();
        });
        child.once('exit', () => reject(new Error('the child exited before it was ready')));
      });
      child.kill('SIGTERM');
      expect(await exited).toEqual([143, null]);
      expect(readFileSync(join(dir, 'kept'), 'utf8')).toBe('ran');
      expect(existsSync(join(dir, 'removed'))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});

describe('cleanup', () => {
  it('leaves no ZooKeeper server process of this file running', async () => {
    await waitUntil(() => ourServerPids().length === 0, 'no server process left', 10_000);
  });
});
