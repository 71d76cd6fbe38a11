package device

import (
	"strings"

	"github.com/iotgw/iotgw/pkg/event"
)

// distributionReason is why the provision on known-vulnerable software
// is unknown for e, a served outdated_firmware finding about a
// distribution's build (event.DistributionBuild): the distribution may
// have backported the fix without changing the version, so only its
// security tracker says whether the device is vulnerable. A version the
// distribution left vulnerable is as outdated as any, but the network
// cannot tell which it is.
func distributionReason(e *event.Event) string {
	dist := event.DistributionName(e)
	what := strings.TrimSpace(e.Evidence["product"] + " " + e.Evidence["version"])
	ids := e.Evidence["cve"]
	if ids == "" {
		ids = e.Evidence["advisory"]
	}
	if ids != "" {
		what += " (" + strings.ReplaceAll(ids, ",", ", ") + ")"
	}
	owner := dist + "'s"
	if e.Evidence[event.EvidenceDistribution] == "" {
		owner = "its"
	}
	return "distribution build (" + dist + "): the fix may be backported; check " + owner + " security tracker for " + what
}
