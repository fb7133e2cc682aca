package main

import (
	"bytes"
	"context"
	"os"

	"github.com/balanced-deploy/balanced/timeline"
)

// timeline draws a run's timeline from its JSON-lines events (run -json's
// standard error, or the -events file) into an SVG file.
func (c *cli) timeline(_ context.Context, o *options, args []string) int {
	f, err := os.Open(args[0])
	if err != nil {
		c.errorf("timeline: %v", err)
		return exitUsage
	}
	defer func() { _ = f.Close() }()
	var svg bytes.Buffer
	if err := timeline.WriteEvents(&svg, f, timeline.Options{}); err != nil {
		c.errorf("timeline: %s: %v", args[0], err)
		return exitUsage
	}
	if o.output == "-" {
		if _, err := c.stdout.Write(svg.Bytes()); err != nil {
			c.errorf("timeline: %v", err)
			return exitFailed
		}
		return exitOK
	}
	if err := os.WriteFile(o.output, svg.Bytes(), 0o644); err != nil {
		c.errorf("timeline: %v", err)
		return exitFailed
	}
	c.errorf("timeline written to %s", o.output)
	return exitOK
}
