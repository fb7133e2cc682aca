package spec

import (
	"regexp"
	"slices"
	"strings"
)

// A driver's constructor names the Go field it refuses ("Config.CACert
// holds no PEM certificate"); a spec user wrote a key. The constructors'
// errors are reworded at this boundary to name both:
// "services.ca_cert (Config.CACert) holds no PEM certificate".

// specKeys maps the fields of one driver's configuration type to the keys
// of the spec block that sets them.
type specKeys struct {
	block  string            // the spec block: services, platform, load_balancer
	goType string            // the driver's configuration type: Config, PlusConfig
	keys   map[string]string // Go field (Kerberos.Realm) -> key under block
	re     *regexp.Regexp
}

func newSpecKeys(block, goType string, keys map[string]string) *specKeys {
	fields := make([]string, 0, len(keys))
	for f := range keys {
		fields = append(fields, regexp.QuoteMeta(f))
	}
	// Longest first, so that Kerberos.Realm is not read as Kerberos.
	slices.SortFunc(fields, func(a, b string) int { return len(b) - len(a) })
	re := regexp.MustCompile(`\b(?:` + regexp.QuoteMeta(goType) + `\.)?(` + strings.Join(fields, "|") + `)\b`)
	return &specKeys{block: block, goType: goType, keys: keys, re: re}
}

// wrap returns err with each field it names preceded by its spec key;
// errors.Is and errors.As see err unchanged.
func (k *specKeys) wrap(err error) error {
	if err == nil {
		return nil
	}
	text := k.re.ReplaceAllStringFunc(err.Error(), func(m string) string {
		field := strings.TrimPrefix(m, k.goType+".")
		return k.block + "." + k.keys[field] + " (" + k.goType + "." + field + ")"
	})
	if text == err.Error() {
		return err
	}
	return keyedError{err: err, text: text}
}

// keyedError is an error reworded with spec keys.
type keyedError struct {
	err  error
	text string
}

func (e keyedError) Error() string { return e.text }
func (e keyedError) Unwrap() error { return e.err }

// The keys of each driver's block, as spec/drivers.go declares them.

func servicesKeys() *specKeys {
	return newSpecKeys("services", "Config", map[string]string{
		"Port": "port", "PlainHTTP": "plain_http", "Insecure": "insecure",
		"Username": "username", "Password": "password", "Auth": "auth",
		"Timeout": "timeout", "LeaseDir": "lease_dir", "CACert": "ca_cert",
		"ServiceNames": "service_names", "Kerberos": "kerberos",
		"Kerberos.Realm": "kerberos.realm", "Kerberos.ConfigPath": "kerberos.config",
		"Kerberos.CCachePath": "kerberos.ccache", "Kerberos.SPN": "kerberos.spn",
	})
}
func platformKeys() *specKeys {
	return newSpecKeys("platform", "Config", map[string]string{
		"BaseURL": "url", "Token": "token",
		"SourceEnvironment": "source_environment", "TargetEnvironment": "target_environment",
		"DeploymentZoneKey": "deployment_zone_key", "Applications": "applications",
		"CACert": "ca_cert", "Insecure": "insecure", "Timeout": "timeout",
	})
}
func f5Keys() *specKeys {
	return newSpecKeys("load_balancer", "Config", map[string]string{
		"BaseURL": "url", "Username": "username", "Password": "password",
		"Partition": "partition", "Pool": "pool", "CACert": "ca_cert",
		"Insecure": "insecure", "TokenTimeout": "token_timeout", "Timeout": "timeout",
	})
}
func nginxPlusKeys() *specKeys {
	return newSpecKeys("load_balancer", "PlusConfig", map[string]string{
		"Endpoint": "endpoint", "APIVersion": "api_version", "Upstream": "upstream",
		"Username": "username", "Password": "password",
	})
}
func nginxKeys() *specKeys {
	return newSpecKeys("load_balancer", "OSSConfig", map[string]string{
		"File": "file", "Upstream": "upstream", "MainConfig": "main_config",
		"Binary": "binary", "Prefix": "prefix", "PIDFile": "pid_file",
		"DrainPeriod": "drain_period", "ReloadTimeout": "reload_timeout", "ReloadSettle": "reload_settle",
	})
}
func albKeys() *specKeys {
	return newSpecKeys("load_balancer", "Config", map[string]string{
		"TargetGroupARN": "target_group_arn", "Region": "region", "SettlePeriod": "settle_period",
	})
}
