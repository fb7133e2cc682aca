//go:build !unix

package nginx

import (
	"fmt"

	"github.com/balanced-deploy/balanced/drivers"
)

// signalSupported is false where Unix signals do not exist: set
// OSSConfig.ReloadCommand instead of PIDFile.
const signalSupported = false

func sendHUP(int) error {
	return fmt.Errorf("%w: signalling nginx by pid file needs a Unix system: set OSSConfig.ReloadCommand", drivers.ErrUnimplemented)
}
