package lifetime_test

import (
	"context"
	"fmt"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/drivers/lifetime"
	"github.com/balanced-deploy/balanced/drivers/lifetime/lifetimetest"
)

// Deploy a release from Quality to Production and follow it to its end. The fake
// LifeTime stands in for https://lt.example/lifetimeapi/rest/v2.
func ExampleNew() {
	lt := lifetimetest.NewServer(lifetimetest.Config{
		Token: "service-account-token",
		Applications: []lifetimetest.Application{
			{Name: "Portal", Running: map[string]string{"Quality": "2.0", "Production": "1.0"}},
		},
	})
	defer lt.Close()

	client, err := lifetime.New(lifetime.Config{
		BaseURL:           lt.URL,
		Token:             drivers.NewSecret("service-account-token"), // from your secret store
		SourceEnvironment: "Quality",
		TargetEnvironment: "Production",
	})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	id, err := client.StartDeployment(ctx, drivers.Release{
		Version:      "2.0",
		Applications: []drivers.Application{{Name: "Portal", Version: "2.0"}},
		Notes:        "CHG-1234",
	})
	if err != nil {
		panic(err)
	}
	// The balanced plan (package steps) follows the deployment; here it
	// is polled by hand.
	st, err := client.DeploymentStatus(ctx, id)
	for err == nil && !st.State.Done() {
		time.Sleep(10 * time.Millisecond)
		st, err = client.DeploymentStatus(ctx, id)
	}
	if err != nil {
		panic(err)
	}
	deployed, err := client.DeployedRelease(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Println(st.State, deployed.Version)
	// Output: finished_successful 2.0
}
