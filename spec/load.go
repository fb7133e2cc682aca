package spec

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// ErrInvalid is wrapped by every error Load and Parse return for a spec that
// cannot be used: bad YAML, an unknown key, a missing or wrong value, an
// unresolvable secret.
var ErrInvalid = errors.New("invalid farm spec")

// Error is one problem of a spec, at a line (and column, when known) of the
// file. Load and Parse return one *Error, or several joined with errors.Join;
// each wraps ErrInvalid. Messages never hold a secret's value.
type Error struct {
	// Source is the file name given to Load (or WithSource), else "spec".
	Source string
	// Line and Column locate the offending node, counting from 1.
	Line, Column int
	// Msg says what is wrong and what was expected.
	Msg string
	// Err is the underlying error, if any.
	Err error
}

// Error returns "source:line:col: message".
func (e *Error) Error() string {
	src := e.Source
	if src == "" {
		src = "spec"
	}
	switch {
	case e.Line > 0 && e.Column > 0:
		return fmt.Sprintf("%s:%d:%d: %s", src, e.Line, e.Column, e.Msg)
	case e.Line > 0:
		return fmt.Sprintf("%s:%d: %s", src, e.Line, e.Msg)
	}
	return src + ": " + e.Msg
}

// Unwrap returns ErrInvalid and the underlying error.
func (e *Error) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrInvalid, e.Err}
	}
	return []error{ErrInvalid}
}

// Option tunes Load and Parse.
type Option func(*options)

type options struct {
	lookupEnv func(string) (string, bool)
	logger    *slog.Logger
	source    string
	baseDir   string
	noSecrets bool
}

// WithLookupEnv replaces os.LookupEnv for {env: NAME} secrets (tests,
// or a secret store that fills an environment of its own).
func WithLookupEnv(f func(name string) (string, bool)) Option {
	return func(o *options) { o.lookupEnv = f }
}

// WithLogger logs the spec's warnings (inline secrets, TLS verification
// off) at Warn. Nil discards them; they are in Spec.Warnings either way.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithoutSecrets checks each secret reference's form ({env: NAME} or
// {file: PATH}) but reads neither the variable nor the file: the Spec's
// secrets hold a placeholder and Secret.Unresolved is set. Such a Spec builds
// a plan fit for [farm.Plan.Describe] (printing the runbook needs no
// password) but not for a run: its drivers would present the placeholder
// and be refused.
func WithoutSecrets() Option { return func(o *options) { o.noSecrets = true } }

// WithSource names the spec in errors (Load uses the file path) and sets the
// directory relative paths are taken from (Parse defaults to the current
// directory).
func WithSource(name, baseDir string) Option {
	return func(o *options) { o.source, o.baseDir = name, baseDir }
}

// Load reads, decodes and validates the spec file at path. Relative paths in
// it (journal, secret files, CA files) are taken from the file's directory.
// Secrets are resolved now; nothing is contacted.
func Load(path string, opts ...Option) (*Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return Parse(data, append([]Option{WithSource(path, filepath.Dir(path))}, opts...)...)
}

// Parse decodes and validates a spec. Decoding is strict: an unknown key,
// a duplicate key or a value of the wrong type is an error at its line.
func Parse(data []byte, opts ...Option) (*Spec, error) {
	o := options{lookupEnv: os.LookupEnv, source: "spec", baseDir: "."}
	for _, opt := range opts {
		opt(&o)
	}
	if o.logger == nil {
		o.logger = slog.New(slog.DiscardHandler)
	}
	file, err := parser.ParseBytes(data, 0)
	if err != nil {
		return nil, o.positioned(err)
	}
	var s Spec
	if err := yaml.UnmarshalWithOptions(data, &s, yaml.Strict()); err != nil {
		return nil, o.positioned(err)
	}
	s.Source = o.source
	v := &validator{opts: &o, file: file, spec: &s}
	v.validate()
	if err := v.err(); err != nil {
		return nil, err
	}
	for _, w := range s.Warnings {
		o.logger.Warn("farm spec: " + w)
	}
	return &s, nil
}

// positioned turns a decoding error into an *Error with its line, without the
// source excerpt goccy adds (which could show an inline secret nearby).
func (o *options) positioned(err error) error {
	var own *Error
	if errors.As(err, &own) {
		own.Source = o.source
		return own
	}
	var ye yaml.Error
	if errors.As(err, &ye) && ye.GetToken() != nil {
		p := ye.GetToken().Position
		return &Error{Source: o.source, Line: p.Line, Column: p.Column, Msg: ye.GetMessage()}
	}
	return &Error{Source: o.source, Msg: err.Error(), Err: err}
}

// at returns the line and column of the node at path ("$.zones[1].loaded"):
// for a mapping key, where the key is written; for a sequence item, where
// the item starts. A path that does not exist resolves to its closest
// ancestor that does.
func at(file *ast.File, path string) (line, col int) {
	segs := splitPath(path)
	for n := len(segs); n >= 0; n-- {
		if line, col, ok := locate(file, segs[:n]); ok {
			return line, col
		}
	}
	return 1, 0
}

// pathSeg is one ".key" or "[i]" of a path.
type pathSeg struct {
	key string
	idx int // -1 for a key
}

func splitPath(path string) []pathSeg {
	var segs []pathSeg
	rest := strings.TrimPrefix(path, "$")
	for rest != "" {
		switch rest[0] {
		case '.':
			end := strings.IndexAny(rest[1:], ".[")
			if end < 0 {
				end = len(rest) - 1
			}
			segs = append(segs, pathSeg{key: rest[1 : end+1], idx: -1})
			rest = rest[end+1:]
		case '[':
			if strings.HasPrefix(rest, `["`) {
				// A quoted key (keyPath): a map key holding '.' or '['.
				q, err := strconv.QuotedPrefix(rest[1:])
				if err != nil || !strings.HasPrefix(rest[1+len(q):], "]") {
					return segs
				}
				key, _ := strconv.Unquote(q)
				segs = append(segs, pathSeg{key: key, idx: -1})
				rest = rest[1+len(q)+1:]
				continue
			}
			end := strings.IndexByte(rest, ']')
			if end < 0 {
				return segs
			}
			i, err := strconv.Atoi(rest[1:end])
			if err != nil {
				return segs
			}
			segs = append(segs, pathSeg{idx: i})
			rest = rest[end+1:]
		default:
			return segs
		}
	}
	return segs
}

// locate walks the document along segs.
func locate(file *ast.File, segs []pathSeg) (line, col int, ok bool) {
	if file == nil || len(file.Docs) == 0 || file.Docs[0].Body == nil {
		return 0, 0, false
	}
	node := file.Docs[0].Body
	pos := node.GetToken().Position
	for _, s := range segs {
		node = unwrapNode(node)
		if s.idx >= 0 {
			seq, isSeq := node.(*ast.SequenceNode)
			if !isSeq || s.idx >= len(seq.Values) {
				return 0, 0, false
			}
			node = seq.Values[s.idx]
			pos = node.GetToken().Position
			continue
		}
		var values []*ast.MappingValueNode
		switch m := node.(type) {
		case *ast.MappingNode:
			values = m.Values
		case *ast.MappingValueNode:
			values = []*ast.MappingValueNode{m}
		}
		found := false
		for _, mv := range values {
			if mv.Key != nil && keyText(mv.Key) == s.key {
				node, pos, found = mv.Value, mv.Key.GetToken().Position, true
				break
			}
		}
		if !found {
			return 0, 0, false
		}
	}
	return pos.Line, pos.Column, true
}

// keyPath is the path of a map's key that may hold '.' or '[' (a member
// name such as "10.0.0.1:80"): map["key"].
func keyPath(mapPath, key string) string { return mapPath + "[" + strconv.Quote(key) + "]" }

// keyText is a mapping key as written, without its quotes.
func keyText(k ast.MapKeyNode) string {
	if sn, ok := k.(*ast.StringNode); ok {
		return sn.Value
	}
	return k.String()
}

// unwrapNode looks through tags and anchors.
func unwrapNode(n ast.Node) ast.Node {
	for {
		switch v := n.(type) {
		case *ast.TagNode:
			n = v.Value
		case *ast.AnchorNode:
			n = v.Value
		default:
			return n
		}
	}
}

// yamlKeys lists the yaml keys of a struct's fields.
func yamlKeys(v any) []string {
	t := reflect.TypeOf(v)
	var keys []string
	for i := range t.NumField() {
		tag, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if tag != "" && tag != "-" {
			keys = append(keys, tag)
		}
	}
	return keys
}

// resolvePath makes a path relative to the spec's directory.
func (o *options) resolvePath(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(o.baseDir, p)
}
