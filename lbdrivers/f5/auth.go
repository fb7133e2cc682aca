package f5

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
)

const (
	// defaultTokenLifetime is BIG-IP's token lifetime when the login answer
	// does not state one.
	defaultTokenLifetime = 1200 * time.Second
	// maxRenewMargin is how long before expiry a token is replaced at most.
	maxRenewMargin = time.Minute
)

// tokenState is the driver's current authentication token. The sem channel
// (capacity 1) serializes logins while letting a waiter give up when its
// context ends.
type tokenState struct {
	sem chan struct{}

	mu       sync.Mutex // guards the fields below
	token    drivers.Secret
	expires  time.Time
	lifetime time.Duration
}

// token returns a token valid for at least the renewal margin, logging in
// when there is none or the current one is about to expire.
func (d *Driver) token(ctx context.Context) (drivers.Secret, error) {
	if tok, ok := d.validToken(); ok {
		return tok, nil
	}
	select {
	case d.tok.sem <- struct{}{}:
	case <-ctx.Done():
		return drivers.Secret{}, fmt.Errorf("f5: waiting for login: %w", ctx.Err())
	}
	defer func() { <-d.tok.sem }()
	if tok, ok := d.validToken(); ok { // another caller logged in meanwhile
		return tok, nil
	}
	tok, lifetime, err := d.login(ctx)
	if err != nil {
		return drivers.Secret{}, err
	}
	d.tok.mu.Lock()
	d.tok.token, d.tok.expires, d.tok.lifetime = tok, time.Now().Add(lifetime), lifetime
	d.tok.mu.Unlock()
	return tok, nil
}

// validToken returns the current token if it is not within the renewal
// margin of its expiry.
func (d *Driver) validToken() (drivers.Secret, bool) {
	d.tok.mu.Lock()
	defer d.tok.mu.Unlock()
	if d.tok.token.IsZero() {
		return drivers.Secret{}, false
	}
	if time.Until(d.tok.expires) <= renewMargin(d.tok.lifetime) {
		return drivers.Secret{}, false
	}
	return d.tok.token, true
}

// renewMargin is how long before expiry a token of the given lifetime is
// replaced: a tenth of its lifetime, at most a minute.
func renewMargin(lifetime time.Duration) time.Duration {
	return min(lifetime/10, maxRenewMargin)
}

// invalidate forgets tok if it is still the current token (a concurrent
// caller may already have replaced it).
func (d *Driver) invalidate(tok drivers.Secret) {
	d.tok.mu.Lock()
	defer d.tok.mu.Unlock()
	if d.tok.token == tok {
		d.tok.token = drivers.Secret{}
	}
}

// login obtains a new token, extends it to Config.TokenTimeout when set,
// and returns it with its lifetime. Login never changes a pool member, so
// any transient failure is ErrUnavailable.
func (d *Driver) login(ctx context.Context) (drivers.Secret, time.Duration, error) {
	const path = "/mgmt/shared/authn/login"
	r, err := d.send(ctx, http.MethodPost, path, loginBody{
		Username:          d.cfg.Username,
		Password:          d.cfg.Password.Reveal(),
		LoginProviderName: "tmos",
	}, drivers.Secret{}, "")
	if err != nil && ctx.Err() != nil {
		return drivers.Secret{}, 0, fmt.Errorf("f5: login as %q: %w", d.cfg.Username, err)
	}
	if err != nil {
		return drivers.Secret{}, 0, drivers.Classify(drivers.ErrUnavailable, fmt.Errorf("f5: login as %q: %w", d.cfg.Username, err))
	}
	if r.status < 200 || r.status > 299 {
		err := d.statusError(http.MethodPost, path, r)
		if r.status >= 500 {
			err = drivers.Classify(drivers.ErrUnavailable, err)
		}
		return drivers.Secret{}, 0, fmt.Errorf("f5: login as %q: %w", d.cfg.Username, err)
	}
	var lr loginReply
	if err := json.Unmarshal(r.body, &lr); err != nil || lr.Token.Token == "" {
		return drivers.Secret{}, 0, fmt.Errorf("f5: login as %q: answer has no token.token", d.cfg.Username)
	}
	tok := drivers.NewSecret(lr.Token.Token)
	lifetime := time.Duration(lr.Token.Timeout) * time.Second
	if lifetime <= 0 {
		lifetime = defaultTokenLifetime
	}
	if want := d.cfg.TokenTimeout; want != 0 && want != lifetime {
		if err := d.extend(ctx, tok, want); err != nil {
			d.cfg.Logger.Warn("f5: could not extend the token lifetime; keeping the device default", "want", want, "lifetime", lifetime, "error", err)
		} else {
			lifetime = want
		}
	}
	d.cfg.Logger.Debug("f5: logged in", "user", d.cfg.Username, "token_lifetime", lifetime)
	return tok, lifetime, nil
}

// extend sets tok's lifetime with PATCH /mgmt/shared/authz/tokens/<token>.
func (d *Driver) extend(ctx context.Context, tok drivers.Secret, lifetime time.Duration) error {
	path := "/mgmt/shared/authz/tokens/" + url.PathEscape(tok.Reveal())
	r, err := d.send(ctx, http.MethodPatch, path, map[string]int{"timeout": int(lifetime / time.Second)}, tok, "")
	if err != nil {
		// The path holds the token: keep only the scrubbed message.
		return errors.New(strings.ReplaceAll(err.Error(), tok.Reveal(), redacted))
	}
	if r.status < 200 || r.status > 299 {
		return d.statusError(http.MethodPatch, "/mgmt/shared/authz/tokens/"+redacted, r)
	}
	return nil
}
