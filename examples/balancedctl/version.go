package main

import (
	"context"
	"fmt"
	"runtime/debug"
)

// version prints the module version balancedctl was built from: the tag
// for `go install .../balancedctl@v1.2.3`, "(devel)" for a build in a
// checkout, with the VCS revision when the build recorded it.
func (c *cli) version(_ context.Context, _ *options, _ []string) int {
	fmt.Fprintln(c.stdout, versionLine(debug.ReadBuildInfo()))
	return exitOK
}

func versionLine(bi *debug.BuildInfo, ok bool) string {
	if !ok || bi == nil {
		return "balancedctl (unknown version: built without module support)"
	}
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	line := fmt.Sprintf("balancedctl %s (%s, %s", v, bi.Main.Path, bi.GoVersion)
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		line += ", revision " + rev
		if modified == "true" {
			line += " with local changes"
		}
	}
	return line + ")"
}
