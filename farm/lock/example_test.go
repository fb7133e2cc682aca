package lock_test

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/balanced-deploy/balanced/farm/lock"
)

// ExampleFile takes a farm's host lock, shows that a second run of the
// same farm is refused at once, and reads who holds it, as
// `balancedctl status` does.
func ExampleFile() {
	dir, err := os.MkdirTemp("", "lock-example")
	if err != nil {
		panic(err)
	}
	defer func() { _ = os.RemoveAll(dir) }()
	l := lock.File{Dir: dir}
	const farmID = "farm-0123456789abcdef" // farm.Farm.Identity()

	release, err := l.Lock(context.Background(), lock.Holder{Farm: farmID, Host: "ops-1", PID: os.Getpid(), User: "alice", RunID: "R1", Label: "release 2.4.0"})
	if err != nil {
		panic(err)
	}
	_, err = l.Lock(context.Background(), lock.Holder{Farm: farmID, Host: "ops-1", RunID: "R2"})
	fmt.Println("second run refused:", errors.Is(err, lock.ErrLocked))

	st, err := l.Status(farmID)
	if err != nil {
		panic(err)
	}
	fmt.Println("held:", st.Held, "by run", st.Holder.RunID, "of", st.Holder.User)

	if err := release(); err != nil {
		panic(err)
	}
	st, _ = l.Status(farmID)
	fmt.Println("held after release:", st.Held)
	// Output:
	// second run refused: true
	// held: true by run R1 of alice
	// held after release: false
}
