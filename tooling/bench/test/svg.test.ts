import { describe, expect, it } from 'vitest';
import { barChart, lineChart, niceTicks } from '../src/report/svg.js';

/** Tags open and close in order: a cheap well-formedness check without an XML parser. */
function balanced(svg: string): boolean {
  const stack: string[] = [];
  for (const m of svg.matchAll(/<(\/?)([a-zA-Z]+)[^>]*?(\/?)>/g)) {
    if (m[3]) continue;
    if (m[1]) {
      if (stack.pop() !== m[2]) return false;
    } else stack.push(m[2]!);
  }
  return stack.length === 0;
}

describe('svg charts', () => {
  it('nice ticks cover the range with round steps', () => {
    expect(niceTicks(0, 37.6)).toEqual([0, 10, 20, 30, 40]);
    expect(niceTicks(0, 0.9)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
  });

  it('a bar chart is well-formed, escapes text and draws one bar per value', () => {
    const svg = barChart({
      title: 'TCP <vs> MPTCP & co',
      yLabel: 'Gbit/s',
      series: ['TCP', 'MPTCP'],
      groups: [
        { label: 'up', values: [10, 3] },
        { label: 'down', values: [11, 4] },
      ],
      reference: { value: 12, label: 'goal' },
    });
    expect(svg.startsWith('<svg')).toBe(true);
    expect(balanced(svg)).toBe(true);
    expect(svg).toContain('TCP &lt;vs&gt; MPTCP &amp; co');
    expect(svg.match(/<rect x=/g)).toHaveLength(4);
  });

  it('a line chart with a log axis and a band is well-formed', () => {
    const svg = lineChart({
      title: 'scaling',
      xLabel: 'units',
      yLabel: 'conn/s',
      logX: true,
      markers: true,
      bands: [{ from: 10, to: 100, label: 'x' }],
      series: [
        {
          name: 'a',
          points: [
            [1, 5],
            [10, 6],
            [100, 7],
            [1000, 8],
          ],
        },
      ],
    });
    expect(balanced(svg)).toBe(true);
    expect(svg.match(/<circle/g)).toHaveLength(4);
    expect(svg).not.toContain('NaN');
  });
});
