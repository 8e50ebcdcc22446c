/**
 * A log file that rotates by size: file -> file.1 -> … -> file.<keep>, the oldest dropped. Writes are
 * synchronous (SonicBoom with sync: true): the daemon's log is rate-limited and small, and an
 * asynchronous write still in flight at rotation could land after a later, flushed one.
 */
import { existsSync, mkdirSync, openSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { pino } from 'pino';

type Sink = ReturnType<typeof pino.destination>;

function openSink(path: string): Sink {
  mkdirSync(dirname(path), { recursive: true });
  return pino.destination({ dest: openSync(path, 'a'), sync: true });
}

export class RotatingFile {
  private sink: Sink;
  private bytes: number;

  constructor(
    readonly path: string,
    private readonly maxBytes: number,
    private readonly keep: number,
  ) {
    this.sink = openSink(path);
    this.bytes = existsSync(path) ? statSync(path).size : 0;
  }

  /** The stream interface pino writes to. */
  write(chunk: string): boolean {
    this.sink.write(chunk);
    this.bytes += Buffer.byteLength(chunk);
    if (this.bytes >= this.maxBytes) this.rotate();
    return true;
  }

  rotate(): void {
    const old = this.sink;
    old.flushSync();
    old.end();
    if (this.keep === 0) {
      rmSync(this.path, { force: true });
    } else {
      rmSync(`${this.path}.${this.keep}`, { force: true });
      for (let i = this.keep - 1; i >= 1; i--) {
        if (existsSync(`${this.path}.${i}`)) renameSync(`${this.path}.${i}`, `${this.path}.${i + 1}`);
      }
      renameSync(this.path, `${this.path}.1`);
    }
    this.sink = openSink(this.path);
    this.bytes = 0;
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
