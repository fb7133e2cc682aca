// Package secretleak holds one test, over every constructor and entry point
// of the module that takes a URL (farm.New, spec.Parse, lifetime.New,
// httpprobe, f5.New, nginx.NewPlus): a URL holding a secret, as user info
// (a token as the user name, a password, a password with a bad %-escape)
// or as a query value, never reaches the text of an error.
//
// It has no code of its own; it is a test that spans packages, so that a new
// constructor taking a URL is added to one list.
package secretleak
