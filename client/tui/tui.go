package tui

import (
	"context"
	"io"

	"cusax.dev/bridge/client"
)

// Run runs the terminal UI on c until the person quits; it returns the
// exit code.
func Run(ctx context.Context, c *client.Client, stderr io.Writer) int {
	return client.ExitError
}
