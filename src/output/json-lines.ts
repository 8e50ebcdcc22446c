/**
 * One JSON object per line through pino's asynchronous destination: lines leave in order, in large
 * writes, off the event path. Lines carry pino's level as a label ("info"; "warn" for losses) and no
 * pid or hostname keys: the rest of the line is the record.
 */
import { pino, type Logger } from 'pino';

export interface JsonLines {
  write(record: object): void;
  /** The same, at level warn: something was lost or went wrong. */
  warn(record: object): void;
  /** Flushes what is buffered; resolves when it reached the file descriptor. */
  close(): Promise<void>;
  /** Set when the reader went away (EPIPE): there is no one left to write for. */
  readonly closedByReader: boolean;
  onReaderGone(callback: () => void): void;
}

export function openJsonLines(fd = 1): JsonLines {
  const destination = pino.destination({ dest: fd, sync: false, minLength: 8 * 1024 });
  const logger: Logger = pino(
    { base: null, timestamp: false, formatters: { level: (label) => ({ level: label }) } },
    destination,
  );
  let readerGone = false;
  const readerGoneCallbacks: (() => void)[] = [];
  destination.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    readerGone = true;
    for (const cb of readerGoneCallbacks) cb();
  });
  return {
    write(record) {
      if (!readerGone) logger.info(record);
    },
    warn(record) {
      if (!readerGone) logger.warn(record);
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
