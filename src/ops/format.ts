/**
 * Rendering of inspections for a person on call: what the recipe is, who holds or leads and
 * since when, with which session, how many wait, then the hints.
 * @module
 */
import type { Inspection, NodeView } from './inspect.js';

/** Human-friendly duration: `850 ms`, `12 s`, `3 m 12 s`, `3 h 12 m`, `2 d 3 h`. */
export function formatAge(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} m ${s % 60} s`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} m`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}

function since(n: NodeView): string {
  return n.createdAt.getTime() === 0 ? '' : ` (since ${n.createdAt.toISOString()})`;
}

function line(n: NodeView, what: string): string {
  const session = n.sessionId ? `session ${n.sessionId}${n.sessionConnected === false ? ' (NOT CONNECTED)' : n.sessionConnected ? ' (connected)' : ''}` : 'PERSISTENT (no session)';
  const seq = n.sequence !== undefined ? `#${n.sequence} ` : '';
  const data = n.dataLength ? `  data ${JSON.stringify(n.data)}` : '';
  return `${seq}${n.name}\n      ${session}, ${what} ${formatAge(n.ageMs)}${since(n)}${data}`;
}

function list(title: string, nodes: readonly NodeView[], what: string | ((n: NodeView) => string), limit = 20): string[] {
  const out = [`  ${title}: ${nodes.length}`];
  nodes.slice(0, limit).forEach((n, i) => out.push(`    ${i + 1}. ${line(n, typeof what === 'string' ? what : what(n))}`));
  if (nodes.length > limit) out.push(`    … and ${nodes.length - limit} more`);
  return out;
}

/**
 * Renders an {@link Inspection} for a person: what the recipe is, who holds or leads and since
 * when, with which session, how many wait, then the hints.
 */
export function formatInspection(x: Inspection): string {
  const out: string[] = [];
  const head = (what: string) => out.push(`${x.path}: ${what}`);
  switch (x.kind) {
    case 'missing': head('(no such node)'); break;
    case 'lock':
      head(`LOCK, ${x.holder ? 'HELD' : 'free'}, ${x.waiters.length} waiting`);
      out.push(x.holder ? `  holder: ${line(x.holder, 'held')}` : '  holder: none');
      if (x.waiters.length) out.push(...list('waiters', x.waiters, 'waiting'));
      break;
    case 'rwlock':
      head(`READ-WRITE LOCK, ${x.holders.length ? `held for ${x.holders[0]!.mode}` : 'free'}, ${x.waiters.length} waiting`);
      out.push(...list('holders', x.holders, 'held'));
      if (x.waiters.length) out.push(...list('waiters', x.waiters, 'waiting'));
      break;
    case 'leader-latch':
      head(`LEADER LATCH, ${x.participants.length} participant(s)`);
      out.push(x.leader ? `  leader: ${line(x.leader, 'participating')}` : '  leader: none');
      out.push(...list('participants (leader first)', x.participants, 'participating'));
      break;
    case 'semaphore':
      head(`SEMAPHORE, ${x.leases.length - (x.pendingLease ? 1 : 0)} lease(s) held, ${x.waiters.length} in the acquire line`);
      out.push(...list('lease nodes', x.leases, (n) => (n === x.pendingLease ? 'WAITING for a free lease,' : 'held')));
      if (x.waiters.length) out.push(...list('in line (locks/; the first is placing its lease)', x.waiters, 'waiting'));
      break;
    case 'queue':
      head(`QUEUE, depth ${x.depth}${x.inFlight !== undefined ? `, ${x.inFlight} claimed by consumers` : ''}${x.poisoned ? `, ${x.poisoned} poisoned` : ''}`);
      if (x.head) out.push(`  head: ${x.head.name}, ${x.head.dataLength} bytes, waiting ${formatAge(x.head.ageMs)} (since ${x.head.createdAt.toISOString()})`);
      break;
    case 'group':
      head(`GROUP, ${x.members.length} member(s)`);
      out.push(...list('members', x.members, 'member for', 100));
      break;
    case 'scheduler': {
      head(`SCHEDULER, ${x.workers.length} worker(s), ${x.tasks.total} task(s)`);
      out.push(x.leader ? `  dispatcher (leader): ${line(x.leader, 'leading')}` : '  dispatcher (leader): none');
      out.push(`  workers: ${x.workers.length}`);
      for (const w of x.workers) {
        const cap = `load ${w.load ?? '?'}/${w.capacity ?? '?'}${w.draining ? ', draining' : ''}${w.assigned !== undefined ? `, ${w.assigned} assigned` : ''}`;
        out.push(`    - ${w.name}: ${cap}, ${w.sessionId ?? 'no session'}${w.sessionConnected === false ? ' (NOT CONNECTED)' : ''}, up ${formatAge(w.ageMs)}`);
      }
      const states = Object.entries(x.tasks.byState).sort().map(([s, n]) => `${s} ${n}`).join(', ');
      out.push(`  tasks: ${x.tasks.total}${states ? ` (${states})` : ''}`);
      if (x.schedules.length) out.push(`  schedules: ${x.schedules.length}`);
      for (const sc of x.schedules) {
        const now = Date.now();
        const when = sc.cron !== undefined ? `cron '${sc.cron}' (UTC)` : sc.everyMs !== undefined ? `every ${formatAge(sc.everyMs)}` : 'unreadable';
        const last = sc.lastFiredAt ? `last fired ${formatAge(now - sc.lastFiredAt.getTime())} ago` : 'not fired yet';
        const next = !sc.nextDueAt ? '' : sc.nextDueAt.getTime() >= now ? `, next in ${formatAge(sc.nextDueAt.getTime() - now)}` : `, next OVERDUE by ${formatAge(now - sc.nextDueAt.getTime())}`;
        out.push(`    - ${sc.id}: ${when}${sc.type ? `, type ${sc.type}` : ''}, ${last}${next}`);
      }
      break;
    }
    case 'double-barrier':
      head(`DOUBLE BARRIER, ready (open), ${x.participants.length} participant(s) inside`);
      out.push(...list('participants', x.participants, 'entered'));
      break;
    case 'tree':
      head(`no recipe recognised; ${x.node.sessionId ? `ephemeral node of ${x.node.sessionId}` : 'node'}, ${x.node.dataLength} bytes, ${x.totalChildren} child(ren)`);
      if (x.node.dataLength) out.push(`  data: ${JSON.stringify(x.node.data)}`);
      for (const c of x.children) out.push(`    - ${c.name}  ${c.sessionId ? `ephemeral ${c.sessionId}` : 'persistent'}, ${c.dataLength} bytes, age ${c.createdAt.getTime() === 0 ? '-' : formatAge(c.ageMs)}`);
      if (x.totalChildren > x.children.length) out.push(`    … and ${x.totalChildren - x.children.length} more`);
      break;
  }
  if (x.hints.length) {
    out.push('  hints:');
    for (const h of x.hints) out.push(`    ! ${h}`);
  }
  return out.join('\n');
}
