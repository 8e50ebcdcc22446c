/** `socktrace watch` as a real process: started, awaited until it watches, its JSON lines read at exit. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { scaled } from './time-scale.js';
import { until } from './until.js';

const bin = fileURLToPath(new URL('../../bin/socktrace.js', import.meta.url));
const running = new Set<ChildProcess>();

export interface WatchProcess {
  /** Its pid (to stop and continue it: a watch that falls behind). */
  pid: number;
  /** Resolves at its exit with its exit code, its JSON lines and its stderr. */
  exited: Promise<{ code: number | null; lines: Record<string, unknown>[]; stderr: string }>;
}

/** Starts `socktrace watch <args>` and resolves once it says it is watching. */
export async function startWatch(args: string[]): Promise<WatchProcess> {
  const child = spawn(process.execPath, [bin, 'watch', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const exited = new Promise<{ code: number | null; lines: Record<string, unknown>[]; stderr: string }>((resolve) =>
    child.once('exit', (code) => {
      running.delete(child);
      const lines = out
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      resolve({ code, lines, stderr: err });
    }),
  );
  await until('watch started', scaled(20_000), () => err.includes('watching'));
  return { pid: child.pid!, exited };
}

/** Kills every watch still running (for afterEach). */
export function killWatches(): void {
  for (const c of running) c.kill('SIGKILL');
  running.clear();
}
