// Help texts, kubectl style: a sentence, examples, then the flags.

const GLOBAL = `Global flags:
  -n, --namespace NAME   namespace of the PortForward (default: the kubeconfig context's, else "default")
      --kubeconfig PATH  kubeconfig file to use (default: $KUBECONFIG, else ~/.kube/config)
      --context NAME     kubeconfig context to use
  -h, --help             show this help`;

export const ROOT_HELP = `kubectl pf: use PortForwards, declarative and self-healing tunnels into a pod's network namespace.

Usage:
  kubectl pf COMMAND [flags]

Commands:
  connect     Forward local ports to a PortForward (like kubectl port-forward, but it survives pod restarts)
  forward     Forward local ports to a pod, Service or workload in one command (a PortForward for as long as it runs)
  create      Create or update a PortForward
  list        List PortForwards: phase, target, ways in, expiry, connections
  version     Print the plugin's version and what the cluster serves
  completion  Print a shell completion script (bash or zsh) for kubectl-pf run by itself
  help        Show help for a command

Examples:
  # Tunnel to port 80 of pod nginx as port 10080, then reach it from this machine on localhost:8080
  kubectl pf create web --pod nginx --port 10080:80
  kubectl pf connect web 8080:10080

  # The same in one command, as with kubectl port-forward
  kubectl pf forward pod/nginx 8080:80

  # Every PortForward of every namespace you can read
  kubectl pf list -A

${GLOBAL}

Run 'kubectl pf COMMAND --help' for more about a command.`;

export const CONNECT_HELP = `Forward local ports to a PortForward's tunnel, through the API server.

Traffic goes through the tunnel API (connect.portforward.io: one WebSocket per port, which RBAC in
the PortForward's namespace governs) to the PortForward's current helper pod (status.helper), so
when the target or the helper is replaced, new connections reach the new one by themselves. A
connection that fails is reported on stderr and closed; the others and the listeners carry on.
Ctrl-C stops. Where the cluster does not serve the tunnel API, connect says so and uses
pods/portforward to the helper pods instead (TCP only; it needs rights in the helpers' namespace).

Usage:
  kubectl pf connect NAME [LOCAL:]REMOTE[/udp] [...] [flags]

REMOTE is a port of the PortForward (spec.ports[].port). LOCAL, as in kubectl port-forward:
  5000         listen on local port 5000, forward to port 5000
  8888:5000    listen on local port 8888, forward to port 5000
  :5000        listen on a free local port chosen by the system (also 0:5000)
  5353/udp     a UDP port: datagrams keep their boundaries, replies go back to each sender
No ports: every port of the PortForward (TCP and UDP), on the same local port.

Examples:
  # Every port of PortForward web, on the same local ports
  kubectl pf connect web -n team-a

  # Local 8080 to port 10080 of the tunnel, plus a random local port for 5432
  kubectl pf connect web 8080:10080 :5432

  # DNS: local UDP port 10053 to the tunnel's UDP port 53
  kubectl pf connect dns 10053:53/udp

  # Listen on all interfaces, not only localhost
  kubectl pf connect web 8080:10080 --address 0.0.0.0

Flags:
      --address ADDR[,ADDR]  addresses to listen on: localhost (127.0.0.1 and ::1) or IP addresses (default localhost)
      --ready-timeout DUR    how long a new connection waits for the PortForward to be Ready (default 1m)

${GLOBAL}`;

export const FORWARD_HELP = `Forward local ports to a pod, Service or workload, the way kubectl port-forward does, through a PortForward.

forward creates a PortForward for the target (named forward-<target>-xxxxx, labelled
portforward.io/created-by=kubectl-pf-forward), connects to it exactly as 'kubectl pf connect' does
(surviving pod restarts; UDP too), and deletes it when it ends: Ctrl-C, SIGTERM, or the PortForward
went away. While forward runs it keeps extending the PortForward's ttl; if it is killed, the
operator deletes the PortForward once the ttl runs out.

A Service or workload target becomes its pod selector (any ready pod of it): the PortForward then
re-targets by itself when that pod is replaced.

Usage:
  kubectl pf forward TARGET [LOCAL:]REMOTE[/udp] [...] [flags]
  kubectl pf forward -l KEY=VALUE[,...] [LOCAL:]REMOTE[/udp] [...] [flags]

TARGET: pod/NAME (or just NAME), svc/NAME (service/), deploy/NAME (deployment/), sts/NAME
(statefulset/), ds/NAME (daemonset/) or rs/NAME (replicaset/), in the -n namespace.

REMOTE is the target's port, as in kubectl port-forward: for a pod or workload a container port
(number or name); for svc/ a port of the Service (number or name), forwarded to its targetPort
(a named targetPort is looked up in a running pod of the Service). LOCAL defaults to REMOTE
(for a name, to its number); :REMOTE picks a free local port. /udp forwards UDP.

Examples:
  # Local 8080 to port 80 of pod nginx
  kubectl pf forward pod/nginx 8080:80

  # Service web's port 80 on local 8080, reaching whatever pod serves it now
  kubectl pf forward svc/web 8080:80 -n team-a

  # A deployment's named port, and DNS over UDP from the pods labelled k8s-app=kube-dns
  kubectl pf forward deploy/api :http
  kubectl pf forward -n kube-system -l k8s-app=kube-dns 10053:53/udp

  # Keep the PortForward after exit (it still expires after its ttl)
  kubectl pf forward svc/db 5432 --keep --ttl 8h

Flags:
  -l, --selector KEY=VALUE,...  forward to any ready pod with these labels (instead of TARGET)
      --ttl DURATION            the PortForward's lifetime if forward is killed (default 1h; 90s, 30m, 2h, 7d)
      --keep                    leave the PortForward in place on exit
      --address ADDR[,ADDR]     addresses to listen on: localhost (127.0.0.1 and ::1) or IP addresses (default localhost)
      --ready-timeout DUR       how long a new connection waits for the PortForward to be Ready (default 1m)

${GLOBAL}`;

export const CREATE_HELP = `Create a PortForward, or update its spec if it exists (server-side apply, field manager kubectl-pf).

Usage:
  kubectl pf create NAME (--pod POD | --selector KEY=VALUE[,...] | --target TARGET) --port [PORT:]TARGETPORT[/udp] [...] [flags]

TARGET as kubectl names it: svc/NAME (a ready pod behind the Service), deploy/NAME, sts/NAME,
ds/NAME, rs/NAME (a ready pod of the workload) or pod/NAME; the tunnel follows a replaced pod.

--port, repeatable or comma-separated:
  8080          the tunnel listens on 8080 and reaches port 8080 inside the target
  10080:80      the tunnel listens on 10080 and reaches port 80 inside the target
  10080:http    ... the container port named http (for svc/NAME: the Service port named http)
  5353/udp      UDP (default tcp)

Examples:
  # Port 80 of pod nginx, as port 10080 of the tunnel
  kubectl pf create web --pod nginx --port 10080:80

  # Any ready pod labelled app=db (re-targets when it is replaced), for two hours
  kubectl pf create db --selector app=db --port 5432 --ttl 2h

  # A ready pod behind Service web, through its port named http (as kubectl port-forward svc/web)
  kubectl pf create web --target svc/web --port 10080:http

  # A pod in another namespace (that namespace must allow it: annotation portforward.io/allow-from)
  kubectl pf create dns -n team-a --target-namespace kube-system --pod coredns-abc --port 10053:53/udp

  # Print the manifest instead of creating it
  kubectl pf create web --pod nginx --port 10080:80 --dry-run=client -o yaml

Flags:
      --pod NAME                  the target pod
      --target TARGET             svc/NAME, deploy/NAME, sts/NAME, ds/NAME, rs/NAME or pod/NAME
  -l, --selector KEY=VALUE,...    labels of the target pods (any running, ready one)
  -p, --port [PORT:]TARGETPORT[/udp|/tcp]  a port to relay (at least one)
      --ttl DURATION              delete the PortForward after this long (90s, 30m, 2h, 1h30m, 7d)
      --target-namespace NAME     namespace of the target (default: the PortForward's)
      --dry-run[=client|server]   only print (client) or only validate on the server (server)
  -o, --output yaml|json|name     print the object in this format

${GLOBAL}`;

export const LIST_HELP = `List PortForwards, in the -n namespace (the kubeconfig context's by default) or in all of them.

Columns: NAMESPACE (with -A), NAME, PHASE, TARGET (pod/NAME, svc/NAME, deploy/NAME, ... or
selector KEY=VALUE; "-n NS" when the target is in another namespace), WAYS IN (as status.access
lists them: the in-cluster Service, and the tunnel API that kubectl pf connect uses), EXPIRES (when
the ttl runs out, else -) and CONNECTIONS (open now, where the operator reports them, else -).

Usage:
  kubectl pf list [flags]

Examples:
  # The PortForwards of namespace team-a
  kubectl pf list -n team-a

  # Every PortForward you can read, in every namespace
  kubectl pf list -A

  # Their names only, e.g. for a script
  kubectl pf list -o name

Flags:
  -A, --all-namespaces        list PortForwards of every namespace
  -o, --output json|yaml|name print the objects in this format instead of a table

${GLOBAL}`;

export const VERSION_HELP = `Print the plugin's version and what the cluster serves.

Without --client it also asks the API server for its Kubernetes version and whether it serves
PortForwards (portforward.io) and the tunnel API (connect.portforward.io, what kubectl pf connect
uses). It never fails for the server's sake: an API server it cannot reach is one line saying so.

Usage:
  kubectl pf version [flags]

Examples:
  # The plugin and the cluster
  kubectl pf version

  # The plugin only, without a cluster
  kubectl pf version --client

Flags:
      --client          only the plugin's version; no request to the API server
  -o, --output json|yaml  print the same as an object

${GLOBAL}`;

export const COMPLETION_HELP = `Print a shell completion script for kubectl-pf run by itself.

kubectl (1.26 and later) completes plugin arguments by itself with the executable kubectl_complete-pf
on PATH, which npm installs next to kubectl-pf (for krew, see the README). This script is for running
the plugin as kubectl-pf: load it from your shell's startup file.

Usage:
  kubectl pf completion bash|zsh

Examples:
  # bash, in ~/.bashrc
  source <(kubectl-pf completion bash)

  # zsh, in ~/.zshrc (after compinit)
  source <(kubectl-pf completion zsh)

${GLOBAL}`;
