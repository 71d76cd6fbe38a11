package event

// Evidence keys of an outdated_firmware finding about a Linux
// distribution's build of the software (advisory.Software.Distribution):
// EvidenceDistributionBuild is "yes" and EvidenceDistribution names the
// distribution ("Debian"); both are absent for an upstream build.
const (
	EvidenceDistributionBuild = "distribution_build"
	EvidenceDistribution      = "distribution"
)

// DistributionBuild reports whether e is an outdated_firmware finding
// about a distribution's build. Distributions backport security fixes
// without changing the upstream version (Debian 12's OpenSSH 9.2p1
// carries the fix of CVE-2024-6387), so its version is no proof the
// device is vulnerable: policy alerts on it rather than quarantine or
// isolate, and the scorecard leaves its provision unknown, pointing the
// owner at the distribution's security tracker.
func DistributionBuild(e *Event) bool {
	return e.Kind == KindOutdatedFirmware && e.Evidence[EvidenceDistributionBuild] == "yes"
}

// DistributionName is the distribution a DistributionBuild finding
// names, "the distribution" where it names none.
func DistributionName(e *Event) string {
	if d := e.Evidence[EvidenceDistribution]; d != "" {
		return d
	}
	return "the distribution"
}
