import { describe, expect, it } from 'vitest';
import { AbortedError, Barrier, ClosedError, InvalidArgumentError, InvalidPathError, TimeoutError } from '../src/index.js';
import { expireSession } from '../src/testing/index.js';
import { uniquePath, useServer } from './helpers.js';

const zk = useServer();

describe('Barrier', () => {
  it('holds every waiter (in separate sessions) until the barrier is removed', async () => {
    const path = uniquePath('barrier');
    const owner = await zk.connect();
    await new Barrier(owner, path).set();
    expect(await new Barrier(owner, path).isSet()).toBe(true);

    let removedAt = 0;
    const passed: number[] = [];
    const waiters = await Promise.all([1, 2, 3].map(() => zk.connect()));
    const waits = waiters.map((s) =>
      new Barrier(s, path).wait({ timeoutMs: 20_000 }).then(() => {
        passed.push(Date.now());
      }),
    );
    // A later request on each session is answered after its wait's first read: all are watching.
    await Promise.all(waiters.map((s) => s.exists('/')));
    expect(passed).toHaveLength(0);
    removedAt = Date.now();
    await new Barrier(owner, path).remove();
    await Promise.all(waits);
    expect(passed).toHaveLength(3);
    for (const t of passed) expect(t).toBeGreaterThanOrEqual(removedAt);
  });

  it('passes at once when the barrier is not set; set and remove are idempotent', async () => {
    const s = await zk.connect();
    const b = new Barrier(s, uniquePath('barrier'));
    await b.wait({ timeoutMs: 5000 });
    await b.set();
    await b.set();
    await b.remove();
    await b.remove();
    expect(await b.isSet()).toBe(false);
  });

  it('times out, aborts, and honours an already-aborted signal', async () => {
    const s = await zk.connect();
    const b = new Barrier(s, uniquePath('barrier'));
    await b.set();
    await expect(b.wait({ timeoutMs: 150 })).rejects.toBeInstanceOf(TimeoutError);
    const ctl = new AbortController();
    const p = b.wait({ signal: ctl.signal });
    ctl.abort();
    await expect(p).rejects.toBeInstanceOf(AbortedError);
    await expect(b.wait({ signal: AbortSignal.abort() })).rejects.toBeInstanceOf(AbortedError);
    await b.remove();
  });

  it('keeps waiting across a session expiry, and passes when the barrier goes', async () => {
    const path = uniquePath('barrier');
    const owner = await zk.connect();
    const waiter = await zk.connect({ sessionTimeoutMs: 2000 });
    const b = new Barrier(owner, path);
    await b.set();
    let passed = false;
    const p = new Barrier(waiter, path).wait({ timeoutMs: 30_000 }).then(() => {
      passed = true;
    });
    const reconnected = new Promise((r) => waiter.once('reconnected', r));
    await expireSession(waiter);
    await reconnected;
    expect(passed).toBe(false);
    expect(await b.isSet()).toBe(true);
    await b.remove();
    await p;
    expect(passed).toBe(true);
  });

  it('ends a wait with ClosedError when the session closes', async () => {
    const s = await zk.connect();
    const b = new Barrier(s, uniquePath('barrier'));
    await b.set();
    const p = b.wait();
    await s.exists('/');
    const rejected = expect(p).rejects.toBeInstanceOf(ClosedError); // handled before close() settles it
    await s.close();
    await rejected;
  });

  it('rejects bad input before anything is written', async () => {
    const s = await zk.connect();
    expect(() => new Barrier(s, 'relative')).toThrow(InvalidPathError);
    expect(() => new Barrier(s, '/zookeeper/x')).toThrow(InvalidPathError);
    await expect(new Barrier(s, '/b').wait({ timeoutMs: -1 })).rejects.toBeInstanceOf(InvalidArgumentError);
  });
});
