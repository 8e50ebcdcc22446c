/** The shipped configuration files stay valid and say what the defaults are. */
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { validate } from '../../src/config/config-schema.js';
import { DAEMON_SCHEMA, DEFAULT_DAEMON_CONFIG, mergeConfig, type DaemonConfigPatch } from '../../src/config/daemon-config.js';
import { loadConfigFile } from '../../src/config/load-config.js';

const root = new URL('../../', import.meta.url);

it('packaging/socktrace.yaml is valid and spells out exactly the defaults', () => {
  const file = loadConfigFile<DaemonConfigPatch>(new URL('packaging/socktrace.yaml', root).pathname, DAEMON_SCHEMA);
  expect(mergeConfig(DEFAULT_DAEMON_CONFIG, file)).toEqual(DEFAULT_DAEMON_CONFIG);
  // Every default is written out, so the example documents them all.
  expect(mergeConfig(DEFAULT_DAEMON_CONFIG, file)).toEqual(mergeConfig(DEFAULT_DAEMON_CONFIG, file, {}));
  expect(Object.keys(file).sort()).toEqual(Object.keys(DEFAULT_DAEMON_CONFIG).sort());
});

it("the DaemonSet's ConfigMap holds a valid configuration that differs only in the metrics address", () => {
  const docs = parseAllDocuments(readFileSync(new URL('packaging/kubernetes/daemonset.yaml', root), 'utf8')).map((d) => d.toJS());
  expect(docs.map((d) => d.kind)).toEqual(['Namespace', 'ConfigMap', 'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'DaemonSet']);
  const configMap = docs[1] as { data: Record<string, string> };
  const text = Object.values(configMap.data)[0]!;
  const parsed = validate(parseAllDocuments(text)[0]!.toJS(), DAEMON_SCHEMA, '') as DaemonConfigPatch;
  const merged = mergeConfig(DEFAULT_DAEMON_CONFIG, parsed);
  expect(merged).toEqual({ ...DEFAULT_DAEMON_CONFIG, metrics: { ...DEFAULT_DAEMON_CONFIG.metrics, listen: '0.0.0.0:9637' } });
  const pod = (docs.find((d) => d.kind === 'DaemonSet') as { spec: { template: { metadata: { annotations: Record<string, string> } } } }).spec.template;
  expect(pod.metadata.annotations).toMatchObject({ 'prometheus.io/scrape': 'true', 'prometheus.io/port': '9637', 'prometheus.io/path': '/metrics' });
});

it("the package's files list carries what the installed CLI reads at run time", async () => {
  const { RULE_HEADERS } = await import('../../src/backends/bpftrace/probe-rules.js');
  const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { files: string[]; private?: boolean; bin: Record<string, string> };
  expect(pkg.private).toBeUndefined();
  const shipped = (path: string) => pkg.files.some((f) => !f.startsWith('!') && (path === f || (f.endsWith('/') && path.startsWith(f))));
  // The bpftrace backend's parts and the headers it reads its rules from (probe-rules.ts).
  for (const header of [RULE_HEADERS.rules, ...RULE_HEADERS.numbers]) expect(shipped(`probes/${header}`), header).toBe(true);
  expect(shipped('probes/bpftrace/ticks-and-end.bt')).toBe(true);
  // The compiled CLI, its entry point and the prebuilt addon the loader looks for first.
  expect(shipped('dist/commands/main.js')).toBe(true);
  expect(shipped(pkg.bin.socktrace!)).toBe(true);
  expect(shipped('prebuilds/linux-x64/node.napi.glibc.node')).toBe(true);
  // The loader tells a checkout from an installed package by CMakeLists.txt: it must stay out.
  expect(shipped('CMakeLists.txt')).toBe(false);
});

it('the DaemonSet may list pods and nothing else, with a token of its own, and knows its node', () => {
  const docs = parseAllDocuments(readFileSync(new URL('packaging/kubernetes/daemonset.yaml', root), 'utf8')).map((d) => d.toJS());
  const of = (kind: string) => docs.find((d) => d.kind === kind);
  expect(of('ServiceAccount').metadata).toMatchObject({ name: 'socktrace', namespace: 'socktrace' });
  expect(of('ClusterRole').rules).toEqual([{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] }]);
  expect(of('ClusterRoleBinding')).toMatchObject({
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: of('ClusterRole').metadata.name },
    subjects: [{ kind: 'ServiceAccount', name: 'socktrace', namespace: 'socktrace' }],
  });
  const spec = of('DaemonSet').spec.template.spec;
  expect(spec).toMatchObject({ serviceAccountName: 'socktrace', automountServiceAccountToken: true });
  expect(spec.containers[0].env).toContainEqual({ name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } });
});
