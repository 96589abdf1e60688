// The test kit's partition proxy against a real server: a session behind it sees a silent server
// (suspended, then lost past its timeout) while a session connected directly goes on. Its finer
// faults (freeze, delay, each corruption mode, one-shot and continuous) are tested against a plain
// TCP server, no ZooKeeper needed.
import { EventEmitter } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
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
    await waitUntil(async () => (await direct.exists(path)) === null, "the partitioned session's ephemeral node to vanish", 20_000);
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

/** Records what a socket receives; waits on its events (never polls, never sleeps). */
class Recorder extends EventEmitter {
  data = Buffer.alloc(0);
  ended = false;
  constructor(readonly socket: Socket) {
    super();
    socket.on('data', (d: Buffer) => {
      this.data = Buffer.concat([this.data, d]);
      this.emit('change');
    });
    socket.on('end', () => {
      this.ended = true;
      this.emit('change');
    });
    socket.on('close', () => this.emit('change'));
    socket.on('error', () => undefined);
  }
  /** Resolves once `check()` holds; fails after `timeoutMs` naming `what`. */
  until(check: (r: this) => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const onChange = () => {
        if (!check(this)) return;
        clearTimeout(t);
        this.off('change', onChange);
        resolve();
      };
      const t = setTimeout(() => {
        this.off('change', onChange);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what} (have ${this.data.length} bytes, ended ${this.ended})`));
      }, timeoutMs);
      this.on('change', onChange);
      onChange();
    });
  }
  bytes(n: number): Promise<void> {
    return this.until((r) => r.data.length >= n, `${n} bytes`);
  }
}

/** A plain TCP server on 127.0.0.1 recording each connection, optionally echoing what it gets. */
async function startTarget(echo: boolean): Promise<{ port: number; conn(i: number): Promise<Recorder> }> {
  const conns: Recorder[] = [];
  const events = new EventEmitter();
  const server = createServer({ allowHalfOpen: true }, (s) => {
    const r = new Recorder(s);
    if (echo)
      s.on('data', (d: Buffer) => {
        if (!s.writableEnded) s.write(d);
      });
    conns.push(r);
    events.emit('conn');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup.push(async () => {
    for (const r of conns) r.socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  return {
    port: (server.address() as { port: number }).port,
    conn: (i) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const r = conns[i];
          if (!r) return;
          clearTimeout(t);
          events.off('conn', check);
          resolve(r);
        };
        const t = setTimeout(() => {
          events.off('conn', check);
          reject(new Error(`no connection #${i} at the target`));
        }, 10_000);
        events.on('conn', check);
        check();
      }),
  };
}

async function dial(port: number): Promise<Recorder> {
  const s = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
  const r = new Recorder(s);
  cleanup.push(async () => {
    s.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    s.once('connect', resolve);
    s.once('error', reject);
  });
  return r;
}

/** A proxy in front of a target, with one client connection through it and its far end. */
async function rig(echo = false) {
  const target = await startTarget(echo);
  const proxy = await startProxy([{ host: '127.0.0.1', port: target.port }]);
  cleanup.push(() => proxy.close());
  const client = await dial(proxy.port);
  const server = await target.conn(0);
  return { target, proxy, client, server };
}

const directions = ['toServer', 'toClient'] as const;

/** A length-prefixed frame, as ZooKeeper sends them. */
function frameOf(payload: string): Buffer {
  const b = Buffer.from(payload);
  const len = Buffer.alloc(4);
  len.writeInt32BE(b.length);
  return Buffer.concat([len, b]);
}

describe('startProxy faults', () => {
  it('freeze() holds current connections both ways while new ones pass; thaw() delivers in order', async () => {
    const { target, proxy, client, server } = await rig();
    proxy.freeze();
    client.socket.write('c1');
    server.socket.write('s1');

    // A connection made while frozen passes both ways; by then the frozen one has moved nothing.
    const fresh = await dial(proxy.port);
    const freshFar = await target.conn(1);
    fresh.socket.write('hello');
    await freshFar.until((r) => r.data.toString() === 'hello', 'hello through the new connection');
    freshFar.socket.write('world');
    await fresh.until((r) => r.data.toString() === 'world', 'world through the new connection');
    client.socket.write('c2');
    server.socket.write('s2');
    fresh.socket.write('again');
    await freshFar.until((r) => r.data.toString() === 'helloagain', 'a second chunk through the new connection');
    expect(server.data.length).toBe(0);
    expect(client.data.length).toBe(0);
    expect(proxy.connections).toBe(2);

    proxy.thaw();
    await server.until((r) => r.data.length >= 4, 'the held client bytes');
    await client.until((r) => r.data.length >= 4, 'the held server bytes');
    expect(server.data.toString()).toBe('c1c2');
    expect(client.data.toString()).toBe('s1s2');
    // And forwarding goes on.
    client.socket.write('c3');
    await server.until((r) => r.data.toString() === 'c1c2c3', 'c3 after thaw');
  });

  it('thaw() during a partition keeps holding until heal()', async () => {
    const { proxy, client, server } = await rig();
    proxy.freeze();
    proxy.partition();
    client.socket.write('x');
    proxy.thaw();
    proxy.heal();
    await server.until((r) => r.data.toString() === 'x', 'x after heal');
  });

  it('delay(ms) adds one-way latency both ways (lower bound only); 0 turns it off', async () => {
    const { proxy, client } = await rig(true);
    const ms = 200;
    proxy.delay(ms);
    const t0 = performance.now();
    client.socket.write('a');
    await client.bytes(1);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(2 * ms); // there and back
    const t1 = performance.now();
    for (const c of 'bcdefg') client.socket.write(c);
    await client.bytes(7);
    expect(performance.now() - t1).toBeGreaterThanOrEqual(2 * ms);
    expect(client.data.toString()).toBe('abcdefg');
    proxy.delay(0);
    client.socket.write('h');
    await client.until((r) => r.data.toString() === 'abcdefgh', 'h with the delay off');
    expect(() => proxy.delay(-1)).toThrow(RangeError);
    expect(() => proxy.delay(Number.NaN)).toThrow(RangeError);
  });

  it('delay() keeps the byte order when lowered while a chunk is in flight', async () => {
    const { target, proxy, client, server } = await rig(true);
    proxy.delay(300);
    const t0 = performance.now();
    client.socket.write('a');
    await server.until((r) => r.data.toString() === 'a', 'a at the target');
    // The echo of 'a' is written; a round trip on another socket to the target makes sure the
    // proxy has read it (and queued it under the 300 ms delay) before the delay is lowered.
    const probe = await dial(target.port);
    probe.socket.write('probe');
    await probe.bytes(5);
    proxy.delay(0);
    client.socket.write('b'); // undelayed both ways: would overtake 'a' if order were not kept
    await client.bytes(2);
    expect(client.data.toString()).toBe('ab');
    expect(performance.now() - t0).toBeGreaterThanOrEqual(300);
  });

  it('delay(ms) also delays the close after the bytes', async () => {
    const { proxy, client, server } = await rig();
    proxy.delay(100);
    server.socket.end('bye');
    await client.until((r) => r.ended, 'the delayed FIN');
    expect(client.data.toString()).toBe('bye');
  });

  it.each(directions)('corruptNext(%s, garbage) keeps the length, changes the bytes, then forwards normally', async (dir) => {
    const { proxy, client, server } = await rig();
    const [from, to] = dir === 'toServer' ? [client, server] : [server, client];
    const chunk = Buffer.alloc(64, 0x41);
    proxy.corruptNext(dir, 'garbage');
    from.socket.write(chunk);
    await to.bytes(64);
    expect(to.data.length).toBe(64);
    expect(to.data.equals(chunk)).toBe(false);
    from.socket.write('next');
    await to.bytes(68);
    expect(to.data.subarray(64).toString()).toBe('next');
    expect(to.ended).toBe(false);
  });

  it.each(directions)('corruptNext(%s, truncate) delivers the first half, then ends the destination', async (dir) => {
    const { proxy, client, server } = await rig();
    const [from, to] = dir === 'toServer' ? [client, server] : [server, client];
    const chunk = Buffer.from('0123456789abcdefghij');
    proxy.corruptNext(dir, 'truncate');
    from.socket.write(chunk);
    await to.until((r) => r.ended, 'FIN after the truncated chunk');
    expect(to.data.toString()).toBe('0123456789');
  });

  it.each(directions)('corruptNext(%s, oversize) prefixes 0x7fffffff, then forwards normally', async (dir) => {
    const { proxy, client, server } = await rig();
    const [from, to] = dir === 'toServer' ? [client, server] : [server, client];
    const chunk = Buffer.from('payload');
    proxy.corruptNext(dir, 'oversize');
    from.socket.write(chunk);
    await to.bytes(4 + chunk.length);
    expect(to.data.readUInt32BE(0)).toBe(0x7fffffff);
    expect(to.data.subarray(4).equals(chunk)).toBe(true);
    from.socket.write('next');
    await to.bytes(4 + chunk.length + 4);
    expect(to.data.subarray(4 + chunk.length).toString()).toBe('next');
  });

  it.each(directions)('corruptNext(%s, duplicate) sends the whole frames of the chunk twice, never a frame cut into another', async (dir) => {
    const { proxy, client, server } = await rig();
    const [from, to] = dir === 'toServer' ? [client, server] : [server, client];
    const [a, b, c] = [frameOf('first'), frameOf('second'), frameOf('third, sent in two chunks')];
    proxy.corruptNext(dir, 'duplicate');
    // Two whole frames and the head of a third: the whole ones come twice, before the third's head.
    from.socket.write(Buffer.concat([a, b, c.subarray(0, 7)]));
    const replayed = Buffer.concat([a, b, a, b, c.subarray(0, 7)]);
    await to.bytes(replayed.length);
    expect(to.data.equals(replayed)).toBe(true);
    from.socket.write(c.subarray(7));
    await to.bytes(replayed.length + c.length - 7);
    expect(to.data.equals(Buffer.concat([a, b, a, b, c]))).toBe(true);
    expect(proxy.corruptions.duplicate).toBe(1);
  });

  it('corruptNext(duplicate) waits for a chunk that holds a whole frame', async () => {
    const { proxy, client, server } = await rig();
    const f = frameOf('a frame cut in two chunks');
    proxy.corruptNext('toClient', 'duplicate');
    server.socket.write(f.subarray(0, 10)); // no whole frame in it: forwarded as it is
    await client.bytes(10);
    server.socket.write(f.subarray(10)); // the rest: the frame ends here, but did not begin here
    await client.bytes(f.length);
    expect(proxy.corruptions.duplicate).toBe(0);
    const g = frameOf('next');
    server.socket.write(g);
    await client.bytes(f.length + 2 * g.length);
    expect(client.data.equals(Buffer.concat([f, g, g]))).toBe(true);
    expect(proxy.corruptions.duplicate).toBe(1);
  });

  it.each(directions)('corruptNext(%s, split) drips the chunk out 1-3 bytes at a time; later bytes and the FIN wait behind it', async (dir) => {
    const { proxy, client, server } = await rig();
    const [from, to] = dir === 'toServer' ? [client, server] : [server, client];
    let reads = 0;
    to.socket.on('data', () => reads++);
    const big = Buffer.from(Array.from({ length: 3000 }, (_, i) => i % 251));
    proxy.corruptNext(dir, 'split');
    from.socket.write(big);
    await to.bytes(1); // the drip has begun: what is written now reaches the proxy while it goes on
    from.socket.end('after');
    await to.until((r) => r.ended, 'the FIN after the dripped bytes');
    expect(to.data.equals(Buffer.concat([big, Buffer.from('after')]))).toBe(true);
    // Pieces of at most 3 bytes, a setImmediate apart: the reader saw many small reads.
    expect(reads).toBeGreaterThan(50);
    expect(proxy.corruptions.split).toBe(1);
  });

  it.each(directions)('corruptNext(%s, flip) flips exactly one bit of one byte, then forwards normally', async (dir) => {
    const { proxy, client, server } = await rig();
    const [from, to] = dir === 'toServer' ? [client, server] : [server, client];
    const chunk = Buffer.alloc(64, 0x41);
    proxy.corruptNext(dir, 'flip');
    from.socket.write(chunk);
    await to.bytes(64);
    const diffs = [...to.data].map((b, i) => b ^ chunk[i]!).filter((x) => x !== 0);
    expect(diffs).toHaveLength(1);
    expect([1, 2, 4, 8, 16, 32, 64, 128]).toContain(diffs[0]);
    from.socket.write('next');
    await to.bytes(68);
    expect(to.data.subarray(64).toString()).toBe('next');
  });

  it('corruptEvery() mangles every chunk at probability 1 (a pending corruptNext first), none at 0; the counts say what was done', async () => {
    const { proxy, client, server } = await rig();
    let draws = 0;
    const random = () => {
      draws++;
      return 0.5;
    };
    proxy.corruptNext('toClient', 'oversize');
    proxy.corruptEvery('toClient', ['flip'], 1, random);
    const chunk = Buffer.alloc(32, 0x55);
    let want = 0;
    for (let i = 0; i < 5; i++) {
      server.socket.write(chunk);
      want += i === 0 ? 36 : 32;
      await client.bytes(want); // one chunk at a time through the proxy
    }
    expect(client.data.readUInt32BE(0)).toBe(0x7fffffff);
    expect(client.data.subarray(4, 36).equals(chunk)).toBe(true); // the pending corruptNext, alone
    for (let i = 0; i < 4; i++) {
      const got = client.data.subarray(36 + 32 * i, 68 + 32 * i);
      expect([...got].filter((b, j) => b !== chunk[j]).length, `chunk ${i + 1}`).toBe(1);
    }
    expect(draws).toBeGreaterThan(0); // the given random drew the faults
    expect(proxy.corruptions).toMatchObject({ oversize: 1, flip: 4, garbage: 0 });
    proxy.corruptEvery('toClient', 'flip', 0);
    server.socket.write(chunk);
    await client.bytes(want + 32);
    expect(client.data.subarray(want).equals(chunk)).toBe(true);
    expect(proxy.corruptions.flip).toBe(4);
    // Nothing toward the server meanwhile.
    client.socket.write('up');
    await server.until((r) => r.data.toString() === 'up', 'the untouched client bytes');
  });

  it('corruption modes and probabilities are checked', async () => {
    const proxy = await startProxy('127.0.0.1:1');
    cleanup.push(() => proxy.close());
    expect(() => proxy.corruptNext('toClient', 'bogus' as never)).toThrow(RangeError);
    expect(() => proxy.corruptEvery('toClient', 'garbage', 1.5)).toThrow(RangeError);
    expect(() => proxy.corruptEvery('toClient', 'garbage', Number.NaN)).toThrow(RangeError);
    expect(() => proxy.corruptEvery('toClient', [], 0.5)).toThrow(RangeError);
    expect(() => proxy.corruptEvery('toServer', ['split', 'nope' as never], 0.5)).toThrow(/unknown corruption "nope"/);
  });

  it('corruptNext() affects only its direction', async () => {
    const { proxy, client, server } = await rig();
    proxy.corruptNext('toClient', 'oversize');
    client.socket.write('up');
    await server.until((r) => r.data.toString() === 'up', 'the untouched client bytes');
    server.socket.write('down');
    await client.bytes(8);
    expect(client.data.readUInt32BE(0)).toBe(0x7fffffff);
    expect(client.data.subarray(4).toString()).toBe('down');
  });
});
