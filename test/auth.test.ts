// Authentication failures as ZooKeeper 3.8 has them, typed and without a retry storm.
//
// A wrong digest password is not refused at connect: the server accepts any `user:password`
// (DigestAuthenticationProvider hashes it into the session's identity, `digest:user:<hash>`), so
// the session connects as another identity, and each operation on a node whose ACL names the
// right one gets NO_AUTH: one request, one refusal, never retried. What the server does refuse —
// a scheme it has no provider for (`nosuchscheme`, or `sasl` on a server without SASL) — fails
// ZkSession.connect with AuthFailedError (AUTH_FAILED) at once, after a single connection.
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { describe, expect, it } from 'vitest';
import { ZkClient, type ClientState } from '../src/client/client.js';
import { Acls, AuthFailedError, NoAuthError, ZkSession, type SessionOptions } from '../src/index.js';
import { fourLetterWord, tlsFourLetterWord } from '../src/testing/index.js';
import { countingForwarder, nextEvent, uniquePath, useServer } from './helpers.js';

const zk = useServer();
const ALICE = { scheme: 'digest', credentials: 'alice:the-right-one' };

/** `recved=` of the session's connection in `cons` (both ports asked when there is a TLS one): requests the server read from it. */
async function received(sessionId: string): Promise<number> {
  const server = zk.server;
  const words = await Promise.all([fourLetterWord('127.0.0.1', server.port, 'cons'), ...(server.tls ? [tlsFourLetterWord(server.tls, 'cons')] : [])]);
  const line = words
    .join('\n')
    .split('\n')
    .find((l) => l.includes(`sid=0x${sessionId}`));
  const m = line ? /recved=(\d+)/.exec(line) : null;
  if (!m) throw new Error(`session 0x${sessionId} not in cons:\n${words.join('\n')}`);
  return Number(m[1]);
}

/** Counts the requests our clients send for paths under `base` (the client's request diagnostics channel). */
function countRequests(base: string): { readonly count: number; stop(): void } {
  const counter = { count: 0, stop: () => unsubscribe('zk-recipes:client:request', onRequest) };
  const onRequest = (m: unknown) => {
    if ((m as { path?: string }).path?.startsWith(`${base}/`)) counter.count++;
  };
  subscribe('zk-recipes:client:request', onRequest);
  return counter;
}

describe('a wrong digest password', () => {
  it('connects as another identity and gets NoAuthError on creator-only nodes, one request per call, no retry', async () => {
    const alice = await zk.connect({ auth: ALICE });
    // A creator-only parent too: deleting a node needs DELETE on its parent.
    const base = uniquePath('auth-wrong-pw');
    await alice.create(base, '', { acl: Acls.CREATOR_ALL });
    const path = `${base}/secret`;
    await alice.create(path, 'secret', { acl: Acls.CREATOR_ALL });
    // A long session timeout: no ping goes out while the requests are counted.
    const mallory = await zk.connect({ auth: { scheme: 'digest', credentials: 'alice:wrong' }, sessionTimeoutMs: 60_000 });
    expect(mallory.state).toBe('connected'); // the server took the credentials
    expect(await mallory.whoAmI()).toContainEqual({ scheme: 'digest', user: 'alice' });

    const before = await received(mallory.sessionId);
    const sent = countRequests(base);
    const calls = [
      mallory.get(path),
      mallory.set(path, 'x'),
      mallory.getChildren(path),
      mallory.getAcl(path),
      mallory.delete(path),
      mallory.create(`${path}/x`, 'x'),
    ];
    try {
      const errors = await Promise.all(
        calls.map((c) =>
          c.then(
            () => undefined,
            (e: unknown) => e,
          ),
        ),
      );
      for (const err of errors) {
        expect(err).toBeInstanceOf(NoAuthError);
        expect((err as NoAuthError).code).toBe('NO_AUTH');
      }
      expect(sent.count).toBe(calls.length); // one request per call: none retried
    } finally {
      sent.stop();
    }
    // The server read exactly those requests; one more round trip shows nothing else followed.
    expect(await received(mallory.sessionId)).toBe(before + calls.length);
    await mallory.exists('/');
    expect(await received(mallory.sessionId)).toBe(before + calls.length + 1);
    expect((await alice.get(path)).data.toString()).toBe('secret');
    await alice.delete(base, { recursive: true });
  });
});

describe('credentials the server refuses', () => {
  it('an unknown scheme, or sasl without SASL: AuthFailedError from connect at once, after one connection', async () => {
    const fwd = await countingForwarder(zk.server.port);
    try {
      const attempts: Array<SessionOptions['auth']> = [
        { scheme: 'nosuchscheme', credentials: 'x:y' },
        { scheme: 'sasl', credentials: 'x:y' },
        [ALICE, { scheme: 'nosuchscheme', credentials: 'x:y' }], // one good credential does not save it
      ];
      for (const auth of attempts) {
        const before = fwd.accepted();
        const started = Date.now();
        const err = await ZkSession.connect(`127.0.0.1:${fwd.port}`, { auth, connectTimeoutMs: 30_000 }).then(
          async (s) => {
            await s.close();
            return undefined;
          },
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(AuthFailedError);
        expect((err as AuthFailedError).code).toBe('AUTH_FAILED');
        expect(Date.now() - started).toBeLessThan(10_000);
        expect({ auth, connections: fwd.accepted() - before }).toEqual({ auth, connections: 1 });
      }
      // No attempt followed: a good session through the same forwarder is the only next connection.
      const before = fwd.accepted();
      const good = await ZkSession.connect(`127.0.0.1:${fwd.port}`, { connectTimeoutMs: 30_000 });
      await good.exists('/');
      await good.close();
      expect(fwd.accepted()).toBe(before + 1);
    } finally {
      await fwd.close();
    }
  });

  it('the client: authFailed is terminal (one connection, calls fail with AuthFailedError)', async () => {
    const fwd = await countingForwarder(zk.server.port);
    const client = new ZkClient(`127.0.0.1:${fwd.port}`, { auth: [{ scheme: 'nosuchscheme', credentials: 'x:y' }] });
    const states: ClientState[] = [];
    client.on('state', (s) => states.push(s));
    try {
      const failed = nextEvent(client, 'authFailed');
      client.start();
      await failed;
      expect(client.state).toBe('authFailed');
      await expect(client.getData('/')).rejects.toBeInstanceOf(AuthFailedError);
      // Another client through the forwarder connects and answers: by then, still one connection of ours.
      const probe = new ZkClient(`127.0.0.1:${fwd.port}`).start();
      await nextEvent(probe, 'connected');
      await probe.exists('/');
      await probe.close();
      expect(fwd.accepted()).toBe(2);
      expect(states).toEqual(['authFailed']);
    } finally {
      await client.close();
      await fwd.close();
    }
  });
});
