package lifetime

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"

	"github.com/balanced-deploy/balanced/drivers"
)

// deploymentDTO is one element of GET /deployments/ (docs, structure
// Deployment). It carries no status.
type deploymentDTO struct {
	Key                   string `json:"Key"`
	SourceEnvironmentKey  string `json:"SourceEnvironmentKey"`
	TargetEnvironmentKey  string `json:"TargetEnvironmentKey"`
	ApplicationOperations []struct {
		ApplicationVersionKey string `json:"ApplicationVersionKey"`
	} `json:"ApplicationOperations"`
}

// maxCandidates bounds how many matching plans FindDeployment reads the
// status of.
const maxCandidates = 20

// FindDeployment finds the newest deployment of rel from the source to the
// target environment that LifeTime is running or holding for user
// intervention, so that a run which lost the key of the deployment it
// started follows it instead of starting a second one.
//
// It resolves rel's application versions as StartDeployment does (without
// tagging: a version that does not exist yet cannot be deploying), lists
// GET /deployments/?TargetEnvironmentKey=<target> (the Deployment API v2
// lists plans created in the last week by default, newest first, without
// their status), keeps the plans from the source environment whose
// application versions are exactly rel's, and reads the status of each,
// newest first, until one is running or needs_user_intervention. A plan
// only saved (never started) is not adopted.
func (c *Client) FindDeployment(ctx context.Context, rel drivers.Release) (string, bool, error) {
	if len(rel.Applications) == 0 {
		return "", false, fmt.Errorf("lifetime: %w: release %q lists no applications; LifeTime deploys application versions", drivers.ErrInvalidArgument, rel.Version)
	}
	sourceKey, targetKey, err := c.environmentKeys(ctx)
	if err != nil {
		return "", false, err
	}
	ops, err := c.operations(ctx, sourceKey, targetKey, rel, false)
	if errors.Is(err, drivers.ErrNotFound) {
		return "", false, nil // a version that does not exist is not deploying
	}
	if err != nil {
		return "", false, err
	}
	want := make([]string, 0, len(ops))
	for _, o := range ops {
		want = append(want, o.ApplicationVersionKey)
	}
	slices.Sort(want)
	var deps []deploymentDTO
	if err := c.getJSON(ctx, "/deployments/?TargetEnvironmentKey="+url.QueryEscape(targetKey), &deps); err != nil {
		return "", false, fmt.Errorf("lifetime: list deployments: %w", err)
	}
	read := 0
	for _, d := range deps {
		if d.SourceEnvironmentKey != sourceKey || d.TargetEnvironmentKey != targetKey || !validKey(d.Key) {
			continue
		}
		have := make([]string, 0, len(d.ApplicationOperations))
		for _, o := range d.ApplicationOperations {
			have = append(have, o.ApplicationVersionKey)
		}
		slices.Sort(have)
		if !slices.Equal(have, want) {
			continue
		}
		if read++; read > maxCandidates {
			break
		}
		st, err := c.DeploymentStatus(ctx, d.Key)
		if err != nil {
			return "", false, err
		}
		if st.State == drivers.DeploymentRunning || st.State == drivers.DeploymentNeedsUserIntervention {
			c.logger.Info("lifetime: found a running deployment of the release", "deployment", d.Key, "release", rel.Version, "state", st.State)
			return d.Key, true, nil
		}
	}
	return "", false, nil
}
