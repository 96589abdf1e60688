/**
 * The soak's history: every worker appends one JSON line per event to its own file, with a
 * synchronous write (a `kill -9` loses no event that was logged), and the runner reads all files
 * back for the checkers. Times are epoch milliseconds from `Date.now()` of one machine.
 * @module
 */
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';

/** Kinds of exclusive holding the soak runs: each is checked as a lock (a term for elections). */
export type HoldKind = 'lock' | 'read' | 'write' | 'sem' | 'latch' | 'selector';

/** What a worker logs (the field `ev` tells which). */
export type SoakEvent =
  | { ev: 'ready'; session: string }
  | { ev: 'state'; state: string }
  | { ev: 'hold'; kind: HoldKind; hid: string; token: string }
  | { ev: 'unhold'; hid: string }
  | { ev: 'put'; item: string; phase: 'start' | 'ok' | 'fail'; code?: string }
  | { ev: 'consumed'; item: string }
  | { ev: 'submit'; task: string }
  | { ev: 'run'; task: string; attempt: number }
  | { ev: 'ran'; task: string }
  | { ev: 'reg'; op: number; phase: 'call' | 'ok' | 'unknown'; input?: RegisterLogInput; output?: RegisterLogOutput }
  /** A plain (unsynced) read of the register: only its version, for the per-session order check. */
  | { ev: 'plain'; version: number }
  | { ev: 'err'; where: string; code: string; message: string }
  | { ev: 'quiet' }
  /** An exception or rejection nobody handled reached the process: always a violation. */
  | { ev: 'escape'; what: string; message: string };

/** A register operation as logged (the linearizability model's input). */
export type RegisterLogInput = { kind: 'read' } | { kind: 'cas'; expectedVersion: number; value: string };
/** A register operation's result as logged. */
export type RegisterLogOutput = { value: string; version: number } | { ok: boolean; version?: number };

/** A logged line: the event, who logged it (`<worker>.<generation>`) and when. */
export type LogLine = SoakEvent & { w: string; t: number };

/** One worker incarnation's log file, written synchronously. */
export class EventLog {
  private readonly fd: number;

  /** Opens (appends to) `file` for the incarnation `who`. */
  constructor(
    file: string,
    private readonly who: string,
  ) {
    this.fd = openSync(file, 'a');
  }

  /** Appends one event, stamped with who and now. */
  write(event: SoakEvent): void {
    writeSync(this.fd, `${JSON.stringify({ w: this.who, t: Date.now(), ...event })}\n`);
  }

  /** Closes the file. */
  close(): void {
    closeSync(this.fd);
  }
}

/** Every line of the given files (a torn last line, from a kill mid-write, is skipped), in time order. */
export function readLogs(files: readonly string[]): LogLine[] {
  const out: LogLine[] = [];
  for (const f of files) {
    let text = '';
    try {
      text = readFileSync(f, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n')) {
      if (!line) continue;
      try {
        out.push(JSON.parse(line) as LogLine);
      } catch {
        /* torn by a kill -9 */
      }
    }
  }
  return out.sort((a, b) => a.t - b.t);
}
