// Command metrics-server is the real metrics-server (sigs.k8s.io/metrics-server,
// pinned in testenv's go.mod: its options, scraper, storage and API) with the
// one change that lets it run on the k8s.io modules testenv pins (v0.36):
// the OpenAPI definitions come from k8s.io/kubernetes, whose generated names
// follow the models of k8s.io/metrics v0.36. The release's own generated
// definitions use the older Go-path names, and its generic apiserver panics
// with "cannot find model definition for
// io.k8s.metrics.pkg.apis.metrics.v1beta1.NodeMetrics" at start. Everything
// else is upstream's cmd/metrics-server/app (start.go), flags included.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	openapinamer "k8s.io/apiserver/pkg/endpoints/openapi"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/client-go/pkg/version"
	cliflag "k8s.io/component-base/cli/flag"
	"k8s.io/component-base/logs"
	generatedopenapi "k8s.io/kubernetes/pkg/generated/openapi"

	"sigs.k8s.io/metrics-server/cmd/metrics-server/app/options"
	"sigs.k8s.io/metrics-server/pkg/api"
)

func main() {
	logs.InitLogs()
	defer logs.FlushLogs()
	if err := command(genericapiserver.SetupSignalHandler()).Execute(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func command(stopCh <-chan struct{}) *cobra.Command {
	opts := options.NewOptions()
	cmd := &cobra.Command{
		Use:          "metrics-server",
		Short:        "Launch metrics-server",
		SilenceUsage: true,
		RunE:         func(*cobra.Command, []string) error { return run(opts, stopCh) },
	}
	fs := cmd.Flags()
	nfs := opts.Flags()
	for _, f := range nfs.FlagSets {
		fs.AddFlagSet(f)
	}
	local := flag.NewFlagSet(os.Args[0], flag.ExitOnError)
	logs.AddGoFlags(local)
	nfs.FlagSet("logging").AddGoFlagSet(local)
	cmd.SetUsageFunc(func(cmd *cobra.Command) error {
		fmt.Fprintf(cmd.OutOrStderr(), "Usage:\n  %s\n", cmd.UseLine())
		cliflag.PrintSections(cmd.OutOrStderr(), nfs, 0)
		return nil
	})
	fs.AddGoFlagSet(local)
	return cmd
}

func run(o *options.Options, stopCh <-chan struct{}) error {
	if o.ShowVersion {
		fmt.Println(version.Get().GitVersion)
		return nil
	}
	if errs := o.Validate(); len(errs) > 0 {
		return errs[0]
	}
	config, err := o.ServerConfig()
	if err != nil {
		return err
	}
	namer := openapinamer.NewDefinitionNamer(api.Scheme)
	v2 := genericapiserver.DefaultOpenAPIConfig(generatedopenapi.GetOpenAPIDefinitions, namer)
	v2.Info = config.Apiserver.OpenAPIConfig.Info
	v3 := genericapiserver.DefaultOpenAPIV3Config(generatedopenapi.GetOpenAPIDefinitions, namer)
	v3.Info = config.Apiserver.OpenAPIV3Config.Info
	config.Apiserver.OpenAPIConfig, config.Apiserver.OpenAPIV3Config = v2, v3
	s, err := config.Complete()
	if err != nil {
		return err
	}
	return s.RunUntil(stopCh)
}
