package simulate

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/fault"
)

// Platform is the simulated deployment platform (LifeTime): a
// [drivers.PlatformClient] with every optional capability. Get it with
// [Sim.Platform].
//
// A deployment runs in two stages, as OutSystems documents its two-stage
// deployment: the first (compile, SQL scripts, upload of binaries: "no
// changes in the running versions") for Config.PublishDuration, the second
// (database changes applied, running versions switched) for
// Config.ApplyDuration. In a one-stage environment (the default) the second
// follows the first at once; with Config.TwoStage the deployment stops
// between them in needs_user_intervention with Info deploy_prepared until
// [Platform.ContinueDeployment]. At the end of the second stage the
// database schema moves to the release, the deployment reports
// finished_successful, and every front-end whose Deployment service runs
// starts installing the release (Config.InstallStagger apart, the
// controller first: the catch-up). A front-end whose Deployment service is
// stopped installs once the service is started again.
type Platform struct{ s *Sim }

var (
	_ drivers.PlatformClient        = (*Platform)(nil)
	_ drivers.DeployedReleaseReader = (*Platform)(nil)
	_ drivers.DeploymentAborter     = (*Platform)(nil)
	_ drivers.DeploymentContinuer   = (*Platform)(nil)
	_ drivers.DeploymentFinder      = (*Platform)(nil)
	_ drivers.DeploymentPreparer    = (*Platform)(nil)
)

// TwoStage reports Config.TwoStage: whether a deployment stops prepared
// after its first stage until [Platform.ContinueDeployment].
func (p *Platform) TwoStage() bool { return p.s.cfg.TwoStage }

// OpFindDeployment is a [Platform.FindDeployment] call. It is recorded in
// [Sim.Actions] like every driver call; faults cannot be injected into it.
const OpFindDeployment Op = "FindDeployment"

// Platform returns the farm's deployment platform.
func (s *Sim) Platform() *Platform { return &Platform{s: s} }

type deployment struct {
	id    string
	rel   drivers.Release
	state drivers.DeploymentState
	info  string
	log   []drivers.LogEntry
	gen   int
	// prepared: the first stage of a two-stage deployment ended and the
	// deployment waits for ContinueDeployment to apply.
	prepared bool
}

func (s *Sim) deployLog(d *deployment, typ, msg string) {
	d.log = append(d.log, drivers.LogEntry{Time: s.clock, Type: typ, Message: msg})
	s.logf("deployment", "id", d.id, "message", msg)
}

func (s *Sim) deployment(id string) (*deployment, error) {
	for _, d := range s.deploys {
		if d.id == id {
			return d, nil
		}
	}
	return nil, fmt.Errorf("%w: deployment %q: want an ID StartDeployment returned", drivers.ErrNotFound, id)
}

// StartDeployment starts deploying rel. It fails with
// [drivers.ErrUnavailable] while another deployment is running or when the
// Deployment Controller service is not running (nothing was started).
func (p *Platform) StartDeployment(ctx context.Context, rel drivers.Release) (string, error) {
	s := p.s
	var id string
	err := s.call(ctx, OpStartDeployment, "", nil, "version="+rel.Version, 0, func() error {
		if rel.Version == "" {
			return fmt.Errorf("%w: release with an empty version: want the version the application reports", drivers.ErrInvalidArgument)
		}
		for _, d := range s.deploys {
			if !d.state.Done() {
				return fmt.Errorf("%w: deployment %s of %s is %s: want it finished first", drivers.ErrUnavailable, d.id, d.rel.Version, d.state)
			}
		}
		for _, srv := range s.servers {
			if srv.controller && !srv.running(drivers.DeploymentControllerService) {
				return fmt.Errorf("%w: the Deployment Controller service on %s is not running", drivers.ErrUnavailable, srv.name)
			}
		}
		d := &deployment{id: fmt.Sprintf("dep-%d", len(s.deploys)+1), rel: rel, state: drivers.DeploymentRunning}
		s.deploys = append(s.deploys, d)
		id = d.id
		s.deployLog(d, "Info", "deployment of "+rel.Version+" started")
		s.newVersion = rel.Version
		if !s.cfg.TwoStage {
			// One stage: nothing can come between the first stage and
			// the switch of the running versions, so the Schedulers must
			// be stopped now (invariant 3).
			s.applyStarting(d)
		}
		gen := d.gen
		s.schedule(s.clock.Add(s.cfg.PublishDuration), prioDeploy, d.id, func() {
			if d.gen == gen && d.state == drivers.DeploymentRunning {
				s.firstStageEnded(d)
			}
		})
		return nil
	})
	return id, err
}

// firstStageEnded ends the first stage of deployment d: an injected
// publish fault (OpPublish) decides its outcome; otherwise a two-stage
// deployment waits prepared, and a one-stage one goes on to its second
// stage. The caller holds s.mu.
func (s *Sim) firstStageEnded(d *deployment) {
	if f := s.matchFault(OpPublish, nil); f != nil {
		s.publishFault(d, f, "publish")
		return
	}
	if s.cfg.TwoStage {
		d.state, d.info, d.prepared = drivers.DeploymentNeedsUserIntervention, drivers.InfoDeployPrepared, true
		s.deployLog(d, "Info", "deployment of "+d.rel.Version+" prepared: compiled and uploaded, nothing running changed; continue it to apply")
		return
	}
	s.applyStage(d)
}

// applyStarting marks the start of the deployment's second stage, which
// switches the running versions: from here the release is being rolled out
// (invariant 3), and a Scheduler still running on a server that does not
// run the release is a violation. The first stage of a two-stage
// deployment changes nothing that runs ("no changes in the running
// versions", OutSystems "Two-stage deployment"), so it is not counted. The
// caller holds s.mu.
func (s *Sim) applyStarting(d *deployment) {
	s.target = d.rel.Version
	for _, srv := range s.servers {
		if srv.running(drivers.SchedulerService) && srv.version != d.rel.Version {
			s.violate(3, srv.zone, srv.name, "Scheduler running when the deployment of "+d.rel.Version+" started applying")
		}
	}
}

// applyStage runs the second stage for Config.ApplyDuration, then ends the
// deployment: an injected apply fault (OpApply) decides its outcome,
// otherwise finishPublish. The caller holds s.mu.
func (s *Sim) applyStage(d *deployment) {
	end := func() {
		if f := s.matchFault(OpApply, nil); f != nil {
			s.publishFault(d, f, "second stage (apply)")
			return
		}
		s.finishPublish(d)
	}
	if s.cfg.ApplyDuration <= 0 {
		end()
		return
	}
	s.deployLog(d, "Info", "applying "+d.rel.Version)
	gen := d.gen
	s.schedule(s.clock.Add(s.cfg.ApplyDuration), prioDeploy, d.id, func() {
		if d.gen == gen && d.state == drivers.DeploymentRunning {
			end()
		}
	})
}

// publishFault ends the stage of d named stage as the injected publish
// (OpPublish) or apply (OpApply) fault f says.
func (s *Sim) publishFault(d *deployment, f *fault.Fault, stage string) {
	var out PublishOutcome
	isOutcome := errors.As(f.Err, &out)
	state := cmp.Or(out.State, drivers.DeploymentFailed)
	msg := stage + " ended: " + string(state)
	if f.Err != nil && !isOutcome {
		msg += ": " + f.Err.Error()
	}
	switch state {
	case drivers.DeploymentNeedsUserIntervention:
		d.state, d.info = state, out.Info
		s.deployLog(d, "Warning", msg)
	default:
		d.state = state
		s.deployLog(d, "Error", msg)
		s.target = ""
	}
}

// finishPublish moves the schema, reports success and queues the installs.
func (s *Sim) finishPublish(d *deployment) {
	s.schema = d.rel.Version
	s.deployed = d.rel
	d.state, d.info = drivers.DeploymentSucceeded, ""
	s.deployLog(d, "Info", "published "+d.rel.Version+"; database schema now "+d.rel.Version)
	order := slices.Clone(s.servers)
	slices.SortStableFunc(order, func(a, b *server) int {
		switch {
		case a.controller == b.controller:
			return 0
		case a.controller:
			return -1
		}
		return 1
	})
	k := 0
	for _, srv := range order {
		if srv.version == d.rel.Version && !srv.broken && !srv.installing {
			// Already on it: whatever older publish was waiting for the
			// Deployment service is superseded (a rollback republishes
			// the running version).
			srv.pending = ""
			continue
		}
		srv.pending = d.rel.Version
		if srv.running(drivers.DeploymentService) && !srv.installing && !srv.installQueued {
			s.queueInstall(srv, time.Duration(k)*s.cfg.InstallStagger)
			k++
		}
	}
}

// DeploymentStatus reads where deployment id stands.
func (p *Platform) DeploymentStatus(ctx context.Context, id string) (drivers.DeploymentStatus, error) {
	s := p.s
	var out drivers.DeploymentStatus
	err := s.call(ctx, OpDeploymentStatus, "", nil, "id="+id, 0, func() error {
		d, err := s.deployment(id)
		if err != nil {
			return err
		}
		out = drivers.DeploymentStatus{State: d.state, Info: d.info, Log: slices.Clone(d.log)}
		return nil
	})
	return out, err
}

// DeployedRelease returns the release last published successfully (the
// initial release before any).
func (p *Platform) DeployedRelease(ctx context.Context) (drivers.Release, error) {
	s := p.s
	var out drivers.Release
	err := s.call(ctx, OpDeployedRelease, "", nil, "", 0, func() error {
		out = s.deployed
		out.Applications = slices.Clone(out.Applications)
		return nil
	})
	return out, err
}

// AbortDeployment aborts a running deployment or one waiting for user
// intervention: nothing is published. Aborting an aborted deployment
// succeeds; aborting a finished one fails with [drivers.ErrInvalidArgument].
func (p *Platform) AbortDeployment(ctx context.Context, id string) error {
	s := p.s
	return s.call(ctx, OpAbortDeployment, "", nil, "id="+id, 0, func() error {
		d, err := s.deployment(id)
		if err != nil {
			return err
		}
		switch d.state {
		case drivers.DeploymentAborted:
			return nil
		case drivers.DeploymentRunning, drivers.DeploymentNeedsUserIntervention:
			d.gen++
			d.state, d.info, d.prepared = drivers.DeploymentAborted, "", false
			s.deployLog(d, "Warning", "deployment aborted")
			s.target = ""
			return nil
		}
		return fmt.Errorf("%w: deployment %s is %s: want it running or waiting to abort it", drivers.ErrInvalidArgument, id, d.state)
	})
}

// ContinueDeployment continues a deployment waiting in
// needs_user_intervention. A prepared two-stage deployment (Config.TwoStage)
// runs its second stage (Config.ApplyDuration), as LifeTime's POST
// /deployments/{key}/continue/ does; any other pause (an injected fault)
// finishes the publish at once. Continuing a
// deployment that is running or succeeded changes nothing; continuing one
// that failed or was aborted fails with [drivers.ErrInvalidArgument].
func (p *Platform) ContinueDeployment(ctx context.Context, id string) error {
	s := p.s
	return s.call(ctx, OpContinueDeployment, "", nil, "id="+id, 0, func() error {
		d, err := s.deployment(id)
		if err != nil {
			return err
		}
		switch {
		case d.state == drivers.DeploymentNeedsUserIntervention && d.prepared:
			s.deployLog(d, "Info", "deployment continued")
			d.state, d.info, d.prepared = drivers.DeploymentRunning, "", false
			s.applyStarting(d)
			s.applyStage(d)
			return nil
		case d.state == drivers.DeploymentNeedsUserIntervention:
			s.deployLog(d, "Info", "deployment continued")
			if s.target != d.rel.Version {
				s.applyStarting(d) // a pause of a two-stage deployment's first stage
			}
			s.finishPublish(d)
			return nil
		case d.state == drivers.DeploymentRunning || d.state.Succeeded():
			return nil
		}
		return fmt.Errorf("%w: deployment %s is %s: want it waiting for user intervention", drivers.ErrInvalidArgument, id, d.state)
	})
}

// FindDeployment returns the newest deployment of rel.Version that is
// running or waiting for user intervention, as LifeTime's list of
// deployments lets a client find it (drivers.DeploymentFinder).
func (p *Platform) FindDeployment(ctx context.Context, rel drivers.Release) (string, bool, error) {
	s := p.s
	var (
		id    string
		found bool
	)
	err := s.call(ctx, OpFindDeployment, "", nil, "version="+rel.Version, 0, func() error {
		for i := len(s.deploys) - 1; i >= 0; i-- {
			d := s.deploys[i]
			if d.rel.Version == rel.Version && (d.state == drivers.DeploymentRunning || d.state == drivers.DeploymentNeedsUserIntervention) {
				id, found = d.id, true
				return nil
			}
		}
		return nil
	})
	return id, found, err
}
