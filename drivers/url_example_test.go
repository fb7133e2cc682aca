package drivers_test

import (
	"fmt"

	"github.com/balanced-deploy/balanced/drivers"
)

// A driver echoes a URL it was given only through RedactURL, and checks it
// with CheckHTTPURL, whose errors quote no user info either.
func ExampleRedactURL() {
	fmt.Println(drivers.RedactURL("https://TOKEN@lt.example/lifetimeapi/rest/v2"))
	fmt.Println(drivers.RedactURL("https://ops:pa%zz@fe01.internal/health?key=s3cr3t"))
	_, err := drivers.CheckHTTPURL("BaseURL", "https://ops:pa%zz@lt.example/")
	fmt.Println(err)
	// Output:
	// https://[redacted]@lt.example/lifetimeapi/rest/v2
	// https://[redacted]@fe01.internal/health?key=[redacted]
	// invalid argument: BaseURL "https://[redacted]@lt.example/": bad %-escape: want an absolute http:// or https:// URL
}
