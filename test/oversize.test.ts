// Requests and replies over the size limits, on both sides of the wire, against a real server whose
// jute.maxbuffer is set low (64 KB): a request over the client's maxFrameBytes is refused before
// anything is written; one under it but over the server's limit makes the server close the
// connection, and is sent once more only, then fails with a typed error naming the probable cause;
// a reply over the client's maxFrameBytes drops that connection once and fails its request with a
// typed error that the session does not retry. Each time the session stays usable (same session),
// the other requests in flight succeed, and nothing escapes to the process.
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectionLossError, InvalidArgumentError, ProtocolError, ZkSession, type SessionOptions } from '../src/index.js';
import { ZkClient } from '../src/client/client.js';
import { LARGE_REQUEST_BYTES } from '../src/client/dispatch.js';
import { DEFAULT_MAX_FRAME_BYTES, FrameTooLargeError } from '../src/client/framing.js';
import { NO_SERVER_MESSAGE, findLocalInstall, startLocalServer, type ZooKeeperServer } from '../src/testing/index.js';
import { nextEvent, uniquePath, useNoEscapes, waitUntil } from './helpers.js';

/** The server's jute.maxbuffer in these tests. */
const SERVER_MAX = 64 * 1024;

let server: ZooKeeperServer;
beforeAll(async () => {
  if (!findLocalInstall()) throw new Error(`oversize.test.ts starts a server with -Djute.maxbuffer, which needs a local install\n${NO_SERVER_MESSAGE}`);
  server = await startLocalServer({ jvmFlags: [`-Djute.maxbuffer=${SERVER_MAX}`] });
});
afterAll(async () => {
  await server?.close();
});

const { closers } = useNoEscapes();

async function connect(opts: SessionOptions = {}): Promise<ZkSession> {
  const s = await ZkSession.connect(server.connectString, { sessionTimeoutMs: 8000, ...opts });
  closers.push(() => s.close());
  return s;
}

/** The session's state changes, in order. */
function states(s: ZkSession): string[] {
  const log: string[] = [];
  s.on('state', (st) => log.push(st));
  return log;
}

/** Counts the requests the client writes for `path` (the client's diagnostics channel). */
function countSends(path: string): () => number {
  let n = 0;
  const onRequest = (m: unknown) => {
    if ((m as { path?: string }).path === path) n++;
  };
  subscribe('zk-recipes:client:request', onRequest);
  closers.push(async () => unsubscribe('zk-recipes:client:request', onRequest));
  return () => n;
}

async function failure(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => undefined,
    (e: unknown) => e,
  );
}

describe('a request over the client maxFrameBytes', () => {
  it('is refused before anything is written, with a typed error naming its size; the session stays connected', async () => {
    const s = await connect();
    const log = states(s);
    const path = uniquePath('too-big');
    const sent = countSends(path);
    // Data over ZooKeeper's limit: the session refuses it before building a request.
    const data = await failure(s.create(path, Buffer.alloc(2 * 1024 * 1024, 1)));
    expect(data).toBeInstanceOf(InvalidArgumentError);
    expect((data as Error).message).toBe(`create ${path}: data is 2097152 bytes, over ZooKeeper's limit of 1047552`);
    // Each part under that limit, the whole request over maxFrameBytes: the client refuses to send it.
    const part = Buffer.alloc(700 * 1024, 1);
    const multi = await failure(
      s.multi([
        { op: 'create', path, data: part },
        { op: 'create', path: `${path}-2`, data: part },
      ]),
    );
    expect(multi).toBeInstanceOf(InvalidArgumentError);
    expect((multi as Error).message).toMatch(new RegExp(`^multi: request of 14\\d{5} bytes is over maxFrameBytes \\(${DEFAULT_MAX_FRAME_BYTES}\\)$`));
    // A session with a smaller limit: the same below it.
    const small = await connect({ maxFrameBytes: 64 * 1024 });
    const smallLog = states(small);
    const set = await failure(small.create(path, Buffer.alloc(100 * 1024, 1)));
    expect(set).toBeInstanceOf(InvalidArgumentError);
    expect((set as Error).message).toMatch(new RegExp(`^create ${path}: request of 10\\d{4} bytes is over maxFrameBytes \\(65536\\)$`));
    expect(sent()).toBe(0);
    expect(await s.exists(path)).toBeNull();
    expect(await small.exists(`${path}-2`)).toBeNull();
    expect(log).toEqual([]);
    expect(smallLog).toEqual([]);
    expect([s.state, small.state]).toEqual(['connected', 'connected']);
  });
});

describe("a request over the server's jute.maxbuffer", () => {
  it('the server closes the connection: sent twice in all, then a typed error naming the probable cause; same session', async () => {
    const s = await connect();
    const id = s.sessionId;
    const log = states(s);
    const path = uniquePath('over-server');
    const sent = countSends(path);
    const big = s.create(path, Buffer.alloc(SERVER_MAX + 36 * 1024, 2));
    const side = s.exists('/'); // in flight behind it: retried by the session, it succeeds
    const err = await failure(big);
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect((err as Error).message).toMatch(
      new RegExp(
        `^create ${path}: the server closed the connection each time this request of 10\\d{4} bytes was sent \\(twice\\): probably over the server's jute\\.maxbuffer`,
      ),
    );
    expect(sent()).toBe(2); // the first attempt and one retry, never a loop
    expect(await side).not.toBeNull();
    await waitUntil(() => s.state === 'connected', 'the session to be connected again');
    expect(log).toEqual(['suspended', 'connected', 'suspended', 'connected']);
    expect(s.sessionId).toBe(id);
    expect(await s.exists(path)).toBeNull();
    // Usable: a request just under the server's limit goes through.
    await s.create(path, Buffer.alloc(SERVER_MAX - 1024, 3));
    expect((await s.get(path)).data.length).toBe(SERVER_MAX - 1024);
    expect(s.sessionId).toBe(id);
  });

  it('on the client itself: the first loss is a ConnectionLossError naming the probable cause, the second a typed error; smaller requests keep their retries', async () => {
    const c = new ZkClient(server.connectString, { sessionTimeoutMs: 8000, followConfig: false });
    closers.push(() => c.close());
    const up = nextEvent(c, 'connected', 20_000);
    c.start();
    await up;
    const open = [{ perms: 31, scheme: 'world', id: 'anyone' }];
    const path = uniquePath('over-server-client');
    const data = Buffer.alloc(SERVER_MAX + 8 * 1024, 4);
    expect(data.length).toBeGreaterThan(LARGE_REQUEST_BYTES);
    let again = nextEvent(c, 'connected', 20_000);
    const first = await failure(c.create(path, data, { acl: open, flags: 0 }));
    expect(first).toBeInstanceOf(ConnectionLossError);
    expect((first as Error).message).toMatch(
      /connection lost \(.*\); a request of \d+ bytes was in flight: a server closes the connection of a request over its jute\.maxbuffer/,
    );
    await again;
    again = nextEvent(c, 'connected', 20_000);
    const second = await failure(c.create(path, data, { acl: open, flags: 0 }));
    expect(second).toBeInstanceOf(InvalidArgumentError);
    await again;
    // A different request (another size) starts afresh: its first loss is retryable again.
    const third = await failure(c.create(path, Buffer.alloc(data.length + 1, 4), { acl: open, flags: 0 }));
    expect(third).toBeInstanceOf(ConnectionLossError);
  });
});

describe('a reply over the client maxFrameBytes', () => {
  it('drops that connection once and fails its request with a typed error the session does not retry; the session stays usable', async () => {
    const writer = await connect();
    const parent = uniquePath('wide');
    await writer.create(parent, '');
    const name = 'n'.repeat(200);
    const children = 600; // ~125 KB of names in one getChildren reply
    for (let i = 0; i < children; i += 100) {
      await writer.multi(Array.from({ length: 100 }, (_, k) => ({ op: 'create' as const, path: `${parent}/${name}-${i + k}`, data: '' })));
    }
    const other = uniquePath('small');
    await writer.create(other, 'small');

    const s = await connect({ maxFrameBytes: 64 * 1024 });
    const id = s.sessionId;
    const log = states(s);
    const sent = countSends(parent);
    const reconnected = nextEvent<[{ sessionId: string; newSession: boolean }]>(s, 'reconnected', 20_000);
    const listing = s.getChildren(parent);
    const side = s.get(other); // in flight behind it: retried on the new connection
    const err = await failure(listing);
    expect(err).toBeInstanceOf(ProtocolError);
    expect((err as Error).message).toMatch(
      new RegExp(
        `^getChildren ${parent}: the reply of 1\\d{5} bytes is over maxFrameBytes \\(65536\\); the connection was dropped, and the request is not sent again`,
      ),
    );
    expect((err as Error).cause).toBeInstanceOf(FrameTooLargeError);
    expect(((err as Error).cause as FrameTooLargeError).length).toBeGreaterThan(children * name.length);
    expect((await side).data.toString()).toBe('small');
    const [info] = await reconnected;
    expect(info).toEqual({ sessionId: id, newSession: false });
    expect(sent()).toBe(1); // not retried
    expect(log).toEqual(['suspended', 'connected']);
    // Usable: smaller reads of the same node, and other nodes.
    expect((await s.exists(parent))?.numChildren).toBe(children);
    expect(await s.getChildren(other)).toEqual([]);
    expect(s.sessionId).toBe(id);
    expect(sent()).toBe(2); // the exists
  });
});
