/** Pairing tracefs events into accept -> fork -> exec latencies (the text format of the trace file). */
import { describe, expect, it } from 'vitest';
import { parseTrace } from '../src/scenarios/spawn-trace.js';

const mptcpdLite = `# tracer: nop
            node-5825    [001] ..... 12164.280901: sys_accept4 -> 0x17
            node-5825    [001] ..... 12164.280943: sys_accept4 -> 0xfffffffffffffff5
            node-5825    [001] ..... 12164.281158: sys_enter: NR 202 (566f9cc, 81, 1, 0, 566f9a0, 566f9c0)
            node-5839    [001] ..... 12164.281215: sched_process_fork: comm=node pid=5839 child_comm=node child_pid=6289
             cat-6289    [001] ..... 12164.281400: sched_process_exec: filename=/bin/cat pid=6289 old_pid=6289
             cat-6289    [000] ..... 12164.282100: sched_process_exit: comm=cat pid=6289 prio=120 group_dead=1
            node-5825    [001] ..... 12164.282843: sys_accept4 -> 0x17
            node-5825    [001] ..... 12164.283035: sys_enter: NR 202 (566f9c8, 81, 1, 0, 566f9a0, 566f9c0)
            node-5825    [001] ..... 12164.283053: sys_enter: NR 202 (566f960, 81, 1, 0, 566f9a0, 566f9c0)
            node-5842    [001] ..... 12164.283103: sched_process_fork: comm=node pid=5842 child_comm=node child_pid=6290
             cat-6290    [001] ..... 12164.283420: sched_process_exec: filename=/bin/cat pid=6290 old_pid=6290
             cat-6290    [001] ..... 12164.284020: sched_process_exit: comm=cat pid=6290 prio=120 group_dead=1
             cat-7000    [001] ..... 12164.284100: sched_process_exit: comm=cat pid=7000 prio=120 group_dead=1
            node-5825    [001] ..... 12164.284500: sys_accept4 -> 0x17
`;

const socketActivate = `
 systemd-socket--3785    [000] ..... 12143.287326: sys_accept4 -> 0x5
 systemd-socket--3785    [000] ..... 12143.287704: sched_process_fork: comm=systemd-socket- pid=3785 child_comm=systemd-socket- child_pid=3800
             cat-3800    [000] ..... 12143.288444: sched_process_exec: filename=/bin/cat pid=3800 old_pid=3800
 systemd-socket--3785    [000] ..... 12143.297167: sys_accept4 -> 0x5
 systemd-socket--3785    [000] ..... 12143.297503: sched_process_fork: comm=systemd-socket- pid=3785 child_comm=systemd-socket- child_pid=3801
`;

describe('parseTrace', () => {
  it('pairs each exec with its fork and the accept before it; the last futex before the fork is the hand-off', () => {
    const r = parseTrace(mptcpdLite);
    expect(r.acceptToFork.map(Math.round)).toEqual([314, 260]);
    expect(r.handoffToFork.map(Math.round)).toEqual([57, 50]);
    expect(r.forkToExec.map(Math.round)).toEqual([185, 317]);
  });

  it('closes the cycle: exec → exit of the service, exit → the next accept; exits of other processes are ignored', () => {
    const r = parseTrace(mptcpdLite);
    expect(r.execToExit.map(Math.round)).toEqual([700, 600]);
    expect(r.exitToAccept.map(Math.round)).toEqual([743, 480]);
  });

  it('an activator that forks on its main thread has no hand-off; a fork whose exec is missing is not counted', () => {
    const r = parseTrace(socketActivate);
    expect(r.acceptToFork.map(Math.round)).toEqual([378]);
    expect(r.handoffToFork).toEqual([]);
    expect(r.forkToExec.map(Math.round)).toEqual([740]);
    expect(r.execToExit).toEqual([]);
    expect(r.exitToAccept).toEqual([]);
  });
});
