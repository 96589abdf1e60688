/**
 * The coalescing "run again when poked" driver: a job that must look at ZooKeeper again whenever
 * a watch fires, the connection comes back or a timer says so, without ever running twice at
 * once and without losing a poke that came during a run.
 * @internal
 * @module
 */

/**
 * Runs `job` on `poke()`: at once when idle, or once more right after the run in progress (any
 * number of pokes during a run make one more run). A failing run goes to `onError` and does not
 * stop later pokes.
 */
export class Rerun {
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;

  /**
   * @param job - one look-and-act pass
   * @param onError - what a failed pass does (log, emit, schedule a retry poke)
   */
  constructor(
    private readonly job: () => Promise<void>,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** Runs the job now, or once more after the current run. No-op after `stop()`. */
  poke(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.loop();
  }

  /** Whether a run is in progress. */
  get busy(): boolean {
    return this.running !== undefined;
  }

  /** Resolves when no run is in progress (after the runs that pokes made meanwhile). */
  idle(): Promise<void> {
    return this.running ?? Promise.resolve();
  }

  /** Takes no more pokes; resolves when the run in progress (if any) has ended. */
  stop(): Promise<void> {
    this.stopped = true;
    return this.running ?? Promise.resolve();
  }

  private async loop(): Promise<void> {
    try {
      do {
        this.again = false;
        try {
          await this.job();
        } catch (err) {
          this.onError(err);
        }
      } while (this.again && !this.stopped);
    } finally {
      this.running = undefined;
    }
  }
}
