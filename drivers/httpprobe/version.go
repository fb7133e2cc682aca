package httpprobe

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"unicode"
)

// x509HostnameError is the certificate-name mismatch error.
type x509HostnameError = x509.HostnameError

// maxVersion bounds a reported version's length.
const maxVersion = 200

// version reads the application's version from the answer.
func (p *Prober) version(h http.Header, body []byte) (string, error) {
	var v string
	switch {
	case p.re != nil:
		m := p.re.FindSubmatch(body)
		if m == nil {
			return "", fmt.Errorf("version pattern %q did not match the body", p.cfg.VersionRegexp)
		}
		v = string(m[1])
	case p.json != nil:
		var err error
		if v, err = jsonVersion(body, p.json); err != nil {
			return "", fmt.Errorf("version at %q: %w", p.cfg.VersionJSON, err)
		}
	default:
		v = h.Get(p.cfg.VersionHeader)
		if v == "" {
			return "", fmt.Errorf("no %s header", p.cfg.VersionHeader)
		}
	}
	v = strings.TrimSpace(v)
	if v == "" {
		return "", errors.New("the version is empty")
	}
	if len(v) > maxVersion || strings.IndexFunc(v, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
		return "", fmt.Errorf("the version %.40q… is not a printable string of at most %d bytes", v, maxVersion)
	}
	return v, nil
}

// jsonVersion follows a dotted path through a JSON document. Strings and
// numbers are versions; anything else is an error.
func jsonVersion(body []byte, path []string) (string, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return "", fmt.Errorf("body is not JSON: %w", err)
	}
	cur := doc
	for i, part := range path {
		switch node := cur.(type) {
		case map[string]any:
			next, ok := node[part]
			if !ok {
				return "", fmt.Errorf("no field %q", strings.Join(path[:i+1], "."))
			}
			cur = next
		case []any:
			n, err := strconv.Atoi(part)
			if err != nil || n < 0 || n >= len(node) {
				return "", fmt.Errorf("%q is not an index of an array of %d", strings.Join(path[:i+1], "."), len(node))
			}
			cur = node[n]
		default:
			return "", fmt.Errorf("%q is not an object or array", strings.Join(path[:i], "."))
		}
	}
	switch v := cur.(type) {
	case string:
		return v, nil
	case json.Number:
		return v.String(), nil
	}
	return "", fmt.Errorf("value is %T, expected a string or number", cur)
}
