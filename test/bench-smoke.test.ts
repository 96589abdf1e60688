// The bench end to end with tiny sizes against the test server: stdout carries only JSON lines in
// the anchors' schema (lib "zk-recipes", a meta line first, every workload with its fields), the
// properties the bench checks hold (no violations, no duplicates, one wake-up per release), the
// run exits 0, and a missing recipe is an error line rather than a crash.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { MissingRecipeError, loadRecipe } from '../bench/recipes.js';
import { pct } from '../bench/lib.js';
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
};

describe('bench', () => {
  it('prints only JSON lines in the anchors schema and exits 0', async () => {
    const { code, stdout, stderr } = await runBench(['--json', '--tiny'], { ZK_CONNECT: zk.server.connectString });
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
    expect((by.get('W1')!['round_trips'] as { per_cycle: { total: number } }).per_cycle.total).toBeGreaterThanOrEqual(3);
  }, 120_000);

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
