// Command collab is the collaborative code editor server.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "collab: the server is not built yet; see the open issues. Run the tests with: go test -race ./...")
	os.Exit(1)
}
