// Package spec reads a farm spec file.
package spec
