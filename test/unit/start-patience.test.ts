/**
 * The wait for bpftrace to attach, on real processes: it lasts while the process uses CPU (a slow
 * host's compile), ends at a stall (a hang) or at the cap, and says which and how long it waited.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { afterEach, expect, it } from 'vitest';
import { cpuTicks, watchStart } from '../../src/backends/bpftrace/start-patience.js';

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});

/** A process that burns CPU for `burnMs` (forever when null), then sleeps; resolves once it runs. */
async function burner(burnMs: number | null): Promise<ChildProcess> {
  const script = `
    process.stdout.write('up\\n');
    const end = ${burnMs === null ? 'Infinity' : `Date.now() + ${burnMs}`};
    while (Date.now() < end) {}
    setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()));
  return child;
}

function watched(pid: number, stallMs: number, capMs: number): Promise<{ why: string; afterMs: number }> {
  const start = Date.now();
  return new Promise((resolve) => watchStart(pid, { stallMs, capMs, pollMs: 50 }, (why) => resolve({ why, afterMs: Date.now() - start })));
}

it('reads a process\'s CPU time, and null once it is gone', async () => {
  const child = await burner(300);
  await new Promise((r) => setTimeout(r, 600));
  expect(cpuTicks(child.pid!)).toBeGreaterThanOrEqual(10); // 0.1 s of the 0.3 s burnt, at least
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  expect(cpuTicks(child.pid!)).toBeNull();
});

it('waits past the stall bound while the process keeps working, then gives up at the stall, saying so', async () => {
  // Busy for 2 s, four times the stall bound: a fixed wait of that bound would have given up while it worked.
  const child = await burner(2000);
  const { why, afterMs } = await watched(child.pid!, 500, 60_000);
  expect(afterMs).toBeGreaterThanOrEqual(2000);
  expect(why).toMatch(/^it stalled: no CPU time for 0\.\d s \(after \d+\.\d s in all, \d+\.\d s of CPU\)$/);
  const cpu = Number(/, (\d+\.\d) s of CPU/.exec(why)![1]);
  expect(cpu).toBeGreaterThanOrEqual(1);
});

it('gives up at the cap however busy the process is, saying so', async () => {
  const child = await burner(null);
  const { why, afterMs } = await watched(child.pid!, 500, 1500);
  expect(afterMs).toBeGreaterThanOrEqual(1500);
  expect(why).toMatch(/^it was still working after 1\.\d s \(\d+\.\d s of CPU\), the most socktrace waits$/);
});

it('says nothing once cancelled (attached), nor for a process that is gone (its exit is reported elsewhere)', async () => {
  const busy = await burner(null);
  const idle = await burner(0);
  const calls: string[] = [];
  const cancel = watchStart(busy.pid!, { stallMs: 200, capMs: 400, pollMs: 20 }, (why) => calls.push(why));
  cancel();
  watchStart(idle.pid!, { stallMs: 300, capMs: 10_000, pollMs: 20 }, (why) => calls.push(why));
  idle.kill('SIGKILL');
  await new Promise((r) => setTimeout(r, 800));
  expect(calls).toEqual([]);
});
