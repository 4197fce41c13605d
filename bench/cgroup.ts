// A pod's cgroup on the local cluster's node (cgroup v1, the cgroupfs driver, under pfdev): its CPU
// time and memory, read from the host, so what is measured does not depend on the pod's own tools.
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';

function findPodDir(root: string, uid: string): string | undefined {
  if (!existsSync(root)) return undefined;
  for (const entry of readdirSync(root, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    if (entry.name === `pod${uid}`) return `${root}/${entry.name}`;
    const deeper = findPodDir(`${root}/${entry.name}`, uid);
    if (deeper) return deeper;
  }
  return undefined;
}

export function podCgroup(uid: string) {
  const memory = findPodDir('/sys/fs/cgroup/memory/pfdev', uid);
  const cpu = findPodDir('/sys/fs/cgroup/cpuacct/pfdev', uid);
  return {
    cpuSeconds: () => (cpu ? Number(readFileSync(`${cpu}/cpuacct.usage`, 'utf8')) / 1e9 : NaN),
    memoryMiB: () => (memory ? Number(readFileSync(`${memory}/memory.usage_in_bytes`, 'utf8')) / 2 ** 20 : NaN),
    resetPeak: () => memory && writeFileSync(`${memory}/memory.max_usage_in_bytes`, '0'),
    peakMiB: () => (memory ? Number(readFileSync(`${memory}/memory.max_usage_in_bytes`, 'utf8')) / 2 ** 20 : NaN),
  };
}
