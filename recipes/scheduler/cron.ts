/**
 * Cron expressions for recurring schedules, evaluated in UTC.
 *
 * Five fields (`minute hour day-of-month month day-of-week`), or six with seconds first
 * (`second minute hour day-of-month month day-of-week`). Each field takes `*`, a value, a range
 * `a-b`, a step (`*`, a range or a start value, then `/n`), and comma-separated lists of those; months take
 * `jan`–`dec`, weekdays `sun`–`sat` (0 or 7 is Sunday). As in Vixie cron, when both
 * day-of-month and day-of-week are restricted a day matches either. Macros: `@yearly`
 * (`@annually`), `@monthly`, `@weekly`, `@daily` (`@midnight`), `@hourly`.
 *
 * UTC only, on purpose: a schedule is fired by whichever process leads the cluster, and local
 * time (and its daylight-saving gaps and repeats) would depend on that machine.
 * @module
 */
import { InvalidArgumentError } from '../../src/errors.js';

/** A parsed cron expression: the allowed values of each field. */
export interface CronSpec {
  /** The expression as given. */
  readonly source: string;
  readonly seconds: ReadonlySet<number>;
  readonly minutes: ReadonlySet<number>;
  readonly hours: ReadonlySet<number>;
  readonly daysOfMonth: ReadonlySet<number>;
  readonly months: ReadonlySet<number>;
  /** 0 = Sunday … 6 = Saturday. */
  readonly daysOfWeek: ReadonlySet<number>;
  /** Whether day-of-month / day-of-week were restricted (not `*`): decides the OR rule. */
  readonly domRestricted: boolean;
  readonly dowRestricted: boolean;
}

const MACROS: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};
const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

interface FieldDef {
  name: string;
  min: number;
  max: number;
  names?: readonly string[];
  namesFrom?: number;
}
const SECOND: FieldDef = { name: 'second', min: 0, max: 59 };
const MINUTE: FieldDef = { name: 'minute', min: 0, max: 59 };
const HOUR: FieldDef = { name: 'hour', min: 0, max: 23 };
const DOM: FieldDef = { name: 'day-of-month', min: 1, max: 31 };
const MONTH: FieldDef = { name: 'month', min: 1, max: 12, names: MONTHS, namesFrom: 1 };
const DOW: FieldDef = { name: 'day-of-week', min: 0, max: 7, names: DAYS, namesFrom: 0 };

function bad(expr: string, why: string): InvalidArgumentError {
  return new InvalidArgumentError(`cron "${expr}": ${why}`, { op: 'scheduler.schedule' });
}

function value(token: string, f: FieldDef, expr: string): number {
  const named = f.names?.indexOf(token.toLowerCase()) ?? -1;
  if (named >= 0) return named + f.namesFrom!;
  if (!/^\d+$/.test(token)) throw bad(expr, `${f.name} field: "${token}" is not a number${f.names ? ' or a name' : ''}`);
  const n = Number(token);
  if (n < f.min || n > f.max) throw bad(expr, `${f.name} field: ${n} is outside ${f.min}-${f.max}`);
  return n;
}

function field(text: string, f: FieldDef, expr: string): { values: Set<number>; restricted: boolean } {
  const values = new Set<number>();
  for (const part of text.split(',')) {
    const m = /^([^/]+)(?:\/(\d+))?$/.exec(part);
    if (!m) throw bad(expr, `${f.name} field: cannot read "${part}"`);
    const [, range, stepText] = m;
    const step = stepText === undefined ? 1 : Number(stepText);
    if (step < 1) throw bad(expr, `${f.name} field: step must be at least 1 in "${part}"`);
    let lo: number;
    let hi: number;
    if (range === '*') {
      lo = f.min;
      hi = f.max;
    } else if (range!.includes('-')) {
      const [a, b, extra] = range!.split('-');
      if (extra !== undefined || !a || !b) throw bad(expr, `${f.name} field: cannot read range "${range}"`);
      lo = value(a, f, expr);
      hi = value(b, f, expr);
      if (lo > hi) throw bad(expr, `${f.name} field: range "${range}" runs backwards`);
    } else {
      lo = value(range!, f, expr);
      hi = stepText === undefined ? lo : f.max;
    }
    for (let v = lo; v <= hi; v += step) values.add(v);
  }
  if (f === DOW && values.delete(7)) values.add(0);
  return { values, restricted: text !== '*' };
}

/**
 * Parses a cron expression (see the module docs).
 * @throws InvalidArgumentError naming the field and the token that is wrong
 */
export function parseCron(expression: string): CronSpec {
  if (typeof expression !== 'string' || expression.trim() === '')
    throw new InvalidArgumentError('cron: the expression must be a non-empty string', { op: 'scheduler.schedule' });
  const source = expression.trim();
  const expanded = source.startsWith('@') ? MACROS[source.toLowerCase()] : source;
  if (expanded === undefined) throw bad(source, `unknown macro (known: ${Object.keys(MACROS).join(', ')})`);
  const parts = expanded.split(/\s+/);
  if (parts.length !== 5 && parts.length !== 6)
    throw bad(source, `expected 5 fields (minute hour day-of-month month day-of-week) or 6 (seconds first), got ${parts.length}`);
  const [sec, min, hour, dom, month, dow] = parts.length === 6 ? parts : ['0', ...parts];
  const d = field(dom!, DOM, source);
  const w = field(dow!, DOW, source);
  const spec: CronSpec = {
    source,
    seconds: field(sec!, SECOND, source).values,
    minutes: field(min!, MINUTE, source).values,
    hours: field(hour!, HOUR, source).values,
    daysOfMonth: d.values,
    months: field(month!, MONTH, source).values,
    daysOfWeek: w.values,
    domRestricted: d.restricted,
    dowRestricted: w.restricted,
  };
  if (nextFire(spec, Date.UTC(2000, 0, 1)) === undefined) throw bad(source, 'never fires (no such date)');
  return spec;
}

function dayMatches(spec: CronSpec, d: Date): boolean {
  const dom = spec.daysOfMonth.has(d.getUTCDate());
  const dow = spec.daysOfWeek.has(d.getUTCDay());
  if (spec.domRestricted && spec.dowRestricted) return dom || dow;
  return dom && dow;
}

/**
 * The first time (epoch ms, a whole second) strictly after `afterMs` that matches, or undefined if
 * none within 8 years (an expression such as `0 0 30 2 *` never matches).
 */
export function nextFire(spec: CronSpec, afterMs: number): number | undefined {
  const d = new Date(Math.floor(afterMs / 1000) * 1000 + 1000);
  const limit = afterMs + 8 * 366 * 86_400_000;
  while (d.getTime() <= limit) {
    if (!spec.months.has(d.getUTCMonth() + 1)) {
      d.setUTCMonth(d.getUTCMonth() + 1, 1);
      d.setUTCHours(0, 0, 0, 0);
    } else if (!dayMatches(spec, d)) {
      d.setUTCDate(d.getUTCDate() + 1);
      d.setUTCHours(0, 0, 0, 0);
    } else if (!spec.hours.has(d.getUTCHours())) {
      d.setUTCHours(d.getUTCHours() + 1, 0, 0, 0);
    } else if (!spec.minutes.has(d.getUTCMinutes())) {
      d.setUTCMinutes(d.getUTCMinutes() + 1, 0, 0);
    } else if (!spec.seconds.has(d.getUTCSeconds())) {
      d.setUTCSeconds(d.getUTCSeconds() + 1, 0);
    } else {
      return d.getTime();
    }
  }
  return undefined;
}
