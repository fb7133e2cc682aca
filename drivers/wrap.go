package drivers

import (
	"reflect"
	"slices"
)

// capabilities are the optional capabilities this package declares, by
// name, with the interface type a driver value is asserted to.
var capabilities = []struct {
	name string
	typ  reflect.Type
}{
	{"ApplicationProber", reflect.TypeFor[ApplicationProber]()},
	{"DeployedReleaseReader", reflect.TypeFor[DeployedReleaseReader]()},
	{"DeploymentAborter", reflect.TypeFor[DeploymentAborter]()},
	{"DeploymentContinuer", reflect.TypeFor[DeploymentContinuer]()},
	{"DeploymentFinder", reflect.TypeFor[DeploymentFinder]()},
	{"DeploymentPreparer", reflect.TypeFor[DeploymentPreparer]()},
	{"FarmLeaser", reflect.TypeFor[FarmLeaser]()},
	{"Identifier", reflect.TypeFor[Identifier]()},
	{"IdleReporter", reflect.TypeFor[IdleReporter]()},
	{"Switcher", reflect.TypeFor[Switcher]()},
}

// Capabilities returns the names of the optional capabilities of this
// package that v implements ("Switcher", "IdleReporter", ...), sorted. Nil
// implements none.
func Capabilities(v any) []string {
	if v == nil {
		return nil
	}
	t := reflect.TypeOf(v)
	var out []string
	for _, c := range capabilities {
		if t.Implements(c.typ) {
			out = append(out, c.name)
		}
	}
	return out
}

// HiddenCapabilities returns the optional capabilities inner implements that
// wrapper does not: what a wrapper around inner (logging, metrics, a rate
// limit) hides from the engine, which finds capabilities by type assertion
// on the value it is given. A wrapper's own test asserts it is empty for each
// kind of driver it may wrap (see "Wrapping a driver" in the package
// documentation).
func HiddenCapabilities(inner, wrapper any) []string {
	has := Capabilities(wrapper)
	var out []string
	for _, c := range Capabilities(inner) {
		if !slices.Contains(has, c) {
			out = append(out, c)
		}
	}
	return out
}
