/** The daemon's JSON log: pino to stdout (for journald and log shippers) or to a rotating file. */
import { pino, type Logger } from 'pino';
import type { DaemonConfig } from '../config/daemon-config.js';
import { RotatingFile } from './rotating-file.js';

export interface DaemonLog {
  logger: Logger;
  /** Flushes and closes the destination. */
  close(): Promise<void>;
  /** Writes out what is buffered, now (before a forced exit); a full pipe keeps the rest. */
  flushSync(): void;
}

export function openDaemonLog(config: DaemonConfig['log']): DaemonLog {
  const file = config.file ? new RotatingFile(config.file, config.maxBytes, config.keep) : null;
  const stdout = file ? null : pino.destination({ dest: 1, sync: false, minLength: 0 });
  const logger = pino(
    {
      level: config.level,
      base: null,
      // Records carry their own `time` (an event's kernel time); plain messages get the time of logging.
      timestamp: false,
      mixin: () => ({ time: new Date().toISOString() }),
      formatters: { level: (label) => ({ level: label }) },
    },
    file ?? stdout!,
  );
  return {
    logger,
    async close() {
      if (file) {
        file.flush();
        await file.close();
      } else {
        stdout!.flushSync();
      }
    },
    flushSync() {
      try {
        if (file) file.flush();
        else stdout!.flushSync();
      } catch {
        // EAGAIN on a full stdout pipe: the process is about to exit either way
      }
    },
  };
}
