/**
 * Workload sizes. `FULL` is exactly the anchors' (CuratorBench, kazoo_bench.py, raw_bench.js);
 * `TINY` is for the smoke test only and its figures mean nothing.
 * @module
 */

/** Every size a workload reads. */
export interface Sizes {
  w0Warmup: number;
  w0N: number;
  w1Warmup: number;
  w1N: number;
  w2Clients: number;
  w2Cycles: number;
  w3Participants: number;
  w3Failovers: number;
  w3SettleMs: number;
  w4N: number;
  w5Participants: number;
  w5Rounds: number;
  /**
   * W6: workers, slots per worker, tasks in the throughput run, slow tasks in the kill run (at most
   * `(w6Workers - 1) * w6Capacity`, so the survivors have room for the killed worker's tasks).
   */
  w6Workers: number;
  w6Capacity: number;
  /** W6: untimed tasks before the throughput run. */
  w6Warmup: number;
  w6Tasks: number;
  w6SlowTasks: number;
  /** Herd check: waiters on one lock, spread over this many sessions. */
  herdWaiters: number;
  herdSessions: number;
  /** SERVER: sessions, creates (or exists) in flight per session, measured batches (after one warm-up). */
  serverSessions: number;
  serverInFlight: number;
  serverBatches: number;
  /**
   * SESSIONS: sessions in the child process, opened this many at once (at most 50: ZooKeeper's
   * accept backlog is Java's default 50, and SYNs beyond it are retried after 1 s), the child's time limit.
   */
  sessionsN: number;
  sessionsBatch: number;
  sessionsChildLimitMs: number;
}

/** The anchors' sizes (W0–W5) and ours (W6, herd, SERVER, SESSIONS). */
export const FULL: Sizes = {
  w0Warmup: 200,
  w0N: 2000,
  w1Warmup: 200,
  w1N: 2000,
  w2Clients: 8,
  w2Cycles: 200,
  w3Participants: 5,
  w3Failovers: 20,
  w3SettleMs: 20,
  w4N: 2000,
  w5Participants: 5,
  w5Rounds: 50,
  w6Workers: 4,
  w6Capacity: 4,
  w6Warmup: 200,
  w6Tasks: 1000,
  w6SlowTasks: 8,
  herdWaiters: 10_000,
  herdSessions: 8,
  serverSessions: 4,
  serverInFlight: 2000,
  serverBatches: 3,
  sessionsN: 1000,
  sessionsBatch: 50,
  sessionsChildLimitMs: 150_000,
};

/** Smoke-test sizes: every code path, a few seconds in all. */
export const TINY: Sizes = {
  w0Warmup: 2,
  w0N: 10,
  w1Warmup: 2,
  w1N: 10,
  w2Clients: 3,
  w2Cycles: 4,
  w3Participants: 3,
  w3Failovers: 2,
  w3SettleMs: 20,
  w4N: 10,
  w5Participants: 3,
  w5Rounds: 2,
  w6Workers: 2,
  w6Capacity: 2,
  w6Warmup: 2,
  w6Tasks: 6,
  w6SlowTasks: 2,
  herdWaiters: 20,
  herdSessions: 2,
  serverSessions: 2,
  serverInFlight: 20,
  serverBatches: 1,
  sessionsN: 20,
  sessionsBatch: 10,
  sessionsChildLimitMs: 30_000,
};
