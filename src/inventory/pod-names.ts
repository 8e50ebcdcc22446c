/**
 * The Kubernetes pod directory of this process (one per process, listing its node's pods in the
 * background), when it runs in a cluster with the DaemonSet's ServiceAccount and NODE_NAME; else null:
 * pods are then named by uid alone.
 */
import { KubernetesPodDirectory } from './kubernetes-pods.js';
import type { PodNames } from './process-placement.js';

let directory: KubernetesPodDirectory | undefined;

export function podDirectory(): KubernetesPodDirectory {
  return (directory ??= new KubernetesPodDirectory());
}

export function podNames(): PodNames | null {
  const d = podDirectory();
  if (!d.enabled) return null;
  d.start(); // its timer is unref'd: it never keeps a command from ending
  return d;
}
