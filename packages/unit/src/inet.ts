/** inet_pton()/inet_ntop() as glibc implements them (no leading zeros in IPv4, RFC 5952 output). */

/** inet_pton(AF_INET): exactly four decimal octets, no leading zeros. */
export function parseIPv4(s: string): number[] | undefined {
  // One pass over the characters (no split, no regular expression): start-up parses thousands.
  const out: number[] = [];
  let n = 0;
  let digits = 0;
  for (let i = 0; i <= s.length; i++) {
    const c = i < s.length ? s.charCodeAt(i) : 0x2e;
    if (c === 0x2e /* . */) {
      if (digits === 0 || out.length === 4) return undefined;
      out.push(n);
      n = 0;
      digits = 0;
    } else if (c >= 0x30 && c <= 0x39) {
      // No leading zeros; at most 3 digits, at most 255.
      if (digits > 0 && n === 0) return undefined;
      n = n * 10 + (c - 0x30);
      if (++digits > 3 || n > 255) return undefined;
    } else return undefined;
  }
  return out.length === 4 ? out : undefined;
}

/** inet_pton(AF_INET6): 8 groups of 16 bits (as numbers), or undefined. */
export function parseIPv6(s: string): number[] | undefined {
  if (s.length === 0) return undefined;
  let head: string[] = [];
  let tail: string[] = [];
  const dbl = s.indexOf('::');
  if (dbl >= 0) {
    if (s.indexOf('::', dbl + 1) >= 0) return undefined;
    const a = s.slice(0, dbl);
    const b = s.slice(dbl + 2);
    head = a === '' ? [] : a.split(':');
    tail = b === '' ? [] : b.split(':');
  } else {
    head = s.split(':');
  }
  const groups: number[] = [];
  const conv = (list: string[], allowV4Last: boolean): number[] | undefined => {
    const out: number[] = [];
    for (let i = 0; i < list.length; i++) {
      const g = list[i] as string;
      if (allowV4Last && i === list.length - 1 && g.includes('.')) {
        const v4 = parseIPv4(g);
        if (!v4) return undefined;
        out.push(((v4[0] as number) << 8) | (v4[1] as number), ((v4[2] as number) << 8) | (v4[3] as number));
        continue;
      }
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      out.push(Number.parseInt(g, 16));
    }
    return out;
  };
  const h = conv(head, dbl < 0);
  const t = conv(tail, true);
  if (!h || !t) return undefined;
  if (dbl >= 0) {
    if (h.length + t.length > 7) return undefined;
    groups.push(...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t);
  } else {
    if (h.length !== 8) return undefined;
    groups.push(...h);
  }
  return groups;
}

/** inet_ntop(AF_INET6), glibc flavour. */
export function formatIPv6(words: readonly number[]): string {
  let bestBase = -1;
  let bestLen = 0;
  let curBase = -1;
  let curLen = 0;
  for (let i = 0; i < 8; i++) {
    if (words[i] === 0) {
      if (curBase === -1) {
        curBase = i;
        curLen = 1;
      } else curLen++;
    } else if (curBase !== -1) {
      if (bestBase === -1 || curLen > bestLen) {
        bestBase = curBase;
        bestLen = curLen;
      }
      curBase = -1;
    }
  }
  if (curBase !== -1 && (bestBase === -1 || curLen > bestLen)) {
    bestBase = curBase;
    bestLen = curLen;
  }
  if (bestBase !== -1 && bestLen < 2) bestBase = -1;
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (bestBase !== -1 && i >= bestBase && i < bestBase + bestLen) {
      if (i === bestBase) out += ':';
      continue;
    }
    if (i !== 0) out += ':';
    if (i === 6 && bestBase === 0 && (bestLen === 6 || (bestLen === 5 && words[5] === 0xffff))) {
      const w6 = words[6] as number;
      const w7 = words[7] as number;
      out += `${w6 >> 8}.${w6 & 0xff}.${w7 >> 8}.${w7 & 0xff}`;
      break;
    }
    out += (words[i] as number).toString(16);
  }
  if (bestBase !== -1 && bestBase + bestLen === 8) out += ':';
  return out;
}
