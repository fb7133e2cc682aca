package albtest

import (
	"fmt"

	"github.com/balanced-deploy/balanced/fault"
)

// Inject adds a fault (package fault documents every field; faults are tried
// in the order added). The fake names its calls by their Action
// (fault.Fault.Op: "RegisterTargets", "DescribeTargetHealth"...) and has no
// targets. A hit call is answered after Latency, when Status is set, with
// the AWS Query error document carrying Code and Message ("injected fault"
// by default), for example {Status: 400, Code: "Throttling"} or {Status:
// 503, Code: "ServiceUnavailable"}; the call is not handled: nothing
// changes. Inject panics on a fault the fake cannot honour (a field it does
// not read, such as Err, Target or AfterEffect): the test is wrong.
func (s *Server) Inject(f fault.Fault) {
	if f.Target != "" {
		panic(fmt.Sprintf("albtest: fault Target %q: the fake's calls have no targets, want Target empty", f.Target))
	}
	s.faults.MustAdd("albtest", f, fault.FieldLatency, fault.FieldStatus, fault.FieldCode, fault.FieldMessage)
}

// ClearFaults removes every fault.
func (s *Server) ClearFaults() { s.faults.Clear() }
