/**
 * The time bounds kernel tests hold socktrace to (a loss shown within 2 s, an exit within 2 s) are
 * for real hardware. Under software emulation (scripts/test-on-kernel runs the tests on another
 * kernel in qemu without KVM, several times slower at everything) the VM sets
 * SOCKTRACE_TEST_TIME_SCALE, and bounds and the workloads' durations scale by it. Unset: 1.
 */
function readScale(text: string | undefined): number {
  if (text === undefined || text === '') return 1;
  const n = Number(text);
  if (!Number.isFinite(n) || n < 1 || n > 100) throw new Error(`SOCKTRACE_TEST_TIME_SCALE must be a number from 1 to 100, got ${JSON.stringify(text)}`);
  return n;
}

export const TIME_SCALE = readScale(process.env.SOCKTRACE_TEST_TIME_SCALE);

/** `ms` (or seconds) on this machine's hardware, stretched by the emulation factor. */
export function scaled(amount: number): number {
  return amount * TIME_SCALE;
}
