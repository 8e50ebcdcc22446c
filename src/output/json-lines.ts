/**
 * One JSON object per line through pino's asynchronous destination (sonic-boom): lines leave in order,
 * a batch of events in one write, off the event path. Every line carries pino's level label ("info";
 * "warn" for losses) and no pid or hostname keys: the rest of the line is the record.
 *
 * The destination only buffers so much: once a write leaves it backed up (a slow reader, a full pipe),
 * `onBackedUp` is told, and `onDrained` once it has written everything. The caller pauses its source in
 * between, so backpressure ends in the kernel's ring buffer, where drops are counted, and not in an
 * ever-growing buffer here.
 */
import { pino } from 'pino';

export interface JsonLines {
  /** One record as a line. */
  write(record: object): void;
  /** The same, at level warn: something was lost or went wrong. */
  warn(record: object): void;
  /** Lines made by `toLine` (null: leave the item out), all in one write. */
  writeBatch<T>(items: readonly T[], toLine: (item: T) => string | null): void;
  /** Flushes what is buffered; resolves when it reached the file descriptor. */
  close(): Promise<void>;
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

export function openJsonLines(fd = 1, backpressure?: Backpressure): JsonLines {
  const destination = pino.destination({ dest: fd, sync: false, contentMode: 'buffer', minLength: 0, maxWrite: 1 << 20 });
  let readerGone = false;
  let backedUp = false;
  const readerGoneCallbacks: (() => void)[] = [];
  destination.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    readerGone = true;
    for (const cb of readerGoneCallbacks) cb();
  });
  destination.on('drain', () => {
    if (!backedUp) return;
    backedUp = false;
    backpressure?.onDrained();
  });

  // What was handed to the destination and not yet written (it reports each write).
  let pending = 0;
  destination.on('write', (n: number) => (pending -= n));

  // Lines are encoded into one growing scratch buffer and copied out once per batch (the destination
  // keeps what it is given until written, so the scratch cannot be handed over).
  let scratch = Buffer.allocUnsafe(1 << 20);
  const send = (bytes: Buffer) => {
    if (readerGone || bytes.length === 0) return;
    pending += bytes.length;
    // In contentMode 'buffer' sonic-boom takes Buffers, which its types do not say.
    (destination as unknown as { write(bytes: Buffer): boolean }).write(bytes);
    // sonic-boom's own mark is 16 KiB; ours lets a few batches queue before the source is paused.
    if (!backedUp && pending > HIGH_WATER_BYTES) {
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
    get closedByReader() {
      return readerGone;
    },
    onReaderGone(callback) {
      readerGoneCallbacks.push(callback);
    },
    close() {
      return new Promise((resolve) => {
        if (readerGone) return resolve();
        destination.once('close', () => resolve());
        destination.once('error', () => resolve());
        destination.end();
      });
    },
  };
}
