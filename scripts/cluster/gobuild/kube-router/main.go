// kube-router, for its network policy controller only (the cluster's NetworkPolicy enforcement).
// Upstream's cmd/kube-router is a main package, so it cannot be imported: this is a copy of its
// Main (v2.1.0) without the net/http/pprof import, which would serve /debug/pprof on the health
// port to every lab address, pods included. --enable-pprof is therefore a no-op here.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/cloudnativelabs/kube-router/v2/pkg/cmd"
	"github.com/cloudnativelabs/kube-router/v2/pkg/options"
	"github.com/cloudnativelabs/kube-router/v2/pkg/version"
	"github.com/spf13/pflag"
	"k8s.io/klog/v2"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "%s\n", err)
		os.Exit(1)
	}
}

func run() error {
	klog.InitFlags(nil)
	config := options.NewKubeRouterConfig()
	config.AddFlags(pflag.CommandLine)
	pflag.Parse()
	// klog's flags live on the standard flag set: parse it empty, then set them from kube-router's.
	if err := flag.CommandLine.Parse([]string{}); err != nil {
		return err
	}
	if err := flag.Set("logtostderr", "true"); err != nil {
		return err
	}
	if err := flag.Set("v", config.VLevel); err != nil {
		return err
	}
	if config.HelpRequested {
		pflag.Usage()
		return nil
	}
	if config.Version {
		version.PrintVersion(false)
		return nil
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("kube-router needs root to run iptables and ipset")
	}
	if config.CleanupConfig {
		cmd.CleanupConfigAndExit()
		return nil
	}
	kr, err := cmd.NewKubeRouterDefault(config)
	if err != nil {
		return fmt.Errorf("failed to parse kube-router config: %v", err)
	}
	if err := kr.Run(); err != nil {
		return fmt.Errorf("failed to run kube-router: %v", err)
	}
	return nil
}
