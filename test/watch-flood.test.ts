// A flood of watch events: 100 000 changes (100 rounds of a write to each of 1000 nodes, in
// transactions of 100) under a tree watched from two other processes, each measuring its own heap
// after gc (test/fixtures/flood-watcher.ts, run with --expose-gc):
// - a persistent recursive watch whose listener counts: every change arrives exactly once, and the
//   client keeps nothing per event (its listeners are called synchronously as each frame is read:
//   there is no queue of events in the client to grow);
// - a TreeCache whose `changed` listener is a slow consumer (1 ms per event, synchronously): while
//   it runs the client reads nothing, so the notifications wait in the socket and at the server,
//   not in this process; and the cache coalesces the reads that events ask for (at most one
//   queued per node, TREE_CACHE_MAX_IN_FLIGHT in flight), so it emits far fewer events than there
//   were changes, and still ends with every node's last data.
// In both the heap after 100 000 changes is within a few MB of the heap after 10 000: nothing grows
// with the number of events. The control, a third watcher whose listener hands each event to a slow
// ASYNC consumer (1 ms per event), shows what does grow, and that the measure sees it: the
// consumer's own queue (the client cannot see that work, and does not hold it).
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { spawnClean, uniquePath, useServer } from './helpers.js';

const zk = useServer();
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});

const NODES = 1000;
const ROUNDS = 100;
const BATCH = 100;
const MB = 1024 * 1024;

interface Measured {
  ev: 'measured';
  round: number;
  heap: number;
  events: number;
  peak: number;
  cached?: number;
  backlog: number;
}

/** A flood-watcher child: its JSON lines, and a way to wait for the next one that matches. */
function watcher(path: string, mode: 'watch' | 'tree' | 'queue') {
  const child = spawnClean([process.execPath, '--expose-gc', '--import', 'tsx', 'test/fixtures/flood-watcher.ts', zk.server.connectString, path, mode], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  children.push(child);
  const lines: Array<Record<string, unknown>> = [];
  const waiters: Array<() => void> = [];
  createInterface({ input: child.stdout! }).on('line', (l) => {
    lines.push(JSON.parse(l) as Record<string, unknown>);
    for (const w of waiters.splice(0)) w();
  });
  const next = (ev: string, timeoutMs: number): Promise<Record<string, unknown>> =>
    new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`${mode} watcher: no '${ev}' within ${timeoutMs} ms (got ${JSON.stringify(lines)})`)), timeoutMs);
      const check = () => {
        const i = lines.findIndex((l) => l['ev'] === ev || l['ev'] === 'stuck');
        if (i < 0) {
          waiters.push(check);
          return;
        }
        clearTimeout(t);
        const [line] = lines.splice(i, 1);
        if (line!['ev'] === 'stuck') reject(new Error(`${mode} watcher did not catch up: ${JSON.stringify(line)}`));
        else resolve(line!);
      };
      check();
    });
  const measure = (round: number): Promise<Measured> => {
    child.stdin!.write(`${JSON.stringify({ measure: round, expected: round * NODES })}\n`);
    return next('measured', 90_000) as unknown as Promise<Measured>;
  };
  return { ready: () => next('ready', 30_000), measure };
}

describe('a flood of watch events', () => {
  it('100 000 changes: a counting watch gets each once, a TreeCache with a slow listener coalesces; neither heap grows with the events', {
    timeout: 180_000,
  }, async () => {
    const path = uniquePath('flood');
    const writer = await zk.connect({ sessionTimeoutMs: 20_000 });
    await writer.create(path, '');
    const nodes = Array.from({ length: NODES }, (_, i) => `${path}/n-${String(i).padStart(4, '0')}`);
    for (let i = 0; i < NODES; i += BATCH) await writer.multi(nodes.slice(i, i + BATCH).map((p) => ({ op: 'create' as const, path: p, data: '0' })));

    const watch = watcher(path, 'watch');
    const tree = watcher(path, 'tree');
    const queue = watcher(path, 'queue');
    await Promise.all([watch.ready(), tree.ready(), queue.ready()]);

    const t0 = Date.now();
    /** Rounds `from`..`to`: each writes every node once, in transactions of BATCH, all in flight. */
    const write = async (from: number, to: number) => {
      for (let r = from; r <= to; r++) {
        const data = String(r);
        await Promise.all(
          Array.from({ length: NODES / BATCH }, (_, b) =>
            writer.multi(nodes.slice(b * BATCH, (b + 1) * BATCH).map((p) => ({ op: 'set' as const, path: p, data }))),
          ),
        );
      }
    };
    await write(1, 10);
    const [w10, t10, q10] = await Promise.all([watch.measure(10), tree.measure(10), queue.measure(10)]);
    await write(11, ROUNDS);
    const writeMs = Date.now() - t0;
    const [w100, t100, q100] = await Promise.all([watch.measure(ROUNDS), tree.measure(ROUNDS), queue.measure(ROUNDS)]);
    const totalMs = Date.now() - t0;

    const fmt = (b: number) => `${(b / MB).toFixed(1)} MB`;
    console.log(
      `[watch-flood] ${NODES * ROUNDS} changes written in ${writeMs} ms, all seen in ${totalMs} ms\n`
        + `  watch: heap ${fmt(w10.heap)} at 10k, ${fmt(w100.heap)} at 100k (peak ${fmt(w100.peak)}); ${w100.events} events\n`
        + `  tree:  heap ${fmt(t10.heap)} at 10k, ${fmt(t100.heap)} at 100k (peak ${fmt(t100.peak)}); ${t100.events} changed events for ${NODES * ROUNDS} changes, ${t100.cached} nodes cached\n`
        + `  queue: heap ${fmt(q10.heap)} at 10k, ${fmt(q100.heap)} at 100k; backlog ${q10.backlog} at 10k, ${q100.backlog} at 100k (the consumer's own)`,
    );
    // Every change reached the raw watch exactly once.
    expect(w10.events).toBe(10 * NODES);
    expect(w100.events).toBe(ROUNDS * NODES);
    // The cache ended with every node's last data (the fixture waits for it), coalescing on the way.
    expect(t100.cached).toBe(NODES + 1);
    expect(t100.events).toBeLessThan(ROUNDS * NODES);
    // Nothing per event: 90 000 more events leave the heap within 4 MB (a retained event would
    // cost ~100 bytes: 9 MB), and its highest sample during the flood within 8 MB of the start.
    expect(w100.heap - w10.heap).toBeLessThan(4 * MB);
    expect(t100.heap - t10.heap).toBeLessThan(4 * MB);
    expect(w100.peak - w10.heap).toBeLessThan(8 * MB);
    expect(t100.peak - t10.heap).toBeLessThan(8 * MB);
    // The control: an async consumer's backlog is in the consumer, and this measure sees it grow.
    expect(q100.events).toBe(ROUNDS * NODES);
    expect(q100.backlog).toBeGreaterThan(q10.backlog + 50_000);
    expect(q100.heap - q10.heap).toBeGreaterThan(4 * MB);
  });
});
