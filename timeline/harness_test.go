package timeline_test

import (
	"bytes"
	"encoding/xml"
	"errors"
	"flag"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/farm/event"
	"github.com/balanced-deploy/balanced/simulate"
	"github.com/balanced-deploy/balanced/steps"
)

var (
	update  = flag.Bool("update", false, "rewrite the golden files in testdata")
	svgPath = flag.String("svg", "", "also write the SVG of the balanced run to this file, to look at it")
)

// deployment is the outcome of a balanced deployment on a simulated farm.
type deployment struct {
	sim   simulate.Report
	run   *farm.Report
	start time.Time // when simulate.New was called
	err   error
}

// deploy runs steps.Balanced, unchanged, on a simulated farm under load,
// with a quiet time before and after, marking each step on the simulator's
// timeline. Call it inside synctest.Test.
func deploy(t *testing.T, cfg simulate.Config, quiet time.Duration, tune func(*simulate.Sim, *steps.Config)) deployment {
	t.Helper()
	sim, err := simulate.New(cfg)
	require.NoError(t, err)
	start := time.Now().Add(-sim.Elapsed())
	zones := farm.AutoSplit(sim.Servers())
	for i := range zones {
		zones[i].LoadBalancer = sim.LoadBalancer(zones[i].Name)
	}
	f, err := farm.New(farm.Config{Zones: zones})
	require.NoError(t, err)
	rel := drivers.Release{Version: "v2"}
	sc := steps.Config{Services: sim.Services(), Platform: sim.Platform(), Prober: sim.Prober(), Release: rel,
		Plan: farm.PlanConfig{Seed: 1, Retry: farm.RetryPolicy{Jitter: -1}, Observer: event.ObserverFunc(func(e event.Event) {
			if e.Kind == event.StepStarted {
				sim.Mark(e.Step)
			}
		})}}
	if tune != nil {
		tune(sim, &sc)
	}
	plan, err := steps.Balanced(f, sc)
	require.NoError(t, err)
	require.NoError(t, sim.Start(t.Context()))
	time.Sleep(quiet)
	run, runErr := plan.Run(t.Context())
	time.Sleep(quiet)
	sim.Stop()
	if runErr == nil {
		sim.CheckEndState(rel)
	}
	return deployment{sim: sim.Report(), run: run, start: start, err: runErr}
}

// element is one start element of the SVG with its attributes.
type element struct {
	name  string
	attrs map[string]string
	// zone is the data-zone of the group the element is in, if any.
	zone string
}

func (e element) hasClass(c string) bool {
	return strings.Contains(" "+e.attrs["class"]+" ", " "+c+" ")
}

// parseSVG decodes every token of doc, failing the test on malformed XML,
// and returns the start elements in document order.
func parseSVG(t *testing.T, doc []byte) []element {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(doc))
	var out []element
	var zones []string // data-zone of the enclosing elements ("" for none)
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err, "the SVG is not well-formed XML")
		switch tok := tok.(type) {
		case xml.StartElement:
			e := element{name: tok.Name.Local, attrs: map[string]string{}}
			if tok.Name.Space != "" {
				e.attrs["xmlns"] = tok.Name.Space
			}
			for _, a := range tok.Attr {
				e.attrs[a.Name.Local] = a.Value
			}
			if len(zones) > 0 {
				e.zone = zones[len(zones)-1]
			}
			if z, ok := e.attrs["data-zone"]; ok {
				e.zone = z
			}
			zones = append(zones, e.zone)
			out = append(out, e)
		case xml.EndElement:
			zones = zones[:len(zones)-1]
		}
	}
	require.NotEmpty(t, out, "no element")
	require.Empty(t, zones, "unclosed elements")
	return out
}

// find returns the elements that match.
func find(els []element, match func(element) bool) []element {
	var out []element
	for _, e := range els {
		if match(e) {
			out = append(out, e)
		}
	}
	return out
}

// change is one "<seconds>:<count>" pair of a data attribute.
type change struct {
	at time.Duration
	n  int
}

// changes parses a data-serving (or data-installing) attribute.
func changes(t *testing.T, attr string) []change {
	t.Helper()
	var out []change
	for _, f := range strings.Fields(attr) {
		at, n, ok := strings.Cut(f, ":")
		require.True(t, ok, "pair %q in %q", f, attr)
		s, err := strconv.ParseFloat(at, 64)
		require.NoError(t, err)
		c, err := strconv.Atoi(n)
		require.NoError(t, err)
		out = append(out, change{at: time.Duration(s * float64(time.Second)), n: c})
	}
	return out
}

// writeSVG writes doc to path when path is set.
func writeSVG(t *testing.T, path string, doc []byte) {
	t.Helper()
	if path != "" {
		require.NoError(t, os.WriteFile(path, doc, 0o644))
		t.Logf("wrote %s", path)
	}
}
