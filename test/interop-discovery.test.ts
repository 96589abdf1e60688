// Interop: real Curator 5.4 service discovery (Debian's libcurator-discovery-java, Java 17) and ours
// share one registry. A Java service's instance is found by our ServiceDiscovery and ServiceCache
// with every field equal, its node holding exactly the bytes our serializer writes; our instances
// are found by Curator's queryForInstances and ServiceCache with every field equal (Map, String and
// null payloads); updates and unregistrations on one side are seen by the other. Missing Java or
// jars fail this file with what to install (never a skip).
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServiceCache, ServiceDiscovery, buildUriSpec, serializeInstance, serviceInstance, type ServiceInstance } from '../src/index.js';
import { compilePeers, killPeers, startPeer, type CompiledPeers, type Peer } from './interop/curator.js';
import { nextEvent, uniquePath, useServer, waitUntil } from './helpers.js';

const zk = useServer();
let peers: CompiledPeers;
let dir: string;

beforeAll(() => {
  peers = compilePeers(); // throws with what to install when Java or the jars are missing
  dir = mkdtempSync(join(tmpdir(), 'zk-recipes-discovery-interop-'));
}, 120_000);

afterAll(() => {
  killPeers();
  if (dir && existsSync(dir)) rmSync(dir, { recursive: true, force: true });
});

/** An instance as DiscoveryPeer describes it: Curator's getters, the payload's Java class, the URI and Curator's bytes. */
interface JavaView {
  name: string;
  id: string;
  address: string | null;
  port: number | null;
  sslPort: number | null;
  payload: unknown;
  payloadClass: string | null;
  registrationTimeUTC: number;
  serviceType: string;
  uriSpec: Array<{ value: string; variable: boolean }> | null;
  enabled: boolean;
  uri: string;
  /** Base64 of Curator's default serializer's output (no `enabled`), and of its full mode's. */
  bytes: string;
  fullBytes: string;
}

/** The peer's latest `cache` or `query` list. */
function latest(p: Peer, kind: 'cache' | 'query'): JavaView[] | undefined {
  const line = [...p.lines].reverse().find((l) => l.startsWith(`${kind} [`));
  return line === undefined ? undefined : (JSON.parse(line.slice(kind.length + 1)) as JavaView[]);
}

/** What Curator should see for our instance (all but the bytes, checked against the node). */
function asJava(i: ServiceInstance, javaClass: string | null): Omit<JavaView, 'bytes' | 'fullBytes'> {
  return {
    name: i.name,
    id: i.id,
    address: i.address,
    port: i.port,
    sslPort: i.sslPort,
    payload: i.payload,
    payloadClass: javaClass,
    registrationTimeUTC: i.registrationTimeUTC,
    serviceType: i.serviceType,
    uriSpec: i.uriSpec?.parts ?? null,
    enabled: i.enabled,
    uri: buildUriSpec(i.uriSpec, i),
  };
}

/** Waits until the peer's cache and query lists both have `ids`, then returns them. */
async function javaSees(p: Peer, ids: string[], what: string): Promise<{ cache: JavaView[]; query: JavaView[] }> {
  const has = (k: 'cache' | 'query') =>
    latest(p, k)
      ?.map((v) => v.id)
      .join(',') === ids.join(',');
  await waitUntil(() => has('cache') && has('query'), `Curator to see ${what}`, 30_000);
  return { cache: latest(p, 'cache')!, query: latest(p, 'query')! };
}

describe('service discovery interop with Curator', () => {
  it("a Curator service's instances are found by ours with every field equal, and their unregister is seen", async () => {
    const base = uniquePath('disc-interop');
    const s = await zk.connect();
    const d = new ServiceDiscovery(s, base);
    await using cache = new ServiceCache(s, base, 'java-svc');
    await cache.start();
    const payloads = { map: { region: 'eu-west', weight: 3, tags: ['a', 'b'], nested: { ok: true } }, string: 'plain payload from java' };
    for (const kind of ['map', 'string'] as const) {
      const id = `java-${kind}`;
      const stop = join(dir, `stop-${id}`);
      const java = startPeer(peers, 'DiscoveryPeer', ['register', zk.server.connectString, base, stop, 'java-svc', id, kind]);
      await java.ready;
      const registered = JSON.parse(java.lines.find((l) => l.startsWith('registered '))!.slice('registered '.length)) as JavaView;
      const found = await d.queryForInstance('java-svc', id);
      expect(found).toEqual({
        name: 'java-svc',
        id,
        address: '10.1.2.3',
        port: 8080,
        sslPort: 8443,
        payload: payloads[kind],
        registrationTimeUTC: 1700000000123,
        serviceType: 'DYNAMIC',
        uriSpec: { parts: registered.uriSpec },
        enabled: true,
      });
      const { bytes, fullBytes: _full, ...fields } = registered;
      expect(asJava(found!, registered.payloadClass)).toEqual(fields);
      expect(registered.payloadClass).toBe(kind === 'map' ? 'java.util.LinkedHashMap' : 'java.lang.String');
      expect(buildUriSpec(found!.uriSpec, found)).toBe('https://10.1.2.3:8443/api');
      // The node holds what Curator wrote, and our serializer writes the very same bytes.
      const node = await s.get(`${base}/java-svc/${id}`);
      expect(node.data.toString('base64')).toBe(bytes);
      expect(serializeInstance(found!).toString()).toBe(node.data.toString());
      expect(node.stat.ephemeralOwner).not.toBe('0');
      await waitUntil(() => cache.get(id), `our cache to see ${id}`);
      expect(cache.get(id)).toEqual(found);

      const removed = nextEvent<[ServiceInstance]>(cache, 'removed', 30_000);
      writeFileSync(stop, '');
      expect((await removed)[0]).toEqual(found);
      await java.exited;
      expect(java.lines).toContain('unregistered');
      expect(await d.queryForInstance('java-svc', id)).toBeUndefined();
    }
    expect(cache.instances()).toEqual([]);
  }, 150_000); // JVMs start slowly on a loaded machine

  it("our instances are found by Curator's queryForInstances and ServiceCache with every field equal; updates and unregisters are seen", async () => {
    const base = uniquePath('disc-interop');
    const s = await zk.connect();
    const d = new ServiceDiscovery(s, base);
    const n1 = serviceInstance({
      name: 'node-svc',
      id: 'node-1',
      address: '10.9.8.7',
      port: 3000,
      sslPort: 3443,
      registrationTimeUTC: 1700000000456,
      payload: { region: 'us-east', weight: 5, tags: ['x'], nested: { deep: [1, { k: null }] } },
      uriSpec: '{scheme}://{address}:{port}/v2',
    });
    const n2 = serviceInstance({ name: 'node-svc', id: 'node-2', address: 'host-2', port: 3001 });
    const str = serviceInstance({ name: 'node-str', id: 'str-1', address: 'host-3', port: 3002, payload: 'hello from node', enabled: false });
    for (const i of [n1, n2, str]) await d.registerService(i);
    const stop = join(dir, 'stop-watch');
    const maps = startPeer(peers, 'DiscoveryPeer', ['watch', zk.server.connectString, base, stop, 'node-svc', 'map']);
    const strings = startPeer(peers, 'DiscoveryPeer', ['watch', zk.server.connectString, base, stop, 'node-str', 'string']);
    await Promise.all([maps.ready, strings.ready]);

    /**
     * Curator's views equal ours, field by field, and Curator writes the node's very bytes: with its
     * default serializer, or for a disabled instance with the one that keeps `enabled`.
     */
    const check = async (views: JavaView[], ours: ServiceInstance[]) => {
      expect(views.map(({ bytes: _b, fullBytes: _f, ...v }) => v)).toEqual(
        ours.map((i) => asJava(i, typeof i.payload === 'string' ? 'java.lang.String' : i.payload === null ? null : 'java.util.LinkedHashMap')),
      );
      for (const [k, v] of views.entries()) {
        const node = (await s.get(`${base}/${ours[k]!.name}/${ours[k]!.id}`)).data.toString('base64');
        expect(ours[k]!.enabled ? v.bytes : v.fullBytes).toBe(node);
      }
    };
    for (const list of Object.values(await javaSees(maps, ['node-1', 'node-2'], 'node-1 and node-2'))) await check(list, [n1, n2]);
    for (const list of Object.values(await javaSees(strings, ['str-1'], 'str-1'))) await check(list, [str]);

    const n1b = { ...n1, payload: { region: 'us-west' }, port: 3100 };
    await d.updateService(n1b);
    await waitUntil(() => latest(maps, 'cache')?.[0]?.port === 3100 && latest(maps, 'query')?.[0]?.port === 3100, 'Curator to see the update', 30_000);
    await check(latest(maps, 'cache')!, [n1b, n2]);

    await d.unregisterService('node-1');
    await check((await javaSees(maps, ['node-2'], 'node-1 go')).cache, [n2]);
    await d.close(); // unregisters node-2 and str-1
    await javaSees(maps, [], 'node-2 go');
    await javaSees(strings, [], 'str-1 go');
    writeFileSync(stop, '');
    await Promise.all([maps.exited, strings.exited]);
  }, 150_000);
});
