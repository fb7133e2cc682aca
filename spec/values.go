package spec

import (
	"fmt"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"

	"github.com/balanced-deploy/balanced/drivers"
)

// Secret is a password or token in a spec. In the file it is a reference,
// resolved by [Load] and [Parse]:
//
//	password: {env: WINRM_PASSWORD}        # an environment variable
//	password: {file: /run/secrets/winrm}   # a file (one trailing newline dropped)
//	password: s3cr3t                       # inline: refused unless allow_inline_secrets: true
//
// Value holds the resolved secret as a drivers.Secret, which prints, logs and
// marshals as "[redacted]"; only Value.Reveal returns it, where a driver
// needs it.
type Secret struct {
	// Env names the environment variable holding the secret.
	Env string `yaml:"env" json:"env,omitempty"`
	// File is the path of a file holding the secret, relative to the spec
	// file's directory.
	File string `yaml:"file" json:"file,omitempty"`
	// Inline is true when the secret was written in the spec itself.
	Inline bool `yaml:"-" json:"inline,omitempty"`
	// Value is the resolved secret.
	Value drivers.Secret `yaml:"-" json:"value"`
	// Unresolved is true when the spec was loaded [WithoutSecrets]: Value
	// is a placeholder, not the secret.
	Unresolved bool `yaml:"-" json:"unresolved,omitempty"`

	line, col int
}

// IsZero reports whether the secret is unset: no reference and no value.
func (s Secret) IsZero() bool { return s.Env == "" && s.File == "" && !s.Inline && s.Value.IsZero() }

// UnmarshalYAML reads a secret reference ({env: NAME} or {file: PATH}) or an
// inline value, keeping its position for later errors. The inline value is
// never put in an error.
func (s *Secret) UnmarshalYAML(n ast.Node) error {
	*s = Secret{}
	pos := n.GetToken().Position
	s.line, s.col = pos.Line, pos.Column
	switch n := n.(type) {
	case *ast.NullNode:
		return nil
	case *ast.MappingNode, *ast.MappingValueNode:
		var ref struct {
			Env  string `yaml:"env"`
			File string `yaml:"file"`
		}
		if err := yaml.NodeToValue(n, &ref, yaml.Strict()); err != nil {
			return err
		}
		if (ref.Env == "") == (ref.File == "") {
			return &Error{Line: s.line, Column: s.col, Msg: "secret: want exactly one of {env: NAME} or {file: PATH}"}
		}
		s.Env, s.File = ref.Env, ref.File
		return nil
	case ast.ScalarNode:
		var v string
		if err := yaml.NodeToValue(n, &v); err != nil {
			return &Error{Line: s.line, Column: s.col, Msg: "secret: want {env: NAME}, {file: PATH} or a string"}
		}
		s.Inline, s.Value = true, drivers.NewSecret(v)
		return nil
	default:
		return &Error{Line: s.line, Column: s.col, Msg: "secret: want {env: NAME} or {file: PATH}"}
	}
}

// Duration is a time.Duration written as Go writes it ("30s", "5m", "1h30m").
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String returns the duration as Go writes it.
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalText writes the duration as Go writes it.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalYAML reads a duration such as "30s"; the error names the line.
func (d *Duration) UnmarshalYAML(n ast.Node) error {
	pos := n.GetToken().Position
	bad := func(v string) error {
		return &Error{Line: pos.Line, Column: pos.Column, Msg: fmt.Sprintf("duration %q: want a number with a unit, like 30s, 5m or 1h30m", v)}
	}
	if _, ok := n.(*ast.NullNode); ok {
		*d = 0
		return nil
	}
	sc, ok := n.(ast.ScalarNode)
	if !ok {
		return bad(n.Type().String())
	}
	var v string
	if err := yaml.NodeToValue(sc, &v); err != nil {
		return bad(fmt.Sprint(sc.GetValue()))
	}
	if v == "0" {
		*d = 0
		return nil
	}
	td, err := time.ParseDuration(v)
	if err != nil {
		return bad(v)
	}
	if td < 0 {
		return &Error{Line: pos.Line, Column: pos.Column, Msg: fmt.Sprintf("duration %q: want zero or more", v)}
	}
	*d = Duration(td)
	return nil
}
