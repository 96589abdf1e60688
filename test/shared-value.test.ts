// SharedValue against a real server: read-through and seed, compare-and-set races between
// sessions, update() from concurrent writers, the cache's change events (in version order, across
// our own and others' writes, a session expiry and a dropped connection), bad input and close().
import { afterEach, describe, expect, it } from 'vitest';
import { IllegalStateError, InvalidArgumentError, MAX_DATA_BYTES, SharedValue, ZkSession, jsonCodec, stringCodec, type Codec } from '../src/index.js';
import { expireSession, startProxy } from '../src/testing/index.js';
import { nextEvent, uniquePath, useServer, waitUntil } from './helpers.js';

const zk = useServer();
const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f().catch(() => undefined);
});

/** A JSON counter `{ n }`: the shape the concurrency tests sum. */
type Count = { n: number };
const countCodec = jsonCodec as Codec<Count>;

/** Records the `change` events of `sv` as [value, version] pairs. */
function record<T>(sv: SharedValue<T>): Array<[T, number]> {
  const seen: Array<[T, number]> = [];
  sv.on('change', (value, version) => seen.push([value, version]));
  return seen;
}

describe('SharedValue: reads and writes', () => {
  it('reads a missing node as the seed at version -1 without creating it; set() creates, then overwrites', async () => {
    const path = uniquePath('sv');
    const s = await zk.connect();
    const sv = new SharedValue(s, path); // raw bytes, seed = empty
    expect(await sv.getVersioned()).toEqual({ value: Buffer.alloc(0), version: -1 });
    expect(await s.exists(path)).toBeNull();
    expect(await sv.set(Buffer.from('a'))).toBe(0);
    expect((await s.get(path)).data.toString()).toBe('a');
    expect(await sv.set(Buffer.from('bb'))).toBe(1);
    expect(await sv.getVersioned()).toEqual({ value: Buffer.from('bb'), version: 1 });
    await s.set(path, Buffer.from([0, 255])); // bytes as another client writes them
    expect(await sv.get()).toEqual(Buffer.from([0, 255]));
  });

  it('start() creates a missing node with the seed (as Curator), and never overwrites an existing one', async () => {
    const s = await zk.connect();
    const path = `${uniquePath('sv')}/deep/value`; // parents are created as containers
    await using sv = new SharedValue<Count>(s, path, { codec: countCodec, seed: { n: 5 } });
    expect(sv.value).toBeUndefined();
    await sv.start();
    const { data, stat } = await s.get(path);
    expect(data.toString()).toBe('{"n":5}');
    expect(sv.versioned).toEqual({ value: { n: 5 }, version: stat.version });
    await s.set(path, '{"n":9}');
    await using other = new SharedValue<Count>(s, path, { codec: countCodec, seed: { n: 0 } });
    await other.start();
    expect(other.value).toEqual({ n: 9 });
    expect((await s.get(path)).data.toString()).toBe('{"n":9}');
  });

  it('trySetValue: of two sessions racing on one version exactly one wins, every round', async () => {
    const path = uniquePath('sv-cas');
    const [sa, sb] = await Promise.all([zk.connect(), zk.connect()]);
    const a = new SharedValue(sa, path, { codec: stringCodec, seed: '' });
    await using b = new SharedValue(sb, path, { codec: stringCodec, seed: '' });
    await b.start(); // one side checks against its cache too (Curator's trySetValue), the other does not
    for (let round = 0; round < 20; round++) {
      const [pa, pb] = await Promise.all([a.getVersioned(), b.getVersioned()]);
      expect(pa.version).toBe(pb.version);
      const won = await Promise.all([a.trySetValue(pa, `a${round}`), b.trySetValue(pb, `b${round}`)]);
      expect(won.filter(Boolean)).toHaveLength(1);
      const after = await a.getVersioned();
      expect(after).toEqual({ value: won[0] ? `a${round}` : `b${round}`, version: pa.version + 1 });
      // The stale version never wins again.
      expect(await a.trySetValue(pa, 'stale')).toBe(false);
      expect(await b.trySetValue({ version: pa.version }, 'stale')).toBe(false);
    }
    expect((await a.getVersioned()).version).toBe(20); // b.start() created the node: version 0
  });

  it('trySetValue on a started value: fails on a stale cache, then holds the winner; its own writes advance the cache at once', async () => {
    const path = uniquePath('sv-stale');
    const [s, writer] = await Promise.all([zk.connect(), zk.connect()]);
    await using sv = new SharedValue(s, path, { codec: stringCodec, seed: 'seed' });
    await sv.start();
    const before = sv.versioned!;
    expect(before).toEqual({ value: 'seed', version: 0 });
    await writer.set(path, 'theirs');
    expect(await sv.trySetValue(before, 'mine')).toBe(false);
    expect(sv.versioned).toEqual({ value: 'theirs', version: 1 }); // Curator: getValue() then has the value that won
    // The right version with the wrong value is stale too: nothing written.
    expect(await sv.trySetValue({ value: 'not it', version: 1 }, 'mine')).toBe(false);
    expect((await writer.get(path)).stat.version).toBe(1);
    // Our own writes: no wait for the watch.
    expect(await sv.trySetValue(sv.versioned!, 'mine')).toBe(true);
    expect(sv.versioned).toEqual({ value: 'mine', version: 2 });
    expect(await sv.set('again')).toBe(3);
    expect(await sv.trySetValue(sv.versioned!, 'and again')).toBe(true);
    expect((await writer.get(path)).data.toString()).toBe('and again');
  });

  it('trySetValue with version -1 creates the node: of two racing creators exactly one wins', async () => {
    const path = uniquePath('sv-create');
    const [sa, sb] = await Promise.all([zk.connect(), zk.connect()]);
    const a = new SharedValue(sa, path, { codec: stringCodec, seed: '' });
    const b = new SharedValue(sb, path, { codec: stringCodec, seed: '' });
    const won = await Promise.all([a.trySetValue({ version: -1 }, 'a'), b.trySetValue({ version: -1 }, 'b')]);
    expect(won.filter(Boolean)).toHaveLength(1);
    expect(await a.getVersioned()).toEqual({ value: won[0] ? 'a' : 'b', version: 0 });
  });

  it('update() from 4 sessions x 25 concurrent updates applies each exactly once (a JSON counter sums to 100)', async () => {
    const path = uniquePath('sv-update');
    const sessions = await Promise.all([1, 2, 3, 4].map(() => zk.connect()));
    const results: Array<{ value: Count; version: number }> = [];
    let calls = 0;
    await Promise.all(
      sessions.map(async (s) => {
        const sv = new SharedValue<Count>(s, path, { codec: countCodec, seed: { n: 0 } });
        // Five updates in flight per session, so conflicts (and retries of fn) really happen.
        await Promise.all(
          Array.from({ length: 5 }, async () => {
            for (let i = 0; i < 5; i++)
              results.push(
                await sv.update((v) => {
                  calls++;
                  return { n: v.n + 1 };
                }),
              );
          }),
        );
      }),
    );
    const final = await new SharedValue<Count>(sessions[0]!, path, { codec: countCodec, seed: { n: 0 } }).getVersioned();
    expect(final.value).toEqual({ n: 100 });
    // Every update got its own value and version: none lost, none applied twice.
    expect(new Set(results.map((r) => r.value.n)).size).toBe(100);
    expect(new Set(results.map((r) => r.version)).size).toBe(100);
    expect(Math.max(...results.map((r) => r.value.n))).toBe(100);
    expect(final.version).toBe(99); // the first update created the node (version 0)
    expect(calls).toBeGreaterThan(100); // conflicts happened and were retried
  });

  it('update() passes fn the version it read and throws what fn throws, writing nothing', async () => {
    const path = uniquePath('sv-update-fn');
    const s = await zk.connect();
    const sv = new SharedValue<Count>(s, path, { codec: countCodec, seed: { n: 1 } });
    const seen: number[] = [];
    expect(
      await sv.update((v, version) => {
        seen.push(version);
        return { n: v.n * 10 };
      }),
    ).toEqual({ value: { n: 10 }, version: 0 });
    expect(
      await sv.update(async (v, version) => {
        seen.push(version);
        return { n: v.n + 1 };
      }),
    ).toEqual({ value: { n: 11 }, version: 1 });
    expect(seen).toEqual([-1, 0]);
    await expect(
      sv.update(() => {
        throw new Error('no thanks');
      }),
    ).rejects.toThrow('no thanks');
    expect(await sv.getVersioned()).toEqual({ value: { n: 11 }, version: 1 });
  });
});

describe('SharedValue: the cache', () => {
  it('change events arrive in version order with the values written, from our own and another session', async () => {
    const path = uniquePath('sv-events');
    const [s, writer] = await Promise.all([zk.connect(), zk.connect()]);
    await using sv = new SharedValue(s, path, { codec: stringCodec, seed: 'v-seed' });
    const seen = record(sv);
    await sv.start();
    expect(seen).toEqual([]); // the first load is start()'s result, not a change
    const theirs = new SharedValue(writer, path, { codec: stringCodec, seed: 'v-seed' });
    const written = new Map<number, string>([[0, 'v-seed']]);
    for (let i = 0; i < 40; i++) {
      const value = `v${i}`;
      const version = await (i % 3 === 0 ? sv.set(value) : theirs.set(value));
      written.set(version, value);
    }
    await waitUntil(() => sv.version === 40, 'the cache to reach version 40');
    expect(sv.value).toBe('v39');
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.at(-1)).toEqual(['v39', 40]);
    for (let i = 0; i < seen.length; i++) {
      const [value, version] = seen[i]!;
      expect(value, `event ${i}`).toBe(written.get(version));
      if (i > 0) expect(version, `event ${i} after version ${seen[i - 1]![1]}`).toBeGreaterThan(seen[i - 1]![1]);
    }
    // Our own writes each advanced the cache at once, so each of them is in the events.
    for (let i = 0; i < 40; i += 3) expect(seen.map(([v]) => v)).toContain(`v${i}`);
  });

  it('a deleted node reads as the seed at version -1; the cache follows it being created again', async () => {
    const path = uniquePath('sv-delete');
    const [s, writer] = await Promise.all([zk.connect(), zk.connect()]);
    await using sv = new SharedValue(s, path, { codec: stringCodec, seed: 'seed' });
    await sv.start();
    await writer.set(path, 'x');
    await waitUntil(() => sv.value === 'x', 'the cache to see x');
    const deleted = nextEvent<[string, number]>(sv, 'change');
    await writer.delete(path);
    expect(await deleted).toEqual(['seed', -1]);
    expect(sv.versioned).toEqual({ value: 'seed', version: -1 });
    expect(await sv.trySetValue(sv.versioned!, 'recreated')).toBe(true);
    await waitUntil(() => sv.value === 'recreated' && sv.version === 0, 'the cache to see the node again');
  });

  it("after a forced session expiry the cache converges to the server's value and follows it again", async () => {
    const path = uniquePath('sv-expire');
    const s = await zk.connect({ sessionTimeoutMs: 2000 });
    const writer = await zk.connect();
    await using sv = new SharedValue(s, path, { codec: stringCodec, seed: 'before' });
    const seen = record(sv);
    await sv.start();
    const newSession = new Promise<void>((r) =>
      s.on('reconnected', (i) => {
        if (i.newSession) r();
      }),
    );
    const lost = nextEvent(s, 'lost');
    await expireSession(s);
    await lost; // the write below reaches the cache through no watch
    await writer.set(path, 'during');
    await newSession;
    await waitUntil(() => sv.value === 'during', 'the cache to converge to "during"');
    expect(sv.version).toBe((await writer.get(path)).stat.version);
    await writer.set(path, 'after');
    await waitUntil(() => sv.value === 'after', 'the cache to follow "after"');
    expect(seen.map(([v]) => v)).toEqual(['during', 'after']);
    expect(await sv.trySetValue(sv.versioned!, 'mine')).toBe(true);
  });

  it("after a dropped and a partitioned connection the cache converges to the server's value", async () => {
    const path = uniquePath('sv-proxy');
    const proxy = await startProxy(zk.server.connectString);
    cleanup.push(() => proxy.close());
    const s = await ZkSession.connect(proxy.connectString, { sessionTimeoutMs: 6000 });
    cleanup.push(() => s.close());
    const writer = await zk.connect();
    await using sv = new SharedValue(s, path, { codec: stringCodec, seed: 's' });
    const seen = record(sv);
    await sv.start();

    // Partitioned: the write happens while the session hears nothing.
    const suspended = nextEvent(s, 'suspended', 15_000);
    proxy.partition();
    await suspended;
    await writer.set(path, 'while partitioned');
    const reconnected = nextEvent<[{ newSession: boolean }]>(s, 'reconnected', 15_000);
    proxy.heal();
    expect((await reconnected)[0].newSession).toBe(false);
    await waitUntil(() => sv.value === 'while partitioned', 'the cache to converge after heal()');

    // Dropped: connections reset while writes go on.
    for (let i = 0; i < 5; i++) {
      proxy.dropConnections();
      await writer.set(path, `after drop ${i}`);
    }
    const server = await writer.get(path);
    await waitUntil(() => sv.version === server.stat.version, 'the cache to converge after the drops');
    expect(sv.value).toBe('after drop 4');
    const versions = seen.map(([, v]) => v);
    expect(versions).toEqual([...versions].sort((x, y) => x - y));
    expect(seen.at(-1)).toEqual(['after drop 4', server.stat.version]);
  });

  it('emits error (and value throws) while the node holds bytes the codec cannot decode; get() rejects', async () => {
    const path = uniquePath('sv-bad-bytes');
    const [s, writer] = await Promise.all([zk.connect(), zk.connect()]);
    await using sv = new SharedValue<Count>(s, path, { codec: countCodec, seed: { n: 0 } });
    await sv.start();
    const err = nextEvent<[Error]>(sv, 'error');
    await writer.set(path, 'not json');
    expect((await err)[0]).toBeInstanceOf(IllegalStateError);
    expect(() => sv.value).toThrow(IllegalStateError);
    await expect(sv.get()).rejects.toBeInstanceOf(IllegalStateError);
    await expect(sv.update((v) => v)).rejects.toBeInstanceOf(IllegalStateError);
    // set() repairs it (whatever the node held).
    await sv.set({ n: 1 });
    expect(sv.value).toEqual({ n: 1 });
  });

  it('close() stops the events (while another value on the same session still gets them)', async () => {
    const path = uniquePath('sv-close');
    const [s, writer] = await Promise.all([zk.connect(), zk.connect()]);
    const closed = new SharedValue(s, path, { codec: stringCodec, seed: 'a' });
    await using open = new SharedValue(s, path, { codec: stringCodec, seed: 'a' });
    await Promise.all([closed.start(), open.start()]);
    const seenClosed = record(closed);
    const seenOpen = record(open);
    await closed.close();
    await writer.set(path, 'b');
    // A watch fires before the session reads the new data; the read it triggers is answered
    // before a read sent after it: after these two reads, an event of `closed` would be due.
    await s.get(path);
    await s.get(path);
    await waitUntil(() => seenOpen.length === 1, 'the open value to see the change');
    await new Promise((r) => setImmediate(r));
    expect(seenOpen).toEqual([['b', 1]]);
    expect(seenClosed).toEqual([]);
    expect(closed.value).toBe('a'); // the last state, kept
    await expect(closed.start()).rejects.toBeInstanceOf(IllegalStateError);
    await closed.close(); // idempotent
    await expect(open.start()).rejects.toBeInstanceOf(IllegalStateError);
  });
});

describe('SharedValue: bad input', () => {
  it('typed errors before anything is written', async () => {
    const s = await zk.connect();
    const path = uniquePath('sv-bad');
    const raw = new SharedValue(s, path);
    const json = new SharedValue<unknown>(s, path, { codec: jsonCodec, seed: null });
    const reject = async (p: Promise<unknown>, why: RegExp) => {
      const err = await p.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(InvalidArgumentError);
      expect((err as Error).message).toMatch(why);
    };
    await reject(raw.set(Buffer.alloc(MAX_DATA_BYTES + 1)), /^shared-value\.set .*over ZooKeeper's limit/);
    await reject(raw.set('text' as unknown as Buffer), /^shared-value\.set .*cannot encode/);
    await reject(json.set(10n), /^shared-value\.set .*cannot encode the value/);
    await reject(json.set(undefined), /cannot encode/);
    await reject(json.trySetValue({ version: -1 }, { big: 'x'.repeat(MAX_DATA_BYTES) }), /over ZooKeeper's limit/);
    await reject(json.trySetValue({ version: 1.5 }, 1), /^shared-value\.trySetValue .*version/);
    await reject(json.trySetValue({ version: -2 }, 1), /version/);
    await reject(json.trySetValue({ version: 2 ** 31 }, 1), /version/);
    await reject(json.trySetValue({ version: '0' } as never, 1), /version/);
    await reject(json.trySetValue(null as never, 1), /previous/);
    await reject(json.trySetValue({ value: 1n, version: 0 }, 1), /cannot encode previous\.value/);
    await reject(
      json.update(() => 1n),
      /^shared-value\.update .*cannot encode the value fn returned/,
    );
    await reject(json.update(5 as never), /fn must be a function/);
    await reject(
      json.update((v) => v, { timeoutMs: -1 }),
      /timeoutMs/,
    );
    await reject(json.start({ signal: 'no' } as never), /signal/);
    expect(() => new SharedValue<unknown>(s, path, { codec: jsonCodec, seed: 1n })).toThrow(/^shared-value .*cannot encode option seed/);
    expect(() => new SharedValue<unknown>(s, path, { codec: jsonCodec })).toThrow(/option seed is required/);
    expect(() => new SharedValue(s, path, { codec: { encode: 1 } as never, seed: 0 })).toThrow(/option codec/);
    expect(() => new SharedValue(s, path, { sed: 1 } as never)).toThrow(/unknown option sed/);
    expect(() => new SharedValue(s, '/')).toThrow(/root/);
    expect(() => new SharedValue({} as never, path)).toThrow(/session/);
    expect(await s.exists(path)).toBeNull(); // nothing was written
    // and on an existing node, its version did not move
    await raw.set(Buffer.from('1'));
    await reject(raw.trySetValue({ version: 0 }, Buffer.alloc(MAX_DATA_BYTES + 1)), /limit/);
    await reject(
      json.update(() => undefined),
      /cannot encode/,
    );
    expect((await s.get(path)).stat.version).toBe(0);
  });

  it('update() honours an aborted signal between attempts', async () => {
    const s = await zk.connect();
    const sv = new SharedValue<Count>(s, uniquePath('sv-abort'), { codec: countCodec, seed: { n: 0 } });
    const ctl = new AbortController();
    ctl.abort();
    await expect(sv.update((v) => ({ n: v.n + 1 }), { signal: ctl.signal })).rejects.toMatchObject({ code: 'ABORTED' });
    expect(await s.exists(sv.path)).toBeNull();
  });
});
