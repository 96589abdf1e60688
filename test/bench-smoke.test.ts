// The bench end to end with tiny sizes against the test server: stdout carries only JSON lines in
// the anchors' schema (lib "zk-recipes", a meta line first, every workload with its fields), the
// properties the bench checks hold (no violations, no duplicates, one wake-up per release, one
// lock holder among the SESSIONS), the CURVES chart is written where `chart=` says, the table's
// "server share" column appears with a SERVER row (and only then), the run exits 0, and a
// missing recipe is an error line rather than a crash.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { MissingRecipeError, loadRecipe } from '../bench/recipes.js';
import { pct } from '../bench/lib.js';
import { perOpFields, shareColumns } from '../bench/scale.js';
import { useServer } from './helpers.js';

const zk = useServer();
const ROOT = fileURLToPath(new URL('..', import.meta.url));

function runBench(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/index.ts', ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const t = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`bench did not finish; stderr:\n${stderr}`));
    }, 100_000);
    child.on('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
    child.on('exit', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
}

const FIELDS: Record<string, string[]> = {
  W0: ['n', 'ops_per_s', 'p50_ms', 'p99_ms'],
  W1: ['n', 'ops_per_s', 'p50_ms', 'p99_ms'],
  W2: ['n', 'ops_per_s', 'wait_p50_ms', 'wait_p99_ms', 'violations'],
  W3: ['n', 'p50_ms', 'p99_ms'],
  W4a: ['n', 'offer_per_s', 'take_per_s'],
  W4b: ['n', 'items_per_s', 'duplicates'],
  W5: ['p50_ms', 'p99_ms'],
  W6: ['n', 'tasks_per_s', 'failover_ms'],
  herd: ['waiters', 'wakeups_per_release', 'bytes_per_waiter'],
  SERVER: ['write_ops_per_s', 'read_ops_per_s', 'write_batch_ms', 'read_batch_ms'],
  SESSIONS: ['sessions', 'connect_ms', 'sessions_per_s', 'heap_ext_bytes_per_session', 'rss_bytes_per_session', 'lock_ms', 'cycles_per_s', 'max_holders'],
};

const TMP = mkdtempSync(join(tmpdir(), 'zkr-bench-smoke-'));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));

describe('bench', () => {
  it('prints only JSON lines in the anchors schema and exits 0', async () => {
    const chart = join(TMP, 'curves.svg');
    const { code, stdout, stderr } = await runBench(['--json', '--tiny', `chart=${chart}`], { ZK_CONNECT: zk.server.connectString });
    expect(code, stderr).toBe(0);
    const lines = stdout.split('\n').filter((l) => l.length > 0);
    const rows = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    for (const r of rows) {
      expect(r['lib']).toBe('zk-recipes');
      expect(typeof r['workload']).toBe('string');
    }
    expect(rows[0]!['workload']).toBe('meta');
    const errors = rows.filter((r) => r['workload'] === 'error');
    expect(errors, JSON.stringify(errors)).toEqual([]);
    const by = new Map(rows.map((r) => [r['workload'] as string, r]));
    for (const [w, fields] of Object.entries(FIELDS)) {
      const r = by.get(w);
      expect(r, `workload ${w} missing; stderr:\n${stderr}`).toBeDefined();
      for (const f of fields) expect(typeof r![f], `${w}.${f}`).toBe('number');
    }
    expect(by.get('W2')!['violations']).toBe(0);
    expect(by.get('W4b')!['duplicates']).toBe(0);
    expect(by.get('herd')!['wakeups_per_release']).toBe(1);
    // the lock cycle's round trips are counted: create + getChildren + delete
    const w1 = by.get('W1')!;
    const w1Total = (w1['round_trips'] as { per_cycle: { total: number } }).per_cycle.total;
    expect(w1Total).toBeGreaterThanOrEqual(3);
    // ... and split into writes (create, delete) and reads (the listing)
    expect(w1['writes_per_op']).toBeGreaterThanOrEqual(2);
    expect(w1['reads_per_op']).toBeGreaterThanOrEqual(1);
    expect((w1['writes_per_op'] as number) + (w1['reads_per_op'] as number)).toBeCloseTo(w1Total, 2);
    // the server's ceiling is not a share of itself
    expect(by.get('SERVER')!['writes_per_op']).toBeUndefined();
    // SESSIONS: all of them opened in the child, one lock holder at a time
    const sessions = by.get('SESSIONS')!;
    expect(sessions['sessions']).toBe(20);
    expect(sessions['max_holders']).toBe(1);
    expect(sessions['violations']).toBe(0);
    expect(sessions['gc_exposed']).toBe(true);
    // CURVES: every curve has points, and the chart went where chart= said
    const curves = rows.filter((r) => r['workload'] === 'CURVES');
    expect(new Set(curves.map((r) => r['curve']))).toEqual(new Set(['lock', 'queue', 'scheduler', 'failover']));
    for (const r of curves) expect(typeof r['n'], JSON.stringify(r)).toBe('number');
    const svg = readFileSync(chart, 'utf8');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('tiny sizes');
  }, 120_000);

  it('prints the server share column when SERVER ran, and only then', async () => {
    const withServer = await runBench(['--tiny', 'only=SERVER,W1'], { ZK_CONNECT: zk.server.connectString });
    expect(withServer.code, withServer.stderr).toBe(0);
    const lines = withServer.stdout.split('\n');
    expect(lines.find((l) => l.startsWith('| workload'))).toContain('server share');
    expect(lines.find((l) => l.startsWith('| W1 '))).toMatch(/\| writes \d+(\.\d)?% · reads \d+(\.\d)?% +\|$/);
    const without = await runBench(['--tiny', 'only=W1'], { ZK_CONNECT: zk.server.connectString });
    expect(without.code, without.stderr).toBe(0);
    expect(without.stdout.split('\n').find((l) => l.startsWith('| workload'))).not.toContain('server share');
  }, 60_000);

  it('computes the share from requests per op, rate and ceiling (per phase for W4a)', () => {
    const server = { workload: 'SERVER', name: 'server-ceiling', write_ops_per_s: 10_000, read_ops_per_s: 40_000 };
    const w1 = { workload: 'W1', name: 'lock', ops_per_s: 1000, round_trips: { per_cycle: { create: 1, getChildren: 1, delete: 1, total: 3 } } };
    const w4a = {
      workload: 'W4a',
      name: 'queue',
      offer_per_s: 2000,
      take_per_s: 1000,
      round_trips: { per_offer: { create: 1, total: 1 }, per_take: { get: 1, delete: 1, total: 2 } },
    };
    const w4b = {
      workload: 'W4b',
      name: 'queue',
      items_per_s: 500,
      round_trips: { producer_per_item: { create: 1, total: 1 }, consumer_per_item: { create: 1, get: 1, multi: 1, total: 3 } },
    };
    const w3 = { workload: 'W3', name: 'failover', p50_ms: 2, round_trips: { per_failover: { delete: 1, getChildren: 1, total: 2 } } };
    const [col] = shareColumns([server, w1]);
    expect(col!.head).toBe('server share');
    // 2 writes × 1000/s ÷ 10 000/s; 1 read × 1000/s ÷ 40 000/s
    expect(col!.cell(w1)).toBe('writes 20% · reads 2.5%');
    expect(col!.cell(w4a)).toBe('offer: writes 20% · reads 0%; take: writes 10% · reads 2.5%');
    // a multi is one write: (1 + 2) × 500 ÷ 10 000; 1 × 500 ÷ 40 000
    expect(col!.cell(w4b)).toBe('writes 15% · reads 1.3%');
    expect(col!.cell(w3)).toBe('');
    expect(col!.cell(server)).toBe('');
    expect(shareColumns([w1, w4a])).toEqual([]);
    expect(perOpFields(w1)).toEqual({ writes_per_op: 2, reads_per_op: 1 });
    expect(perOpFields(w4a)).toEqual({ offer_writes_per_op: 1, offer_reads_per_op: 0, take_writes_per_op: 1, take_reads_per_op: 1 });
    expect(perOpFields(w3)).toEqual({ writes_per_op: 1, reads_per_op: 1 });
    expect(perOpFields(server)).toEqual({});
  });

  it('runs only the selected workloads', async () => {
    const { code, stdout } = await runBench(['--json', '--tiny', 'only=W0'], { ZK_CONNECT: zk.server.connectString });
    expect(code).toBe(0);
    const kinds = stdout
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { workload: string }).workload);
    expect(kinds).toEqual(['meta', 'W0']);
  }, 60_000);

  it('names a missing recipe instead of crashing', async () => {
    await expect(loadRecipe('no-such-recipe.js', 'Nope')).rejects.toBeInstanceOf(MissingRecipeError);
    await expect(loadRecipe('no-such-recipe.js', 'Nope')).rejects.toThrow(/Nope from recipes\/no-such-recipe\.ts/);
    await expect(loadRecipe('lock.js', 'Nope')).rejects.toThrow(/has no export Nope/);
  });

  it('uses nearest-rank percentiles', () => {
    const s = [5, 1, 4, 2, 3];
    expect(pct(s, 50)).toBe(3);
    expect(pct(s, 99)).toBe(5);
    expect(pct(s, 0)).toBe(1);
    expect(
      pct(
        Array.from({ length: 100 }, (_, i) => i + 1),
        99,
      ),
    ).toBe(99);
  });
});
