// A stress test in the shape of a real service, all in the test process: eight sessions on a
// 3-server ensemble (three of them through the test kit's TCP proxy), each with a leader latch on
// one shared election path and a lock contender on one shared lock path; an HTTP keep-alive client
// talking to an HTTP server of the same process all the time; a child process spawned with a plain
// `child_process.spawn` every second. Meanwhile faults, round after round: a server killed and
// restarted, a server frozen with SIGSTOP past the read timeout, the proxy's connections reset or
// frozen past the read timeout. After each fault every session is connected again, exactly one of
// the eight latches leads (and the server agrees) and every contender takes the lock again.
//
// What the native binding got wrong in such a process (docs/binding-issues.md) must not happen
// with the TypeScript client: no HTTP request hangs (the binding's stale poll handles could take
// over a Node socket's descriptor), the process does not abort with several sessions reconnecting
// at once, and no child inherits a session socket. At the end the lock holdings go through the
// mutual-exclusion checker and the latch terms through the one-leader-per-term checker.
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { Agent, createServer, request, type Server } from 'node:http';
import { createServer as createNetServer, connect as netConnect, type Server as NetServer, type Socket } from 'node:net';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LeaderLatch, ZkSession } from '../../src/index.js';
import { fourLetterWord, startEnsemble, startProxy, type ZkProxy, type ZooKeeperEnsemble } from '../../src/testing/index.js';
import { uniquePath, waitUntil } from '../helpers.js';
import { FencedResource, Tally, checkElection, checkMutualExclusion } from './checkers.js';
import { LeadershipLog, LockLoop, pause, soleLeader } from './harness.js';

const SESSIONS = 8;
/** Sessions 5, 6, 7 connect through the proxy. */
const PROXIED = 3;
const SESSION_MS = 4000;
/** A request slower than this counts as hung. */
const HUNG_MS = 5000;
/** Deadline of each recovery wait: generous, the machine is shared. */
const RECOVER_MS = 60_000;
const VERBOSE = !!process.env['FAULTS_VERBOSE'];

const tally = new Tally('stress-service.test.ts');

// ---------------------------------------------------------------------------------------------
// Descriptors

/** `socket:[inode]` targets of this process's descriptors that are TCP connections to `ports`. */
function socketsTo(ports: ReadonlySet<number>): Set<string> {
  const inodes = new Set<string>();
  for (const f of ['/proc/self/net/tcp', '/proc/self/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(f, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 10 || cols[3] === '0A') continue; // not listening sockets
      const local = parseInt(cols[1]!.split(':')[1]!, 16);
      const remote = parseInt(cols[2]!.split(':')[1]!, 16);
      // Either end: the proxy's own accepted sockets have the proxy port as local port.
      if (ports.has(remote) || ports.has(local)) inodes.add(`socket:[${cols[9]}]`);
    }
  }
  const mine = new Set<string>();
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const l = readlinkSync(`/proc/self/fd/${fd}`);
      if (inodes.has(l)) mine.add(l);
    } catch {
      /* closed meanwhile */
    }
  }
  return mine;
}

/** A child's descriptors (fd → readlink target) once it runs its own program (after exec). */
function childFds(pid: number, marker: string): Map<number, string> | undefined {
  let cmdline: string;
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return undefined;
  }
  if (!cmdline.includes(marker)) return undefined; // not exec'd yet: those would be our own descriptors
  const out = new Map<number, string>();
  let names: string[];
  try {
    names = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return undefined;
  }
  for (const n of names) {
    try {
      out.set(Number(n), readlinkSync(`/proc/${pid}/fd/${n}`));
    } catch {
      /* closed meanwhile */
    }
  }
  return out;
}

interface ChildCheck {
  k: number;
  pid: number;
  at: number;
  /** Sessions not closed when it was spawned. */
  sessionsOpen: number;
  /** Session sockets (to a server or the proxy) this process had when it was spawned. */
  sessionSockets: Set<string>;
  /** Reads of its descriptors, each after exec. */
  reads: Array<Map<number, string>>;
  stdio: 'ignore' | 'pipe' | 'control';
}

/** Socket descriptors above stdio in any read of a child, with whether each is a session socket. */
function inheritedSockets(c: ChildCheck): string[] {
  const out = new Set<string>();
  for (const r of c.reads) {
    for (const [fd, target] of r) {
      if (fd <= 2 || !target.startsWith('socket:')) continue;
      out.add(`fd ${fd} ${target}${c.sessionSockets.has(target) ? ' (a session socket)' : ''}`);
    }
  }
  return [...out];
}

// ---------------------------------------------------------------------------------------------
// The service

let ensemble: ZooKeeperEnsemble;
let proxy: ZkProxy;
const sessions: ZkSession[] = [];
const latches: LeaderLatch[] = [];
let loops: LockLoop[] = [];
let http: Server | undefined;
let agent: Agent | undefined;
let control: NetServer | undefined;
const children = new Set<ChildProcess>();
/** Stops the background work (spawner, HTTP loops, listeners) even when the test fails midway. */
const stops: Array<() => void> = [];

describe('a service under faults: 8 sessions, HTTP keep-alive, child processes', () => {
  beforeAll(async () => {
    ensemble = await startEnsemble(3);
    proxy = await startProxy(ensemble.connectString);
  }, 120_000);

  afterAll(async () => {
    for (const stop of stops.splice(0)) stop();
    for (const c of children) {
      try {
        c.kill('SIGKILL');
      } catch {
        /* gone */
      }
    }
    await Promise.all(loops.map((l) => l.stop().catch(() => undefined)));
    await Promise.all(latches.map((l) => l.close().catch(() => undefined)));
    await Promise.all(sessions.map((s) => s.close().catch(() => undefined)));
    agent?.destroy();
    await new Promise<void>((r) => {
      if (!http) r();
      else {
        http.closeAllConnections();
        http.close(() => r());
      }
    });
    await new Promise<void>((r) => {
      if (!control) r();
      else control.close(() => r());
    });
    await proxy?.close();
    await ensemble?.close();
  }, 60_000);

  it('sessions, latches, locks, HTTP and children all come through rounds of server and network faults', async () => {
    const t0 = Date.now();
    const step = (what: string) => console.log(`[stress] +${((Date.now() - t0) / 1000).toFixed(1)} s ${what}`);
    const vstep = (what: string) => {
      if (VERBOSE) step(what);
    };

    // ---- process-wide failure signals
    const uncaught: string[] = [];
    const onUncaught = (err: unknown) => uncaught.push(`uncaughtException: ${String((err as Error)?.stack ?? err)}`);
    const onUnhandled = (err: unknown) => uncaught.push(`unhandledRejection: ${String((err as Error)?.stack ?? err)}`);
    process.on('uncaughtException', onUncaught);
    process.on('unhandledRejection', onUnhandled);
    stops.push(() => {
      process.off('uncaughtException', onUncaught);
      process.off('unhandledRejection', onUnhandled);
    });
    const lag = monitorEventLoopDelay({ resolution: 20 });
    lag.enable();

    // ---- the HTTP server and its keep-alive client, all the time
    http = createServer((req, res) => {
      let n = 0;
      req.on('data', (c: Buffer) => {
        n += c.length;
      });
      req.on('end', () => {
        const reply = () => {
          res.setHeader('content-type', 'text/plain');
          res.end(`ok ${req.url} ${n}`);
        };
        if (n > 0) setTimeout(reply, 5);
        else reply();
      });
    });
    http.keepAliveTimeout = 60_000; // sockets are never idle that long: no reset race on reuse
    await new Promise<void>((r) => http!.listen(0, '127.0.0.1', () => r()));
    const httpPort = (http.address() as { port: number }).port;
    agent = new Agent({ keepAlive: true, maxSockets: 4 });
    const latencies: number[] = [];
    const httpErrors: string[] = [];
    const inflight = new Set<{ start: number; path: string }>();
    const slow: string[] = [];
    let httpStopped = false;
    stops.push(() => {
      httpStopped = true;
    });
    const body = Buffer.alloc(64 * 1024, 'x');
    const oneRequest = (n: number) =>
      new Promise<void>((resolve) => {
        const post = n % 10 === 0;
        const r = { start: performance.now(), path: `/r/${n}` };
        inflight.add(r);
        let done = false;
        const finish = (err?: string) => {
          if (done) return;
          done = true;
          clearTimeout(guard);
          inflight.delete(r);
          const ms = performance.now() - r.start;
          latencies.push(ms);
          if (ms > HUNG_MS) slow.push(`${r.path} took ${ms.toFixed(0)} ms at +${((Date.now() - t0) / 1000).toFixed(1)} s`);
          if (err) httpErrors.push(`${r.path}: ${err}`);
          resolve();
        };
        const req = request(
          { agent, host: '127.0.0.1', port: httpPort, path: r.path, method: post ? 'POST' : 'GET', headers: post ? { 'content-length': body.length } : {} },
          (res) => {
            let got = '';
            res.setEncoding('utf8');
            res.on('data', (c: string) => {
              got += c;
            });
            res.on('end', () =>
              finish(
                res.statusCode === 200 && got === `ok ${r.path} ${post ? body.length : 0}`
                  ? undefined
                  : `status ${res.statusCode}, body ${JSON.stringify(got.slice(0, 80))}`,
              ),
            );
            res.on('error', (e) => finish(e.message));
          },
        );
        req.on('error', (e) => finish(e.message));
        // Far past HUNG_MS: a request that needs this is counted hung (and the loop goes on).
        const guard = setTimeout(() => {
          finish(`no reply within ${HUNG_MS * 6} ms`);
          req.destroy();
        }, HUNG_MS * 6);
        req.end(post ? body : undefined);
      });
    let reqNo = 0;
    const httpLoops = Array.from({ length: 4 }, async () => {
      while (!httpStopped) {
        await oneRequest(reqNo++);
        await pause(10);
      }
    });

    // ---- the sessions, latches and lock contenders
    const electionPath = uniquePath('stress-latch');
    const lockPath = uniquePath('stress-lock');
    const sessionEvents: Array<{ i: number; state: string; at: number }> = [];
    const lostCount = new Array<number>(SESSIONS).fill(0);
    /** `expired`: the server said so on reconnect; `timeout`: no connection for a whole session timeout. */
    const lostReasons = new Map<string, number>();
    for (let i = 0; i < SESSIONS; i++) {
      const via = i >= SESSIONS - PROXIED ? proxy.connectString : ensemble.connectString;
      const s = await ZkSession.connect(via, { sessionTimeoutMs: SESSION_MS, connectTimeoutMs: 30_000 });
      s.on('state', (state) => sessionEvents.push({ i, state, at: Date.now() }));
      s.on('lost', ({ reason }) => {
        lostCount[i]!++;
        lostReasons.set(reason, (lostReasons.get(reason) ?? 0) + 1);
        sessionEvents.push({ i, state: `lost:${reason}`, at: Date.now() });
      });
      sessions.push(s);
    }
    const negotiated = sessions[0]!.sessionTimeoutMs;
    const readTimeoutMs = Math.floor((negotiated * 2) / 3);
    const pauseMs = readTimeoutMs + 1200;
    step(
      `8 sessions open (negotiated timeout ${negotiated} ms, read timeout ${readTimeoutMs} ms); servers ${ensemble.connectString}, proxy ${proxy.connectString}`,
    );
    const log = new LeadershipLog();
    for (let i = 0; i < SESSIONS; i++) {
      const l = new LeaderLatch(sessions[i]!, electionPath, { id: `p${i}` });
      log.watch(l, `p${i}`);
      latches.push(l);
    }
    // The first leader is behind the proxy, so that the partition round forces a failover.
    latches[SESSIONS - 1]!.start();
    await latches[SESSIONS - 1]!.await({ timeoutMs: 30_000 });
    for (const l of latches.slice(0, -1)) l.start();
    const resource = new FencedResource();
    loops = sessions.map((s, i) => new LockLoop(`c${i}`, s, lockPath, resource, 30));

    // ---- child processes, plain spawn, every second
    const zkPorts = new Set<number>([...ensemble.servers.map((s) => s.port), proxy.port]);
    const checks: ChildCheck[] = [];
    const missed: number[] = [];
    const spawnErrors: string[] = [];
    let childNo = 0;
    let sessionsClosed = false;
    let maxSockets = 0;
    const spawnChild = (kind: ChildCheck['stdio'], extraFd?: Socket) => {
      const k = childNo++;
      const marker = `/*stress-child-${process.pid}-${k}*/`;
      const stdio: StdioOptions = kind === 'pipe' ? ['ignore', 'pipe', 'pipe'] : kind === 'control' ? ['ignore', 'ignore', 'ignore', extraFd!] : 'ignore';
      const sessionSockets = socketsTo(zkPorts);
      maxSockets = Math.max(maxSockets, sessionSockets.size);
      const sessionsOpen = sessionsClosed ? 0 : sessions.filter((s) => s.state !== 'closed').length;
      const child = spawn(process.execPath, ['-e', `setTimeout(()=>{},1000)${marker}`], { stdio });
      child.stdout?.resume();
      child.stderr?.resume();
      child.on('error', (err) => spawnErrors.push(`child ${k}: ${err.message}`));
      children.add(child);
      const exited = new Promise<void>((r) =>
        child.once('exit', () => {
          children.delete(child);
          r();
        }),
      );
      const c: ChildCheck = { k, pid: child.pid ?? -1, at: Date.now(), sessionsOpen, sessionSockets, reads: [], stdio: kind };
      checks.push(c);
      // Read right away (spawn returns after the exec: what the child inherited is there now),
      // and once more a little later.
      const read = () => {
        const fds = child.pid ? childFds(child.pid, marker) : undefined;
        if (fds) c.reads.push(fds);
      };
      read();
      setTimeout(read, 150).unref();
      void exited.then(() => {
        if (c.reads.length === 0) missed.push(k);
      });
      return exited;
    };
    // The check itself, first: a child given a socket (fd 3) must be flagged.
    control = createNetServer((s) => s.on('error', () => undefined));
    await new Promise<void>((r) => control!.listen(0, '127.0.0.1', () => r()));
    const controlSock = netConnect({ host: '127.0.0.1', port: (control.address() as { port: number }).port });
    await new Promise<void>((r, j) => {
      controlSock.once('connect', () => r());
      controlSock.once('error', j);
    });
    await spawnChild('control', controlSock);
    controlSock.destroy();
    const controlCheck = checks.shift()!;
    expect(controlCheck.reads.length, 'the control child was read').toBeGreaterThan(0);
    expect(inheritedSockets(controlCheck).length, 'a socket given as fd 3 is seen').toBe(1);
    const spawner = setInterval(() => {
      void spawnChild(childNo % 2 ? 'pipe' : 'ignore');
    }, 1000);
    stops.push(() => clearInterval(spawner));

    /** The children of `path` in sequence order: name, data, owning session (for a failure message). */
    const describeNodes = async (path: string) => {
      try {
        const names = (await sessions[0]!.getChildren(path)).sort((a, b) => Number(a.slice(-10)) - Number(b.slice(-10)));
        const rows = await Promise.all(
          names.map(async (n) => {
            const r = await sessions[0]!.get(`${path}/${n}`).catch(() => undefined);
            if (!r) return `${n} (gone)`;
            const owner = sessions.findIndex((x) => x.sessionId === r.stat.ephemeralOwner);
            return `${n} data=${r.data.toString()} owner=0x${r.stat.ephemeralOwner}${owner >= 0 ? ` (s${owner}, live)` : ' (no current session)'} czxid=0x${r.stat.czxid.toString(16)}`;
          }),
        );
        return `[${rows.join('; ')}]`;
      } catch (e) {
        return `unreadable: ${(e as Error).message}`;
      }
    };

    // ---- recovery: every session connected, one latch leads (the server agrees), every contender acquires again
    const recoveries: Array<{ round: number; label: string; ms: number }> = [];
    const recovered = async (round: number, label: string) => {
      const t = Date.now();
      const states = () => sessions.map((s, i) => `s${i} ${s.state}`).join(', ');
      await waitUntil(() => sessions.every((s) => s.state === 'connected'), `${label}: every session connected`, RECOVER_MS).catch((err: Error) => {
        throw new Error(`${err.message}; ${states()}`);
      });
      const leaders = () => latches.filter((l) => l.hasLeadership()).map((l) => l.id);
      await waitUntil(
        async () => {
          const lead = soleLeader(latches);
          if (!lead) return false;
          const parts = await latches[0]!.getParticipants();
          return parts.length === SESSIONS && parts[0]!.id === lead.id && soleLeader(latches) === lead;
        },
        `${label}: exactly one of the 8 latches leads, 8 participants`,
        RECOVER_MS,
      ).catch(async (err: Error) => {
        const parts = await latches[0]!.getParticipants().catch((e: Error) => e.message);
        throw new Error(`${err.message}; leading: [${leaders()}]; participants: ${JSON.stringify(parts)}; ${states()}`);
      });
      await waitUntil(() => loops.every((l) => l.since(t) >= 1), `${label}: every lock contender acquires again`, RECOVER_MS).catch(async (err: Error) => {
        throw new Error(
          `${err.message}; acquired since: ${loops.map((l) => `${l.name} ${l.since(t)}`)}; errors ${loops.map((l) => l.errors)}; `
            + `lock nodes: ${await describeNodes(lockPath)}; latch nodes: ${await describeNodes(electionPath)}; sessions ${sessions.map((x, i) => `s${i} 0x${x.sessionId}`).join(' ')}`,
        );
      });
      const ms = Date.now() - t;
      recoveries.push({ round, label, ms });
      tally.recovery(label, true);
      step(`recovered: ${label} (${ms} ms; sessions ${sessions.map((s) => s.sessionId).join(' ')})`);
    };
    await recovered(0, 'start');

    // ---- the faults. Each round names the sessions it must cut off (those on the server it
    // hits, or behind the proxy): each of them must see `suspended` (or `lost`), else the fault
    // missed and the round proves nothing.
    const leaderIndex = async () => {
      const i = await ensemble.leaderIndex();
      if (i < 0) throw new Error('no quorum leader');
      return i;
    };
    /**
     * The server each session is connected to, by `cons` on every server; -1 when not listed, or
     * listed by two (a server may still list a connection the session left, e.g. a frozen one).
     */
    const placement = async () => {
      const cons = await Promise.all(
        ensemble.servers.map((s) =>
          fourLetterWord('127.0.0.1', s.port, 'cons', 2000).then(
            (t) => t.toLowerCase(),
            () => '',
          ),
        ),
      );
      return sessions.map((s) => {
        const at = cons.flatMap((c, i) => (c.includes(`sid=0x${s.sessionId.toLowerCase()}`) ? [i] : []));
        return at.length === 1 ? at[0]! : -1;
      });
    };
    const on = (where: number[], server: number) => where.flatMap((w, i) => (w === server ? [i] : []));
    const proxied = Array.from({ length: PROXIED }, (_, k) => SESSIONS - PROXIED + k);
    const restart = async (i: number, why: string) => {
      step(`kill server ${i} (${why}), then restart it`);
      await ensemble.kill(i);
      tally.fault();
      await pause(1000);
      await ensemble.restart(i);
      vstep(`server ${i} back, quorum`);
    };
    const freeze = async (i: number, why: string, meanwhile?: () => void) => {
      step(`SIGSTOP server ${i} (${why}) for ${pauseMs} ms${meanwhile ? ', reset proxied connections halfway' : ''}`);
      const server = ensemble.servers[i]!;
      await server.pause();
      tally.fault();
      try {
        await pause(pauseMs / 2);
        if (meanwhile) {
          meanwhile();
          tally.fault();
        }
        await pause(pauseMs / 2);
      } finally {
        await server.resume();
      }
    };
    const failures: Array<{ participant: string; at: number }> = [];
    /** A fault: runs it and returns the sessions it must have cut off. */
    type Fault = { label: string; run: (where: number[]) => Promise<number[]> };
    const faults: Fault[] = [
      {
        label: 'a follower killed and restarted',
        run: async (where) => {
          const i = ((await leaderIndex()) + 1) % 3;
          await restart(i, 'a follower');
          return on(where, i);
        },
      },
      {
        label: 'the leader paused past the read timeout',
        run: async (where) => {
          const i = await leaderIndex();
          await freeze(i, 'the quorum leader');
          return on(where, i);
        },
      },
      {
        label: 'proxied connections reset',
        run: async () => {
          step(`drop ${proxy.connections} proxied connections`);
          proxy.dropConnections();
          tally.fault();
          return proxied;
        },
      },
      {
        label: 'the leader killed and restarted',
        run: async (where) => {
          const i = await leaderIndex();
          await restart(i, 'the quorum leader');
          return on(where, i);
        },
      },
      {
        label: 'the proxy partitioned past the session timeout',
        run: async () => {
          const leading = latches.find((l) => l.hasLeadership());
          const ms = SESSION_MS * 2;
          step(`partition the proxy for ${ms} ms (latch leader ${leading?.id ?? 'none'})`);
          proxy.partition();
          tally.fault();
          await pause(ms);
          proxy.heal();
          return proxied;
        },
      },
      {
        label: 'the busiest follower paused past the read timeout',
        run: async (where) => {
          const l = await leaderIndex();
          const i = [0, 1, 2].filter((x) => x !== l).sort((a, b) => on(where, b).length - on(where, a).length)[0]!;
          await freeze(i, `the follower with most sessions`);
          return on(where, i);
        },
      },
      {
        label: 'proxied connections frozen past the read timeout',
        run: async () => {
          step(`freeze ${proxy.connections} proxied connections for ${pauseMs} ms`);
          proxy.freeze();
          tally.fault();
          await pause(pauseMs);
          proxy.thaw();
          return proxied;
        },
      },
      {
        label: "session 0's server killed and restarted",
        run: async (where) => {
          const i = Math.max(0, where[0]!);
          await restart(i, "session 0's");
          return on(where, i);
        },
      },
      {
        label: "a proxied session's server paused, proxied connections reset meanwhile",
        run: async (where) => {
          const i = Math.max(0, where[SESSIONS - 1]!);
          await freeze(i, `session ${SESSIONS - 1}'s`, () => proxy.dropConnections());
          return [...new Set([...on(where, i), ...proxied])];
        },
      },
    ];
    const CYCLES = 2;
    /** No new round after this: the run must stay well under 3 minutes on a busy machine. */
    const BUDGET_MS = 130_000;
    const missedFaults: string[] = [];
    let round = 0;
    for (let cycle = 0; cycle < CYCLES; cycle++) {
      for (const f of faults) {
        if (round >= faults.length && Date.now() - t0 > BUDGET_MS) break;
        round++;
        const label = `round ${round}: ${f.label}`;
        const where = await placement();
        const from = Date.now();
        step(`${label}; sessions on servers ${where.join(' ')}`);
        const hit = await f.run(where);
        await recovered(round, label);
        // A latch leader whose session was lost: another participant must lead soon after.
        const lastLeader = log.events.filter((e) => e.type === 'isLeader' && e.at < from).at(-1)?.participant;
        for (const e of sessionEvents)
          if (e.at >= from && e.state === 'lost' && `p${e.i}` === lastLeader && !failures.some((x) => x.at === from))
            failures.push({ participant: lastLeader, at: from });
        const cut = new Set(sessionEvents.filter((e) => e.at >= from && (e.state === 'suspended' || e.state === 'lost')).map((e) => e.i));
        const notCut = hit.filter((i) => !cut.has(i));
        if (notCut.length) missedFaults.push(`${label}: sessions ${notCut.join(', ')} were never cut off (placement ${where.join(' ')})`);
        const lost = sessionEvents.filter((e) => e.at >= from && e.state.startsWith('lost:')).map((e) => `s${e.i} ${e.state.slice(5)}`);
        step(`${label}: cut off ${[...cut].sort().join(' ') || 'none'} (meant ${hit.join(' ') || 'none'}); sessions lost: ${lost.join(', ') || 'none'}`);
        await pause(1500); // the service runs normally for a moment
      }
    }

    // ---- wind down: children, contenders, latches, sessions, HTTP
    clearInterval(spawner);
    await waitUntil(() => children.size === 0, 'every child to exit', 20_000);
    await Promise.all(loops.map((l) => l.stop()));
    await Promise.all(latches.map((l) => l.close()));
    // The server is left clean: every lock and latch node is gone once the contenders stopped.
    await waitUntil(async () => (await sessions[0]!.getChildren(lockPath).catch(() => [])).length === 0, 'no lock node left behind', 30_000);
    await waitUntil(async () => (await sessions[0]!.getChildren(electionPath).catch(() => [])).length === 0, 'no latch node left behind', 30_000);
    await Promise.all(sessions.map((s) => s.close()));
    sessionsClosed = true;
    // Every connection of every session (and the proxy's links for them) closed with them.
    const leftOpen = await waitUntil(() => socketsTo(zkPorts).size === 0, 'no socket to a server or the proxy left open', 30_000).then(
      () => 0,
      () => socketsTo(zkPorts).size,
    );
    httpStopped = true;
    await Promise.all(httpLoops);
    lag.disable();
    process.off('uncaughtException', onUncaught);
    process.off('unhandledRejection', onUnhandled);
    const stuck = [...inflight].map((r) => `${r.path} in flight for ${(performance.now() - r.start).toFixed(0)} ms`);

    // ---- the figures
    const sorted = [...latencies].sort((a, b) => a - b);
    const pct = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]?.toFixed(1);
    const withSessions = checks.filter((c) => c.sessionsOpen > 0 && c.sessionSockets.size > 0 && c.reads.length > 0);
    const inherited = checks
      .map((c) => ({ c, s: inheritedSockets(c) }))
      .filter((x) => x.s.length > 0)
      .map(
        ({ c, s }) =>
          `child ${c.k} (pid ${c.pid}, stdio ${c.stdio}, ${c.sessionsOpen} sessions open, ${c.sessionSockets.size} session sockets here): ${s.join('; ')}`,
      );
    const suspended = sessionEvents.filter((e) => e.state === 'suspended').length;
    step(`${round} fault rounds (${tally.figures.faults} faults); recoveries ${recoveries.map((r) => r.ms).join(', ')} ms`);
    step(`sessions: ${suspended} suspensions, lost ${lostCount.join('/')} times (${[...lostReasons].map(([r, n]) => `${n} ${r}`).join(', ') || 'never'})`);
    step(
      `locks: ${loops.map((l) => l.acquisitions).join('/')} acquisitions, errors ${loops.map((l) => l.errors).join('/')}, ${resource.refused} fenced writes refused`,
    );
    step(
      `latch: ${log.events.filter((e) => e.type === 'isLeader').length} terms (leaders ${log.events
        .filter((e) => e.type === 'isLeader')
        .map((e) => e.participant)
        .join(' ')}), failover after a leader's session was lost ${failures
        .map((f) => {
          const n = log.events.find((e) => e.type === 'isLeader' && e.participant !== f.participant && e.at >= f.at);
          return n ? `${n.at - f.at} ms` : 'none';
        })
        .join(', ')}`,
    );
    step(
      `HTTP: ${latencies.length} requests, p50 ${pct(50)} ms, p99 ${pct(99)} ms, max ${sorted.at(-1)?.toFixed(1)} ms; ${httpErrors.length} errors, ${slow.length + stuck.length} hung`,
    );
    step(`event loop delay: p99 ${(lag.percentile(99) / 1e6).toFixed(1)} ms, max ${(lag.max / 1e6).toFixed(1)} ms`);
    step(
      `children: ${checks.length} spawned, ${withSessions.length} read while sessions were open (up to ${maxSockets} session sockets in this process), ${missed.length} not read in time, ${inherited.length} inherited a socket`,
    );

    // ---- the assertions
    expect(uncaught).toEqual([]);
    expect(leftOpen, 'sockets to the servers or the proxy still open after every session closed').toBe(0);
    expect(tally.record('HTTP requests hung', { checks: latencies.length, violations: [...slow, ...stuck] })).toEqual([]);
    expect(tally.record('HTTP requests failed', { checks: latencies.length, violations: httpErrors })).toEqual([]);
    expect(latencies.length).toBeGreaterThan(1000);
    expect(spawnErrors).toEqual([]);
    expect(tally.record('children inherited sockets', { checks: checks.length, violations: inherited })).toEqual([]);
    expect(tally.record('faults that cut the sessions they target', { checks: round, violations: missedFaults })).toEqual([]);
    expect(round).toBeGreaterThanOrEqual(faults.length);
    expect(withSessions.length).toBeGreaterThanOrEqual(round * 2);
    expect(recoveries.length).toBe(round + 1);
    expect(failures.length, 'the first latch leader (behind the proxy) lost its session').toBeGreaterThanOrEqual(1);
    const mutex = checkMutualExclusion(loops.flatMap((l) => l.holdings));
    expect(tally.record('lock under faults', mutex)).toEqual([]);
    expect(mutex.checks).toBeGreaterThan(round * SESSIONS);
    expect(resource.refused).toBe(0);
    // A new leader within the session timeout (when the server expires the cut-off leader) plus a
    // margin, from the start of the fault (a paused leader expires sessions only once resumed).
    const election = checkElection(log.events, failures, { withinMs: SESSION_MS + 6000 });
    expect(tally.record('one leader per term', election)).toEqual([]);
    console.log(`[stress] ${tally.figures.faults} faults injected, ${tally.figures.checks} invariant checks, ${tally.figures.violations.length} violations`);
  }, 240_000);
});
