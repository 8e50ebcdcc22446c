/**
 * The kernel's tick rate (CONFIG_HZ): the unit of the socket timestamps the answer-time histograms are
 * counted in. From the kernel's own configuration (/proc/config.gz, /boot/config-<release>); failing
 * that, measured from the jiffies counter /proc/timer_list shows, and rounded to a rate Linux offers.
 */
import { readFileSync } from 'node:fs';
import { release } from 'node:os';
import { gunzipSync } from 'node:zlib';

const RATES = [100, 250, 300, 1000];

export interface KernelHz {
  hz: number | null;
  /** Where it came from, or why it is unknown. */
  source: string;
}

function fromConfig(text: string): number | null {
  const m = /^CONFIG_HZ=(\d+)$/m.exec(text);
  return m ? Number(m[1]) : null;
}

function readJiffies(): number | null {
  const m = /^jiffies: (\d+)$/m.exec(readFileSync('/proc/timer_list', 'utf8'));
  return m ? Number(m[1]) : null;
}

function measure(): number | null {
  const t0 = process.hrtime.bigint();
  const j0 = readJiffies();
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
  const j1 = readJiffies();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (j0 === null || j1 === null || seconds <= 0) return null;
  const rate = (j1 - j0) / seconds;
  const nearest = RATES.reduce((a, b) => (Math.abs(b - rate) < Math.abs(a - rate) ? b : a));
  return Math.abs(nearest - rate) <= nearest * 0.1 ? nearest : null;
}

export function kernelHz(): KernelHz {
  const tries: [string, () => number | null][] = [
    ['/proc/config.gz', () => fromConfig(gunzipSync(readFileSync('/proc/config.gz')).toString('latin1'))],
    [`/boot/config-${release()}`, () => fromConfig(readFileSync(`/boot/config-${release()}`, 'latin1'))],
    ['jiffies in /proc/timer_list, measured', measure],
  ];
  for (const [source, read] of tries) {
    try {
      const hz = read();
      if (hz !== null && hz > 0) return { hz, source };
    } catch {
      // not on this host: the next source
    }
  }
  return { hz: null, source: 'unknown: no /proc/config.gz, no /boot/config-<release>, no readable /proc/timer_list' };
}
