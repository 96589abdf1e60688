// Interop: a real Curator 5.4 SharedValue / SharedCount (Debian's libcurator-recipes-java, Java 17)
// on the same node as our SharedValue / SharedCounter. Curator's trySetValue and our update()
// race on one value and every update is applied exactly once; values set on either side arrive in
// the other side's change events, with the version the writer got. (SharedCounter increments from
// both sides are in test/shared-counter.test.ts.) Missing Java or Curator jars fail this file
// with what to install (never a skip).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SharedCounter, SharedValue, jsonCodec, stringCodec, type Codec } from '../src/index.js';
import { compilePeers, killPeers, startPeer, type CompiledPeers, type Peer } from './interop/curator.js';
import { uniquePath, useServer, waitUntil } from './helpers.js';

const zk = useServer();
let peers: CompiledPeers;

beforeAll(() => {
  peers = compilePeers(); // throws with what to install when Java or the jars are missing
}, 120_000);

afterAll(() => killPeers());

/** The peer's lines starting with `prefix `, split into their fields. */
const fields = (p: Peer, prefix: string) => p.lines.filter((l) => l.startsWith(`${prefix} `)).map((l) => l.split(' ').slice(1));

describe('SharedValue interop with Curator', () => {
  it("Curator's trySetValue and our update() race on one node: every update is applied exactly once", async () => {
    const path = uniquePath('sv-interop-race');
    const JAVA_N = 60;
    const s = await zk.connect();
    // A number in JSON is its decimal text: the bytes the Java side parses and writes.
    const sv = new SharedValue<number>(s, path, { codec: jsonCodec as Codec<number>, seed: 0 });
    const java = startPeer(peers, 'SharedValuePeer', ['race', zk.server.connectString, path, String(JAVA_N)]);
    await java.ready;
    const ours: Array<{ value: number; version: number }> = [];
    const javaDone = () => java.lines.some((l) => l.startsWith('done '));
    // Two loops of ours keep updating until Curator is done, so the two sides really overlap.
    await Promise.all(
      [1, 2].map(async () => {
        while (!javaDone() || ours.length < 20) ours.push(await sv.update((n) => n + 1));
      }),
    );
    await java.exited;
    const theirs = fields(java, 'wrote').map(([n, v]) => ({ value: Number(n), version: Number(v) }));
    expect(theirs).toHaveLength(JAVA_N);
    const total = JAVA_N + ours.length;
    expect(await sv.getVersioned()).toEqual({ value: total, version: total }); // Curator's start() created it: version 0
    // Each success wrote previous + 1 at the next version: all values 1..total, each once.
    const all = [...ours, ...theirs].sort((x, y) => x.value - y.value);
    expect(all.map((w) => w.value)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    expect(ours.every((w) => w.version === w.value)).toBe(true);
    // (Curator's trySetValue returns no version: the peer prints its cache's, which may be newer.)
    expect(theirs.every((w) => w.version >= w.value)).toBe(true);
    // They raced: the writes interleave, and Curator lost compare-and-sets to us.
    const mine = ours.map((w) => w.value);
    const javas = theirs.map((w) => w.value);
    expect(Math.min(...javas)).toBeLessThan(Math.max(...mine));
    expect(Math.min(...mine)).toBeLessThan(Math.max(...javas));
    expect(Number(fields(java, 'done')[0]![0])).toBeGreaterThan(0);
  });

  it("a value set by Curator arrives in our change events, and ours in Curator's listener", async () => {
    const path = uniquePath('sv-interop-echo');
    const s = await zk.connect();
    await using sv = new SharedValue(s, path, { codec: stringCodec, seed: '' });
    const seen: Array<[string, number]> = [];
    sv.on('change', (value, version) => seen.push([value, version]));
    await sv.start();
    const java = startPeer(peers, 'SharedValuePeer', ['echo-value', zk.server.connectString, path]);
    await java.ready;
    for (let k = 0; k < 5; k++) {
      await sv.set(`ping-${k}`);
      await waitUntil(() => java.lines.includes(`seen ping-${k}`), `Curator to see ping-${k}`);
      await waitUntil(() => seen.some(([v]) => v === `pong-${k}`), `our change event for Curator's pong-${k}`);
      const [, version] = (await waitUntil(() => fields(java, 'set').find(([v]) => v === `pong-${k}`), `Curator's version of pong-${k}`))!;
      expect(seen.find(([v]) => v === `pong-${k}`)).toEqual([`pong-${k}`, Number(version)]);
    }
    await sv.set('stop');
    await java.exited;
    // Each side saw the other's values in the order they were written.
    expect(
      fields(java, 'seen')
        .map(([v]) => v)
        .filter((v) => v!.startsWith('ping-')),
    ).toEqual([0, 1, 2, 3, 4].map((k) => `ping-${k}`));
    expect(seen.map(([v]) => v).filter((v) => v.startsWith('pong-'))).toEqual([0, 1, 2, 3, 4].map((k) => `pong-${k}`));
    const versions = seen.map(([, v]) => v);
    expect(versions).toEqual([...versions].sort((x, y) => x - y));
  });

  it("SharedCounter and Curator's SharedCount hear each other's setCount in their listeners", async () => {
    const path = uniquePath('sv-interop-count');
    const s = await zk.connect();
    await using counter = new SharedCounter(s, path);
    const seen: number[] = [];
    counter.on('change', (n) => seen.push(n));
    await counter.start();
    const java = startPeer(peers, 'SharedValuePeer', ['echo-count', zk.server.connectString, path]);
    await java.ready;
    for (let n = 1; n < 10; n += 2) {
      await counter.set(n);
      await waitUntil(() => java.lines.includes(`seen ${n}`), `Curator's SharedCount to see ${n}`);
      await waitUntil(() => seen.includes(n + 1), `our change event for Curator's ${n + 1}`);
      expect(counter.value).toBe(n + 1); // nobody writes until our next set()
    }
    await counter.set(-1);
    await java.exited;
    expect(seen.filter((n) => n % 2 === 0)).toEqual([2, 4, 6, 8, 10]);
    expect((await counter.read()).version).toBe(Number(fields(java, 'set').at(-1)![1]) + 1); // our -1 came after Curator's last
  });
});
