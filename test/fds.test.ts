// Inherited sockets: with the default transport (Node sockets are close-on-exec) a plain spawn
// holds no session socket. With the native transport it does (the binding sets no close-on-exec:
// docs/binding-issues.md, fault 1); spawned through withoutInheritedFds it does not, and the
// descriptors `spawn` sets up itself are kept.
import { execFile } from 'node:child_process';
import { readdirSync, readlinkSync } from 'node:fs';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, withoutInheritedFds } from '../src/index.js';
import { useServer } from './helpers.js';

const zk = useServer();
const run = promisify(execFile);

/** The socket inodes open in this process. */
function socketsHere(): Set<string> {
  const out = new Set<string>();
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const l = readlinkSync(`/proc/self/fd/${fd}`);
      if (l.startsWith('socket:')) out.add(l);
    } catch {
      /* closed meanwhile */
    }
  }
  return out;
}

/** What a child process spawned with `argv` has open, as readlink targets. */
async function openInChild(argv: string[]): Promise<string[]> {
  const [cmd, ...args] = argv;
  const { stdout } = await run(cmd!, args);
  return stdout.split('\n').filter(Boolean);
}

const LIST_FDS = ['/bin/sh', '-c', 'for f in /proc/$$/fd/*; do readlink "$f"; done 2>/dev/null; true'];

describe('withoutInheritedFds', () => {
  it('the default transport: a child spawned directly holds no session socket', async () => {
    const before = socketsHere();
    await zk.connect({ transport: 'client' });
    const sessionSockets = [...socketsHere()].filter((s) => !before.has(s));
    expect(sessionSockets.length).toBeGreaterThan(0);
    const plain = await openInChild(LIST_FDS);
    expect(plain.filter((l) => sessionSockets.includes(l))).toEqual([]);
  });

  it('the native transport: a child spawned through it does not hold the session socket; one spawned directly does', async () => {
    const before = socketsHere();
    await zk.connect({ transport: 'native' });
    const sessionSockets = [...socketsHere()].filter((s) => !before.has(s));
    expect(sessionSockets.length).toBeGreaterThan(0);
    // The fault this works around: the plain spawn inherits the session's socket.
    const plain = await openInChild(LIST_FDS);
    expect(plain.filter((l) => sessionSockets.includes(l))).not.toEqual([]);
    const clean = await openInChild(withoutInheritedFds(LIST_FDS));
    expect(clean.filter((l) => sessionSockets.includes(l))).toEqual([]);
  });

  it('keeps the descriptors spawn sets up (stdioCount)', async () => {
    const [cmd, ...args] = withoutInheritedFds(['/bin/sh', '-c', 'echo kept >&3'], 4);
    const { spawn } = await import('node:child_process');
    const child = spawn(cmd!, args, { stdio: ['ignore', 'ignore', 'inherit', 'pipe'] });
    let got = '';
    child.stdio[3]!.on('data', (b: Buffer) => {
      got += b.toString();
    });
    const code = await new Promise((r) => child.once('close', r));
    expect(code).toBe(0);
    expect(got.trim()).toBe('kept');
  });

  it('rejects bad input with a typed error', () => {
    expect(() => withoutInheritedFds([])).toThrow(InvalidArgumentError);
    expect(() => withoutInheritedFds([42 as unknown as string])).toThrow(/argv must be a non-empty array/);
    expect(() => withoutInheritedFds(['ls'], 2)).toThrow(/stdioCount must be an integer >= 3, got 2/);
    expect(() => withoutInheritedFds(['ls'], Number.NaN)).toThrow(InvalidArgumentError);
  });
});

describe('fd guard (src/fd-guard.ts)', () => {
  it('holds every free descriptor number up to past the highest in use, a just-closed one included, and releases them', async () => {
    const { openSync, closeSync } = await import('node:fs');
    const { holdFreeFds, releaseFds } = await import('../src/fd-guard.js');
    const opened = Array.from({ length: 5 }, () => openSync('/dev/null', 'r'));
    const hole = opened[2]!;
    closeSync(hole); // as the C client closes its socket
    const held = holdFreeFds(4);
    try {
      expect(held).toContain(hole);
      expect(Math.max(...held)).toBeGreaterThan(Math.max(...opened));
      const next = openSync('/dev/null', 'r'); // a new socket meanwhile gets a higher number
      expect(held).not.toContain(next);
      closeSync(next);
    } finally {
      releaseFds(held);
      for (const fd of opened) if (fd !== hole) closeSync(fd);
    }
  });
});
