/**
 * A log file that rotates by size: file -> file.1 -> … -> file.<keep>, the oldest dropped. Writes are
 * synchronous (SonicBoom with sync: true): the daemon's log is rate-limited and small, and an
 * asynchronous write still in flight at rotation could land after a later, flushed one.
 */
import { existsSync, fstatSync, renameSync, rmSync } from 'node:fs';
import { pino } from 'pino';
import { openLogFile } from './log-path.js';

type Sink = ReturnType<typeof pino.destination>;

/** Throws LogPathError when the path cannot be used (see log-path.ts). */
function openSink(fd: number): Sink {
  return pino.destination({ dest: fd, sync: true });
}

export class RotatingFile {
  private sink: Sink;
  private bytes: number;

  constructor(
    readonly path: string,
    private readonly maxBytes: number,
    private readonly keep: number,
  ) {
    const fd = openLogFile(path);
    this.bytes = fstatSync(fd).size;
    this.sink = openSink(fd);
  }

  /** The stream interface pino writes to. */
  write(chunk: string): boolean {
    this.sink.write(chunk);
    this.bytes += Buffer.byteLength(chunk);
    if (this.bytes >= this.maxBytes) this.rotate();
    return true;
  }

  /**
   * Moves the files along and opens a new one. If that cannot be done (out of file descriptors, the
   * directory gone), the current file keeps the records and rotation is tried again after another
   * maxBytes: a log that cannot rotate must not take the daemon down.
   */
  rotate(): void {
    const old = this.sink;
    old.flushSync();
    try {
      this.moveAlong();
      this.sink = openSink(openLogFile(this.path));
    } catch {
      this.bytes = 0;
      return;
    }
    old.end();
    this.bytes = 0;
  }

  private moveAlong(): void {
    if (this.keep === 0) {
      rmSync(this.path, { force: true });
    } else {
      rmSync(`${this.path}.${this.keep}`, { force: true });
      for (let i = this.keep - 1; i >= 1; i--) {
        if (existsSync(`${this.path}.${i}`)) renameSync(`${this.path}.${i}`, `${this.path}.${i + 1}`);
      }
      renameSync(this.path, `${this.path}.1`);
    }
  }

  flush(): void {
    this.sink.flushSync();
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.sink.once('close', () => resolve());
      this.sink.end();
    });
  }
}
