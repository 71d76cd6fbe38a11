// Package statefile writes and reads the files iotgw keeps on the
// router's flash (the state, the page's keys, the newest advisory feed):
// a file is replaced so that a crash or a power cut at any point leaves
// either the old content or the new one, never a mix; the temporary
// files of an interrupted write are cleared at the next start; and a
// read is bounded and cannot hang on something other than a file.
package statefile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// TempInfix names a write in progress: <name>.tmp-<random>. A file by
// that name that outlived its process is left from an interrupted write.
const TempInfix = ".tmp-"

// Write replaces path with data, mode 0600, creating its directory (mode
// 0700) if needed: write a temporary file in the same directory, fsync
// it, rename it over path (the commit point), fsync the directory so the
// rename itself is durable. On error no temporary file is left.
func Write(path string, data []byte) error {
	return replace(path, func(f *os.File) error {
		_, err := f.Write(data)
		return err
	})
}

// Copy makes dst a durable copy of the regular file src, as Write would
// write it, and leaves src as it is: a file kept aside this way is on
// flash before anything replaces the original, so a power cut at any
// point leaves one or the other. Another kind of file at src (a FIFO)
// is ErrNotRegular, and nothing is copied.
func Copy(dst, src string) error {
	in, _, err := openRegular(src)
	if err != nil {
		return err
	}
	defer in.Close()
	return replace(dst, func(f *os.File) error {
		_, err := io.Copy(f, in)
		return err
	})
}

// replace writes path through fill as Write describes.
func replace(path string, fill func(*os.File) error) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("create directory %s: %w", dir, err)
		}
		// The new directory's own entry must be durable too, or a power
		// cut takes the first state with it.
		if err := SyncDir(filepath.Dir(filepath.Clean(dir))); err != nil {
			return err
		}
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
	// The errors name path, not the temporary file: its random name
	// would make each retry of a failing write (a full overlay) a new
	// error, logged and shown to the owner again.
	if err = fill(f); err != nil {
		return fmt.Errorf("write temporary file for %s: %w", path, unnamed(err, tmp))
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("sync temporary file for %s: %w", path, unnamed(err, tmp))
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("close temporary file for %s: %w", path, unnamed(err, tmp))
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename temporary file over %s: %w", path, unnamed(err, tmp))
	}
	// The new file is in place; if the directory cannot be synced, only
	// its durability across a power cut is in doubt, and the caller that
	// retries a failed write does so.
	return SyncDir(dir)
}

// unnamed returns the cause of err if err is about the file name (a
// *fs.PathError or *os.LinkError), else err.
func unnamed(err error, name string) error {
	var pe *fs.PathError
	if errors.As(err, &pe) && pe.Path == name {
		return pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) && le.Old == name {
		return le.Err
	}
	return err
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

// ErrTooLarge: the file is over the limit given to Read.
var ErrTooLarge = errors.New("file too large")

// ErrNotRegular: the path names something other than a regular file (a
// directory, a FIFO, a device).
var ErrNotRegular = errors.New("not a regular file")

// Read reads path, which must be a regular file of at most limit bytes.
// It opens without blocking: a FIFO someone left at the path must not
// hang the daemon's start.
func Read(path string, limit int64) ([]byte, error) {
	data, size, err := read(path, limit)
	if err == nil && size > limit {
		err = fmt.Errorf("%w: %s has %d bytes, over the read limit of %d", ErrTooLarge, path, size, limit)
	}
	if err != nil {
		return nil, err
	}
	return data, nil
}

// ReadPrefix reads the first n bytes of path, or all of it if it is
// shorter, with Read's checks: the beginning of a file over a read limit
// may still be of use.
func ReadPrefix(path string, n int64) ([]byte, error) {
	data, _, err := read(path, n)
	return data, err
}

// read reads at most limit bytes of the regular file path and says how
// large the file is (at least limit+1 if it grew over the limit while
// read).
func read(path string, limit int64) ([]byte, int64, error) {
	f, fi, err := openRegular(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, 0, fmt.Errorf("read %s: %w", path, err)
	}
	size := max(fi.Size(), int64(len(data)))
	return data[:min(int64(len(data)), limit)], size, nil
}

// openRegular opens path for reading if it is a regular file, without
// blocking: a FIFO someone left at the path must not hang the caller.
func openRegular(path string) (*os.File, fs.FileInfo, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, fmt.Errorf("%s: %w (%s)", path, ErrNotRegular, fi.Mode().Type())
	}
	return f, fi, nil
}

// RemoveTemps removes the temporary files an interrupted Write of path
// left, and returns those it removed. They may hold what the file holds
// (a key, a setup code).
func RemoveTemps(path string) ([]string, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	var removed []string
	var errs []error
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), base+TempInfix) {
			continue
		}
		name := filepath.Join(dir, e.Name())
		if err := os.Remove(name); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, name)
	}
	return removed, errors.Join(errs...)
}
