// One ensemble fault scenario, shared by the ensemble-*.test.ts files: a fresh 3-server ensemble,
// three child processes each running a lock contender and a latch participant
// (test/fixtures/fault-child.ts, role lock-latch), then `faults` injected one after another.
// After each fault every contender acquires again and exactly one latch leads with 3
// participants (recovery without a restart); at the end the lock holdings and the latch terms
// from the children's logs go through the checkers.
//
// Why child processes, one session each: that is how services run. (It also kept the scenario
// clear of the native binding's faults, docs/binding-issues.md; the default transport has none,
// and test/faults/stress-service.test.ts runs many sessions in one process while servers fail.)
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ZkSession } from '../../src/index.js';
import { startEnsemble, type ZooKeeperEnsemble } from '../../src/testing/index.js';
import { spawnClean, uniquePath, waitUntil } from '../helpers.js';
import { Tally, checkElection, checkMutualExclusion } from './checkers.js';
import { fromChildLog, leadersOf, readChildLog, type ChildLogLine } from './harness.js';

/** Long enough to ride out a re-election (tickTime 200 ms) and a brief loss of quorum. */
export const ENSEMBLE_SESSION_MS = 10_000;

/** A contender process of the scenario. */
export interface ScenarioChild {
  name: string;
  sessionId: string;
  proc: ChildProcess;
}

/** What a fault step gets. */
export interface ScenarioContext {
  ensemble: ZooKeeperEnsemble;
  children: readonly ScenarioChild[];
  tally: Tally;
  /** Every line the children logged so far. */
  log(): ChildLogLine[];
  /** Waits until every contender acquired again and one latch leads with 3 participants. */
  recovered(label: string): Promise<void>;
  step(what: string): void;
}

/** Registers the hooks and the one test of a scenario file. */
export function ensembleScenario(file: string, title: string, faults: (ctx: ScenarioContext) => Promise<void>): void {
  const tally = new Tally(file);
  const dir = mkdtempSync(join(tmpdir(), 'zk-faults-ensemble-'));
  const logFile = join(dir, 'children.jsonl');
  let ensemble: ZooKeeperEnsemble;
  let observer: ZkSession;
  const children: ScenarioChild[] = [];
  const path = uniquePath('fe');
  const log = () => readChildLog(logFile);

  beforeAll(async () => {
    ensemble = await startEnsemble(3);
    for (const name of ['c0', 'c1', 'c2']) {
      const proc = spawnClean(
        [
          process.execPath,
          '--import',
          'tsx',
          'test/fixtures/fault-child.ts',
          'lock-latch',
          ensemble.connectString,
          path,
          name,
          logFile,
          String(ENSEMBLE_SESSION_MS),
        ],
        { stdio: ['ignore', 'ignore', 'inherit'] },
      );
      children.push({ name, sessionId: '', proc });
    }
    await waitUntil(() => log().filter((l) => l.ev === 'ready').length === 3, 'three contender processes ready', 60_000);
    for (const c of children) c.sessionId = log().find((l) => l.ev === 'ready' && l.name === c.name)!.session!;
    observer = await ZkSession.connect(ensemble.connectString, { sessionTimeoutMs: ENSEMBLE_SESSION_MS });
  }, 120_000);
  afterAll(async () => {
    tally.finish();
    for (const c of children) if (c.proc.exitCode === null) c.proc.kill('SIGKILL');
    await observer?.close();
    await ensemble?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it(title, async () => {
    const t0 = Date.now();
    const step = (what: string) => {
      if (process.env['FAULTS_VERBOSE']) console.log(`[faults] +${Date.now() - t0} ms ${what}`);
    };
    const recovered = async (label: string) => {
      const t = Date.now();
      const acquiredSince = (n: string) => log().some((l) => l.ev === 'acquired' && l.name === n && l.t >= t);
      await waitUntil(() => children.every((c) => acquiredSince(c.name)), `${label}: every lock contender to acquire again`, 40_000).catch((err: Error) => {
        throw new Error(`${err.message}; acquired again: ${children.map((c) => `${c.name} ${acquiredSince(c.name)}`)}`);
      });
      await waitUntil(() => leadersOf(log()).length === 1, `${label}: one latch leader`, 40_000).catch((err: Error) => {
        throw new Error(`${err.message}; leaders: ${leadersOf(log())}`);
      });
      await waitUntil(async () => (await observer.getChildren(`${path}-latch`)).length === 3, `${label}: 3 latch participants`, 40_000);
      tally.recovery(label, true);
      step(`recovered: ${label}`);
    };
    await recovered('start');
    await faults({ ensemble, children, tally, log, recovered, step });

    // Stop the children: each closes its session, so its nodes go with it.
    const stoppedAt = new Map<string, number>();
    await Promise.all(
      children.map(async (c) => {
        const gone = new Promise((r) => c.proc.once('exit', r));
        stoppedAt.set(c.name, Date.now());
        c.proc.kill('SIGTERM');
        await gone;
      }),
    );
    const { holdings, events } = fromChildLog(log(), stoppedAt);
    // No session expired (every outage was shorter than the session timeout), so a holder always
    // learned it may have lost the lock (suspended) before anyone else could get it: no overlap.
    const mutex = checkMutualExclusion(holdings);
    expect(tally.record('lock under server faults', mutex)).toEqual([]);
    expect(mutex.checks).toBeGreaterThan(3);
    const election = checkElection(events, [], { withinMs: ENSEMBLE_SESSION_MS + 3000 });
    expect(tally.record('latch under server faults', election)).toEqual([]);
    await waitUntil(async () => (await observer.getChildren(`${path}-lock`).catch(() => [])).length === 0, 'no lock node left behind');
  }, 150_000);
}
