package daemon

import (
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/iotgw/iotgw/pkg/alert"
	"github.com/iotgw/iotgw/pkg/quarantine"
	"github.com/iotgw/iotgw/pkg/store"
)

// problemAreas are the areas of the daemon's problems, sorted.
func problemAreas(d *Daemon) []string {
	var areas []string
	for _, p := range d.Status().Problems {
		area, _, _ := strings.Cut(p, ":")
		areas = append(areas, area)
	}
	slices.Sort(areas)
	return areas
}

// problemAreas are the problem areas alerted with the given status
// ("failing", "resolved"), in order.
func (a *alerts) problemAreas(status string) []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []string
	for _, x := range a.sent {
		if x.Kind == alert.KindDaemonProblem && x.Facts["status"] == status {
			out = append(out, x.Facts["area"])
		}
	}
	return out
}

// A state file found damaged at start is a problem the owner hears of:
// the quarantines and decisions it held are gone.
func TestDamagedStateFileIsAProblem(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/state.json", []byte(`{"schema":1,"quarantines":[`), 0o600); err != nil {
		t.Fatal(err)
	}
	h := launch(t, enforcingConfig(), newFake(t), dir, false)
	defer h.stop()
	eventually(t, "no state-lost problem after a damaged state file", func() bool {
		return slices.Contains(problemAreas(h.d), alert.AreaStateLost)
	})
	if got := h.alerts.problemAreas("failing"); !slices.Equal(got, []string{alert.AreaStateLost}) {
		t.Errorf("problem alerts %v, want one for %s", got, alert.AreaStateLost)
	}
}

// TestNewerStateFileKeepsQuarantines: after a firmware downgrade, the
// state file a newer iotgw wrote gives the daemon its quarantines, which
// the kernel holds again, and its owner's decisions; the owner hears of
// the downgrade, not of a loss. It used to start empty.
func TestNewerStateFileKeepsQuarantines(t *testing.T) {
	dir := t.TempDir()
	newer := `{"schema":` + strconv.Itoa(store.SchemaVersion+1) + `,
 "quarantines":[{"mac":"` + camera.String() + `","mode":"block","since":"2026-03-04T05:06:07Z","by":"owner","reason":"you quarantined it"}],
 "decisions":[{"mac":"` + plug.String() + `","name":"Kitchen plug","trusted":true}]}`
	if err := os.WriteFile(dir+"/state.json", []byte(newer), 0o600); err != nil {
		t.Fatal(err)
	}
	fake := newFake(t)
	h := launch(t, enforcingConfig(), fake, dir, false)
	defer h.stop()
	eventually(t, "no state-newer problem after a newer state file", func() bool {
		return slices.Contains(problemAreas(h.d), alert.AreaStateNewer)
	})
	h.settle()
	if got := quarantined(t, fake)[camera]; got != quarantine.ModeBlock {
		t.Errorf("the camera's quarantine from the newer file: %q, want block", got)
	}
	if dec := h.store.Snapshot().Decisions; len(dec) != 1 || !dec[0].Trusted {
		t.Errorf("decisions %+v, want the plug trusted", dec)
	}
	if got := h.alerts.problemAreas("failing"); !slices.Equal(got, []string{alert.AreaStateNewer}) {
		t.Errorf("problem alerts %v, want one for %s", got, alert.AreaStateNewer)
	}
}

// A state that cannot be written is a problem while writes fail, and the
// owner hears when they work again.
func TestStateWriteFailureIsAProblem(t *testing.T) {
	dir := t.TempDir() + "/state"
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	h := launch(t, enforcingConfig(), newFake(t), dir, false)
	defer h.stop()
	h.d.checkStore()
	if areas := problemAreas(h.d); slices.Contains(areas, alert.AreaState) {
		t.Fatalf("problems %v before any write failed", areas)
	}
	// The state directory turns into a file: even root cannot write there.
	if err := os.Rename(dir, dir+".away"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := h.store.PutDecision(store.Decision{MAC: plug, Name: "plug", Updated: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := h.store.Flush(); err == nil {
		t.Fatal("a write into a file as directory succeeded")
	}
	h.d.checkStore()
	if areas := problemAreas(h.d); !slices.Contains(areas, alert.AreaState) {
		t.Errorf("problems %v after a failed write, want %s", areas, alert.AreaState)
	}
	// The directory is back: the next write works and the problem ends.
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(dir+".away", dir); err != nil {
		t.Fatal(err)
	}
	if err := h.store.Flush(); err != nil {
		t.Fatal(err)
	}
	h.d.checkStore()
	if areas := problemAreas(h.d); slices.Contains(areas, alert.AreaState) {
		t.Errorf("problems %v after a good write", areas)
	}
	h.holdDownPassed()
	if failing, resolved := h.alerts.problemAreas("failing"), h.alerts.problemAreas("resolved"); !slices.Equal(failing, []string{alert.AreaState}) || !slices.Equal(resolved, []string{alert.AreaState}) {
		t.Errorf("problem alerts failing %v, resolved %v; want one each for %s", failing, resolved, alert.AreaState)
	}
}
