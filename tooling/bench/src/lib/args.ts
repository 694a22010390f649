/**
 * Command-line parsing on node:util's parseArgs. `parseArgs(argv, spec)` is strict: an option not
 * in `spec` is an error (so a typo never starts a full run). Without a spec (the workers, started
 * by the scenarios themselves) every `--key value` / `--key=value` / `--flag` is accepted.
 */
import { parseArgs as nodeParseArgs, type ParseArgsConfig } from 'node:util';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

export interface ParsedArgs {
  positional: string[];
  /** Option values as strings ('true' for a flag given without a value). */
  opts: Map<string, string>;
}

export function parseArgs(argv: readonly string[], spec?: OptionSpec): ParsedArgs {
  const opts = new Map<string, string>();
  if (spec) {
    const { values, positionals } = nodeParseArgs({
      args: [...argv],
      options: spec,
      strict: true,
      allowPositionals: true,
    });
    for (const [k, v] of Object.entries(values))
      if (v !== undefined) opts.set(k, typeof v === 'boolean' ? String(v) : String(v));
    return { positional: positionals, opts };
  }
  const { tokens } = nodeParseArgs({ args: [...argv], strict: false, allowPositionals: true, tokens: true });
  const positional: string[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.kind === 'positional') positional.push(t.value);
    else if (t.kind === 'option') {
      const next = tokens[i + 1];
      if (t.value !== undefined) opts.set(t.name, t.value);
      else if (next?.kind === 'positional' && t.rawName.startsWith('--')) {
        opts.set(t.name, next.value);
        i++;
      } else opts.set(t.name, 'true');
    }
  }
  return { positional, opts };
}

export function num(opts: Map<string, string>, key: string, dflt: number): number {
  const v = opts.get(key);
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`--${key}: not a number: ${v}`);
  return n;
}
