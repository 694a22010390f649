/** JSON.stringify that prints bigint counters as numbers when they are safe, else as decimal strings. */
export function toJson(value: unknown, indent?: number): string {
  return JSON.stringify(
    value,
    (_key, v: unknown) => {
      if (typeof v === 'bigint')
        return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= -BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
      if (v === Infinity) return 'infinity';
      return v;
    },
    indent,
  );
}
