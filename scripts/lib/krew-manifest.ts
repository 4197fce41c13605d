// The krew plugin manifest of kubectl pf (krew.googlecontainertools.github.com/v1alpha2). Pure:
// scripts/krew.ts gives it the archive's address and sha256.
import { stringify } from 'yaml';

/** The plugin's name for krew: kubectl finds it as `kubectl pf`. */
export const KREW_NAME = 'pf';

/** What the release archive holds, and where krew puts each file (flat, in the plugin's folder). */
export const ARCHIVE_FILES = ['kubectl-pf', 'kubectl_complete-pf', 'package.json', 'LICENSE', 'README.md'];

export interface ManifestInput {
  /** package.json's version, without the v that krew requires. */
  version: string;
  uri: string;
  sha256: string;
}

export function archiveName(version: string): string {
  return `kubectl-pf-v${version}.tar.gz`;
}

export function krewManifest({ version, uri, sha256 }: ManifestInput) {
  const store = `"\${KREW_ROOT:-$HOME/.krew}/store/${KREW_NAME}/v${version}"`;
  return {
    apiVersion: 'krew.googlecontainertools.github.com/v1alpha2',
    kind: 'Plugin',
    metadata: { name: KREW_NAME },
    spec: {
      version: `v${version}`,
      shortDescription: 'Declarative, self-healing tunnels into pods',
      description:
        'Uses PortForwards, the custom resources of the portforward-operator: tunnels into a pod\'s network\n' +
        'namespace that survive pod restarts and carry TCP and UDP. kubectl pf connect forwards local ports\n' +
        'to one, forward makes one for a pod, Service or workload and connects, create and list manage them.\n' +
        'The operator must be installed in the cluster.\n',
      caveats:
        'kubectl pf is a Node.js program: it needs node (20 or later) on your PATH.\n\n' +
        'kubectl completes plugin arguments with an executable kubectl_complete-pf on PATH, which krew\n' +
        'does not install. To have kubectl pf <TAB> complete commands, flags and PortForward names:\n' +
        `  ln -sf ${store}/kubectl_complete-pf "\${KREW_ROOT:-$HOME/.krew}/bin/"\n`,
      platforms: [
        {
          selector: { matchExpressions: [{ key: 'os', operator: 'In', values: ['darwin', 'linux'] }] },
          uri,
          sha256,
          files: ARCHIVE_FILES.map((from) => ({ from, to: '.' })),
          bin: 'kubectl-pf',
        },
      ],
    },
  };
}

export function renderKrewManifest(input: ManifestInput): string {
  return stringify(krewManifest(input), { lineWidth: 0 });
}
