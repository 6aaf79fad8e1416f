package docs

import (
	"os"
	"testing"
)

// TestMain runs the tests, or, when the crash test re-executes this binary
// as its child, the child's edit loop (see crash_test.go). Afterwards it
// removes what benchmarks shared across runs (the 100,000-revision
// histories of bench_test.go and sessions_bench_test.go).
func TestMain(m *testing.M) {
	if os.Getenv(crashChildEnv) == "1" {
		os.Exit(crashChild())
	}
	code := m.Run()
	closeSharedHistory()
	closeSessionHistory()
	os.Exit(code)
}
