#!/usr/bin/env node
// Decode and aggregate throughput, no kernel involved: batches of socktrace_event records as the addon
// hands them over (4096 records each, the native default), decoded by decodeBatch and then applied to
// the core (SocketCore.applyEvents), in records per second, for two workloads: loopback churn (each
// connection's ten state changes and two destroys, owners and peers varying as on a busy host) and an
// error storm (one process's EPIPEs on one socket, as bench/error-storm.c makes them).
//
//   node bench/decode-throughput.mjs [--seconds 3] [--batch 4096]
// (run `npm run build` first: it uses dist/)
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { root } from './churn-harness.mjs';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '3' }, batch: { type: 'string', default: '4096' } } });
const seconds = Number(values.seconds);
const batchRecords = Number(values.batch);
if (!(seconds > 0 && seconds <= 60) || !(Number.isInteger(batchRecords) && batchRecords > 0 && batchRecords <= 1 << 20)) {
  console.error('decode-throughput: --seconds must be in (0, 60] and --batch a whole number from 1 to 1048576');
  process.exit(2);
}
const dist = (p) => import(join(root, 'dist', p));
const { FIELDS: F, RECORD_SIZE, KIND_CODES } = await dist('native/record-layout.js');
const { decodeBatch } = await dist('events/decode-batch.js');
const { SocketCore } = await dist('core/socket-core.js');
const { DEFAULT_CORE_CONFIG } = await dist('core/core-config.js');

// Churn: one connection's twelve records, client and server state changes, then both destroys.
const STEPS = [
  ['c', 7, 2], ['s', 10, 3], ['c', 2, 1], ['s', 3, 1], ['c', 1, 4], ['s', 1, 8],
  ['c', 4, 5], ['s', 8, 9], ['c', 5, 7], ['s', 9, 7], ['c', 7, 0], ['s', 7, 0],
];
function churnBatch(firstConnection) {
  const buffer = new ArrayBuffer(batchRecords * RECORD_SIZE);
  const view = new DataView(buffer);
  const bytes = new Uint8Array(buffer);
  const name = new TextEncoder().encode('server-worker');
  for (let i = 0; i < batchRecords; i++) {
    const conn = firstConnection + Math.floor(i / STEPS.length);
    const [side, from, to] = STEPS[i % STEPS.length];
    const base = i * RECORD_SIZE;
    const client = side === 'c';
    view.setBigUint64(base + F.ts_ns.offset, BigInt(conn) * 50_000n + BigInt(i % STEPS.length) * 1000n, true);
    view.setBigUint64(base + F.sock_id.offset, BigInt(conn * 2 + (client ? 0 : 1)), true);
    view.setUint32(base + F.owner_pid.offset, client ? 1000 + (conn % 64) : 2000 + (conn % 8), true);
    view.setUint32(base + F.task_pid.offset, 3000, true);
    view.setUint32(base + F.netns.offset, 4026531833, true);
    bytes.set([127, 0, 0, 1], base + F.saddr.offset);
    bytes.set([10, 0, (conn >> 8) & 255, conn & 255], base + F.daddr.offset);
    view.setUint16(base + F.sport.offset, client ? 32768 + (conn % 28000) : 8080, true);
    view.setUint16(base + F.dport.offset, client ? 8080 : 32768 + (conn % 28000), true);
    view.setUint16(base + F.family.offset, 2, true);
    view.setUint8(base + F.kind.offset, to === 0 ? KIND_CODES.destroy : KIND_CODES.state_change);
    view.setUint8(base + F.owner_source.offset, 1);
    view.setUint8(base + F.old_state.offset, to === 0 ? 0 : from);
    view.setUint8(base + F.state.offset, to === 0 ? 7 : to);
    view.setUint16(base + F.reason.offset, 0xffff, true);
    bytes.set(name, base + F.owner_comm.offset);
    bytes.set(name, base + F.task_comm.offset);
  }
  return buffer;
}

// Storm: one process failing send() with EPIPE on one socket (bench/error-storm.c), 1 µs apart.
function stormBatch(b) {
  const buffer = new ArrayBuffer(batchRecords * RECORD_SIZE);
  const view = new DataView(buffer);
  const bytes = new Uint8Array(buffer);
  const name = new TextEncoder().encode('error-storm');
  for (let i = 0; i < batchRecords; i++) {
    const base = i * RECORD_SIZE;
    view.setBigUint64(base + F.ts_ns.offset, BigInt(b * batchRecords + i) * 1000n, true);
    view.setBigUint64(base + F.sock_id.offset, 0x2a2an, true);
    view.setUint32(base + F.owner_pid.offset, 4242, true);
    view.setUint32(base + F.task_pid.offset, 4242, true);
    view.setUint32(base + F.netns.offset, 4026531833, true);
    bytes.set([127, 0, 0, 1], base + F.saddr.offset);
    bytes.set([127, 0, 0, 1], base + F.daddr.offset);
    view.setUint16(base + F.sport.offset, 40000, true);
    view.setUint16(base + F.dport.offset, 41000, true);
    view.setUint16(base + F.family.offset, 2, true);
    view.setUint8(base + F.kind.offset, KIND_CODES.send_error);
    view.setUint8(base + F.owner_source.offset, 1);
    view.setUint8(base + F.state.offset, 4);
    view.setUint16(base + F.reason.offset, 0xffff, true);
    view.setInt32(base + F.err.offset, 32, true);
    bytes.set(name, base + F.owner_comm.offset);
    bytes.set(name, base + F.task_comm.offset);
  }
  return buffer;
}

// Several distinct batches, so the core sees sockets come and go rather than one batch again.
const workloads = {
  churn: Array.from({ length: 16 }, (_, b) => churnBatch(b * Math.ceil(batchRecords / STEPS.length))),
  storm: Array.from({ length: 16 }, (_, b) => stormBatch(b)),
};

function measure(label, batches, work) {
  let records = 0;
  const end = performance.now() + seconds * 1000;
  const start = performance.now();
  for (let i = 0; performance.now() < end; i++) records += work(batches[i % batches.length]);
  const rate = Math.round(records / ((performance.now() - start) / 1000));
  console.log(`${label.padEnd(28)} ${rate.toLocaleString('en-US').padStart(12)} records/s`);
  return rate;
}

const summary = { bench: 'decode-throughput', seconds, batchRecords };
for (const [workload, batches] of Object.entries(workloads)) {
  summary[`${workload}_decode_records_per_s`] = measure(`${workload}: decode`, batches, (buffer) => decodeBatch(buffer, batchRecords).events.length);
  const core = new SocketCore(DEFAULT_CORE_CONFIG);
  summary[`${workload}_decode_aggregate_records_per_s`] = measure(`${workload}: decode + aggregate`, batches, (buffer) => {
    const { events } = decodeBatch(buffer, batchRecords);
    core.applyEvents(events);
    return events.length;
  });
}
console.log(JSON.stringify(summary));
