// Package protocols is the one reviewed list of application protocols the
// engine runs, in priority order: when two protocols are equally sure of a
// flow, the earlier one wins.
package protocols

import (
	"github.com/iotgw/iotgw/pkg/inspect"
	"github.com/iotgw/iotgw/pkg/inspect/ftp"
)

// All returns a fresh instance of every protocol. Instances hold pooled
// per-flow state, so each engine needs its own.
func All() []inspect.Protocol {
	return []inspect.Protocol{
		ftp.New(),
	}
}
