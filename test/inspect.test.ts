// The recipe inspector and the CLI against a real server: each recipe's layout (Curator's names,
// made by separate sessions) is recognised, contenders are ordered by their sequence suffix, and
// the 3 a.m. hints (dead session, stale or persistent holder) show up.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { main } from '../src/cli.js';
import { ZkSession, formatInspection, inspect, type Inspection } from '../src/index.js';
import { freePort } from '../src/testing/index.js';
import { startProxy } from '../src/testing/proxy.js';
import { nextEvent, uniquePath, useServer, waitUntil } from './helpers.js';

const zk = useServer();
const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f().catch(() => undefined);
});

/** A protected ephemeral-sequential contender with a chosen `_c_` prefix (to defeat name order). */
async function contender(s: ZkSession, parent: string, prefixHex: string, marker: string, data: string): Promise<string> {
  const uuid = `${prefixHex.repeat(8).slice(0, 8)}-${randomUUID().slice(9)}`;
  return s.create(`${parent}/_c_${uuid}-${marker}`, data, { mode: 'ephemeral_sequential', createParents: true });
}

function kind<K extends Inspection['kind']>(x: Inspection, k: K): Extract<Inspection, { kind: K }> {
  expect(x.kind).toBe(k);
  return x as Extract<Inspection, { kind: K }>;
}

describe('inspect', () => {
  it('lock: the lowest sequence holds (not the lowest name), waiters in order, sessions and ages', async () => {
    const [a, b, c, me] = await Promise.all([zk.connect(), zk.connect(), zk.connect(), zk.connect()]);
    const p = uniquePath('lock');
    await contender(a, p, 'f', 'lock-', 'host-a/101'); // seq 0, but sorts last by name
    await contender(b, p, '0', 'lock-', 'host-b/202'); // seq 1
    await contender(c, p, '8', 'lock-', 'host-c/303'); // seq 2
    const x = kind(await inspect(me, p), 'lock');
    expect(x.holder?.sessionId).toBe(`0x${a.sessionId}`);
    expect(x.holder?.sequence).toBe(0);
    expect(x.holder?.data).toBe('host-a/101');
    expect(x.holder?.sessionConnected).toBe(true);
    expect(x.holder?.ageMs).toBeGreaterThanOrEqual(0);
    expect(x.waiters.map((w) => w.sessionId)).toEqual([`0x${b.sessionId}`, `0x${c.sessionId}`]);
    expect(x.waiters.map((w) => w.sequence)).toEqual([1, 2]);
    expect(x.hints).toEqual([]);
    const text = formatInspection(x);
    expect(text).toContain(`${p}: LOCK, HELD, 2 waiting`);
    expect(text).toMatch(new RegExp(`holder: #0 _c_f+-.*-lock-0000000000\\n\\s+session 0x${a.sessionId} \\(connected\\), held \\d+ ms`));
    expect(text).toContain('"host-a/101"');
  });

  it('lock: hints for a stale holder, a holder waiting for itself, and a persistent holder node', async () => {
    const [a, b, me] = await Promise.all([zk.connect(), zk.connect(), zk.connect()]);
    const p = uniquePath('lock');
    await contender(a, p, '1', 'lock-', 'stuck');
    await contender(b, p, '2', 'lock-', 'w');
    await contender(a, p, '3', 'lock-', 'again'); // the same session waits behind itself
    const x = kind(await inspect(me, p, { staleAfterMs: 0 }), 'lock');
    expect(x.hints.join('\n')).toMatch(/holder has held for .* over 0 ms.*"stuck".*2 waiters are blocked/);
    expect(x.hints.join('\n')).toContain(`session 0x${a.sessionId} both holds and waits`);

    const q = uniquePath('lock');
    await me.create(`${q}/lock-`, 'left behind', { mode: 'persistent_sequential', createParents: true });
    const y = kind(await inspect(me, q), 'lock');
    expect(y.holder?.sessionId).toBeUndefined();
    expect(y.hints[0]).toMatch(/PERSISTENT: no session end will ever remove it.*delete .*lock-0000000000 by hand/);
    await me.delete(q, { recursive: true });
  });

  it('lock: flags a holder whose session is not connected to any server (cut off, not yet expired)', async () => {
    const proxy = await startProxy(zk.server.connectString);
    cleanup.push(() => proxy.close());
    const cut = await ZkSession.connect(proxy.connectString, { sessionTimeoutMs: 8000 });
    cleanup.push(() => cut.close());
    const me = await zk.connect();
    const p = uniquePath('lock');
    await contender(cut, p, 'a', 'lock-', 'partitioned');
    const suspended = nextEvent(cut, 'suspended', 10_000);
    proxy.partition();
    proxy.dropConnections(); // the server sees the connection close; reconnects stall
    await suspended;
    const found = await waitUntil(async () => {
      const r = await inspect(me, p);
      return r.kind === 'lock' && r.holder?.sessionConnected === false ? r : undefined;
    }, 'the holder to show as not connected', 5000);
    const x = kind(found!, 'lock');
    expect(x.holder?.sessionId).toBe(`0x${cut.sessionId}`);
    expect(x.hints[0]).toMatch(/holder's session 0x[0-9a-f]+ is not connected to any server/);
    expect(formatInspection(x)).toContain('(NOT CONNECTED)');
  });

  it('read-write lock: readers before the first writer hold; the writer and later readers wait', async () => {
    const [a, b, c, d] = await Promise.all([zk.connect(), zk.connect(), zk.connect(), zk.connect()]);
    const p = uniquePath('rw');
    await contender(a, p, 'e', '__READ__', 'r1');
    await contender(b, p, 'd', '__READ__', 'r2');
    await contender(c, p, '0', '__WRIT__', 'w1');
    await contender(d, p, '1', '__READ__', 'r3');
    const x = kind(await inspect(a, p), 'rwlock');
    expect(x.holders.map((h) => [h.mode, h.data])).toEqual([['read', 'r1'], ['read', 'r2']]);
    expect(x.waiters.map((h) => [h.mode, h.data])).toEqual([['write', 'w1'], ['read', 'r3']]);
    expect(formatInspection(x)).toContain('READ-WRITE LOCK, held for read, 2 waiting');
  });

  it('leader latch: the lowest sequence leads; participants in order with ids from data', async () => {
    const [a, b, c] = await Promise.all([zk.connect(), zk.connect(), zk.connect()]);
    const p = uniquePath('latch');
    await contender(a, p, 'c', 'latch-', 'alpha');
    await contender(b, p, 'b', 'latch-', 'beta');
    await contender(c, p, 'a', 'latch-', 'gamma');
    const x = kind(await inspect(a, p), 'leader-latch');
    expect(x.leader?.data).toBe('alpha');
    expect(x.participants.map((n) => n.data)).toEqual(['alpha', 'beta', 'gamma']);
    expect(formatInspection(x)).toMatch(/LEADER LATCH, 3 participant\(s\)\n\s+leader: #0 .*\n.*"alpha"/);
  });

  it('semaphore: leases with sessions, the acquire line under locks/', async () => {
    const [a, b, c] = await Promise.all([zk.connect(), zk.connect(), zk.connect()]);
    const p = uniquePath('sem');
    await contender(a, `${p}/leases`, '9', 'lease-', 'a');
    await contender(b, `${p}/leases`, '1', 'lease-', 'b');
    await contender(c, `${p}/locks`, '5', 'lock-', 'c');
    await contender(c, `${p}/leases`, '0', 'lease-', 'c'); // c holds the mutex and waits for a slot
    const x = kind(await inspect(a, p), 'semaphore');
    expect(x.leases.map((l) => l.sessionId)).toEqual([`0x${a.sessionId}`, `0x${b.sessionId}`, `0x${c.sessionId}`]);
    expect(x.pendingLease?.data).toBe('c');
    expect(x.waiters.map((l) => l.sessionId)).toEqual([`0x${c.sessionId}`]);
    const text = formatInspection(x);
    expect(text).toContain('SEMAPHORE, 2 lease(s) held, 1 in the acquire line');
    expect(text).toMatch(/3\. #2 .*-lease-0000000002\n.*WAITING for a free lease/);
  });

  it('queue: depth, the head item (name, age, size) and claims in flight', async () => {
    const s = await zk.connect();
    const p = uniquePath('queue');
    const first = await s.create(`${p}/queue-`, 'first item', { mode: 'persistent_sequential', createParents: true });
    await s.create(`${p}/queue-`, 'second', { mode: 'persistent_sequential' });
    await s.create(`${p}/queue-`, 'third', { mode: 'persistent_sequential' });
    await s.create(`${p}-locks/${first.slice(p.length + 1)}`, '', { mode: 'ephemeral', createParents: true });
    await s.create(`${p}-poison/queue-0000000099`, Buffer.from([0xff, 0x00]), { createParents: true });
    const x = kind(await inspect(s, p), 'queue');
    expect(x.depth).toBe(3);
    expect(x.poisoned).toBe(1);
    expect(x.hints.join()).toMatch(/1 item\(s\) could not be decoded and were moved to .*-poison/);
    expect(x.head?.path).toBe(first);
    expect(x.head?.dataLength).toBe(10);
    expect(x.head?.ageMs).toBeGreaterThanOrEqual(0);
    expect(x.inFlight).toBe(1);
    expect(formatInspection(x)).toMatch(/QUEUE, depth 3, 1 claimed by consumers, 1 poisoned\n\s+head: queue-0000000000, 10 bytes, waiting/);
    await s.delete(p, { recursive: true });
    await s.delete(`${p}-locks`, { recursive: true });
    await s.delete(`${p}-poison`, { recursive: true });
  });

  it('group membership: plain ephemeral children with their data', async () => {
    const [a, b] = await Promise.all([zk.connect(), zk.connect()]);
    const p = uniquePath('group');
    await a.create(`${p}/alice`, '{"port":1}', { mode: 'ephemeral', createParents: true });
    await b.create(`${p}/bob`, '{"port":2}', { mode: 'ephemeral' });
    const x = kind(await inspect(a, p), 'group');
    expect(x.members.map((m) => [m.name, m.data, m.sessionId])).toEqual([['alice', '{"port":1}', `0x${a.sessionId}`], ['bob', '{"port":2}', `0x${b.sessionId}`]]);
  });

  it('scheduler: leader, workers with capacity/load, task counts by state (tolerant of junk), orphaned tasks', async () => {
    const [w, d] = await Promise.all([zk.connect(), zk.connect()]);
    const p = uniquePath('sched');
    for (const dir of ['tasks', 'workers', 'assign/w1', 'leader']) await d.create(`${p}/${dir}`, '', { createParents: true });
    await w.create(`${p}/workers/w1`, JSON.stringify({ capacity: 4, load: 1, draining: false }), { mode: 'ephemeral' });
    const task = (state: string, worker?: string) => JSON.stringify({ state, type: 'x', worker });
    await d.create(`${p}/tasks/t1`, task('pending'));
    await d.create(`${p}/tasks/t2`, task('running', 'w1'));
    await d.create(`${p}/assign/w1/t2`, '');
    await d.create(`${p}/tasks/t3`, task('succeeded', 'w1'));
    await d.create(`${p}/tasks/t4`, task('pending'));
    await d.create(`${p}/tasks/t5`, task('running', 'w9')); // a worker that is gone
    await d.create(`${p}/tasks/t6`, 'not json at all');
    await contender(d, `${p}/leader`, '7', 'latch-', 'dispatcher-1');
    const now = Date.now();
    await d.create(`${p}/schedules/beat`, JSON.stringify({ everyMs: 60_000, startAt: now - 90_000, type: 'x', payload: null, maxAttempts: 1, lastFired: 1 }), { createParents: true });
    await d.create(`${p}/schedules/nightly`, JSON.stringify({ everyMs: 0, cron: '0 0 * * *', startAt: now - 3 * 86_400_000, type: 'y', payload: null, maxAttempts: 1, lastFired: -1 }));
    const x = kind(await inspect(d, p), 'scheduler');
    const [beat, nightly] = x.schedules;
    expect([beat!.id, beat!.everyMs, beat!.lastFiredAt?.getTime(), beat!.nextDueAt?.getTime()]).toEqual(['beat', 60_000, now - 30_000, now + 30_000]);
    expect([nightly!.id, nightly!.cron, nightly!.lastFiredAt]).toEqual(['nightly', '0 0 * * *', undefined]);
    // never fired since it was defined three days ago, with a dispatcher leading: overdue
    expect(nightly!.nextDueAt!.getTime()).toBeLessThan(now - 86_400_000);
    expect(x.hints.join('\n')).toMatch(/schedule nightly: the period due .* ago has not fired although a dispatcher leads/);
    expect(formatInspection(x)).toMatch(/schedules: 2[\s\S]*beat: every 1 m 0 s, type x, last fired 3\d s ago, next in (2\d|30) s[\s\S]*nightly: cron '0 0 \* \* \*' \(UTC\), type y, not fired yet, next OVERDUE by/);
    expect(x.leader?.data).toBe('dispatcher-1');
    expect(x.workers.map((v) => [v.name, v.capacity, v.load, v.draining, v.assigned])).toEqual([['w1', 4, 1, false, 1]]);
    expect(x.tasks).toEqual({ total: 6, byState: { pending: 2, running: 2, succeeded: 1, unknown: 1 } });
    expect(x.hints.join('\n')).toMatch(/1 task\(s\) assigned to workers that are not registered.*t5 \(w9\)/);
    expect(formatInspection(x)).toMatch(/SCHEDULER, 1 worker\(s\), 6 task\(s\)[\s\S]*w1: load 1\/4, 1 assigned[\s\S]*tasks: 6 \(pending 2, running 2, succeeded 1, unknown 1\)/);
    await d.delete(p, { recursive: true }).catch(() => undefined);
  });

  it('double barrier, plain tree and missing path', async () => {
    const [a, b] = await Promise.all([zk.connect(), zk.connect()]);
    const p = uniquePath('dbar');
    await a.create(`${p}/${randomUUID()}`, '', { mode: 'ephemeral', createParents: true });
    await b.create(`${p}/${randomUUID()}`, '', { mode: 'ephemeral' });
    await a.create(`${p}/ready`, '');
    const x = kind(await inspect(a, p), 'double-barrier');
    expect(x.participants).toHaveLength(2);

    const t = uniquePath('tree');
    await a.create(`${t}/config`, 'k=v', { createParents: true });
    await a.create(`${t}/other`, '');
    const y = kind(await inspect(a, t), 'tree');
    expect(y.children.map((c) => c.name)).toEqual(['config', 'other']);
    expect(y.totalChildren).toBe(2);
    expect(formatInspection(y)).toContain('no recipe recognised');

    const z = await inspect(a, uniquePath('nothing'));
    expect(z.kind).toBe('missing');
    expect(formatInspection(z)).toMatch(/no such node[\s\S]*does not exist/);
    await a.delete(t, { recursive: true });
    await a.delete(`${p}/ready`);
  });

  it('rejects bad input before reading', async () => {
    const s = await zk.connect();
    await expect(inspect(s, 'relative/path')).rejects.toThrow(/inspect: invalid path/);
    await expect(inspect(s, '/x', { staleAfterMs: -1 })).rejects.toThrow(/option staleAfterMs/);
    await expect(inspect(s, '/x', { signal: AbortSignal.abort() })).rejects.toThrow(/inspect \/x: aborted/);
  });
});

// ---- the CLI, run as a child process with tsx ------------------------------------------------

function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], { env: { ...process.env, ...env }, timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

describe('zk-recipes CLI', () => {
  it('run with tsx: inspect as text (--connect) and --json (ZK_CONNECT default); health exit 0', async () => {
    const [a, b] = await Promise.all([zk.connect(), zk.connect()]);
    const p = uniquePath('cli-lock');
    await contender(a, p, 'b', 'lock-', 'worker-7');
    await contender(b, p, 'a', 'lock-', 'worker-8');
    const [text, json, health] = await Promise.all([
      cli(['inspect', p, '--connect', zk.server.connectString]),
      cli(['inspect', p, '--json'], { ZK_CONNECT: zk.server.connectString }),
      cli(['health', '--connect', zk.server.connectString]),
    ]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`${p}: LOCK, HELD, 1 waiting`);
    expect(text.stdout).toContain(`session 0x${a.sessionId}`);
    expect(json.code).toBe(0);
    const parsed = JSON.parse(json.stdout) as { kind: string; holder: { data: string; sessionId: string }; waiters: unknown[] };
    expect(parsed.kind).toBe('lock');
    expect(parsed.holder).toMatchObject({ data: 'worker-7', sessionId: `0x${a.sessionId}` });
    expect(parsed.waiters).toHaveLength(1);
    expect(health.code).toBe(0);
    expect(health.stdout).toMatch(/HEALTHY[\s\S]*standalone, rtt/);
  });

  it('main() in-process: exit 1 for an unhealthy ensemble or no connection, 3 for a missing path, 2 for bad usage, 0 for --help', async () => {
    const run = async (args: string[]) => {
      const out: string[] = [];
      const err: string[] = [];
      const code = await main(args, { out: (s) => out.push(s), err: (s) => err.push(s), env: {} });
      return { code, out: out.join('\n'), err: err.join('\n') };
    };
    const dead = `127.0.0.1:${await freePort()}`;
    const down = await run(['health', '--json', '--connect', dead, '--timeout', '1000']);
    expect(down.code).toBe(1);
    const h = JSON.parse(down.out) as { healthy: boolean; servers: Array<{ answering: boolean }> };
    expect(h.healthy).toBe(false);
    expect(h.servers[0]!.answering).toBe(false);
    const missing = await run(['inspect', uniquePath('nope'), `--connect=${zk.server.connectString}`]);
    expect(missing.code).toBe(3);
    expect(missing.out).toContain('no such node');
    const noConnect = await run(['inspect', '/x', '--connect', dead, '--timeout', '1000']);
    expect(noConnect.code).toBe(1);
    expect(noConnect.err).toMatch(/zk-recipes inspect: session: could not connect to .* \[CONNECT_TIMEOUT\]/);
    const cases: Array<[string[], RegExp]> = [
      [['inspect'], /inspect needs a <path>[\s\S]*Usage:/],
      [['frobnicate'], /unknown command "frobnicate"/],
      [['health', 'extra'], /health takes no arguments/],
      [['inspect', '/a', '/b'], /inspect takes one <path>, got 2/],
      [['health', '--timeout', 'soon'], /--timeout needs a positive number/],
      [['health', '--connect'], /--connect needs host:port/],
      [['health', '--bogus'], /unknown option --bogus/],
      [[], /missing command/],
    ];
    for (const [args, re] of cases) {
      const r = await run(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err).toMatch(re);
    }
    const help = await run(['--help']);
    expect(help.code).toBe(0);
    expect(help.out).toContain('zk-recipes inspect <path>');
  });
});
