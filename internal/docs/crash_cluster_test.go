package docs_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/collab-editor/collab/internal/docs"
	"github.com/collab-editor/collab/internal/docs/jetstream"
	"github.com/collab-editor/collab/internal/natsembed"
	"github.com/nats-io/nats.go"
)

// The crash test's cluster backend: three NATS servers in the test
// process, a stream of three replicas; the child is a node whose
// replica is the crash test's database file.
const crashNATSEnv = "COLLAB_CRASH_NATS" // the servers' client URLs

func init() {
	docs.AddCrashBackend(docs.CrashBackend{
		Name: "jetstream",
		Start: func(t *testing.T) []string {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			srvs, err := natsembed.StartLocal(ctx, t.TempDir(), "crash", 3, false)
			if err != nil {
				t.Fatal(err)
			}
			var urls []string
			for _, s := range srvs {
				t.Cleanup(s.Shutdown)
				urls = append(urls, s.ClientURL())
			}
			return []string{crashNATSEnv + "=" + strings.Join(urls, ",")}
		},
		Config: func(env func(string) string) (docs.Config, func(), error) {
			urls := env(crashNATSEnv)
			if urls == "" {
				return docs.Config{}, nil, fmt.Errorf("%s is not set", crashNATSEnv)
			}
			nc, err := nats.Connect(urls)
			if err != nil {
				return docs.Config{}, nil, err
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			l, err := jetstream.Open(ctx, nc, jetstream.Config{})
			if err != nil {
				nc.Close()
				return docs.Config{}, nil, err
			}
			return docs.Config{Log: l}, nc.Close, nil
		},
	})
}
