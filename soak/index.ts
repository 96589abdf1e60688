/**
 * `npm run soak -- --minutes N [--seed S] [--workers W] [--out file.json] [--keep]`: the seeded
 * fault soak. On a 3-server ensemble, W worker processes (each behind its own fault proxy) run
 * every recipe at once while the nemesis plays a fault schedule drawn from the seed; then it heals
 * everything, waits for recovery, quiets and drains the run, and the checkers read the history.
 * Prints a summary, writes it as JSON, exits 1 on any violation (naming the seed to replay).
 * @module
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { TaskScheduler, ZkSession } from '../src/index.js';
import { checkExclusive, checkReadWrite, checkSemaphore, holdingsOf, type CheckResult } from './checks.js';
import { SCHEDULES, checkEscapes, checkQueue, checkRegister, checkScheduler, checkSessionOrder } from './checks-flow.js';
import { type SoakCluster, startCluster } from './cluster.js';
import { soakPaths, type SoakPaths } from './context.js';
import { readLogs } from './log.js';
import { planFaults } from './nemesis.js';
import { healAll, playFaults } from './nemesis-play.js';
import { Random, randomSeed } from './random.js';
import { operations, printSummary, recoveryAfterFaults, summarizeChecks, type SoakSummary, writeSummary } from './report.js';
import { awaitRecovery, checkCaches, drain, quiesce } from './verify.js';

const SESSION_TIMEOUT_MS = 4000;

function options() {
  const { values } = parseArgs({
    options: {
      minutes: { type: 'string', default: '2' },
      seed: { type: 'string' },
      workers: { type: 'string', default: '4' },
      out: { type: 'string' },
      keep: { type: 'boolean', default: false },
    },
  });
  const minutes = Number(values.minutes);
  const workers = Number(values.workers);
  const seed = values.seed === undefined ? randomSeed() : Number(values.seed);
  if (!(minutes > 0)) throw new Error(`soak: --minutes must be a positive number, got ${values.minutes}`);
  if (!Number.isInteger(workers) || workers < 2 || workers > 16) throw new Error(`soak: --workers must be an integer in 2..16, got ${values.workers}`);
  if (!Number.isInteger(seed)) throw new Error(`soak: --seed must be an integer, got ${values.seed}`);
  return { minutes, workers, seed, out: values.out ?? join(tmpdir(), `zk-soak-${seed}.json`), keep: values.keep };
}

/** The run's layout, the register at version 0, and the two recurring schedules. */
async function setUp(session: ZkSession, paths: SoakPaths): Promise<TaskScheduler> {
  await session.create(paths.root, '', { createParents: true });
  await session.create(paths.register, '');
  const scheduler = new TaskScheduler(session, paths.sched, { roles: [] });
  await scheduler.start();
  await scheduler.schedule(SCHEDULES.every, { everyMs: 1000 }, 'tick');
  await scheduler.schedule(SCHEDULES.cron, { cron: '* * * * * *' }, 'tick');
  return scheduler;
}

const log = (m: string) => console.log(`[soak] ${m}`);

/** The end: heal, recovery, quiet, drain, caches, stop; then the checkers over the logs. */
async function finish(
  cluster: SoakCluster,
  session: ZkSession,
  paths: SoakPaths,
  scheduler: TaskScheduler,
  files: () => string[],
): Promise<{ results: CheckResult[]; healTimes: Record<string, number> }> {
  await healAll(cluster);
  const healedAt = Date.now();
  log('healed; waiting for every role to recover');
  const recovery = await awaitRecovery(() => readLogs(files()), cluster.workers, healedAt, 90_000);
  const quiet = await quiesce(cluster.workers, scheduler);
  log('quiet; draining the queue and the tasks');
  const { tasks, queued } = await drain(session, paths, scheduler, 120_000);
  const caches = await checkCaches(session, paths, cluster.workers, 30_000);
  const stops = await Promise.all(cluster.workers.map((w) => w.stop()));
  const lines = readLogs(files());
  const deaths = new Map(cluster.workers.flatMap((w) => [...w.deaths]));
  const ending: CheckResult = {
    name: 'quiet, drained, stopped',
    checks: 3,
    violations: [
      ...quiet,
      ...(queued ? [`${queued} item(s) still queued 120 s after quiet`] : []),
      ...stops.flatMap((r, i) => (r.ok ? [] : [`${cluster.workers[i]!.name} did not stop: ${r.error}`])),
    ],
    figures: { queued },
  };
  const results = [
    checkExclusive('lock', holdingsOf(lines, 'lock', deaths)),
    checkReadWrite(holdingsOf(lines, 'read', deaths), holdingsOf(lines, 'write', deaths)),
    checkSemaphore(holdingsOf(lines, 'sem', deaths)),
    checkExclusive('leader latch (one leader per term)', holdingsOf(lines, 'latch', deaths)),
    checkExclusive('leader selector (one leader per term)', holdingsOf(lines, 'selector', deaths)),
    checkQueue(lines),
    checkScheduler(lines, tasks),
    checkRegister(lines),
    checkSessionOrder(lines),
    caches,
    recovery.result,
    ending,
    checkEscapes(
      lines,
      cluster.workers.flatMap((w) => w.crashes),
    ),
  ];
  return { results, healTimes: recovery.times };
}

async function main(): Promise<number> {
  const o = options();
  const replay = `npm run soak -- --minutes ${o.minutes} --seed ${o.seed}${o.workers === 4 ? '' : ` --workers ${o.workers}`}`;
  log(`seed ${o.seed} (replay: ${replay})`);
  const t0 = Date.now();
  const dir = mkdtempSync(join(tmpdir(), `zk-soak-${o.seed}-`));
  const paths = soakPaths(`/soak-${o.seed}-${Date.now().toString(36)}`);
  const plan = planFaults(new Random(o.seed), o.minutes * 60_000, o.workers);
  const cluster = await startCluster({ workers: o.workers, dir, root: paths.root, sessionTimeoutMs: SESSION_TIMEOUT_MS, seed: o.seed });
  const files = () =>
    readdirSync(dir)
      .filter((f) => f.endsWith('.jsonl'))
      .map((f) => join(dir, f));
  try {
    const session = await ZkSession.connect(cluster.ensemble.connectString, { sessionTimeoutMs: 10_000 });
    const scheduler = await setUp(session, paths);
    await Promise.all(cluster.workers.map((w) => w.start()));
    log(`${o.workers} workers up; ${plan.length} faults over ${o.minutes} min`);
    const played = await playFaults(cluster, plan, (f) =>
      log(`+${((f.startedAt - t0) / 1000).toFixed(1)} s ${f.kind} ${f.targets.join(',')} for ${f.durationMs} ms`),
    );
    const { results, healTimes } = await finish(cluster, session, paths, scheduler, files);
    await scheduler.stop();
    await session.close();
    const lines = readLogs(files());
    const byKind: Record<string, number> = {};
    for (const f of played) byKind[f.kind] = (byKind[f.kind] ?? 0) + 1;
    const summary: SoakSummary = {
      seed: o.seed,
      minutes: o.minutes,
      workers: o.workers,
      startedAt: new Date(t0).toISOString(),
      durationS: (Date.now() - t0) / 1000,
      faults: { total: played.length, byKind, failedToApply: played.filter((f) => f.error).map((f) => `${f.kind} ${f.targets.join(',')}: ${f.error}`) },
      operations: operations(lines),
      checks: summarizeChecks(results),
      violations: results.reduce((n, r) => n + r.violations.length, 0),
      recoveryAfterFaultMs: recoveryAfterFaults(
        played,
        lines,
        cluster.workers.map((w) => w.name),
      ),
      recoveryAfterHealMs: healTimes,
      replay,
    };
    printSummary(summary);
    writeSummary(o.out, summary);
    log(`summary written to ${o.out}${o.keep || summary.violations ? `; logs kept in ${dir}` : ''}`);
    if (!o.keep && summary.violations === 0) rmSync(dir, { recursive: true, force: true });
    return summary.violations === 0 ? 0 : 1;
  } finally {
    await cluster.close();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error('[soak] failed:', err);
    process.exit(2);
  },
);
