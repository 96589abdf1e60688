/**
 * Rendering of inspections for a person on call: what the recipe is, who holds or leads, how
 * long each has been in line and how long it has held (as far as that is known), with which
 * session, how many wait, then the hints. Every age says what it counts.
 * @module
 */
import type {
  HoldTime,
  Inspection,
  NodeView,
  QueueInspection,
  SchedulerInspection,
  ServiceInspection,
  SubtreeSummary,
  TreeInspection,
} from './inspect-types.js';

/** Human-friendly duration: `850 ms`, `12 s`, `3 m 12 s`, `3 h 12 m`, `2 d 3 h`. */
export function formatAge(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} m ${s % 60} s`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} m`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}

const iso = (d: Date) => d.toISOString();

function sessionOf(n: NodeView): string {
  if (!n.sessionId) return 'PERSISTENT (no session)';
  return `session ${n.sessionId}${n.sessionConnected === false ? ' (NOT CONNECTED)' : n.sessionConnected ? ' (connected)' : ''}`;
}

/** `for 12 s (since …)`, or nothing for a node without a creation time. */
function age(n: NodeView): string {
  return n.createdAt.getTime() === 0 ? '' : ` ${formatAge(n.ageMs)} (since ${iso(n.createdAt)})`;
}

/** How long a holder has held, saying how much of it is known. */
function formatHolding(h: HoldTime): string {
  if (h.known === 'exact') return `holding ${formatAge(h.maxMs)} (since it joined the line: no node left after it)`;
  if (h.known === 'bounded')
    return `holding between ${formatAge(h.minMs!)} and ${formatAge(h.maxMs)} (took over by ${iso(h.notAfter!)}; the moment is not recorded)`;
  return `holding for an unknown part of that, at most ${formatAge(h.maxMs)} (when it took over is not recorded)`;
}

/** One node: `#seq name`, then its session, how long it has been `what`, its hold, its data. */
function line(n: NodeView & { holding?: HoldTime | undefined }, what: string): string {
  const seq = n.sequence !== undefined ? `#${n.sequence} ` : '';
  const holding = n.holding ? `; ${formatHolding(n.holding)}` : '';
  const data = n.dataLength ? `  data ${JSON.stringify(n.data)}` : '';
  return `${seq}${n.name}\n      ${sessionOf(n)}, ${what}${age(n)}${holding}${data}`;
}

function list<T extends NodeView>(title: string, nodes: readonly T[], what: string | ((n: T) => string), limit = 20): string[] {
  const out = [`  ${title}: ${nodes.length}`];
  nodes.slice(0, limit).forEach((n, i) => {
    out.push(`    ${i + 1}. ${line(n, typeof what === 'string' ? what : what(n))}`);
  });
  if (nodes.length > limit) out.push(`    … and ${nodes.length - limit} more`);
  return out;
}

function queueLines(x: QueueInspection): string[] {
  const flavour = x.flavour === 'fifo' ? '' : ` (${x.flavour})`;
  const out = [
    `QUEUE${flavour}, depth ${x.depth}${x.buckets !== undefined ? ` in ${x.buckets} bucket(s)` : ''}${x.inFlight !== undefined ? `, ${x.inFlight} claimed by consumers` : ''}${x.poisoned ? `, ${x.poisoned} poisoned` : ''}`,
  ];
  const h = x.head;
  if (!h) return out;
  const extra = h.priority !== undefined ? `, priority ${h.priority}` : h.dueAt ? `, due ${iso(h.dueAt)}` : '';
  out.push(`  head: ${h.name}, ${h.dataLength} bytes${extra}, waiting ${formatAge(h.ageMs)} (since ${iso(h.createdAt)})`);
  out.push(`  names: ${x.protectedItems} protected (queue-…_c_<uuid>-<seq>), ${x.depth - x.protectedItems} plain; ordered by sequence either way`);
  return out;
}

function schedulerLines(x: SchedulerInspection): string[] {
  const out = [`SCHEDULER, ${x.workers.length} worker(s), ${x.tasks.total} task(s)`];
  out.push(x.leader ? `  dispatcher (leader): ${line(x.leader, 'in the election for')}` : '  dispatcher (leader): none');
  out.push(`  workers: ${x.workers.length}`);
  for (const w of x.workers) {
    const cap = `load ${w.load ?? '?'}/${w.capacity ?? '?'}${w.draining ? ', draining' : ''}${w.assigned !== undefined ? `, ${w.assigned} assigned` : ''}`;
    out.push(
      `    - ${w.name}: ${cap}, ${w.sessionId ?? 'no session'}${w.sessionConnected === false ? ' (NOT CONNECTED)' : ''}, registered ${formatAge(w.ageMs)} ago`,
    );
  }
  const states = Object.entries(x.tasks.byState)
    .sort()
    .map(([s, n]) => `${s} ${n}`)
    .join(', ');
  out.push(`  tasks: ${x.tasks.total}${states ? ` (${states})` : ''}`);
  if (x.schedules.length) out.push(`  schedules: ${x.schedules.length}`);
  const now = Date.now();
  for (const sc of x.schedules) {
    const when = sc.cron !== undefined ? `cron '${sc.cron}' (UTC)` : sc.everyMs !== undefined ? `every ${formatAge(sc.everyMs)}` : 'unreadable';
    const last = sc.lastFiredAt ? `last fired ${formatAge(now - sc.lastFiredAt.getTime())} ago` : 'not fired yet';
    const next = !sc.nextDueAt
      ? ''
      : sc.nextDueAt.getTime() >= now
        ? `, next in ${formatAge(sc.nextDueAt.getTime() - now)}`
        : `, next OVERDUE by ${formatAge(now - sc.nextDueAt.getTime())}`;
    out.push(`    - ${sc.id}: ${when}${sc.type ? `, type ${sc.type}` : ''}, ${last}${next}`);
  }
  return out;
}

function serviceLines(x: ServiceInspection): string[] {
  const enabled = x.instances.filter((i) => i.enabled).length;
  const out = [`SERVICE ${x.name}, ${x.instances.length} instance(s), ${enabled} enabled`];
  for (const i of x.instances) {
    const where = `${i.address ?? '?'}${i.port !== null ? `:${i.port}` : ''}${i.sslPort !== null ? ` (ssl ${i.sslPort})` : ''}`;
    const registered = i.registeredAt.getTime() > 0 ? `, registered ${iso(i.registeredAt)} (its own clock)` : '';
    out.push(`    - ${i.id}  ${where}  ${i.serviceType}${i.enabled ? '' : ', DISABLED'}${i.uri ? `  ${i.uri}` : ''}`);
    out.push(`      ${sessionOf(i)}, node up${age(i)}${registered}`);
  }
  return out;
}

function subtreeLine(s: SubtreeSummary): string {
  const count = `${s.complete ? '' : 'at least '}${s.nodes} node(s)`;
  const newest = s.newest ? `, latest change ${s.newest.path} at ${iso(s.newest.at)} (creations and data; deletions keep no time)` : '';
  return `  subtree: ${count}, ${s.depth} level(s) deep, ${s.bytes} bytes, ${s.ephemeral} ephemeral${newest}${s.complete ? '' : ' (walk stopped at maxNodes)'}`;
}

function treeLines(x: TreeInspection): string[] {
  const out = [
    `no recipe recognised; ${x.node.sessionId ? `ephemeral node of ${x.node.sessionId}` : 'node'}, ${x.node.dataLength} bytes, ${x.totalChildren} child(ren)`,
  ];
  if (x.node.dataLength) out.push(`  data: ${JSON.stringify(x.node.data)}`);
  out.push(subtreeLine(x.subtree));
  for (const c of x.children)
    out.push(
      `    - ${c.name}  ${c.sessionId ? `ephemeral ${c.sessionId}` : 'persistent'}, ${c.dataLength} bytes, age ${c.createdAt.getTime() === 0 ? '-' : formatAge(c.ageMs)}`,
    );
  if (x.totalChildren > x.children.length) out.push(`    … and ${x.totalChildren - x.children.length} more`);
  return out;
}

/** The lines of one inspection, its head line first (without the path). */
function body(x: Inspection): string[] {
  switch (x.kind) {
    case 'missing':
      return ['(no such node)'];
    case 'lock':
      return [
        `LOCK, ${x.holder ? 'HELD' : 'free'}, ${x.waiters.length} waiting`,
        x.holder ? `  holder: ${line(x.holder, 'in line for')}` : '  holder: none',
        ...(x.waiters.length ? list('waiters', x.waiters, 'in line for') : []),
      ];
    case 'rwlock':
      return [
        `READ-WRITE LOCK, ${x.holders.length ? `held for ${x.holders[0]!.mode}` : 'free'}, ${x.waiters.length} waiting`,
        ...list('holders', x.holders, 'in line for'),
        ...(x.waiters.length ? list('waiters', x.waiters, 'in line for') : []),
      ];
    case 'leader-latch':
      return [
        `LEADER LATCH, ${x.participants.length} participant(s)`,
        x.leader ? `  leader: ${line(x.leader, 'in the election for')}` : '  leader: none',
        ...list('participants (leader first)', x.participants, 'in the election for'),
      ];
    case 'semaphore':
      return [
        `SEMAPHORE, ${x.leases.length - (x.pendingLease ? 1 : 0)} lease(s) held, ${x.waiters.length} in the acquire line`,
        ...list('lease nodes', x.leases, (n) => (n === x.pendingLease ? 'WAITING for a free lease, in line for' : 'in line for')),
        ...(x.waiters.length ? list('in line (locks/; the first is placing its lease)', x.waiters, 'in line for') : []),
      ];
    case 'queue':
      return queueLines(x);
    case 'group':
      return [`GROUP, ${x.members.length} member(s)`, ...list('members', x.members, 'member for', 100)];
    case 'service':
      return serviceLines(x);
    case 'scheduler':
      return schedulerLines(x);
    case 'double-barrier':
      return [`DOUBLE BARRIER, ready (open), ${x.participants.length} participant(s) inside`, ...list('participants', x.participants, 'inside for')];
    case 'tree':
      return treeLines(x);
  }
}

/**
 * Renders an {@link Inspection} for a person: what the recipe is, who holds or leads, how long
 * each has been in line and how long it has held (as far as that is known), with which session,
 * how many wait, then the hints.
 */
export function formatInspection(x: Inspection): string {
  const [head, ...rest] = body(x);
  const out = [`${x.path}: ${head}`, ...rest];
  if (x.hints.length) {
    out.push('  hints:');
    for (const h of x.hints) out.push(`    ! ${h}`);
  }
  return out.join('\n');
}
