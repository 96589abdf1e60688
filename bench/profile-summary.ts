/**
 * Summarises a V8 `.cpuprofile` (from `node --cpu-prof`): where the client's CPU time went, by
 * area (idle, GC, the native binding and libuv, our session layer, recipes, the bench, Node
 * internals, dependencies) and the top functions by self time.
 *
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx bench/index.ts only=W1
 *   npx tsx bench/profile-summary.ts /tmp/prof/*.cpuprofile [top=25]
 * @module
 */
import { readFileSync } from 'node:fs';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** Which part of the stack a frame belongs to. */
export function area(f: CallFrame): string {
  const u = f.url;
  if (f.functionName === '(idle)') return 'idle (waiting for the server)';
  if (f.functionName === '(garbage collector)') return 'GC';
  if (f.functionName === '(program)') return 'native: binding, libuv, V8 (no JS frame)';
  if (u.includes('/node_modules/zookeeper/')) return 'zookeeper binding (JS part)';
  if (u.includes('/node_modules/')) return `dependency: ${u.replace(/.*\/node_modules\//, '').split('/')[0]}`;
  if (u.includes('/src/session.ts')) return 'src/session.ts';
  if (u.includes('/src/')) return 'src/ (other)';
  if (u.includes('/recipes/')) return `recipes/${u.replace(/.*\/recipes\//, '')}`;
  if (u.includes('/bench/')) return 'bench';
  if (u.startsWith('node:') || u === '') return 'node internals';
  return 'other';
}

/** Self time (ms) per node id. */
function selfTimes(p: Profile): Map<number, number> {
  const t = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) {
    const id = p.samples[i]!;
    t.set(id, (t.get(id) ?? 0) + (p.timeDeltas[i] ?? 0) / 1000);
  }
  return t;
}

function main(): void {
  const files = process.argv.slice(2).filter((a) => !a.startsWith('top='));
  const top = Number(process.argv.find((a) => a.startsWith('top='))?.slice(4) ?? 25);
  if (files.length === 0) {
    process.stderr.write('usage: tsx bench/profile-summary.ts FILE.cpuprofile... [top=25]\n');
    process.exit(2);
  }
  for (const file of files) {
    const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
    const byId = new Map(p.nodes.map((n) => [n.id, n]));
    const self = selfTimes(p);
    const total = [...self.values()].reduce((a, b) => a + b, 0);
    const areas = new Map<string, number>();
    const fns = new Map<string, number>();
    for (const [id, ms] of self) {
      const f = byId.get(id)!.callFrame;
      const a = area(f);
      areas.set(a, (areas.get(a) ?? 0) + ms);
      const where = f.url ? `${f.url.replace(/^file:\/\/.*?\/(src|recipes|bench|node_modules)\//, '$1/')}:${f.lineNumber + 1}` : '';
      const key = `${f.functionName || '(anonymous)'} ${where}`.trim();
      fns.set(key, (fns.get(key) ?? 0) + ms);
    }
    const busy = total - (areas.get('idle (waiting for the server)') ?? 0);
    process.stdout.write(`\n${file}: ${(total / 1000).toFixed(2)} s sampled, ${(busy / 1000).toFixed(2)} s on the CPU\n\n`);
    process.stdout.write('| area | ms | % of CPU |\n|---|---:|---:|\n');
    for (const [a, ms] of [...areas].sort((x, y) => y[1] - x[1])) {
      const share = a.startsWith('idle') ? '' : `${((ms / busy) * 100).toFixed(1)}%`;
      process.stdout.write(`| ${a} | ${ms.toFixed(0)} | ${share} |\n`);
    }
    // inclusive time of our own frames (src/, recipes/): each sample counts once per function on its stack
    const parent = new Map<number, number>();
    for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
    const incl = new Map<string, number>();
    for (const [id, ms] of self) {
      const seen = new Set<string>();
      for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
        const f = byId.get(cur)!.callFrame;
        if (!/\/(src|recipes)\//.test(f.url)) continue;
        const key = `${f.functionName || '(anonymous)'} ${f.url.replace(/^file:\/\/.*?\/(src|recipes)\//, '$1/')}:${f.lineNumber + 1}`;
        if (seen.has(key)) continue;
        seen.add(key);
        incl.set(key, (incl.get(key) ?? 0) + ms);
      }
    }
    process.stdout.write(`\n| our functions by total (inclusive) time | ms | % of CPU |\n|---|---:|---:|\n`);
    for (const [k, ms] of [...incl].sort((x, y) => y[1] - x[1]).slice(0, top)) {
      process.stdout.write(`| ${k.replace(/\|/g, '\\|')} | ${ms.toFixed(0)} | ${((ms / busy) * 100).toFixed(1)}% |\n`);
    }
    process.stdout.write(`\n| top functions by self time | ms | % of CPU |\n|---|---:|---:|\n`);
    for (const [k, ms] of [...fns]
      .filter(([k]) => !k.startsWith('(idle)'))
      .sort((x, y) => y[1] - x[1])
      .slice(0, top)) {
      process.stdout.write(`| ${k.replace(/\|/g, '\\|')} | ${ms.toFixed(0)} | ${((ms / busy) * 100).toFixed(1)}% |\n`);
    }
  }
}

main();
