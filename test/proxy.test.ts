// The test kit's partition proxy against a real server: a session behind it sees a silent server
// (suspended, then lost past its timeout) while a session connected directly goes on.
import { afterEach, describe, expect, it } from 'vitest';
import { ZkSession } from '../src/index.js';
import { fourLetterWord } from '../src/ops/fourlw.js';
import { startProxy, type ZkProxy } from '../src/testing/proxy.js';
import { nextEvent, uniquePath, useServer, waitUntil } from './helpers.js';

const zk = useServer();
const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f().catch(() => undefined);
});

async function proxied(timeoutMs: number): Promise<{ proxy: ZkProxy; session: ZkSession }> {
  const proxy = await startProxy(zk.server.connectString);
  cleanup.push(() => proxy.close());
  const session = await ZkSession.connect(proxy.connectString, { sessionTimeoutMs: timeoutMs });
  cleanup.push(() => session.close());
  return { proxy, session };
}

describe('startProxy', () => {
  it('forwards traffic, and partition() stalls new connections until heal()', async () => {
    const proxy = await startProxy([{ host: '127.0.0.1', port: zk.server.port }]);
    cleanup.push(() => proxy.close());
    expect(await fourLetterWord('127.0.0.1', proxy.port, 'ruok', 5000)).toBe('imok');
    proxy.partition();
    expect(proxy.partitioned).toBe(true);
    await expect(fourLetterWord('127.0.0.1', proxy.port, 'ruok', 500)).rejects.toThrow(/no answer within 500 ms/);
    proxy.heal();
    expect(await fourLetterWord('127.0.0.1', proxy.port, 'ruok', 5000)).toBe('imok');
  });

  it('partition then heal within the session timeout: suspended, then reconnected with the same session', async () => {
    const { proxy, session } = await proxied(4000);
    const direct = await zk.connect();
    const path = uniquePath('proxy-eph');
    await session.create(path, 'mine', { mode: 'ephemeral' });
    const id = session.sessionId;

    const suspended = nextEvent(session, 'suspended', 15_000);
    proxy.partition();
    await suspended;
    expect(session.state).toBe('suspended');
    const reconnected = nextEvent<[{ sessionId: string; newSession: boolean }]>(session, 'reconnected', 15_000);
    proxy.heal();
    const [info] = await reconnected;
    expect(info).toEqual({ sessionId: id, newSession: false });
    expect(session.state).toBe('connected');
    // The session survived: its ephemeral node is still there for everyone.
    expect((await direct.exists(path))?.ephemeralOwner).toBe(id);
    expect((await session.get(path)).data.toString()).toBe('mine');
  });

  it('partition longer than the session timeout: the server expires the session, lost, then a new session after heal()', async () => {
    const { proxy, session } = await proxied(3000);
    const direct = await zk.connect();
    const path = uniquePath('proxy-eph');
    await session.create(path, 'doomed', { mode: 'ephemeral' });
    const oldId = session.sessionId;
    expect((await direct.exists(path))?.ephemeralOwner).toBe(oldId);

    const states: string[] = [];
    session.on('state', (s) => states.push(s));
    const lost = nextEvent<[{ sessionId: string; reason: string }]>(session, 'lost', 20_000);
    proxy.partition();
    // The rest of the cluster goes on: the direct session sees the ephemeral node vanish while
    // the proxied client hears nothing at all.
    await waitUntil(async () => (await direct.exists(path)) === null, 'the partitioned session\'s ephemeral node to vanish', 20_000);
    const [lostInfo] = await lost;
    expect(lostInfo.sessionId).toBe(oldId);
    expect(session.state).toBe('lost'); // cannot reconnect while partitioned

    const reconnected = nextEvent<[{ sessionId: string; newSession: boolean }]>(session, 'reconnected', 20_000);
    proxy.heal();
    const [info] = await reconnected;
    expect(info.newSession).toBe(true);
    expect(info.sessionId).not.toBe(oldId);
    expect(states).toEqual(['suspended', 'lost', 'connected']);
    // The new session works through the healed proxy.
    await session.create(path, 'again', { mode: 'ephemeral' });
    expect((await direct.exists(path))?.ephemeralOwner).toBe(info.sessionId);
  });

  it('dropConnections() resets the connection: suspended, then reconnected with the same session', async () => {
    const { proxy, session } = await proxied(4000);
    const id = session.sessionId;
    const suspended = nextEvent(session, 'suspended', 10_000);
    const reconnected = nextEvent<[{ sessionId: string; newSession: boolean }]>(session, 'reconnected', 15_000);
    expect(proxy.connections).toBe(1);
    proxy.dropConnections();
    await suspended;
    const [info] = await reconnected;
    expect(info).toEqual({ sessionId: id, newSession: false });
  });

  it('close() is idempotent and refuses new connections', async () => {
    const proxy = await startProxy(zk.server.connectString);
    await proxy.close();
    await proxy.close();
    await expect(fourLetterWord('127.0.0.1', proxy.port, 'ruok', 2000)).rejects.toThrow();
  });
});
