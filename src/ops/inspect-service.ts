/**
 * The inspector's view of a service discovery service (`<basePath>/<name>`, one node per
 * instance holding Curator's JSON): each instance's address, ports, type, session and ages. A node
 * counts as an instance only when its data reads as one (recipes/service-instance.ts
 * `parseInstance`) and its name is the instance's id (plus the 10 sequence digits of a
 * `DYNAMIC_SEQUENTIAL` node), so a group whose members hold JSON is not mistaken for one.
 * @internal
 * @module
 */
import { SEQUENCE_DIGITS, sequenceSuffix } from '../../recipes/layout.js';
import { buildUriSpec, parseInstance, type ServiceInstance } from '../../recipes/service-instance.js';
import { byName, type Reader } from './inspect-read.js';
import type { Inspection, InspectionBase, NodeView, ServiceInstanceView } from './inspect-types.js';

/** Whether `nodeName` is the node Curator's layout gives instance `i`. */
function isInstanceNode(i: ServiceInstance, nodeName: string): boolean {
  if (i.id === nodeName) return true;
  return (
    i.serviceType === 'DYNAMIC_SEQUENTIAL'
    && nodeName.length === i.id.length + SEQUENCE_DIGITS
    && nodeName.startsWith(i.id)
    && sequenceSuffix(nodeName) !== undefined
  );
}

function instanceView(n: NodeView, i: ServiceInstance): ServiceInstanceView {
  let uri: string | undefined;
  try {
    uri = i.uriSpec ? buildUriSpec(i.uriSpec, i) : undefined;
  } catch {
    uri = undefined;
  }
  return {
    ...n,
    id: i.id,
    address: i.address,
    port: i.port,
    sslPort: i.sslPort,
    serviceType: i.serviceType,
    enabled: i.enabled,
    registeredAt: new Date(i.registrationTimeUTC),
    uri,
  };
}

/** The instances of one service, or undefined when the nodes are not (all) service instances. */
export function readInstances(r: Reader, nodes: readonly NodeView[]): { name: string; instances: ServiceInstanceView[] } | undefined {
  if (nodes.length === 0) return undefined;
  let name: string | undefined;
  const instances: ServiceInstanceView[] = [];
  for (const n of nodes) {
    const data = r.dataOf(n);
    let i: ServiceInstance;
    try {
      i = parseInstance(data ?? Buffer.alloc(0), n.path);
    } catch {
      return undefined;
    }
    if (!data || i.name === '' || !isInstanceNode(i, n.name) || (name !== undefined && i.name !== name)) return undefined;
    name = i.name;
    instances.push(instanceView(n, i));
  }
  return { name: name!, instances: instances.sort(byName) };
}

function serviceHints(instances: readonly ServiceInstanceView[]): string[] {
  const hints: string[] = [];
  for (const i of instances) {
    if (i.sessionConnected === false)
      hints.push(
        `instance ${i.id}'s session ${i.sessionId} is not connected to any server: its process is dead or cut off, yet providers hand it out until the session expires.`,
      );
  }
  const byAddress = new Map<string, string[]>();
  for (const i of instances) {
    if (i.address === null || (i.port === null && i.sslPort === null)) continue;
    const key = `${i.address}:${i.port ?? i.sslPort}`;
    byAddress.set(key, [...(byAddress.get(key) ?? []), i.id]);
  }
  for (const [addr, ids] of byAddress) {
    if (ids.length > 1)
      hints.push(
        `instances ${ids.join(', ')} all claim ${addr}: a restarted process registered again under a new id while its old registration lingers (an old session not expired yet, or a persistent STATIC/PERMANENT node).`,
      );
  }
  const enabled = instances.filter((i) => i.enabled).length;
  if (enabled === 0) hints.push('every instance is disabled: providers return none.');
  return hints;
}

/** A service at `base.path` whose instances are `read`. */
export function serviceInspection(base: InspectionBase, read: { name: string; instances: ServiceInstanceView[] }): Inspection {
  return { ...base, kind: 'service', name: read.name, instances: read.instances, hints: serviceHints(read.instances) };
}
