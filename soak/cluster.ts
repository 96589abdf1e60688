/**
 * The soak's moving parts: a 3-server local ensemble, and per worker a fault proxy (to all three
 * servers) and a worker process behind it. A worker killed with `kill -9` is started again, as a
 * new incarnation (`<name>.<gen+1>`) on the same proxy and log file; the runner records when each
 * incarnation died, which is when its holdings ended.
 * @module
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { openSync } from 'node:fs';
import { join } from 'node:path';
import { type LocalZooKeeperEnsemble, startLocalEnsemble } from '../src/testing/local-ensemble.js';
import { startProxy, type ZkProxy } from '../src/testing/proxy.js';
import type { WorkerCommand, WorkerConfig, WorkerReply } from './worker.js';

/** A worker process behind its proxy. */
export class SoakWorker {
  gen = 0;
  private proc: ChildProcess | undefined;
  private seq = 1;
  private readonly waiting = new Map<number, (r: WorkerReply) => void>();
  /** `<name>.<gen>` → when that incarnation was killed (epoch ms). */
  readonly deaths = new Map<string, number>();
  /** Incarnations that exited without being killed or told to stop (each a violation). */
  readonly crashes: string[] = [];
  private stopping = false;

  constructor(
    readonly name: string,
    readonly proxy: ZkProxy,
    private readonly base: Omit<WorkerConfig, 'name' | 'gen' | 'connect' | 'logFile' | 'seed'>,
    readonly logFile: string,
    private readonly outFile: string,
    private readonly seed: number,
  ) {}

  /** The current incarnation's id. */
  get who(): string {
    return `${this.name}.${this.gen}`;
  }

  /** True while a process runs. */
  get alive(): boolean {
    return this.proc !== undefined;
  }

  /** Starts a new incarnation and waits for its session (its first message). */
  async start(): Promise<void> {
    this.gen++;
    const config: WorkerConfig = {
      ...this.base,
      name: this.name,
      gen: this.gen,
      connect: this.proxy.connectString,
      logFile: this.logFile,
      seed: this.seed + this.gen,
    };
    const out = openSync(this.outFile, 'a');
    const proc = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'worker.ts'), JSON.stringify(config)], {
      stdio: ['ignore', out, out, 'ipc'],
    });
    this.proc = proc;
    proc.on('message', (r: WorkerReply) => {
      this.waiting.get(r.seq)?.(r);
      this.waiting.delete(r.seq);
    });
    proc.once('exit', (code, signal) => {
      if (this.proc === proc) {
        // Neither our kill nor our stop: the worker died by itself.
        this.proc = undefined;
        if (!this.stopping) {
          this.deaths.set(this.who, Date.now());
          this.crashes.push(`${this.who} exited by itself (code ${code}, signal ${signal})`);
        }
      }
      for (const fn of this.waiting.values()) fn({ seq: -1, ok: false, error: 'worker exited' });
      this.waiting.clear();
    });
    await this.reply(0, 120_000);
  }

  /** `kill -9`: records the death of this incarnation. */
  kill(): void {
    if (!this.proc) return;
    this.deaths.set(this.who, Date.now());
    this.proc.kill('SIGKILL');
    this.proc = undefined;
  }

  /** Tells the worker to stop (close its session, exit 0) and waits for it. */
  async stop(): Promise<WorkerReply> {
    this.stopping = true;
    const proc = this.proc;
    const exited = proc ? new Promise((r) => proc.once('exit', r)) : Promise.resolve();
    const r = await this.command('stop', 30_000);
    await Promise.race([exited, new Promise((res) => setTimeout(res, 10_000))]);
    this.kill();
    return r;
  }

  /** Sends a command and waits for its answer (a failed answer when the worker dies meanwhile). */
  command(cmd: WorkerCommand['cmd'], timeoutMs = 60_000): Promise<WorkerReply> {
    if (!this.proc) return Promise.resolve({ seq: -1, ok: false, error: 'not running' });
    const seq = this.seq++;
    const p = this.reply(seq, timeoutMs);
    this.proc.send({ cmd, seq } satisfies WorkerCommand);
    return p;
  }

  private reply(seq: number, timeoutMs: number): Promise<WorkerReply> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.waiting.delete(seq);
        resolve({ seq, ok: false, error: `no answer within ${timeoutMs} ms` });
      }, timeoutMs);
      this.waiting.set(seq, (r) => {
        clearTimeout(t);
        resolve(r);
      });
    });
  }
}

/** The ensemble and the workers of one run. */
export interface SoakCluster {
  ensemble: LocalZooKeeperEnsemble;
  workers: SoakWorker[];
  close(): Promise<void>;
}

/** Starts the ensemble and one proxy per worker; the workers are started later (`start()` each). */
export async function startCluster(opts: { workers: number; dir: string; root: string; sessionTimeoutMs: number; seed: number }): Promise<SoakCluster> {
  const ensemble = await startLocalEnsemble(3);
  const workers: SoakWorker[] = [];
  try {
    for (let i = 1; i <= opts.workers; i++) {
      const proxy = await startProxy(ensemble.connectString);
      const name = `w${i}`;
      const base = { root: opts.root, sessionTimeoutMs: opts.sessionTimeoutMs };
      workers.push(new SoakWorker(name, proxy, base, join(opts.dir, `${name}.jsonl`), join(opts.dir, `${name}.out`), opts.seed * 31 + i * 1000));
    }
  } catch (err) {
    for (const w of workers) w.kill();
    await ensemble.close();
    throw err;
  }
  return {
    ensemble,
    workers,
    async close() {
      for (const w of workers) w.kill();
      await Promise.all(workers.map((w) => w.proxy.close()));
      await ensemble.close();
    },
  };
}
