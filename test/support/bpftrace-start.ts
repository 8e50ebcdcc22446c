/**
 * What a kernel test must allow for each bpftrace it starts. Compiling and attaching socktrace's
 * script takes ~11 s on this machine, inside the tests' usual timeouts; under emulation
 * (scripts/test-on-kernel, no KVM) compiling is slowed down far more than the time scale accounts for
 * (`watch --backend bpftrace` took 128 s to start in 6.1's guest at time scale 4, 12 times as long, and
 * 200-450 s there while other work kept this machine busy), so a test that starts bpftrace adds this
 * per start to its own budget. socktrace itself waits as long as bpftrace keeps working (up to its
 * own cap, far beyond this): the tests' sessions cap the wait at this, so that a start beyond the
 * budget fails with socktrace's message, not a test timeout.
 */
import { scaled } from './time-scale.js';

/** The wait for one bpftrace to attach (tests give startBpftraceSource this too). */
export const BPFTRACE_START_MS = scaled(150_000);

/** A test's timeout: `ms` for its own work (scaled here) plus `starts` bpftrace starts. */
export function withBpftraceStarts(ms: number, starts = 1): number {
  return scaled(ms) + starts * BPFTRACE_START_MS;
}
