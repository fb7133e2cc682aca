package lifetime

import "github.com/balanced-deploy/balanced/drivers"

// redacted replaces the token in any text the server sends back. It is
// spelled as drivers.Secret prints itself.
const redacted = "[redacted]"

// token holds the bearer token inside the client. Config.Token is a
// drivers.Secret, which prints as "[redacted]" through its methods; inside
// the client the value is kept in a closure instead, which reflection cannot
// look into, so that even printing the unexported fields of a *Client (fmt
// with %+v, or a bad verb such as %d, which bypass the Secret's methods on
// unexported fields) shows a function address, never the value.
type token struct {
	get func() string
}

func newToken(s drivers.Secret) token {
	v := s.Reveal()
	return token{get: func() string { return v }}
}

// reveal returns the secret, for the Authorization header only.
func (t token) reveal() string {
	if t.get == nil {
		return ""
	}
	return t.get()
}
