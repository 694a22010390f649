import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkVector, detectVectorKind, type Vector, type VectorFile } from '../src/vectors.js';

const load = (name: string): VectorFile =>
  JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8')) as VectorFile;

for (const [name, kind] of [
  ['conf-syntax.json', 'conf-syntax'],
  ['socket-addresses.json', 'socket-addresses'],
  ['values.json', 'values'],
] as const) {
  describe(name, () => {
    const file = load(name);
    it('is detected as ' + kind, () => {
      expect(detectVectorKind(file)).toBe(kind);
      expect(file.vectors.length).toBe(file.count);
    });
    it.each(file.vectors.map((v, i) => [i, v] as [number, Vector]))('vector #%i', (_i, v) => {
      expect(checkVector(kind, v).problems).toEqual([]);
    });
  });
}

describe('the checker can fail', () => {
  it('reports a wrong expectation', () => {
    const v: Vector = { kind: 'unsigned', input: '010', expected: { ok: true, value: 10 } };
    expect(checkVector('values', v).problems).not.toEqual([]);
    const a: Vector = {
      input: '[::1]:80',
      expected: { ok: true, family: 'AF_INET6', address: '::1', port: 80, printed: '[::1]:81' },
    };
    expect(checkVector('socket-addresses', a).problems).not.toEqual([]);
    const c: Vector = {
      input: '[S]\nk=v\n',
      expected: { result: 'ok', assignments: [{ section: 'S', key: 'k', value: 'w', line: 2 }] },
    };
    expect(checkVector('conf-syntax', c).problems).not.toEqual([]);
  });
});
