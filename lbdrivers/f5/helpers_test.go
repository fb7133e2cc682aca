package f5_test

import (
	"encoding/json"
	"fmt"
	"sync"
)

// holds maps a conformance subtest's name to its fake's store, so Hold
// can reach the store of the driver New built for that subtest.
var holds sync.Map

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }
