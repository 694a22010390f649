/**
 * CPUAffinity= resolves specifiers before the CPU set, as systemd 257's
 * config_parse_exec_cpu_affinity() (unit_full_printf(), then parse_cpu_set_extend(); `numa` only as
 * written). The `%Z` line is 257's, recorded by the oracle (packages/activation/test/fixtures/v257/
 * failed-start, `[verify]`); the set each value gives is applied by @mptcp/activation.
 */
import { describe, expect, it } from 'vitest';
import { parseUnitText } from '../src/index.js';

function parse(name: string, lines: string[]) {
  const r = parseUnitText(`[Service]\nExecStart=/bin/true\n${lines.map((l) => `CPUAffinity=${l}`).join('\n')}\n`, {
    name,
    file: `/u/${name}`,
  });
  return {
    kept: r.unit?.extra?.CPUAffinity ?? [],
    warnings: r.diagnostics.map((d) => `${d.line}: ${d.message}`),
  };
}

describe('CPUAffinity= with specifiers (systemd 257)', () => {
  it('an instance specifier is resolved, not refused', () => {
    expect(parse('aff@1.service', ['%i'])).toEqual({ kept: ['%i'], warnings: [] });
    expect(parse('aff@0-1.service', ['%i 1'])).toEqual({ kept: ['%i 1'], warnings: [] });
  });

  it("a specifier that does not resolve: 257's warning, the assignment ignored, the next one kept", () => {
    expect(parse('affbad.service', ['%Z', '1%i'])).toEqual({
      kept: ['1%i'],
      warnings: ["3: Failed to resolve unit specifiers in '%Z', ignoring: Invalid slot"],
    });
  });

  it('the resolved value is parsed as a CPU set: `%%` is `%`, a value that became `numa` is not the keyword', () => {
    expect(parse('a.service', ['%%']).warnings).toEqual(["3: Failed to parse CPU affinity '%'"]);
    expect(parse('numa.service', ['%N']).warnings).toEqual(["3: Failed to parse CPU affinity 'numa'"]);
    expect(parse('a.service', ['numa'])).toEqual({ kept: ['numa'], warnings: [] });
  });
});
