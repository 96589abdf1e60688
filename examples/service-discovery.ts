// Service discovery: API servers register themselves (address, port, a JSON payload) in Curator's
// format, so Java services using curator-x-discovery find them too; a client picks one per call
// with a ServiceProvider, marks a failing one down for a while, and sees instances come and go.
//
//   npx tsx examples/service-discovery.ts    (embedded ZooKeeper unless ZK_CONNECT is set)
import { ServiceDiscovery, ServiceProvider, ZkSession, buildUriSpec, serviceInstance } from '../src/index.js';
import { check, sleep, zooKeeper } from './_server.js';

await using zk = await zooKeeper('/examples/services');
const BASE = '/examples/services';

// Two API servers, each with its own session (as separate processes would have).
const servers = await Promise.all(
  [1, 2].map(async (n) => {
    const session = await ZkSession.connect(zk.connectString, { sessionTimeoutMs: 4000 });
    const discovery = new ServiceDiscovery(session, BASE);
    const instance = serviceInstance({
      name: 'api',
      id: `api-${n}`,
      address: `10.0.0.${n}`,
      port: 8080,
      payload: { region: 'eu', version: '1.4' },
      uriSpec: '{scheme}://{address}:{port}/v1',
    });
    await discovery.registerService(instance); // an ephemeral node; registered again after a session expiry
    return { session, discovery, instance };
  }),
);

// A client: a round-robin provider over a cache of the api instances.
await using client = await ZkSession.connect(zk.connectString, { sessionTimeoutMs: 4000 });
await using provider = new ServiceProvider(client, BASE, 'api', { downInstancePolicy: { timeoutMs: 1000, errorThreshold: 1 } });
provider.cache.on('added', (i) => console.log(`  + ${i.id} at ${buildUriSpec(i.uriSpec, i)}`));
provider.cache.on('updated', (i) => console.log(`  ~ ${i.id} now ${JSON.stringify(i.payload)}`));
provider.cache.on('removed', (i) => console.log(`  - ${i.id}`));
await provider.start({ timeoutMs: 10_000 });
const picks = [1, 2, 3, 4].map(() => provider.getInstance()!.id);
check(picks.join(' ') === 'api-1 api-2 api-1 api-2', `round-robin picks ${picks.join(' ')}`);
console.log(`  services: ${(await new ServiceDiscovery(client, BASE).queryForNames()).join(', ')}`);

/** Waits (up to 20 s) until `ok()` holds, then checks it. */
async function until(ok: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!ok() && Date.now() < deadline) await sleep(20);
  check(ok(), what);
}
const available =
  (...ids: string[]) =>
  () =>
    provider
      .getAllInstances()
      .map((i) => i.id)
      .join(',') === ids.join(',');
const version = (id: string) => (provider.cache.get(id)?.payload as { version?: string } | undefined)?.version;

// A call to api-1 failed: it is left out for a second, then tried again.
provider.noteError('api-1');
await until(available('api-2'), 'api-1 marked down');
await until(available('api-1', 'api-2'), 'api-1 back after its timeout');

// api-2 rolls out a new version: its payload changes, the client's cache follows.
await servers[1]!.discovery.updateService({ ...servers[1]!.instance, payload: { region: 'eu', version: '1.5' } });
await until(() => version('api-2') === '1.5', 'api-2 updated to 1.5');

// api-2 "crashes": its session closes and its ephemeral node goes; api-1 shuts down politely.
await servers[1]!.session.close();
await until(available('api-1'), 'api-2 gone with its session');
await servers[0]!.discovery.close(); // unregisters api-1
await servers[0]!.session.close();
await until(available(), 'api-1 unregistered');
check(provider.getInstance() === undefined, 'no instance left to call');
