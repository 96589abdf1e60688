/**
 * The soak's view roles: a group member, a writer of a small tree with a TreeCache over it and a
 * ChildrenCache over its shared directory, and a service instance with a ServiceCache. Once the
 * run is quiet, `snapshot()` says what each cache holds; the runner compares it with the
 * server's tree, read directly: every cache must equal it.
 * @module
 */
import { ChildrenCache, GroupMember, NoNodeError, NodeExistsError, ServiceCache, ServiceDiscovery, TreeCache, serviceInstance } from '../src/index.js';
import { type RoleContext, SERVICE_NAME, startFresh, writerLoop } from './context.js';

/** What a worker's caches hold: path (or id) → data, as text. */
export interface ViewSnapshot {
  tree: Record<string, string>;
  shared: Record<string, string>;
  group: Record<string, string>;
  services: Record<string, string>;
}

/** The handles a worker's snapshot reads. */
interface Views {
  tree?: TreeCache;
  shared?: ChildrenCache;
  member?: GroupMember;
  services?: ServiceCache;
}

const views: Views = {};

/** What this worker's caches hold now (an empty map for one not started). */
export function snapshot(): ViewSnapshot {
  const text = (b: Buffer | undefined) => (b ? b.toString('utf8') : '');
  return {
    tree: Object.fromEntries([...(views.tree?.entries() ?? [])].map(([p, n]) => [p, text(n.data)])),
    shared: Object.fromEntries([...(views.shared?.children.values() ?? [])].map((c) => [c.name, text(c.data)])),
    group: Object.fromEntries([...(views.member?.members() ?? new Map<string, Buffer>())].map(([id, d]) => [id, text(d)])),
    services: Object.fromEntries((views.services?.instances() ?? []).map((i) => [i.id, JSON.stringify(i.payload)])),
  };
}

/** One random change under the tree: create, change or delete a shared child or one of our own. */
async function changeTree(ctx: RoleContext): Promise<void> {
  const own = ctx.rng.chance(0.5);
  const path = own ? `${ctx.paths.tree}/own-${ctx.who.split('.')[0]}/n${ctx.rng.int(0, 5)}` : `${ctx.paths.shared}/n${ctx.rng.int(0, 9)}`;
  const data = ctx.id('d');
  try {
    const roll = ctx.rng.next();
    if (roll < 0.4) await ctx.session.create(path, data, { createParents: true });
    else if (roll < 0.8) await ctx.session.set(path, data);
    else await ctx.session.delete(path);
  } catch (err) {
    if (!(err instanceof NodeExistsError || err instanceof NoNodeError)) throw err; // others' moves
  }
}

/** Caches the tree and its shared directory; changes them every 50–300 ms (not while quiet). */
export async function treeRole(ctx: RoleContext): Promise<void> {
  await ctx.session.create(ctx.paths.shared, '', { createParents: true }).catch((e: unknown) => {
    if (!(e instanceof NodeExistsError)) throw e;
  });
  views.tree = await startFresh(
    ctx,
    'tree-cache.start',
    () => new TreeCache(ctx.session, ctx.paths.tree),
    (c) => c.start(),
    (c) => c.close(),
  );
  views.shared = await startFresh(
    ctx,
    'children-cache.start',
    () => new ChildrenCache(ctx.session, ctx.paths.shared, { withData: true }),
    (c) => c.start(),
    (c) => c.close(),
  );
  await writerLoop(ctx, 'tree', [50, 300], () => changeTree(ctx));
  await Promise.all([views.tree?.close(), views.shared?.close()]);
}

/** A group member whose data changes every 1–3 s (not while quiet). */
export async function groupRole(ctx: RoleContext): Promise<void> {
  views.member = await startFresh(
    ctx,
    'group.join',
    () => new GroupMember(ctx.session, ctx.paths.group, { id: ctx.who, data: 'joined' }),
    (m) => m.join({ timeoutMs: 20_000 }),
    (m) => m.leave(),
  );
  await writerLoop(ctx, 'group.setData', [1000, 3000], () => views.member!.setData(ctx.id('g')));
  await views.member?.leave().catch(() => undefined);
}

/** A registered service instance whose payload changes every 1–3 s, and a cache of the service. */
export async function discoveryRole(ctx: RoleContext): Promise<void> {
  const discovery = new ServiceDiscovery(ctx.session, ctx.paths.disc);
  const instance = (payload: string) => serviceInstance({ name: SERVICE_NAME, id: ctx.who, address: '127.0.0.1', port: 8080, payload });
  views.services = await startFresh(
    ctx,
    'service-cache.start',
    () => new ServiceCache(ctx.session, ctx.paths.disc, SERVICE_NAME),
    (c) => c.start(),
    (c) => c.close(),
  );
  await startFresh(
    ctx,
    'discovery.register',
    () => discovery,
    (d) => d.registerService(instance('registered')),
    async () => undefined,
  );
  await writerLoop(ctx, 'discovery.update', [1000, 3000], () => discovery.updateService(instance(ctx.id('p'))));
  await Promise.all([discovery.close(), views.services?.close()]);
}
