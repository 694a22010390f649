/** freePort(): below the kernel's ephemeral range, bindable, never the same port twice in a process. */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { freePort } from '../src/net.js';

describe('freePort', () => {
  it('hands out distinct ports below the ephemeral range that can be bound', async () => {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'latin1').trim().split(/\s+/)[0]);
    const ports: number[] = [];
    for (let i = 0; i < 50; i++) ports.push(await freePort());
    expect(new Set(ports).size).toBe(50);
    for (const p of ports) expect(p).toBeLessThan(low);
    const srv = createServer();
    await new Promise<void>((r) => srv.listen(ports[0], '127.0.0.1', r));
    await new Promise<void>((r) => srv.close(() => r()));
  });
});
