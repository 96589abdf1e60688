// The demo's picture of the cluster (examples/demo.ts): built from the shared ledger that the
// worker processes append to (examples/demo-worker.ts), checked line by line for violations
// (two lock holders, two leaders, one task on two workers, a fencing token that does not grow),
// and drawn on the terminal — redrawn in place on a TTY, as plain log lines otherwise.
import type { ChildProcess } from 'node:child_process';
import { appendFileSync, closeSync, mkdtempSync, openSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildrenCache } from '../src/index.js';

/** One ledger line: when, which worker, what happened (`t`), and details. */
export interface LedgerEvent {
  at: number;
  w: string;
  t: string;
  [k: string]: unknown;
}

/** The shared ledger file: workers append JSON lines; appends to one file are ordered by the kernel. */
export class Ledger {
  readonly file: string;
  private readonly dir = mkdtempSync(join(tmpdir(), 'zk-demo-'));
  private readonly fd: number;
  private offset = 0;
  private partial = '';

  constructor() {
    this.file = join(this.dir, 'ledger.jsonl');
    writeFileSync(this.file, '');
    this.fd = openSync(this.file, 'r');
  }

  /** Appends an event of our own (the parent's), in the same order as the workers' lines. */
  append(event: Omit<LedgerEvent, 'at'>): void {
    appendFileSync(this.file, `${JSON.stringify({ at: Date.now(), ...event })}\n`);
  }

  /** The complete lines appended since the last call. */
  readNew(): LedgerEvent[] {
    const out: LedgerEvent[] = [];
    const buf = Buffer.alloc(64 * 1024);
    for (;;) {
      const n = readSync(this.fd, buf, 0, buf.length, this.offset);
      if (n <= 0) return out;
      this.offset += n;
      const lines = (this.partial + buf.subarray(0, n).toString('utf8')).split('\n');
      this.partial = lines.pop()!;
      for (const line of lines) if (line.trim()) out.push(JSON.parse(line) as LedgerEvent);
    }
  }

  /** Closes and deletes the file. */
  remove(): void {
    closeSync(this.fd);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** One run of a task on a worker. */
export interface Run {
  w: string;
  attempt: number;
  ok?: boolean;
  interrupted?: boolean;
}

/** What we know of one worker process. */
export interface WorkerRow {
  id: string;
  proc?: ChildProcess;
  pid?: number;
  status: 'starting' | 'up' | 'KILLED' | 'stopped' | 'exited';
  leader?: string;
  lock?: string;
  dispatcher: boolean;
  conn: string;
  running: Map<string, string>;
  done: number;
  stderr: string;
}

/** The killed leader, and what it held when it died. */
export interface Killed {
  w: string;
  at: number;
  heldLock: boolean;
  running: string[];
}

/** The cluster as the ledger tells it, plus the view drawn from it. */
export class ClusterView {
  readonly workers: Map<string, WorkerRow>;
  readonly tasks = new Map<string, { name: string; runs: Run[] }>();
  readonly leaders: { w: string; token: bigint; at: number }[] = [];
  readonly violations: string[] = [];
  private readonly recent: string[] = [];
  lockHolder: string | undefined;
  lastLockToken = -1n;
  lockAcquisitions = 0;
  killed: Killed | undefined;
  lockMovedAt: number | undefined;
  newLeaderAt: number | undefined;
  phase = 'starting ZooKeeper';
  stopping = false;
  /** The "resize" tasks submitted so far (the ones the summary counts). */
  batchIds: string[] = [];
  members: ChildrenCache | undefined;
  connectString = '';
  private drawn = 0;
  private nextStatusAt = 0;

  constructor(
    ids: readonly string[],
    readonly tty: boolean,
    readonly t0 = Date.now(),
  ) {
    this.workers = new Map(ids.map((id) => [id, { id, status: 'starting', dispatcher: false, conn: '', running: new Map(), done: 0, stderr: '' }]));
  }

  /** Seconds since the start, as `12.3s`. */
  secs(at: number): string {
    return `${((at - this.t0) / 1000).toFixed(1)}s`;
  }

  /** The worker that leads now, if any. */
  leader(): WorkerRow | undefined {
    return [...this.workers.values()].find((w) => w.leader !== undefined);
  }

  /** Records an event line (shown under "recent events", or printed when not a TTY). */
  say(at: number, text: string): void {
    const line = `[${this.secs(at).padStart(6)}] ${text}`;
    this.recent.push(line);
    if (this.recent.length > 8) this.recent.shift();
    if (!this.tty) console.log(line);
  }

  /** Sets the headline; printed as its own line when not a TTY. */
  setPhase(text: string): void {
    this.phase = text;
    if (!this.tty) console.log(`[${this.secs(Date.now()).padStart(6)}] == ${text}`);
  }

  private violation(at: number, text: string): void {
    this.violations.push(text);
    this.say(at, `VIOLATION: ${text}`);
  }

  /** The latest run of task `id` on worker `w`. */
  lastRun(id: string, w: string): Run | undefined {
    const runs = this.tasks.get(id)?.runs ?? [];
    for (let i = runs.length - 1; i >= 0; i--) if (runs[i]!.w === w) return runs[i];
    return undefined;
  }

  /** Applies one ledger line (ledger order = the order things happened across processes). */
  apply(e: LedgerEvent): void {
    const w = this.workers.get(e.w);
    if (!w) return;
    const others = [...this.workers.values()].filter((o) => o !== w);
    switch (e.t) {
      case 'ready':
        w.pid = Number(e['pid']);
        w.status = 'up';
        this.say(e.at, `${w.id} is up (pid ${w.pid}, ZooKeeper session 0x${String(e['session'])}), joined the group`);
        break;
      case 'leader': {
        const token = BigInt(String(e['token']));
        const other = others.find((o) => o.leader !== undefined);
        if (other) this.violation(e.at, `${w.id} leads while ${other.id} still leads`);
        const last = this.leaders.at(-1);
        if (last && token <= last.token) this.violation(e.at, `leader token ${token} is not above ${last.token}`);
        w.leader = String(token);
        this.leaders.push({ w: w.id, token, at: e.at });
        if (this.killed && this.newLeaderAt === undefined) this.newLeaderAt = e.at;
        this.say(e.at, `${w.id} became LEADER (fencing token ${token})`);
        break;
      }
      case 'notLeader':
        w.leader = undefined;
        this.say(e.at, `${w.id} is no longer leader`);
        break;
      case 'dispatcher':
        w.dispatcher = true;
        this.say(e.at, `${w.id} became the scheduler's dispatcher`);
        break;
      case 'notDispatcher':
        w.dispatcher = false;
        break;
      case 'lock': {
        const token = BigInt(String(e['token']));
        if (this.lockHolder !== undefined && this.lockHolder !== w.id) this.violation(e.at, `${w.id} took the lock while ${this.lockHolder} held it`);
        if (token <= this.lastLockToken) this.violation(e.at, `lock token ${token} is not above ${this.lastLockToken}`);
        this.lockHolder = w.id;
        this.lastLockToken = token;
        w.lock = String(token);
        this.lockAcquisitions++;
        if (this.killed?.heldLock && this.lockMovedAt === undefined) {
          this.lockMovedAt = e.at;
          this.say(e.at, `${w.id} took the lock that ${this.killed.w} held when it died (token ${token})`);
        }
        break;
      }
      case 'unlock':
        if (this.lockHolder === w.id) this.lockHolder = undefined;
        w.lock = undefined;
        break;
      case 'task': {
        const id = String(e['task']);
        const t = this.tasks.get(id) ?? { name: String(e['name']), runs: [] };
        this.tasks.set(id, t);
        const clash = others.find((o) => o.running.has(id));
        if (clash) this.violation(e.at, `task ${t.name} started on ${w.id} while running on ${clash.id}`);
        t.runs.push({ w: w.id, attempt: Number(e['attempt']) });
        w.running.set(id, t.name);
        if (t.runs.length > 1) this.say(e.at, `${w.id} runs ${t.name} again (attempt ${String(e['attempt'])}; it was on ${t.runs.at(-2)!.w})`);
        break;
      }
      case 'taskDone': {
        const id = String(e['task']);
        w.running.delete(id);
        const run = this.lastRun(id, w.id);
        if (run) run.ok = e['ok'] === true;
        if (e['ok'] === true) w.done++;
        break;
      }
      case 'conn':
        w.conn = String(e['state']) === 'reconnected' ? '' : String(e['state']);
        this.say(e.at, `${w.id}: connection ${String(e['state'])}`);
        break;
      case 'error':
        this.say(e.at, `${w.id}: ${String(e['what'])} error: ${String(e['message'])}`);
        break;
      case 'killed': // appended by the parent once the killed worker has exited
        w.status = 'KILLED';
        for (const id of w.running.keys()) {
          const run = this.lastRun(id, w.id);
          if (run) run.interrupted = true;
        }
        w.running.clear();
        w.leader = undefined;
        w.dispatcher = false;
        if (this.lockHolder === w.id) this.lockHolder = undefined;
        w.lock = undefined;
        break;
      case 'stopped':
        w.status = 'stopped';
        this.say(e.at, `${w.id} left the group and closed its session`);
        break;
    }
  }

  /** Counts of the submitted "resize" tasks. */
  taskCounts(): { running: number; done: number; rerun: number } {
    const c = { running: 0, done: 0, rerun: 0 };
    for (const id of this.batchIds) {
      const t = this.tasks.get(id);
      if (!t) continue;
      if (t.runs.some((r) => r.ok)) c.done++;
      else if (t.runs.some((r) => r.ok === undefined && !r.interrupted)) c.running++;
      if (t.runs.length > 1) c.rerun++;
    }
    return c;
  }

  private color(code: string, s: string): string {
    return this.tty ? `\x1b[${code}m${s}\x1b[0m` : s;
  }

  /** The view's lines, cut to the terminal's width. */
  lines(): string[] {
    const color = (code: string, s: string) => this.color(code, s);
    const bold = (s: string) => color('1', s);
    const dim = (s: string) => color('2', s);
    const cols = Math.max(80, process.stdout.columns ?? 100);
    const { killed } = this;
    const leader = this.leader();
    const dispatcher = [...this.workers.values()].find((w) => w.dispatcher);
    const zkMembers = this.members ? [...this.members.children.keys()].sort() : [];
    const c = this.taskCounts();
    const lines = [
      `${bold('zk-recipes demo')}: ${this.workers.size} worker processes coordinating through ZooKeeper ${this.connectString}   ${dim(this.secs(Date.now()))}`,
      dim('each worker process: GroupMember + LeaderLatch + Lock + TaskScheduler worker (and dispatcher candidate); Ctrl-C stops'),
      `${bold('now:')} ${this.phase}`,
      '',
      dim(
        `  ${'worker'.padEnd(7)}${'pid'.padEnd(8)}${'status'.padEnd(11)}${'leader'.padEnd(16)}${'lock'.padEnd(16)}${'scheduler'.padEnd(12)}${'done'.padEnd(6)}running tasks`,
      ),
    ];
    for (const w of this.workers.values()) {
      const status = (w.conn || w.status).padEnd(11);
      lines.push(
        `  ${bold(w.id.padEnd(7))}${String(w.pid ?? '').padEnd(8)}${color(w.status === 'KILLED' ? '31;1' : w.status === 'up' && !w.conn ? '32' : '33', status)}`
          + (w.leader ? color('33;1', `LEADER #${w.leader}`.padEnd(16)) : ''.padEnd(16))
          + (w.lock ? color('36;1', `holds #${w.lock}`.padEnd(16)) : ''.padEnd(16))
          + (w.dispatcher ? color('35;1', 'dispatcher'.padEnd(12)) : ''.padEnd(12))
          + `${String(w.done).padEnd(6)}${[...w.running.values()].join(', ')}`,
      );
    }
    lines.push(
      '',
      `${bold('leader')}     LeaderLatch /demo/leader: ${
        leader
          ? `${bold(leader.id)}, fencing token ${leader.leader}`
          : killed && this.newLeaderAt === undefined
            ? color('33', `none alive: dead ${killed.w}'s node stays first until its session expires`)
            : color('33', this.stopping ? 'none' : 'none yet (election in progress)')
      }` + dim(`   terms: ${this.leaders.map((l) => l.w).join(' → ') || '-'}`),
      `${bold('lock')}       Lock /demo/lock: ${
        this.lockHolder
          ? `${bold(this.lockHolder)} holds it, token ${this.lastLockToken}`
          : killed?.heldLock && this.lockMovedAt === undefined
            ? color('33', `held by dead ${killed.w}'s node until its session expires`)
            : 'free'
      }` + dim(`   acquisitions: ${this.lockAcquisitions}`),
      `${bold('scheduler')}  TaskScheduler /demo/scheduler: dispatcher ${dispatcher ? bold(dispatcher.id) : color('33', 'none')}; `
        + `resize tasks ${c.done}/${this.batchIds.length} done, ${c.running} running, ${c.rerun} re-run`,
      `${bold('group')}      GroupMember /demo/members, as ZooKeeper sees it: ${zkMembers.join(' ') || '-'}`,
      `${bold('violations')} ${this.violations.length === 0 ? color('32;1', '0') : color('31;1', `${this.violations.length}: ${this.violations.at(-1)}`)}`,
      '',
      dim('recent events:'),
      ...this.recent.map((l) => `  ${l}`),
    );
    return lines.map((l) => this.fit(l, cols - 1));
  }

  /** Cuts `line` to `width` visible columns (escape sequences take none), so that no line wraps. */
  private fit(line: string, width: number): string {
    let visible = 0;
    let out = '';
    for (let i = 0; i < line.length; i++) {
      const esc = /^\x1b\[[0-9;?]*[A-Za-z]/.exec(line.slice(i, i + 12));
      if (esc) {
        out += esc[0];
        i += esc[0].length - 1;
        continue;
      }
      if (visible === width) return `${out}${this.tty ? '\x1b[0m' : ''}`;
      out += line[i];
      visible++;
    }
    return out;
  }

  /** Redraws the view in place (TTY), or prints a status line every 5 s (not a TTY). */
  render(): void {
    if (this.tty) {
      const lines = this.lines();
      process.stdout.write(`${this.drawn ? `\x1b[${this.drawn}A` : ''}${lines.map((l) => `\x1b[2K${l}`).join('\n')}\n\x1b[J`);
      this.drawn = lines.length;
    } else if (Date.now() >= this.nextStatusAt && this.batchIds.length > 0) {
      this.nextStatusAt = Date.now() + 5000;
      const c = this.taskCounts();
      console.log(
        `[${this.secs(Date.now()).padStart(6)}] status: leader ${this.leader()?.id ?? '-'} · lock ${this.lockHolder ?? 'free'}`
          + ` · resize ${c.done}/${this.batchIds.length} done, ${c.running} running`
          + ` · members ${this.members ? [...this.members.children.keys()].sort().join(',') : '-'} · violations ${this.violations.length}`,
      );
    }
  }

  /** The closing summary; true when the run proved what it should. */
  summary(succeeded: number): boolean {
    const bold = (s: string) => this.color('1', s);
    const { killed } = this;
    const rerun = [...this.tasks.values()].filter((t) => t.runs.some((r) => r.interrupted) && t.runs.some((r) => r.ok));
    const perWorker = [...this.workers.values()].map((w) => `${w.id} ${w.done}${w.status === 'KILLED' ? ' (killed)' : ''}`).join(', ');
    const row = (label: string, text: string) => `  ${`${label}:`.padEnd(24)}${text}`;
    const after = (at: number | undefined) => (at === undefined || !killed ? 'never' : `${((at - killed.at) / 1000).toFixed(1)} s`);
    const lines = [
      '',
      bold(`summary after ${this.secs(Date.now())}`),
      row('tasks done per worker', `${perWorker}  (resize: ${succeeded}/${this.batchIds.length} succeeded; plus a metrics task every second)`),
      row('leaders seen', this.leaders.map((l) => `${l.w} (token ${l.token})`).join(' → ')),
      row('lock acquisitions', `${this.lockAcquisitions}, fencing tokens always increasing`),
    ];
    if (killed) {
      lines.push(
        row(
          `after kill -9 ${killed.w}`,
          `new leader in ${after(this.newLeaderAt)}${killed.heldLock ? `; the lock it held moved on in ${after(this.lockMovedAt)}` : ''}`,
        ),
      );
      lines.push(
        row('re-run elsewhere', `${rerun.map((t) => `${t.name} (${t.runs.map((r) => r.w).join(' → ')})`).join(', ') || 'none (it was running none)'}`),
      );
    }
    lines.push(
      row(
        'violations',
        `${this.violations.length === 0 ? this.color('32;1', '0') : this.color('31;1', String(this.violations.length))}`
          + '  (two lock holders at once, two leaders at once, one task on two workers, a token not increasing)',
      ),
    );
    for (const v of this.violations) lines.push(`    - ${v}`);
    const ok = this.violations.length === 0 && succeeded === this.batchIds.length && killed !== undefined && this.newLeaderAt !== undefined;
    lines.push(ok ? this.color('32;1', 'demo OK') : this.color('31;1', 'demo FAILED'));
    console.log(lines.join('\n'));
    return ok;
  }
}
