// Service discovery (Curator's curator-x-discovery layout and JSON) against a real server:
// registration, queries, updates and unregistration; ephemeral, persistent and sequential nodes;
// re-registration after a session expiry and after a deletion; the cache's events, also across a
// reconnection and an expiry; the provider's strategies and marking down; bad input refused
// before anything is written. Interop with real Curator is in interop-discovery.test.ts.
import { describe, expect, it } from 'vitest';
import {
  IllegalStateError,
  InvalidArgumentError,
  InvalidPathError,
  NodeExistsError,
  RandomStrategy,
  ServiceCache,
  ServiceDiscovery,
  ServiceProvider,
  StickyStrategy,
  ZkSession,
  buildUriSpec,
  parseInstance,
  serializeInstance,
  serviceInstance,
  uriSpec,
  type ServiceInstance,
} from '../src/index.js';
import { expireSession, startProxy } from '../src/testing/index.js';
import { TEST_TRANSPORT, nextEvent, uniquePath, useServer, waitUntil } from './helpers.js';

const zk = useServer();

/** Collects a cache's added/updated/removed events as `kind id` strings. */
function record(cache: ServiceCache): string[] {
  const log: string[] = [];
  cache.on('added', (i) => log.push(`added ${i.id}`));
  cache.on('updated', (i) => log.push(`updated ${i.id}`));
  cache.on('removed', (i) => log.push(`removed ${i.id}`));
  return log;
}

const ids = (list: readonly ServiceInstance[]) => list.map((i) => i.id);

describe('ServiceDiscovery', () => {
  it("registers, queries, updates and unregisters; the node is ephemeral and holds Curator's JSON", async () => {
    const base = uniquePath('disc');
    const [s, other] = await Promise.all([zk.connect(), zk.connect()]);
    const d = new ServiceDiscovery(s, base);
    const a = serviceInstance({
      name: 'api',
      id: 'a',
      address: '10.0.0.1',
      port: 8080,
      payload: { region: 'eu', weight: 3 },
      registrationTimeUTC: 1700000000000,
      uriSpec: '{scheme}://{address}:{port}',
    });
    const b = serviceInstance({ name: 'api', id: 'b', address: '10.0.0.2', sslPort: 8443 });
    const db = serviceInstance({ name: 'db', address: 'db.local', port: 5432, payload: 'primary' });
    for (const i of [a, b, db]) await d.registerService(i);

    const reader = new ServiceDiscovery(other, base);
    expect(await reader.queryForNames()).toEqual(['api', 'db']);
    expect(await reader.queryForInstances('api')).toEqual([a, b]);
    expect(await reader.queryForInstance('db', db.id)).toEqual(db);
    expect(await reader.queryForInstance('api', 'nope')).toBeUndefined();
    expect(await reader.queryForInstances('unknown')).toEqual([]);
    expect(db.id).toMatch(/^[0-9a-f-]{36}$/);

    const { data, stat } = await other.get(`${base}/api/a`);
    expect(stat.ephemeralOwner).toBe(s.sessionId);
    expect(data.toString()).toBe(
      '{"name":"api","id":"a","address":"10.0.0.1","port":8080,"sslPort":null,'
        + '"payload":{"@class":"java.util.LinkedHashMap","region":"eu","weight":3},"registrationTimeUTC":1700000000000,"serviceType":"DYNAMIC",'
        + '"uriSpec":{"parts":[{"value":"scheme","variable":true},{"value":"://","variable":false},{"value":"address","variable":true},'
        + '{"value":":","variable":false},{"value":"port","variable":true}]}}',
    );

    const a2: ServiceInstance = { ...a, payload: { region: 'us' }, enabled: false };
    await d.updateService(a2);
    expect(await reader.queryForInstance('api', 'a')).toEqual(a2);
    expect((await other.get(`${base}/api/a`)).data.toString()).toMatch(/"uriSpec":\{.*\},"enabled":false\}$/);
    const b2 = { ...b, port: 9090 };
    await d.registerService(b2); // a second register of the same id replaces its data
    expect(await reader.queryForInstance('api', 'b')).toEqual(b2);
    expect(ids(d.registered()).sort()).toEqual(['a', 'b', db.id].sort());

    expect(await d.unregisterService('b')).toBe(true);
    expect(await other.exists(`${base}/api/b`)).toBeNull();
    expect(await d.unregisterService('b')).toBe(false);
    await expect(d.updateService(b2)).rejects.toBeInstanceOf(IllegalStateError);
    expect(await d.unregisterService(a2)).toBe(true);
    expect(await reader.queryForInstances('api')).toEqual([]);

    await d.close(); // unregisters what is left (db)
    expect(await reader.queryForInstances('db')).toEqual([]);
    await d.close();
    await expect(d.registerService(a)).rejects.toBeInstanceOf(IllegalStateError);
  });

  it('STATIC instances are persistent, DYNAMIC_SEQUENTIAL ones ephemeral-sequential; close removes both', async () => {
    const base = uniquePath('disc');
    const [s, other] = await Promise.all([zk.connect(), zk.connect()]);
    const d = new ServiceDiscovery(s, base);
    const st = serviceInstance({ name: 'cfg', id: 'static-1', serviceType: 'STATIC', payload: [1, 'two'] });
    const seq = serviceInstance({ name: 'cfg', id: 'seq-', serviceType: 'DYNAMIC_SEQUENTIAL' });
    await d.registerService(st);
    await d.registerService(seq);
    const names = (await other.getChildren(`${base}/cfg`)).sort();
    expect(names).toHaveLength(2);
    expect(names[0]).toMatch(/^seq-\d{10}$/);
    expect(names[1]).toBe('static-1');
    expect((await other.exists(`${base}/cfg/static-1`))!.ephemeralOwner).toBe('0');
    expect((await other.exists(`${base}/cfg/${names[0]}`))!.ephemeralOwner).toBe(s.sessionId);
    expect((await other.get(`${base}/cfg/static-1`)).data.toString()).toContain('"payload":["java.util.ArrayList",[1,"two"]]');
    expect(await new ServiceDiscovery(other, base).queryForInstances('cfg')).toEqual([seq, st]);

    const seq2 = { ...seq, port: 1234 };
    await d.updateService(seq2);
    expect(parseInstance((await other.get(`${base}/cfg/${names[0]}`)).data, 'x')).toEqual(seq2);
    await d.close();
    expect(await other.getChildren(`${base}/cfg`).catch(() => [])).toEqual([]);

    // A persistent registration outlives its session; an ephemeral one does not.
    const s2 = await zk.connect();
    const d2 = new ServiceDiscovery(s2, base);
    await d2.registerService({ ...st, serviceType: 'PERMANENT' });
    await d2.registerService(serviceInstance({ name: 'cfg', id: 'eph' }));
    await s2.close();
    await waitUntil(async () => (await other.getChildren(`${base}/cfg`)).sort().join() === 'static-1', 'only the PERMANENT node to stay');
    await other.delete(`${base}/cfg/static-1`);
  });

  it('registers again by itself after its session expired', async () => {
    const base = uniquePath('disc');
    const s = await zk.connect({ sessionTimeoutMs: 2000 });
    const d = new ServiceDiscovery(s, base);
    const inst = serviceInstance({ name: 'api', address: '10.0.0.7', port: 80, payload: { v: 1 } });
    await d.registerService(inst);
    await using cache = new ServiceCache(await zk.connect(), base, 'api');
    await cache.start();
    expect(cache.instances()).toEqual([inst]);
    const removed = nextEvent<[ServiceInstance]>(cache, 'removed');
    const reregistered = nextEvent<[ServiceInstance, string]>(d, 'reregistered');
    const oldSession = s.sessionId;
    await expireSession(s);
    expect((await removed)[0]).toEqual(inst);
    const [again, reason] = await reregistered;
    expect(reason).toBe('newSession');
    expect(again).toEqual(inst);
    expect(s.sessionId).not.toBe(oldSession);
    await waitUntil(() => cache.get(inst.id), 'the cache to see the instance again');
    expect(cache.instances()).toEqual([inst]);
    expect((await s.exists(`${base}/api/${inst.id}`))!.ephemeralOwner).toBe(s.sessionId);
    await d.close();
  });

  it('creates its node again when someone else deletes it, every time', async () => {
    const base = uniquePath('disc');
    const [s, other] = await Promise.all([zk.connect(), zk.connect()]);
    await using d = new ServiceDiscovery(s, base);
    const inst = serviceInstance({ name: 'api', id: 'i1', port: 81 });
    await d.registerService(inst);
    for (let round = 0; round < 2; round++) {
      const reregistered = nextEvent<[ServiceInstance, string]>(d, 'reregistered');
      await other.delete(`${base}/api/i1`);
      expect((await reregistered)[1]).toBe('deleted');
      const stat = await other.exists(`${base}/api/i1`);
      expect(stat!.ephemeralOwner).toBe(s.sessionId);
    }
    expect(await new ServiceDiscovery(other, base).queryForInstance('api', 'i1')).toEqual(inst);
    // Our own unregister is not undone.
    await d.unregisterService('i1'); // its watch fires before the delete's reply
    expect(d.registered()).toEqual([]);
    expect(await other.exists(`${base}/api/i1`)).toBeNull();
  });

  it('refuses an id another live session registered, without touching its node', async () => {
    const base = uniquePath('disc');
    const [s1, s2] = await Promise.all([zk.connect(), zk.connect()]);
    const first = new ServiceDiscovery(s1, base);
    await first.registerService(serviceInstance({ name: 'api', id: 'dup', port: 1 }));
    const second = new ServiceDiscovery(s2, base);
    const err = await second.registerService(serviceInstance({ name: 'api', id: 'dup', port: 2 })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NodeExistsError);
    expect((err as Error).message).toMatch(/instance dup of api is registered by another session/);
    const node = parseInstance((await s2.get(`${base}/api/dup`)).data, 'dup');
    expect(node.port).toBe(1);
    expect(second.registered()).toEqual([]);
    await first.close();
    await second.close();
  });
});

describe('ServiceCache', () => {
  it('reports added, updated and removed instances and the whole list on change; a bad node is an error', async () => {
    const base = uniquePath('disc');
    const [s, other] = await Promise.all([zk.connect(), zk.connect()]);
    await using d = new ServiceDiscovery(other, base);
    await using cache = new ServiceCache(s, base, 'api');
    await cache.start(); // the service node does not exist yet
    expect(cache.instances()).toEqual([]);
    const log = record(cache);

    const a = serviceInstance({ name: 'api', id: 'a', port: 1 });
    const change = nextEvent<[ServiceInstance[]]>(cache, 'change');
    await d.registerService(a);
    expect((await change)[0]).toEqual([a]);
    const a2 = { ...a, payload: 'moved' };
    const updated = nextEvent<[ServiceInstance, ServiceInstance]>(cache, 'updated');
    await d.updateService(a2);
    expect(await updated).toEqual([a2, a]);
    const b = serviceInstance({ name: 'api', id: 'b', port: 2 });
    await d.registerService(b);
    await waitUntil(() => cache.instances().length === 2, 'the cache to see b');
    const removed = nextEvent<[ServiceInstance]>(cache, 'removed');
    await d.unregisterService('a');
    expect((await removed)[0]).toEqual(a2);
    expect(cache.instances()).toEqual([b]);
    expect(log).toEqual(['added a', 'updated a', 'added b', 'removed a']);

    const error = nextEvent<[Error]>(cache, 'error');
    await other.create(`${base}/api/junk`, 'not json');
    const [err] = await error;
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect(err.message).toContain(`${base}/api/junk`);
    expect(ids(cache.instances())).toEqual(['b']);
  });

  it('after a reconnection to the same session, reports what changed while it was cut off', async () => {
    const base = uniquePath('disc');
    const other = await zk.connect();
    await using d = new ServiceDiscovery(other, base);
    const [a, b] = [serviceInstance({ name: 'api', id: 'a' }), serviceInstance({ name: 'api', id: 'b' })];
    await d.registerService(a);
    await d.registerService(b);
    const proxy = await startProxy(zk.server.connectString);
    try {
      await using s = await ZkSession.connect(proxy.connectString, { sessionTimeoutMs: 10_000, transport: TEST_TRANSPORT });
      await using cache = new ServiceCache(s, base, 'api');
      await cache.start();
      const log = record(cache);

      proxy.freeze(); // nothing reaches the cache's session on its current connection
      const c = serviceInstance({ name: 'api', id: 'c' });
      await d.registerService(c);
      await d.updateService({ ...a, port: 7 });
      await d.unregisterService('b');
      expect(log).toEqual([]);
      const reconnected = nextEvent<[{ newSession: boolean }]>(s, 'reconnected');
      proxy.dropConnections();
      expect((await reconnected)[0].newSession).toBe(false);
      await waitUntil(() => log.length === 3, 'three events after the reconnection');
      expect([...log].sort()).toEqual(['added c', 'removed b', 'updated a']);
      expect(cache.instances()).toEqual([{ ...a, port: 7 }, c]);
    } finally {
      await proxy.close();
    }
  });

  it('after its session expired, converges to what changed meanwhile', async () => {
    const base = uniquePath('disc');
    const other = await zk.connect();
    await using d = new ServiceDiscovery(other, base);
    const [a, b] = [serviceInstance({ name: 'api', id: 'a' }), serviceInstance({ name: 'api', id: 'b' })];
    await d.registerService(a);
    const s = await zk.connect({ sessionTimeoutMs: 2000 });
    await using cache = new ServiceCache(s, base, 'api');
    await cache.start();
    const log = record(cache);
    const newSession = new Promise<void>((r) =>
      s.on('reconnected', (i) => {
        if (i.newSession) r();
      }),
    );
    const lost = nextEvent(s, 'lost');
    await expireSession(s);
    await lost;
    await d.unregisterService('a');
    await d.registerService(b);
    await newSession;
    await waitUntil(() => log.length === 2, 'two events after the new session');
    expect([...log].sort()).toEqual(['added b', 'removed a']);
    expect(cache.instances()).toEqual([b]);
    const b2 = { ...b, port: 99 };
    const updated = nextEvent<[ServiceInstance]>(cache, 'updated');
    await d.updateService(b2); // and its watches are armed again
    expect((await updated)[0]).toEqual(b2);
  });
});

describe('ServiceProvider', () => {
  async function registry(n: number) {
    const base = uniquePath('disc');
    const [s, other] = await Promise.all([zk.connect(), zk.connect()]);
    const d = new ServiceDiscovery(other, base);
    for (let k = 1; k <= n; k++) await d.registerService(serviceInstance({ name: 'api', id: `i${k}`, port: 8000 + k }));
    return { s, d, base };
  }

  it('round-robin visits all in order, sticky stays until its instance goes, random covers all', async () => {
    const { s, d, base } = await registry(3);
    await using rr = new ServiceProvider(s, base, 'api');
    await rr.start();
    expect(Array.from({ length: 7 }, () => rr.getInstance()!.id)).toEqual(['i1', 'i2', 'i3', 'i1', 'i2', 'i3', 'i1']);

    const strategy = new StickyStrategy(new RandomStrategy());
    await using sticky = new ServiceProvider(s, base, 'api', { strategy });
    await sticky.start();
    const first = sticky.getInstance()!.id;
    for (let k = 0; k < 20; k++) expect(sticky.getInstance()!.id).toBe(first);
    expect(strategy.instanceNumber).toBe(0);
    await d.unregisterService(first);
    await waitUntil(() => sticky.getAllInstances().length === 2, 'the provider to see the instance go');
    const second = sticky.getInstance()!.id;
    expect(second).not.toBe(first);
    for (let k = 0; k < 20; k++) expect(sticky.getInstance()!.id).toBe(second);
    expect(strategy.instanceNumber).toBe(1);

    await using random = new ServiceProvider(s, base, 'api', { strategy: 'random' });
    await random.start();
    const seen = new Set(Array.from({ length: 200 }, () => random.getInstance()!.id));
    expect([...seen].sort()).toEqual(['i1', 'i2', 'i3'].filter((id) => id !== first));
    await d.close();
    await waitUntil(() => random.getInstance() === undefined, 'no instance once all are gone');
  });

  it('leaves out disabled instances and those the filter rejects', async () => {
    const { s, d, base } = await registry(2);
    await d.registerService(serviceInstance({ name: 'api', id: 'off', enabled: false }));
    await using p = new ServiceProvider(s, base, 'api', { filter: (i) => i.port !== 8002 });
    expect(() => p.getInstance()).toThrow(IllegalStateError);
    await p.start();
    expect(p.cache.instances()).toHaveLength(3);
    expect(ids(p.getAllInstances())).toEqual(['i1']);
    await p.close();
    expect(() => p.getAllInstances()).toThrow(IllegalStateError);
    await d.close();
  });

  it('noteError marks an instance down after errorThreshold errors, until timeoutMs after the first', async () => {
    const { s, d, base } = await registry(3);
    await using p = new ServiceProvider(s, base, 'api', { downInstancePolicy: { timeoutMs: 1500, errorThreshold: 2 } });
    await p.start();
    const t0 = Date.now();
    p.noteError(p.cache.get('i2')!);
    expect(ids(p.getAllInstances())).toEqual(['i1', 'i2', 'i3']); // one error: still up
    p.noteError('i2');
    expect(ids(p.getAllInstances())).toEqual(['i1', 'i3']);
    for (let k = 0; k < 20; k++) expect(p.getInstance()!.id).not.toBe('i2');
    await waitUntil(() => p.getAllInstances().some((i) => i.id === 'i2'), 'i2 to be restored', 10_000, 20);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1500);
    p.noteError('i2'); // the count started again from zero
    expect(ids(p.getAllInstances())).toEqual(['i1', 'i2', 'i3']);
    await d.close();
  });
});

describe('service instances', () => {
  it('reads what Curator wrote and writes it back byte for byte', () => {
    // Written by Curator 5.4's JsonInstanceSerializer (default and full mode) for these instances.
    const written = [
      '{"name":"svc","id":"id1","address":"10.0.0.1","port":8080,"sslPort":null,"payload":{"@class":"java.util.HashMap","a":"b"},"registrationTimeUTC":1234,"serviceType":"DYNAMIC","uriSpec":{"parts":[{"value":"scheme","variable":true},{"value":"://","variable":false},{"value":"address","variable":true},{"value":":","variable":false},{"value":"port","variable":true}]}}',
      '{"name":"svc","id":"id1","address":"10.0.0.1","port":8080,"sslPort":null,"payload":["java.util.ImmutableCollections$List12",[1,"x"]],"registrationTimeUTC":1234,"serviceType":"DYNAMIC","uriSpec":null}',
      '{"name":"svc","id":"id1","address":"10.0.0.1","port":null,"sslPort":8443,"payload":"hello","registrationTimeUTC":1234,"serviceType":"STATIC","uriSpec":null,"enabled":false}',
    ];
    const read = written.map((w) => parseInstance(Buffer.from(w), '/x'));
    expect(read[0]!.payload).toEqual({ a: 'b' });
    expect(read[0]!.payloadClass).toBe('java.util.HashMap');
    expect(read[1]!.payload).toEqual([1, 'x']);
    expect(read[2]).toMatchObject({ payload: 'hello', sslPort: 8443, serviceType: 'STATIC', enabled: false });
    expect(read.map((i) => serializeInstance(i).toString())).toEqual(written);
    // Jackson's defaults for missing fields; unknown fields ignored.
    expect(parseInstance(Buffer.from('{"name":"n","id":"i","extra":1}'), '/x')).toEqual({
      name: 'n',
      id: 'i',
      address: null,
      port: null,
      sslPort: null,
      payload: null,
      registrationTimeUTC: 0,
      serviceType: 'DYNAMIC',
      uriSpec: null,
      enabled: true,
    });
    for (const junk of ['nope', '[1]', '{"port":"80"}', '{"serviceType":"OTHER"}', '{"uriSpec":{"parts":[{"value":1}]}}']) {
      expect(() => parseInstance(Buffer.from(junk), '/x/junk')).toThrow(InvalidArgumentError);
    }
  });

  it("builds URIs as Curator's UriSpec does", () => {
    const i = serviceInstance({ name: 'api', id: 'x1', address: '10.0.0.5', port: 8080, registrationTimeUTC: 42 });
    expect(buildUriSpec('{scheme}://{address}:{port}', i)).toBe('http://10.0.0.5:8080');
    expect(buildUriSpec('{scheme}://{address}:{ssl-port}', { ...i, sslPort: 8443 })).toBe('https://10.0.0.5:8443');
    expect(buildUriSpec('{[}{name}{]}/{id}/{registration-time-utc}/{service-type}/{missing}!', i)).toBe('{api}/x1/42/dynamic/!');
    expect(buildUriSpec('{scheme}://h/{ path }', i, { scheme: 'grpc', path: 'v1' })).toBe('grpc://h/v1');
    expect(buildUriSpec(null, i)).toBe('');
    expect(uriSpec('a{ b }c')).toEqual({
      parts: [
        { value: 'a', variable: false },
        { value: 'b', variable: true },
        { value: 'c', variable: false },
      ],
    });
    for (const bad of ['{a', 'a}', '{a{b}}']) expect(() => uriSpec(bad)).toThrow(InvalidArgumentError);
  });
});

describe('bad input', () => {
  it('gets a typed error naming what was wrong, and nothing is written', async () => {
    const s = await zk.connect();
    const base = uniquePath('disc-bad');
    const d = new ServiceDiscovery(s, base);
    const good = serviceInstance({ name: 'api', id: 'x', port: 80 });
    const cyclic: Record<string, unknown> = {};
    cyclic['self'] = cyclic;
    const cases: Array<[unknown, RegExp]> = [
      [{ ...good, name: '' }, /name must be a non-empty string/],
      [{ ...good, name: undefined }, /name/],
      [{ ...good, id: 'a/b' }, /id "a\/b" is not a node name/],
      [{ ...good, id: '..' }, /id/],
      [{ ...good, port: 70000 }, /port must be an integer 1\.\.65535/],
      [{ ...good, port: 1.5 }, /port/],
      [{ ...good, port: '80' }, /port/],
      [{ ...good, sslPort: 0 }, /sslPort/],
      [{ ...good, payload: { f: () => 1 } }, /payload\.f must be JSON/],
      [{ ...good, payload: Number.NaN }, /not a finite number/],
      [{ ...good, payload: cyclic }, /cycle/],
      [{ ...good, payload: new Date() }, /Date object is not a plain object/],
      [{ ...good, payload: { '@class': 'x' } }, /payloadClass instead/],
      [{ ...good, payload: undefined }, /payload must be JSON/],
      [{ ...good, payloadClass: 'not a class' }, /payloadClass must be a Java class name/],
      [{ ...good, serviceType: 'EPHEMERAL' }, /serviceType must be one of/],
      [{ ...good, uriSpec: '{scheme}://x' }, /uriSpec must be null or/],
      [{ ...good, enabled: 'yes' }, /enabled must be a boolean/],
      [{ ...good, extra: 1 }, /unknown field extra/],
      [{ ...good, registrationTimeUTC: -1 }, /registrationTimeUTC/],
      [{ ...good, address: 7 }, /address/],
      [null, /expected a service instance/],
      ['api', /expected a service instance/],
    ];
    for (const [bad, why] of cases) {
      const err = await d.registerService(bad as ServiceInstance).catch((e: unknown) => e);
      expect(err, String(why)).toBeInstanceOf(InvalidArgumentError);
      expect((err as Error).message).toMatch(why);
    }
    expect(() => serviceInstance({} as never)).toThrow(InvalidArgumentError);
    expect(() => serviceInstance({ name: 'a', bogus: 1 } as never)).toThrow(/unknown field bogus/);
    await d.registerService(good);
    await expect(d.updateService({ ...good, name: 'other' })).rejects.toThrow(/unregister it to change that/);
    await expect(d.updateService({ ...good, serviceType: 'STATIC' })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(d.queryForInstances('a/b')).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(d.queryForInstance('api', '')).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(d.unregisterService('')).rejects.toBeInstanceOf(InvalidArgumentError);
    await d.close();
    expect(await s.getChildren(`${base}/api`).catch(() => [])).toEqual([]); // only the good one was ever written

    expect(() => new ServiceDiscovery(s, 'relative')).toThrow(InvalidPathError);
    expect(() => new ServiceDiscovery({} as ZkSession, '/x')).toThrow(InvalidArgumentError);
    expect(() => new ServiceCache(s, base, 'a/b')).toThrow(InvalidArgumentError);
    expect(() => new ServiceProvider(s, base, 'api', { strategy: 'fastest' as never })).toThrow(/option strategy/);
    expect(() => new ServiceProvider(s, base, 'api', { downInstancePolicy: { errorThreshold: 0 } })).toThrow(/errorThreshold/);
    expect(() => new ServiceProvider(s, base, 'api', { downInstancePolicy: { timeoutMs: -1 } })).toThrow(/timeoutMs/);
    expect(() => new ServiceProvider(s, base, 'api', { bogus: 1 } as never)).toThrow(/unknown option bogus/);
    expect(() => new ServiceProvider(s, base, 'api', { filter: 'x' as never })).toThrow(InvalidArgumentError);
  });

  it('nothing is written for a service whose every registration was refused', async () => {
    const s = await zk.connect();
    const base = uniquePath('disc-bad');
    const d = new ServiceDiscovery(s, base);
    await expect(d.registerService({ ...serviceInstance({ name: 'api' }), port: -1 })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(d.registerService({ ...serviceInstance({ name: 'api' }), payload: 'x'.repeat(1024 * 1024) })).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(await s.exists(base)).toBeNull();
    expect(d.registered()).toEqual([]);
    await d.close();
  });
});
