// ensembleHealth against a real server: srvr/mntr figures, an unreachable address reported as
// such (never thrown), and a server that refuses mntr.
import { createServer, connect, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { AbortedError, InvalidArgumentError, ensembleHealth, formatHealth } from '../src/index.js';
import { freePort, startEnsemble } from '../src/testing/index.js';
import { uniquePath, useServer } from './helpers.js';

const zk = useServer();
const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f().catch(() => undefined);
});

/**
 * A shim in front of the real server that behaves like one started with
 * `4lw.commands.whitelist=srvr`: `mntr` gets ZooKeeper's refusal text (or, with `silent`, the
 * connection closes with an empty reply, as some versions do); everything else goes to the server.
 */
async function refusingMntr(silent: boolean): Promise<number> {
  const target = zk.server.port;
  const srv: Server = createServer({ allowHalfOpen: true }, (client) => {
    client.once('data', (first: Buffer) => {
      if (first.toString('utf8', 0, 4) === 'mntr') {
        client.end(silent ? '' : 'mntr is not executed because it is not in the whitelist.\n');
        return;
      }
      const up = connect({ host: '127.0.0.1', port: target });
      up.write(first);
      client.pipe(up);
      up.pipe(client);
      up.on('error', () => client.destroy());
      client.on('error', () => up.destroy());
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  cleanup.push(() => new Promise((r) => srv.close(r)));
  return (srv.address() as { port: number }).port;
}

describe('ensembleHealth', () => {
  it('reports a single local server: standalone, znode and watch counts, latency, version', async () => {
    const s = await zk.connect();
    const path = uniquePath('health');
    await s.create(path, 'x');
    await s.exists(path, { watch: () => undefined }); // one watch the server must count
    const h = await ensembleHealth(zk.server.connectString, { timeoutMs: 5000 });
    expect(h.healthy).toBe(true);
    expect(h.servers).toHaveLength(1);
    const [srv] = h.servers;
    expect(srv!.address).toBe(zk.server.connectString);
    expect(srv!.answering).toBe(true);
    expect(srv!.serving).toBe(true);
    expect(srv!.mode).toBe('standalone');
    expect(h.leader).toBe(zk.server.connectString);
    expect(typeof srv!.latencyMs).toBe('number');
    expect(srv!.latencyMs).toBeGreaterThanOrEqual(0);
    expect(srv!.znodeCount).toBeGreaterThan(0);
    expect(srv!.watchCount).toBeGreaterThanOrEqual(1);
    expect(srv!.outstandingRequests).toBeGreaterThanOrEqual(0);
    expect(srv!.connections).toBeGreaterThanOrEqual(1);
    expect(srv!.version).toMatch(/^3\.\d+\.\d+/);
    expect(srv!.errors).toEqual([]);
    expect(formatHealth(h)).toMatch(/HEALTHY .*\n.*standalone, rtt [\d.]+ ms, outstanding \d+, znodes \d+, watches \d+/);
  });

  it('reports an unreachable address as not answering, without throwing, next to a live one', async () => {
    const dead = `127.0.0.1:${await freePort()}`;
    const h = await ensembleHealth(`${zk.server.connectString},${dead}`, { timeoutMs: 3000 });
    expect(h.healthy).toBe(false);
    expect(h.servers.map((s) => s.address)).toEqual([zk.server.connectString, dead]);
    const [live, down] = h.servers;
    expect(live!.mode).toBe('standalone');
    expect(down!.answering).toBe(false);
    expect(down!.serving).toBe(false);
    expect(down!.mode).toBeUndefined();
    expect(down!.latencyMs).toBeUndefined();
    expect(down!.errors.join()).toMatch(new RegExp(`${dead}: not answering \\(connection refused\\)`));
    expect(formatHealth(h)).toContain(`${dead}  DOWN`);
  });

  it('reports a silent address (accepts, never answers) as not answering after timeoutMs', async () => {
    const sockets = new Set<import('node:net').Socket>();
    const silent = createServer((c) => {
      sockets.add(c);
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    cleanup.push(
      () =>
        new Promise((r) => {
          for (const c of sockets) c.destroy();
          silent.close(r);
        }),
    );
    const addr = `127.0.0.1:${(silent.address() as { port: number }).port}`;
    const t0 = Date.now();
    const h = await ensembleHealth(addr, { timeoutMs: 300 });
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(h.servers[0]!.answering).toBe(false);
    expect(h.servers[0]!.errors.join()).toMatch(/no answer within 300 ms/);
  });

  it.each([
    ['with the refusal text', false],
    ['with an empty reply', true],
  ])('names 4lw.commands.whitelist when mntr is refused (%s), and still reports srvr', async (_label, silent) => {
    const port = await refusingMntr(silent);
    const h = await ensembleHealth(`127.0.0.1:${port}`, { timeoutMs: 5000 });
    const [srv] = h.servers;
    expect(srv!.answering).toBe(true);
    expect(srv!.mode).toBe('standalone'); // from srvr
    expect(srv!.znodeCount).toBeGreaterThan(0); // from srvr
    expect(srv!.watchCount).toBeUndefined(); // only mntr has it
    expect(srv!.errors).toHaveLength(1);
    expect(srv!.errors[0]).toMatch(/mntr is not allowed.*4lw\.commands\.whitelist/);
  });

  it('rejects bad input before asking anything', async () => {
    await expect(ensembleHealth('no-port-here:abc')).rejects.toThrow(InvalidArgumentError);
    await expect(ensembleHealth('')).rejects.toThrow(/health: connect string/);
    await expect(ensembleHealth(zk.server.connectString, { timeoutMs: -1 })).rejects.toThrow(/timeoutMs/);
    await expect(ensembleHealth(zk.server.connectString, { signal: AbortSignal.abort() })).rejects.toThrow(AbortedError);
  });
});

describe('ensembleHealth on a 3-server ensemble', () => {
  it('reports one leader and two followers, then the killed server as not answering', async () => {
    const ens = await startEnsemble(3);
    cleanup.push(() => ens.close());
    const h = await ensembleHealth(ens.connectString, { timeoutMs: 5000 });
    expect(h.healthy).toBe(true);
    const leaderIdx = await ens.leaderIndex();
    expect(h.leader).toBe(ens.servers[leaderIdx]!.connectString);
    expect(h.servers.map((s) => s.mode)).toEqual(ens.servers.map((_, i) => (i === leaderIdx ? 'leader' : 'follower')));
    expect(h.servers[leaderIdx]!.syncedFollowers).toBe(2);
    expect(new Set(h.servers.map((s) => s.znodeCount))).toHaveProperty('size', 1); // replicas agree

    const victim = (leaderIdx + 1) % 3;
    await ens.kill(victim);
    const after = await ensembleHealth(ens.connectString, { timeoutMs: 5000 });
    expect(after.healthy).toBe(false);
    expect(after.servers[victim]!.answering).toBe(false);
    expect(after.servers.filter((s) => s.serving)).toHaveLength(2);
    expect(formatHealth(after)).toMatch(/UNHEALTHY \(2\/3 serving/);
  });
});
