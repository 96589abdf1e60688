/**
 * A linearizability checker for the soak's histories (pure logic, no ZooKeeper), after Knossos and Porcupine's `checkSingle`, and the
 * model the soak checks against: a znode written by compare-and-set.
 *
 * A history is linearizable when one total order of its ops (1) respects real time — `a` before `b` whenever `a` returned strictly before
 * `b` was called — and (2) is accepted by the sequential model, each op giving exactly the output its client saw. Every definite op (it
 * returned) is in the order; an indeterminate op (connection lost, process killed) may be anywhere after its call, or absent.
 *
 * Algorithm: Wing & Gong's search with Lowe's memoisation.
 * 1. Definite ops give a call and a return entry, sorted by time into a doubly linked list; at equal times calls sort first, so an op
 *    that returned at t and one called at t are concurrent (a ms clock cannot order them; Porcupine does the same). Indeterminate ops
 *    return at +infinity: only their call entry, in a second list.
 * 2. The ops that may come next are the unplaced ones called before the first return entry left. The search tries them against the model;
 *    a placement pushes (op, old state) on an explicit stack (no recursion: 20 000 ops would overflow it), lifts the op's entries out of
 *    the lists and starts over. When no candidate fits, the first return's op can no longer be placed in time: pop the last choice,
 *    relink its entries (dancing links: LIFO restores the lists exactly), try the next candidate. All definite ops placed: linearizable
 *    (the indeterminate ops left never took effect). Stack empty: no order works. All orders real time allows are tried: it is exact.
 * 3. Memoisation: what can still happen depends only on the placed set (which fixes the lists) and the model state, so each (set, state)
 *    is expanded once; a known pair is a subtree explored and failed (the pairs on the stack have smaller sets). The set is two bitsets,
 *    definite ops (a prefix plus a few: a short key) and indeterminate ones.
 * 4. Order of candidates: read-only definite ops first (`Model.readOnly`: a read, a failed cas). Placing one that fits is never wrong —
 *    it changes no state, and any order placing it later works as well with it moved up front — so it is forced: no alternative is tried,
 *    and a known pair after it fails its node at once. Then the other definite ops, then the indeterminate ones, so that an op that never
 *    took effect is tried only where nothing else fits. Indeterminate ops of one `Model.interchangeable` class (same effect as far as the
 *    history can tell: writes no read saw) are placed in call order only — any order can be rewritten so — so k of them cost k + 1
 *    choices, not 2^k. Indeterminate read-only ops are dropped up front.
 * The search is exponential in the worst case: `maxStates` bounds it, and a search that hits the bound reports `complete: false` (not
 * proven), distinct from a violation. A violation names the op whose return the search got furthest to without placing it, the order it
 * held then and the ops still open.
 * @module
 */
import { InvalidArgumentError } from '../src/errors.js';

/** One operation of a history as its client saw it. */
export interface Operation<I, O> {
  /** Who ran it (a worker); the ops of one process never overlap. */
  process: string;
  /** What was asked. */
  input: I;
  /** When it was invoked (ms or any monotone clock shared by all processes). */
  call: number;
  /** When it returned; undefined = indeterminate: it may have taken effect at any point after `call`, or never. */
  return?: number;
  /** What it returned; undefined when indeterminate. */
  output?: O;
}

/** A sequential specification: the states an object goes through and the outputs each op can give. */
export interface Model<S, I, O> {
  /** The state before any op. */
  init: S;
  /** The state after `input` with this `output` at `s`, or undefined if impossible; for an indeterminate op (`output` undefined), after it took effect. */
  step(s: S, input: I, output: O | undefined): S | undefined;
  /** A string identifying a state (for memoisation): equal keys mean equal states. */
  key(s: S): string;
  /** Describe an op for messages. */
  describe(input: I, output: O | undefined): string;
  /** Optional, for speed: true when the op with this output (undefined: indeterminate) leaves every state it fits unchanged. */
  readOnly?(input: I, output: O | undefined): boolean;
  /** Optional, for speed: per indeterminate op a class (or undefined); ops of one class have the same effect as far as any op of the history can tell. */
  interchangeable?(history: readonly Operation<I, O>[]): (op: Operation<I, O>) => string | undefined;
}

/** The result of {@link checkLinearizability}. */
export interface LinearizabilityReport {
  /** True: a linearization exists. */
  ok: boolean;
  /** False when the search hit `maxStates` (then `ok` is false and `violation` says so): not proven, not a violation. */
  complete: boolean;
  /** Ops in the history as given. */
  operations: number;
  /** On `!ok`: a sentence naming the op that could not be placed and the ops around it. */
  violation?: string;
  /** Search states visited (distinct (placed set, state) pairs). */
  explored: number;
  /** Wall time of the check. */
  ms: number;
}

/** The default search budget: a million states (of the order of 100 MB of cache). */
export const DEFAULT_MAX_STATES = 1_000_000;

const FULL = 0xffffffff;

/** A set of small integers with a canonical string form, short for a prefix plus a few more. */
class Bitset {
  private low = 0; // every word below is full
  private high = -1; // no bit set above this word

  constructor(private readonly words: Uint32Array) {}

  set(i: number, on: boolean): void {
    const w = i >>> 5;
    if (on) this.words[w]! |= 1 << (i & 31);
    else this.words[w]! &= ~(1 << (i & 31));
    if (on && w > this.high) this.high = w;
    if (!on && w < this.low) this.low = w;
    while (this.low <= this.high && this.words[this.low] === FULL) this.low++;
  }

  /** Canonical: the full words below the first other one are counted, trailing empty words left out. */
  key(): string {
    let end = this.high;
    while (end >= this.low && this.words[end] === 0) end--;
    return `${this.low}:${this.words.subarray(this.low, end + 1).join(',')}`;
  }
}

/** An op of the history ready for the search. */
type Item<I, O> = { op: Operation<I, O>; origin: number; callEnt: number; retEnt: number; bit: number; cls: number; rank: number; ro: boolean };
/** The history ready for the search: ops in call order, entries sorted by time (per entry: the index of its item). */
type Prepared<I, O> = { items: Item<I, O>[]; entItem: Int32Array; definite: number; classes: number };
/** Where the search got furthest: the return entry it reached with its op unplaced, and what it held then. */
type Blocked<S> = { entry: number; depth: number; done: number; state: S; last: number[]; open: number[] };

function validate<I, O>(history: readonly Operation<I, O>[]): void {
  history.forEach((op, i) => {
    const bad = (what: string) => new InvalidArgumentError(`checkLinearizability: history[${i}] (${op.process}): ${what}`);
    if (!Number.isFinite(op.call)) throw bad(`call must be a finite number, got ${op.call}`);
    if (op.return === undefined && op.output !== undefined) throw bad('an indeterminate op (no return) must have no output');
    if (op.return === undefined) return;
    if (!Number.isFinite(op.return)) throw bad(`return must be a finite number, got ${op.return}`);
    if (op.return < op.call) throw bad(`returned (${op.return}) before it was called (${op.call})`);
    if (op.output === undefined) throw bad('a definite op (with a return) needs its output');
  });
}

/** Items in call order (indeterminate read-only ops dropped) with their bit, class and rank in it; entries sorted by time. */
function prepare<S, I, O>(history: readonly Operation<I, O>[], model: Model<S, I, O>): Prepared<I, O> {
  const classOf = model.interchangeable?.(history);
  const origins = history.map((_, i) => i).filter((i) => history[i]!.return !== undefined || !model.readOnly?.(history[i]!.input, undefined));
  origins.sort((a, b) => history[a]!.call - history[b]!.call || a - b);
  const [ids, sizes, counts] = [new Map<string, number>(), [] as number[], [0, 0]]; // counts: definite, indeterminate
  const times: { t: number; ret: number; item: number }[] = [];
  const items = origins.map((origin, i) => {
    const op = history[origin]!;
    const lost = op.return === undefined;
    const c = lost ? classOf?.(op) : undefined;
    if (c !== undefined && !ids.has(c)) ids.set(c, sizes.push(0) - 1);
    const cls = c === undefined ? -1 : ids.get(c)!;
    times.push({ t: op.call, ret: 0, item: i }, ...(lost ? [] : [{ t: op.return!, ret: 1, item: i }]));
    const ro = !lost && model.readOnly?.(op.input, op.output) === true;
    return { op, origin, callEnt: -1, retEnt: -1, bit: counts[lost ? 1 : 0]!++, cls, rank: cls < 0 ? 0 : sizes[cls]!++, ro };
  });
  times.sort((a, b) => a.t - b.t || a.ret - b.ret || a.item - b.item);
  for (const [i, e] of times.entries()) items[e.item]![e.ret ? 'retEnt' : 'callEnt'] = i;
  return { items, entItem: Int32Array.from(times, (e) => e.item), definite: times.length - items.length, classes: sizes.length };
}

/** One run of the search (see the module comment). */
class Search<S, I, O> {
  private readonly next: Int32Array; // links of two lists: the definite ops' entries (head `main`) and the indeterminate calls (`side`)
  private readonly prev: Int32Array;
  private readonly main: number;
  private readonly side: number;
  private readonly defs: Bitset; // the placed set: definite ops, indeterminate ops, and how many of each class
  private readonly indets: Bitset;
  private readonly classPlaced: Int32Array;
  readonly cache = new Set<string>();
  private readonly stack: { item: number; state: S; pass: number; limit: number }[] = []; // the state before, the cursor then
  private state: S;
  private done = 0;
  private at: number; // the cursor; pass 0: read-only definite calls, 1: other definite calls, 2: indeterminate calls before `limit`
  private pass = 0;
  private limit = -1;
  blocked: Blocked<S> | undefined;

  constructor(
    private readonly h: Prepared<I, O>,
    private readonly model: Model<S, I, O>,
    private readonly maxStates: number,
  ) {
    const n = h.entItem.length;
    [this.main, this.side] = [n, n + 1];
    this.next = new Int32Array(n + 2).fill(-1);
    this.prev = new Int32Array(n + 2).fill(-1);
    const tails = [this.main, this.side];
    for (let e = 0; e < n; e++) {
      const list = h.items[h.entItem[e]!]!.retEnt < 0 ? 1 : 0;
      [this.next[tails[list]!], this.prev[e], tails[list]] = [e, tails[list]!, e];
    }
    this.defs = new Bitset(new Uint32Array((h.definite >>> 5) + 1));
    this.indets = new Bitset(new Uint32Array(((h.items.length - h.definite) >>> 5) + 1));
    this.classPlaced = new Int32Array(h.classes);
    this.state = model.init;
    this.at = this.next[this.main]!;
  }

  run(): 'ok' | 'violation' | 'budget' {
    while (this.done < this.h.definite) {
      const r = this.advance();
      if (r === 'budget') return 'budget';
      if (r === 'fail' && !this.backtrack()) return 'violation';
    }
    return 'ok';
  }

  /** Try the entry under the cursor and move the cursor on: 'fail' when the current node has no candidate left. */
  private advance(): 'go' | 'fail' | 'budget' {
    const e = this.at;
    const it = e === -1 ? undefined : this.h.items[this.h.entItem[e]!]!;
    if (this.pass < 2 && (it === undefined || it.retEnt === e)) {
      this.pass++; // at the first return entry left: the next pass
      this.limit = e;
      this.at = this.next[this.pass === 1 ? this.main : this.side]!;
      return 'go';
    }
    if (it === undefined || (this.pass === 2 && this.limit !== -1 && e >= this.limit)) {
      this.noteBlock(this.limit);
      return 'fail';
    }
    if ((this.pass < 2 && it.ro !== (this.pass === 0)) || (it.cls >= 0 && it.rank !== this.classPlaced[it.cls])) {
      this.at = this.next[e]!; // not this pass's, or an earlier op of its class is still unplaced
      return 'go';
    }
    const r = this.tryPlace(this.h.entItem[e]!, it);
    if (r === 'budget' || (r === 'seen' && this.pass === 0)) return r === 'budget' ? r : 'fail'; // a forced op's pair is known: this node fails
    this.at = r === 'placed' ? this.next[this.main]! : this.next[e]!;
    if (r === 'placed') this.pass = 0;
    return 'go';
  }

  /** Place the item next if the model allows it and the resulting (set, state) is new. */
  private tryPlace(item: number, it: Item<I, O>): 'placed' | 'impossible' | 'seen' | 'budget' {
    const s2 = this.model.step(this.state, it.op.input, it.op.output);
    if (s2 === undefined) return 'impossible';
    this.mark(it, true);
    const key = `${this.defs.key()}|${this.indets.key()}|${this.model.key(s2)}`;
    const seen = this.cache.has(key);
    if (seen || this.cache.size >= this.maxStates) {
      this.mark(it, false);
      return seen ? 'seen' : 'budget';
    }
    this.cache.add(key);
    this.stack.push({ item, state: this.state, pass: this.pass, limit: this.limit });
    this.state = s2;
    this.lift(it, true);
    return 'placed';
  }

  /** Undo placements back to the last free choice (a forced one fails with its node); false when none is left. */
  private backtrack(): boolean {
    for (let f = this.stack.pop(); f !== undefined; f = this.stack.pop()) {
      const it = this.h.items[f.item]!;
      this.state = f.state;
      this.mark(it, false);
      this.lift(it, false);
      if (f.pass === 0) continue;
      [this.pass, this.limit, this.at] = [f.pass, f.limit, this.next[it.callEnt]!];
      return true;
    }
    return false;
  }

  private mark(it: Item<I, O>, placed: boolean): void {
    (it.retEnt >= 0 ? this.defs : this.indets).set(it.bit, placed);
    if (it.retEnt >= 0) this.done += placed ? 1 : -1;
    if (it.cls >= 0) this.classPlaced[it.cls]! += placed ? 1 : -1;
  }

  /** Take the item's entries out of the lists, or put them back (in reverse order: the dancing-links undo). */
  private lift(it: Item<I, O>, out: boolean): void {
    const entries = it.retEnt < 0 ? [it.callEnt] : out ? [it.callEnt, it.retEnt] : [it.retEnt, it.callEnt];
    for (const e of entries) {
      const [p, n] = [this.prev[e]!, this.next[e]!];
      this.next[p] = out ? n : e;
      if (n !== -1) this.prev[n] = out ? p : e;
    }
  }

  /** Remember the furthest return entry reached with its op unplaced (on ties: the most definite ops placed, then the fewest others). */
  private noteBlock(e: number): void {
    const [b, depth, done] = [this.blocked, this.stack.length, this.done];
    if (e === -1 || (b && (e < b.entry || (e === b.entry && (done < b.done || (done === b.done && depth >= b.depth)))))) return;
    const open: number[] = [];
    for (const head of [this.main, this.side]) {
      for (let x = this.next[head]!; x !== -1 && x < e && open.length < 6; x = this.next[x]!) {
        if (this.h.items[this.h.entItem[x]!]!.callEnt === x) open.push(this.h.entItem[x]!);
      }
    }
    this.blocked = { entry: e, depth, done, state: this.state, last: this.stack.slice(-3).map((f) => f.item), open };
  }
}

function violationText<S, I, O>(h: Prepared<I, O>, model: Model<S, I, O>, b: Blocked<S> | undefined): string {
  if (b === undefined) return `not linearizable: no order of the ${h.items.length} ops works`;
  const d = (item: number) => {
    const { op, origin } = h.items[item]!;
    return `#${origin} (${op.process}) ${model.describe(op.input, op.output)} [call ${op.call}, ${op.return === undefined ? 'indeterminate' : `return ${op.return}`}]`;
  };
  const blocked = h.entItem[b.entry]!;
  const last = b.last.length === 0 ? '' : `, ending with ${b.last.map(d).join(', ')}`;
  const others = b.open.filter((item) => item !== blocked).map(d);
  return (
    `not linearizable: ${d(blocked)} cannot be placed. The longest linearizable prefix the search found up to its return has `
    + `${b.depth} of ${h.items.length} ops${last}, and leaves the state ${model.key(b.state)}; from there no order of the ops `
    + `still open (${others.length === 0 ? 'none' : others.join(', ')}) lets it take effect before it returned.`
  );
}

/**
 * Decide whether `history` is linearizable with respect to `model` (the algorithm is in the module comment).
 * Ops with a return are definite and must all be placed; ops without one may be placed after their call, or dropped.
 * @throws InvalidArgumentError when an op has a non-finite time, returned before its call, has an output but
 *   no return or a return but no output; or when `maxStates` is not a positive integer.
 * @param opts - `maxStates`: the most search states to visit before giving up with `complete: false`
 *   (default {@link DEFAULT_MAX_STATES}).
 */
export function checkLinearizability<S, I, O>(
  history: readonly Operation<I, O>[],
  model: Model<S, I, O>,
  opts: { maxStates?: number } = {},
): LinearizabilityReport {
  const started = performance.now();
  const maxStates = opts.maxStates ?? DEFAULT_MAX_STATES;
  if (!Number.isSafeInteger(maxStates) || maxStates < 1) {
    throw new InvalidArgumentError(`checkLinearizability: maxStates must be a positive integer, got ${opts.maxStates}`);
  }
  validate(history);
  const h = prepare(history, model);
  const search = new Search(h, model, maxStates);
  const outcome = search.run();
  const r: LinearizabilityReport = { ok: outcome === 'ok', complete: outcome !== 'budget', operations: history.length, explored: search.cache.size, ms: 0 };
  if (outcome === 'budget') r.violation = `not proven: the search visited its budget of ${maxStates} states, finding no linearization of ${h.items.length} ops`;
  if (outcome === 'violation') r.violation = violationText(h, model, search.blocked);
  r.ms = performance.now() - started;
  return r;
}

/** The state of a znode as the register model sees it. */
export interface RegisterState {
  /** The node's data (unique per write in the soak). */
  value: string;
  /** The node's data version (`stat.version`): each successful write adds 1. */
  version: number;
}

/** An op on the register: a read (`getData`), a compare-and-set (`setData` with a version) or a write (`setData` with -1). */
export type RegisterInput = { kind: 'read' } | { kind: 'cas'; expectedVersion: number; value: string } | { kind: 'write'; value: string };

/** What an op returned: a read's data and version; a cas/write's `ok` (false: BadVersion, no effect) and new `version` (unchecked if absent). */
export type RegisterOutput = { value: string; version: number } | { ok: boolean; version?: number };

function registerStep(s: RegisterState, input: RegisterInput, output: RegisterOutput | undefined): RegisterState | undefined {
  if (input.kind === 'read') {
    if (output === undefined) return s;
    if (!('value' in output)) return undefined;
    return output.value === s.value && output.version === s.version ? s : undefined;
  }
  const applies = input.kind === 'write' || s.version === input.expectedVersion;
  if (output !== undefined && !('ok' in output)) return undefined;
  if (output?.ok === false) return input.kind === 'cas' && applies ? undefined : s;
  if (!applies || (output?.version !== undefined && output.version !== s.version + 1)) return undefined;
  return { value: input.value, version: s.version + 1 };
}

function describeRegisterOp(input: RegisterInput, output: RegisterOutput | undefined): string {
  let result = '?';
  if (output !== undefined && 'value' in output) result = `${JSON.stringify(output.value)}@v${output.version}`;
  else if (output !== undefined) result = output.ok ? `ok${output.version === undefined ? '' : ` v${output.version}`}` : 'BadVersion';
  if (input.kind === 'read') return `read → ${result}`;
  if (input.kind === 'write') return `write(${JSON.stringify(input.value)}) → ${result}`;
  return `cas(v${input.expectedVersion} → ${JSON.stringify(input.value)}) → ${result}`;
}

/** Indeterminate writes of values no read saw differ only in the version they leave: one class per expected version. */
function registerClasses(history: readonly Operation<RegisterInput, RegisterOutput>[]) {
  const seen = new Set(history.flatMap((op) => (op.output !== undefined && 'value' in op.output ? [op.output.value] : [])));
  return ({ input }: Operation<RegisterInput, RegisterOutput>) => {
    if (input.kind === 'read' || seen.has(input.value)) return undefined;
    return input.kind === 'write' ? 'write' : `cas v${input.expectedVersion}`;
  };
}

/**
 * The model of one znode written by compare-and-set: a read sees exactly the current data and version; a successful
 * cas needs the current version to be `expectedVersion` and adds 1 to it; a failed cas (BadVersion) needs it to differ
 * and changes nothing; a write always fits (one reported `ok: false` counts as a definite no-effect). An indeterminate
 * cas or write took effect (this step) or never did (the checker drops it). State keys read like `"a"@v3`.
 */
export const versionedRegister = (init: RegisterState): Model<RegisterState, RegisterInput, RegisterOutput> => ({
  init,
  step: registerStep,
  key: (s) => `${JSON.stringify(s.value)}@v${s.version}`,
  describe: describeRegisterOp,
  readOnly: (input, output) => input.kind === 'read' || (output !== undefined && 'ok' in output && !output.ok),
  interchangeable: registerClasses,
});
