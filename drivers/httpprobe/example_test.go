package httpprobe_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/drivers/httpprobe"
)

// Probe one front-end directly and read the version from a JSON body.
func ExampleNew() {
	// A front-end serving the application (in real use: https://fe01.internal/).
	fe01 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"build":{"version":"2.0.17"}}`)
	}))
	defer fe01.Close()

	p, err := httpprobe.New(httpprobe.Config{
		Path:        "/MyApp/version.json",
		Host:        "portal.example.com", // the site name the front-end serves
		VersionJSON: "build.version",
	})
	if err != nil {
		panic(err)
	}
	res, err := p.Probe(context.Background(), drivers.Target{Name: "fe01", URL: fe01.URL})
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Healthy, res.StatusCode, res.Version)
	// Output: true 200 2.0.17
}
