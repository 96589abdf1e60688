// Process crashes: kill -9 of the lock holder, the latch leader, a queue consumer mid-item, the
// scheduler's dispatcher and a worker running tasks, each a child process
// (test/fixtures/fault-child.ts). The server expires the dead process's session after its
// timeout (2 s); the survivors take over within the timeout plus a margin; the checkers prove
// exclusion, one leader per term, no lost item or task, periods fired exactly once.
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { DistributedQueue, TaskScheduler } from '../../src/index.js';
import { spawnClean, uniquePath, useServer, waitUntil } from '../helpers.js';
import { Tally, checkAccounting, checkElection, checkMutualExclusion, checkPeriods } from './checkers.js';
import { fromChildLog, readChildLog } from './harness.js';

const SESSION_MS = 2000;
const MARGIN_MS = 4000;
const zk = useServer();
const tally = new Tally('crash-faults.test.ts');
const dir = mkdtempSync(join(tmpdir(), 'zk-faults-crash-'));
const children = new Set<ChildProcess>();
afterEach(async () => {
  for (const c of children) c.kill('SIGKILL');
  await Promise.all([...children].map((c) => (c.exitCode !== null || c.signalCode !== null ? undefined : new Promise((r) => c.once('exit', r)))));
  children.clear();
});
afterAll(() => {
  tally.finish();
  rmSync(dir, { recursive: true, force: true });
});

function spawnChild(role: string, path: string, name: string, logfile: string): ChildProcess {
  const c = spawnClean([process.execPath, '--import', 'tsx', 'test/fixtures/fault-child.ts', role, zk.server.connectString, path, name, logfile], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  children.add(c);
  return c;
}

const readLog = readChildLog;

/** SIGKILLs `c` and resolves once it is gone, with the time of the kill. */
async function crash(c: ChildProcess): Promise<number> {
  const at = Date.now();
  const gone = new Promise((r) => c.once('exit', r));
  c.kill('SIGKILL');
  await gone;
  children.delete(c);
  tally.fault();
  return at;
}

describe('kill -9 of processes', () => {
  it('lock holder and latch leader crash: no overlap, one leader per term, takeover within the session timeout', async () => {
    const path = uniquePath('fc');
    const file = join(dir, 'lock-latch.jsonl');
    const procs = ['a', 'b', 'c'].map((n) => ({ name: n, proc: spawnChild('lock-latch', path, n, file) }));
    await waitUntil(() => readLog(file).filter((l) => l.ev === 'ready').length === 3, 'three children ready', 30_000);
    const killed = new Map<string, number>();
    const failures: Array<{ participant: string; at: number }> = [];
    for (const what of ['holder', 'leader'] as const) {
      // the current lock holder / latch leader, by the log
      const victimName = await waitUntil(
        () => {
          const lines = readLog(file).filter((l) => !killed.has(l.name));
          const ev = what === 'holder' ? 'acquired' : 'isLeader';
          const last = lines.filter((l) => l.ev === ev || (what === 'holder' ? l.ev === 'ended' : l.ev === 'notLeader')).at(-1);
          return last?.ev === ev ? last.name : undefined;
        },
        `a ${what}`,
        20_000,
        5,
      );
      const victim = procs.find((p) => p.name === victimName)!;
      const at = await crash(victim.proc);
      killed.set(victim.name, at);
      if (what === 'leader') failures.push({ participant: victim.name, at });
      // survivors take over
      await waitUntil(
        () => readLog(file).some((l) => l.ev === (what === 'holder' ? 'acquired' : 'isLeader') && l.t > at && !killed.has(l.name)),
        `a new ${what}`,
        SESSION_MS + 10_000,
      );
      tally.recovery(`${what} crash: survivors take over`, true);
    }
    // Holdings: a killed process's open holding (and leadership) ends at its kill.
    const { holdings, events } = fromChildLog(readLog(file), killed);
    const mutex = checkMutualExclusion(holdings);
    expect(tally.record('lock across crashes', mutex)).toEqual([]);
    const election = checkElection(events, failures, { withinMs: SESSION_MS + MARGIN_MS });
    expect(tally.record('latch across crashes', election)).toEqual([]);
    console.log(`[faults] crash: latch failover ${election.failovers.join(', ')} ms (session timeout ${SESSION_MS} ms)`);
  });

  it('queue consumer crashes mid-item: every item done, none lost, duplicates counted', async () => {
    const path = uniquePath('fc-queue');
    const file = join(dir, 'consumer.jsonl');
    const producer = await zk.connect({ sessionTimeoutMs: SESSION_MS });
    const items = Array.from({ length: 30 }, (_, i) => `i${i}`);
    await new DistributedQueue<string>(producer, path).putMany(items);
    const a = spawnChild('consumer', path, 'a', file);
    spawnChild('consumer', path, 'b', file);
    await waitUntil(() => readLog(file).filter((l) => l.ev === 'done' && l.name === 'a').length >= 3, 'consumer a to work', 30_000, 10);
    await crash(a);
    await waitUntil(
      () =>
        new Set(
          readLog(file)
            .filter((l) => l.ev === 'done')
            .map((l) => l.item),
        ).size === items.length,
      'every item done',
      30_000,
    );
    tally.recovery('queue drained by the survivor after a consumer crash', true);
    await waitUntil(async () => (await producer.getChildren(path)).length === 0, 'the queue empty');
    const report = checkAccounting(
      items,
      readLog(file)
        .filter((l) => l.ev === 'done')
        .map((l) => l.item!),
      { maxDuplicates: 2, what: 'queue item' },
    );
    expect(tally.record('queue across a consumer crash', report)).toEqual([]);
    console.log(`[faults] crash: ${report.duplicates} queue items handled twice (at-least-once; at most the crashed consumer's concurrency)`);
  });

  it('dispatcher and a busy worker crash: every task succeeds, periods fire exactly once', async () => {
    const path = uniquePath('fc-sched');
    const file = join(dir, 'scheduler.jsonl');
    const session = await zk.connect({ sessionTimeoutMs: SESSION_MS });
    const client = new TaskScheduler(session, path, { roles: [] });
    const procs = ['w1', 'w2', 'w3'].map((n) => ({ name: n, proc: spawnChild('scheduler', path, n, file) }));
    await waitUntil(() => readLog(file).filter((l) => l.ev === 'ready').length === 3, 'three instances ready', 30_000);
    await client.schedule('tick', { everyMs: 250 }, 'tick');
    await client.schedule('cron', { cron: '* * * * * *' }, 'tick'); // every second, UTC
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) ids.push(await client.submit('work', { i }));
    const killed = new Set<string>();
    // the dispatcher
    const leaderName = await waitUntil(
      () =>
        readLog(file)
          .filter((l) => l.ev === 'isLeader' || l.ev === 'notLeader')
          .at(-1)?.name,
      'a dispatcher',
      20_000,
    );
    const at = await crash(procs.find((p) => p.name === leaderName)!.proc);
    killed.add(leaderName!);
    await waitUntil(() => readLog(file).some((l) => l.ev === 'isLeader' && l.t > at && !killed.has(l.name)), 'a new dispatcher', SESSION_MS + 10_000);
    tally.record('dispatcher crash failover', { checks: 1, violations: [], failovers: [readLog(file).find((l) => l.ev === 'isLeader' && l.t > at)!.t - at] });
    // a worker in the middle of a task
    const busy = await waitUntil(
      () => {
        const ls = readLog(file).filter((l) => !killed.has(l.name));
        const started = ls.filter((l) => l.ev === 'start').at(-1);
        return started && !ls.some((l) => l.ev === 'end' && l.task === started.task && l.t >= started.t) ? started.name : undefined;
      },
      'a worker running a task',
      20_000,
      5,
    );
    await crash(procs.find((p) => p.name === busy)!.proc);
    killed.add(busy!);
    for (let i = 0; i < 4; i++) ids.push(await client.submit('work', { after: i }));
    await waitUntil(
      async () => (await Promise.all(ids.map((id) => client.status(id)))).every((s) => s?.state === 'succeeded'),
      'every task to succeed',
      40_000,
      200,
    );
    tally.recovery('scheduler works after dispatcher and worker crashes', true);
    await client.unschedule('tick');
    await client.unschedule('cron');
    const ends = readLog(file)
      .filter((l) => l.ev === 'end')
      .map((l) => l.task!);
    const tasks = checkAccounting(
      ids,
      ends.filter((t) => !t.startsWith('tick@') && !t.startsWith('cron@')),
      { maxDuplicates: 2, what: 'task' },
    );
    expect(tally.record('scheduler tasks across crashes', tasks)).toEqual([]);
    const periods = checkPeriods(
      'tick',
      (await client.list()).map((t) => t.id),
    );
    expect(periods.periods).toBeGreaterThan(3);
    expect(tally.record('scheduler periods across crashes', periods)).toEqual([]);
    const cron = checkPeriods(
      'cron',
      (await client.list()).map((t) => t.id),
      { fromFirst: true },
    );
    expect(cron.periods).toBeGreaterThan(1);
    expect(tally.record('cron fire times across crashes', cron)).toEqual([]);
    console.log(`[faults] crash: ${tasks.duplicates} task runs completed twice; ${periods.periods} periods fired, none missing or repeated`);
  });
});
