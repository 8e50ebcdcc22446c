/**
 * Validates Kubernetes manifests offline against the API's schema, as carried by the kubernetes-models
 * package (generated from the Kubernetes OpenAPI document), in two passes:
 *   - its validators: types, enums, formats and required fields, as the API server checks them;
 *   - its TypeScript interfaces, by type-checking each document as an object literal: the
 *     validators accept unknown fields (the OpenAPI schema does not forbid them), while the API server
 *     drops or rejects them, so a misspelled field would otherwise pass. Excess-property checks of
 *     object literals catch those at any depth.
 */
import ts from 'typescript';
import { fileURLToPath } from 'node:url';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { DaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { ClusterRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole';
import { ClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding';

/** apiVersion/kind -> the model that validates it and the module and interface that type it. */
const KINDS: Record<string, { model: { validate?: unknown; new (data: never): { validate(): void } }; module: string; type: string }> = {
  'v1/Namespace': { model: Namespace, module: 'kubernetes-models/v1/Namespace', type: 'INamespace' },
  'v1/ConfigMap': { model: ConfigMap, module: 'kubernetes-models/v1/ConfigMap', type: 'IConfigMap' },
  'v1/ServiceAccount': { model: ServiceAccount, module: 'kubernetes-models/v1/ServiceAccount', type: 'IServiceAccount' },
  'apps/v1/DaemonSet': { model: DaemonSet, module: 'kubernetes-models/apps/v1/DaemonSet', type: 'IDaemonSet' },
  'rbac.authorization.k8s.io/v1/ClusterRole': {
    model: ClusterRole,
    module: 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole',
    type: 'IClusterRole',
  },
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': {
    model: ClusterRoleBinding,
    module: 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding',
    type: 'IClusterRoleBinding',
  },
};

interface Manifest {
  apiVersion?: unknown;
  kind?: unknown;
  metadata?: { name?: unknown };
}

function kindOf(doc: Manifest): string {
  return `${String(doc.apiVersion)}/${String(doc.kind)}`;
}

/** The schema's complaints about each document (an empty list: valid), in order. */
export function kubernetesProblems(docs: Manifest[]): string[][] {
  const problems = docs.map((doc): string[] => {
    const kind = KINDS[kindOf(doc)];
    if (!kind) return [`${kindOf(doc)}: no schema known for this apiVersion and kind`];
    try {
      new kind.model(doc as never).validate();
      return [];
    } catch (error) {
      return [`${kindOf(doc)}: ${(error as Error).message}`];
    }
  });
  typeCheck(docs).forEach((messages, i) => problems[i]!.push(...messages));
  return problems;
}

/** Type-checks each document as a literal of its kind's interface; TypeScript's messages per document. */
function typeCheck(docs: Manifest[]): string[][] {
  // A virtual file in test/ so that the imports resolve from this repository's node_modules.
  const file = fileURLToPath(new URL('../__kubernetes_manifests__.ts', import.meta.url));
  const known = docs.map((doc) => KINDS[kindOf(doc)]);
  const lines: string[] = [];
  const starts: number[] = [];
  known.forEach((kind, i) => {
    if (kind) lines.push(`import type { ${kind.type} as T${i} } from '${kind.module}';`);
  });
  known.forEach((kind, i) => {
    starts.push(lines.join('\n').length);
    lines.push(kind ? `export const doc${i}: T${i} = ${JSON.stringify(docs[i], null, 1)};` : '');
  });
  const text = lines.join('\n');
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, version, ...rest) =>
    name === file ? ts.createSourceFile(name, text, version) : getSourceFile(name, version, ...rest);
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => name === file || fileExists(name);
  const program = ts.createProgram([file], options, host);
  const result = docs.map((): string[] => []);
  for (const d of ts.getPreEmitDiagnostics(program)) {
    const message = ts.flattenDiagnosticMessageText(d.messageText, '\n');
    if (d.file?.fileName !== file || d.start === undefined) {
      // Not about a document (a module not found, say): every document is suspect.
      result.forEach((r) => r.push(message));
      continue;
    }
    let i = starts.length - 1;
    while (i > 0 && starts[i]! > d.start) i--;
    const { line } = d.file.getLineAndCharacterOfPosition(d.start);
    result[i]!.push(`${kindOf(docs[i]!)} ${String(docs[i]!.metadata?.name)}: ${message} (at ${d.file.text.split('\n')[line]!.trim()})`);
  }
  return result;
}
