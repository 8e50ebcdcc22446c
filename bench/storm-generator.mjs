// Runs bench/error-storm.c (pinned to CPU 0) for the benchmarks that need an EPIPE storm.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

/**
 * Starts the generator with its connection set up and waiting; resolves with its pid (to filter on)
 * and go(), which starts the storm and resolves with the generator's counts { errors, seconds, rate }.
 */
export async function startGenerator(bin, seconds, rate) {
  const child = spawn('taskset', ['-c', '0', bin, String(seconds), String(rate)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = once(child, 'exit');
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const first = await lines.next();
  if (first.done) throw new Error('the generator exited before setting up its connection');
  const { pid } = JSON.parse(first.value);
  const go = async () => {
    child.stdin.end('x');
    const result = await lines.next();
    const [code] = await exited;
    if (result.done || code !== 0) throw new Error(`the generator failed (exit ${code})`);
    return JSON.parse(result.value);
  };
  return { pid, go };
}
