// The published tarball: installs into an empty project with no compiler on PATH and no native
// module in the tree, works from ESM, from CommonJS `require` (Node 20's require(esm)) and from
// TypeScript, and its runtime dependencies do not include the test kit's dev dependencies.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { useServer } from './helpers.js';

const root = resolve(import.meta.dirname, '..');
const work = mkdtempSync(join(tmpdir(), 'zk-recipes-pack-'));
const zk = useServer();
afterAll(() => rmSync(work, { recursive: true, force: true }));

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): string {
  return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...env, npm_config_loglevel: 'error' } });
}

/** A PATH holding only node, npm and npx (and a shell's basics), so no compiler can be found. */
function pathWithoutCompilers(): string {
  const bin = join(work, 'bin');
  execFileSync('mkdir', ['-p', bin]);
  const which = (c: string) => execFileSync('sh', ['-c', `command -v ${c}`], { encoding: 'utf8' }).trim();
  for (const c of ['node', 'npm', 'npx', 'sh', 'env']) symlinkSync(which(c), join(bin, c));
  return bin;
}

/** Every file under `dir` whose name ends with `suffix`. */
function findFiles(dir: string, suffix: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile() && e.name.endsWith(suffix)) out.push(join(e.parentPath, e.name));
  }
  return out;
}

describe('npm pack', () => {
  it('installs into an empty project and works from ESM, CommonJS and TypeScript', { timeout: 240_000 }, async () => {
    const out = run('npm', ['pack', '--silent', '--pack-destination', work], root).trim().split('\n').pop()!;
    const tarball = join(work, out);
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
    for (const dev of ['testcontainers', 'vitest', 'typescript', 'tsx', 'typedoc']) {
      expect(Object.keys(pkg.dependencies), dev).not.toContain(dev);
    }
    const app = join(work, 'app');
    execFileSync('mkdir', ['-p', app]);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));
    expect(Object.keys(pkg.dependencies)).not.toContain('zookeeper');
    // No python3, make or C++ compiler reachable: an install that needed one would fail here.
    const bare = { ...process.env, PATH: pathWithoutCompilers() };
    expect(() => run('sh', ['-c', 'command -v g++ || command -v make || command -v python3'], app, bare)).toThrow();
    const t0 = Date.now();
    run('npm', ['install', '--no-audit', '--no-fund', tarball, `typescript@${pkg.devDependencies.typescript}`, '@types/node@20'], app, bare);
    console.log(`packaging: npm install of the tarball (+ typescript, @types/node) took ${Date.now() - t0} ms with no compiler on PATH`);
    // No native module anywhere in the installed tree, and neither optional peer is installed.
    expect(findFiles(join(app, 'node_modules'), '.node')).toEqual([]);
    expect(findFiles(join(app, 'node_modules'), 'binding.gyp')).toEqual([]);
    for (const optional of ['testcontainers', 'zookeeper']) {
      expect(() => run('node', ['-e', `require.resolve('${optional}')`], app), optional).toThrow();
    }

    const cs = zk.server.connectString;
    writeFileSync(
      join(app, 'esm.mjs'),
      `
      import { ZkSession, Lock, NoNodeError } from 'zk-recipes';
      const s = await ZkSession.connect(process.argv[2]);
      const lease = await new Lock(s, '/pack-esm').acquire();
      await lease.release();
      const e = await s.get('/pack-missing').catch((x) => x);
      console.log('esm', e instanceof NoNodeError, typeof lease.fencingToken);
      await s.close();`,
    );
    expect(run('node', ['esm.mjs', cs], app).trim()).toBe('esm true bigint');

    writeFileSync(
      join(app, 'cjs.cjs'),
      `
      const { ZkSession, Lock } = require('zk-recipes');
      const { startZooKeeper } = require('zk-recipes/testing');
      (async () => {
        const s = await ZkSession.connect(process.argv[2]);
        const lease = await new Lock(s, '/pack-cjs').acquire();
        await lease.release();
        console.log('cjs', typeof startZooKeeper, s.state);
        await s.close();
      })();`,
    );
    expect(run('node', ['cjs.cjs', cs], app).trim()).toBe('cjs function connected');

    writeFileSync(
      join(app, 'typed.ts'),
      `
      import { ZkSession, Lock, type Lease } from 'zk-recipes';
      import { startZooKeeper } from 'zk-recipes/testing';
      export async function f(cs: string): Promise<bigint> {
        const s: ZkSession = await ZkSession.connect(cs, { sessionTimeoutMs: 5000 });
        const lease: Lease = await new Lock(s, '/x').acquire({ timeoutMs: 1000 });
        void startZooKeeper;
        return lease.fencingToken;
      }`,
    );
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'nodenext',
          moduleResolution: 'nodenext',
          target: 'es2022',
          strict: true,
          noEmit: true,
          lib: ['es2022', 'esnext.disposable'],
          types: ['node'],
        },
        files: ['typed.ts'],
      }),
    );
    run('npx', ['tsc', '-p', '.'], app);
  });
});
