/**
 * StandardOutput=journal for mptcpd-lite: each service process writes its stdout and stderr into
 * one end of a socket pair, the daemon reads the other end line by line and hands each line, with
 * its unit and PID, to a ServiceOutputSink — a path of its own, apart from the daemon's log
 * messages and events: a service's line is data, never parsed or worded as one of the daemon's.
 */
import net from 'node:net';
import { createInterface } from 'node:readline';
import type { Logger } from './logger.js';
import type { NativeApi } from './native-binding.js';
import type { OutputCapture } from './service-process.js';

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
  private readonly open_ = new Set<net.Socket>();
  private closed = false;

  constructor(
    private readonly native: NativeApi & Required<Pick<NativeApi, 'socketPair'>>,
    private readonly log: Logger,
    private readonly sink: ServiceOutputSink = loggerSink(log),
  ) {}

  static supported(native: NativeApi): native is NativeApi & Required<Pick<NativeApi, 'socketPair'>> {
    return typeof native.socketPair === 'function';
  }

  open(unit: string, pid: () => number | undefined): { fd: number; release(): void } | undefined {
    let pair: [number, number];
    try {
      pair = this.native.socketPair();
    } catch (err) {
      this.log.warn(`Cannot capture output (${err instanceof Error ? err.message : String(err)}); output discarded.`, {
        unit,
      });
      return undefined;
    }
    const [childEnd, ourEnd] = pair;
    // The child writes with blocking I/O, as to a pipe.
    this.native.setNonBlocking(childEnd, false);
    const emit = (text: string): void => {
      const p = pid();
      this.sink({ unit, ...(p !== undefined ? { pid: p } : {}), text });
    };
    // Lines written before the launcher has told us the PID wait for it (release()).
    let early: string[] | undefined = [];
    // The reader is built a microtask later, once the caller has handed the spawn over: a net.Socket
    // and a readline interface cost more than the spawn call, and what the child writes meanwhile
    // waits in the socket buffer.
    queueMicrotask(() => {
      if (this.closed) {
        this.native.close(ourEnd);
        return;
      }
      const stream = new net.Socket({ fd: ourEnd, readable: true, writable: false });
      this.open_.add(stream);
      const lines = createInterface({ input: stream, crlfDelay: Infinity });
      lines.on('line', (line) => (early ? early.push(line) : emit(line)));
      const done = (): void => {
        this.open_.delete(stream);
        lines.close();
      };
      stream.on('close', done);
      stream.on('error', done);
    });
    let released = false;
    return {
      fd: childEnd,
      release: () => {
        if (released) return;
        released = true;
        this.native.close(childEnd);
        const queued = early ?? [];
        early = undefined;
        for (const line of queued) emit(line);
      },
    };
  }

  /** Closes every reader (the daemon stops). */
  close(): void {
    this.closed = true;
    for (const s of this.open_) s.destroy();
    this.open_.clear();
  }
}
