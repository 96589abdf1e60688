/**
 * One soak worker process: a session (through its own fault proxy) running every role at once,
 * logging what it does to its own file. The runner talks to it over the IPC channel:
 * `expire` (expire our session on the server, as a real expiry), `quiet` (stop changing data),
 * `report` (what our caches hold, and the session's state) and `stop` (close and exit 0).
 * A `kill -9` from the nemesis is the other way out.
 *
 * Usage (by the runner): node --import tsx soak/worker.ts '<WorkerConfig as JSON>'
 * @module
 */
import { ZkSession } from '../src/index.js';
import { expireSession } from '../src/testing/expire.js';
import { type RoleContext, codeOf, soakPaths } from './context.js';
import { EventLog, type SoakEvent } from './log.js';
import { Random } from './random.js';
import { latchRole, lockRole, readWriteRole, selectorRole, semaphoreRole } from './roles-exclusive.js';
import { consumerRole, producerRole, registerRole, schedulerRole } from './roles-flow.js';
import { discoveryRole, groupRole, snapshot, treeRole } from './roles-views.js';

/** What the runner passes a worker. */
export interface WorkerConfig {
  name: string;
  gen: number;
  connect: string;
  root: string;
  sessionTimeoutMs: number;
  logFile: string;
  seed: number;
}

/** A message from the runner. */
export type WorkerCommand = { cmd: 'expire' | 'quiet' | 'report' | 'stop'; seq: number };
/** A worker's answer to a command (same `seq`). */
export type WorkerReply = { seq: number; ok: boolean; error?: string; state?: string; snapshot?: ReturnType<typeof snapshot> };

const ROLES = [
  lockRole,
  readWriteRole,
  semaphoreRole,
  latchRole,
  selectorRole,
  producerRole,
  consumerRole,
  schedulerRole,
  registerRole,
  treeRole,
  groupRole,
  discoveryRole,
];

async function main(config: WorkerConfig): Promise<void> {
  const who = `${config.name}.${config.gen}`;
  const log = new EventLog(config.logFile, who);
  const session = await ZkSession.connect(config.connect, { sessionTimeoutMs: config.sessionTimeoutMs, connectTimeoutMs: 60_000 });
  session.on('state', (state) => log.write({ ev: 'state', state }));
  log.write({ ev: 'ready', session: session.sessionId });
  const stop = new AbortController();
  let quiet = false;
  let ids = 0;
  const ctx: RoleContext = {
    session,
    paths: soakPaths(config.root),
    who,
    rng: new Random(config.seed),
    stopping: stop.signal,
    get quiet() {
      return quiet;
    },
    log: (e: SoakEvent) => log.write(e),
    id: (prefix) => `${prefix}:${who}:${ids++}`,
  };
  const running = ROLES.map((role) => role(ctx).catch((err: unknown) => log.write({ ev: 'err', where: role.name, code: codeOf(err), message: String(err) })));
  const answer = (r: WorkerReply) => process.send?.(r);
  process.on('message', (m: WorkerCommand) => {
    void (async () => {
      try {
        if (m.cmd === 'expire') {
          // Between sessions there is nothing to expire: wait for one (bounded).
          for (let i = 0; i < 200 && session.state !== 'connected'; i++) await new Promise((r) => setTimeout(r, 100));
          await expireSession(session, 30_000);
        }
        if (m.cmd === 'quiet') {
          quiet = true;
          log.write({ ev: 'quiet' });
        }
        if (m.cmd === 'stop') {
          stop.abort();
          await Promise.race([Promise.all(running), new Promise((r) => setTimeout(r, 15_000))]);
          await session.close();
          log.close();
        }
        answer({ seq: m.seq, ok: true, state: session.state, ...(m.cmd === 'report' ? { snapshot: snapshot() } : {}) });
        if (m.cmd === 'stop') process.exit(0);
      } catch (err) {
        answer({ seq: m.seq, ok: false, error: String(err) });
      }
    })();
  });
  process.send?.({ seq: 0, ok: true, state: session.state });
}

const config = JSON.parse(process.argv[2] ?? '') as WorkerConfig;
/** Nothing may escape a recipe or the client: log it for the checker (a violation), and go on. */
function escaped(what: string, err: unknown): void {
  console.error(`soak worker ${config.name}: ${what}`, err);
  try {
    new EventLog(config.logFile, `${config.name}.${config.gen}`).write({ ev: 'escape', what, message: String((err as Error)?.stack ?? err).slice(0, 500) });
  } catch {
    /* the log is what we report through */
  }
}
process.on('unhandledRejection', (err) => escaped('unhandledRejection', err));
process.on('uncaughtException', (err) => escaped('uncaughtException', err));
main(config).catch((err: unknown) => {
  console.error('soak worker failed to start', err);
  process.exit(4);
});
