// The client's host list: connect strings (IPv6 in brackets, a chroot suffix) parsed and checked
// before anything is opened, names resolved at each attempt, an IPv6 server reached, a chroot
// applied to every path and removed from every answer and event.
import { createServer, connect as netConnect, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ZkClient } from '../src/client/client.js';
import { HostList, parseConnectString } from '../src/client/hosts.js';
import { InvalidArgumentError, ZkSession } from '../src/index.js';
import { nextEvent, uniquePath, useServer } from './helpers.js';

const zk = useServer();
const OPEN = [{ perms: 31, scheme: 'world', id: 'anyone' }];

describe('connect strings', () => {
  it('parses hosts, IPv6 literals and a chroot', () => {
    expect(parseConnectString('a:1,[::1]:2181,10.0.0.1:2/app/x')).toEqual({
      hosts: [
        { host: 'a', port: 1 },
        { host: '::1', port: 2181 },
        { host: '10.0.0.1', port: 2 },
      ],
      chroot: '/app/x',
    });
    expect(parseConnectString('h:2181/').chroot).toBe('');
  });

  it('rejects bad ones with a typed error naming the bad part', () => {
    for (const [cs, why] of [
      ['', /non-empty/],
      ['h', /"h"/],
      ['h:0', /"h:0"/],
      ['h:70000', /"h:70000"/],
      ['[::1:2181', /\[::1:2181/],
      ['h:1/a/', /chroot/],
      ['h:1,,g:2', /""/],
    ] as const) {
      expect(() => parseConnectString(cs), cs).toThrow(InvalidArgumentError);
      expect(() => parseConnectString(cs), cs).toThrow(why);
    }
  });

  it('visits every host once per round, in a shuffled order', () => {
    const hosts = Array.from({ length: 5 }, (_, i) => ({ host: `h${i}`, port: 1 }));
    const list = new HostList(hosts);
    const round = Array.from({ length: 5 }, () => list.next());
    expect(round.map((r) => r.host.host).sort()).toEqual(hosts.map((h) => h.host));
    expect(round.map((r) => r.wrapped)).toEqual([true, false, false, false, false]); // a round starts
    expect(list.next().wrapped).toBe(true);
    expect(list.next().wrapped).toBe(false);
  });
});

describe('reaching servers', () => {
  let v6: Server | undefined;
  let v6Port = 0;
  const links = new Set<Socket>();
  beforeAll(async () => {
    // An IPv6 listener piping to the (IPv4 loopback) server: the client must connect over IPv6.
    v6 = createServer((c) => {
      const up = netConnect(zk.server.port, '127.0.0.1');
      links.add(c);
      links.add(up);
      c.pipe(up);
      up.pipe(c);
      c.on('error', () => up.destroy());
      up.on('error', () => c.destroy());
      c.on('close', () => up.destroy());
      up.on('close', () => c.destroy());
    });
    await new Promise<void>((resolve, reject) => {
      v6!.once('error', reject);
      v6!.listen(0, '::1', () => resolve());
    });
    v6Port = (v6.address() as { port: number }).port;
  });
  afterAll(async () => {
    for (const s of links) s.destroy();
    await new Promise((r) => v6?.close(r));
  });

  it('connects to an IPv6 literal', async () => {
    const c = new ZkClient(`[::1]:${v6Port}`, { sessionTimeoutMs: 4000 }).start();
    try {
      const [info] = await nextEvent<[{ server: string }]>(c, 'connected');
      expect(info.server).toBe(`::1:${v6Port}`);
      expect(await c.exists('/')).not.toBeNull();
    } finally {
      await c.close();
    }
  });

  it('resolves host names at each attempt (localhost)', async () => {
    const s = await ZkSession.connect(`localhost:${zk.server.port}`, { sessionTimeoutMs: 4000 });
    try {
      expect(s.state).toBe('connected');
    } finally {
      await s.close();
    }
  });

  it('applies a chroot to requests, answers and watch events', async () => {
    const root = uniquePath('chroot');
    const plain = await zk.connect();
    await plain.create(root);
    const c = new ZkClient(`${zk.server.connectString}${root}`, { sessionTimeoutMs: 4000 }).start();
    try {
      await nextEvent(c, 'connected');
      const created = await c.create('/a', Buffer.from('x'), { acl: OPEN, flags: 2 });
      expect(created.path).toMatch(/^\/a\d{10}$/);
      expect(await plain.exists(root + created.path)).not.toBeNull();
      const events: Array<{ type: string; path: string }> = [];
      const fired = new Promise<void>((r) => {
        void c.getData(created.path, (e) => {
          events.push(e);
          r();
        });
      });
      await c.sync('/');
      await plain.set(root + created.path, 'y');
      await fired;
      expect(events).toEqual([{ type: 'changed', path: created.path }]);
      const [res] = await c.multi([{ type: 'create', path: '/b', data: Buffer.alloc(0), acl: OPEN, flags: 0 }]);
      expect(res).toMatchObject({ type: 'create', path: '/b' });
      expect((await c.getChildren('/')).children.sort()).toEqual([created.path.slice(1), 'b'].sort());
    } finally {
      await c.close();
    }
  });
});
