// Cron expressions (pure logic, UTC): parsing with typed errors naming the bad field, and the
// next fire time across month ends, leap years, the day-of-month / day-of-week OR rule and steps.
// Plus the periods a cron schedule fires (recipes/scheduler/schedules.ts duePeriods).
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../src/index.js';
import { nextFire, parseCron } from '../recipes/scheduler/cron.js';
import { duePeriods } from '../recipes/scheduler/schedules.js';

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());
/** The next `n` fire times after `from`. */
function fires(expr: string, from: string, n: number): Array<string | undefined> {
  const spec = parseCron(expr);
  const out: Array<string | undefined> = [];
  let t = at(from);
  for (let i = 0; i < n; i++) {
    const next = nextFire(spec, t);
    out.push(iso(next));
    if (next === undefined) break;
    t = next;
  }
  return out;
}

describe('cron: next fire time (UTC)', () => {
  it('every minute, every 15 minutes, at a fixed time', () => {
    expect(fires('* * * * *', '2026-11-21T10:00:30Z', 2)).toEqual(['2026-11-21T10:01:00.000Z', '2026-11-21T10:02:00.000Z']);
    expect(fires('*/15 * * * *', '2026-11-21T10:50:00Z', 3)).toEqual(['2026-11-21T11:00:00.000Z', '2026-11-21T11:15:00.000Z', '2026-11-21T11:30:00.000Z']);
    expect(fires('30 2 * * *', '2026-11-21T03:00:00Z', 1)).toEqual(['2026-11-22T02:30:00.000Z']);
  });

  it('is strictly after the given time, also on an exact match', () => {
    expect(fires('0 * * * *', '2026-11-21T10:00:00Z', 1)).toEqual(['2026-11-21T11:00:00.000Z']);
  });

  it('six fields: seconds first', () => {
    expect(fires('*/20 * * * * *', '2026-11-21T10:00:05Z', 3)).toEqual(['2026-11-21T10:00:20.000Z', '2026-11-21T10:00:40.000Z', '2026-11-21T10:01:00.000Z']);
  });

  it('month ends, leap years, names, ranges with steps, lists', () => {
    expect(fires('0 0 31 * *', '2026-01-31T12:00:00Z', 3)).toEqual(['2026-03-31T00:00:00.000Z', '2026-05-31T00:00:00.000Z', '2026-07-31T00:00:00.000Z']);
    expect(fires('0 12 29 feb *', '2026-01-01T00:00:00Z', 2)).toEqual(['2028-02-29T12:00:00.000Z', '2032-02-29T12:00:00.000Z']);
    expect(fires('0 9-17/4 * * mon-fri', '2026-11-20T16:00:00Z', 3)).toEqual([
      '2026-11-20T17:00:00.000Z',
      '2026-11-23T09:00:00.000Z',
      '2026-11-23T13:00:00.000Z',
    ]);
    expect(fires('5,35 0 1 jan,jul *', '2026-06-30T00:00:00Z', 3)).toEqual([
      '2026-07-01T00:05:00.000Z',
      '2026-07-01T00:35:00.000Z',
      '2027-01-01T00:05:00.000Z',
    ]);
  });

  it('day-of-month and day-of-week both restricted: either matches (Vixie cron); 7 is Sunday', () => {
    // 2026-11-21 is a Saturday: the 1st of December, and Sundays.
    expect(fires('0 0 1 * 7', '2026-11-21T00:00:00Z', 3)).toEqual(['2026-11-22T00:00:00.000Z', '2026-11-29T00:00:00.000Z', '2026-12-01T00:00:00.000Z']);
  });

  it('macros', () => {
    expect(fires('@daily', '2026-11-21T10:00:00Z', 1)).toEqual(['2026-11-22T00:00:00.000Z']);
    expect(fires('@weekly', '2026-11-21T10:00:00Z', 1)).toEqual(['2026-11-22T00:00:00.000Z']);
    expect(fires('@yearly', '2026-11-21T10:00:00Z', 1)).toEqual(['2027-01-01T00:00:00.000Z']);
  });
});

describe('cron: bad expressions get a typed error naming the problem', () => {
  it.each([
    ['', /non-empty string/],
    ['* * * *', /expected 5 fields .* got 4/],
    ['60 * * * *', /minute field: 60 is outside 0-59/],
    ['* 24 * * *', /hour field: 24 is outside 0-23/],
    ['* * 0 * *', /day-of-month field: 0 is outside 1-31/],
    ['* * * 13 *', /month field: 13 is outside 1-12/],
    ['* * * foo *', /month field: "foo" is not a number or a name/],
    ['*/0 * * * *', /minute field: step must be at least 1/],
    ['10-5 * * * *', /minute field: range "10-5" runs backwards/],
    ['0 0 30 2 *', /never fires/],
    ['@often', /unknown macro/],
  ])('%j', (expr, message) => {
    expect(() => parseCron(expr)).toThrow(InvalidArgumentError);
    expect(() => parseCron(expr)).toThrow(message);
  });
});

describe('cron schedule periods', () => {
  const base = { everyMs: 0, cron: '*/10 * * * * *', type: 't', payload: null, maxAttempts: 1 };
  it('fires every due time once, from startAt, and then from the last fired one', () => {
    const startAt = at('2026-11-21T10:00:05Z');
    const first = duePeriods({ ...base, startAt, lastFired: -1 }, at('2026-11-21T10:00:31Z'));
    expect(first.due.map((k) => iso(k * 1000))).toEqual(['2026-11-21T10:00:10.000Z', '2026-11-21T10:00:20.000Z', '2026-11-21T10:00:30.000Z']);
    expect(iso(first.next)).toBe('2026-11-21T10:00:40.000Z');
    const again = duePeriods({ ...base, startAt, lastFired: first.due.at(-1)! }, at('2026-11-21T10:00:45Z'));
    expect(again.due.map((k) => iso(k * 1000))).toEqual(['2026-11-21T10:00:40.000Z']);
  });
  it('a fire time equal to startAt counts', () => {
    const r = duePeriods({ ...base, startAt: at('2026-11-21T10:00:10Z'), lastFired: -1 }, at('2026-11-21T10:00:10Z'));
    expect(r.due.map((k) => iso(k * 1000))).toEqual(['2026-11-21T10:00:10.000Z']);
  });
});
