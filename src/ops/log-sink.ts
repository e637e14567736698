/**
 * A log destination that can never stop the service (issue #17): lines are queued in memory and
 * written asynchronously, one write at a time. When the sink fails (full disk, closed pipe) the lines
 * of that write are dropped and counted; when it stalls (a reader that stopped reading) the queue fills
 * up to its bound and further lines are dropped and counted. Request handling never waits for a log
 * write and never sees its error. Once a write succeeds again, one line says how many were lost.
 */
import fs from "node:fs";
import type { Writable } from "node:stream";

/** one asynchronous write of a whole chunk; `done` gets the error if it could not be written */
export interface SinkWriter {
  write(data: Buffer, done: (err?: Error | null) => void): void;
}

/** a file descriptor (1 = stdout): fs.write on the thread pool, so a stalled pipe never blocks the event loop */
export function fdWriter(fd: number): SinkWriter {
  const writeAll = (data: Buffer, done: (err?: Error | null) => void): void => {
    fs.write(fd, data, 0, data.length, null, (err, written) => {
      // a non-blocking pipe that is momentarily full: try again shortly (a reader that stays stalled
      // keeps this write pending, and the sink's bound then drops new lines)
      if (err?.code === "EAGAIN") return void setTimeout(() => writeAll(data, done), 10).unref();
      if (err) return done(err);
      // pipes may take part of a chunk: the rest goes next, in order
      if (written < data.length) return writeAll(data.subarray(written), done);
      done();
    });
  };
  return { write: writeAll };
}

/** a Node stream (tests); its 'error' events are absorbed here instead of crashing the process */
export function streamWriter(stream: Writable): SinkWriter {
  let failed: Error | undefined;
  stream.on("error", (err) => (failed = err));
  return {
    write(data, done) {
      if (failed || stream.destroyed) return done(failed ?? new Error("log stream destroyed"));
      stream.write(data, (err) => done(err));
    },
  };
}

export interface LogSinkOptions {
  /** queued bytes beyond which new lines are dropped */
  maxQueuedBytes?: number;
  /** pause before writing again after a failed write */
  retryMs?: number;
  /** told of every dropped line (the log_lines_dropped_total metric) */
  onDrop?: (lines: number) => void;
}

export class SafeLogSink {
  private queue: string[] = [];
  private queuedBytes = 0;
  private writing = false;
  private retryTimer?: NodeJS.Timeout;
  private droppedSinceReport = 0;
  /** lines dropped since start */
  droppedTotal = 0;
  private readonly maxQueuedBytes: number;
  private readonly retryMs: number;

  constructor(private readonly writer: SinkWriter, private readonly options: LogSinkOptions = {}) {
    this.maxQueuedBytes = options.maxQueuedBytes ?? 4 * 1024 * 1024;
    this.retryMs = options.retryMs ?? 1000;
  }

  /** pino's destination interface: never throws, never blocks */
  write(line: string): void {
    if (this.queuedBytes + line.length > this.maxQueuedBytes) return this.drop(1);
    this.queue.push(line);
    this.queuedBytes += line.length;
    this.kick();
  }

  private drop(lines: number): void {
    this.droppedSinceReport += lines;
    this.droppedTotal += lines;
    this.options.onDrop?.(lines);
  }

  private kick(): void {
    if (this.writing || this.retryTimer || this.queue.length === 0) return;
    const batch = this.queue;
    this.queue = [];
    this.queuedBytes = 0;
    this.writing = true;
    const finish = (err?: Error | null) => {
      this.writing = false;
      if (err) {
        this.drop(batch.length);
        // try again later, not in a tight loop against a broken sink
        this.retryTimer = setTimeout(() => {
          this.retryTimer = undefined;
          this.kick();
        }, this.retryMs);
        this.retryTimer.unref();
        return;
      }
      if (this.droppedSinceReport > 0) this.reportRecovery();
      this.kick();
    };
    try {
      this.writer.write(Buffer.from(batch.join("")), finish);
    } catch (err) {
      finish(err instanceof Error ? err : new Error(String(err)));
    }
  }

  /** the one line saying what was lost, first in the queue so it precedes what follows */
  private reportRecovery(): void {
    const line = `${JSON.stringify({ level: 40, time: Date.now(), pid: process.pid, droppedLines: this.droppedSinceReport, msg: "log sink writable again: lines were dropped while it was not" })}\n`;
    this.droppedSinceReport = 0;
    this.queue.unshift(line);
    this.queuedBytes += line.length;
  }

  /** lines still queued (tests, and shutdown waiting a moment for them) */
  get pending(): number {
    return this.queue.length + (this.writing ? 1 : 0);
  }

  /** waits until the queue is written or the time is up; never longer (a stalled sink) */
  async drain(maxMs: number): Promise<void> {
    const until = Date.now() + maxMs;
    while (this.pending > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
  }
}
