package spec

import (
	"strings"

	"github.com/balanced-deploy/balanced/farm"
)

// zonePlan is one zone of the farm as the spec lays it out: its groups and
// the load balancer block that fronts it.
type zonePlan struct {
	spec farm.ZoneSpec
	lb   *LoadBalancer
}

// layout turns the spec's servers and zones into farm zone specs, without
// load balancers. It assumes the spec was validated; names it cannot find
// are skipped (validation reports them).
func (s *Spec) layout() []zonePlan {
	byName := map[string]Server{}
	for _, sv := range s.Servers {
		byName[sv.Name] = sv
	}
	pick := func(zone string, names []string) []farm.Server {
		var out []farm.Server
		for _, n := range names {
			if sv, ok := byName[n]; ok {
				out = append(out, sv.farmServer(zone))
			}
		}
		return out
	}
	if len(s.Zones) == 0 {
		var all []farm.Server
		for _, sv := range s.Servers {
			all = append(all, sv.farmServer(""))
		}
		var out []zonePlan
		for _, zs := range farm.AutoSplit(all) {
			if zs.Name == "" {
				zs.Name = farm.DefaultZone
			}
			out = append(out, zonePlan{spec: zs, lb: s.LoadBalancer})
		}
		return out
	}
	var out []zonePlan
	for _, z := range s.Zones {
		name := z.Name
		if name == "" {
			name = farm.DefaultZone
		}
		zp := zonePlan{lb: z.LoadBalancer}
		if zp.lb == nil {
			zp.lb = s.LoadBalancer
		}
		if z.Split == SplitAuto {
			split := farm.AutoSplit(pick(name, z.Servers))
			if len(split) == 1 {
				zp.spec = split[0]
			}
			zp.spec.Name = name
		} else {
			zp.spec = farm.ZoneSpec{Name: name, Updating: pick(name, z.Updating), Loaded: pick(name, z.Loaded)}
		}
		out = append(out, zp)
	}
	return out
}

// SplitAuto is the value of a zone's split key that halves its servers
// automatically.
const SplitAuto = "auto"

// farmServer converts a spec server to the farm's, in zone.
func (sv Server) farmServer(zone string) farm.Server {
	url := sv.ProbeURL
	if url == "" {
		url = "https://" + bracketIPv6(sv.host()) + "/"
	}
	return farm.Server{
		Name:                 sv.Name,
		Address:              sv.Address,
		Member:               sv.Member,
		Zone:                 zone,
		DeploymentController: sv.Controller,
		ProbeURL:             url,
	}
}

func (sv Server) host() string {
	if sv.Address != "" {
		return sv.Address
	}
	return sv.Name
}

func bracketIPv6(h string) string {
	if strings.Contains(h, ":") && !strings.HasPrefix(h, "[") {
		return "[" + h + "]"
	}
	return h
}

// serversFrontedBy returns the servers of every zone lb fronts, in order.
func (s *Spec) serversFrontedBy(zones []zonePlan, lb *LoadBalancer) []farm.Server {
	var out []farm.Server
	for _, z := range zones {
		if z.lb == lb {
			out = append(out, z.spec.Updating...)
			out = append(out, z.spec.Loaded...)
		}
	}
	return out
}
