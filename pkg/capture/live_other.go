//go:build !linux

package capture

import (
	"context"
	"errors"
)

// Open reports that live capture needs Linux; capture files work
// everywhere.
func Open(context.Context, LiveConfig) (Source, error) {
	return nil, errors.New("capture: live capture needs Linux")
}
