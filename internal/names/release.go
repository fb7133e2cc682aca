package names

import (
	"fmt"

	"github.com/balanced-deploy/balanced/drivers"
)

// Release checks the texts of a release, which the runbook prints and the
// platform records: the version and every application's name and version
// with [Text], the notes with [Notes]. It does not require a version; the
// caller does.
func Release(r drivers.Release) error {
	if err := Text("release version", r.Version); err != nil {
		return err
	}
	if err := Notes("release notes", r.Notes); err != nil {
		return err
	}
	for i, a := range r.Applications {
		if err := Text(fmt.Sprintf("release application %d name", i+1), a.Name); err != nil {
			return err
		}
		if err := Text(fmt.Sprintf("release application %s version", a.Name), a.Version); err != nil {
			return err
		}
	}
	return nil
}
