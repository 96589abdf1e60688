/**
 * Creating nodes: the mode, TTL and ACL of the create, missing parents (containers unless asked
 * otherwise), protected creates, and the cleanup after an aborted protected create.
 *
 * Protected create (Curator's `withProtection`): the node's name carries a `_c_<uuid>-` marker,
 * first (`protected: true`, as Curator's locks and latches name their nodes) or right before the
 * server's sequence number (`'beforeSequence'`, for queue items that keep Curator's `queue-`
 * prefix). After a connection loss the outcome of a create is unknown: retrying blindly could
 * make a second node (for a sequential one, a second lock contender nobody will ever delete).
 * So each retry first looks among the parent's children for the marker, after a `sync` (the
 * server this session reconnected to may not have applied yet a create the leader committed
 * from the old connection), and adopts the node it finds (an ephemeral one only if this session
 * owns it).
 *
 * Aborted protected create: once a create request went out, an abort ends the call but cannot
 * stop the server from applying the request. The cleanup goes to the session's background
 * tasks, as a guaranteed delete does: wait for the request on the wire to settle; if its late
 * reply names a node, delete it; if some attempt's outcome is unknown (it failed with a
 * connection loss), look for the marker once connected (sync, list) and delete what has it.
 * The marker is unique to the call, so nothing else is touched.
 * @internal
 * @module
 */
import { randomUUID } from 'node:crypto';
import createDebug from 'debug';
import { CreateFlag as Z } from './client/records.js';
import { InvalidArgumentError, NoNodeError, NodeExistsError, isRetryable } from './errors.js';
import { joinPath, nodeName, parentOf } from './paths.js';
import { callSignal, throwIfAborted } from './session-abort.js';
import type { SessionCore } from './session-calls.js';
import type { BackgroundTasks } from './session-delete.js';
import { EMPTY, checkCreate, toData, wireAcl, type CreateSpec } from './session-options.js';
import { Acls, type Acl, type CreateMode, type CreateOptions, type NodeData, type Stat } from './session-types.js';

const log = createDebug('zk-recipes:session');

/** The start of a protected create's marker (`_c_<uuid>-`), as Curator writes it. */
export const PROTECTED_PREFIX = '_c_';

/** A created node: its path (namespace removed) and its stat when the create's reply carried it. */
export interface Created {
  /** The created path. */
  path: string;
  /** The new node's stat, if known. */
  stat: Stat | undefined;
}

/** A create, checked. */
interface CreateRequest {
  /** The caller's path. */
  path: string;
  /** The path sent: the caller's, with the marker for a protected create. */
  target: string;
  /** For a protected create: the start of the node's name, marker included. */
  prefix: string | undefined;
  mode: CreateMode;
  bytes: Uint8Array;
  spec: CreateSpec;
  options: CreateOptions;
  signal: AbortSignal | undefined;
}

/**
 * `ZkSession.create` and `createWithStat` (`withStat`: read the stat with `exists` when the
 * reply had none). Every argument is checked, and an aborted signal honoured, before anything is
 * sent.
 */
export async function createNode(
  core: SessionCore,
  background: BackgroundTasks,
  path: string,
  data: NodeData | undefined,
  options: CreateOptions = {},
  withStat = false,
): Promise<Created> {
  const req = checkRequest(core, path, data, options);
  throwIfAborted(req.signal, 'create', path);
  const call = new CreateCall(core, req);
  try {
    return await call.run(withStat);
  } catch (err) {
    if (req.prefix && req.signal?.aborted) call.cleanUp(background);
    throw err;
  }
}

function checkRequest(core: SessionCore, path: string, data: NodeData | undefined, options: CreateOptions): CreateRequest {
  const signal = callSignal(options, 'create', path);
  const mode = options.mode ?? 'persistent';
  const spec = checkCreate(options, path, `create ${path}`, 'create', { op: 'create', path }, core.opts.defaultAcl);
  const bytes = toData(data, 'create', path);
  const p = options.protected;
  if (p !== undefined && typeof p !== 'boolean' && p !== 'beforeSequence') {
    throw new InvalidArgumentError(`create ${path}: option protected must be a boolean or 'beforeSequence', got ${JSON.stringify(p)}`, { op: 'create', path });
  }
  if (!p) return { path, target: path, prefix: undefined, mode, bytes, spec, options, signal };
  const marker = `${PROTECTED_PREFIX}${randomUUID()}-`;
  const prefix = p === 'beforeSequence' ? nodeName(path) + marker : marker;
  const target = joinPath(parentOf(path), p === 'beforeSequence' ? prefix : prefix + nodeName(path));
  return { path, target, prefix, mode, bytes, spec, options, signal };
}

/** One create call: its attempts, and what went out, for the cleanup after an abort. */
class CreateCall {
  /** The last create request handed to the transport. */
  private sent: Promise<{ path: string }> | undefined;
  /** Some create request failed with a connection loss: it may have been applied. */
  private unknown = false;

  constructor(
    private readonly core: SessionCore,
    private readonly req: CreateRequest,
  ) {}

  async run(withStat: boolean): Promise<Created> {
    const created = await this.create();
    if (!withStat || created.stat) return created;
    const { path, signal } = this.req;
    const stat = await this.core.exists(created.path, { signal });
    if (!stat) throw new NoNodeError(`create ${path}: node ${created.path} vanished right after its create`, { op: 'create', path });
    return { path: created.path, stat };
  }

  /** Hands the removal of whatever the sent requests created to the background. */
  cleanUp(background: BackgroundTasks): void {
    const sent = this.sent;
    const { core, req } = this;
    if (!sent || !req.prefix) return;
    const prefix = req.prefix;
    const late = sent.then(
      (c) => core.calls.strip(c.path),
      () => undefined,
    );
    background.run(`protected ${req.target}`, `removal of the aborted protected create ${req.target}`, async () => {
      const doomed = new Set<string>();
      const name = await late;
      if (name) doomed.add(name);
      if (this.unknown) for (const p of await markedChildren(core, parentOf(req.path), prefix, undefined)) doomed.add(p);
      for (const p of doomed) await deleteIfThere(core, p);
    });
  }

  /**
   * The first attempt, then the retries. Through the session's `retrying` from the start: asked
   * while disconnected, the first attempt waits for the connection in line with the calls asked
   * before and after it (failing at once and only then queueing, it went out behind a read asked
   * after it — a queue consumer's claim then came after its read, and an item ran twice).
   */
  private create(): Promise<Created> {
    let first = true;
    return this.core.calls.retrying(
      'create',
      this.req.path,
      () => {
        if (!first) return this.retry(); // the create may have happened: a protected one looks for its node first
        first = false;
        return this.once();
      },
      this.req.signal,
    );
  }

  private async retry(): Promise<Created> {
    const { core, req } = this;
    if (req.prefix) {
      const mine = await findProtected(core, parentOf(req.path), req.prefix, req.mode, req.signal);
      if (mine) return { path: mine, stat: undefined };
    }
    return this.once();
  }

  /** One create (after the missing parents, if asked for); the ACL set after it if the transport cannot at create. */
  private async once(): Promise<Created> {
    const { core, req } = this;
    const full = core.calls.full(req.target);
    const { flags, ttl, acl } = req.spec;
    const send = () => core.call('create', req.target, (t) => this.track(t.create(full, req.bytes, { acl: wireAcl(acl), flags, ttl })), req.signal);
    let created: { path: string; stat?: Stat | undefined };
    try {
      created = await send();
    } catch (err) {
      if (!(err instanceof NoNodeError) || !req.options.createParents) throw err;
      await mkdirs(core, parentOf(req.target), req.options.parentMode ?? 'container', acl, req.signal);
      created = await send();
    }
    const path = core.calls.strip(created.path);
    await setAclAfter(core, path, acl, req.signal);
    return { path, stat: created.stat };
  }

  private track<T extends { path: string }>(p: Promise<T>): Promise<T> {
    this.sent = p;
    p.catch((err: unknown) => {
      if (isRetryable(err)) this.unknown = true;
    });
    return p;
  }
}

/** Sets the ACL right after a create, on a transport that cannot send it with the create. */
async function setAclAfter(core: SessionCore, path: string, acl: readonly Acl[] | undefined, signal: AbortSignal | undefined): Promise<void> {
  if (!core.aclAtCreate && acl && acl !== Acls.OPEN) await core.setAcl(path, acl, { signal });
}

/** Creates `path` and its missing ancestors (containers by default). Existing nodes are kept. */
export async function mkdirs(
  core: SessionCore,
  path: string,
  mode: 'container' | 'persistent',
  acl: readonly Acl[] | undefined,
  signal?: AbortSignal,
): Promise<void> {
  if (path === '/' && !core.opts.namespace) return;
  const full = core.calls.full(path);
  const flags = mode === 'container' ? Z.container : Z.persistent;
  try {
    await core.calls.retrying('create', path, () => core.call('create', path, (t) => t.create(full, EMPTY, { acl: wireAcl(acl), flags }), signal), signal);
    await setAclAfter(core, path, acl, signal);
  } catch (err) {
    if (err instanceof NodeExistsError) return;
    if (!(err instanceof NoNodeError) || path === '/') throw err;
    await mkdirs(core, parentOf(path), mode, acl, signal);
    await mkdirs(core, path, mode, acl, signal);
  }
}

/**
 * Finds a protected node by the start of its name; ephemerals only if owned by this session.
 * The `sync` first: the server this session reconnected to may not have applied yet a create the
 * leader committed from the old connection (a paused leader does this), and listing without it
 * would miss the node and create a second one.
 */
async function findProtected(
  core: SessionCore,
  parent: string,
  prefix: string,
  mode: CreateMode,
  signal: AbortSignal | undefined,
): Promise<string | undefined> {
  const found = (await markedChildren(core, parent, prefix, signal))[0];
  if (!found) return undefined;
  if (mode === 'ephemeral' || mode === 'ephemeral_sequential') {
    const stat = await core.exists(found, { signal });
    if (!stat || stat.ephemeralOwner !== core.sessionId) return undefined;
  }
  log('protected create: adopted %s after connection loss', found);
  return found;
}

/** The paths of `parent`'s children whose names start with `prefix`, after a `sync`. */
async function markedChildren(core: SessionCore, parent: string, prefix: string, signal: AbortSignal | undefined): Promise<string[]> {
  let children: string[];
  try {
    await core.sync(parent, { signal });
    children = await core.getChildren(parent, { signal });
  } catch (err) {
    if (err instanceof NoNodeError) return [];
    throw err;
  }
  return children.filter((c) => c.startsWith(prefix)).map((c) => joinPath(parent, c));
}

async function deleteIfThere(core: SessionCore, path: string): Promise<void> {
  const full = core.calls.full(path);
  await core
    .call('delete', path, (t) => t.delete(full, -1))
    .catch((err: unknown) => {
      if (!(err instanceof NoNodeError)) throw err;
    });
  log('removed %s, created by an aborted protected create', path);
}
