package farm

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/internal/names"
)

// ErrInvalidFarm is wrapped by every error [New] returns for a farm that is
// not valid.
var ErrInvalidFarm = errors.New("invalid farm")

// GroupRole says which half of a zone a group is.
type GroupRole string

// The two groups of the balanced procedure.
const (
	// Updating front-ends are taken out of traffic and updated first. The
	// Deployment Controller is among them.
	Updating GroupRole = "updating"
	// Loaded front-ends keep serving while the Updating ones install, and
	// catch up afterwards.
	Loaded GroupRole = "loaded"
)

// Group is one zone's Updating or Loaded servers.
type Group struct {
	// Zone is the group's zone.
	Zone string
	// Role says whether it is the Updating or the Loaded group.
	Role GroupRole
	// Servers lists the group's servers in order.
	Servers []Server
}

// Members returns the load-balancer member identities ([Server.MemberID])
// of all the group's servers, excluded ones included; a step that acts on
// the servers still in the run wants [Run.IncludedMembers].
func (g Group) Members() []string {
	out := make([]string, len(g.Servers))
	for i, s := range g.Servers {
		out[i] = s.MemberID()
	}
	return out
}

// Names returns the names of the group's servers.
func (g Group) Names() []string {
	out := make([]string, len(g.Servers))
	for i, s := range g.Servers {
		out[i] = s.Name
	}
	return out
}

// Zone is one deployment zone: its two groups and the load balancer in front
// of them. Every invariant of the procedure holds per zone.
type Zone struct {
	// Name is the zone's name.
	Name string
	// Updating and Loaded are the zone's two groups.
	Updating Group
	Loaded   Group
	// LoadBalancer fronts the zone's servers.
	LoadBalancer drivers.LoadBalancer
}

// Servers returns the zone's servers, Updating first.
func (z *Zone) Servers() []Server {
	return slices.Concat(z.Updating.Servers, z.Loaded.Servers)
}

// Group returns the zone's group of the given role.
func (z *Zone) Group(role GroupRole) Group {
	if role == Loaded {
		return z.Loaded
	}
	return z.Updating
}

// ZoneSpec describes one zone explicitly: which servers are Updating and which
// are Loaded.
type ZoneSpec struct {
	// Name is the zone's name. Empty means [DefaultZone].
	Name string
	// Updating lists the servers updated first; the Deployment Controller
	// must be among them if it is in this zone.
	Updating []Server
	// Loaded lists the servers that keep serving while Updating installs.
	Loaded []Server
	// LoadBalancer fronts this zone. Nil means Config.LoadBalancer.
	LoadBalancer drivers.LoadBalancer
}

// DefaultCapacityFloor is the share of each zone that each of its groups
// must hold when Config.CapacityFloor is zero.
const DefaultCapacityFloor = 1.0 / 3

// Config describes a farm for [New]. The zero value of every optional field
// means a sensible default.
type Config struct {
	// Zones lists the zones with their groups. Build it by hand, or with
	// [AutoSplit] from a flat list of servers.
	Zones []ZoneSpec
	// LoadBalancer fronts every zone that names none of its own.
	LoadBalancer drivers.LoadBalancer
	// CapacityFloor is the share (0 to 1) of each zone's servers that must
	// be in each of its groups: the Loaded group alone carries the zone's
	// traffic while the Updating group installs, and the Updating group
	// alone from the switch until the Loaded group is back. Zero means
	// [DefaultCapacityFloor]; a negative value disables the check.
	CapacityFloor float64
}

// Farm is a validated set of zones. Build it with [New]; it does not change
// afterwards and is safe for concurrent use.
type Farm struct {
	zones         []*Zone
	byName        map[string]Server
	capacityFloor float64
	identity      string // Identity, computed by New from the drivers given
}

// New validates cfg and returns the farm. It calls no driver. Every error
// wraps [ErrInvalidFarm] and names the bad value and what was expected.
func New(cfg Config) (*Farm, error) {
	floor := cfg.CapacityFloor
	switch {
	case floor == 0:
		floor = DefaultCapacityFloor
	case floor > 1 || math.IsNaN(floor):
		return nil, fmt.Errorf("%w: capacity floor %v: want a share between 0 and 1", ErrInvalidFarm, cfg.CapacityFloor)
	}
	if len(cfg.Zones) == 0 {
		return nil, fmt.Errorf("%w: no zones: want at least one zone with servers", ErrInvalidFarm)
	}
	f := &Farm{byName: map[string]Server{}, capacityFloor: floor}
	members := map[drivers.LoadBalancer]map[string]string{}
	controllers := 0
	for _, zs := range cfg.Zones {
		z, err := f.buildZone(zs, cfg.LoadBalancer, members)
		if err != nil {
			return nil, err
		}
		for _, s := range z.Loaded.Servers {
			if s.DeploymentController {
				return nil, fmt.Errorf("%w: zone %s: server %s has the Deployment Controller role but is in the Loaded group: want it in the Updating group", ErrInvalidFarm, z.Name, s.Name)
			}
		}
		for _, s := range z.Updating.Servers {
			if s.DeploymentController {
				controllers++
			}
		}
		if err := checkFloor(z, floor); err != nil {
			return nil, err
		}
		f.zones = append(f.zones, z)
	}
	if controllers > 1 {
		return nil, fmt.Errorf("%w: %d servers have the Deployment Controller role: want at most one", ErrInvalidFarm, controllers)
	}
	f.identity = f.computeIdentity()
	return f, nil
}

// checkFloor checks both groups of z against the capacity floor: the Loaded
// group carries the zone alone while the Updating group installs, and the
// Updating group carries it alone from the switch until the Loaded group is
// back.
func checkFloor(z *Zone, floor float64) error {
	if floor <= 0 {
		return nil
	}
	n := len(z.Updating.Servers) + len(z.Loaded.Servers)
	for _, g := range []Group{z.Updating, z.Loaded} {
		share := float64(len(g.Servers)) / float64(n)
		if share+1e-9 < floor {
			what := "while the Updating group installs"
			if g.Role == Updating {
				what = "from the switch until the Loaded group is back"
			}
			return fmt.Errorf("%w: zone %s: %s group holds %d of %d servers (%.0f%%): want at least %.0f%% (the capacity floor), since it carries the zone's traffic alone %s",
				ErrInvalidFarm, z.Name, upper(g.Role), len(g.Servers), n, share*100, floor*100, what)
		}
	}
	return nil
}

// upper returns the role as the docs name it ("Updating", "Loaded").
func upper(r GroupRole) string {
	if r == Loaded {
		return "Loaded"
	}
	return "Updating"
}

func (f *Farm) buildZone(zs ZoneSpec, defaultLB drivers.LoadBalancer, members map[drivers.LoadBalancer]map[string]string) (*Zone, error) {
	name := zs.Name
	if name == "" {
		name = DefaultZone
	}
	if err := names.Name("zone name", name); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidFarm, err)
	}
	for _, other := range f.zones {
		if other.Name == name {
			return nil, fmt.Errorf("%w: %w", ErrInvalidFarm, names.Twice("zone", name, ""))
		}
	}
	if len(zs.Updating) == 0 {
		return nil, fmt.Errorf("%w: zone %s: Updating group is empty: want at least one server", ErrInvalidFarm, name)
	}
	if len(zs.Loaded) == 0 {
		return nil, fmt.Errorf("%w: zone %s: Loaded group is empty: want at least one server", ErrInvalidFarm, name)
	}
	lb := zs.LoadBalancer
	if lb == nil {
		lb = defaultLB
	}
	if lb == nil {
		return nil, fmt.Errorf("%w: zone %s: no load balancer: want ZoneSpec.LoadBalancer or Config.LoadBalancer", ErrInvalidFarm, name)
	}
	if err := usableLoadBalancer(lb); err != nil {
		return nil, fmt.Errorf("%w: zone %s: %w", ErrInvalidFarm, name, err)
	}
	if members[lb] == nil {
		members[lb] = map[string]string{}
	}
	z := &Zone{Name: name, LoadBalancer: lb}
	add := func(role GroupRole, servers []Server) (Group, error) {
		g := Group{Zone: name, Role: role}
		for _, s := range servers {
			if err := s.validate(); err != nil {
				return g, err
			}
			if s.Zone != "" && s.Zone != name {
				return g, fmt.Errorf("%w: server %s says zone %q but is listed in zone %s: want them to agree", ErrInvalidFarm, s.Name, s.Zone, name)
			}
			s.Zone = name
			if _, dup := f.byName[s.Name]; dup {
				return g, fmt.Errorf("%w: %w", ErrInvalidFarm, names.Twice("server name", s.Name, ""))
			}
			if holder, dup := members[lb][s.MemberID()]; dup {
				return g, fmt.Errorf("%w: load-balancer member %q is used by both %s and %s: want one member per server", ErrInvalidFarm, s.MemberID(), holder, s.Name)
			}
			members[lb][s.MemberID()] = s.Name
			f.byName[s.Name] = s
			g.Servers = append(g.Servers, s)
		}
		return g, nil
	}
	var err error
	if z.Updating, err = add(Updating, zs.Updating); err != nil {
		return nil, err
	}
	if z.Loaded, err = add(Loaded, zs.Loaded); err != nil {
		return nil, err
	}
	return z, nil
}

// usableLoadBalancer refuses a load balancer the farm cannot use: a nil
// pointer (or map, func, chan, slice) in a non-nil interface, whose first
// call would panic, and a value whose dynamic type is not comparable, which
// the farm cannot tell apart from another load balancer (it keys members by
// load balancer, and hashing such a value panics).
func usableLoadBalancer(lb drivers.LoadBalancer) error {
	v := reflect.ValueOf(lb)
	switch v.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Func, reflect.Chan, reflect.Slice, reflect.Interface:
		if v.IsNil() {
			return fmt.Errorf("load balancer is a nil %T: want a constructed driver", lb)
		}
	}
	if !v.Comparable() {
		return fmt.Errorf("load balancer of type %T is not comparable: want a pointer to the driver (as its constructor returns) or a comparable value", lb)
	}
	return nil
}

// Zones returns copies of the farm's zones in the order they were given:
// changing them changes nothing in the farm.
func (f *Farm) Zones() []*Zone {
	out := make([]*Zone, len(f.zones))
	for i, z := range f.zones {
		c := *z
		c.Updating.Servers = slices.Clone(z.Updating.Servers)
		c.Loaded.Servers = slices.Clone(z.Loaded.Servers)
		out[i] = &c
	}
	return out
}

// Servers returns every server, zone by zone, Updating before Loaded.
func (f *Farm) Servers() []Server {
	var out []Server
	for _, z := range f.zones {
		out = append(out, z.Servers()...)
	}
	return out
}

// Server returns the server with the given name.
func (f *Farm) Server(name string) (Server, bool) {
	s, ok := f.byName[name]
	return s, ok
}

// Groups returns every zone's group of the given role, in zone order.
func (f *Farm) Groups(role GroupRole) []Group {
	out := make([]Group, len(f.zones))
	for i, z := range f.zones {
		g := z.Group(role)
		g.Servers = slices.Clone(g.Servers)
		out[i] = g
	}
	return out
}

// CapacityFloor returns the share of each zone each of its groups must hold
// (negative when the check is disabled).
func (f *Farm) CapacityFloor() float64 { return f.capacityFloor }

// AutoSplit proposes the groups for a flat list of servers: servers are
// grouped by their Zone, and each zone is halved in the order given, with the
// Deployment Controller and the larger half (for odd sizes) in Updating. Pass
// the result to [New] as Config.Zones, and set each zone's LoadBalancer or
// Config.LoadBalancer.
func AutoSplit(servers []Server) []ZoneSpec {
	var order []string
	byZone := map[string][]Server{}
	for _, s := range servers {
		z := s.zoneName()
		if _, ok := byZone[z]; !ok {
			order = append(order, z)
		}
		byZone[z] = append(byZone[z], s)
	}
	specs := make([]ZoneSpec, 0, len(order))
	for _, z := range order {
		list := byZone[z]
		// Controller first, then the others in the order given.
		sorted := make([]Server, 0, len(list))
		for _, s := range list {
			if s.DeploymentController {
				sorted = append(sorted, s)
			}
		}
		for _, s := range list {
			if !s.DeploymentController {
				sorted = append(sorted, s)
			}
		}
		cut := (len(sorted) + 1) / 2
		specs = append(specs, ZoneSpec{Name: z, Updating: sorted[:cut], Loaded: sorted[cut:]})
	}
	return specs
}
