package clickhouse

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/candor-dev/candor/internal/store"
)

// The dashboard benchmark dataset follows the one of the DuckDB backend's
// BenchmarkDashboardQueries: benchEvents events of benchInstalls installs
// over the 30 days from benchStart, in timestamp order, with the Mux event
// mix and properties. Install j starts on day j*30/benchInstalls, and each
// event of day d picks one of the installs started by then. The formulas
// are the same, but ClickHouse's cityHash64 replaces DuckDB's hash, so the
// two datasets have the same shape and different rows.
const (
	defaultBenchEvents = 1_000_000
	benchInstalls      = 20_000
	benchDays          = 30
)

var benchStart = time.Date(2025, time.January, 1, 0, 0, 0, 0, time.UTC)

// benchEventsSQL fills the events table %[5]s with %[1]d generated events
// of %[2]d installs over %[3]d days from the Unix time %[4]d, with the
// properties as JSON text and as the prop_keys and prop_values that Insert
// writes. It runs on ClickHouse 18.16.
const benchEventsSQL = `INSERT INTO %[5]s (project, uuid, event, distinct_id, ts, ts_us, received_at,
	version, platform, properties, prop_keys, prop_values)
SELECT 'mux',
	concat('00000000-0000-4000-8000-', substring(concat('000000000000', lower(hex(i))), length(lower(hex(i))) + 1, 12)),
	event, concat('install-', toString(install)),
	toDateTime(intDiv(ts_us, 1000000)), ts_us, toDateTime(intDiv(ts_us, 1000000) + 2),
	version, platform,
	concat('{"version":"', version, '","backend_platform":"', platform,
		'","electronVersion":"37.2.0","goVersion":"go1.26.8","$lib":"candor-go","$lib_version":"0.1.0","catalogFingerprint":"05d0acf6ab21a34b"',
		multiIf(
			event = 'message_sent', concat(',"model":"', model, '","agentId":"exec","message_length_b2":', message_length,
				',"runtimeType":"', runtime, '","thinkingLevel":"', thinking,
				'","workspaceId":"6c764a3c-abc3-4074-ad49-a354ae485992","frontendPlatform":{"platform":"macOS","userAgent":"Electron 37 (macOS)"}'),
			event = 'stream_completed', concat(',"model":"', model, '","wasInterrupted":', interrupted,
				',"duration_b2":', duration8, ',"output_tokens_b2":', output_tokens),
			event = 'app_started', concat(',"isFirstLaunch":', first_launch, ',"vimModeEnabled":false'),
			event = 'command_used', concat(',"command":"', command, '"'),
			event = 'workspace_created', concat(',"workspaceId":"6c764a3c-abc3-4074-ad49-a354ae485992","runtimeType":"', runtime,
				'","frontendPlatform":{"platform":"macOS","userAgent":"Electron 37 (macOS)"}'),
			event = 'error_occurred', concat(',"errorType":"', error_type, '","context":"', error_context, '"'),
			event = 'stream_timing_computed', concat(',"model":"', model, '","duration_b2":', duration16,
				',"ttft_ms_b2":256,"tool_ms_b2":128,"streaming_ms_b2":1024,"tool_percent_bucket":', tool_percent, ',"invalid":false'),
			concat(',"model":"', model,
				'","duration_b2":8,"input_tokens_b2":65536,"output_tokens_b2":2048,"compaction_source":"idle"')),
		'}'),
	arrayConcat(['version', 'backend_platform', 'electronVersion', 'goVersion', '$lib', '$lib_version', 'catalogFingerprint'],
		multiIf(
			event = 'message_sent', ['model', 'agentId', 'message_length_b2', 'runtimeType', 'thinkingLevel', 'workspaceId',
				'frontendPlatform.platform', 'frontendPlatform.userAgent'],
			event = 'stream_completed', ['model', 'wasInterrupted', 'duration_b2', 'output_tokens_b2'],
			event = 'app_started', ['isFirstLaunch', 'vimModeEnabled'],
			event = 'command_used', ['command'],
			event = 'workspace_created', ['workspaceId', 'runtimeType', 'frontendPlatform.platform', 'frontendPlatform.userAgent'],
			event = 'error_occurred', ['errorType', 'context'],
			event = 'stream_timing_computed', ['model', 'duration_b2', 'ttft_ms_b2', 'tool_ms_b2', 'streaming_ms_b2', 'tool_percent_bucket', 'invalid'],
			['model', 'duration_b2', 'input_tokens_b2', 'output_tokens_b2', 'compaction_source'])),
	arrayConcat([version, platform, '37.2.0', 'go1.26.8', 'candor-go', '0.1.0', '05d0acf6ab21a34b'],
		multiIf(
			event = 'message_sent', [model, 'exec', message_length, runtime, thinking, '6c764a3c-abc3-4074-ad49-a354ae485992',
				'macOS', 'Electron 37 (macOS)'],
			event = 'stream_completed', [model, interrupted, duration8, output_tokens],
			event = 'app_started', [first_launch, 'false'],
			event = 'command_used', [command],
			event = 'workspace_created', ['6c764a3c-abc3-4074-ad49-a354ae485992', runtime, 'macOS', 'Electron 37 (macOS)'],
			event = 'error_occurred', [error_type, error_context],
			event = 'stream_timing_computed', [model, duration16, '256', '128', '1024', tool_percent, 'false'],
			[model, '8', '65536', '2048', 'idle']))
FROM (
	SELECT number AS i,
		intDiv(i * %[3]d, %[1]d) AS d,
		intDiv(cityHash64(i), 2) AS h,
		intDiv(cityHash64(i, 'event'), 2) AS h2,
		h %% intDiv(%[2]d * (d + 1), %[3]d) AS install,
		multiIf(h2 %% 1000 < 400, 'message_sent', h2 %% 1000 < 780, 'stream_completed', h2 %% 1000 < 860, 'app_started',
			h2 %% 1000 < 900, 'command_used', h2 %% 1000 < 920, 'workspace_created', h2 %% 1000 < 940, 'workspace_switched',
			h2 %% 1000 < 955, 'error_occurred', h2 %% 1000 < 975, 'stream_timing_computed', 'compaction_completed') AS event,
		concat('0.', toString(10 + install %% 7), '.0') AS version,
		['darwin', 'linux', 'win32'][1 + install %% 3] AS platform,
		['anthropic/claude-sonnet-4-5', 'openai/gpt-5-codex', 'ollama/qwen3-coder:30b', 'anthropic/claude-opus-4-1'][1 + intDiv(h, 7) %% 4] AS model,
		toString(bitShiftLeft(toUInt64(1), intDiv(h, 11) %% 12)) AS message_length,
		['local', 'worktree', 'ssh', 'docker', 'devcontainer'][1 + intDiv(h, 13) %% 5] AS runtime,
		['off', 'low', 'medium', 'high', 'xhigh', 'max'][1 + intDiv(h, 17) %% 6] AS thinking,
		if(h %% 10 = 0, 'true', 'false') AS interrupted,
		toString(bitShiftLeft(toUInt64(1), intDiv(h, 11) %% 8)) AS duration8,
		toString(bitShiftLeft(toUInt64(1), intDiv(h, 11) %% 16)) AS duration16,
		toString(bitShiftLeft(toUInt64(1), intDiv(h, 19) %% 14)) AS output_tokens,
		if(d = intDiv(install * %[3]d, %[2]d), 'true', 'false') AS first_launch,
		['clear', 'compact', 'new', 'fork', 'model'][1 + intDiv(h, 13) %% 5] AS command,
		['TypeError', 'NetworkError', 'GitError', 'TimeoutError'][1 + intDiv(h, 13) %% 4] AS error_type,
		['message-send', 'message-stream', 'git-operation', 'workspace-creation'][1 + intDiv(h, 17) %% 4] AS error_context,
		toString(intDiv(h, 23) %% 11 * 10) AS tool_percent,
		%[4]d * 1000000 + i * intDiv(%[3]d * 86400000000, %[1]d) AS ts_us
	FROM numbers(%[1]d)
)`

// openBenchStore opens the benchmark database. CANDOR_BENCH_DATABASE
// names a database to keep between runs, filled once; by default a new
// one is created and dropped. CANDOR_BENCH_EVENTS sets the number of
// events. The table is merged with OPTIMIZE ... FINAL after it is filled,
// so every run reads settled parts.
func openBenchStore(b *testing.B) (*Store, int) {
	b.Helper()
	count := defaultBenchEvents
	if text := os.Getenv("CANDOR_BENCH_EVENTS"); text != "" {
		n, err := strconv.Atoi(text)
		if err != nil || n < benchDays {
			b.Fatalf("invalid CANDOR_BENCH_EVENTS %q: use a whole number of at least %d", text, benchDays)
		}
		count = n
	}
	var s *Store
	if database := os.Getenv("CANDOR_BENCH_DATABASE"); database != "" {
		var err error
		s, err = Open(context.Background(), Config{URL: serverURL(b), Database: database})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
	} else {
		s = openBench(b)
	}

	ctx := context.Background()
	rows, err := s.client.query(ctx, "SELECT count() FROM "+s.events)
	if err != nil {
		b.Fatal(err)
	}
	stored, _ := strconv.Atoi(rows[0][0])
	if stored == count {
		return s, count
	}
	if stored != 0 {
		b.Fatalf("benchmark database %s holds %d events, want 0 or %d: drop it or set CANDOR_BENCH_EVENTS", s.config.Database, stored, count)
	}
	start := time.Now()
	if err := s.client.exec(ctx, fmt.Sprintf(benchEventsSQL, count, benchInstalls, benchDays, benchStart.Unix(), s.events)); err != nil {
		b.Fatalf("generate %d events: %v", count, err)
	}
	generated := time.Since(start)
	if err := s.client.exec(ctx, "OPTIMIZE TABLE "+s.events+" FINAL"); err != nil {
		b.Fatalf("merge the events table: %v", err)
	}
	b.Logf("generated %d events in %v, merged them in %v", count, generated.Round(time.Second), (time.Since(start) - generated).Round(time.Second))
	return s, count
}

// benchQuery is one query of the dashboard through the store.
type benchQuery struct {
	name string
	run  func(ctx context.Context, s *Store) error
}

// benchQueries returns the queries that the DuckDB backend's
// BenchmarkDashboardQueries runs through its store, over f.
func benchQueries(f store.Filter) []benchQuery {
	steps := []store.FunnelStep{
		{Event: "app_started", Where: []store.Condition{{Property: "isFirstLaunch", Value: "true"}}},
		{Event: "workspace_created"},
		{Event: "message_sent"},
	}
	messages := f
	messages.Events = []string{"message_sent"}
	errorsOnly := f
	errorsOnly.Events = []string{"error_occurred"}
	starts := f
	starts.Events = []string{"app_started"}
	trend := func(q store.TrendQuery) func(ctx context.Context, s *Store) error {
		return func(ctx context.Context, s *Store) error { _, err := s.Trend(ctx, q); return err }
	}

	return []benchQuery{
		{"overview", func(ctx context.Context, s *Store) error { _, err := s.Summary(ctx, f); return err }},
		{"trends_per_day", trend(store.TrendQuery{Filter: f, Interval: store.Day})},
		{"trends_by_model", trend(store.TrendQuery{Filter: messages, Interval: store.Day, Breakdown: []string{"model"}, Limit: 9})},
		{"errors_by_type_and_context", trend(store.TrendQuery{Filter: errorsOnly, Interval: store.All, Breakdown: []string{"errorType", "context"}})},
		{"active_installs_1_7_30", func(ctx context.Context, s *Store) error {
			_, err := s.ActiveInstalls(ctx, store.ActiveQuery{Filter: f, Windows: []int{1, 7, 30}})
			return err
		}},
		{"new_installs_per_day", trend(store.TrendQuery{Filter: starts, Interval: store.Day,
			Where: []store.Condition{{Property: "isFirstLaunch", Value: "true"}}})},
		{"histogram_message_length", func(ctx context.Context, s *Store) error {
			_, err := s.Histogram(ctx, store.HistogramQuery{Filter: messages, Property: "message_length_b2"})
			return err
		}},
		{"funnel_first_day", func(ctx context.Context, s *Store) error {
			_, err := s.Funnel(ctx, store.FunnelQuery{Filter: f, Steps: steps, Window: 24 * time.Hour})
			return err
		}},
		{"retention_8_weeks", func(ctx context.Context, s *Store) error {
			_, err := s.Retention(ctx, store.RetentionQuery{Filter: f, Weeks: 8})
			return err
		}},
		{"export_aggregate", trend(store.TrendQuery{Filter: f, Interval: store.Day, Breakdown: []string{"version", "backend_platform"}})},
	}
}

// BenchmarkDashboardQueries runs each query of the dashboard through the
// store over the 30 days of the dataset and reports the time per query,
// and the bytes the events take on disk once.
func BenchmarkDashboardQueries(b *testing.B) {
	s, count := openBenchStore(b)
	ctx := context.Background()
	f := store.Filter{Project: "mux", From: benchStart, To: benchStart.AddDate(0, 0, benchDays)}

	rows, err := s.client.query(ctx, `SELECT sum(bytes_on_disk), sum(rows), count() FROM system.parts
		WHERE database = `+quoteString(s.config.Database)+` AND table = 'events' AND active`)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("%d events, %d installs; active parts: %s bytes on disk, %s rows, %s parts", count, benchInstalls, rows[0][0], rows[0][1], rows[0][2])

	for _, q := range benchQueries(f) {
		b.Run(q.name, func(b *testing.B) {
			// One untimed run warms the server's caches.
			if err := q.run(ctx, s); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if err := q.run(ctx, s); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(b.Elapsed().Seconds()*1000/float64(b.N), "ms/query")
		})
	}
}
