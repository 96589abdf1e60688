// TLS end to end. The server's certificate is checked by default (CA and host name, also with
// `tls: {}` or only a CA): a server that fails the check gets no byte of the session — a Node TLS
// server standing in for ZooKeeper records every application byte it receives, and a client that
// trusts it sends its ConnectRequest there, so the recorder is proven to see what a client sends.
// ZkSession.connect fails with a typed TlsError (code TLS, the server, Node's code) once every
// server of the connect string failed the check in a row; a server that is down in between makes
// it wait (not a misconfigured client), and one bad member does not fail the connect. A session
// that was connected keeps retrying through TLS failures (certificates get rotated). Then an
// ensemble over TLS (one CA, a certificate per member): a session over TLS survives the kill of
// its server, same session, its lock still held, and the member comes back on its TLS port.
import { mkdtempSync, rmSync } from 'node:fs';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect, createServer, type PeerCertificate } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ZkClient } from '../src/client/client.js';
import { ConnectTimeoutError, Lock, TlsError, ZkSession, type TlsOptions } from '../src/index.js';
import { fourLetterWord, freePort, generateTestCerts, startLocalEnsemble, startZooKeeper, type TestCerts, type ZooKeeperServer } from '../src/testing/index.js';
import type { LocalZooKeeperEnsemble } from '../src/testing/local.js';
import { countingForwarder, nextEvent, tlsOptionsOf, uniquePath, waitUntil } from './helpers.js';

/** A Node TLS server standing in for ZooKeeper: counts connections, records every application byte, never answers. */
async function recordingServer(certs: TestCerts, host = '127.0.0.1') {
  let connections = 0;
  const received: Buffer[] = [];
  const sockets = new Set<Socket>();
  const srv = createServer({ key: certs.serverKey, cert: certs.serverCert }, (sock) => {
    sock.on('data', (d: Buffer) => received.push(d));
    sock.on('error', () => undefined);
  });
  srv.on('connection', (sock: Socket) => {
    connections++;
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
  });
  srv.on('tlsClientError', () => undefined);
  await new Promise<void>((r) => srv.listen(0, host, r));
  const port = (srv.address() as { port: number }).port;
  return {
    connectString: `${host}:${port}`,
    connections: () => connections,
    bytes: () => Buffer.concat(received),
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        srv.close(() => r());
      }),
  };
}
type Recorder = Awaited<ReturnType<typeof recordingServer>>;

/** How `ZkSession.connect` ends, and after how long. */
async function connectOutcome(connectString: string, tls: TlsOptions, connectTimeoutMs = 30_000): Promise<{ err: unknown; elapsed: number }> {
  const started = Date.now();
  const err = await ZkSession.connect(connectString, { tls, connectTimeoutMs }).then(
    async (s) => {
      await s.close();
      return undefined;
    },
    (e: unknown) => e,
  );
  return { err, elapsed: Date.now() - started };
}

/** Expects a prompt TlsError for `server` with Node's `tlsCode`. */
function expectTlsError(o: { err: unknown; elapsed: number }, server: string, tlsCode: string): TlsError {
  expect(o.err).toBeInstanceOf(TlsError);
  const err = o.err as TlsError;
  expect({ code: err.code, tlsCode: err.tlsCode, server: err.server }).toEqual({ code: 'TLS', tlsCode, server });
  expect(err.message).toContain(server);
  expect(err.message).toContain(tlsCode);
  expect(o.elapsed).toBeLessThan(15_000); // the first failed round, not the 30 s connect timeout
  return err;
}

/** Waits until `fake` received exactly one ConnectRequest frame (int32 length, protocol version 0, ..., our timeout). */
async function expectConnectRequest(fake: Recorder, sessionTimeoutMs: number): Promise<void> {
  await waitUntil(() => fake.bytes().length >= 4 && fake.bytes().readInt32BE(0) + 4 <= fake.bytes().length, 'a ConnectRequest at the recorder', 20_000);
  const b = fake.bytes();
  expect(b.readInt32BE(0) + 4).toBe(b.length);
  expect(b.readInt32BE(4)).toBe(0); // protocolVersion
  expect(b.readInt32BE(16)).toBe(sessionTimeoutMs); // after lastZxidSeen (int64)
}

describe('the server certificate is checked before anything is sent (a Node TLS server stands in)', () => {
  const dirs: string[] = [];
  let real: TestCerts;
  let other: TestCerts;
  let server: ZooKeeperServer;
  const fakes: Recorder[] = [];
  const fake = async (certs: TestCerts, host?: string) => {
    const f = await recordingServer(certs, host);
    fakes.push(f);
    return f;
  };
  beforeAll(async () => {
    for (const d of ['real', 'other']) dirs.push(mkdtempSync(join(tmpdir(), `zk-recipes-tls-${d}-`)));
    [real, other, server] = await Promise.all([generateTestCerts(dirs[0]!), generateTestCerts(dirs[1]!), startZooKeeper({ tls: true })]);
  });
  afterAll(async () => {
    await Promise.all([...fakes.map((f) => f.close()), server?.close()]);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it("another CA's certificate: TlsError UNABLE_TO_VERIFY_LEAF_SIGNATURE at once, by default too, and not one application byte", async () => {
    const f = await fake(other);
    // With a client certificate, with only a CA, and with `tls: {}` (Node's CAs): verified by default.
    for (const tls of [{ ca: real.ca, cert: real.cert, key: real.key, servername: real.serverName }, { ca: real.ca }, {}]) {
      expectTlsError(await connectOutcome(f.connectString, tls), f.connectString, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    }
    expect(f.connections()).toBeGreaterThanOrEqual(3);
    expect(f.bytes().length).toBe(0);
    // A client that trusts that CA passes the check and sends its ConnectRequest: the recorder sees it.
    const trusting = new ZkClient(f.connectString, { tls: { ca: other.ca }, sessionTimeoutMs: 7000 }).start();
    try {
      await expectConnectRequest(f, 7000);
    } finally {
      await trusting.close();
    }
  });

  it('the right CA, another name: ERR_TLS_CERT_ALTNAME_INVALID by servername and by an address not in the SAN, not one byte', async () => {
    const [f1, f2] = await Promise.all([fake(real), fake(real, '127.0.0.2')]);
    const byName = expectTlsError(
      await connectOutcome(f1.connectString, { ca: real.ca, servername: 'wrong.example' }),
      f1.connectString,
      'ERR_TLS_CERT_ALTNAME_INVALID',
    );
    expect(byName.message).toContain('wrong.example');
    // No servername: the address connected to is what the certificate must name.
    const byAddress = expectTlsError(await connectOutcome(f2.connectString, { ca: real.ca }), f2.connectString, 'ERR_TLS_CERT_ALTNAME_INVALID');
    expect(byAddress.message).toContain('127.0.0.2');
    expect([f1.bytes().length, f2.bytes().length]).toEqual([0, 0]);
    // The certificate does name 127.0.0.1: the same CA and server, that address, and the session goes out.
    const right = new ZkClient(f1.connectString, { tls: { ca: real.ca }, sessionTimeoutMs: 6000 }).start();
    try {
      await expectConnectRequest(f1, 6000);
    } finally {
      await right.close();
    }
  });

  it('every server failing the check fails the connect naming each; a down server in between does not; nor does one bad member', async () => {
    const [a, b] = await Promise.all([fake(other), fake(other)]);
    const tls = tlsOptionsOf(server);
    const both = `${a.connectString},${b.connectString}`;
    const all = await connectOutcome(both, tls);
    expect(all.err).toBeInstanceOf(TlsError);
    const err = all.err as TlsError;
    expect(err.server.split(',').sort()).toEqual([a.connectString, b.connectString].sort());
    expect(err.tlsCode).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    for (const s of [a, b]) expect(err.message).toContain(`${s.connectString}: UNABLE_TO_VERIFY_LEAF_SIGNATURE`);

    // A refused server between the TLS failures: maybe a server that is down, so wait it out.
    const downPort = await freePort();
    const waited = await connectOutcome(`${a.connectString},127.0.0.1:${downPort}`, tls, 3000);
    expect(waited.err).toBeInstanceOf(ConnectTimeoutError);
    expect(a.connections()).toBeGreaterThanOrEqual(3);

    // One bad member and one down at first: once the good one is up, the session connects there.
    const seen = b.connections();
    const pending = ZkSession.connect(`${b.connectString},127.0.0.1:${downPort}`, { tls, connectTimeoutMs: 60_000 });
    await waitUntil(() => b.connections() >= seen + 2, 'two failed checks at the bad member', 20_000);
    const fwd = await countingForwarder(server.tls!.port, downPort);
    try {
      const session = await pending;
      expect(session.state).toBe('connected');
      expect(await session.exists('/')).not.toBeNull();
      await session.close();
    } finally {
      await fwd.close();
    }
    expect([a.bytes().length, b.bytes().length]).toEqual([0, 0]);
  });

  it('an established session whose reconnects fail the check keeps retrying, and is back when the certificate is right again', async () => {
    const f = await fake(other);
    const fwd = await countingForwarder(server.tls!.port);
    const session = await ZkSession.connect(`127.0.0.1:${fwd.port}`, { tls: tlsOptionsOf(server), sessionTimeoutMs: 30_000, connectTimeoutMs: 30_000 });
    try {
      const sessionId = session.sessionId;
      const path = uniquePath('tls-rotate');
      await session.create(path, 'before');
      // The server behind the address now shows a certificate the client does not trust.
      fwd.retarget(Number(f.connectString.split(':')[1]));
      const suspended = nextEvent(session, 'suspended');
      fwd.dropConnections();
      await suspended;
      await waitUntil(() => f.connections() >= 3, 'three reconnect attempts failing the check', 30_000);
      expect(session.state).toBe('suspended');
      expect(f.bytes().length).toBe(0);
      // The right certificate again: the same session comes back.
      const reconnected = nextEvent<[{ sessionId: string; newSession: boolean }]>(session, 'reconnected', 30_000);
      fwd.retarget(server.tls!.port);
      const [info] = await reconnected;
      expect(info).toEqual({ sessionId, newSession: false });
      expect((await session.get(path)).data.toString()).toBe('before');
    } finally {
      await session.close();
      await fwd.close();
    }
  });
});

describe('startLocalEnsemble(3, { tls: true })', () => {
  let ensemble: LocalZooKeeperEnsemble;
  beforeAll(async () => {
    ensemble = await startLocalEnsemble(3, { tls: true });
  });
  afterAll(async () => {
    await ensemble?.close();
  });

  /** The certificate member `port` presents, checked with the ensemble's CA against 127.0.0.1 (no servername). */
  const peerCertificate = (port: number) =>
    new Promise<PeerCertificate>((resolve, reject) => {
      const t = ensemble.tls!;
      const sock = tlsConnect({ host: '127.0.0.1', port, ca: t.ca, cert: t.cert, key: t.key });
      sock.once('secureConnect', () => {
        resolve(sock.getPeerCertificate());
        sock.destroy();
      });
      sock.once('error', reject);
    });

  it('one CA, a certificate per member for localhost/127.0.0.1; a TLS session survives the kill of its server, same session, lock held', async () => {
    const t = ensemble.tls!;
    expect(t.ports).toHaveLength(3);
    expect(t.connectString).toBe(t.ports.map((p) => `127.0.0.1:${p}`).join(','));
    expect(ensemble.servers.map((s) => s.tls?.port)).toEqual(t.ports);
    const certs = await Promise.all(t.ports.map(peerCertificate));
    expect(new Set(certs.map((c) => c.fingerprint256)).size).toBe(3);
    for (const c of certs) expect(c.subjectaltname).toBe('DNS:localhost, IP Address:127.0.0.1');

    // No servername: each member's certificate is checked against the address, 127.0.0.1.
    const tls = { ca: t.ca, cert: t.cert, key: t.key };
    // A long session timeout: losing the leader costs an election, and the session must outlive it.
    const session = await ZkSession.connect(t.connectString, { tls, sessionTimeoutMs: 30_000, connectTimeoutMs: 30_000 });
    const other = await ZkSession.connect(t.connectString, { tls, connectTimeoutMs: 30_000 });
    try {
      const sessionId = session.sessionId;
      const path = uniquePath('tls-ensemble-lock');
      const lease = await new Lock(session, path).acquire({ timeoutMs: 10_000 });
      const first = await ensemble.serverOf(sessionId); // asked on the TLS ports
      expect(first).toBeGreaterThanOrEqual(0);
      const plainCons = await fourLetterWord('127.0.0.1', ensemble.servers[first]!.port, 'cons');
      expect(plainCons).not.toContain(`sid=0x${sessionId}`); // not a plain connection

      const reconnected = nextEvent<[{ sessionId: string; newSession: boolean }]>(session, 'reconnected', 60_000);
      await ensemble.kill(first);
      expect((await reconnected)[0]).toEqual({ sessionId, newSession: false });
      const second = await waitUntil(
        async () => {
          const i = await ensemble.serverOf(sessionId);
          return i >= 0 ? { i } : undefined;
        },
        'the session on a TLS port of another member',
        60_000,
      );
      expect(second!.i).not.toBe(first);

      // The lock node is still ours and still first: the other session cannot take the lock.
      const stat = await other.exists(lease.path);
      expect(stat?.ephemeralOwner).toBe(sessionId);
      expect(await new Lock(other, path).tryAcquire()).toBeNull();
      // (The lease itself says "may be lost": every lease is presumed lost on `suspended`.)
      expect(lease.isLost).toBe(true);
      await lease.release();
      const taken = await new Lock(other, path).tryAcquire();
      expect(taken).not.toBeNull();
      await taken!.release();

      // restart() returns once the member's TLS port listens again, with the same certificate.
      await ensemble.restart(first);
      expect((await peerCertificate(t.ports[first]!)).fingerprint256).toBe(certs[first]!.fingerprint256);
    } finally {
      await Promise.all([session.close(), other.close()]);
    }
  }, 120_000);
});
