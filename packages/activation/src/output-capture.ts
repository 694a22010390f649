/**
 * StandardOutput=journal for mptcpd-lite: each service process writes its stdout and stderr into
 * one end of a socket pair, the daemon reads the other end line by line and hands each line, with
 * its unit and PID, to a ServiceOutputSink — a path of its own, apart from the daemon's log
 * messages and events: a service's line is data, never parsed or worded as one of the daemon's.
 */
import { createRequire } from 'node:module';
import type * as Net from 'node:net';
import type * as Readline from 'node:readline';
import type { Logger } from './logger.js';
import type { NativeApi } from './native-binding.js';
import type { OutputCapture } from './service-process.js';

let readlineModule: typeof Readline | undefined;
/**
 * node:readline, loaded when the first service output is read rather than at every daemon start (16
 * builtin modules, ~0.5 MB of RSS). process.getBuiltinModule() exists from Node 20.16.
 */
let netModule: typeof Net | undefined;
/** node:net (and its stream modules) load with the first captured output, not with the daemon. */
function net(): typeof Net {
  netModule ??= process.getBuiltinModule?.('node:net') ?? (createRequire(import.meta.url)('node:net') as typeof Net);
  return netModule;
}

function readline(): typeof Readline {
  readlineModule ??=
    process.getBuiltinModule?.('node:readline') ?? (createRequire(import.meta.url)('node:readline') as typeof Readline);
  return readlineModule;
}

/** One line a service wrote (without its newline), and who wrote it. */
export interface ServiceOutputLine {
  unit: string;
  /** The writing process (undefined only if its launcher never reported a PID). */
  pid?: number;
  text: string;
}

export type ServiceOutputSink = (line: ServiceOutputLine) => void;

/**
 * The sink used when the engine's user gives none: the engine's logger at `info`, marked
 * `output: true` so that a logger can tell the line from the engine's own messages.
 */
export function loggerSink(log: Logger): ServiceOutputSink {
  return ({ unit, pid, text }) => log.info(text, { unit, ...(pid !== undefined ? { pid } : {}), output: true });
}

export class LogCapture implements OutputCapture {
  private readonly open_ = new Set<Net.Socket>();
  private closed = false;

  /**
   * A pair made ahead for the next start: a socket pair is 6 syscalls and some JS (~0.1 ms on the
   * test machine), which a socket-activated start would otherwise spend between the connection and
   * the clone. Made at construction and after each open(), once the spawn is handed over.
   */
  private spare: [number, number] | undefined;
  private refilling = false;

  constructor(
    private readonly native: NativeApi & Required<Pick<NativeApi, 'socketPair'>>,
    private readonly log: Logger,
    private readonly sink: ServiceOutputSink = loggerSink(log),
  ) {
    this.spare = this.tryPair();
  }

  /** A new pair, its child end blocking (the child writes as to a pipe); undefined if it cannot be made. */
  private tryPair(): [number, number] | undefined {
    try {
      return this.newPair();
    } catch {
      // open() makes its own and reports why it could not.
      return undefined;
    }
  }

  private newPair(): [number, number] {
    const pair = this.native.socketPair();
    try {
      this.native.setNonBlocking(pair[0], false);
    } catch (err) {
      this.native.close(pair[0]);
      this.native.close(pair[1]);
      throw err;
    }
    return pair;
  }

  /** The spare for the next open(), made after the current event-loop turn (off the start's path). */
  private refill(): void {
    if (this.refilling || this.closed || this.spare) return;
    this.refilling = true;
    setImmediate(() => {
      this.refilling = false;
      if (!this.closed && !this.spare) this.spare = this.tryPair();
    });
  }

  static supported(native: NativeApi): native is NativeApi & Required<Pick<NativeApi, 'socketPair'>> {
    return typeof native.socketPair === 'function';
  }

  open(unit: string, pid: () => number | undefined): { fd: number; release(): void } | undefined {
    let pair = this.spare;
    this.spare = undefined;
    try {
      pair ??= this.newPair();
    } catch (err) {
      this.log.warn(`Cannot capture output (${err instanceof Error ? err.message : String(err)}); output discarded.`, {
        unit,
      });
      return undefined;
    } finally {
      this.refill();
    }
    const [childEnd, ourEnd] = pair;
    const emit = (text: string): void => {
      const p = pid();
      this.sink({ unit, ...(p !== undefined ? { pid: p } : {}), text });
    };
    // The reader is built once the launcher has run (release(): the child has exec'd, or the spawn
    // failed), not before: a net.Socket and a readline interface cost more than the spawn call, and
    // on a busy machine the event loop building them delays the clone and the child's exec. What the
    // child writes meanwhile waits in the socket buffer; every line is read after the PID is known.
    const read = (): void => {
      if (this.closed) {
        this.native.close(ourEnd);
        return;
      }
      const stream = new (net().Socket)({ fd: ourEnd, readable: true, writable: false });
      this.open_.add(stream);
      const lines = readline().createInterface({ input: stream, crlfDelay: Infinity });
      lines.on('line', emit);
      const done = (): void => {
        this.open_.delete(stream);
        lines.close();
      };
      stream.on('close', done);
      stream.on('error', done);
    };
    let released = false;
    return {
      fd: childEnd,
      release: () => {
        if (released) return;
        released = true;
        this.native.close(childEnd);
        read();
      },
    };
  }

  /** Closes every reader (the daemon stops). */
  close(): void {
    this.closed = true;
    const spare = this.spare;
    this.spare = undefined;
    if (spare) for (const fd of spare) this.native.close(fd);
    for (const s of this.open_) s.destroy();
    this.open_.clear();
  }
}
