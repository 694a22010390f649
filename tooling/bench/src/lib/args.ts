/** `--key value` / `--flag` argument parsing for the workers (they run as separate processes). */
export function parseArgs(argv: readonly string[]): { positional: string[]; opts: Map<string, string> } {
  const positional: string[] = [];
  const opts = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      if (eq > 0) opts.set(a.slice(2, eq), a.slice(eq + 1));
      else if (i + 1 < argv.length && !argv[i + 1]!.startsWith('--')) opts.set(a.slice(2), argv[++i]!);
      else opts.set(a.slice(2), 'true');
    } else positional.push(a);
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
