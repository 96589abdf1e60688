// The examples cannot rot: each recipe family has one, it imports only the package's public entry
// points, and it runs to exit code 0 against a real server (ZK_CONNECT pointed at this file's
// server). The scheduler example and the demo take longer and run in scripts/run-examples.sh.
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { useServer } from './helpers.js';

const SHORT = [
  'lock',
  'leader-election',
  'read-write-lock',
  'semaphore',
  'barrier',
  'double-barrier',
  'queue',
  'group-membership',
  'caches-counter',
  'shared-value',
  'service-discovery',
  'tree-cache',
];
const zk = useServer();

function run(name: string, connect: string): Promise<{ code: number | null; out: string; ms: number }> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', `examples/${name}.ts`], {
      env: { ...process.env, ZK_CONNECT: connect },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 45_000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out, ms: Date.now() - t0 });
    });
  });
}

describe('examples', () => {
  it('has a short example per recipe family, importing only the public entry points', () => {
    const files = readdirSync('examples').filter((f) => f.endsWith('.ts'));
    for (const name of [...SHORT, 'scheduler', 'demo', 'demo-worker']) expect(files).toContain(`${name}.ts`);
    for (const name of SHORT) {
      const text = readFileSync(`examples/${name}.ts`, 'utf8');
      const lines = text.split('\n').length;
      expect(lines, `${name}.ts has ${lines} lines`).toBeLessThanOrEqual(80);
      expect(text, `${name}.ts starts with a comment saying how to run it`).toMatch(new RegExp(`^//[^]*npx tsx examples/${name}\\.ts`));
      const imports = [...text.matchAll(/from '([^']+)'/g)].map((m) => m[1]!);
      for (const spec of imports) expect(['../src/index.js', '../src/testing/index.js', './_server.js'], `${name}.ts imports ${spec}`).toContain(spec);
    }
  });

  it('runs every short example to exit code 0', async () => {
    const failures: string[] = [];
    const queue = [...SHORT];
    // Three at a time: each is mostly waiting on the server.
    await Promise.all(
      [1, 2, 3].map(async () => {
        for (let name = queue.shift(); name; name = queue.shift()) {
          const r = await run(name, zk.server.connectString);
          if (r.code !== 0 || !r.out.includes('ok:')) failures.push(`${name}: exit ${r.code} after ${r.ms} ms\n${r.out}`);
        }
      }),
    );
    expect(failures).toEqual([]);
  }, 120_000);
});
