import { describe, expect, it } from 'vitest';
import {
  checkLinearizability,
  type Operation,
  type RegisterInput,
  type RegisterOutput,
  type RegisterState,
  versionedRegister,
} from '../soak/linearizability.js';
import { InvalidArgumentError } from '../src/errors.js';

type Op = Operation<RegisterInput, RegisterOutput>;

const model = versionedRegister({ value: 'init', version: 0 });

const read = (process: string, call: number, ret: number | undefined, value?: string, version?: number): Op =>
  ret === undefined
    ? { process, input: { kind: 'read' }, call }
    : { process, input: { kind: 'read' }, call, return: ret, output: { value: value!, version: version! } };

/** `result`: a number = ok with that new version, false = BadVersion; `ret` undefined = indeterminate. */
const cas = (process: string, call: number, ret: number | undefined, expectedVersion: number, value: string, result?: number | false): Op => {
  const input: RegisterInput = { kind: 'cas', expectedVersion, value };
  if (ret === undefined) return { process, input, call };
  return { process, input, call, return: ret, output: result === false ? { ok: false } : { ok: true, version: result! } };
};

const write = (process: string, call: number, ret: number | undefined, value: string, version?: number): Op =>
  ret === undefined
    ? { process, input: { kind: 'write', value }, call }
    : { process, input: { kind: 'write', value }, call, return: ret, output: { ok: true, version: version! } };

const check = (history: Op[], maxStates?: number) => checkLinearizability(history, model, { maxStates });

function expectRejected(history: Op[], index: number, what: string): string {
  const r = check(history);
  expect(r.ok).toBe(false);
  expect(r.complete).toBe(true);
  expect(r.violation).toContain(`#${index} (`);
  expect(r.violation).toContain(what);
  return r.violation!;
}

describe('checkLinearizability: histories it must accept', () => {
  it('a sequential history of reads, successful and failed cas', () => {
    const r = check([
      read('p1', 0, 1, 'init', 0),
      cas('p1', 2, 3, 0, 'a', 1),
      read('p2', 4, 5, 'a', 1),
      cas('p2', 6, 7, 1, 'b', 2),
      cas('p1', 8, 9, 1, 'c', false),
      write('p1', 10, 11, 'd', 3),
      read('p2', 12, 13, 'd', 3),
    ]);
    expect(r).toMatchObject({ ok: true, complete: true, operations: 7 });
    expect(r.violation).toBeUndefined();
    expect(r.explored).toBeGreaterThanOrEqual(7);
  });

  it('overlapping reads and cas, where the order differs from the call order', () => {
    const r = check([
      cas('p1', 0, 10, 0, 'a', 1),
      cas('p2', 1, 9, 1, 'b', 2), // called after p1's cas, still linearized after it
      read('p3', 2, 3, 'init', 0), // before either took effect
      read('p4', 4, 5, 'b', 2), // both took effect by now
      cas('p3', 6, 12, 0, 'c', false),
      read('p4', 7, 11, 'b', 2),
    ]);
    expect(r.ok).toBe(true);
  });

  it('an op that returned at t and one called at t are concurrent', () => {
    expect(check([cas('p1', 0, 5, 0, 'a', 1), read('p2', 5, 6, 'init', 0)]).ok).toBe(true);
    expect(check([cas('p1', 0, 5, 0, 'a', 1), read('p2', 6, 7, 'init', 0)]).ok).toBe(false);
  });

  it('an indeterminate cas that took effect, as later reads show', () => {
    const r = check([read('p2', 1, 2, 'init', 0), cas('p1', 3, undefined, 0, 'a'), read('p2', 100, 101, 'a', 1), cas('p2', 102, 103, 1, 'b', 2)]);
    expect(r.ok).toBe(true);
  });

  it('an indeterminate cas and write that never took effect', () => {
    const r = check([
      cas('p1', 0, undefined, 0, 'lost'),
      write('p3', 1, undefined, 'lost too'),
      read('p2', 5, 6, 'init', 0),
      cas('p2', 7, 8, 0, 'b', 1),
      read('p2', 9, 10, 'b', 1),
    ]);
    expect(r.ok).toBe(true);
  });

  it('indeterminate writes nobody read that took effect, seen only in the version', () => {
    const history = [cas('p1', 0, 1, 0, 'a', 1), write('p2', 2, undefined, 'w1'), write('p3', 3, undefined, 'w2'), cas('p1', 10, 11, 3, 'b', 4)];
    expect(check([...history, read('p1', 12, 13, 'b', 4)]).ok).toBe(true);
    // One lost write too few for the version the cas saw.
    expectRejected([history[0]!, history[1]!, history[3]!], 2, 'cas(v3 → "b") → ok v4');
  });

  it('200 lost writes nobody read cost about 200 states, not 2^200 (they are placed in call order)', () => {
    const lost = Array.from({ length: 200 }, (_, i) => write(`k${i}`, i, undefined, `lost ${i}`));
    const r = check([...lost, cas('p1', 300, 301, 120, 'b', 121), read('p1', 302, 303, 'b', 121)]);
    expect(r).toMatchObject({ ok: true, complete: true, operations: 202 });
    expect(r.explored).toBeLessThan(1000);
    const tooMany = check([...lost, cas('p1', 300, 301, 201, 'b', 202)]);
    expect(tooMany).toMatchObject({ ok: false, complete: true });
    expect(tooMany.violation).toContain('#200 (p1) cas(v201 → "b") → ok v202');
  });

  it('drops indeterminate reads up front and accepts an empty history', () => {
    const r = check([read('p1', 0, undefined), cas('p2', 1, 2, 0, 'a', 1)]);
    expect(r).toMatchObject({ ok: true, complete: true, operations: 2 });
    expect(check([])).toMatchObject({ ok: true, complete: true, operations: 0, explored: 0 });
  });
});

describe('checkLinearizability: histories it must reject, naming the op', () => {
  it('a stale read after a completed write, in a sentence naming the prefix and the state', () => {
    const v = expectRejected([cas('p1', 0, 1, 0, 'a', 1), read('p2', 2, 3, 'init', 0), write('p3', 2, undefined, 'w')], 1, 'read → "init"@v0');
    expect(v).toBe(
      'not linearizable: #1 (p2) read → "init"@v0 [call 2, return 3] cannot be placed. The longest linearizable prefix the search found up to its '
        + 'return has 1 of 3 ops, ending with #0 (p1) cas(v0 → "a") → ok v1 [call 0, return 1], and leaves the state "a"@v1; from there no order '
        + 'of the ops still open (#2 (p3) write("w") → ? [call 2, indeterminate]) lets it take effect before it returned.',
    );
  });

  it('two successful cas with the same expectedVersion', () => {
    const v = expectRejected([cas('p1', 0, 5, 0, 'a', 1), cas('p2', 1, 6, 0, 'b', 1)], 1, 'cas(v0 → "b") → ok v1');
    expect(v).toContain('"a"@v1');
  });

  it('a read of a value never written', () => {
    expectRejected([cas('p1', 0, 1, 0, 'a', 1), read('p2', 2, 3, 'zz', 1)], 1, '"zz"@v1');
  });

  it('a read seeing a write that was called after the read returned (also an indeterminate one)', () => {
    expectRejected([read('p2', 0, 1, 'a', 1), cas('p1', 2, 3, 0, 'a', 1)], 0, 'read → "a"@v1');
    expectRejected([read('p2', 0, 1, 'a', 1), cas('p1', 2, undefined, 0, 'a')], 0, 'read → "a"@v1');
  });

  it('versions going backwards: a read sees the old version after another saw the new one', () => {
    const history = [cas('p1', 0, 1, 0, 'a', 1), cas('p1', 2, 20, 1, 'b', 2), read('p2', 3, 4, 'b', 2), read('p2', 5, 6, 'a', 1)];
    expectRejected(history, 3, 'read → "a"@v1');
  });

  it('a failed cas whose expectedVersion equals the only possible version', () => {
    expectRejected([cas('p1', 0, 1, 0, 'a', 1), cas('p2', 2, 3, 1, 'b', false), read('p1', 4, 5, 'a', 1)], 1, 'cas(v1 → "b") → BadVersion');
  });

  it('a successful cas reporting the wrong new version', () => {
    expectRejected([cas('p1', 0, 1, 0, 'a', 1), cas('p1', 2, 3, 1, 'b', 3)], 1, 'cas(v1 → "b") → ok v3');
  });
});

describe('checkLinearizability: bad input', () => {
  it('throws InvalidArgumentError naming the op', () => {
    expect(() => check([read('p1', 5, 4, 'init', 0)])).toThrow(InvalidArgumentError);
    expect(() => check([read('p1', 5, 4, 'init', 0)])).toThrow(/history\[0\] \(p1\): returned \(4\) before it was called \(5\)/);
    expect(() => check([{ process: 'p1', input: { kind: 'read' }, call: 0, return: 1 }])).toThrow(/needs its output/);
    expect(() => check([{ process: 'p1', input: { kind: 'read' }, call: Number.NaN }])).toThrow(/call must be a finite number/);
    expect(() => check([], 0)).toThrow(/maxStates must be a positive integer/);
  });
});

function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Generated {
  history: Op[];
  /** For each successful definite write (by history index): the state it replaced. */
  replaced: Map<number, RegisterState>;
}

interface Planned {
  p: number;
  process: string;
  call: number;
  lin: number;
  ret: number;
  kind: RegisterInput['kind'];
  lost: boolean;
}

/** Intervals for `count` ops of `processes` workers, each op's linearization point inside its interval. */
function plan(rnd: () => number, count: number, processes: number, lostRate: number): Planned[] {
  const int = (n: number) => Math.floor(rnd() * n);
  const clocks = Array.from({ length: processes }, () => int(5));
  const generation = new Array<number>(processes).fill(0);
  const out: Planned[] = [];
  for (let i = 0; i < count; i++) {
    const p = clocks.indexOf(Math.min(...clocks));
    const call = clocks[p]! + int(3);
    const lin = call + int(8);
    const ret = lin + int(8);
    const x = rnd();
    const kind = x < 0.45 ? 'read' : x < 0.9 ? 'cas' : 'write';
    const lost = rnd() < lostRate;
    out.push({ p, process: `p${p}.${generation[p]}`, call, lin, ret, kind, lost });
    if (lost) generation[p]!++; // a killed worker's successor: a new process name
    clocks[p] = ret + int(3);
  }
  return out;
}

/** A linearizable history from a simulated register: ops applied in linearization-point order. */
function generate(seed: number, count: number, processes = 5, lostRate = 0): Generated {
  const rnd = mulberry32(seed);
  const planned = plan(rnd, count, processes, lostRate);
  const history = new Array<Op>(count);
  const replaced = new Map<number, RegisterState>();
  const lastSeen = new Array<number>(processes).fill(0);
  let state: RegisterState = { value: 'init', version: 0 };
  const order = planned.map((_, i) => i).sort((a, b) => planned[a]!.lin - planned[b]!.lin || a - b);
  for (const i of order) {
    const { p, process, call, ret, kind, lost } = planned[i]!;
    const applies = !lost || rnd() < 0.5;
    const expectedVersion = lastSeen[p]! + (rnd() < 0.2 ? 1 : 0);
    const input: RegisterInput = kind === 'read' ? { kind } : kind === 'cas' ? { kind, expectedVersion, value: `v${i}` } : { kind, value: `v${i}` };
    let output: RegisterOutput;
    if (input.kind === 'read') output = { ...state };
    else if (input.kind === 'cas' && state.version !== expectedVersion) output = { ok: false };
    else {
      if (applies && !lost) replaced.set(i, state);
      if (applies) state = { value: input.value, version: state.version + 1 };
      output = { ok: true, version: state.version };
    }
    if ('value' in output || output.version !== undefined) lastSeen[p] = output.version!;
    history[i] = lost ? { process, input, call } : { process, input, call, return: ret, output };
  }
  return { history, replaced };
}

/** Index of the first definite read at or after `from`. */
const readAt = (history: Op[], from: number) => history.findIndex((op, i) => i >= from && op.input.kind === 'read' && op.return !== undefined);

/** The definition, by brute force (small histories only): some order of the definite ops and a subset of the others works. */
function bruteForce(history: Op[]): boolean {
  const definite = history.filter((op) => op.return !== undefined).length;
  const search = (placed: Set<Op>, state: RegisterState, done: number): boolean =>
    done === definite
    || history.some((op) => {
      if (placed.has(op) || history.some((o) => !placed.has(o) && o.return !== undefined && o.return < op.call)) return false;
      const next = model.step(state, op.input, op.output);
      return next !== undefined && search(new Set([...placed, op]), next, done + (op.return === undefined ? 0 : 1));
    });
  return search(new Set(), model.init, 0);
}

/** Make one output of a small history something else that is plausible, so that some stop being linearizable. */
function mutate(history: Op[], rnd: () => number): void {
  const int = (n: number) => Math.floor(rnd() * n);
  const i = int(history.length);
  const op = history[i]!;
  if (op.output === undefined) return;
  const values = ['init', ...history.flatMap((o) => (o.input.kind === 'read' ? [] : [o.input.value]))];
  if ('value' in op.output) history[i] = { ...op, output: { value: values[int(values.length)]!, version: int(4) } };
  else history[i] = { ...op, output: rnd() < 0.5 ? { ok: !op.output.ok, version: int(4) } : { ok: true, version: int(4) } };
}

/** Drop the new version from cas/write outputs: then several orders of the writes may fit, and the search must try them. */
function unversion(history: Op[]): void {
  history.forEach((op, i) => {
    if (op.output !== undefined && 'ok' in op.output) history[i] = { ...op, output: { ok: op.output.ok } };
  });
}

describe('checkLinearizability agrees with brute force', () => {
  it('on 3000 small random histories (3 workers, 20% indeterminate; half with one output changed, half without write versions)', () => {
    const rnd = mulberry32(4242);
    let rejected = 0;
    for (let n = 0; n < 3000; n++) {
      const { history } = generate(1000 + n, 7, 3, 0.2);
      if (rnd() < 0.5) mutate(history, rnd);
      if (n % 2 === 1) unversion(history);
      const expected = bruteForce(history);
      const r = check(history);
      expect({ n, ok: r.ok, complete: r.complete }).toEqual({ n, ok: expected, complete: true });
      if (!expected) rejected++;
    }
    expect(rejected).toBeGreaterThan(500);
  });
});

describe('checkLinearizability: random histories from a simulated register', () => {
  it('accepts 5000 ops of 5 concurrent workers (10 seeds), in well under a couple of seconds each', () => {
    for (let seed = 1; seed <= 10; seed++) {
      const { history } = generate(seed, 5000);
      const r = check(history);
      expect(r, r.violation).toMatchObject({ ok: true, complete: true, operations: 5000 });
      expect(r.explored).toBeLessThan(2 * 5000); // about one state per op: no backtracking to speak of
      expect(r.ms).toBeLessThan(2000);
    }
  });

  it('accepts 5000 ops with 2% and 5% indeterminate (half of them took effect), fast', () => {
    for (let seed = 11; seed <= 20; seed++) {
      const { history } = generate(seed, 5000, 5, seed <= 15 ? 0.02 : 0.05);
      expect(history.filter((op) => op.return === undefined).length).toBeGreaterThan(50);
      const r = check(history);
      expect(r, r.violation).toMatchObject({ ok: true, complete: true });
      expect(r.explored).toBeLessThan(3 * 5000);
      expect(r.ms).toBeLessThan(2000);
    }
  });

  it('accepts 20 000 ops (the explicit stack: no recursion)', () => {
    const r = check(generate(99, 20_000, 5, 0.005).history);
    expect(r, r.violation).toMatchObject({ ok: true, complete: true, operations: 20_000 });
  });

  it('rejects the history once one read sees a value never written, naming that read', () => {
    for (let seed = 21; seed <= 25; seed++) {
      const { history } = generate(seed, 5000, 5, 0.01);
      const i = readAt(history, 2500);
      const out = history[i]!.output as { value: string; version: number };
      history[i] = { ...history[i]!, output: { value: 'never written', version: out.version } };
      expectRejected(history, i, 'read → "never written"');
    }
  });

  it('rejects the history once one read sees the state a write that returned before its call replaced', () => {
    for (let seed = 31; seed <= 35; seed++) {
      const { history, replaced } = generate(seed, 5000, 5, 0.01);
      const i = readAt(history, 2500);
      const w = [...replaced.keys()].filter((j) => history[j]!.return! < history[i]!.call).sort((a, b) => b - a)[0]!;
      const stale = replaced.get(w)!;
      history[i] = { ...history[i]!, output: stale };
      expectRejected(history, i, `read → ${JSON.stringify(stale.value)}@v${stale.version}`);
    }
  });

  it('stops at the budget with complete: false (not proven), distinct from a violation', () => {
    const r = check(generate(7, 5000).history, 100);
    expect(r).toMatchObject({ ok: false, complete: false, operations: 5000 });
    expect(r.explored).toBeLessThanOrEqual(100);
    expect(r.violation).toMatch(/^not proven: the search visited its budget of 100 states/);
  });
});
