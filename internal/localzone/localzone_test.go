package localzone

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the oracle: the zone database, whatever the machine has
)

func TestParsePOSIXMatchesZoneDatabase(t *testing.T) {
	// Each rule is what OpenWrt writes for the zone (LuCI's zone list).
	tests := []struct{ rule, iana string }{
		{"CET-1CEST,M3.5.0,M10.5.0/3", "Europe/Berlin"},
		{"GMT0BST,M3.5.0/1,M10.5.0", "Europe/London"},
		{"EST5EDT,M3.2.0,M11.1.0", "America/New_York"},
		{"AEST-10AEDT,M10.1.0,M4.1.0/3", "Australia/Sydney"},
		{"<-03>3", "America/Sao_Paulo"},
		{"IST-5:30", "Asia/Kolkata"},
		{"<+0545>-5:45", "Asia/Kathmandu"},
		{"NZST-12NZDT,M9.5.0,M4.1.0/3", "Pacific/Auckland"},
	}
	for _, tt := range tests {
		t.Run(tt.iana, func(t *testing.T) {
			got, err := ParsePOSIX(tt.rule)
			if err != nil {
				t.Fatal(err)
			}
			want, err := time.LoadLocation(tt.iana)
			if err != nil {
				t.Fatal(err)
			}
			// Every half hour of two years, around both changes of
			// each year.
			start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			for at := start; at.Before(start.AddDate(2, 0, 0)); at = at.Add(30 * time.Minute) {
				gName, gOff := at.In(got).Zone()
				wName, wOff := at.In(want).Zone()
				if gOff != wOff || gName != wName {
					t.Fatalf("at %v: %s %+d, want %s %+d", at, gName, gOff, wName, wOff)
				}
			}
		})
	}
}

func TestParsePOSIXChangeInstant(t *testing.T) {
	loc, err := ParsePOSIX("CET-1CEST,M3.5.0,M10.5.0/3")
	if err != nil {
		t.Fatal(err)
	}
	// Summer time in 2026 starts on Sunday 29 March at 01:00 UTC.
	before := time.Date(2026, 3, 29, 0, 59, 59, 0, time.UTC).In(loc)
	after := before.Add(time.Second)
	if before.IsDST() || !after.IsDST() {
		t.Errorf("%v DST %v, %v DST %v: want the change between them", before, before.IsDST(), after, after.IsDST())
	}
	if got := after.Format("15:04"); got != "03:00" {
		t.Errorf("first second of summer time reads %s, want 03:00", got)
	}
}

func TestParsePOSIXErrors(t *testing.T) {
	tests := []struct{ rule, want string }{
		{"", "three characters"},
		{"CET", "offset"},
		{"C-1", "three characters"},
		{"<+01-1", "unclosed"},
		{"<+0 1>-1", "character"},
		{"CET-25", "out of range"},
		{"CET-1:60", "out of range"},
		{"CET-1CEST,M13.5.0,M10.5.0", "not understood"},
		{"CET-1CEST,bogus", "not understood"},
		{"CET-1CEST\n,M3.5.0,M10.5.0/3", "control character"},
		{"AAAA0100AAA", "after the offset"},
		{"CET-1CEST-100,M3.5.0,M10.5.0/3", "offset of"},
	}
	for _, tt := range tests {
		_, err := ParsePOSIX(tt.rule)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParsePOSIX(%q) err = %v, want one saying %q", tt.rule, err, tt.want)
		}
	}
}

func TestResolve(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	berlin := write("berlin", "CET-1CEST,M3.5.0,M10.5.0/3\n")
	utc := write("utc", "UTC\n")
	broken := write("broken", "nonsense\n")
	missing := filepath.Join(dir, "missing")
	// What Go's time package names its fallback, and a zone it found.
	fallback := time.UTC
	found, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	summer := time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)

	tests := []struct {
		name       string
		local      *time.Location
		tz         string
		tzSet      bool
		file       string
		wantOffset int // at summer
		wantErr    bool
	}{
		{name: "OpenWrt without zoneinfo", local: fallback, file: berlin, wantOffset: 7200},
		{name: "zone found by Go", local: found, file: berlin, wantOffset: 9 * 3600},
		{name: "no file", local: fallback, file: missing, wantOffset: 0},
		{name: "file says UTC", local: fallback, file: utc, wantOffset: 0},
		{name: "TZ explicitly UTC", local: fallback, tz: "UTC", tzSet: true, file: berlin, wantOffset: 0},
		{name: "TZ empty", local: fallback, tz: "", tzSet: true, file: berlin, wantOffset: 0},
		{name: "TZ a rule", local: fallback, tz: "EST5EDT,M3.2.0,M11.1.0", tzSet: true, file: berlin, wantOffset: -4 * 3600},
		{name: "broken file", local: fallback, file: broken, wantOffset: 0, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			loc, err := Resolve(tt.local, tt.tz, tt.tzSet, tt.file)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if loc == nil {
				t.Fatal("nil location")
			}
			if _, off := summer.In(loc).Zone(); off != tt.wantOffset {
				t.Errorf("offset %d, want %d", off, tt.wantOffset)
			}
		})
	}
}

func FuzzParsePOSIX(f *testing.F) {
	for _, s := range []string{"CET-1CEST,M3.5.0,M10.5.0/3", "<+0545>-5:45", "EST5EDT", "AEST-10AEDT,M10.1.0,M4.1.0/3", "GMT0BST,J60/2,300", "<", "CET-1:"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, rule string) {
		loc, err := ParsePOSIX(rule)
		if err != nil {
			return
		}
		// Any zone it accepts must answer for any instant.
		for _, at := range []time.Time{time.Unix(0, 0), time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC), time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)} {
			_, off := at.In(loc).Zone()
			if off < -26*3600 || off > 26*3600 {
				t.Fatalf("%q: offset %d at %v", rule, off, at)
			}
		}
	})
}
