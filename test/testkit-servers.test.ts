// The test kit's server capabilities for the wire client's conformance tests, against real Java
// processes: a TLS client port that checks client certificates, read-only mode after a quorum
// loss, and dynamic reconfig adding a spawned joiner (run with the install's own zkCli.sh, so the
// kit is proven without the client under test). Needs a local ZooKeeper install.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// The kit's modules directly, not index.js or ./helpers.js: those load the session layer, which
// the servers started here are meant to test, so this file must not depend on it.
import { fourLetterWord } from '../src/testing/fourlw.js';
import { SUPER_AUTH, localServerMode, startLocalEnsemble, startLocalServer, waitForServerMode } from '../src/testing/local.js';
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
const ZKCLI = [process.env['ZOOKEEPER_HOME'] && join(process.env['ZOOKEEPER_HOME'], 'bin', 'zkCli.sh'), '/usr/share/zookeeper/bin/zkCli.sh']
  .find((p): p is string => !!p && existsSync(p));

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
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    const timer = setTimeout(() => {
      try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ }
      reject(new Error(`zkCli: no exit within ${timeoutMs} ms; output:\n${out}`));
    }, timeoutMs);
    child.once('error', (e) => { clearTimeout(timer); reject(e); });
    child.once('exit', () => { clearTimeout(timer); resolve(out); });
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
    sock.once('secureConnect', () => { sock.off('error', reject); resolve(sock); });
  });
}

/** Sends a four-letter word on a TLS socket and resolves with the whole reply (errors included). */
function tlsWord(sock: TLSSocket, word: string): Promise<string> {
  return new Promise((resolve) => {
    let reply = '';
    sock.on('data', (d: Buffer) => { reply += d.toString(); });
    sock.on('error', (e) => { reply += `<${e.message}>`; });
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
  beforeAll(async () => { server = await startLocalServer({ tls: true }); });
  afterAll(async () => { await server?.close(); });

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
    const outcome = await handshake({ host: '127.0.0.1', port: tls.port, ca: tls.ca, servername: tls.serverName })
      .then((sock) => tlsWord(sock, 'ruok'), (e: Error) => `handshake failed: ${e.message}`);
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
      await waitUntil(async () => (await mntr(leader.port, 'zk_synced_followers')) === 3 && (await mntr(leader.port, 'zk_synced_non_voting_followers')) === 0,
        'the joiner to vote', 30_000);
      const config = await zkCli(joiner.port, ['get /zookeeper/config']);
      expect(config).toContain(joiner.serverLine);
      for (const s of ensemble.servers) expect(config).toContain(`;127.0.0.1:${s.port}`);
    } finally {
      await ensemble.close();
    }
  }, 180_000);

  it('spawnJoiner refuses an ensemble started without reconfig', async () => {
    const ensemble = await startLocalEnsemble(3);
    try {
      await expect(ensemble.spawnJoiner()).rejects.toThrow(/reconfig: true/);
    } finally {
      await ensemble.close();
    }
  }, 120_000);
});

describe('cleanup', () => {
  it('leaves no ZooKeeper server process of this file running', async () => {
    await waitUntil(() => ourServerPids().length === 0, 'no server process left', 10_000);
  });
});
