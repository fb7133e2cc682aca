package drivers

// Identifier is an optional capability of a [LoadBalancer]: it names the
// load balancer itself (for example "haproxy:/run/haproxy/admin.sock#be_app"
// or an ALB target group ARN), the same string from every copy of one farm's
// configuration. The engine folds it into the farm's identity, which keys the
// lock that keeps two runs off one farm; a load balancer without it is
// identified by its zone and the names of the servers behind it.
//
// The identity must not contain secrets: it is written into lock files and
// printed in messages.
type Identifier interface {
	// Identity returns the load balancer's stable identity.
	Identity() string
}
