/**
 * Plays a fault plan against the cluster, each fault on time (or as soon as its target is free),
 * and heals everything at the end. Every fault is applied, held for its duration and healed by
 * the nemesis itself; what failed while applying one is recorded with it, never thrown.
 * @module
 */
import type { SoakCluster } from './cluster.js';
import type { PlannedFault, PlayedFault } from './nemesis.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Applies one fault, holds it, heals it. */
async function play(cluster: SoakCluster, f: PlannedFault): Promise<void> {
  const { ensemble, workers } = cluster;
  const worker = workers[f.targets[0]!]!;
  switch (f.kind) {
    case 'kill-server':
    case 'quorum-loss':
      await Promise.all(f.targets.map((i) => ensemble.kill(i)));
      await sleep(f.durationMs);
      await Promise.all(f.targets.map((i) => ensemble.restart(i)));
      return;
    case 'pause-server':
      await ensemble.servers[f.targets[0]!]!.pause();
      await sleep(f.durationMs);
      await ensemble.servers[f.targets[0]!]!.resume();
      return;
    case 'partition-client':
      worker.proxy.partition();
      await sleep(f.durationMs);
      worker.proxy.heal();
      return;
    case 'freeze-client':
      worker.proxy.freeze();
      await sleep(f.durationMs);
      worker.proxy.thaw();
      return;
    case 'expire-session': {
      const r = await worker.command('expire');
      if (!r.ok) throw new Error(r.error);
      return;
    }
    case 'kill-worker':
      worker.kill();
      await sleep(f.durationMs);
      await worker.start();
      return;
    case 'corrupt-frame':
      worker.proxy.corruptNext(f.corruption!.direction, f.corruption!.how);
      return;
  }
}

/** Per-resource queues, so two faults never hit one server or worker at once. */
class Resources {
  private readonly tails = new Map<string, Promise<void>>();

  /** Runs `fn` once every earlier holder of each key is done. */
  async with(keys: readonly string[], fn: () => Promise<void>): Promise<void> {
    const before = keys.map((k) => this.tails.get(k) ?? Promise.resolve());
    const run = Promise.all(before).then(fn);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    for (const k of keys) this.tails.set(k, tail);
    return run;
  }
}

/**
 * Plays `plan` (offsets from now); resolves once every fault has been healed.
 * @param onFault - told of each fault as it starts (for progress output)
 */
export async function playFaults(cluster: SoakCluster, plan: readonly PlannedFault[], onFault?: (f: PlayedFault) => void): Promise<PlayedFault[]> {
  const t0 = Date.now();
  const resources = new Resources();
  const played: PlayedFault[] = [];
  const server = (k: PlannedFault['kind']) => k === 'kill-server' || k === 'quorum-loss' || k === 'pause-server';
  await Promise.all(
    plan.map(async (f) => {
      await sleep(Math.max(0, t0 + f.at - Date.now()));
      const keys = f.targets.map((i) => `${server(f.kind) ? 's' : 'w'}${i}`);
      await resources.with(keys, async () => {
        const p: PlayedFault = { ...f, startedAt: Date.now() };
        played.push(p);
        onFault?.(p);
        try {
          await play(cluster, f);
        } catch (err) {
          p.error = String((err as Error)?.message ?? err);
        }
        p.healedAt = Date.now();
      });
    }),
  );
  return played.sort((a, b) => a.startedAt - b.startedAt);
}

/** Heals whatever is still broken: every server running, every proxy open, every worker alive. */
export async function healAll(cluster: SoakCluster): Promise<void> {
  for (const w of cluster.workers) {
    w.proxy.heal();
    w.proxy.thaw();
  }
  for (const s of cluster.ensemble.servers) await s.resume().catch(() => undefined);
  await Promise.all(cluster.workers.filter((w) => !w.alive).map((w) => w.start()));
  await cluster.ensemble.waitForQuorum(120_000);
}
