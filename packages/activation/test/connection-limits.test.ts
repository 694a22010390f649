import { describe, expect, it } from 'vitest';
import { ConnectionLimits } from '../src/connection-limits.js';

describe('ConnectionLimits per-source counts (status)', () => {
  it('none before a connection, counted per source, gone once released', () => {
    const l = new ConnectionLimits(10, 2);
    expect(l.sources()).toEqual({});
    const a = l.admit('10.0.0.1', '10.0.0.1');
    const b = l.admit('10.0.0.1', '10.0.0.1');
    const c = l.admit('10.0.0.2', '10.0.0.2');
    expect(l.sources()).toEqual({ '10.0.0.1': 2, '10.0.0.2': 1 });
    for (const x of [a, b, c]) if (x.ok) x.release();
    expect(l.sources()).toEqual({});
    expect(l.connections).toBe(0);
  });

  it('without MaxConnectionsPerSource= nothing is counted per source, and a release is still exact', () => {
    const l = new ConnectionLimits(1, 0);
    const a = l.admit('10.0.0.1', '10.0.0.1');
    expect(a.ok).toBe(true);
    expect(l.sources()).toEqual({});
    expect(l.admit('10.0.0.2', '10.0.0.2')).toMatchObject({ ok: false, reason: 'max-connections' });
    if (a.ok) a.release();
    expect(l.connections).toBe(0);
    expect(l.admit('10.0.0.2', '10.0.0.2').ok).toBe(true);
  });
});
