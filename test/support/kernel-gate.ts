/**
 * Kernel tests need root and a loadable addon. Off CI they skip, saying why; under CI=true a kernel
 * test that cannot load BPF fails instead, because CI machines can run them.
 */
import { readFileSync } from 'node:fs';
import { describe, it } from 'vitest';
import { loadBinding } from '../../src/backends/native/binding.js';

export function kernelTestGate(): { ok: true } | { ok: false; reason: string } {
  if (process.getuid?.() !== 0) return { ok: false, reason: 'not root (BPF needs root or CAP_BPF + CAP_PERFMON)' };
  try {
    loadBinding();
  } catch (error) {
    return { ok: false, reason: (error as Error).message };
  }
  return { ok: true };
}

export function addonGate(): { ok: true } | { ok: false; reason: string } {
  try {
    loadBinding();
    return { ok: true };
  } catch (error) {
    return { ok: false, reason: (error as Error).message };
  }
}

export const onCI = process.env.CI === 'true';

function gated(gate: () => { ok: true } | { ok: false; reason: string }) {
  return (name: string, body: () => void) => {
    const g = gate();
    if (g.ok) return describe(name, body);
    if (onCI) {
      return describe(name, () => {
        it('runs on CI', () => {
          throw new Error(`CI=true but this kernel test cannot run: ${g.reason}`);
        });
      });
    }
    return describe.skip(`${name} [skipped: ${g.reason}]`, body);
  };
}

/** describe() for tests that load BPF into the running kernel. */
export const describeKernel = gated(kernelTestGate);
/** describe() for tests that only need the built addon (no privileges). */
export const describeAddon = gated(addonGate);

/** Whether this kernel names the reasons of the RSTs it sends (tcp_send_reset's reason field, 6.10+). */
export function kernelNamesRstReasons(): boolean {
  for (const root of ['/sys/kernel/tracing', '/sys/kernel/debug/tracing']) {
    try {
      return /\sreason;/.test(readFileSync(`${root}/events/tcp/tcp_send_reset/format`, 'utf8'));
    } catch {
      // try the next place tracefs may be
    }
  }
  return false;
}
