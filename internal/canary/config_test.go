package canary

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/drivers/lifetime"
	"github.com/balanced-deploy/balanced/drivers/winrm"
	"github.com/balanced-deploy/balanced/lbdrivers/awsalb"
	"github.com/balanced-deploy/balanced/lbdrivers/awsalb/albtest"
	"github.com/balanced-deploy/balanced/lbdrivers/f5"
	"github.com/balanced-deploy/balanced/lbdrivers/nginx"
)

// TestCanaryConfigsNeverPrint prints every driver's Config, configured with
// its canary, and the driver built from it, every way a program might: fmt's
// verbs, encoding/json, and log/slog's JSON and text handlers. No rendering
// may show the secret.
func TestCanaryConfigsNeverPrint(t *testing.T) {
	isolateAWS(t)
	ctx := t.Context()
	log := newLogs()
	staticCreds := credentials.NewStaticCredentialsProvider(awsKeyID, awsSecretKey, "")

	winrmCfg := winrm.Config{PlainHTTP: true, Username: winrmUser, Password: drivers.NewSecret(winrmPassword), Logger: log.logger}
	winrmDrv, err := winrm.New(winrmCfg)
	require.NoError(t, err)
	ltCfg := lifetime.Config{BaseURL: "https://lt.example/lifetimeapi/rest/v2", Token: drivers.NewSecret(lifetimeToken),
		SourceEnvironment: "Quality", TargetEnvironment: "Production", Logger: log.logger}
	ltClient, err := lifetime.New(ltCfg)
	require.NoError(t, err)
	f5Cfg := f5.Config{BaseURL: "https://bigip.example", Username: f5User, Password: drivers.NewSecret(f5Password), Pool: "web", Logger: log.logger}
	f5Drv, err := f5.New(f5Cfg)
	require.NoError(t, err)
	plusCfg := nginx.PlusConfig{Endpoint: "https://lb.example:8443/api", Upstream: "frontends",
		Username: nginxUser, Password: drivers.NewSecret(nginxPassword), Logger: log.logger}
	plusDrv, err := nginx.NewPlus(plusCfg)
	require.NoError(t, err)
	// The ALB driver gets the AWS secret key two ways: inside the options
	// for the SDK's default configuration, or in a client built by hand.
	albLoadCfg := awsalb.Config{TargetGroupARN: albtest.DefaultTargetGroupARN, Logger: log.logger,
		LoadOptions: []func(*config.LoadOptions) error{config.WithCredentialsProvider(staticCreds)}}
	albLoadDrv, err := awsalb.New(ctx, albLoadCfg)
	require.NoError(t, err)
	albClientCfg := awsalb.Config{TargetGroupARN: albtest.DefaultTargetGroupARN, Logger: log.logger,
		Client: elbv2.New(elbv2.Options{Region: "us-east-1", Credentials: staticCreds, BaseEndpoint: aws.String("http://elb.test"), HTTPClient: http.DefaultClient})}
	albClientDrv, err := awsalb.New(ctx, albClientCfg)
	require.NoError(t, err)

	// sdkOwned marks a value that holds an SDK client the caller built: the
	// SDK's StaticCredentialsProvider keeps the key in a plain string field,
	// which fmt shows when a verb it cannot apply (%s, %q) makes it expand
	// the client. That is the SDK's doing and the caller's struct, so such a
	// value is checked with the verbs that apply to structs only.
	values := []struct {
		name     string
		v        any
		sdkOwned bool
	}{
		{"winrm.Config", winrmCfg, false}, {"*winrm.Config", &winrmCfg, false}, {"*winrm.Driver", winrmDrv, false},
		{"lifetime.Config", ltCfg, false}, {"*lifetime.Config", &ltCfg, false}, {"*lifetime.Client", ltClient, false},
		{"f5.Config", f5Cfg, false}, {"*f5.Config", &f5Cfg, false}, {"*f5.Driver", f5Drv, false},
		{"nginx.PlusConfig", plusCfg, false}, {"*nginx.PlusConfig", &plusCfg, false}, {"*nginx.Plus", plusDrv, false},
		{"awsalb.Config (LoadOptions)", albLoadCfg, false}, {"*awsalb.Driver (LoadOptions)", albLoadDrv, false},
		{"awsalb.Config (Client)", albClientCfg, true}, {"*awsalb.Driver (Client)", albClientDrv, false},
	}
	out := &sink{}
	n := 0
	for _, v := range values {
		verbs := []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"}
		if v.sdkOwned {
			verbs = verbs[:3]
		}
		for _, verb := range verbs {
			out.add(v.name+" "+verb, fmt.Sprintf(verb, v.v))
		}
		n += len(verbs) + 1
		if b, err := json.Marshal(v.v); err == nil {
			out.add(v.name+" JSON", string(b))
		} else {
			// A config holding functions (LoadOptions) does not marshal;
			// the error must not show a secret either.
			out.add(v.name+" JSON error", err.Error())
		}
		log.logger.Info("configured", "driver", v.name, "value", v.v)
	}
	out.add("slog JSON", log.json.String())
	out.add("slog text", log.text.String())
	texts, _ := out.check(t)
	assert.Contains(t, log.text.String(), "[redacted]", "control: the Secrets were printed, redacted")
	assert.Equal(t, n+2, texts)
}
