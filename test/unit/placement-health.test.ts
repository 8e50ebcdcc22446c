/**
 * Whether socktrace can say where processes live, as doctor and the daemon's metrics tell it: the
 * cgroup mounts it resolves owners' cgroup ids with, and the Kubernetes pod directory (on statuses
 * as KubernetesPodDirectory reports them).
 */
import { expect, it } from 'vitest';
import { cgroupPlacementCheck, podNamesCheck } from '../../src/commands/doctor-checks.js';
import { DaemonMetrics } from '../../src/daemon/metrics.js';
import { KubernetesPodDirectory, type PodDirectoryStatus } from '../../src/inventory/kubernetes-pods.js';
import { metricsInputs } from '../support/metrics-inputs.js';

const listing: PodDirectoryStatus = {
  inCluster: true,
  enabled: true,
  disabledReason: null,
  nodeName: 'node-a',
  pods: 12,
  refreshes: 3,
  failures: 0,
  consecutiveFailures: 0,
  lastError: null,
  lastErrorAt: null,
  lastSuccessAt: 1_000,
};
const failing: PodDirectoryStatus = {
  ...listing,
  pods: 0,
  refreshes: 0,
  failures: 2,
  consecutiveFailures: 2,
  lastError: 'list pods: HTTP 403 Forbidden: pods is forbidden: User "system:serviceaccount:socktrace:socktrace" cannot list resource "pods"',
  lastErrorAt: 2_000,
  lastSuccessAt: null,
};

it('doctor: owners placed by cgroup id on a cgroup v2 host, from /proc with v1 hierarchies, warned without a cgroup2 root', () => {
  expect(cgroupPlacementCheck({ unified: '/sys/fs/cgroup', v1: false })).toMatchObject({ ok: true, detail: expect.stringMatching(/^cgroup v2 at \/sys\/fs\/cgroup: placed by the cgroup id/) });
  expect(cgroupPlacementCheck({ unified: '/sys/fs/cgroup/unified', v1: true })).toMatchObject({ ok: true, detail: expect.stringMatching(/from \/proc\/<pid>\/cgroup, and by the cgroup id .* gone/) });
  const none = cgroupPlacementCheck({ unified: null, v1: true });
  expect(none).toMatchObject({ ok: true, degraded: true, fix: expect.stringContaining('/host/sys/fs/cgroup') });
});

it("doctor: pod names fine out of a cluster, warned in one when the listing fails or cannot run, with the API's reason", () => {
  const outside = new KubernetesPodDirectory({ env: {} }).status();
  expect(podNamesCheck(outside)).toEqual({ name: 'pod names', ok: true, detail: 'not in a Kubernetes pod: pods (if any) are named by their uid alone' });
  const noNode = new KubernetesPodDirectory({ env: { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' } }).status();
  expect(podNamesCheck(noNode)).toMatchObject({ ok: true, degraded: true, detail: expect.stringContaining('NODE_NAME is unset') });
  expect(podNamesCheck(failing)).toMatchObject({ ok: true, degraded: true, detail: expect.stringContaining('HTTP 403 Forbidden'), fix: expect.stringContaining('get, list and watch') });
  expect(podNamesCheck(listing)).toMatchObject({ ok: true, detail: '12 pods of node node-a listed from the Kubernetes API' });
  expect(podNamesCheck(listing).degraded).toBeUndefined();
});

function metricsWith(status: () => PodDirectoryStatus | undefined): DaemonMetrics {
  return new DaemonMetrics(metricsInputs({ podDirectory: () => status() as PodDirectoryStatus }));
}

it('metrics: the pod directory up, its pods and its failures, labelled with the node; no series out of a cluster', async () => {
  let status: PodDirectoryStatus = listing;
  const m = metricsWith(() => status);
  let text = await m.registry.metrics();
  expect(text).toMatch(/^socktrace_pod_directory_up\{node="node-a"\} 1$/m);
  expect(text).toMatch(/^socktrace_pod_directory_pods\{node="node-a"\} 12$/m);
  expect(text).toMatch(/^socktrace_pod_directory_failures_total\{node="node-a"\} 0$/m);
  status = failing;
  text = await m.registry.metrics();
  expect(text).toMatch(/^socktrace_pod_directory_up\{node="node-a"\} 0$/m);
  expect(text).toMatch(/^socktrace_pod_directory_failures_total\{node="node-a"\} 2$/m);
  // Listing again after failures: up once more, failures stay counted.
  status = { ...listing, failures: 2 };
  text = await m.registry.metrics();
  expect(text).toMatch(/^socktrace_pod_directory_up\{node="node-a"\} 1$/m);
  expect(text).toMatch(/^socktrace_pod_directory_failures_total\{node="node-a"\} 2$/m);

  const outside = await metricsWith(() => new KubernetesPodDirectory({ env: {} }).status()).registry.metrics();
  expect(outside).not.toMatch(/^socktrace_pod_directory_\w+\{/m);
  const absent = await metricsWith(() => undefined).registry.metrics();
  expect(absent).not.toMatch(/^socktrace_pod_directory_\w+\{/m);
});
