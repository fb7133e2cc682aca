package lifetime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/balanced-deploy/balanced/drivers"
)

// applicationOperation is one element of ApplicationOperations.
type applicationOperation struct {
	ApplicationVersionKey string `json:"ApplicationVersionKey"`
	DeploymentZoneKey     string `json:"DeploymentZoneKey,omitempty"`
}

// deploymentBody is the body of POST /deployments/.
type deploymentBody struct {
	Notes                 string                 `json:"Notes"`
	SourceEnvironmentKey  string                 `json:"SourceEnvironmentKey"`
	TargetEnvironmentKey  string                 `json:"TargetEnvironmentKey"`
	ApplicationOperations []applicationOperation `json:"ApplicationOperations"`
}

// StartDeployment resolves the environments and every application version
// of rel, creates a deployment plan from the source to the target
// environment and starts it. It returns the deployment key.
//
// When LifeTime refuses to start the plan in a way that certainly left it
// unstarted (400, 401/403, 404, 429, 503, connection refused), the saved
// plan is deleted and the error returned with an empty id, so a retry starts
// clean. When the start request may have taken effect (500, 502, 504, a
// connection cut after sending), the id is returned together with the
// (unclassified) error: read its status before doing anything else.
func (c *Client) StartDeployment(ctx context.Context, rel drivers.Release) (string, error) {
	if len(rel.Applications) == 0 {
		return "", fmt.Errorf("lifetime: %w: release %q lists no applications; LifeTime deploys application versions", drivers.ErrInvalidArgument, rel.Version)
	}
	for i, a := range rel.Applications {
		if strings.TrimSpace(a.Name) == "" {
			return "", fmt.Errorf("lifetime: %w: release %q application %d has no name", drivers.ErrInvalidArgument, rel.Version, i)
		}
	}
	sourceKey, targetKey, err := c.environmentKeys(ctx)
	if err != nil {
		return "", err
	}
	apps, err := c.applications(ctx, sourceKey)
	if err != nil {
		return "", err
	}
	ops := make([]applicationOperation, 0, len(rel.Applications))
	for _, a := range rel.Applications {
		key, err := c.versionKey(ctx, sourceKey, apps, a)
		if err != nil {
			return "", err
		}
		ops = append(ops, applicationOperation{ApplicationVersionKey: key, DeploymentZoneKey: c.cfg.DeploymentZoneKey})
	}
	notes := rel.Notes
	if notes == "" {
		notes = "balanced deployment of release " + rel.Version
	}
	b, _, err := c.do(ctx, http.MethodPost, "/deployments/", deploymentBody{
		Notes: notes, SourceEnvironmentKey: sourceKey, TargetEnvironmentKey: targetKey, ApplicationOperations: ops,
	})
	if err != nil {
		return "", fmt.Errorf("lifetime: create deployment plan: %w", err)
	}
	id, err := ParseDeploymentKey(b)
	if err != nil {
		return "", err
	}
	c.logger.Info("lifetime: deployment plan created", "deployment", id, "release", rel.Version,
		"source", c.cfg.SourceEnvironment, "target", c.cfg.TargetEnvironment)
	if err := c.command(ctx, id, "start"); err != nil {
		if certainlyNotApplied(err) {
			c.deleteSaved(id)
			return "", err
		}
		return id, err
	}
	c.logger.Info("lifetime: deployment started", "deployment", id)
	return id, nil
}

// certainlyNotApplied reports whether a command error means the command had
// no effect.
func certainlyNotApplied(err error) bool {
	return errors.Is(err, drivers.ErrUnavailable) || errors.Is(err, drivers.ErrInvalidArgument) ||
		errors.Is(err, drivers.ErrPermissionDenied) || errors.Is(err, drivers.ErrNotFound)
}

// deleteSaved deletes a plan that was never started, best effort, on a
// fresh context so that a cancelled caller does not leave it behind.
func (c *Client) deleteSaved(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.AbortTimeout)
	defer cancel()
	if _, _, err := c.do(ctx, http.MethodDelete, "/deployments/"+url.PathEscape(id)+"/", nil); err != nil {
		c.logger.Warn("lifetime: could not delete the unstarted deployment plan", "deployment", id, "error", err)
		return
	}
	c.logger.Info("lifetime: deleted the unstarted deployment plan", "deployment", id)
}

// ParseDeploymentKey reads the answer of POST /deployments/: the key as a
// bare text/plain string, possibly JSON-quoted.
func ParseDeploymentKey(b []byte) (string, error) {
	s := strings.TrimSpace(string(b))
	if strings.HasPrefix(s, `"`) {
		var q string
		if err := json.Unmarshal([]byte(s), &q); err != nil {
			return "", fmt.Errorf("lifetime: deployment key %q is not a valid quoted string", truncate(s))
		}
		s = strings.TrimSpace(q)
	}
	if !validKey(s) {
		return "", fmt.Errorf("lifetime: deployment key %q is empty or malformed; expected a bare key such as 7d1f…", truncate(s))
	}
	return s, nil
}

// validKey reports whether s is a non-empty key of printable characters
// that is safe as one path segment.
func validKey(s string) bool {
	if s == "" || !utf8.ValidString(s) || strings.ContainsAny(s, "/?#%\"\\") {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) || unicode.IsSpace(r) {
			return false
		}
	}
	return true
}

func truncate(s string) string {
	if len(s) > maxMessage {
		return s[:maxMessage] + "…"
	}
	return s
}

func checkID(id string) error {
	if strings.TrimSpace(id) == "" || strings.ContainsAny(id, "/?#") {
		return fmt.Errorf("lifetime: %w: deployment id %q; expected a key returned by StartDeployment", drivers.ErrInvalidArgument, id)
	}
	return nil
}

// command sends POST /deployments/{id}/{cmd}/ (start, continue, abort).
func (c *Client) command(ctx context.Context, id, cmd string) error {
	if err := checkID(id); err != nil {
		return err
	}
	if _, _, err := c.do(ctx, http.MethodPost, "/deployments/"+url.PathEscape(id)+"/"+cmd+"/", nil); err != nil {
		return fmt.Errorf("lifetime: %s deployment %s: %w", cmd, id, err)
	}
	return nil
}

// DeploymentStatus reads GET /deployments/{id}/status/. An unknown
// DeploymentStatus value is an error.
func (c *Client) DeploymentStatus(ctx context.Context, id string) (drivers.DeploymentStatus, error) {
	if err := checkID(id); err != nil {
		return drivers.DeploymentStatus{}, err
	}
	b, _, err := c.do(ctx, http.MethodGet, "/deployments/"+url.PathEscape(id)+"/status/", nil)
	if err != nil {
		return drivers.DeploymentStatus{}, fmt.Errorf("lifetime: status of deployment %s: %w", id, err)
	}
	st, err := ParseStatus(b)
	if err != nil {
		return drivers.DeploymentStatus{}, fmt.Errorf("deployment %s: %w", id, err)
	}
	return st, nil
}

// AbortDeployment asks LifeTime to abort the deployment. LifeTime accepts it
// only while the deployment is running or needs user intervention; otherwise
// the error wraps [drivers.ErrInvalidArgument].
func (c *Client) AbortDeployment(ctx context.Context, id string) error {
	return c.command(ctx, id, "abort")
}

// ContinueDeployment continues a deployment waiting in
// needs_user_intervention (for example a prepared two-step deployment).
// Otherwise the error wraps [drivers.ErrInvalidArgument].
func (c *Client) ContinueDeployment(ctx context.Context, id string) error {
	return c.command(ctx, id, "continue")
}

// DeployedRelease reads the application versions the target environment
// runs: every application there, or the ones named in Config.Applications.
// Release.Version is the version they share, or empty when they differ.
// An application modified since its last tag is reported at that tag's
// version, with a warning logged.
func (c *Client) DeployedRelease(ctx context.Context) (drivers.Release, error) {
	_, targetKey, err := c.environmentKeys(ctx)
	if err != nil {
		return drivers.Release{}, err
	}
	apps, err := c.applications(ctx, targetKey)
	if err != nil {
		return drivers.Release{}, err
	}
	if len(c.cfg.Applications) > 0 {
		chosen := make([]applicationDTO, 0, len(c.cfg.Applications))
		for _, name := range c.cfg.Applications {
			a, err := findApp(apps, name, c.cfg.TargetEnvironment)
			if err != nil {
				return drivers.Release{}, err
			}
			chosen = append(chosen, a)
		}
		apps = chosen
	}
	var rel drivers.Release
	for _, a := range apps {
		st, ok := a.statusIn(targetKey)
		if !ok || st.BaseApplicationVersionKey == "" {
			if len(c.cfg.Applications) > 0 {
				return drivers.Release{}, fmt.Errorf("lifetime: %w: application %q has no version in environment %q", drivers.ErrNotFound, a.Name, c.cfg.TargetEnvironment)
			}
			continue
		}
		vs, err := c.versions(ctx, a.Key)
		if err != nil {
			return drivers.Release{}, fmt.Errorf("application %q: %w", a.Name, err)
		}
		version := ""
		for _, v := range vs {
			if v.Key == st.BaseApplicationVersionKey {
				version = v.Version
			}
		}
		if version == "" {
			return drivers.Release{}, fmt.Errorf("lifetime: %w: version key %q of application %q", drivers.ErrNotFound, st.BaseApplicationVersionKey, a.Name)
		}
		if st.IsModified {
			c.logger.Warn("lifetime: application modified since its last tag; a rollback would deploy the tag", "application", a.Name, "version", version)
		}
		rel.Applications = append(rel.Applications, drivers.Application{Name: a.Name, Version: version})
	}
	rel.Version = commonVersion(rel.Applications)
	return rel, nil
}

// commonVersion returns the version every application shares, or "".
func commonVersion(apps []drivers.Application) string {
	if len(apps) == 0 {
		return ""
	}
	v := apps[0].Version
	for _, a := range apps[1:] {
		if a.Version != v {
			return ""
		}
	}
	return v
}
