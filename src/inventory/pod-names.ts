/** The Kubernetes pod directory when running in a cluster (in-cluster config), else null. */
import type { PodNames } from './process-placement.js';

export function podNames(): PodNames | null {
  return null; // wired to kubernetes-pods.ts at merge
}
