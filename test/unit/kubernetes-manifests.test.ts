/** packaging/kubernetes/*.yaml hold what the Kubernetes API accepts: its schema, not only valid YAML. */
import { readFileSync, readdirSync } from 'node:fs';
import { expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { kubernetesProblems } from '../support/kubernetes-schema.js';

const dir = new URL('../../packaging/kubernetes/', import.meta.url);
const manifests = readdirSync(dir).filter((f) => f.endsWith('.yaml'));

function load(file: string): Record<string, any>[] {
  return parseAllDocuments(readFileSync(new URL(file, dir), 'utf8')).map((d) => d.toJS());
}

it.each(manifests)('%s matches the Kubernetes API schema', (file) => {
  const docs = load(file);
  expect(docs.length).toBeGreaterThan(0);
  expect(kubernetesProblems(docs)).toEqual(docs.map(() => []));
}, 60_000);

it('the schema check catches a misspelled field, a wrong type and a bad value in daemonset.yaml', () => {
  const daemonSet = () => load('daemonset.yaml').find((d) => d.kind === 'DaemonSet')!;
  const misspelled = daemonSet();
  misspelled.spec.template.spec.hostPid = misspelled.spec.template.spec.hostPID;
  delete misspelled.spec.template.spec.hostPID;
  const nested = daemonSet();
  nested.spec.template.spec.containers[0].securityContext.readOnlyRootFileSystem = true;
  const wrongType = daemonSet();
  wrongType.spec.template.spec.hostNetwork = 'true';
  const portAsString = daemonSet();
  portAsString.spec.template.spec.containers[0].ports[0].containerPort = '9637';
  const noContainers = daemonSet();
  delete noContainers.spec.template.spec.containers;

  const [a, b, c, d, e] = kubernetesProblems([misspelled, nested, wrongType, portAsString, noContainers]);
  expect(a!.join('\n')).toMatch(/hostPid.*' does not exist in type 'IPodSpec'/);
  expect(b!.join('\n')).toMatch(/readOnlyRootFileSystem.*' does not exist in type 'ISecurityContext'/);
  expect(c!.join('\n')).toMatch(/hostNetwork must be boolean/);
  expect(d!.join('\n')).toMatch(/containerPort must be integer/);
  expect(e!.join('\n')).toMatch(/spec\/template\/spec must have required property containers/);
}, 60_000);

it("the DaemonSet runs the image's entrypoint (socktrace) with the ConfigMap where it mounts it", () => {
  const docs = load('daemonset.yaml');
  const pod = docs.find((d) => d.kind === 'DaemonSet')!.spec.template.spec;
  const container = pod.containers.find((c: { name: string }) => c.name === 'socktrace');
  // No command: packaging/Containerfile's ENTRYPOINT is socktrace itself.
  expect(container.command).toBeUndefined();
  const containerfile = readFileSync(new URL('../Containerfile', dir), 'utf8');
  expect(containerfile).toMatch(/^ENTRYPOINT \["\/usr\/local\/bin\/socktrace"\]$/m);
  expect(container.args.slice(0, 2)).toEqual(['daemon', '--config']);
  const config: string = container.args[2];
  const volume = pod.volumes.find((v: { configMap?: unknown }) => v.configMap);
  const mount = container.volumeMounts.find((m: { name: string }) => m.name === volume.name);
  expect(config.startsWith(`${mount.mountPath}/`)).toBe(true);
  const configMap = docs.find((d) => d.kind === 'ConfigMap' && d.metadata.name === volume.configMap.name)!;
  expect(Object.keys(configMap.data)).toContain(config.slice(mount.mountPath.length + 1));
});
