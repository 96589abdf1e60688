// Bad input to every public recipe constructor, method and option: wrong types, negative, NaN and
// infinite timeouts, invalid and relative paths, the reserved /zookeeper subtree, oversized data,
// a codec that throws, handlers that throw or hang past their signal. Each gets a typed error
// (InvalidPathError / InvalidArgumentError, or the documented event) whose message starts with the
// recipe and names the problem, and nothing is written to ZooKeeper: the whole tree is compared
// before and after.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Barrier,
  ChildrenCache,
  DistributedDelayQueue,
  DistributedPriorityQueue,
  DistributedQueue,
  DoubleBarrier,
  GroupMember,
  InvalidArgumentError,
  InvalidPathError,
  LeaderLatch,
  LeaderSelector,
  Lock,
  MAX_DATA_BYTES,
  NodeCache,
  ReadWriteLock,
  Semaphore,
  ServiceCache,
  ServiceDiscovery,
  SharedCounter,
  SharedValue,
  TaskScheduler,
  TreeCache,
  ZkError,
  ZkSession,
  type Codec,
} from '../src/index.js';
import { uniquePath, useServer, waitUntil } from './helpers.js';

const zk = useServer();
let s: ZkSession;
let before: string[];

/** Every path in the server's tree except /zookeeper. */
async function snapshot(session: ZkSession, path = '/'): Promise<string[]> {
  const out: string[] = [];
  for (const c of await session.getChildren(path)) {
    const p = path === '/' ? `/${c}` : `${path}/${c}`;
    if (p === '/zookeeper') continue;
    out.push(p, ...(await snapshot(session, p)));
  }
  return out.sort();
}

beforeAll(async () => {
  s = await ZkSession.connect(zk.server.connectString, { sessionTimeoutMs: 4000 });
  before = await snapshot(s);
});
afterAll(async () => {
  await s?.close();
});

const noop = () => undefined;
type Ctor = (session: unknown, path: unknown) => unknown;
/** Every recipe, built with valid options around the session and path under test. */
const RECIPES: Record<string, { recipe: string; make: Ctor }> = {
  Lock: { recipe: 'lock', make: (x, p) => new Lock(x as ZkSession, p as string) },
  ReadWriteLock: { recipe: 'read-write-lock', make: (x, p) => new ReadWriteLock(x as ZkSession, p as string) },
  Semaphore: { recipe: 'semaphore', make: (x, p) => new Semaphore(x as ZkSession, p as string, { maxLeases: 2 }) },
  LeaderLatch: { recipe: 'leader-latch', make: (x, p) => new LeaderLatch(x as ZkSession, p as string) },
  LeaderSelector: { recipe: 'leader-selector', make: (x, p) => new LeaderSelector(x as ZkSession, p as string, { onLeadership: noop }) },
  Barrier: { recipe: 'barrier', make: (x, p) => new Barrier(x as ZkSession, p as string) },
  DoubleBarrier: { recipe: 'double-barrier', make: (x, p) => new DoubleBarrier(x as ZkSession, p as string, { members: 2 }) },
  NodeCache: { recipe: 'node-cache', make: (x, p) => new NodeCache(x as ZkSession, p as string) },
  ChildrenCache: { recipe: 'children-cache', make: (x, p) => new ChildrenCache(x as ZkSession, p as string) },
  GroupMember: { recipe: 'group-member', make: (x, p) => new GroupMember(x as ZkSession, p as string, { id: 'm' }) },
  SharedCounter: { recipe: 'shared-counter', make: (x, p) => new SharedCounter(x as ZkSession, p as string) },
  DistributedQueue: { recipe: 'queue', make: (x, p) => new DistributedQueue(x as ZkSession, p as string) },
  DistributedPriorityQueue: { recipe: 'priority-queue', make: (x, p) => new DistributedPriorityQueue(x as ZkSession, p as string) },
  DistributedDelayQueue: { recipe: 'delay-queue', make: (x, p) => new DistributedDelayQueue(x as ZkSession, p as string) },
  TaskScheduler: { recipe: 'scheduler', make: (x, p) => new TaskScheduler(x as ZkSession, p as string, { workerId: 'w' }) },
  SharedValue: { recipe: 'shared-value', make: (x, p) => new SharedValue(x as ZkSession, p as string) },
  ServiceDiscovery: { recipe: 'service-discovery', make: (x, p) => new ServiceDiscovery(x as ZkSession, p as string) },
  ServiceCache: { recipe: 'service-cache', make: (x, p) => new ServiceCache(x as ZkSession, p as string, 'api') },
  TreeCache: { recipe: 'tree-cache', make: (x, p) => new TreeCache(x as ZkSession, p as string) },
};

/** Every constructor checks its session now; kept as an (empty) list for future exceptions. */
const SESSION_UNCHECKED = new Set<string>();

/** The recipe's name at the start of a message (kebab-case; the camelCase form is still accepted). */
const named = (recipe: string) => new RegExp(`^(${recipe}|${recipe.replace(/-(\w)/g, (_m, c: string) => c.toUpperCase())})\\b`);

const BAD_PATHS: Array<[string, unknown, RegExp]> = [
  ['relative', 'relative/path', /absolute/],
  ['empty', '', /empty/],
  ['trailing slash', '/a/b/', /end with/],
  ['empty segment', '/a//b', /invalid path/],
  ['dot segment', '/a/./b', /invalid path/],
  ['not a string', 42, /must be a string/],
  ['reserved /zookeeper', '/zookeeper', /reserved|zookeeper/],
  ['under /zookeeper', '/zookeeper/quota/x', /reserved|zookeeper/],
  ['the root', '/', /root/],
];

/** Expects `fn` to throw (or reject with) `type`, its message matching every pattern. */
async function expectTyped(fn: () => unknown, type: new (...a: never[]) => ZkError, ...patterns: RegExp[]): Promise<void> {
  let err: unknown;
  try {
    await fn();
  } catch (e) {
    err = e;
  }
  expect(err, 'expected an error').toBeInstanceOf(type);
  for (const p of patterns) expect((err as Error).message).toMatch(p);
}

describe('bad input: nothing is written, typed errors name the problem', () => {
  describe.each(Object.entries(RECIPES))('%s constructor', (name, { recipe, make }) => {
    // A cache may watch the root; every other recipe refuses it.
    const paths = name.endsWith('Cache') ? BAD_PATHS.filter(([what]) => what !== 'the root') : BAD_PATHS;
    it.each(paths)('rejects a path that is %s', async (_what, path, why) => {
      await expectTyped(() => make(s, path), InvalidPathError, named(recipe), why); // the root too: one class
    });
    if (!SESSION_UNCHECKED.has(name)) {
      it('rejects a session that is not a ZkSession', async () => {
        await expectTyped(() => make({ create: noop }, '/ok'), InvalidArgumentError, named(recipe), /session/);
      });
    }
  });

  const P = '/bad-input-never-written';
  const waits: Array<[string, unknown, RegExp]> = [
    ['negative timeoutMs', { timeoutMs: -1 }, /timeoutMs/],
    ['NaN timeoutMs', { timeoutMs: Number.NaN }, /timeoutMs/],
    ['infinite timeoutMs', { timeoutMs: Number.POSITIVE_INFINITY }, /timeoutMs/],
    ['string timeoutMs', { timeoutMs: '100' }, /timeoutMs/],
    ['a signal that is not an AbortSignal', { signal: { aborted: false } }, /signal/],
    ['options that are not an object', 5, /options/],
  ];
  const WAITS: Record<string, (w: unknown) => unknown> = {
    'Lock.acquire': (w) => new Lock(s, P).acquire(w as never),
    'ReadWriteLock.readLock.acquire': (w) => new ReadWriteLock(s, P).readLock.acquire(w as never),
    'Semaphore.acquire': (w) => new Semaphore(s, P, { maxLeases: 1 }).acquire(w as never),
    'LeaderLatch.await': (w) => {
      const l = new LeaderLatch(s, P);
      return l.await(w as never);
    },
    'Barrier.wait': (w) => new Barrier(s, P).wait(w as never),
    'DoubleBarrier.enter': (w) => new DoubleBarrier(s, P, { members: 2 }).enter(w as never),
    'NodeCache.start': (w) => new NodeCache(s, P).start(w as never),
    'ChildrenCache.start': (w) => new ChildrenCache(s, P).start(w as never),
    'GroupMember.join': (w) => new GroupMember(s, P, { id: 'm' }).join(w as never),
    'DistributedQueue.take': (w) => new DistributedQueue(s, P).take(w as never),
    'TaskScheduler.waitFor': (w) => new TaskScheduler(s, P, { roles: [] }).waitFor('t-1', w as never),
    'SharedValue.start': (w) => new SharedValue(s, P).start(w as never),
    'SharedValue.update': (w) => new SharedValue(s, P).update((v) => v, w as never),
    'TreeCache.start': (w) => new TreeCache(s, P).start(w as never),
    'ServiceCache.start': (w) => new ServiceCache(s, P, 'api').start(w as never),
  };
  describe.each(Object.entries(WAITS))('%s wait options', (_name, call) => {
    it.each(waits)('rejects %s', async (_what, w, why) => {
      await expectTyped(() => call(w), InvalidArgumentError, why);
    });
  });

  const big = Buffer.alloc(MAX_DATA_BYTES + 1);
  const OPTIONS: Array<[string, () => unknown, RegExp]> = [
    ['Lock: unknown option', () => new Lock(s, P, { dat: 'x' } as never), /^lock: .*dat/],
    ['Lock: data of a wrong type', () => new Lock(s, P, { data: 5 } as never), /^lock: .*data/],
    ['Semaphore: maxLeases 0', () => new Semaphore(s, P, { maxLeases: 0 }), /^semaphore.*maxLeases/],
    ['Semaphore: maxLeases NaN', () => new Semaphore(s, P, { maxLeases: Number.NaN }), /^semaphore.*maxLeases/],
    ['Semaphore: maxLeases missing', () => new Semaphore(s, P, {} as never), /^semaphore.*maxLeases/],
    ['LeaderLatch: id of a wrong type', () => new LeaderLatch(s, P, { id: 7 } as never), /^leader-latch.*id/],
    ['LeaderLatch: bad stateErrorPolicy', () => new LeaderLatch(s, P, { stateErrorPolicy: 'never' } as never), /^leader-latch.*stateErrorPolicy/],
    ['LeaderSelector: onLeadership missing', () => new LeaderSelector(s, P, {} as never), /^leader-selector.*onLeadership/],
    ['DoubleBarrier: members -1', () => new DoubleBarrier(s, P, { members: -1 }), /^double-barrier.*members/],
    ['DoubleBarrier: members 1.5', () => new DoubleBarrier(s, P, { members: 1.5 }), /^double-barrier.*members/],
    ['GroupMember: id with a slash', () => new GroupMember(s, P, { id: 'a/b' }), /^group-member.*id/],
    ['GroupMember: options missing', () => new GroupMember(s, P, undefined as never), /^group-member.*id/],
    ['SharedCounter: seed NaN', () => new SharedCounter(s, P, { seed: Number.NaN }), /^shared-counter.*seed/],
    ['DistributedQueue: codec without encode', () => new DistributedQueue(s, P, { codec: { decode: noop } as never }), /^queue.*codec/],
    ['TaskScheduler: capacity 0', () => new TaskScheduler(s, P, { workerId: 'w', capacity: 0 }), /^scheduler.*capacity/],
    ['TaskScheduler: workerId with a slash', () => new TaskScheduler(s, P, { workerId: 'a/b' }), /^scheduler.*workerId/],
    ['TaskScheduler: bad role', () => new TaskScheduler(s, P, { workerId: 'w', roles: ['boss'] as never }), /^scheduler.*roles/],
    ['TaskScheduler: handler not a function', () => new TaskScheduler(s, P, { workerId: 'w', handlers: { x: 5 } as never }), /^scheduler.*handlers/],
    ['TaskScheduler.submit: empty type', () => new TaskScheduler(s, P, { roles: [] }).submit(''), /^scheduler.*type/],
    ['TaskScheduler.submit: NaN delayMs', () => new TaskScheduler(s, P, { roles: [] }).submit('t', {}, { delayMs: Number.NaN }), /^scheduler.*delayMs/],
    ['TaskScheduler.schedule: everyMs -5', () => new TaskScheduler(s, P, { roles: [] }).schedule('x', { everyMs: -5 }, 't'), /^scheduler.*everyMs/],
    [
      'TaskScheduler.schedule: cron with 4 fields',
      () => new TaskScheduler(s, P, { roles: [] }).schedule('x', { cron: '* * * *' }, 't'),
      /^cron "\* \* \* \*": expected 5 fields/,
    ],
    [
      'TaskScheduler.schedule: cron and everyMs',
      () => new TaskScheduler(s, P, { roles: [] }).schedule('x', { cron: '@daily', everyMs: 100 }, 't'),
      /^scheduler.*exactly one of everyMs and cron/,
    ],
    [
      'TaskScheduler.schedule: neither cron nor everyMs',
      () => new TaskScheduler(s, P, { roles: [] }).schedule('x', {}, 't'),
      /^scheduler.*exactly one of everyMs and cron/,
    ],
    ['TaskScheduler.schedule: id with a slash', () => new TaskScheduler(s, P, { roles: [] }).schedule('a/b', { everyMs: 100 }, 't'), /^scheduler.*schedule id/],
    ['Lock: oversized data', () => new Lock(s, P, { data: big }).acquire(), /data/],
    ['GroupMember: oversized data', () => new GroupMember(s, P, { id: 'm', data: big }).join(), /data/],
    ['DistributedQueue.put: oversized item', () => new DistributedQueue<string>(s, P).put('x'.repeat(MAX_DATA_BYTES + 1)), /bytes|limit|large/],
    [
      'DistributedQueue.put: a codec that throws',
      () =>
        new DistributedQueue<string>(s, P, {
          codec: {
            encode: () => {
              throw new Error('boom');
            },
            decode: (b) => b.toString(),
          } as Codec<string>,
        }).put('x'),
      /^queue.*(encode|codec)/,
    ],
    ['DistributedQueue.consume: concurrency 0', () => new DistributedQueue(s, P).consume(noop, { concurrency: 0 }), /^queue.*concurrency/],
    ['DistributedQueue.consume: handler not a function', () => new DistributedQueue(s, P).consume(5 as never), /^queue.*handler/],
  ];
  it.each(OPTIONS)('%s', async (_what, call, why) => {
    await expectTyped(call, ZkError, why);
  });

  it('wrote nothing: the server tree is unchanged', async () => {
    expect(await snapshot(s)).toEqual(before);
  });
});

describe('handlers that throw or hang', () => {
  it('a queue handler that throws leaves the item (handlerError event) and a retry takes it', async () => {
    const path = uniquePath('bi-q');
    const q = new DistributedQueue<string>(s, path);
    await q.put('job');
    const errors: unknown[] = [];
    q.on('handlerError', (e) => errors.push(e.error));
    let calls = 0;
    const c = q.consume(
      () => {
        if (++calls === 1) throw new Error('handler failed');
      },
      { retryDelayMs: 20 },
    );
    await waitUntil(() => c.processed === 1, 'the retry to succeed');
    expect(errors).toEqual([expect.objectContaining({ message: 'handler failed' })]);
    await c.close();
    await q.close();
    await s.delete(path, { recursive: true }).catch(() => undefined);
  });

  it('a scheduler handler that hangs past its signal: stop() still ends (drain, abort, drain) and a live dispatcher takes the task back', async () => {
    const path = uniquePath('bi-s');
    const dispatcher = new TaskScheduler(s, path, { roles: ['dispatcher'], rescanMs: 100 });
    const sched = new TaskScheduler(s, path, {
      workerId: 'w',
      drainTimeoutMs: 200,
      rescanMs: 100,
      handlers: { hang: () => new Promise(() => undefined) }, // never settles, ignores its signal
    });
    await sched.start();
    const id = await sched.submit('hang');
    await waitUntil(async () => (await sched.status(id))?.state === 'running', 'the task to run');
    const t = Date.now();
    await sched.stop();
    expect(Date.now() - t).toBeLessThan(5000);
    // the hung run never settles, so the worker cannot hand it back itself; its registration is
    // gone, so the dispatcher reclaims it
    await dispatcher.start();
    await waitUntil(async () => (await sched.status(id))?.state === 'pending', 'the task to be taken back');
    await dispatcher.stop();
    await s.delete(path, { recursive: true }).catch(() => undefined);
  });

  it('a leader selector whose handler throws gives up leadership and is re-queued', async () => {
    const path = uniquePath('bi-ls');
    let calls = 0;
    const sel = new LeaderSelector(s, path, {
      autoRequeue: true,
      onLeadership: () => {
        calls++;
        throw new Error('leader work failed');
      },
    });
    sel.on('error' as never, noop);
    sel.start();
    await waitUntil(() => calls >= 2, 'leadership to be taken again after the throw');
    await sel.close();
  });
});
