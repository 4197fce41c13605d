// etcd, built from its Go modules (Debian's 3.4 is older than Kubernetes 1.34 wants).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
