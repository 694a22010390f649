/**
 * A netlink exchange written once, run either way: a parser is a generator that yields each request
 * it needs and gets the reply datagrams back. `runSync` drives it with the blocking transport (CLI
 * commands: one request at a time is all they do); `runAsync` with the addon's asynchronous one
 * (the daemon's metrics and endpoint manager, which must never stall the event loop that serves).
 */
import type { AsyncNetlinkTransport, NetlinkTransport } from './transport.js';

export interface NetlinkCall {
  protocol: number;
  message: Buffer;
}

export type NetlinkOp<T> = Generator<NetlinkCall, T, Buffer[]>;

/** One request; `yield* call(…)` inside an op evaluates to its replies. */
export function* call(protocol: number, message: Buffer): NetlinkOp<Buffer[]> {
  return yield { protocol, message };
}

export function runSync<T>(op: NetlinkOp<T>, request: NetlinkTransport): T {
  let step = op.next();
  while (!step.done) step = op.next(request(step.value.protocol, step.value.message));
  return step.value;
}

export async function runAsync<T>(op: NetlinkOp<T>, request: AsyncNetlinkTransport): Promise<T> {
  let step = op.next();
  while (!step.done) step = op.next(await request(step.value.protocol, step.value.message));
  return step.value;
}
