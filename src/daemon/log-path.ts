/**
 * Opening the daemon's log file, checked: every directory on the way made one level at a time (never a
 * recursive mkdir, which spins forever under /proc), a symbolic link refused rather than followed (as
 * root, following one appends to whatever the link names), and only a regular file accepted. Each
 * failure is a LogPathError saying what is wrong with the path, for the caller to name the flag or key.
 */
import { closeSync, constants, fstatSync, mkdirSync, openSync, statSync } from 'node:fs';
import { dirname, resolve, sep } from 'node:path';

export class LogPathError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LogPathError';
  }
}

function code(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? (error as Error).message;
}

/** Makes `dir` and its missing parents, one level at a time; each existing one must be a directory. */
function makeDirectories(dir: string): void {
  const parts = dir.split(sep).filter(Boolean);
  let at = '';
  for (const part of parts) {
    at = `${at}${sep}${part}`;
    let isDirectory: boolean | null;
    try {
      isDirectory = statSync(at).isDirectory();
    } catch (error) {
      if (code(error) !== 'ENOENT') throw new LogPathError(`cannot look at ${at}: ${code(error)}`);
      isDirectory = null;
    }
    if (isDirectory === false) throw new LogPathError(`${at} is not a directory`);
    if (isDirectory === null) {
      try {
        mkdirSync(at, { mode: 0o750 });
      } catch (error) {
        if (code(error) !== 'EEXIST') throw new LogPathError(`cannot create the directory ${at}: ${code(error)}`);
      }
    }
  }
}

/** Opens `path` for appending (creating it and its directories); returns the file descriptor. */
export function openLogFile(path: string): number {
  if (path.endsWith(sep)) throw new LogPathError(`${path} names a directory, not a file`);
  const absolute = resolve(path);
  makeDirectories(dirname(absolute));
  let fd: number;
  try {
    fd = openSync(absolute, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK, 0o640);
  } catch (error) {
    const c = code(error);
    if (c === 'ELOOP') throw new LogPathError(`${absolute} is a symbolic link; socktrace does not follow one for its log: name the file itself`);
    if (c === 'EISDIR') throw new LogPathError(`${absolute} is a directory, not a file`);
    throw new LogPathError(`cannot open ${absolute} for appending: ${c}`);
  }
  if (!fstatSync(fd).isFile()) {
    closeSync(fd);
    throw new LogPathError(`${absolute} is not a regular file`);
  }
  return fd;
}
