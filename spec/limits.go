package spec

import (
	"fmt"
	"reflect"
	"strings"
	"time"
)

// Limits of the values a spec accepts. A value outside them is an error at
// its line, before anything runs: a poll interval of 1ns would hammer the
// drivers, a retry of 2^62 attempts would never give up.
//
// Zero keeps meaning "the default" for every duration and every retry
// setting.
const (
	// MinInterval is the shortest poll interval, delay, period or backoff:
	// every duration key whose name ends in interval, delay, period, settle
	// or backoff (timeouts.poll_interval, timeouts.confirm_delay,
	// retry.initial_backoff, platform.poll_interval, ...).
	MinInterval = 100 * time.Millisecond
	// MinTimeout is the shortest timeout: every other duration key
	// (timeouts.drain, timeouts.publish, services.timeout, ...).
	MinTimeout = time.Second
	// MaxDuration is the longest duration of any key.
	MaxDuration = 24 * time.Hour
	// MaxAttempts is the most attempts retry.max_attempts may ask for.
	MaxAttempts = 100
	// MaxMultiplier is the largest retry.multiplier.
	MaxMultiplier = 10.0
)

// durationClass says which minimum a duration key has.
func durationMin(key string) (time.Duration, string) {
	for _, suffix := range []string{"interval", "delay", "period", "settle", "backoff"} {
		if strings.HasSuffix(key, suffix) {
			return MinInterval, "an interval"
		}
	}
	return MinTimeout, "a timeout"
}

var durationType = reflect.TypeFor[Duration]()

// durations checks every Duration of the spec against [MinInterval],
// [MinTimeout] and [MaxDuration], whatever block it is in: it walks the
// decoded spec by its yaml keys, so a key added later is checked too.
func (v *validator) durations() {
	v.walkDurations("$", reflect.ValueOf(v.spec).Elem())
}

func (v *validator) walkDurations(path string, rv reflect.Value) {
	switch rv.Kind() {
	case reflect.Pointer:
		if !rv.IsNil() {
			v.walkDurations(path, rv.Elem())
		}
		return
	case reflect.Slice:
		for i := range rv.Len() {
			v.walkDurations(fmt.Sprintf("%s[%d]", path, i), rv.Index(i))
		}
		return
	case reflect.Struct:
	default:
		return
	}
	t := rv.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		fv := rv.Field(i)
		switch {
		case f.Type == durationType:
			if tag == "" || tag == "-" {
				continue
			}
			v.checkDuration(path+"."+tag, tag, time.Duration(fv.Int()))
		case tag == "-" || f.Anonymous:
			// A load_balancer's kind settings sit inline in its block.
			v.walkDurations(path, fv)
		case tag != "":
			v.walkDurations(path+"."+tag, fv)
		}
	}
}

func (v *validator) checkDuration(path, key string, d time.Duration) {
	if d == 0 {
		return
	}
	min, class := durationMin(key)
	switch {
	case d < min:
		v.errorf(path, "%s %v: want 0 (the default) or at least %v (%s)", key, d, min, class)
	case d > MaxDuration:
		v.errorf(path, "%s %v: want 0 (the default) or at most %v", key, d, MaxDuration)
	}
}
