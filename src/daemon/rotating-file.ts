/**
 * A log file that rotates by size: file -> file.1 -> … -> file.<keep>, the oldest dropped. Writes go
 * through pino's asynchronous destination (SonicBoom); rotation flushes it, renames, and reopens.
 */
import { existsSync, renameSync, rmSync, statSync } from 'node:fs';
import { pino } from 'pino';

export class RotatingFile {
  private readonly sink: ReturnType<typeof pino.destination>;
  private bytes: number;

  constructor(
    readonly path: string,
    private readonly maxBytes: number,
    private readonly keep: number,
  ) {
    // minLength 0: each record leaves at once (batched only while a write is in flight), so a quiet
    // daemon never sits on a buffered line.
    this.sink = pino.destination({ dest: path, sync: false, mkdir: true, minLength: 0 });
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
    this.sink.flushSync();
    if (this.keep === 0) {
      rmSync(this.path, { force: true });
    } else {
      rmSync(`${this.path}.${this.keep}`, { force: true });
      for (let i = this.keep - 1; i >= 1; i--) {
        if (existsSync(`${this.path}.${i}`)) renameSync(`${this.path}.${i}`, `${this.path}.${i + 1}`);
      }
      renameSync(this.path, `${this.path}.1`);
    }
    this.sink.reopen();
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
