/**
 * Turning `<prefix>@.service` into `<prefix>@<instance>.service` for Accept=yes connections.
 * @mptcp/unit's loadServiceInstance() re-reads the template with the instance's specifiers (the
 * right way: %i, %n, %I … resolved by the parser). When it is not available, a template parsed
 * with its specifiers left as written is instantiated here by substitution.
 */
import * as unit from '@mptcp/unit';
import type { ExecCommand, ServiceUnit } from './unit-types.js';
import { templatePrefix } from './instance-name.js';

/** Produces the service unit for one instance name (`echo@0-…​.service`). */
export type TemplateResolver = (template: ServiceUnit, instanceName: string) => ServiceUnit | Promise<ServiceUnit>;

type LoadInstance = (template: ServiceUnit | string, instanceName: string) => unknown;

export const defaultTemplateResolver: TemplateResolver = async (template, instanceName) => {
  const load = (unit as Record<string, unknown>).loadServiceInstance;
  if (typeof load === 'function') {
    const result = await (load as LoadInstance)(template, instanceName);
    const svc = pickService(result);
    if (svc) return svc;
  }
  return substituteInstance(template, instanceName);
};

function pickService(result: unknown): ServiceUnit | undefined {
  if (typeof result !== 'object' || result === null) return undefined;
  const r = result as { kind?: unknown; unit?: unknown };
  if (r.kind === 'service') return result as ServiceUnit;
  if (typeof r.unit === 'object' && r.unit !== null && (r.unit as { kind?: unknown }).kind === 'service') return r.unit as ServiceUnit;
  return undefined;
}

/** systemd's unit_name_unescape() for %I: `\xNN` escapes and `-` → `/`. */
export function unescapeInstance(s: string): string {
  return s.replace(/-/g, '/').replace(/\\x([0-9a-fA-F]{2})/g, (_m, h: string) => String.fromCharCode(Number.parseInt(h, 16)));
}

/** Replaces %i %I %n %N %p %P %% in argv and Environment= of a template parsed without an instance. */
export function substituteInstance(template: ServiceUnit, instanceName: string): ServiceUnit {
  const at = instanceName.indexOf('@');
  const dot = instanceName.lastIndexOf('.');
  const instance = at >= 0 && dot > at ? instanceName.slice(at + 1, dot) : '';
  const prefix = templatePrefix(instanceName);
  const table: Record<string, string> = {
    i: instance,
    I: unescapeInstance(instance),
    n: instanceName,
    N: instanceName.slice(0, dot > 0 ? dot : undefined),
    p: prefix,
    P: unescapeInstance(prefix),
    '%': '%',
  };
  const sub = (s: string): string => s.replace(/%([iInNpP%])/g, (m, c: string) => table[c] ?? m);
  const cmd = (c: ExecCommand): ExecCommand => ({ ...c, argv: c.argv.map(sub), path: sub(c.path) });
  return {
    ...template,
    name: instanceName,
    execStartPre: template.execStartPre.map(cmd),
    execStart: template.execStart.map(cmd),
    execStartPost: template.execStartPost.map(cmd),
    execStop: template.execStop.map(cmd),
    execStopPost: template.execStopPost.map(cmd),
    environment: template.environment.map(([k, v]) => [k, sub(v)]),
  };
}
