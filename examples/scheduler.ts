// The cluster task scheduler across several processes: three worker processes (each also a
// dispatcher candidate) run "compress the logs" tasks submitted from this process; halfway through,
// the dispatcher's process is killed and another takes over without losing a task.
//
//   node --import tsx examples/scheduler.ts          (starts a local ZooKeeper unless ZK_CONNECT is set)
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ZkSession, withoutInheritedFds } from '../src/index.js';
import { startZooKeeper } from '../src/testing/index.js';
import { TaskScheduler } from '../recipes/scheduler/index.js';

const PATH = '/examples/scheduler';
const self = fileURLToPath(import.meta.url);

async function worker(connect: string, id: string): Promise<void> {
  const session = await ZkSession.connect(connect, { sessionTimeoutMs: 2000 });
  const scheduler = new TaskScheduler(session, PATH, {
    workerId: id,
    capacity: 2,
    handlers: {
      async compress(payload: { file: string }, { signal, attempt }) {
        await new Promise<void>((resolve, reject) => {
          const t = setTimeout(resolve, 300);
          signal.addEventListener(
            'abort',
            () => {
              clearTimeout(t);
              reject(signal.reason);
            },
            { once: true },
          );
        });
        return { file: `${payload.file}.gz`, by: id, attempt };
      },
    },
  });
  scheduler.on('isLeader', () => console.log(`[${id}] is the dispatcher now (pid ${process.pid})`));
  await scheduler.start();
  process.send?.({ ready: id });
  process.on(
    'SIGTERM',
    () =>
      void scheduler
        .stop()
        .then(() => session.close())
        .then(() => process.exit(0)),
  );
}

async function main(): Promise<void> {
  const server = process.env['ZK_CONNECT'] ? undefined : await startZooKeeper();
  const connect = process.env['ZK_CONNECT'] ?? server!.connectString;
  const children = new Map<string, ChildProcess>();
  const session = await ZkSession.connect(connect);
  try {
    await session.delete(PATH, { recursive: true });
    for (const id of ['alpha', 'beta', 'gamma']) {
      // Spawned without this process's descriptors: the binding would leak the session's socket.
      const [cmd, ...args] = withoutInheritedFds([process.execPath, '--import', 'tsx', self, 'worker', connect, id], 4);
      const child = spawn(cmd!, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      children.set(id, child);
      await new Promise((resolve) => child.once('message', resolve));
    }
    const client = new TaskScheduler(session, PATH, { roles: [] }); // submits and reads only
    const ids = [];
    for (let day = 1; day <= 24; day++) ids.push(await client.submit('compress', { file: `app-2026-11-${day}.log` }, { key: `compress-${day}` }));
    console.log(`submitted ${ids.length} tasks`);

    await new Promise((r) => setTimeout(r, 700));
    const leaderId = (await session.getChildren(`${PATH}/leader`)).length > 0 ? await whoLeads(session) : undefined;
    if (leaderId && children.has(leaderId)) {
      console.log(`killing the dispatcher ${leaderId} with SIGKILL`);
      children.get(leaderId)!.kill('SIGKILL');
      children.delete(leaderId);
    }

    const done = await Promise.all(ids.map((id) => client.waitFor(id, { timeoutMs: 60_000 })));
    const by = new Map<string, number>();
    for (const t of done) by.set(String(t.worker), (by.get(String(t.worker)) ?? 0) + 1);
    console.log(`all ${done.length} tasks ${[...new Set(done.map((t) => t.state))].join('/')}; per worker:`, Object.fromEntries(by));
    console.log(
      'retried after the kill:',
      done.filter((t) => t.attempt > 1).map((t) => (t.result as { file: string }).file),
    );
  } finally {
    for (const c of children.values()) c.kill('SIGTERM');
    await Promise.all([...children.values()].map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.once('exit', r)))));
    await session.close();
    await server?.close();
  }
}

/** The dispatcher's id: the data of the lowest latch node. */
async function whoLeads(session: ZkSession): Promise<string | undefined> {
  const nodes = await session.getChildren(`${PATH}/leader`);
  const first = nodes.sort((a, b) => a.slice(-10).localeCompare(b.slice(-10)))[0];
  return first ? (await session.get(`${PATH}/leader/${first}`)).data.toString() : undefined;
}

if (process.argv[2] === 'worker') await worker(process.argv[3]!, process.argv[4]!);
else await main();
