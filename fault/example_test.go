package fault_test

import (
	"errors"
	"fmt"

	"github.com/balanced-deploy/balanced/fault"
)

// Example makes the second and third Status call on fe02 fail, as a fake
// embedding a Set would decide its calls.
func Example() {
	var s fault.Set
	if err := s.Add(fault.Fault{Op: "Status", Target: "fe02", After: 1, Times: 2, Err: errors.New("busy")}); err != nil {
		fmt.Println(err)
		return
	}
	for i := range 4 {
		f, hit := s.Match("Status", "fe02")
		fmt.Println(i, hit, f.Err)
	}
	// Output:
	// 0 false <nil>
	// 1 true busy
	// 2 true busy
	// 3 false <nil>
}
