// Interop: a real Curator 5.4 LeaderLatch (Debian's libcurator-recipes-java, Java 17) joins the
// same election as our LeaderLatch participants; both sides agree who leads at every step. Missing
// Java or Curator jars fail this file with what to install (never a skip).
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LeaderLatch } from '../src/index.js';
import { compilePeers, killPeers, startPeer, type CompiledPeers, type Peer } from './interop/curator.js';
import { nextEvent, uniquePath, useServer, waitUntil } from './helpers.js';

const zk = useServer();
let peers: CompiledPeers;
let dir: string;

beforeAll(() => {
  peers = compilePeers(); // throws with what to install when Java or the jars are missing
  dir = mkdtempSync(join(tmpdir(), 'zk-recipes-latch-interop-'));
}, 120_000);

afterAll(() => {
  killPeers();
  if (dir && existsSync(dir)) rmSync(dir, { recursive: true, force: true });
});

/** Curator's latest `view` line: who Curator's own getLeader() says leads. */
const curatorView = (p: Peer) =>
  [...p.lines]
    .reverse()
    .find((l) => l.startsWith('view '))
    ?.slice(5);

describe('LeaderLatch interop with Curator', () => {
  it('a Curator LeaderLatch and ours share one election and agree on the leader', async () => {
    const path = uniquePath('latch-interop');
    const [sa, sb] = await Promise.all([zk.connect(), zk.connect()]);
    const a = new LeaderLatch(sa, path, { id: 'node-a' });
    const b = new LeaderLatch(sb, path, { id: 'node-b' });

    // 1. node-a leads; Curator joins second and sees node-a as leader.
    a.start();
    await a.await({ timeoutMs: 10_000 });
    const stop = join(dir, 'stop-java');
    const java = startPeer(peers, 'LatchPeer', [zk.server.connectString, path, 'java-j', stop]);
    await java.ready;
    await waitUntil(async () => (await a.getParticipants()).length === 2, 'Curator to join', 20_000);
    b.start();
    await waitUntil(async () => (await a.getParticipants()).length === 3, 'node-b to join');
    const parts = await b.getParticipants();
    expect(parts.map((p) => p.id)).toEqual(['node-a', 'java-j', 'node-b']);
    // Curator's node has exactly our layout (it was created by Curator, we parse it).
    expect(parts[1]!.nodeName).toMatch(/^_c_[0-9a-f-]{36}-latch-\d{10}$/);
    await waitUntil(() => curatorView(java) === 'node-a', 'Curator to see node-a lead', 20_000);
    expect(await b.getLeader()).toBe('node-a');
    expect(java.lines).not.toContain('leader java-j');
    expect(b.hasLeadership()).toBe(false);

    // 2. node-a closes: Curator (next in line) leads; both sides say so; node-b does not lead.
    await a.close();
    await waitUntil(() => java.lines.includes('leader java-j'), 'Curator to take over', 20_000);
    expect(await b.getLeader()).toBe('java-j');
    await waitUntil(() => curatorView(java) === 'java-j', 'Curator to see itself lead', 20_000);
    expect(b.hasLeadership()).toBe(false);

    // 3. Curator closes: node-b takes over, and Curator saw it leave leadership.
    const bLeads = nextEvent(b, 'isLeader', 20_000);
    writeFileSync(stop, '');
    await java.exited;
    await bLeads;
    expect(java.lines).toContain('notleader java-j');
    expect(b.hasLeadership()).toBe(true);
    expect(await b.getLeader()).toBe('node-b');
    expect(await b.getParticipants()).toEqual([expect.objectContaining({ id: 'node-b', isLeader: true })]);
    await b.close();
  });

  it('Curator leads first and our participant takes over when its process is killed', async () => {
    const path = uniquePath('latch-interop-kill');
    const java = startPeer(peers, 'LatchPeer', [zk.server.connectString, path, 'java-k', join(dir, 'never')]);
    await java.ready;
    await waitUntil(() => java.lines.includes('leader java-k'), 'Curator to lead', 20_000);
    const s = await zk.connect();
    const ours = new LeaderLatch(s, path, { id: 'node-k' });
    ours.start();
    await waitUntil(async () => (await ours.getParticipants()).length === 2, 'our participant to join');
    expect(await ours.getLeader()).toBe('java-k');
    await waitUntil(() => curatorView(java) === 'java-k', 'Curator to see itself lead', 20_000);
    expect(ours.hasLeadership()).toBe(false);
    java.child.kill('SIGKILL'); // its session (4 s) expires on the server
    await ours.await({ timeoutMs: 20_000 });
    expect(await ours.getLeader()).toBe('node-k');
    await ours.close();
  });
});
