/**
 * What every ensemble strategy (local processes, containers) asks its servers, written once:
 * who leads, where a session is connected, and whether a quorum serves. Each takes the client
 * ports of the servers, with `undefined` for a server that is not running.
 * @module
 */
import { fourLetterWord, serverMode } from './fourlw.js';
import type { ZooKeeperEnsemble, ZooKeeperServer } from './types.js';

/** Index of the server whose `srvr` says `leader`, or -1. */
export async function leaderIndexOf(ports: ReadonlyArray<number | undefined>): Promise<number> {
  for (let i = 0; i < ports.length; i++) {
    const port = ports[i];
    if (port !== undefined && (await serverMode('127.0.0.1', port)) === 'leader') return i;
  }
  return -1;
}

/** Index of the server whose `cons` lists the session (hex id), or -1. */
export async function serverIndexOf(ports: ReadonlyArray<number | undefined>, sessionId: string): Promise<number> {
  const want = `sid=0x${sessionId.toLowerCase()}`;
  for (let i = 0; i < ports.length; i++) {
    const port = ports[i];
    if (port === undefined) continue;
    try {
      const cons = await fourLetterWord('127.0.0.1', port, 'cons', 1000);
      if (cons.toLowerCase().includes(want)) return i;
    } catch {
      /* down */
    }
  }
  return -1;
}

/** Waits until every running server is leader or follower and one of them leads. */
export async function waitForQuorumOf(ports: () => ReadonlyArray<number | undefined>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const running = ports().filter((p): p is number => p !== undefined);
    const modes = await Promise.all(running.map((p) => serverMode('127.0.0.1', p)));
    if (modes.every((m) => m === 'leader' || m === 'follower') && modes.includes('leader')) return;
    if (Date.now() > deadline) throw new Error(`ensemble quorum: not ready within ${timeoutMs} ms (modes: ${modes.join(', ')})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * What both ensemble strategies share: the servers by index, kill, and the probes above on the
 * ports of the servers that run. A strategy says how to restart and close, and which servers run.
 */
export abstract class ProbedEnsemble<S extends ZooKeeperServer & { readonly port: number; kill(): Promise<void> }> implements ZooKeeperEnsemble {
  /** All servers' `host:port`, comma-separated. */
  readonly connectString: string;

  constructor(readonly servers: readonly S[]) {
    this.connectString = servers.map((s) => s.connectString).join(',');
  }

  /** Whether `s` runs now (only running servers are probed). */
  protected abstract running(s: S): boolean;
  abstract restart(i: number): Promise<void>;
  abstract close(): Promise<void>;

  protected at(i: number): S {
    const s = this.servers[i];
    if (!s) throw new RangeError(`ensemble: no server ${i} (have ${this.servers.length})`);
    return s;
  }

  async kill(i: number): Promise<void> {
    await this.at(i).kill();
  }

  /** Client ports, `undefined` for servers not running. */
  private ports(): Array<number | undefined> {
    return this.servers.map((s) => (this.running(s) ? s.port : undefined));
  }

  leaderIndex(): Promise<number> {
    return leaderIndexOf(this.ports());
  }

  serverOf(sessionId: string): Promise<number> {
    return serverIndexOf(this.ports(), sessionId);
  }

  waitForQuorum(timeoutMs = 60_000): Promise<void> {
    return waitForQuorumOf(() => this.ports(), timeoutMs);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
