/**
 * The empty unit a file is applied to (defaultSocketUnit/defaultServiceUnit, emptyUnitSection): built
 * from one template copied per unit. What must hold: every default as the registry rows and the load
 * rules say, and no array or object shared between two units (or with the template).
 */
import { describe, expect, it } from 'vitest';
import { SERVICE_TABLE, SOCKET_TABLE, UNIT_TABLE } from '../src/directives.js';
import { emptyUnitSection } from '../src/load-state.js';
import { defaultServiceUnit, defaultSocketUnit, DEFAULT_TIMEOUT_USEC } from '../src/parse.js';
import { defaultsOf } from '../src/registry.js';

/** Every array/object reachable from `v`, with its path. */
function containers(v: unknown, path: string, out: Array<[string, object]>): Array<[string, object]> {
  if (v !== null && typeof v === 'object') {
    out.push([path, v]);
    for (const [k, x] of Object.entries(v)) containers(x, `${path}.${k}`, out);
  }
  return out;
}

function expectNothingShared(a: object, b: object): void {
  const seen = new Map(containers(a, 'a', []).map(([p, o]) => [o, p]));
  for (const [p, o] of containers(b, 'b', [])) expect(seen.get(o), `${p} is shared`).toBeUndefined();
}

describe('default units', () => {
  it('an empty [Unit] section: the table defaults, fresh documentation/extra', () => {
    const a = emptyUnitSection();
    expect(a).toEqual({ ...defaultsOf(UNIT_TABLE), documentation: [], extra: {} });
    expect(Object.keys(a)).toEqual(Object.keys({ ...defaultsOf(UNIT_TABLE), documentation: [], extra: {} }));
    expectNothingShared(a, emptyUnitSection());
  });

  it('a socket: the [Socket] table defaults, then the fixed fields, in this order', () => {
    const expected = {
      ...defaultsOf(SOCKET_TABLE),
      kind: 'socket',
      name: 'a.socket',
      file: '/etc/a.socket',
      dropIns: [],
      unit: emptyUnitSection(),
      listen: [],
      socketProtocol: 0,
      execStartPre: [],
      execStartPost: [],
      execStopPre: [],
      execStopPost: [],
      symlinks: [],
      triggerLimitIntervalUsec: 2_000_000,
      triggerLimitBurst: 20,
      pollLimitIntervalUsec: 2_000_000,
      pollLimitBurst: 15,
      extra: {},
      install: {},
    };
    const u = defaultSocketUnit('a.socket', '/etc/a.socket');
    expect(u).toEqual(expected);
    expect(Object.keys(u)).toEqual(Object.keys(expected));
    const v = defaultSocketUnit('b.socket', '/etc/b.socket');
    expect([v.name, v.file]).toEqual(['b.socket', '/etc/b.socket']);
    expectNothingShared(u, v);
    // A unit changed in place does not leak into the next one.
    u.listen.push({ type: 'stream', value: 'x', address: { family: 'unix', path: '/x' } } as never);
    u.unit.documentation.push('man:x');
    u.extra['X-Y'] = ['1'];
    expect(defaultSocketUnit('c.socket', '/c')).toEqual({ ...expected, name: 'c.socket', file: '/c' });
  });

  it('a service: the [Service] table defaults, then the fixed fields, in this order', () => {
    const expected = {
      ...defaultsOf(SERVICE_TABLE),
      kind: 'service',
      name: 'a.service',
      file: '/etc/a.service',
      dropIns: [],
      unit: emptyUnitSection(),
      type: 'simple',
      execStartPre: [],
      execStart: [],
      execStartPost: [],
      execStop: [],
      execStopPost: [],
      execReload: [],
      execCondition: [],
      environment: [],
      environmentFiles: [],
      supplementaryGroups: [],
      standardInput: 'null',
      standardOutput: 'journal',
      standardError: 'inherit',
      killMode: 'control-group',
      timeoutStartUsec: DEFAULT_TIMEOUT_USEC,
      sockets: [],
      extra: {},
      install: {},
    };
    const u = defaultServiceUnit('a.service', '/etc/a.service');
    expect(u).toEqual(expected);
    expect(Object.keys(u)).toEqual(Object.keys(expected));
    const v = defaultServiceUnit('b.service', '/etc/b.service');
    expectNothingShared(u, v);
    u.environment.push(['A', '1']);
    u.sockets.push('x.socket');
    u.install['WantedBy'] = ['x'];
    expect(defaultServiceUnit('c.service', '/c')).toEqual({ ...expected, name: 'c.service', file: '/c' });
  });
});
