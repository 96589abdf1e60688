/**
 * Service instances as Curator's service discovery (`curator-x-discovery` 5.4) stores them: the
 * plain-object {@link ServiceInstance}, its checks, its JSON (Curator's `JsonInstanceSerializer`,
 * byte for byte) and Curator's `UriSpec`.
 *
 * JSON: the fields in Curator's order — `name`, `id`, `address`, `port`, `sslPort`, `payload`,
 * `registrationTimeUTC`, `serviceType`, `uriSpec` — with `null` for what is unset. Curator's default
 * serializer (`compatibleSerializationMode`) leaves `enabled` out and readers take it as `true`; a
 * disabled instance gets `"enabled":false` at the end, as Curator's full mode writes it, so it is not
 * silently enabled again. Readers ignore unknown fields and take Jackson's defaults for missing ones.
 *
 * Payload: Curator's `getPayload()` carries `@JsonTypeInfo(use = CLASS)`, so Jackson writes the
 * payload's Java class beside it: an object as `{"@class":"java.util.LinkedHashMap",...}`, an array
 * as `["java.util.ArrayList",[...]]`, while strings, numbers, booleans and null go bare. Here the
 * payload is any JSON value; the class goes to `payloadClass` (read back from what Curator wrote;
 * unset, objects and arrays are written as `LinkedHashMap` / `ArrayList`, and read back so). A Java service built
 * with `ServiceDiscoveryBuilder.builder(Map.class)` reads our object payloads,
 * `builder(String.class)` our string payloads, `builder(Object.class)` any of them; for a Java
 * payload class of its own (a POJO), set `payloadClass` to its name and give the payload its fields.
 * @module
 */
import { randomUUID } from 'node:crypto';
import { InvalidArgumentError } from '../src/errors.js';
import { validatePath } from '../src/paths.js';

/** A JSON value: what a payload can be. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/**
 * Curator's `ServiceType`. `DYNAMIC` (the default): an ephemeral node, gone with the session and
 * re-created after a new one. `DYNAMIC_SEQUENTIAL`: ephemeral-sequential, the node is named
 * `<id><10 digits>`. `STATIC` and `PERMANENT`: a persistent node, until unregistered.
 */
export type ServiceType = 'DYNAMIC' | 'STATIC' | 'PERMANENT' | 'DYNAMIC_SEQUENTIAL';

/** Every {@link ServiceType}. */
export const SERVICE_TYPES: readonly ServiceType[] = ['DYNAMIC', 'STATIC', 'PERMANENT', 'DYNAMIC_SEQUENTIAL'];

/** One token of a {@link UriSpec}: literal text, or the name of a field to substitute. */
export interface UriSpecPart {
  /** The literal text, or the field's name. */
  value: string;
  /** True for a replacement field (`{name}` in the raw spec). */
  variable: boolean;
}

/** Curator's `UriSpec` as it is stored: `{"parts":[{"value":..,"variable":..}]}`. Make one with {@link uriSpec}. */
export interface UriSpec {
  /** The tokens in order. */
  parts: UriSpecPart[];
}

/** One instance of a service (Curator's `ServiceInstance`), as a plain object. Make one with {@link serviceInstance}. */
export interface ServiceInstance {
  /** The service's name: the node under the base path. */
  name: string;
  /** This instance's id, unique within the service: its node's name. */
  id: string;
  /** Host name or IP address, or null. */
  address: string | null;
  /** Port, or null. */
  port: number | null;
  /** TLS port, or null. */
  sslPort: number | null;
  /** Any JSON value (see the module docs for Java readers). */
  payload: JsonValue;
  /** The Java class Jackson names beside the payload (`@class`), when there is one. */
  payloadClass?: string | undefined;
  /** When it was registered, in ms since the epoch. */
  registrationTimeUTC: number;
  /** How its node lives. */
  serviceType: ServiceType;
  /** How to build its URI, or null. */
  uriSpec: UriSpec | null;
  /** False takes it out of providers' choices. Curator readers take a missing field as true. */
  enabled: boolean;
}

/** What {@link serviceInstance} takes: `name` and whatever differs from the defaults. */
export interface ServiceInstanceInit {
  /** The service's name. */
  name: string;
  /** @default a random UUID (as Curator's builder) */
  id?: string;
  /** @default null */
  address?: string | null;
  /** @default null */
  port?: number | null;
  /** @default null */
  sslPort?: number | null;
  /** @default null */
  payload?: JsonValue;
  /** @default unset: `java.util.LinkedHashMap` / `java.util.ArrayList` for objects / arrays */
  payloadClass?: string;
  /** @default `Date.now()` */
  registrationTimeUTC?: number;
  /** @default 'DYNAMIC' */
  serviceType?: ServiceType;
  /** A parsed spec, or a raw one such as `'{scheme}://{address}:{port}'`. @default null */
  uriSpec?: UriSpec | string | null;
  /** @default true */
  enabled?: boolean;
}

const FIELDS = ['name', 'id', 'address', 'port', 'sslPort', 'payload', 'payloadClass', 'registrationTimeUTC', 'serviceType', 'uriSpec', 'enabled'];
const JAVA_CLASS = /^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*$/;
const MAX_DEPTH = 64;

/**
 * A checked service instance with the defaults filled in (a new `id` and `registrationTimeUTC`).
 * @throws InvalidArgumentError naming the bad field
 */
export function serviceInstance(init: ServiceInstanceInit): ServiceInstance {
  const op = 'serviceInstance';
  if (init === null || typeof init !== 'object')
    throw new InvalidArgumentError(`${op}: expected { name, ... }, got ${init === null ? 'null' : typeof init}`, { op });
  const raw = init.uriSpec;
  const instance = {
    name: init.name,
    id: init.id ?? randomUUID(),
    address: init.address ?? null,
    port: init.port ?? null,
    sslPort: init.sslPort ?? null,
    payload: init.payload === undefined ? null : init.payload,
    payloadClass: init.payloadClass,
    registrationTimeUTC: init.registrationTimeUTC ?? Date.now(),
    serviceType: init.serviceType ?? 'DYNAMIC',
    uriSpec: typeof raw === 'string' ? uriSpec(raw) : (raw ?? null),
    enabled: init.enabled ?? true,
  };
  for (const k of Object.keys(init)) if (!FIELDS.includes(k)) throw new InvalidArgumentError(`${op}: unknown field ${k}`, { op });
  return checkServiceInstance(instance, op);
}

/**
 * Checks an instance about to be written and returns a copy (later changes to the caller's object
 * do not reach the registration).
 * @throws InvalidArgumentError naming the bad field
 */
export function checkServiceInstance(instance: unknown, op: string): ServiceInstance {
  const bad = (why: string): never => {
    throw new InvalidArgumentError(`${op}: ${why}`, { op });
  };
  if (instance === null || typeof instance !== 'object') return bad(`expected a service instance, got ${instance === null ? 'null' : typeof instance}`);
  const i = instance as Record<string, unknown>;
  for (const k of Object.keys(i)) if (!FIELDS.includes(k)) bad(`unknown field ${k}`);
  checkNodeName(i['name'], 'name', op);
  checkNodeName(i['id'], 'id', op);
  if (i['address'] !== null && (typeof i['address'] !== 'string' || i['address'] === ''))
    bad(`address must be a non-empty string or null, got ${show(i['address'])}`);
  for (const k of ['port', 'sslPort']) {
    const p = i[k];
    if (p !== null && (typeof p !== 'number' || !Number.isInteger(p) || p < 1 || p > 65535)) bad(`${k} must be an integer 1..65535 or null, got ${show(p)}`);
  }
  checkJson(i['payload'], 'payload', 0, new Set(), bad);
  const cls = i['payloadClass'];
  if (cls !== undefined && (typeof cls !== 'string' || !JAVA_CLASS.test(cls))) bad(`payloadClass must be a Java class name, got ${show(cls)}`);
  const p = i['payload'];
  if (p !== null && typeof p === 'object' && !Array.isArray(p) && Object.hasOwn(p, '@class'))
    bad('payload must not have an "@class" key: set payloadClass instead');
  const t = i['registrationTimeUTC'];
  if (typeof t !== 'number' || !Number.isSafeInteger(t) || t < 0) bad(`registrationTimeUTC must be an integer >= 0 (ms since the epoch), got ${show(t)}`);
  if (!SERVICE_TYPES.includes(i['serviceType'] as ServiceType)) bad(`serviceType must be one of ${SERVICE_TYPES.join(', ')}, got ${show(i['serviceType'])}`);
  if (i['uriSpec'] !== null && !isUriSpec(i['uriSpec']))
    bad('uriSpec must be null or { parts: [{ value: string, variable: boolean }] } (make one with uriSpec())');
  if (typeof i['enabled'] !== 'boolean') bad(`enabled must be a boolean, got ${show(i['enabled'])}`);
  const copy = structuredClone(i) as unknown as ServiceInstance;
  if (copy.payloadClass === undefined) delete copy.payloadClass;
  return copy;
}

/** Checks a name that becomes a node name (a service name or an instance id). */
export function checkNodeName(v: unknown, what: string, op: string): asserts v is string {
  if (typeof v !== 'string' || v.length === 0) throw new InvalidArgumentError(`${op}: ${what} must be a non-empty string, got ${show(v)}`, { op });
  if (v.includes('/') || v === '.' || v === '..')
    throw new InvalidArgumentError(`${op}: ${what} ${JSON.stringify(v)} is not a node name (no "/", not "." or "..")`, { op });
  try {
    validatePath(`/${v}`, op);
  } catch (err) {
    throw new InvalidArgumentError(`${op}: ${what} ${JSON.stringify(v)} is not a valid node name: ${(err as Error).message}`, { op, cause: err });
  }
}

function checkJson(v: unknown, where: string, depth: number, seen: Set<object>, bad: (why: string) => never): void {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) bad(`${where} must be JSON: ${v} is not a finite number`);
    return;
  }
  if (typeof v !== 'object') bad(`${where} must be JSON, got a ${typeof v}`);
  const o = v as object;
  if (depth >= MAX_DEPTH) bad(`${where} is nested deeper than ${MAX_DEPTH} levels`);
  if (seen.has(o)) bad(`${where} must be JSON: it contains a cycle`);
  const proto = Object.getPrototypeOf(o) as unknown;
  if (!Array.isArray(o) && proto !== Object.prototype && proto !== null)
    bad(`${where} must be JSON: a ${o.constructor?.name ?? 'non-plain'} object is not a plain object`);
  seen.add(o);
  if (Array.isArray(o)) {
    // forEach, not for-of: a sparse array's holes are skipped (JSON.stringify writes them as null).
    o.forEach((e, k) => {
      checkJson(e, `${where}[${k}]`, depth + 1, seen, bad);
    });
  } else for (const [k, e] of Object.entries(o)) checkJson(e, `${where}.${k}`, depth + 1, seen, bad);
  seen.delete(o);
}

function isUriSpec(v: unknown): v is UriSpec {
  if (v === null || typeof v !== 'object') return false;
  const parts = (v as { parts?: unknown }).parts;
  return (
    Object.keys(v).every((k) => k === 'parts')
    && Array.isArray(parts)
    && parts.every(
      (p: unknown) => p !== null && typeof p === 'object' && typeof (p as UriSpecPart).value === 'string' && typeof (p as UriSpecPart).variable === 'boolean',
    )
  );
}

const show = (v: unknown): string =>
  typeof v === 'string' ? JSON.stringify(v) : typeof v === 'object' || v === undefined ? String(v) : `${String(v)} (${typeof v})`;

// ---- JSON, as Curator's JsonInstanceSerializer writes and reads it ------------------------------

/** The instance's node data: Curator's JSON (see the module docs). The instance must be checked. */
export function serializeInstance(i: ServiceInstance): Buffer {
  const f = (k: string, v: string) => `${JSON.stringify(k)}:${v}`;
  const fields = [
    f('name', JSON.stringify(i.name)),
    f('id', JSON.stringify(i.id)),
    f('address', JSON.stringify(i.address)),
    f('port', JSON.stringify(i.port)),
    f('sslPort', JSON.stringify(i.sslPort)),
    f('payload', payloadJson(i.payload, i.payloadClass)),
    f('registrationTimeUTC', String(i.registrationTimeUTC)),
    f('serviceType', JSON.stringify(i.serviceType)),
    f(
      'uriSpec',
      i.uriSpec === null ? 'null' : `{"parts":[${i.uriSpec.parts.map((p) => `{"value":${JSON.stringify(p.value)},"variable":${p.variable}}`).join(',')}]}`,
    ),
  ];
  if (!i.enabled) fields.push(f('enabled', 'false'));
  return Buffer.from(`{${fields.join(',')}}`, 'utf8');
}

/** Jackson's typed payload: the class as the object's first property, or an array wrapper. */
function payloadJson(payload: JsonValue, cls: string | undefined): string {
  if (payload !== null && typeof payload === 'object' && !Array.isArray(payload)) {
    const rest = Object.entries(payload)
      .map(([k, v]) => `,${JSON.stringify(k)}:${JSON.stringify(v)}`)
      .join('');
    return `{"@class":${JSON.stringify(cls ?? 'java.util.LinkedHashMap')}${rest}}`;
  }
  if (Array.isArray(payload)) return `[${JSON.stringify(cls ?? 'java.util.ArrayList')},${JSON.stringify(payload)}]`;
  return cls === undefined ? JSON.stringify(payload) : `[${JSON.stringify(cls)},${JSON.stringify(payload)}]`;
}

/**
 * Reads an instance node's data as Curator's `JsonInstanceSerializer` does: unknown fields are
 * ignored, missing ones take Jackson's defaults (`enabled` true, `serviceType` DYNAMIC, nulls).
 * @param path - the node, named in the error
 * @throws InvalidArgumentError when the data is not a service instance
 */
export function parseInstance(data: Buffer, path: string): ServiceInstance {
  const op = 'service-discovery.read';
  const bad = (why: string, cause?: unknown): never => {
    throw new InvalidArgumentError(`${op}: node ${path} does not hold a service instance: ${why}`, { op, path, cause });
  };
  let j: unknown;
  try {
    j = JSON.parse(data.toString('utf8'));
  } catch (err) {
    return bad('not JSON', err);
  }
  if (j === null || typeof j !== 'object' || Array.isArray(j)) return bad('not a JSON object');
  const o = j as Record<string, unknown>;
  const str = (k: string, dflt: string | null): string | null => {
    const v = o[k] === undefined ? dflt : o[k];
    return v === null || typeof v === 'string' ? v : bad(`${k} is not a string`);
  };
  const int = (k: string, dflt: number | null): number | null => {
    const v = o[k] === undefined ? dflt : o[k];
    return v === null || (typeof v === 'number' && Number.isInteger(v)) ? v : bad(`${k} is not an integer`);
  };
  const type = o['serviceType'] ?? 'DYNAMIC';
  if (!SERVICE_TYPES.includes(type as ServiceType)) return bad(`serviceType ${show(type)} is not one of ${SERVICE_TYPES.join(', ')}`);
  const enabled = o['enabled'] ?? true;
  if (typeof enabled !== 'boolean') return bad('enabled is not a boolean');
  const { payload, payloadClass } = readPayload(o['payload'] === undefined ? null : (o['payload'] as JsonValue));
  const out: ServiceInstance = {
    name: str('name', '') ?? '',
    id: str('id', '') ?? '',
    address: str('address', null),
    port: int('port', null),
    sslPort: int('sslPort', null),
    payload,
    payloadClass,
    registrationTimeUTC: int('registrationTimeUTC', 0) ?? 0,
    serviceType: type as ServiceType,
    uriSpec: readUriSpec(o['uriSpec'], bad),
    enabled,
  };
  if (payloadClass === undefined) delete out.payloadClass;
  return out;
}

/** Takes Jackson's type information off the payload; the classes we write by default read as unset. */
function readPayload(p: JsonValue): { payload: JsonValue; payloadClass: string | undefined } {
  let payload = p;
  let cls: string | undefined;
  if (p !== null && typeof p === 'object' && !Array.isArray(p) && typeof p['@class'] === 'string') {
    const { '@class': named, ...rest } = p;
    [payload, cls] = [rest, named as string];
  } else if (Array.isArray(p) && p.length === 2 && typeof p[0] === 'string') {
    [payload, cls] = [p[1]!, p[0]];
  }
  const isDefault =
    (cls === 'java.util.LinkedHashMap' && payload !== null && typeof payload === 'object' && !Array.isArray(payload))
    || (cls === 'java.util.ArrayList' && Array.isArray(payload));
  return { payload, payloadClass: isDefault ? undefined : cls };
}

function readUriSpec(v: unknown, bad: (why: string) => never): UriSpec | null {
  if (v === undefined || v === null) return null;
  const parts = (v as { parts?: unknown }).parts ?? [];
  if (typeof v !== 'object' || !Array.isArray(parts)) return bad('uriSpec is not { parts: [...] }');
  return {
    parts: parts.map((p: unknown) => {
      const { value = '', variable = false } = (p ?? {}) as Partial<UriSpecPart>;
      if (typeof value !== 'string' || typeof variable !== 'boolean') bad('a uriSpec part is not { value: string, variable: boolean }');
      return { value, variable };
    }),
  };
}

// ---- UriSpec --------------------------------------------------------------------------------

/**
 * Parses a raw spec as Curator's `new UriSpec(raw)`: `{field}` is a replacement field (its name
 * trimmed), the rest literal text; `{[}` and `{]}` stand for literal braces.
 * @throws InvalidArgumentError for a `{` inside a field, a `}` without `{`, or an unclosed field
 */
export function uriSpec(raw: string): UriSpec {
  const op = 'uriSpec';
  if (typeof raw !== 'string') throw new InvalidArgumentError(`${op}: expected a string, got ${typeof raw}`, { op });
  const parts: UriSpecPart[] = [];
  let inside = false;
  for (const token of raw.split(/([{}])/).filter((t) => t.length > 0)) {
    if (token === '{') {
      if (inside) throw new InvalidArgumentError(`${op} ${JSON.stringify(raw)}: { is not allowed inside of a variable specification`, { op });
      inside = true;
    } else if (token === '}') {
      if (!inside) throw new InvalidArgumentError(`${op} ${JSON.stringify(raw)}: } must be preceded by {`, { op });
      inside = false;
    } else {
      parts.push({ value: inside ? token.trim() : token, variable: inside });
    }
  }
  if (inside) throw new InvalidArgumentError(`${op} ${JSON.stringify(raw)}: final variable not closed - expected }`, { op });
  return { parts };
}

/**
 * Renders a spec as Curator's `UriSpec.build(instance, variables)`: fields `scheme` (`http`, or
 * `https` when the instance has an `sslPort`), `name`, `id`, `address`, `port`, `ssl-port`,
 * `registration-time-utc`, `service-type` (lower case) come from the instance, `[`/`]` give braces,
 * and `variables` override them all. A field with no value renders as nothing.
 * @param spec - a parsed or raw spec; null renders as `''` (as `ServiceInstance.buildUriSpec()`)
 * @example buildUriSpec(instance.uriSpec, instance) // 'http://10.0.0.5:8080'
 */
export function buildUriSpec(
  spec: UriSpec | string | null,
  instance?: ServiceInstance | null,
  variables: Record<string, string | number | boolean | null> = {},
): string {
  if (spec === null) return '';
  const parsed = typeof spec === 'string' ? uriSpec(spec) : spec;
  const vars: Record<string, unknown> = { '[': '{', ']': '}', scheme: 'http' };
  if (instance) {
    Object.assign(vars, {
      name: instance.name,
      id: instance.id,
      address: instance.address ?? '',
      port: instance.port ?? '',
      'ssl-port': instance.sslPort ?? '',
      'registration-time-utc': instance.registrationTimeUTC,
      'service-type': instance.serviceType.toLowerCase(),
    });
    if (instance.sslPort !== null) vars['scheme'] = 'https';
  }
  Object.assign(vars, variables);
  return parsed.parts.map((p) => (p.variable ? (vars[p.value] === null || vars[p.value] === undefined ? '' : String(vars[p.value])) : p.value)).join('');
}
