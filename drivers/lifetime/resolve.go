package lifetime

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/balanced-deploy/balanced/drivers"
)

// environmentDTO is one element of GET /environments/.
type environmentDTO struct {
	Key  string `json:"Key"`
	Name string `json:"Name"`
}

// applicationDTO is one element of GET /environments/{EnvKey}/applications/.
type applicationDTO struct {
	Key             string         `json:"Key"`
	Name            string         `json:"Name"`
	AppStatusInEnvs []appStatusDTO `json:"AppStatusInEnvs"`
}

type appStatusDTO struct {
	EnvironmentKey            string `json:"EnvironmentKey"`
	BaseApplicationVersionKey string `json:"BaseApplicationVersionKey"`
	IsModified                bool   `json:"IsModified"`
	DeploymentZoneKey         string `json:"DeploymentZoneKey"`
}

// versionDTO is one element of GET /applications/{AppKey}/versions/.
type versionDTO struct {
	Key     string `json:"Key"`
	Version string `json:"Version"`
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

// getJSON GETs path and decodes a JSON answer into out. A 204 leaves out
// untouched (LifeTime answers 204 for an empty list).
func (c *Client) getJSON(ctx context.Context, path string, out any) error {
	b, status, err := c.do(ctx, http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	if status == http.StatusNoContent || len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("lifetime: GET %s: decode answer: %w", path, err)
	}
	return nil
}

// environmentKeys resolves the configured source and target names.
func (c *Client) environmentKeys(ctx context.Context) (source, target string, err error) {
	var envs []environmentDTO
	if err := c.getJSON(ctx, "/environments/", &envs); err != nil {
		return "", "", fmt.Errorf("lifetime: list environments: %w", err)
	}
	find := func(role, name string) (string, error) {
		names := make([]string, 0, len(envs))
		for _, e := range envs {
			if strings.EqualFold(strings.TrimSpace(e.Name), strings.TrimSpace(name)) {
				return e.Key, nil
			}
			names = append(names, e.Name)
		}
		return "", fmt.Errorf("lifetime: %w: %s environment %q; LifeTime knows %q", drivers.ErrNotFound, role, name, names)
	}
	if source, err = find("source", c.cfg.SourceEnvironment); err != nil {
		return "", "", err
	}
	if target, err = find("target", c.cfg.TargetEnvironment); err != nil {
		return "", "", err
	}
	return source, target, nil
}

// applications lists the applications of an environment with their status
// in it.
func (c *Client) applications(ctx context.Context, envKey string) ([]applicationDTO, error) {
	var apps []applicationDTO
	path := "/environments/" + url.PathEscape(envKey) + "/applications/?IncludeEnvStatus=true"
	if err := c.getJSON(ctx, path, &apps); err != nil {
		return nil, fmt.Errorf("lifetime: list applications: %w", err)
	}
	return apps, nil
}

// findApp finds an application by name (case-insensitive).
func findApp(apps []applicationDTO, name, envName string) (applicationDTO, error) {
	for _, a := range apps {
		if strings.EqualFold(strings.TrimSpace(a.Name), strings.TrimSpace(name)) {
			return a, nil
		}
	}
	return applicationDTO{}, fmt.Errorf("lifetime: %w: application %q in environment %q", drivers.ErrNotFound, name, envName)
}

// statusIn returns the application's status in envKey.
func (a applicationDTO) statusIn(envKey string) (appStatusDTO, bool) {
	for _, s := range a.AppStatusInEnvs {
		if s.EnvironmentKey == envKey {
			return s, true
		}
	}
	return appStatusDTO{}, false
}

// maxVersions is the MaximumVersionsToReturn sent when a version is looked
// up by name. Without it LifeTime returns only the 5 newest versions
// (Swagger: "The default value is 5"). A list that comes back this long may
// be cut short, so a version missing from it is not taken as missing.
const maxVersions = 10000

// versions lists an application's tagged versions, newest first, asking
// for up to maxVersions of them. complete is false when the list may have
// been cut at that limit.
func (c *Client) versions(ctx context.Context, appKey string) (vs []versionDTO, complete bool, err error) {
	path := "/applications/" + url.PathEscape(appKey) + "/versions/?MaximumVersionsToReturn=" + strconv.Itoa(maxVersions)
	if err := c.getJSON(ctx, path, &vs); err != nil {
		return nil, false, fmt.Errorf("lifetime: list versions: %w", err)
	}
	return vs, len(vs) < maxVersions, nil
}

// version reads one version by key (GET
// /applications/{Key}/versions/{VersionKey}/), however old it is.
// IncludeModules is sent because the docs mark it mandatory there.
func (c *Client) version(ctx context.Context, appKey, versionKey string) (versionDTO, error) {
	var v versionDTO
	path := "/applications/" + url.PathEscape(appKey) + "/versions/" + url.PathEscape(versionKey) + "/?IncludeModules=false"
	if err := c.getJSON(ctx, path, &v); err != nil {
		return versionDTO{}, fmt.Errorf("lifetime: read version %q: %w", versionKey, err)
	}
	if v.Version == "" {
		return versionDTO{}, fmt.Errorf("lifetime: read version %q: the answer has no Version", versionKey)
	}
	return v, nil
}

// versionKey resolves app at version in the source environment to an
// application version key, tagging it when configured and tag is set. An
// empty version means the version the source environment runs now. A
// version is tagged only when the complete list of versions lacks it.
func (c *Client) versionKey(ctx context.Context, sourceKey string, apps []applicationDTO, want drivers.Application, tag bool) (string, error) {
	app, err := findApp(apps, want.Name, c.cfg.SourceEnvironment)
	if err != nil {
		return "", err
	}
	if want.Version == "" {
		st, ok := app.statusIn(sourceKey)
		if !ok || st.BaseApplicationVersionKey == "" {
			return "", fmt.Errorf("lifetime: %w: application %q has no version in environment %q; give a Version", drivers.ErrNotFound, want.Name, c.cfg.SourceEnvironment)
		}
		if st.IsModified {
			return "", fmt.Errorf("lifetime: %w: application %q is modified in environment %q since its last tag; give a Version (and TagVersions) to tag it", drivers.ErrInvalidArgument, want.Name, c.cfg.SourceEnvironment)
		}
		return st.BaseApplicationVersionKey, nil
	}
	vs, complete, err := c.versions(ctx, app.Key)
	if err != nil {
		return "", fmt.Errorf("application %q: %w", want.Name, err)
	}
	for _, v := range vs {
		if v.Version == want.Version {
			return v.Key, nil
		}
	}
	switch {
	case !c.cfg.TagVersions || !tag:
		return "", fmt.Errorf("lifetime: %w: version %q of application %q (TagVersions is off, so it is not tagged)", drivers.ErrNotFound, want.Version, want.Name)
	case !complete:
		return "", fmt.Errorf("lifetime: %w: version %q of application %q is not among its %d newest versions and more may exist; not tagging a version that may exist", drivers.ErrNotFound, want.Version, want.Name, len(vs))
	}
	return c.tag(ctx, sourceKey, app, want.Version)
}

// tag creates version from the application as it runs in envKey.
func (c *Client) tag(ctx context.Context, envKey string, app applicationDTO, version string) (string, error) {
	path := "/environments/" + url.PathEscape(envKey) + "/applications/" + url.PathEscape(app.Key) + "/versions/"
	body := map[string]any{"ChangeLog": "tagged by balanced", "Version": version, "MobileVersions": []any{}}
	b, _, err := c.do(ctx, http.MethodPost, path, body)
	if err != nil {
		return "", fmt.Errorf("lifetime: tag application %q as version %q: %w", app.Name, version, err)
	}
	var out struct {
		ApplicationVersionKey string `json:"ApplicationVersionKey"`
	}
	if err := json.Unmarshal(b, &out); err != nil || out.ApplicationVersionKey == "" {
		return "", fmt.Errorf("lifetime: tag application %q as version %q: answer has no ApplicationVersionKey", app.Name, version)
	}
	c.logger.Info("lifetime: tagged application version", "application", app.Name, "version", version)
	return out.ApplicationVersionKey, nil
}
