// Package atomicfile replaces files so that a crash or a power cut at any
// point leaves either the old content or the new one, never a mix: the
// router's flash holds iotgw's state, the page's keys and the newest
// advisory feed.
package atomicfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// TempInfix names a write in progress: <name>.tmp-<random>. A file by
// that name that outlived its process is left from an interrupted write.
const TempInfix = ".tmp-"

// Write replaces path with data, mode 0600, creating its directory (mode
// 0700) if needed: write a temporary file in the same directory, fsync
// it, rename it over path (the commit point), fsync the directory so the
// rename itself is durable. On error no temporary file is left.
func Write(path string, data []byte) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create directory %s: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, base+TempInfix+"*")
	if err != nil {
		return fmt.Errorf("create temporary file for %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", tmp, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename %s over %s: %w", tmp, path, err)
	}
	// The new file is in place; if the directory cannot be synced, only
	// its durability across a power cut is in doubt, and the caller that
	// retries a failed write does so.
	return SyncDir(dir)
}

// SyncDir makes a rename in dir durable. File systems that cannot sync a
// directory (EINVAL) get nothing better from retrying.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}
