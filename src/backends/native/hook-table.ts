/**
 * The addon's hooks (native/hook_table.cc, HookSpecs) as data, for doctor where the addon cannot load;
 * where it loads, doctor asks it (binding.hookTable()). test/unit/hook-table.test.ts holds the two equal.
 */
import type { NativeHook } from './binding.js';

const primary = (category: string, name: string, required = false): NativeHook => ({
  name,
  category,
  required,
  fallbackFor: null,
});
/** Errors caught at the syscalls' exits, on kernels without sock_{send,recv}_length (before 6.3). */
const syscallFallbacks = (calls: string[], fallbackFor: string): NativeHook[] =>
  calls.flatMap((call) =>
    ['enter', 'exit'].map((edge) => ({
      name: `sys_${edge}_${call}`,
      category: 'syscalls',
      required: false,
      fallbackFor,
    })),
  );

/** Primaries before the fallbacks that stand in for them, in the addon's order. */
export const HOOK_TABLE: readonly NativeHook[] = [
  primary('sock', 'inet_sock_set_state', true),
  primary('tcp', 'tcp_send_reset'),
  primary('tcp', 'tcp_receive_reset'),
  primary('tcp', 'tcp_destroy_sock'),
  primary('sock', 'sock_send_length'),
  primary('sock', 'sock_recv_length'),
  primary('syscalls', 'sys_exit_accept4'),
  primary('syscalls', 'sys_exit_accept'),
  primary('sched', 'sched_process_exit', true),
  primary('task', 'task_rename'),
  primary('tcp', 'tcp_retransmit_skb'),
  primary('sock', 'inet_sk_error_report'),
  { name: 'kfree_skb', category: 'skb', required: false, fallbackFor: 'tcp_send_reset' },
  ...syscallFallbacks(['write', 'writev', 'sendto', 'sendmsg', 'sendmmsg'], 'sock_send_length'),
  ...syscallFallbacks(['read', 'readv', 'recvfrom', 'recvmsg', 'recvmmsg'], 'sock_recv_length'),
];
