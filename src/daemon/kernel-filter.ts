/** What the daemon needs from the kernel, as the tracer's filter masks. */
import type { DaemonConfig } from '../config/daemon-config.js';
import { KIND_CODES } from '../backends/native/record-layout.js';
import type { KernelFilter } from '../backends/event-source.js';
import { TCP_STATES } from '../events/tcp-names.js';

/**
 * Hooks the daemon leaves unattached, each a cost per connection it has no use for: tcp_destroy_sock
 * unless destroy events are logged (owners then end at the change to CLOSE, in the kernel). Fixed at
 * start: a reload that changes them needs a restart. (accept's exits stay: failed accepts always count;
 * tracer.acceptHooks only says whether they also learn the owners of accepted sockets.)
 */
export function disabledHooksFor(config: DaemonConfig): string[] {
  return (config.log.events as string[]).includes('destroy') ? [] : ['tcp_destroy_sock'];
}

export function kernelFilterFor(config: DaemonConfig): Required<KernelFilter> {
  // RSTs and errors feed the metrics always; state changes feed the core (CLOSE_WAIT ages, listeners).
  let kinds =
    (1 << KIND_CODES.rst_sent) | (1 << KIND_CODES.rst_received) | (1 << KIND_CODES.send_error) | (1 << KIND_CODES.recv_error) | (1 << KIND_CODES.state_change) |
    (1 << KIND_CODES.accept_error) | (1 << KIND_CODES.retransmit) | (1 << KIND_CODES.connection_error);
  if ((config.log.events as string[]).includes('destroy')) kinds |= 1 << KIND_CODES.destroy;
  let states = 0;
  for (const s of [...config.tracer.states, ...config.log.states]) {
    const code = (TCP_STATES as readonly string[]).indexOf(s);
    if (code > 0) states |= 1 << code;
  }
  return { emitKinds: kinds >>> 0, emitStates: states >>> 0 };
}
