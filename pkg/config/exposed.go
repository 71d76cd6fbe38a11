package config

import (
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// ExposedFiles names the files of cfg (read from path) that hold secrets
// and that users other than their owner can read, or that a user other
// than root or the daemon's own owns: the configuration when it sets up
// alert channels (their passwords, tokens and secret URLs), and
// secret_file, the key of the hashes of captured passwords. The OpenWrt
// package makes both 0600; a copy made by hand may not be. A file that
// cannot be read is not named here: loading it reports that.
func ExposedFiles(cfg *Config, path string) []string {
	var out []string
	check := func(what, name string) {
		fi, err := os.Stat(name)
		if err != nil {
			return
		}
		if why := exposure(fi); why != "" {
			out = append(out, fmt.Sprintf("%s %s %s", what, name, why))
		}
	}
	if len(cfg.Alert.Channels) > 0 {
		check("configuration", path)
	}
	if cfg.Inspect.SecretFile != "" {
		check("secret_file", cfg.Inspect.SecretFile)
	}
	return out
}

// exposure says why fi is no place for a secret, or "".
func exposure(fi fs.FileInfo) string {
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Sprintf("is readable by others (mode %04o; chmod 600 it)", perm)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid != 0 && int(st.Uid) != os.Geteuid() {
		return fmt.Sprintf("is owned by uid %d, who can change it (chown root it)", st.Uid)
	}
	return ""
}
