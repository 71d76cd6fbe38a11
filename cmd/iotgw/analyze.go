package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/iotgw/iotgw/pkg/capture"
	"github.com/iotgw/iotgw/pkg/config"
	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/inspect"
	"github.com/iotgw/iotgw/pkg/pipeline"
	"github.com/iotgw/iotgw/pkg/report"
)

func runAnalyze(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("analyze", "FILE...", stderr)
	load := configFlagSet(fs)
	jsonOut := fs.Bool("json", false, "write events as JSON lines and a final summary line instead of text")
	eventsPath := fs.String("events", "", "also write events and the summary as JSON lines to this file, as --json does")
	noObs := fs.Bool("findings-only", false, "leave observations out of JSON output (with --json or --events)")
	failOn := fs.String("fail-on", "none", "exit 1 when a finding is at or above this severity (info, low, medium, high, critical, none)")
	quiet := fs.Bool("quiet", false, "no progress bar")
	if ok, code := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "iotgw analyze: no capture file given")
		fs.Usage()
		return exitUsage
	}
	if *noObs && !*jsonOut && *eventsPath == "" {
		// The text report has no observations to leave out: the owner
		// meant JSON.
		fmt.Fprintln(stderr, "iotgw analyze: --findings-only applies to JSON output: add --json or --events FILE")
		return exitUsage
	}
	var threshold event.Severity
	failEnabled := !strings.EqualFold(*failOn, "none")
	if failEnabled {
		s, err := event.ParseSeverity(*failOn)
		if err != nil {
			fmt.Fprintf(stderr, "iotgw analyze: --fail-on: %v, or none\n", err)
			return exitUsage
		}
		threshold = s
	}
	if *eventsPath != "" {
		if in := sameFileAs(*eventsPath, fs.Args()); in != "" {
			// Creating the events file would empty the capture first.
			fmt.Fprintf(stderr, "iotgw analyze: --events %s is the capture %s to read\n", *eventsPath, in)
			return exitUsage
		}
	}
	cfg, _, err := load()
	if err != nil {
		fmt.Fprintf(stderr, "iotgw analyze: %v\n", err)
		return exitUsage
	}

	out := bufio.NewWriterSize(stdout, 64<<10)
	defer out.Flush()
	var sinks []inspect.Sink
	var writers []*event.Writer
	if *jsonOut {
		w := event.NewWriter(out, !*noObs)
		sinks, writers = append(sinks, w), append(writers, w)
	}
	// finishEvents ends the events file with the summary line, as --json
	// ends its output (docs/events.md), and writes it out; its error
	// counts like the report's (a full disk must not pass as a complete
	// file).
	finishEvents := func(*report.Summary) error { return nil }
	if *eventsPath != "" {
		f, err := os.Create(*eventsPath)
		if err != nil {
			fmt.Fprintf(stderr, "iotgw analyze: %v\n", err)
			return exitUsage
		}
		defer f.Close() // on the early returns; a second Close is harmless
		bw := bufio.NewWriter(f)
		finishEvents = func(sum *report.Summary) error {
			if err := sum.WriteJSON(bw); err != nil {
				return fmt.Errorf("%s: %w", *eventsPath, err)
			}
			if err := bw.Flush(); err != nil {
				return fmt.Errorf("%s: %w", *eventsPath, err)
			}
			if err := f.Close(); err != nil {
				return fmt.Errorf("%s: %w", *eventsPath, err)
			}
			return nil
		}
		w := event.NewWriter(bw, !*noObs)
		sinks, writers = append(sinks, w), append(writers, w)
	}
	onPanic := func(p inspect.Panic) {
		// A bug, not bad input: say so, once with the stack, and go on
		// with the rest of the capture.
		fmt.Fprintf(stderr, "iotgw analyze: the %s analyzer failed on a connection (%s); that connection is not inspected further. Please report it.\n", p.Protocol, p.Reason)
		if p.N == 1 {
			stderr.Write(p.Stack)
		}
	}
	p, err := pipeline.New(cfg, pipeline.Options{Sinks: sinks, OnPanic: onPanic})
	if err != nil {
		fmt.Fprintf(stderr, "iotgw analyze: %v\n", err)
		return exitUsage
	}

	gc := analyzeGC(os.Getenv)
	if gc.percent != 0 {
		defer debug.SetGCPercent(debug.SetGCPercent(gc.percent))
	}
	if gc.limit != 0 {
		defer debug.SetMemoryLimit(debug.SetMemoryLimit(gc.limit))
	}
	inputs, skipped, inputErr := analyzeFiles(ctx, p, fs.Args(), stderr, *quiet)
	p.Flush()
	c := counters(p)
	c.UnknownLink += skipped
	sum := report.Build(inputs, c, p.Inventory(), cfg)
	if *jsonOut {
		err = sum.WriteJSON(out)
	} else {
		err = sum.WriteText(out)
	}
	for _, w := range writers {
		if werr := w.Err(); werr != nil && err == nil {
			err = werr
		}
	}
	if err == nil {
		err = out.Flush()
	}
	if ferr := finishEvents(sum); err == nil {
		err = ferr
	}
	if err != nil {
		fmt.Fprintf(stderr, "iotgw analyze: writing output: %v\n", err)
		return exitUsage
	}
	switch {
	case inputErr:
		return exitUsage
	case failEnabled:
		if max, ok := sum.MaxSeverity(); ok && max >= threshold {
			return exitFindings
		}
	}
	return exitOK
}

// sameFileAs returns the name among names that is the file at path, if
// path exists.
func sameFileAs(path string, names []string) string {
	out, err := os.Stat(path)
	if err != nil {
		return ""
	}
	for _, n := range names {
		if in, err := os.Stat(n); err == nil && os.SameFile(out, in) {
			return n
		}
	}
	return ""
}

// analyzeFiles runs every file through p. A file that cannot be read to
// its end is reported (once, naming the file and offset) and the rest
// still run; what was read before the error counts. A file with frames
// but none of a link type iotgw decodes (a Wi-Fi monitor capture) is an
// error too: nothing in it was inspected. skipped counts the frames left
// out for their link type.
func analyzeFiles(ctx context.Context, p *pipeline.Pipeline, names []string, stderr io.Writer, quiet bool) (inputs []report.Input, skipped uint64, failed bool) {
	for _, name := range names {
		in := report.Input{Name: name}
		src, err := capture.OpenFile(name)
		if err != nil {
			in.Error = err.Error()
			fmt.Fprintf(stderr, "iotgw analyze: %v\n", err)
			inputs = append(inputs, in)
			failed = true
			continue
		}
		bar := newProgress(stderr, src, quiet)
		var packets int64
		err = p.Run(ctx, name, src, func(n int64) {
			packets = n
			bar.update()
		})
		bar.done()
		src.Close()
		var fe *capture.FormatError
		switch {
		case errors.As(err, &fe):
			packets = int64(fe.Packets)
			in.Error = err.Error()
			fmt.Fprintf(stderr, "iotgw analyze: %v\n", err)
			failed = true
		case err != nil && ctx.Err() != nil:
			packets = src.Packets() // the progress callback may lag
			in.Error = fmt.Sprintf("%s: interrupted after %d packets", name, packets)
			failed = true
		case err != nil:
			in.Error = fmt.Sprintf("%s: %v", name, err)
			fmt.Fprintf(stderr, "iotgw analyze: %s\n", in.Error)
			failed = true
		default:
			packets = src.Packets()
		}
		n, link := src.Skipped()
		skipped += uint64(n)
		if n > 0 && packets == 0 && in.Error == "" {
			in.Error = fmt.Sprintf("%s: %v %d: none of its %d frames can be inspected", name, capture.ErrUnsupportedLinkType, link, n)
			fmt.Fprintf(stderr, "iotgw analyze: %s\n", in.Error)
			failed = true
		}
		in.Packets = packets
		inputs = append(inputs, in)
		if ctx.Err() != nil {
			// The report covers what was read, and says what was not.
			rest := names[len(inputs):]
			for _, n := range rest {
				inputs = append(inputs, report.Input{Name: n, Error: n + ": not read (interrupted)"})
			}
			fmt.Fprintf(stderr, "iotgw analyze: interrupted in %s; %d more file(s) not read\n", name, len(rest))
			failed = true
			break
		}
	}
	return inputs, skipped, failed
}

func counters(p *pipeline.Pipeline) report.Counters {
	ds, es := p.Decoder().Stats, p.Engine().Stats
	return report.Counters{
		Packets:             ds.Frames,
		Flows:               es.FlowsCreated,
		Undecoded:           ds.Undecoded,
		Truncated:           ds.Truncated,
		Fragments:           ds.Fragments,
		Reassembled:         ds.Defrag.Reassembled,
		ReassemblyDropped:   ds.Defrag.Dropped(),
		ReassemblyCut:       ds.Defrag.Cut,
		CutDatagrams:        es.CutDatagrams,
		UnknownLink:         ds.UnknownLink,
		FlowsEvicted:        es.FlowsEvicted,
		BudgetStops:         es.BudgetStops,
		Gaps:                es.Gaps,
		Uninspected:         es.FlowsRefusedBusy + es.FlowsRefusedShare + es.FlowsRefusedLinkWide,
		Reclaimed:           es.Reclaimed,
		WebSockets:          es.WebSockets,
		WebSocketCompressed: es.WebSocketCompressed,
	}
}

// configFlagSet registers --config on fs; the loader treats a path given
// on the command line as required and the default path as optional.
func configFlagSet(fs *flag.FlagSet) func() (*config.Config, string, error) {
	path := fs.String("config", config.DefaultPath, "configuration file")
	return func() (*config.Config, string, error) {
		explicit := false
		fs.Visit(func(f *flag.Flag) {
			if f.Name == "config" {
				explicit = true
			}
		})
		cfg, err := config.Load(*path, explicit)
		return cfg, *path, err
	}
}

// progress draws a bar on stderr for files that take more than a second,
// when stderr is a terminal.
type progress struct {
	w      io.Writer
	src    *capture.File
	start  time.Time
	shown  bool
	active bool
	last   time.Time
}

func newProgress(w io.Writer, src *capture.File, quiet bool) *progress {
	p := &progress{w: w, src: src, start: time.Now()}
	if f, ok := w.(*os.File); ok && !quiet {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.active = true
		}
	}
	return p
}

func (p *progress) update() {
	if !p.active {
		return
	}
	now := time.Now()
	if now.Sub(p.start) < time.Second || now.Sub(p.last) < 100*time.Millisecond {
		return
	}
	p.last = now
	p.shown = true
	size := p.src.Size()
	frac := 0.0
	if size > 0 {
		frac = float64(p.src.Offset()) / float64(size)
	}
	const width = 30
	filled := int(frac * width)
	bar := make([]byte, width)
	for i := range bar {
		if i < filled {
			bar[i] = '#'
		} else {
			bar[i] = '.'
		}
	}
	mb := float64(p.src.Offset()) / (1 << 20)
	fmt.Fprintf(p.w, "\r%s [%s] %3.0f%% %.1f MB/s", p.src.Name(), bar, frac*100, mb/now.Sub(p.start).Seconds())
}

func (p *progress) done() {
	if p.shown {
		fmt.Fprint(p.w, "\r\033[K")
	}
}

// gcSettings are the collector settings analyze runs with; zero leaves a
// setting as the runtime has it.
type gcSettings struct {
	percent int
	limit   int64
}

// analyzeGC: analyze is a batch job whose garbage is mostly events that
// repeat a finding already filed, dropped at once, over a live heap of
// some megabytes. The default GOGC=100 collects that heap every few
// megabytes of events; collecting at five times the live heap, under a
// soft limit well inside the 64 MB the job is allowed, costs about a
// tenth less time (BENCHMARKS.md). A live heap past half the limit
// (flow tables configured far above the defaults) is collected more
// often than GOGC=100 would, up to the runtime's cap of half the CPU:
// the limit keeps the job inside its memory. GOGC and GOMEMLIMIT in the
// environment win, as they do for any Go program.
func analyzeGC(getenv func(string) string) gcSettings {
	var s gcSettings
	if getenv("GOGC") == "" {
		s.percent = 400
	}
	if getenv("GOMEMLIMIT") == "" {
		s.limit = 48 << 20
	}
	return s
}
