/**
 * transaction-order.ts against the rules of 257's transaction.c that the recorded two-unit cycles
 * (ordering-cycle-257) do not reach: the walk back over a longer cycle, a deleted job taking the jobs
 * that require it along (transaction_delete_job(…, delete_dependencies)), and the jobs only it pulled
 * in collected as garbage (transaction_collect_garbage()).
 */
import { describe, expect, it } from 'vitest';
import { type OrderCheck, type PullLink, verifyOrder } from '../src/transaction-order.js';

const after = (pairs: Record<string, string[]>): Map<string, Set<string>> =>
  new Map(Object.entries(pairs).map(([k, v]) => [k, new Set(v)]));
const link = (subject: string, object: string, matters: boolean): PullLink => ({ subject, object, matters });

function check(c: OrderCheck): { result: ReturnType<typeof verifyOrder>; lines: string[] } {
  const lines: string[] = [];
  const result = verifyOrder(c, (level, unit, text) => lines.push(`${level}: ${unit}: ${text}`));
  return { result, lines };
}

describe('transaction_verify_order() (257 transaction.c)', () => {
  it('a three-job cycle: the lines walk back from the job before the anchor; the first job that does not matter goes, with the job requiring it', () => {
    // a Wants= w, w Requires= x; x runs after w, w after a, a after x.
    const { result, lines } = check({
      jobs: ['a', 'w', 'x'],
      anchor: 'a',
      after: after({ a: ['x'], w: ['a'], x: ['w'] }),
      links: [link('a', 'w', false), link('w', 'x', true)],
    });
    expect(lines).toEqual([
      'warn: a: Found ordering cycle on x/start',
      'warn: a: Found dependency on w/start',
      'warn: a: Found dependency on a/start',
      'error: a: Job x/start deleted to break ordering cycle starting with a/start',
    ]);
    expect(result).toEqual({ ok: true, deleted: ['x', 'w'] });
  });

  it('the jobs only a deleted job pulled in are collected too; the rest is checked again', () => {
    // a Wants= w (a cycle with a), w Wants= g; a Requires= r (no cycle).
    const { result, lines } = check({
      jobs: ['a', 'w', 'g', 'r'],
      anchor: 'a',
      after: after({ a: ['w', 'r'], w: ['a'] }),
      links: [link('a', 'w', false), link('w', 'g', false), link('a', 'r', true)],
    });
    expect(lines.at(-1)).toBe('error: a: Job w/start deleted to break ordering cycle starting with a/start');
    expect(result).toEqual({ ok: true, deleted: ['w', 'g'] });
  });

  it('a cycle of jobs that all matter cannot be broken', () => {
    const { result, lines } = check({
      jobs: ['a', 'b', 'c'],
      anchor: 'a',
      after: after({ a: ['c'], b: ['a'], c: ['b'] }),
      links: [link('a', 'b', true), link('b', 'c', true)],
    });
    expect(result).toEqual({ ok: false });
    expect(lines.at(-1)).toBe('error: a: Unable to break cycle starting with a/start');
  });

  it('no cycle: nothing deleted, nothing logged', () => {
    const { result, lines } = check({
      jobs: ['a', 'b', 'c'],
      anchor: 'a',
      after: after({ a: ['b', 'c'], b: ['c'] }),
      links: [link('a', 'b', false), link('a', 'c', true)],
    });
    expect(result).toEqual({ ok: true, deleted: [] });
    expect(lines).toEqual([]);
  });
});
