package canary

import (
	"context"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/stretchr/testify/require"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/drivers/lifetime"
	"github.com/balanced-deploy/balanced/drivers/lifetime/lifetimetest"
	"github.com/balanced-deploy/balanced/drivers/winrm"
	"github.com/balanced-deploy/balanced/drivers/winrm/winrmtest"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/lbdrivers/awsalb"
	"github.com/balanced-deploy/balanced/lbdrivers/awsalb/albtest"
	"github.com/balanced-deploy/balanced/lbdrivers/f5"
	"github.com/balanced-deploy/balanced/lbdrivers/f5/f5test"
	"github.com/balanced-deploy/balanced/simulate"
)

// Zones of the simulated farm, and the load-balancer driver in front of each.
const (
	f5Zone  = "east"
	albZone = "west"
)

// zoneDriver names the load-balancer driver of each zone.
var zoneDriver = map[string]string{f5Zone: "f5", albZone: "awsalb"}

// drainPeriod is the ALB target group's deregistration delay, and the
// engine's drain period.
const drainPeriod = 30 * time.Second

// fixture is a simulated farm whose every driver is a real client talking
// to its fake over the wire protocol, each fake backed by the simulator,
// with what each client sent recorded.
type fixture struct {
	sim  *simulate.Sim
	log  *logs
	out  *sink
	errs *errs

	winrmWire, ltWire, f5Wire, albWire *wire

	winrmFakes map[string]*winrmtest.Server
	ltFake     *lifetimetest.Fake
	f5Fakes    []*f5test.Server
	albFakes   []*albtest.Server

	winrm    *winrm.Driver
	lifetime *lifetime.Client
	farm     *farm.Farm
}

// newFixture builds the farm inside a synctest bubble. Call close before the
// bubble's function returns.
func newFixture(ctx context.Context, t *testing.T) (fx *fixture, close func()) {
	fx = &fixture{log: newLogs(), out: &sink{}, winrmWire: &wire{}, ltWire: &wire{}, f5Wire: &wire{}, albWire: &wire{},
		winrmFakes: map[string]*winrmtest.Server{}}
	fx.errs = newErrs(fx.out)
	var closers []func()
	close = func() {
		for _, c := range closers {
			c()
		}
	}

	sim, err := simulate.New(simulate.Config{
		Zones:             []simulate.ZoneConfig{{Name: f5Zone, Servers: 3}, {Name: albZone, Servers: 2}},
		Seed:              3,
		PublishDuration:   20 * time.Second,
		InstallDuration:   30 * time.Second,
		ServiceLatency:    50 * time.Millisecond,
		HealthCheckDelay:  time.Second,
		SchedulerInterval: 10 * time.Second,
		Traffic:           simulate.Traffic{Rate: 10, Clients: 20},
		Logger:            fx.log.logger,
	})
	require.NoError(t, err)
	fx.sim = sim

	// WinRM: one in-memory fake per front-end, over the simulator's services.
	for _, s := range sim.Servers() {
		srv := winrmtest.NewInMemoryServer(winrmtest.Config{
			Host: s.Name, Services: winrmtest.ControllerServices{Controller: sim.Services()},
			Username: winrmUser, Password: winrmPassword,
			// Basic over plain HTTP, enabled on purpose: the in-memory
			// fakes need Config.Dial, which NTLM message encryption cannot
			// use, and Basic puts the canary password on the wire.
			AllowBasic: true, AllowUnencrypted: true,
		})
		closers = append(closers, srv.Close)
		fx.winrmFakes[s.Name] = srv
	}
	dial := func(network, addr string) (net.Conn, error) {
		host, _, err := net.SplitHostPort(addr)
		if srv, ok := fx.winrmFakes[host]; ok && err == nil {
			return srv.Dial(network, addr)
		}
		return nil, &net.OpError{Op: "dial", Net: network, Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	}
	fx.winrm, err = winrm.New(winrm.Config{
		PlainHTTP: true, Auth: winrm.AuthBasic,
		Username: winrmUser, Password: drivers.NewSecret(winrmPassword),
		Timeout: 30 * time.Second, Dial: fx.winrmWire.dialer(dial), Logger: fx.log.logger,
	})
	require.NoError(t, err)

	// LifeTime: the fake deploys through the simulator's platform.
	fx.ltFake = lifetimetest.New(lifetimetest.Config{
		Token:   lifetimeToken,
		Backend: lifetimetest.PlatformBackend{Platform: sim.Platform(), PollInterval: time.Second},
		Applications: []lifetimetest.Application{
			{Name: "Portal", Running: map[string]string{"Quality": "v2", "Production": "v1"}},
		},
	})
	closers = append(closers, fx.ltFake.Close)
	fx.lifetime, err = lifetime.New(lifetime.Config{
		BaseURL: lifetimetest.InProcessBaseURL, Token: drivers.NewSecret(lifetimeToken),
		SourceEnvironment: "Quality", TargetEnvironment: "Production",
		HTTPClient: fx.ltWire.client(fx.ltFake.Transport()), Logger: fx.log.logger,
	})
	require.NoError(t, err)

	// Each zone's load balancer: the driver's fake backed by the
	// simulator's load balancer of that zone.
	servers := sim.Servers()
	lbs := map[string]drivers.LoadBalancer{}
	for _, zone := range sim.Zones() {
		switch zoneDriver[zone] {
		case "f5":
			lbs[zone] = fx.f5(t, zone)
			for i := range servers {
				if servers[i].Zone == zone {
					servers[i].Member = servers[i].Name + ":80"
				}
			}
		case "awsalb":
			lbs[zone] = fx.alb(ctx, t, zone)
		default:
			t.Fatalf("zone %s: no driver", zone)
		}
	}
	zones := farm.AutoSplit(servers)
	for i := range zones {
		zones[i].LoadBalancer = lbs[zones[i].Name]
	}
	fx.farm, err = farm.New(farm.Config{Zones: zones})
	require.NoError(t, err)
	return fx, close
}

// f5 returns the F5 driver for zone, through a fake of its own pool.
func (fx *fixture) f5(t *testing.T, zone string) drivers.LoadBalancer {
	pool := "pool-" + zone
	fake := f5test.New(f5test.Config{
		Username: f5User, Password: f5Password, Pool: pool,
		Store:         f5test.LoadBalancerStore(fx.sim.LoadBalancer(zone), 80),
		TokenLifetime: 5 * time.Minute,
	})
	fx.f5Fakes = append(fx.f5Fakes, fake)
	d, err := f5.New(f5.Config{
		BaseURL: "https://bigip-" + zone + ".test", Username: f5User, Password: drivers.NewSecret(f5Password),
		Pool: pool, HTTPClient: fx.f5Wire.client(fake.Client().Transport), Logger: fx.log.logger,
	})
	require.NoError(t, err)
	return wrapLB(d, "f5", fx.errs)
}

// alb returns the ALB driver for zone, its SDK configured with the canary
// secret key through the default configuration loader.
func (fx *fixture) alb(ctx context.Context, t *testing.T, zone string) drivers.LoadBalancer {
	// ALB cannot switch in one transaction: the simulator measures, not
	// forbids, the mixed-version window of such a zone.
	fake := albtest.New(albtest.Config{Store: albtest.LoadBalancerStore(fx.sim.PlainLoadBalancer(zone), drainPeriod)})
	fx.albFakes = append(fx.albFakes, fake)
	d, err := awsalb.New(ctx, awsalb.Config{
		TargetGroupARN: albtest.DefaultTargetGroupARN, Logger: fx.log.logger,
		LoadOptions: []func(*config.LoadOptions) error{
			config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(awsKeyID, awsSecretKey, "")),
			config.WithBaseEndpoint("http://elb-" + zone + ".test"),
			config.WithHTTPClient(fx.albWire.client(fake.Client().Transport)),
			config.WithRetryMaxAttempts(1),
			config.WithSharedConfigFiles([]string{}), config.WithSharedCredentialsFiles([]string{}),
		},
	})
	require.NoError(t, err)
	delay, err := d.DeregistrationDelay(ctx)
	require.NoError(t, err)
	require.Equal(t, drainPeriod, delay)
	return wrapLB(d, "awsalb", fx.errs)
}

// isolateAWS keeps the machine's AWS settings out of the SDK's default
// configuration (a CA bundle there refuses a custom HTTP client).
func isolateAWS(t *testing.T) {
	for _, v := range []string{"AWS_CA_BUNDLE", "AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"} {
		t.Setenv(v, "")
	}
}
