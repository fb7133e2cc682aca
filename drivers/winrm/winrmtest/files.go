package winrmtest

import (
	"strings"
	"sync"
)

// MapFiles is an in-memory file system for the lease scripts: file contents
// by host and path. Config.Files of several servers may share one. Paths compare ignoring case, as NTFS does. The zero value
// is empty and ready to use; it is safe for concurrent use.
type MapFiles struct {
	mu     sync.Mutex
	files  map[string]string // host + "\x00" + lower-case path
	locked map[string]bool
}

// Lock makes path on host busy, as a file another process holds open
// without sharing: the lease scripts then report it busy. Unlock ends it.
func (m *MapFiles) Lock(host, path string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.locked == nil {
		m.locked = make(map[string]bool)
	}
	m.locked[fileKey(host, path)] = true
}

// Unlock ends Lock.
func (m *MapFiles) Unlock(host, path string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.locked, fileKey(host, path))
}

func fileKey(host, path string) string { return host + "\x00" + strings.ToLower(path) }

// Get returns the content of path on host.
func (m *MapFiles) Get(host, path string) (string, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.files[fileKey(host, path)]
	return c, ok
}

// Set writes content to path on host.
func (m *MapFiles) Set(host, path, content string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.files == nil {
		m.files = make(map[string]string)
	}
	m.files[fileKey(host, path)] = content
}

// Delete removes path on host.
func (m *MapFiles) Delete(host, path string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.files, fileKey(host, path))
}

// Len returns how many files there are on host.
func (m *MapFiles) Len(host string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for k := range m.files {
		if strings.HasPrefix(k, host+"\x00") {
			n++
		}
	}
	return n
}
