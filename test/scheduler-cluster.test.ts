// TaskScheduler across processes: each worker (also a dispatcher candidate) is a child process
// (test/fixtures/scheduler-worker.ts) that logs the start and end of every task run; the test
// process only submits and reads. Properties checked from the workers' own logs: capacity never
// exceeded, work spread, nothing lost after kill -9 of a worker or of the dispatcher, no task run
// by two live workers at once, and one task per schedule period across a dispatcher failover.
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { TaskScheduler } from '../recipes/scheduler/index.js';
import { spawnClean, uniquePath, useServer, waitUntil } from './helpers.js';

const zk = useServer();
const dir = mkdtempSync(join(tmpdir(), 'sched-'));
const children = new Set<ChildProcess>();

interface LogLine {
  ev: string;
  worker: string;
  t: number;
  task?: string;
  attempt?: number;
  failed?: boolean;
}
interface Proc {
  id: string;
  child: ChildProcess;
  log: string;
  killedAt?: number;
}

function spawnWorker(path: string, id: string, capacity = 2): Proc {
  const log = join(dir, `${path.slice(1)}-${id}.log`);
  const child = spawnClean(
    [process.execPath, '--import', 'tsx', 'test/fixtures/scheduler-worker.ts', zk.server.connectString, path, id, String(capacity), log],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  children.add(child);
  child.on('exit', () => children.delete(child));
  return { id, child, log };
}

function lines(p: Proc): LogLine[] {
  if (!existsSync(p.log)) return [];
  return readFileSync(p.log, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as LogLine);
}

function kill9(p: Proc): void {
  p.killedAt = Date.now();
  p.child.kill('SIGKILL');
}

async function cluster(path: string, n: number, capacity = 2): Promise<Proc[]> {
  const procs = Array.from({ length: n }, (_, i) => spawnWorker(path, `w${i + 1}`, capacity));
  await waitUntil(() => procs.every((p) => lines(p).some((l) => l.ev === 'ready')), 'workers ready', 30_000);
  await waitUntil(() => procs.some((p) => lines(p).some((l) => l.ev === 'leader')), 'a dispatcher', 30_000);
  return procs;
}

/** The process whose most recent leadership event is `leader` (and alive). */
function leaderOf(procs: Proc[]): Proc | undefined {
  return procs.find(
    (p) =>
      p.killedAt === undefined
      && lines(p)
        .filter((l) => l.ev === 'leader' || l.ev === 'notLeader')
        .at(-1)?.ev === 'leader',
  );
}

/** Runs per task: [start, end] where a killed process's unfinished run ends at its kill time. */
function runs(procs: Proc[]): Map<string, { worker: string; start: number; end: number; finished: boolean }[]> {
  const out = new Map<string, { worker: string; start: number; end: number; finished: boolean }[]>();
  for (const p of procs) {
    const open = new Map<string, number>();
    for (const l of lines(p)) {
      if (l.ev === 'start') open.set(l.task!, l.t);
      if (l.ev === 'end') {
        const list = out.get(l.task!) ?? [];
        list.push({ worker: p.id, start: open.get(l.task!)!, end: l.t, finished: true });
        out.set(l.task!, list);
        open.delete(l.task!);
      }
    }
    for (const [task, start] of open) {
      const list = out.get(task) ?? [];
      list.push({ worker: p.id, start, end: p.killedAt ?? Infinity, finished: false });
      out.set(task, list);
    }
  }
  return out;
}

function expectNoOverlap(procs: Proc[]): void {
  for (const [task, rs] of runs(procs)) {
    const sorted = [...rs].sort((a, b) => a.start - b.start);
    for (let i = 1; i < sorted.length; i++) {
      expect(sorted[i]!.start, `task ${task} run by ${sorted[i]!.worker} while ${sorted[i - 1]!.worker} ran it`).toBeGreaterThanOrEqual(sorted[i - 1]!.end);
    }
  }
}

function maxConcurrent(p: Proc): number {
  let now = 0;
  let max = 0;
  const evs = lines(p).filter((l) => l.ev === 'start' || l.ev === 'end');
  for (const l of evs) {
    now += l.ev === 'start' ? 1 : -1;
    max = Math.max(max, now);
  }
  return max;
}

async function client(path: string): Promise<TaskScheduler> {
  return new TaskScheduler(await zk.connect(), path, { roles: [] });
}

async function waitAll(c: TaskScheduler, ids: string[], timeoutMs = 40_000): Promise<void> {
  const states = await Promise.all(ids.map((id) => c.waitFor(id, { timeoutMs })));
  expect(states.filter((s) => s.state !== 'succeeded').map((s) => `${s.id}:${s.state}:${s.error}`)).toEqual([]);
}

afterEach(async () => {
  await Promise.all(
    [...children].map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null || c.signalCode !== null) return resolve();
          c.once('exit', () => resolve());
          c.kill('SIGKILL');
        }),
    ),
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('TaskScheduler across processes', () => {
  it('3 workers of capacity 2 run 30 tasks: all succeed, spread evenly, never above capacity', async () => {
    const path = uniquePath('sched');
    const procs = await cluster(path, 3);
    const c = await client(path);
    const ids = await Promise.all(Array.from({ length: 30 }, (_, i) => c.submit('sleep', { ms: 100 + (i % 3) * 50 })));
    await waitAll(c, ids);
    const counts = procs.map((p) => lines(p).filter((l) => l.ev === 'end').length);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(30);
    expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(4);
    for (const p of procs) expect(maxConcurrent(p)).toBeLessThanOrEqual(2);
    expect(Math.max(...procs.map(maxConcurrent))).toBe(2); // the capacity was actually used
    expectNoOverlap(procs);
  });

  it('kill -9 of a worker running tasks: every task still succeeds', async () => {
    const path = uniquePath('sched');
    const procs = await cluster(path, 3);
    const c = await client(path);
    // Kill a worker that is not the dispatcher (the next test covers that).
    const victim = procs.find((p) => p !== leaderOf(procs))!;
    const ids = await Promise.all(Array.from({ length: 18 }, () => c.submit('sleep', { ms: 600 })));
    await waitUntil(() => {
      const ls = lines(victim);
      return ls.filter((l) => l.ev === 'start').length > ls.filter((l) => l.ev === 'end').length;
    }, 'victim running a task');
    kill9(victim);
    await waitAll(c, ids);
    const interrupted = [...runs(procs)].filter(([, rs]) => rs.some((r) => !r.finished)).map(([t]) => t);
    expect(interrupted.length).toBeGreaterThan(0);
    for (const id of interrupted) {
      const st = await c.status(id);
      expect(st?.state).toBe('succeeded');
      expect(st?.worker).not.toBe(victim.id);
      expect(st?.attempt).toBeGreaterThanOrEqual(2); // the vanished worker's attempt counted
    }
    expectNoOverlap(procs);
  });

  it('kill -9 of the dispatcher mid-stream: another takes over, nothing lost, no task on two live workers', async () => {
    const path = uniquePath('sched');
    const procs = await cluster(path, 3);
    const c = await client(path);
    const leader = leaderOf(procs)!;
    const ids = await Promise.all(Array.from({ length: 24 }, () => c.submit('sleep', { ms: 250 })));
    await waitUntil(() => procs.reduce((n, p) => n + lines(p).filter((l) => l.ev === 'end').length, 0) >= 4, 'some tasks done');
    kill9(leader);
    const more = await Promise.all(Array.from({ length: 6 }, () => c.submit('sleep', { ms: 100 })));
    await waitAll(c, [...ids, ...more]);
    const next = await waitUntil(() => leaderOf(procs), 'a new dispatcher');
    expect(next).not.toBe(leader);
    expectNoOverlap(procs);
    // A task finished by a live worker was run to the end once, except one whose first run ended
    // on the killed process just before its outcome was written (at least once, never concurrently).
    for (const [task, rs] of runs(procs)) {
      const finishedLive = rs.filter((r) => r.finished && r.worker !== leader.id);
      expect(finishedLive.length, `task ${task}`).toBeLessThanOrEqual(1);
    }
  });

  it('a schedule every 500 ms across a dispatcher failover: one task per period, none skipped or doubled', async () => {
    const path = uniquePath('sched');
    const procs = await cluster(path, 2);
    const c = await client(path);
    const startAt = Date.now();
    await c.schedule('beat', { everyMs: 500, startAt }, 'sleep', { ms: 20 });
    const fired = async () => (await c.list()).filter((t) => t.schedule?.id === 'beat');
    await waitUntil(async () => (await fired()).length >= 3, 'three periods', 20_000);
    const leader = leaderOf(procs)!;
    kill9(leader);
    await waitUntil(() => leaderOf(procs), 'a new dispatcher', 20_000);
    const target = Math.floor((Date.now() - startAt) / 500) + 3;
    await waitUntil(async () => (await fired()).filter((t) => t.state === 'succeeded').length >= target, `${target} periods done`, 30_000);
    await c.unschedule('beat');
    const tasks = await fired();
    const periods = tasks.map((t) => t.schedule!.period).sort((a, b) => a - b);
    expect(periods).toEqual(periods.map((_, i) => i)); // 0..n-1: none skipped, none doubled
    // The failover left periods without a dispatcher: they were fired late, not skipped.
    expect(tasks.some((t) => t.createdAt - t.runAt >= 1000)).toBe(true);
    for (const t of tasks) {
      expect(t.id).toBe(`beat@${t.schedule!.period}`);
      expect(t.runAt).toBe(startAt + t.schedule!.period * 500);
    }
    // Each period's task started no earlier than its period, and ran to the end at most once.
    for (const [task, rs] of runs(procs)) {
      const period = Number(task.split('@')[1]);
      for (const r of rs) expect(r.start).toBeGreaterThanOrEqual(startAt + period * 500);
      expect(rs.filter((r) => r.finished).length, task).toBeLessThanOrEqual(1);
    }
  });
});
