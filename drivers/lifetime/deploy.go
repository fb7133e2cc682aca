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

// applicationOperation is one element of ApplicationOperations. Both fields
// are required (Swagger ApplicationOperation); an empty DeploymentZoneKey
// means the target's default zone (docs, POST /deployments/), so it is sent
// even when empty.
type applicationOperation struct {
	ApplicationVersionKey string `json:"ApplicationVersionKey"`
	DeploymentZoneKey     string `json:"DeploymentZoneKey"`
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
	ops, err := c.operations(ctx, sourceKey, targetKey, rel, true)
	if err != nil {
		return "", err
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
	if err := c.command(ctx, id, c.startCommand()); err != nil {
		if certainlyNotApplied(err) {
			c.deleteSaved(id)
			return "", err
		}
		return id, err
	}
	c.logger.Info("lifetime: deployment started", "deployment", id)
	return id, nil
}

// operations resolves every application of rel to the version to deploy
// and the deployment zone to deploy it to: the zone the application has in
// the target environment (AppStatusInEnvs[].DeploymentZoneKey), or, for an
// application the target does not run yet, Config.DeploymentZoneKey ("" =
// the default zone). tag allows tagging a missing version (TagVersions).
func (c *Client) operations(ctx context.Context, sourceKey, targetKey string, rel drivers.Release, tag bool) ([]applicationOperation, error) {
	apps, err := c.applications(ctx, sourceKey)
	if err != nil {
		return nil, err
	}
	targetApps, err := c.applications(ctx, targetKey)
	if err != nil {
		return nil, err
	}
	ops := make([]applicationOperation, 0, len(rel.Applications))
	for _, a := range rel.Applications {
		key, err := c.versionKey(ctx, sourceKey, apps, a, tag)
		if err != nil {
			return nil, err
		}
		zone := c.cfg.DeploymentZoneKey
		if ta, err := findApp(targetApps, a.Name, c.cfg.TargetEnvironment); err == nil {
			if st, ok := ta.statusIn(targetKey); ok {
				zone = st.DeploymentZoneKey
			}
		}
		ops = append(ops, applicationOperation{ApplicationVersionKey: key, DeploymentZoneKey: zone})
	}
	return ops, nil
}

// startCommand is the start command with RedeployOutdated (Swagger:
// optional boolean query parameter of the command; OutSystems'
// outsystems-pipeline sends True unless told otherwise).
func (c *Client) startCommand() string {
	if c.cfg.KeepOutdated {
		return "start/?RedeployOutdated=false"
	}
	return "start/?RedeployOutdated=true"
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
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.CleanupTimeout)
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

// command sends POST /deployments/{id}/{cmd} (start, continue, abort; cmd
// ends with "/" and may carry a query).
func (c *Client) command(ctx context.Context, id, cmd string) error {
	if err := checkID(id); err != nil {
		return err
	}
	if _, _, err := c.do(ctx, http.MethodPost, "/deployments/"+url.PathEscape(id)+"/"+cmd, nil); err != nil {
		name, _, _ := strings.Cut(cmd, "/")
		return fmt.Errorf("lifetime: %s deployment %s: %w", name, id, err)
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
// only while the deployment is running or needs user intervention, and
// answers 400 otherwise (Deployment API v2: "Command can't be executed").
// Aborting is idempotent here, as the drivers contract wants: when LifeTime
// refuses because the deployment is already aborting or aborted, the status
// is read and nil returned. Refused in any other state (finished, saved),
// the error wraps [drivers.ErrInvalidArgument].
func (c *Client) AbortDeployment(ctx context.Context, id string) error {
	err := c.command(ctx, id, "abort/")
	if err == nil || !errors.Is(err, drivers.ErrInvalidArgument) || checkID(id) != nil {
		return err
	}
	st, serr := c.DeploymentStatus(ctx, id)
	if serr == nil && (st.State == drivers.DeploymentAborted || st.State == drivers.DeploymentAborting) {
		return nil
	}
	return err
}

// ContinueDeployment continues a deployment waiting in
// needs_user_intervention (for example a prepared two-stage deployment,
// whose second stage then runs the SQL scripts and switches the running
// versions: POST /deployments/{Key}/continue/, as OutSystems'
// outsystems-pipeline continue_deployment sends it).
// Otherwise the error wraps [drivers.ErrInvalidArgument].
func (c *Client) ContinueDeployment(ctx context.Context, id string) error {
	return c.command(ctx, id, "continue/")
}

// TwoStage reports Config.TwoStage: whether the target environment runs
// deployments in two stages, as the configuration declares (the Deployment
// API cannot say). It implements [drivers.DeploymentPreparer].
func (c *Client) TwoStage() bool { return c.cfg.TwoStage }

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
		v, err := c.version(ctx, a.Key, st.BaseApplicationVersionKey)
		if err != nil {
			return drivers.Release{}, fmt.Errorf("application %q: %w", a.Name, err)
		}
		version := v.Version
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
