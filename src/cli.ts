#!/usr/bin/env node
/**
 * `zk-recipes`: the command line for the person on call.
 *
 * ```
 * zk-recipes inspect <path> [--connect host:port,...] [--json] [--timeout ms] [--stale-after ms]
 * zk-recipes health [--connect host:port,...] [--json] [--timeout ms]
 * ```
 * Exit codes: 0 ok (healthy; path found), 1 unhealthy ensemble or an error (e.g. cannot
 * connect), 2 bad usage, 3 the inspected path does not exist.
 * @module
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ZkError } from './errors.js';
import { ensembleHealth, formatHealth } from './ops/health.js';
import { formatInspection, inspect } from './ops/inspect.js';
import { ZkSession } from './session.js';

/** Exit codes of the CLI. */
export const EXIT = { OK: 0, FAILURE: 1, USAGE: 2, NO_NODE: 3 } as const;

/** The usage text. */
export const USAGE = `Usage:
  zk-recipes inspect <path> [options]   what recipe lives at <path>, who holds / leads / waits
  zk-recipes health [options]           each server: answering?, mode, latency, znodes, watches

Options:
  --connect <host:port,...>   servers (default: $ZK_CONNECT, else 127.0.0.1:2181)
  --json                      print JSON instead of text
  --timeout <ms>              connect timeout (inspect) or per-request timeout (health); default 10000 / 2000
  --stale-after <ms>          inspect: holders older than this get a hint (default 600000)
  -h, --help                  this text

Exit codes: 0 ok, 1 unhealthy or error, 2 bad usage, 3 path does not exist.
Examples:
  zk-recipes inspect /app/locks/orders --connect zk1:2181,zk2:2181
  ZK_CONNECT=zk1:2181 zk-recipes health --json`;

interface Parsed {
  command: 'inspect' | 'health' | 'help';
  path?: string;
  connect: string;
  json: boolean;
  timeoutMs?: number;
  staleAfterMs?: number;
}

class UsageError extends Error {}

function numberArg(flag: string, v: string | undefined): number {
  const n = Number(v);
  if (v === undefined || v.startsWith('-') || !Number.isFinite(n) || n <= 0)
    throw new UsageError(`${flag} needs a positive number of milliseconds, got ${JSON.stringify(v ?? '')}`);
  return n;
}

/** Parses argv (without `node` and the script). @throws UsageError */
function parseArgs(argv: readonly string[], env: NodeJS.ProcessEnv): Parsed {
  const rest: string[] = [];
  const p: Parsed = { command: 'help', connect: env['ZK_CONNECT'] || '127.0.0.1:2181', json: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const eq = a.indexOf('=');
    const [flag, inline] = a.startsWith('--') && eq > 0 ? [a.slice(0, eq), a.slice(eq + 1)] : [a, undefined];
    const value = () => inline ?? argv[++i];
    switch (flag) {
      case '-h':
      case '--help':
        return { ...p, command: 'help' };
      case '--json':
        p.json = true;
        break;
      case '--connect': {
        const v = value();
        if (!v || v.startsWith('-')) throw new UsageError('--connect needs host:port[,host:port...]');
        p.connect = v;
        break;
      }
      case '--timeout':
        p.timeoutMs = numberArg('--timeout', value());
        break;
      case '--stale-after':
        p.staleAfterMs = numberArg('--stale-after', value());
        break;
      default:
        if (a.startsWith('-')) throw new UsageError(`unknown option ${a}`);
        rest.push(a);
    }
  }
  const [cmd, ...args] = rest;
  if (cmd === undefined) throw new UsageError('missing command');
  if (cmd === 'help') return p;
  if (cmd === 'inspect') {
    if (args.length !== 1) throw new UsageError(args.length === 0 ? 'inspect needs a <path>' : `inspect takes one <path>, got ${args.length}`);
    return { ...p, command: 'inspect', path: args[0]! };
  }
  if (cmd === 'health') {
    if (args.length) throw new UsageError(`health takes no arguments, got ${args.join(' ')}`);
    return { ...p, command: 'health' };
  }
  throw new UsageError(`unknown command ${JSON.stringify(cmd)}`);
}

/** Where the CLI writes (injectable for tests). */
export interface CliIo {
  out: (s: string) => void;
  err: (s: string) => void;
  env: NodeJS.ProcessEnv;
}

/**
 * Runs the CLI with `argv` (without `node` and the script) and resolves with the exit code.
 * Never throws.
 */
export async function main(
  argv: readonly string[],
  io: CliIo = { out: (s) => process.stdout.write(`${s}\n`), err: (s) => process.stderr.write(`${s}\n`), env: process.env },
): Promise<number> {
  let args: Parsed;
  try {
    args = parseArgs(argv, io.env);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    io.err(`zk-recipes: ${err.message}\n\n${USAGE}`);
    return EXIT.USAGE;
  }
  if (args.command === 'help') {
    io.out(USAGE);
    return EXIT.OK;
  }
  try {
    if (args.command === 'health') {
      const h = await ensembleHealth(args.connect, { timeoutMs: args.timeoutMs ?? 2000 });
      io.out(args.json ? JSON.stringify(h, null, 2) : formatHealth(h));
      return h.healthy ? EXIT.OK : EXIT.FAILURE;
    }
    const session = await ZkSession.connect(args.connect, { connectTimeoutMs: args.timeoutMs ?? 10_000, sessionTimeoutMs: 10_000, retry: { retries: 2 } });
    try {
      const x = await inspect(session, args.path!, { ...(args.staleAfterMs !== undefined ? { staleAfterMs: args.staleAfterMs } : {}), timeoutMs: 60_000 });
      io.out(args.json ? JSON.stringify(x, null, 2) : formatInspection(x));
      return x.kind === 'missing' ? EXIT.NO_NODE : EXIT.OK;
    } finally {
      await session.close();
    }
  } catch (err) {
    const e = err as Error;
    io.err(`zk-recipes ${args.command}: ${e instanceof ZkError ? `${e.message} [${e.code}]` : e.message}`);
    return EXIT.FAILURE;
  }
}

function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`zk-recipes: ${String(err)}\n`);
      process.exitCode = EXIT.FAILURE;
    },
  );
}
