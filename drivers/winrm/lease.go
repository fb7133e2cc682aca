package winrm

import (
	"fmt"
	"strings"

	"github.com/balanced-deploy/balanced/drivers"
)

// DefaultLeaseDir is the folder on the Deployment Controller server that
// holds the farm lease files when Config.LeaseDir is empty.
const DefaultLeaseDir = `C:\ProgramData\balanced`

// validLeaseDir checks Config.LeaseDir: an absolute local path, drive letter
// first, of plain path characters, without "." or ".." segments.
func validLeaseDir(dir string) (string, error) {
	if dir == "" {
		return DefaultLeaseDir, nil
	}
	bad := func(why string) error {
		return fmt.Errorf("%w: Config.LeaseDir %q %s; want an absolute local Windows path such as %s", drivers.ErrInvalidArgument, dir, why, DefaultLeaseDir)
	}
	if len(dir) < 3 || !(dir[0] >= 'A' && dir[0] <= 'Z' || dir[0] >= 'a' && dir[0] <= 'z') || dir[1] != ':' || dir[2] != '\\' {
		return "", bad("does not start with a drive letter, a colon and a backslash")
	}
	if len(dir) > 200 {
		return "", bad("is longer than 200 characters")
	}
	for _, seg := range strings.Split(strings.TrimRight(dir[3:], `\`), `\`) {
		if dir[3:] == "" {
			break
		}
		if seg == "" || seg == "." || seg == ".." || strings.TrimSpace(seg) != seg || strings.HasSuffix(seg, ".") {
			return "", bad("has an empty, dot or space-padded segment")
		}
		for _, r := range seg {
			ok := r == ' ' || r == '-' || r == '_' || r == '.' || r == '(' || r == ')' ||
				r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
			if !ok {
				return "", bad(fmt.Sprintf("has character %q", r))
			}
		}
	}
	return strings.TrimRight(dir, `\`), nil
}
