package target

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"path/filepath"
	"sort"
	"strings"

	"github.com/onceproof/onceproof/checkers"
	"github.com/onceproof/onceproof/internal/atomicfile"
)

// Bundle is what a failing target run leaves behind, in one directory:
//
//	schedule.json          the schedule that failed (replay with --schedule)
//	shrunk-schedule.json   the smallest schedule that still failed, and shrink.json how often
//	result.json            the verdicts, the faults that fired, the incarnations
//	config.json            the run's configuration
//	requests.log           every transactional and group request the broker saw
//	requests-excerpt.txt   the request log around the first bad record
//	output-log.txt         every output record with its fate from the log's markers
//	instance-N.stdout/.stderr  each instance's output, every incarnation
//	report.html            all of the above, readable
//	REPRODUCE              the command that reruns the schedule
type Bundle struct {
	Dir string
	// Command is the program as the user gave it, for the report (the
	// configuration holds what ran, which may be a prebuilt binary).
	Command   []string
	Config    Config
	Result    *Result
	Shrink    *ShrinkResult
	Build     string
	Reproduce string
}

// excerptRadius is how many request-log entries each side of the anchor an
// excerpt shows.
const excerptRadius = 40

// Excerpt returns the request-log lines around the first bad record (the
// last 2*excerptRadius lines when there is no anchor).
func (r *Result) Excerpt() []string {
	from, to := len(r.Requests)-2*excerptRadius, len(r.Requests)
	if r.Anchor >= 0 {
		from, to = r.Anchor-excerptRadius, r.Anchor+excerptRadius+1
	}
	from, to = max(from, 0), min(to, len(r.Requests))
	var out []string
	for i := from; i < to; i++ {
		line := r.Requests[i].String()
		if i == r.Anchor {
			line = ">> " + line
		} else {
			line = "   " + line
		}
		out = append(out, line)
	}
	return out
}

// Write writes the bundle's files into b.Dir (which already holds the
// instances' output), each atomically.
func (b *Bundle) Write() error {
	files := map[string][]byte{}
	js := func(name string, v any) error {
		data, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return fmt.Errorf("bundle %s: %w", name, err)
		}
		files[name] = append(data, '\n')
		return nil
	}
	if err := js("schedule.json", b.Result.Schedule); err != nil {
		return err
	}
	if err := js("result.json", b.Result); err != nil {
		return err
	}
	if err := js("config.json", b.Config); err != nil {
		return err
	}
	if b.Shrink != nil {
		if err := js("shrunk-schedule.json", b.Shrink.Schedule); err != nil {
			return err
		}
		if err := js("shrink.json", b.Shrink); err != nil {
			return err
		}
	}
	var log bytes.Buffer
	for _, e := range b.Result.Requests {
		log.WriteString(e.String())
		log.WriteByte('\n')
	}
	if b.Result.RequestsDropped > 0 {
		fmt.Fprintf(&log, "... %d more requests not kept\n", b.Result.RequestsDropped)
	}
	files["requests.log"] = log.Bytes()
	if b.Result.outLog != nil {
		var out bytes.Buffer
		labeled, err := checkers.Label(b.Result.outLog)
		if err != nil {
			fmt.Fprintf(&out, "the output log could not be labelled: %v\n", err)
		}
		for _, l := range labeled {
			fmt.Fprintf(&out, "%s/%d@%d\t%s\tkey %q value %q\tproducer %d epoch %d\tread_committed %v\n",
				OutputTopic, l.Partition, l.Offset, l.Status, l.Key, l.Value, l.ProducerID, l.ProducerEpoch, l.ReadCommitted)
		}
		files["output-log.txt"] = out.Bytes()
	}
	files["requests-excerpt.txt"] = []byte(strings.Join(b.Result.Excerpt(), "\n") + "\n")
	files["REPRODUCE"] = []byte(b.Reproduce + "\n")
	html, err := b.Report()
	if err != nil {
		return err
	}
	files["report.html"] = html
	for _, name := range sortedKeys(files) {
		if err := atomicfile.WriteFile(filepath.Join(b.Dir, name), files[name]); err != nil {
			return err
		}
	}
	return nil
}

var reportTmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"class": func(v checkers.Verdict) string { return v.String() },
}).Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>onceproof target: {{.Result.Verdict}} (seed {{.Result.Seed}})</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:2em;max-width:70em}
h1 .ok{color:#1a7f37}h1 .violation{color:#cf222e}h1 .no-progress{color:#bf8700}h1 .unknown{color:#6e7781}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #d0d7de;padding:.25em .6em;text-align:left;vertical-align:top}
td.ok{background:#dafbe1}td.violation{background:#ffebe9}td.no-progress{background:#fff8c5}td.unknown{background:#eaeef2}
pre{background:#f6f8fa;padding:.8em;overflow-x:auto;font-size:12px}.muted{color:#6e7781}
</style></head><body>
<h1>onceproof target: <span class="{{class .Result.Verdict}}">{{.Result.Verdict}}</span></h1>
<p>Seed {{.Result.Seed}} · contract <b>{{.Result.Contract}}</b> · {{.Config.Instances}} instances of <code>{{.Command}}</code> · {{.Config.Brokers}} brokers · build {{.Build}}</p>
<p class="muted">A target run is not deterministic: the program has its own threads and clock. The seed decides the input and the fault schedule, not the interleaving; the shrink below says how often the smallest schedule failed.</p>
<p>Reproduce: <code>{{.Reproduce}}</code></p>
{{if .Result.FirstBad}}<h2>First bad record</h2><p>{{.Result.FirstBad}}</p>{{end}}
<h2>Checks</h2>
<table><tr><th>check</th><th>verdict</th><th>anomaly</th><th>explanation</th></tr>
{{range .Result.Results}}<tr><td>{{.Checker}}</td><td class="{{class .Verdict}}">{{.Verdict}}</td><td>{{.Anomaly}}</td><td>{{.Explanation}}</td></tr>
{{end}}</table>
{{if .Shrink}}<h2>Smallest failing schedule</h2>
<p>{{len .Shrink.Schedule.Faults}} of {{.Shrink.Original}} faults; failed {{.Shrink.Failed}} of {{.Shrink.Tries}} reruns ({{.Shrink.Runs}} runs in all{{if .Shrink.Exhausted}}; the budget ran out, so it may not be minimal{{end}}).</p>
<pre>{{range .Shrink.Schedule.Lines}}{{.}}
{{else}}(no faults: the program fails without any)
{{end}}</pre>{{end}}
<h2>Schedule</h2>
<table><tr><th>#</th><th>fault</th><th>fired</th><th>note</th></tr>
{{range $i, $f := .Result.Faults}}<tr><td>{{$i}}</td><td>{{$f.Fault}}</td><td>{{if $f.Fired}}at {{$f.At}}{{else}}no{{end}}</td><td>{{$f.Note}}</td></tr>
{{end}}</table>
{{if .Result.Group}}<h2>The consumer group at the end</h2><pre>{{range .Result.Group}}{{.}}
{{end}}</pre>{{end}}
<p>Faults over at {{.Result.Healed}}; output complete at {{if .Result.Complete}}{{.Result.Complete}}{{else}}never{{end}}; run took {{.Result.Elapsed}}.</p>
<h2>Broker requests around the first bad record</h2>
<pre>{{range .Result.Excerpt}}{{.}}
{{end}}</pre>
<p>The whole log: <a href="requests.log">requests.log</a>.</p>
<h2>Instances</h2>
<table><tr><th>instance</th><th>incarnation</th><th>pid</th><th>exit</th></tr>
{{range .Result.Incarnations}}<tr><td>{{.Instance}}</td><td>{{.Incarnation}}</td><td>{{.Pid}}</td><td>{{.Exit}}</td></tr>
{{end}}</table>
<p>{{range .Logs}}<a href="{{.}}">{{.}}</a> {{end}}</p>
</body></html>
`))

// Report renders report.html.
func (b *Bundle) Report() ([]byte, error) {
	var logs []string
	seen := map[int]bool{}
	for _, in := range b.Result.Incarnations {
		if !seen[in.Instance] {
			seen[in.Instance] = true
			logs = append(logs, fmt.Sprintf("instance-%d.stdout", in.Instance), fmt.Sprintf("instance-%d.stderr", in.Instance))
		}
	}
	sort.Strings(logs)
	var buf bytes.Buffer
	err := reportTmpl.Execute(&buf, struct {
		*Bundle
		Command string
		Logs    []string
	}{b, strings.Join(cmdOr(b.Command, b.Config.Command), " "), logs})
	if err != nil {
		return nil, fmt.Errorf("report.html: %w", err)
	}
	return buf.Bytes(), nil
}

func cmdOr(a, b []string) []string {
	if len(a) > 0 {
		return a
	}
	return b
}
