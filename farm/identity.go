package farm

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"

	"github.com/balanced-deploy/balanced/drivers"
)

// Identity returns the farm's identity: a stable string derived from what
// makes two farm descriptions the same farm, and from nothing else (not the
// path of a spec or journal file, not the split of a zone into its groups,
// not the order in which servers are listed). Two copies of one spec in two
// directories give the same identity; it keys the host lock ([lock.File]) and
// the farm lease ([drivers.FarmLeaser]).
//
// It is "farm-" followed by 16 hexadecimal digits of a SHA-256 over, zone by
// zone in name order: the zone's name, its load balancer's identity when the
// driver reports one ([drivers.Identifier]), and the sorted names of the
// zone's servers. Two different farms whose load balancers report no identity
// and whose zones and server names are equal get the same identity, so they
// exclude each other: the error errs on the side of safety.
//
// It is computed by [New] from the load balancers given there, so the
// engine's wrappers of the drivers do not change it.
func (f *Farm) Identity() string {
	if f.identity == "" {
		return f.computeIdentity()
	}
	return f.identity
}

func (f *Farm) computeIdentity() string {
	zones := slices.Clone(f.zones)
	slices.SortFunc(zones, func(a, b *Zone) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	h := sha256.New()
	for _, z := range zones {
		fmt.Fprintf(h, "zone=%q\n", z.Name)
		if id, ok := z.LoadBalancer.(drivers.Identifier); ok {
			fmt.Fprintf(h, "lb=%q\n", id.Identity())
		}
		names := append(z.Updating.Names(), z.Loaded.Names()...)
		slices.Sort(names)
		for _, n := range names {
			fmt.Fprintf(h, "server=%q\n", n)
		}
	}
	return "farm-" + hex.EncodeToString(h.Sum(nil))[:16]
}
