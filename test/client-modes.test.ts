// The wire client's connection modes against real Java servers: TLS to a secureClientPort (a
// wrong CA, and a client certificate the server does not trust, refused with TlsError), read-only mode after a quorum loss (and back to read-write by itself), and
// dynamic membership (the client follows /zookeeper/config: a joiner added by reconfig appears in
// its host list, and it survives the removal and death of the only server it was told about).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ZkClient, type ClientState } from '../src/client/client.js';
import { ConnectionLossError, NoAuthError, NotReadOnlyError, TlsError, ZkSession, type ConnectionState } from '../src/index.js';
import { fourLetterWord } from '../src/testing/fourlw.js';
import { SUPER_AUTH, startLocalEnsemble, startLocalServer, type LocalZooKeeperEnsemble } from '../src/testing/local.js';
import { generateTestCerts, type TestCerts } from '../src/testing/tls.js';
import type { ZooKeeperServer } from '../src/testing/types.js';
import { countingForwarder, uniquePath, waitUntil } from './helpers.js';

const OPEN = [{ perms: 31, scheme: 'world', id: 'anyone' }];

/** Anything with a `state` and `state` events: a ZkClient or a ZkSession. */
interface Stateful<S extends string> {
  readonly state: S;
  on(event: 'state', fn: (s: S) => void): unknown;
  off(event: 'state', fn: (s: S) => void): unknown;
}

/** Resolves once `x` is in state `want` (at once if it is); fails after `timeoutMs`. */
function reach<S extends string>(x: Stateful<S>, want: S, what: string, timeoutMs: number): Promise<void> {
  if (x.state === want) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const fn = (s: S) => {
      if (s !== want) return;
      clearTimeout(t);
      x.off('state', fn);
      resolve();
    };
    const t = setTimeout(() => {
      x.off('state', fn);
      reject(new Error(`${what}: state '${want}' not reached within ${timeoutMs} ms (now '${x.state}')`));
    }, timeoutMs);
    x.on('state', fn);
  });
}

/** Every state `x` enters from now on. */
function record<S extends string>(x: Stateful<S>): S[] {
  const seen: S[] = [];
  x.on('state', (s) => seen.push(s));
  return seen;
}

/** A `key value` line of `mntr` as a number, or undefined. */
async function mntr(port: number, key: string): Promise<number | undefined> {
  const m = new RegExp(`^${key}\\s+(\\d+)`, 'm').exec(await fourLetterWord('127.0.0.1', port, 'mntr', 2000));
  return m ? Number(m[1]) : undefined;
}

describe('TLS (secureClientPort, client certificate required)', () => {
  let server: ZooKeeperServer;
  let wrongDir: string;
  let other: TestCerts;
  beforeAll(async () => {
    wrongDir = mkdtempSync(join(tmpdir(), 'zk-recipes-wrong-ca-'));
    [server, other] = await Promise.all([startLocalServer({ tls: true }), generateTestCerts(wrongDir)]);
  });
  afterAll(async () => {
    await server?.close();
    if (wrongDir) rmSync(wrongDir, { recursive: true, force: true });
  });

  it('a ZkClient and a ZkSession connect to the secure port, create and read', { timeout: 120_000 }, async () => {
    const tls = server.tls!;
    const options = { ca: tls.ca, cert: tls.cert, key: tls.key, servername: tls.serverName };
    const client = new ZkClient(tls.connectString, { tls: options }).start();
    try {
      await reach<ClientState>(client, 'connected', 'TLS client', 30_000);
      expect(client.connectedServer).toBe(tls.connectString);
      const path = uniquePath('tls-client');
      expect((await client.create(path, Buffer.from('over tls'), { acl: OPEN, flags: 0 })).path).toBe(path);
      expect((await client.getData(path)).data.toString()).toBe('over tls');

      const session = await ZkSession.connect(tls.connectString, { tls: options, connectTimeoutMs: 30_000 });
      try {
        expect(session.state).toBe('connected');
        // The session sees the node the client made, and its own.
        expect((await session.get(path)).data.toString()).toBe('over tls');
        await session.create(`${path}-s`, 'session over tls');
        expect((await session.get(`${path}-s`)).data.toString()).toBe('session over tls');
        expect((await client.getData(`${path}-s`)).data.toString()).toBe('session over tls');
      } finally {
        await session.close();
      }
    } finally {
      await client.close();
    }
  });

  it('a wrong CA, or a client certificate the server does not trust: ZkSession.connect fails at once with TlsError; a ZkClient keeps trying', {
    timeout: 120_000,
  }, async () => {
    const tls = server.tls!;
    // The right client certificate, the wrong CA: only the client's check of the server can fail.
    const wrong = { ca: other.ca, cert: tls.cert, key: tls.key, servername: tls.serverName };
    // The right CA, a client certificate of another CA: only the server's check of the client can fail.
    const untrusted = { ...wrong, ca: tls.ca, cert: other.cert, key: other.key };
    // Through a counting forwarder: proof that the client did try, again and again.
    const fwd = await countingForwarder(tls.port);
    const failures: Error[] = [];
    const client = new ZkClient(`127.0.0.1:${fwd.port}`, { tls: wrong, sessionTimeoutMs: 4000, onConnectFailed: ({ error }) => failures.push(error) });
    const states = record<ClientState>(client);
    const connected: unknown[] = [];
    client.on('connected', (info) => connected.push(info));
    client.start();
    try {
      const connectTimeoutMs = 30_000;
      const attempt = async (o: typeof wrong) => {
        const started = Date.now();
        const err = await ZkSession.connect(tls.connectString, { tls: o, connectTimeoutMs }).then(
          async (s) => {
            await s.close();
            return undefined;
          },
          (e: unknown) => e,
        );
        return { err: err as TlsError, elapsed: Date.now() - started };
      };
      const [byClient, byServer] = await Promise.all([attempt(wrong), attempt(untrusted)]);
      for (const { err, elapsed } of [byClient, byServer]) {
        expect(err).toBeInstanceOf(TlsError);
        expect(err.code).toBe('TLS');
        expect(err.server).toBe(tls.connectString);
        expect(err.message).toContain(tls.connectString);
        expect(elapsed).toBeLessThan(connectTimeoutMs / 2); // not the connect timeout: the first failed check
      }
      // Our check of the server's certificate failed (the server never saw the session).
      expect(byClient.err.tlsCode).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
      expect(byClient.err.message).toMatch(/certificate failed the client's check/);
      // The server refused our certificate: ZooKeeper 3.8 (TLS 1.2 here) answers the handshake
      // with a TLS alert, which Node reports as ERR_SSL_..._ALERT_... (certificate unknown).
      expect(byServer.err.tlsCode).toMatch(/^ERR_SSL_.*ALERT/);
      expect(byServer.err.message).toMatch(/refused the TLS handshake/);

      // A ZkClient itself never gives up (a session's reconnects must survive a certificate
      // rotation): it tries again and again, each attempt a TlsError.
      await waitUntil(() => fwd.accepted() >= 3 && failures.length >= 3, 'three TLS attempts of the wrong-CA client', 30_000);
      for (const f of failures) expect(f).toBeInstanceOf(TlsError);
      expect(connected).toEqual([]);
      expect(states).not.toContain('connected');
      expect(client.state).toBe('connecting');
      await expect(client.getData('/')).rejects.toBeInstanceOf(ConnectionLossError);

      // The same path with the right CA works: what failed was the certificate check.
      const right = new ZkClient(`127.0.0.1:${fwd.port}`, { tls: { ...wrong, ca: tls.ca } }).start();
      try {
        await reach<ClientState>(right, 'connected', 'right-CA client through the forwarder', 30_000);
        expect(await right.exists('/')).not.toBeNull();
      } finally {
        await right.close();
      }
      expect(client.state).toBe('connecting');
    } finally {
      await client.close();
      await fwd.close();
    }
  });
});

describe('read-only mode (startLocalEnsemble(3, { readOnly: true }))', () => {
  let ensemble: LocalZooKeeperEnsemble;
  beforeAll(async () => {
    ensemble = await startLocalEnsemble(3, { readOnly: true });
  });
  afterAll(async () => {
    await ensemble?.close();
  });

  // ZooKeeper's semantics (3.8 here), as for the Java client: a read-only server refuses to reattach a
  // session made on a read-write server ("Refusing global session reconnection in RO mode"), so
  // the session that had one is lost and the next ZooKeeper session is a new one, made by the
  // read-only server; back on a read-write server that one is replaced by a new session again.
  it('canBeReadOnly: readOnly after a quorum loss (reads work, writes fail), back to connected by itself; without it never readOnly', async () => {
    const path = uniquePath('ro');
    const ro = await ZkSession.connect(ensemble.connectString, { canBeReadOnly: true, sessionTimeoutMs: 8000, connectTimeoutMs: 30_000 });
    // Long enough not to be lost while the survivor goes read-only: it must stay merely suspended.
    const rw = await ZkSession.connect(ensemble.connectString, { sessionTimeoutMs: 40_000, connectTimeoutMs: 5000, retry: { retries: 0 } });
    const probes: ZkClient[] = [];
    try {
      await ro.create(path, 'before');
      const roStates = record<ConnectionState>(ro);
      const rwStates = record<ConnectionState>(rw);

      await Promise.all([ensemble.kill(0), ensemble.kill(1)]);
      await ensemble.waitForMode(2, 'read-only', 60_000);
      const survivor = ensemble.servers[2]!;
      // Until the survivor noticed the loss it served read-write: a session may have reconnected
      // there meanwhile. From now on only read-only service is left.
      const rwStatesWhileReadOnly = record<ConnectionState>(rw);

      // The read-only server takes a new canBeReadOnly session (the kit's servers must allow it).
      const fresh = new ZkClient(survivor.connectString, { canBeReadOnly: true, sessionTimeoutMs: 8000 }).start();
      probes.push(fresh);
      await reach<ClientState>(
        fresh,
        'readOnly',
        'a new canBeReadOnly client on the read-only server (a ZooKeeper 3.8 read-only server answers a new global session with NOTREADONLY and can only '
          + 'make local sessions: the kit must start readOnly ensembles with localSessionsEnabled=true)',
        30_000,
      );
      expect((await fresh.getData(path)).data.toString()).toBe('before');

      await reach<ConnectionState>(ro, 'readOnly', 'canBeReadOnly session', 60_000);
      expect(await ensemble.serverOf(ro.sessionId)).toBe(2);
      // Meanwhile the other session tries a read: it waits for a connection (connectTimeoutMs), in vain.
      const rwRead = rw.get(path).then(
        () => 'read',
        (e: unknown) => e,
      );

      // Reads work, writes fail with NOT_READONLY.
      expect((await ro.get(path)).data.toString()).toBe('before');
      expect(await ro.exists(path)).not.toBeNull();
      expect(await ro.getChildren('/')).toContain(path.slice(1));
      const write = await ro.create(`${path}-w`, 'x').catch((e: unknown) => e);
      expect(write).toBeInstanceOf(NotReadOnlyError);
      expect((write as NotReadOnlyError).code).toBe('NOT_READONLY');
      await expect(ro.set(path, 'changed')).rejects.toBeInstanceOf(NotReadOnlyError);
      await expect(ro.delete(path)).rejects.toBeInstanceOf(NotReadOnlyError);

      // The session without canBeReadOnly had the same chance (and more time): still cut off
      // (suspended, or lost when the session it had was one the survivor does not know).
      expect(rwStates).not.toContain('readOnly');
      expect(rwStatesWhileReadOnly).not.toContain('connected');
      expect(['suspended', 'lost']).toContain(rw.state);
      expect(await rwRead).toBeInstanceOf(ConnectionLossError);
      expect(rwStatesWhileReadOnly).not.toContain('connected');

      // Quorum back: both move to a read-write server by themselves.
      await ensemble.restart(0);
      await reach<ConnectionState>(ro, 'connected', 'canBeReadOnly session back on a read-write server', 60_000);
      await reach<ConnectionState>(rw, 'connected', 'plain session back', 60_000);
      await reach<ClientState>(fresh, 'connected', 'the new client back on a read-write server', 60_000);
      expect(rwStates).not.toContain('readOnly');
      expect(roStates).toContain('readOnly');
      expect(roStates.at(-1)).toBe('connected');

      await ro.set(path, 'after');
      await ro.create(`${path}-w`, 'written');
      expect((await rw.get(path)).data.toString()).toBe('after');
      expect((await rw.get(`${path}-w`)).data.toString()).toBe('written');
      await fresh.setData(path, Buffer.from('from the client'));
      expect((await ro.get(path)).data.toString()).toBe('from the client');
    } finally {
      await Promise.all([ro.close(), rw.close(), ...probes.map((c) => c.close())]);
    }
  }, 180_000);
});

describe('dynamic reconfig (startLocalEnsemble(3, { reconfig: true }))', () => {
  let ensemble: LocalZooKeeperEnsemble;
  beforeAll(async () => {
    ensemble = await startLocalEnsemble(3, { reconfig: true });
  });
  afterAll(async () => {
    await ensemble?.close();
  });

  it('a client told about one member follows /zookeeper/config: sees the joiner, survives its server leaving and dying', async () => {
    const [s0, s1, s2] = ensemble.servers as [ZooKeeperServer, ZooKeeperServer, ZooKeeperServer];
    const client = new ZkClient(s0.connectString, { sessionTimeoutMs: 20_000 }).start();
    // The superuser, told about the two members that stay.
    const admin = new ZkClient(`${s1.connectString},${s2.connectString}`, { auth: [{ scheme: 'digest', credentials: SUPER_AUTH }] }).start();
    try {
      await Promise.all([reach<ClientState>(client, 'connected', 'client', 30_000), reach<ClientState>(admin, 'connected', 'admin', 30_000)]);
      const sessionId = client.sessionId;
      const ports = () => client.serverList.map((h) => h.port).sort((a, b) => a - b);
      // At connect it reads the configuration: all three members.
      await waitUntil(() => client.serverList.length === 3, 'the client to adopt the three members', 20_000);
      expect(ports()).toEqual([s0.port, s1.port, s2.port].sort((a, b) => a - b));
      expect(client.serverList.every((h) => h.host === '127.0.0.1')).toBe(true);

      const joiner = await ensemble.spawnJoiner();
      const leader = ensemble.servers[await ensemble.leaderIndex()]!;
      await waitUntil(async () => (await mntr(leader.port, 'zk_synced_non_voting_followers')) === 1, 'the joiner synced as non-voting', 30_000);

      // Only the superuser may reconfig.
      await expect(client.reconfig({ joining: joiner.serverLine })).rejects.toBeInstanceOf(NoAuthError);
      const added = await admin.reconfig({ joining: joiner.serverLine });
      expect(added.data.toString()).toContain(joiner.serverLine);

      await waitUntil(() => client.serverList.some((h) => h.port === joiner.port), "the joiner in the client's host list", 30_000);
      expect(ports()).toEqual([s0.port, s1.port, s2.port, joiner.port].sort((a, b) => a - b));

      // Server 0 (id 1) leaves the ensemble, then dies.
      const removed = await admin.reconfig({ leaving: '1' });
      expect(removed.data.toString()).not.toMatch(/^server\.1=/m);
      expect(removed.data.toString()).toContain(joiner.serverLine);
      await waitUntil(() => !client.serverList.some((h) => h.port === s0.port), "server 0 out of the client's host list", 30_000);
      expect(ports()).toEqual([s1.port, s2.port, joiner.port].sort((a, b) => a - b));
      // Its server left the configuration: the client moves to a member (same session), before
      // server 0 is even gone.
      const onMember = () => client.state === 'connected' && client.connectedServer !== undefined && client.connectedServer !== s0.connectString;
      await waitUntil(onMember, 'the client on a remaining member', 30_000);
      expect(client.sessionId).toBe(sessionId);
      await ensemble.kill(0);

      // Server 0 is dead: the client, told only about it, works on the same session.
      await waitUntil(onMember, 'the client on a remaining member after the kill', 30_000);
      expect([s1.connectString, s2.connectString, joiner.connectString]).toContain(client.connectedServer);
      expect(client.sessionId).toBe(sessionId);
      const path = uniquePath('reconfig');
      await client.create(path, Buffer.from('after reconfig'), { acl: OPEN, flags: 0 });
      expect((await client.getData(path)).data.toString()).toBe('after reconfig');
      expect((await admin.getData(path)).data.toString()).toBe('after reconfig');
      expect(client.sessionId).toBe(sessionId);
    } finally {
      await Promise.all([client.close(), admin.close()]);
    }
  }, 180_000);
});
