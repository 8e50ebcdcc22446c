// One socket of the inventory (sock_diag), as the addon hands it to TypeScript: a fixed record, mirrored
// by src/backends/native/inventory-layout.ts and checked against inventoryLayout() by a test, like the event record.
#pragma once

#define SOCKTRACE_INVENTORY_NO_INFO 0xffffffffu  // the tcp_info fields when the kernel sent none

struct socktrace_inventory_entry {
  unsigned long long cookie;        // socket cookie: the sock id events carry
  unsigned int inode;               // socket inode: what /proc/<pid>/fd links name (0: no file, e.g. TIME_WAIT)
  unsigned int uid;
  unsigned int netns;               // network namespace inode
  unsigned int expires_ms;          // idiag_expires: time left on the pending timer
  unsigned int last_ack_recv_ms;    // tcp_info: ms since the last ACK arrived (a lower bound of CLOSE_WAIT age)
  unsigned int last_data_recv_ms;
  unsigned int last_data_sent_ms;
  unsigned int rqueue;
  unsigned int wqueue;
  unsigned char saddr[16];          // local address: IPv4 in the first 4 bytes, or IPv6
  unsigned char daddr[16];          // peer address
  unsigned short sport;             // host order
  unsigned short dport;
  unsigned short family;            // AF_INET or AF_INET6
  unsigned char state;              // TCP state, as in events
  unsigned char timer;              // idiag_timer: 0 none, 1 retransmit, 2 keepalive, 3 TIME_WAIT, 4 probe
  unsigned int _reserved;
};
