/**
 * A small seeded random source (mulberry32): the nemesis draws its whole schedule from it, so a
 * seed names a run's faults exactly and `--seed S` replays them.
 * @module
 */

/** A seeded source of random numbers; every draw advances it. */
export class Random {
  private s: number;

  /** @param seed - any 32-bit integer (others are truncated) */
  constructor(seed: number) {
    this.s = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** A new independent source drawn from this one (so adding draws in one place does not shift another's). */
  fork(): Random {
    return new Random(Math.floor(this.next() * 4294967296));
  }
}

/** A fresh random seed (for runs without `--seed`). */
export function randomSeed(): number {
  return Math.floor(Math.random() * 2 ** 31);
}
