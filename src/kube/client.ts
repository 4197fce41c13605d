// The API clients, from the default kubeconfig: $KUBECONFIG or ~/.kube/config on a workstation,
// the service account inside a pod.
import { CoordinationV1Api, CoreV1Api, CustomObjectsApi, DiscoveryV1Api, KubeConfig, NetworkingV1Api } from '@kubernetes/client-node';

export interface KubeClients {
  kubeConfig: KubeConfig;
  core: CoreV1Api;
  custom: CustomObjectsApi;
  discovery: DiscoveryV1Api;
  coordination: CoordinationV1Api;
  networking: NetworkingV1Api;
}

export function createKubeClients(): KubeClients {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromDefault();
  if (!kubeConfig.getCurrentCluster()) {
    throw new Error('no Kubernetes cluster configured: set KUBECONFIG or run inside a pod');
  }
  return {
    kubeConfig,
    core: kubeConfig.makeApiClient(CoreV1Api),
    custom: kubeConfig.makeApiClient(CustomObjectsApi),
    discovery: kubeConfig.makeApiClient(DiscoveryV1Api),
    coordination: kubeConfig.makeApiClient(CoordinationV1Api),
    networking: kubeConfig.makeApiClient(NetworkingV1Api),
  };
}
