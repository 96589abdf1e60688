// The checkers themselves, on hand-made logs: each catches the violation it exists for, and
// passes a correct history (so a green fault suite means something).
import { describe, expect, it } from 'vitest';
import { FencedResource, checkAccounting, checkElection, checkMutualExclusion, checkPeriods, termsOf } from './checkers.js';

describe('checkMutualExclusion', () => {
  it('passes back-to-back holdings with rising tokens', () => {
    const r = checkMutualExclusion([
      { holder: 'a', token: 5n, acquiredAt: 0, endedAt: 10 },
      { holder: 'b', token: 7n, acquiredAt: 10, endedAt: 20 },
      { holder: 'c', token: 9n, acquiredAt: 25 },
    ]);
    expect(r.violations).toEqual([]);
    expect(r.checks).toBeGreaterThan(0);
  });
  it('catches two holders at once, falling tokens and a token issued twice', () => {
    expect(
      checkMutualExclusion([
        { holder: 'a', token: 5n, acquiredAt: 0, endedAt: 10 },
        { holder: 'b', token: 7n, acquiredAt: 5, endedAt: 20 },
      ]).violations,
    ).toEqual([expect.stringContaining('still held when b')]);
    expect(
      checkMutualExclusion([
        { holder: 'a', token: 9n, acquiredAt: 0, endedAt: 10 },
        { holder: 'b', token: 7n, acquiredAt: 10 },
      ]).violations,
    ).toEqual([expect.stringContaining('tokens fell')]);
    expect(
      checkMutualExclusion([
        { holder: 'a', token: 9n, acquiredAt: 0, endedAt: 10 },
        { holder: 'b', token: 9n, acquiredAt: 10 },
      ]).violations,
    ).toContain('token 9 issued twice (a and b)');
  });
  it('allows an overlap fenced off by a newer token only when asked, and counts it', () => {
    const hs = [
      { holder: 'a', token: 5n, acquiredAt: 0, endedAt: 12 },
      { holder: 'b', token: 7n, acquiredAt: 10, endedAt: 20 },
    ];
    const r = checkMutualExclusion(hs, { allowFencedOverlap: true });
    expect(r).toMatchObject({ violations: [], fencedOverlaps: 1 });
    const stale = checkMutualExclusion(
      [
        { holder: 'a', token: 8n, acquiredAt: 0, endedAt: 12 },
        { holder: 'b', token: 7n, acquiredAt: 10 },
      ],
      { allowFencedOverlap: true },
    );
    expect(stale.violations.join()).toContain('not newer');
  });
  it('lets the same holder reclaim with the same token (a latch back on the same session)', () => {
    const r = checkMutualExclusion([
      { holder: 'a', token: 5n, acquiredAt: 0, endedAt: 10 },
      { holder: 'a', token: 5n, acquiredAt: 12 },
    ]);
    expect(r.violations).toEqual([]);
  });
  it('FencedResource refuses a stale token', () => {
    const f = new FencedResource();
    expect(f.write(5n, 'a')).toBe(true);
    expect(f.write(7n, 'b')).toBe(true);
    expect(f.write(5n, 'a')).toBe(false);
    expect(f.refused).toBe(1);
  });
});

describe('checkElection', () => {
  const ev = (participant: string, type: 'isLeader' | 'notLeader', at: number, token?: bigint) => ({ participant, type, at, token });
  it('passes a clean failover and measures it', () => {
    const events = [ev('a', 'isLeader', 0, 1n), ev('a', 'notLeader', 100), ev('b', 'isLeader', 900, 3n)];
    const r = checkElection(events, [{ participant: 'a', at: 100 }], { withinMs: 1000 });
    expect(r.violations).toEqual([]);
    expect(r.failovers).toEqual([800]);
    expect(termsOf(events)).toHaveLength(2);
  });
  it('catches two leaders at once, and a failover that takes too long or never comes', () => {
    expect(checkElection([ev('a', 'isLeader', 0, 1n), ev('b', 'isLeader', 5, 2n)], [], { withinMs: 1000 }).violations).toHaveLength(1);
    expect(
      checkElection([ev('a', 'isLeader', 0, 1n), ev('a', 'notLeader', 10), ev('b', 'isLeader', 5000, 2n)], [{ participant: 'a', at: 10 }], { withinMs: 1000 })
        .violations,
    ).toEqual([expect.stringContaining('limit 1000 ms')]);
    expect(checkElection([ev('a', 'isLeader', 0, 1n)], [{ participant: 'a', at: 10 }], { withinMs: 1000 }).violations).toEqual([
      expect.stringContaining('no new leader'),
    ]);
  });
});

describe('checkAccounting and checkPeriods', () => {
  it('counts lost, duplicate and unexpected deliveries', () => {
    const r = checkAccounting(['1', '2', '3'], ['1', '1', '3', '9'], { maxDuplicates: 0 });
    expect(r.lost).toEqual(['2']);
    expect(r.duplicates).toBe(1);
    expect(r.unexpected).toEqual(['9']);
    expect(r.violations).toHaveLength(3);
    expect(checkAccounting(['1', '2'], ['2', '1', '2'], { maxDuplicates: 1 }).violations).toEqual([]);
  });
  it('wants periods 0..n-1, each once', () => {
    expect(checkPeriods('s', ['s@0', 's@1', 's@2', 'x@5']).violations).toEqual([]);
    expect(checkPeriods('s', ['s@0', 's@2']).violations).toEqual(['schedule s: period 1 missing']);
    expect(checkPeriods('s', ['s@0', 's@1', 's@1']).violations).toEqual(['schedule s: period 2 fired 2 times']);
  });
  it('cron fire times (fromFirst): consecutive seconds from the first, each once', () => {
    expect(checkPeriods('c', ['c@1700000001', 'c@1700000000', 'c@1700000002'], { fromFirst: true }).violations).toEqual([]);
    expect(checkPeriods('c', ['c@1700000000', 'c@1700000002'], { fromFirst: true }).violations).toEqual(['schedule c: period 1700000001 missing']);
    expect(checkPeriods('c', ['c@1700000000', 'c@1700000000'], { fromFirst: true }).violations).toEqual(['schedule c: period 1700000001 fired 2 times']);
  });
});
