/**
 * DynamicUser=yes as far as mptcpd-lite can follow systemd 257 (unit.c unit_patch_contexts(),
 * dynamic-user.c dynamic_user_realize(); recorded: test/fixtures/v257/failed-start dyn.service,
 * exec-credentials dynamic-numeric.service):
 * - the sandbox it implies: `PrivateTmp=disconnected` (unless PrivateTmp= is set), `RemoveIPC=yes`,
 *   `ProtectSystem=strict`, `ProtectHome=read-only` (unless set), `NoNewPrivileges=yes`,
 *   `RestrictSUIDSGID=yes` — appended to the unit's assignments, so that each is applied, or
 *   refused when it is not enforced (sandbox.ts: PrivateTmp=disconnected 226/NAMESPACE,
 *   RestrictSUIDSGID= 228/SECCOMP), as any other sandbox directive;
 * - a numeric `User=` is the uid as is, and (without `Group=`, or with a numeric one) the gid is the
 *   same number (or Group='s), with no passwd entry needed (257: uid=4399 gid=4399 groups=4399).
 *   A user name (or none: the unit's name) would need a uid allocated from 61184–65519 and NSS
 *   entries for it: not implemented, refused with 217/USER (sandbox.ts).
 */
import { type ServiceUnit, parseBoolean } from '@mptcp/unit';

/** DynamicUser= is on (its last valid assignment). */
export function dynamicUser(unit: ServiceUnit): boolean {
  const extra: Readonly<Record<string, string[]>> | undefined = unit.extra;
  const last = extra?.['DynamicUser']?.at(-1);
  const r = last === undefined ? undefined : parseBoolean(last);
  return r?.ok === true && r.value;
}

/** A decimal uid/gid as parse_uid() takes it (not -1 or 65535), else undefined. */
function numericId(v: string | undefined): number | undefined {
  if (v === undefined || !/^[0-9]+$/.test(v)) return undefined;
  const n = Number(v);
  return n <= 0xfffffffe && n !== 65535 ? n : undefined;
}

/** The uid and gid of a DynamicUser=yes unit with a numeric User= (and no or a numeric Group=); undefined otherwise. */
export function dynamicNumericIds(unit: ServiceUnit): { uid: number; gid: number } | undefined {
  if (!dynamicUser(unit)) return undefined;
  const uid = numericId(unit.user);
  if (uid === undefined) return undefined;
  if (unit.group === undefined) return { uid, gid: uid };
  const gid = numericId(unit.group);
  return gid === undefined ? undefined : { uid, gid };
}

/** The assignments DynamicUser=yes adds (unit_patch_contexts()), by key; why they are there is `IMPLIED_BY`. */
export const IMPLIED_BY = 'DynamicUser=yes';

const patched = new WeakMap<ServiceUnit, ServiceUnit>();

function effectiveOff(values: readonly string[] | undefined, off: readonly string[] = []): boolean {
  const last = values?.at(-1);
  if (last === undefined || last === '' || off.includes(last)) return true;
  const b = parseBoolean(last);
  return b.ok && !b.value;
}

/**
 * The unit as 257 runs it: with DynamicUser=yes, its implied sandbox appended to `extra` (the same
 * object when DynamicUser= is off). `impliedKeys` lists the keys that were added.
 */
export function withImpliedSandbox(unit: ServiceUnit): ServiceUnit {
  const extra: Readonly<Record<string, string[]>> | undefined = unit.extra;
  if (!extra || !dynamicUser(unit)) return unit;
  const cached = patched.get(unit);
  if (cached) return cached;
  const add: Record<string, string> = {};
  if (effectiveOff(extra['PrivateTmp'])) add['PrivateTmp'] = 'disconnected';
  add['RemoveIPC'] = 'yes';
  add['ProtectSystem'] = 'strict';
  if (effectiveOff(extra['ProtectHome'])) add['ProtectHome'] = 'read-only';
  add['NoNewPrivileges'] = 'yes';
  add['RestrictSUIDSGID'] = 'yes';
  const next: Record<string, string[]> = { ...extra };
  for (const [k, v] of Object.entries(add)) next[k] = [...(extra[k] ?? []), v];
  const out = { ...unit, extra: next, impliedKeys: Object.keys(add) } as ServiceUnit;
  patched.set(unit, out);
  return out;
}

/** The keys withImpliedSandbox() added to `unit` (for messages: `implied by DynamicUser=yes`). */
export function impliedKeys(unit: ServiceUnit): readonly string[] {
  return (unit as { impliedKeys?: string[] }).impliedKeys ?? [];
}
