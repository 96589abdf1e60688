import type { ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { AbortedError, GroupMember, IllegalStateError, InvalidArgumentError, NodeExistsError, TimeoutError } from '../src/index.js';
import { expireSession } from '../src/testing/index.js';
import { spawnClean, nextEvent, uniquePath, useServer, waitUntil } from './helpers.js';

const zk = useServer();
const children = new Set<ChildProcess>();

afterEach(() => {
  for (const c of children) c.kill('SIGKILL');
  children.clear();
});

/** Starts a member in a child process and resolves once it has joined. */
function spawnMember(path: string, id: string, data: string): Promise<ChildProcess> {
  const child = spawnClean([process.execPath, '--import', 'tsx', 'test/fixtures/bcg-member.ts', zk.server.connectString, path, id, data], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const t = setTimeout(() => reject(new Error(`member ${id} did not join within 30 s: ${err}`)), 30_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('joined')) {
        clearTimeout(t);
        resolve(child);
      }
    });
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
    });
    child.once('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`member ${id} exited with ${code}: ${err}`));
    });
  });
}

const ids = (m: GroupMember) => [...m.members().keys()].sort();

describe('GroupMember', () => {
  it('every member sees every member with its data; a leave is seen by the others', async () => {
    const path = uniquePath('group');
    const members = await Promise.all(['a', 'b', 'c'].map(async (id) => new GroupMember(await zk.connect(), path, { id, data: `data-${id}` })));
    for (const m of members) await m.join({ timeoutMs: 10_000 });
    for (const m of members) await waitUntil(() => ids(m).join() === 'a,b,c', `${m.id} sees a,b,c`);
    expect(members[0]!.members().get('c')!.toString()).toBe('data-c');

    const left = nextEvent<[string]>(members[0]!, 'leave');
    await members[2]!.leave();
    expect((await left)[0]).toBe('c');
    await waitUntil(() => ids(members[1]!).join() === 'a,b', 'b sees a,b');
    await members[2]!.leave(); // idempotent
    await expect(members[2]!.join()).rejects.toBeInstanceOf(IllegalStateError);

    // data changes reach the others
    await members[1]!.setData('new-b');
    await waitUntil(() => members[0]!.members().get('b')?.toString() === 'new-b', "a sees b's new data");
    for (const m of members) await m.leave();
  });

  it('a member in a killed process (kill -9) is seen leaving by the others', async () => {
    const path = uniquePath('group');
    const me = new GroupMember(await zk.connect(), path, { id: 'me' });
    await me.join();
    const joined = new Set<string>();
    me.on('join', (id) => joined.add(id));
    const child = await spawnMember(path, 'child', 'hello');
    await waitUntil(() => me.members().get('child')?.toString() === 'hello', 'me sees child');
    expect(joined.has('child')).toBe(true);
    const left = nextEvent<[string]>(me, 'leave', 30_000);
    child.kill('SIGKILL');
    expect((await left)[0]).toBe('child'); // after the child's 2 s session timeout
    expect(ids(me)).toEqual(['me']);
    await me.leave();
  });

  it('re-joins by itself after its session expired', async () => {
    const path = uniquePath('group');
    const s = await zk.connect({ sessionTimeoutMs: 2000 });
    const observer = new GroupMember(await zk.connect(), path, { id: 'observer' });
    await observer.join();
    await using m = new GroupMember(s, path, { id: 'phoenix', data: 'p' });
    await m.join();
    await waitUntil(() => ids(observer).join() === 'observer,phoenix', 'observer sees phoenix');
    const left = nextEvent<[string]>(observer, 'leave');
    const newSession = new Promise<void>((r) =>
      s.on('reconnected', (i) => {
        if (i.newSession) r();
      }),
    );
    await expireSession(s);
    expect((await left)[0]).toBe('phoenix');
    await newSession;
    await waitUntil(() => observer.members().get('phoenix')?.toString() === 'p', 'observer sees phoenix again');
    await waitUntil(() => ids(m).join() === 'observer,phoenix', 'phoenix sees both again');
    const stat = await s.exists(`${path}/phoenix`);
    expect(stat!.ephemeralOwner).toBe(s.sessionId);
    await observer.leave();
  });

  it('a second member with the same id gets NodeExistsError and does not overwrite', async () => {
    const path = uniquePath('group');
    const first = new GroupMember(await zk.connect(), path, { id: 'dup', data: 'first' });
    await first.join();
    const s2 = await zk.connect();
    const second = new GroupMember(s2, path, { id: 'dup', data: 'second' });
    const err = await second.join().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NodeExistsError);
    expect((err as Error).message).toMatch(/^group-member\.join .*dup/);
    expect((await s2.get(`${path}/dup`)).data.toString()).toBe('first');
    expect(second.isJoined).toBe(false);
    await first.leave();
  });

  it('an aborted or timed-out join leaves no node behind', async () => {
    const path = uniquePath('group');
    const s = await zk.connect();
    const m = new GroupMember(s, path, { id: 'quick' });
    await expect(m.join({ signal: AbortSignal.abort() })).rejects.toBeInstanceOf(AbortedError);
    expect(await s.exists(`${path}/quick`)).toBeNull();
    const m2 = new GroupMember(s, path, { id: 'slow' });
    await expect(m2.join({ timeoutMs: 0 })).rejects.toBeInstanceOf(TimeoutError);
    expect(await s.exists(`${path}/slow`)).toBeNull();
    expect(s.pendingDeletes).toBe(0);
  });

  it('rejects bad options', async () => {
    const s = await zk.connect();
    expect(() => new GroupMember(s, '/g', { id: '' })).toThrow(InvalidArgumentError);
    expect(() => new GroupMember(s, '/g', { id: 'a/b' })).toThrow(InvalidArgumentError);
    expect(() => new GroupMember(s, '/g', { id: 'x', data: 5 as unknown as string })).toThrow(InvalidArgumentError);
  });
});
