/**
 * One JSON object per line on standard output, a batch of events in one write. Every line carries a
 * pino-style level label ("info"; "warn" for losses) and no pid or hostname keys: the rest of the line
 * is the record.
 *
 * Lines go through Node's own stdout stream: on a pipe, libuv waits for it to become writable (epoll),
 * where a writer of its own would have to poll — Node leaves a stdout pipe non-blocking, and pino's
 * destination retries a full one only every 100 ms, which capped `watch | consumer` at a few MB/s.
 *
 * The stream only buffers so much: once a write leaves it backed up (a slow reader, a full pipe),
 * `onBackedUp` is told, and `onDrained` once it has written everything. The caller pauses its source in
 * between, so backpressure ends in the kernel's ring buffer, where drops are counted, and not in an
 * ever-growing buffer here.
 */
export interface JsonLines {
  /** One record as a line. */
  write(record: object): void;
  /** The same, at level warn: something was lost or went wrong. */
  warn(record: object): void;
  /** Lines made by `toLine` (null: leave the item out), all in one write. */
  writeBatch<T>(items: readonly T[], toLine: (item: T) => string | null): void;
  /** Whole lines already made (bytes as they are, strings as UTF-8), all in one write. */
  writeChunks(chunks: readonly (Uint8Array | string)[]): void;
  /**
   * Resolves once everything written so far has reached the file descriptor, or after `timeoutMs` with
   * how many bytes had not (a reader that stopped reading must not keep the process from ending).
   */
  close(timeoutMs: number): Promise<number>;
  /** Set when the reader went away (EPIPE): there is no one left to write for. */
  readonly closedByReader: boolean;
  onReaderGone(callback: () => void): void;
}

export interface Backpressure {
  onBackedUp(): void;
  onDrained(): void;
}

/** Bytes buffered before the writer counts as backed up: a few batches' worth of lines. */
const HIGH_WATER_BYTES = 4 << 20;

export function openJsonLines(stream: NodeJS.WriteStream = process.stdout, backpressure?: Backpressure): JsonLines {
  let readerGone = false;
  let backedUp = false;
  const readerGoneCallbacks: (() => void)[] = [];
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    readerGone = true;
    for (const cb of readerGoneCallbacks) cb();
  });
  stream.on('drain', () => {
    if (!backedUp) return;
    backedUp = false;
    backpressure?.onDrained();
  });

  // Lines are encoded into one growing scratch buffer and copied out once per batch (the stream keeps
  // what it is given until written, so the scratch cannot be handed over).
  let scratch = Buffer.allocUnsafe(1 << 20);
  const send = (bytes: Buffer) => {
    if (readerGone || bytes.length === 0) return;
    stream.write(bytes);
    // The stream's own mark is 16 KiB; ours lets a few batches queue before the source is paused.
    if (!backedUp && stream.writableLength > HIGH_WATER_BYTES) {
      backedUp = true;
      backpressure?.onBackedUp();
    }
  };
  const line = (level: 'info' | 'warn', record: object) => {
    const rest = JSON.stringify(record).slice(1);
    return Buffer.from(`{"level":"${level}"${rest === '}' ? '' : ','}${rest}\n`);
  };

  return {
    write(record) {
      send(line('info', record));
    },
    warn(record) {
      send(line('warn', record));
    },
    writeBatch(items, toLine) {
      if (readerGone) return;
      let used = 0;
      for (const item of items) {
        const text = toLine(item);
        if (text === null) continue;
        // Three bytes per UTF-16 unit at most: room is made before writing, since write() truncates.
        if (scratch.length - used < text.length * 3) {
          const bigger = Buffer.allocUnsafe(Math.max(scratch.length * 2, used + text.length * 3));
          scratch.copy(bigger, 0, 0, used);
          scratch = bigger;
        }
        used += scratch.write(text, used, 'utf8');
      }
      send(Buffer.from(scratch.subarray(0, used)));
    },
    writeChunks(chunks) {
      if (readerGone || chunks.length === 0) return;
      // Bytes are viewed, not copied: the stream keeps them (and the addon's batch with them) until written.
      const bytes = (c: Uint8Array | string) => (typeof c === 'string' ? Buffer.from(c) : Buffer.from(c.buffer, c.byteOffset, c.byteLength));
      send(chunks.length === 1 ? bytes(chunks[0]!) : Buffer.concat(chunks.map(bytes)));
    },
    get closedByReader() {
      return readerGone;
    },
    onReaderGone(callback) {
      readerGoneCallbacks.push(callback);
    },
    close(timeoutMs) {
      return new Promise((resolve) => {
        if (readerGone || stream.writableLength === 0) return resolve(0);
        const done = () => {
          clearTimeout(timer);
          stream.off('drain', done);
          stream.off('error', done);
          resolve(readerGone ? 0 : stream.writableLength);
        };
        const timer = setTimeout(done, timeoutMs);
        stream.on('drain', done);
        stream.on('error', done);
      });
    },
  };
}
