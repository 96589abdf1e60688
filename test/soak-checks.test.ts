// The soak's own pure parts (soak/): its checkers must reject the histories that break a promise,
// and its nemesis plan must be reproducible from the seed and never take down all three servers.
import { describe, expect, it } from 'vitest';
import { checkReadWrite, checkSemaphore, holdingsOf } from '../soak/checks.js';
import { checkQueue, checkRegister, checkScheduler, checkSessionOrder, registerHistory } from '../soak/checks-flow.js';
import type { LogLine } from '../soak/log.js';
import { FAULT_KINDS, planFaults } from '../soak/nemesis.js';
import { Random } from '../soak/random.js';
import type { TaskStatus } from '../src/index.js';

const h = (holder: string, token: number, acquiredAt: number, endedAt?: number) => ({ holder, token: BigInt(token), acquiredAt, endedAt });
let t = 0;
const line = (w: string, e: Record<string, unknown>): LogLine => ({ w, t: ++t, ...e }) as LogLine;

describe('soak checkers', () => {
  it('semaphore: three leases at once is a violation; two, or one ending as another begins, is not', () => {
    expect(checkSemaphore([h('a', 1, 0, 10), h('b', 2, 1, 10)]).violations).toEqual([]);
    expect(checkSemaphore([h('a', 1, 0, 10), h('b', 2, 1, 10), h('c', 3, 10, 20)]).violations).toEqual([]);
    expect(checkSemaphore([h('a', 1, 0, 10), h('b', 2, 1, 10), h('c', 3, 5, 20)]).violations).toHaveLength(1);
    // A holding that ended the moment it began (its signal had aborted) never counts.
    expect(checkSemaphore([h('a', 1, 0, 10), h('b', 2, 1, 10), h('c', 3, 5, 5)]).violations).toEqual([]);
  });

  it('read-write lock: reads share; a write overlapping a read is a violation unless the later one carries the larger token', () => {
    expect(checkReadWrite([h('r1', 1, 0, 10), h('r2', 2, 5, 15)], [h('w', 3, 20, 30)]).violations).toEqual([]);
    expect(checkReadWrite([h('r1', 5, 0, 10)], [h('w', 3, 5, 30)]).violations).toHaveLength(1);
    const fenced = checkReadWrite([h('r1', 1, 0, 10)], [h('w', 3, 5, 30)]);
    expect(fenced.violations).toEqual([]);
    expect(fenced.figures['fencedOverlaps']).toBe(1);
  });

  it('holdings: an open holding of a killed incarnation ends at its death', () => {
    const lines = [line('w1.1', { ev: 'hold', kind: 'lock', hid: 'x', token: '7' })];
    expect(holdingsOf(lines, 'lock', new Map([['w1.1', 99]]))).toEqual([{ holder: 'w1.1', token: 7n, acquiredAt: lines[0]!.t, endedAt: 99 }]);
  });

  it('queue: an acknowledged put never consumed, or an item consumed that no put started, is a violation', () => {
    const put = (item: string, phase: string) => line('w1.1', { ev: 'put', item, phase });
    const ok = [put('a', 'start'), put('a', 'ok'), put('b', 'start'), line('w2.1', { ev: 'consumed', item: 'a' }), line('w2.1', { ev: 'consumed', item: 'a' })];
    const r = checkQueue(ok);
    expect(r.violations).toEqual([]);
    expect(r.figures['redelivered']).toBe(1);
    expect(checkQueue([put('a', 'start'), put('a', 'ok')]).violations[0]).toMatch(/put but never consumed: a/);
    expect(checkQueue([line('w2.1', { ev: 'consumed', item: 'z' })]).violations[0]).toMatch(/no put started: z/);
  });

  it('scheduler: a skipped period, a task not succeeded, or a submitted task missing is a violation', () => {
    const task = (id: string, state = 'succeeded') => ({ id, state, attempt: 1 }) as TaskStatus;
    const ran = (id: string) => line('w1.1', { ev: 'ran', task: id });
    const periods = ['every-second@0', 'every-second@1', 'cron-second@100', 'cron-second@101'];
    const lines = [line('w1.1', { ev: 'submit', task: 't1' }), ran('t1'), ...periods.map(ran)];
    expect(checkScheduler(lines, [task('t1'), ...periods.map((p) => task(p))]).violations).toEqual([]);
    const skipped = periods.filter((p) => p !== 'every-second@1').concat('every-second@2');
    expect(checkScheduler([...lines, ran('every-second@2')], [task('t1'), ...skipped.map((p) => task(p))]).violations.join()).toMatch(/period 1 missing/);
    expect(checkScheduler(lines, [task('t1', 'dead'), ...periods.map((p) => task(p))]).violations.join()).toMatch(/not succeeded/);
    expect(
      checkScheduler(
        lines,
        periods.map((p) => task(p)),
      ).violations.join(),
    ).toMatch(/not stored: t1/);
  });

  it('register: a cas that returned false although a later read shows its value is not linearizable', () => {
    const reg = (w: string, op: number, phase: string, e: Record<string, unknown>) => line(w, { ev: 'reg', op, phase, ...e });
    const good = [
      reg('a', 0, 'call', { input: { kind: 'cas', expectedVersion: 0, value: 'x' } }),
      reg('a', 0, 'ok', { output: { ok: true } }),
      reg('b', 0, 'call', { input: { kind: 'read' } }),
      reg('b', 0, 'ok', { output: { value: 'x', version: 1 } }),
    ];
    expect(checkRegister(good).violations).toEqual([]);
    const lying = [
      reg('a', 0, 'call', { input: { kind: 'cas', expectedVersion: 0, value: 'x' } }),
      reg('a', 0, 'ok', { output: { ok: false } }),
      reg('b', 0, 'call', { input: { kind: 'read' } }),
      reg('b', 0, 'ok', { output: { value: 'x', version: 1 } }),
    ];
    expect(checkRegister(lying).violations).toHaveLength(1);
    // The same cas with its outcome unknown (the client said so): linearizable.
    const unknown = [lying[0]!, reg('a', 0, 'unknown', {}), lying[2]!, lying[3]!];
    expect(registerHistory(unknown)[0]!.return).toBeUndefined();
    expect(checkRegister(unknown).violations).toEqual([]);
  });
});

describe('soak session order', () => {
  it('a session that sees the register go back in time (a plain read older than a version it saw) is a violation; another session may lag', () => {
    const plain = (w: string, version: number) => line(w, { ev: 'plain', version });
    const own = (w: string, op: number, version: number) => [
      line(w, { ev: 'reg', op, phase: 'call', input: { kind: 'cas', expectedVersion: version - 1, value: `x${op}` } }),
      line(w, { ev: 'reg', op, phase: 'ok', output: { ok: true, version } }),
    ];
    expect(checkSessionOrder([plain('a', 1), ...own('a', 0, 2), plain('b', 1), plain('a', 2), plain('b', 2)]).violations).toEqual([]);
    expect(checkSessionOrder([...own('a', 0, 5), plain('a', 4)]).violations[0]).toMatch(/a saw version 4 .* after version 5/);
  });
});

describe('soak nemesis plan', () => {
  it('is the same for the same seed, and differs for another', () => {
    expect(planFaults(new Random(42), 120_000, 4)).toEqual(planFaults(new Random(42), 120_000, 4));
    expect(planFaults(new Random(42), 120_000, 4)).not.toEqual(planFaults(new Random(43), 120_000, 4));
  });

  it('over many seeds: every kind appears, never three servers down, never two faults on one target at once', () => {
    const kinds = new Set<string>();
    for (let seed = 1; seed <= 200; seed++) {
      const plan = planFaults(new Random(seed), 120_000, 4);
      const server = (k: string) => k === 'kill-server' || k === 'quorum-loss' || k === 'pause-server';
      for (const f of plan) {
        kinds.add(f.kind);
        const during = plan.filter((g) => g !== f && g.at <= f.at && f.at < g.at + g.durationMs + 1);
        const down = f.targets.length * Number(server(f.kind)) + during.filter((g) => server(g.kind)).reduce((n, g) => n + g.targets.length, 0);
        if (server(f.kind)) expect(down, `seed ${seed} at ${f.at}`).toBeLessThanOrEqual(2);
        const targets = new Set(during.filter((g) => server(g.kind) === server(f.kind)).flatMap((g) => g.targets));
        for (const x of f.targets) expect(targets.has(x), `seed ${seed}: ${f.kind} on a busy target`).toBe(false);
      }
    }
    expect([...kinds].sort()).toEqual([...FAULT_KINDS].sort());
  });
});
