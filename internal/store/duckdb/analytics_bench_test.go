package duckdb

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/candor-dev/candor/internal/dashboard"
	"github.com/candor-dev/candor/internal/store"
)

// The dashboard benchmark dataset: benchEventCount events of benchInstalls
// installs over the 30 days from benchStart, in timestamp order. Install j
// starts on day j*30/benchInstalls, and each event of day d picks one of
// the installs started by then, so every started install is active every
// day. The event mix and the properties follow the Mux catalog.
const (
	defaultBenchEvents = 20_000_000
	benchInstalls      = 20_000
	benchDays          = 30
)

var benchStart = time.Date(2025, time.January, 1, 0, 0, 0, 0, time.UTC)

// benchEventsSQL fills events with %[1]d generated events of %[2]d
// installs over %[3]d days. It builds each event's properties as JSON text
// and casts them to the column type %[4]s, like Insert does, and stores
// the base properties in their columns.
const benchEventsSQL = `INSERT INTO events (project, uuid, event, distinct_id, install, ts, received_at,
	version, platform, electron_version, go_version, catalog_fingerprint, lib, lib_version, properties)
WITH base AS (
	SELECT i,
		i * %[3]d // %[1]d AS d,
		(hash(i) >> 1)::BIGINT AS h,
		(hash(i, 'event') >> 1)::BIGINT AS h2
	FROM range(%[1]d) r(i)
), picked AS (
	SELECT i, d, h, h2,
		(h %% (%[2]d * (d + 1) // %[3]d))::BIGINT AS install,
		CASE WHEN h2 %% 1000 < 400 THEN 'message_sent'
			WHEN h2 %% 1000 < 780 THEN 'stream_completed'
			WHEN h2 %% 1000 < 860 THEN 'app_started'
			WHEN h2 %% 1000 < 900 THEN 'command_used'
			WHEN h2 %% 1000 < 920 THEN 'workspace_created'
			WHEN h2 %% 1000 < 940 THEN 'workspace_switched'
			WHEN h2 %% 1000 < 955 THEN 'error_occurred'
			WHEN h2 %% 1000 < 975 THEN 'stream_timing_computed'
			ELSE 'compaction_completed' END AS event
	FROM base
), described AS (
	SELECT *,
		'0.' || (10 + install %% 7)::VARCHAR || '.0' AS version,
		['darwin', 'linux', 'win32'][1 + install %% 3] AS platform,
		['anthropic/claude-sonnet-4-5', 'openai/gpt-5-codex', 'ollama/qwen3-coder:30b', 'anthropic/claude-opus-4-1'][1 + (h // 7) %% 4] AS model,
		TIMESTAMP '2025-01-01' + to_microseconds(i * (%[3]d * 86400000000 // %[1]d)) AS ts
	FROM picked
)
SELECT 'mux',
	('00000000-0000-4000-8000-' || lpad(printf('%%x', i), 12, '0'))::UUID,
	event,
	'install-' || install::VARCHAR,
	md5_number_lower('3:mux' || 'install-' || install::VARCHAR),
	ts,
	ts + INTERVAL 2 SECOND,
	version, platform, '37.2.0', 'go1.26.8', '05d0acf6ab21a34b', 'candor-go', '0.1.0',
	CAST(CAST('{' || ltrim(CASE event
		WHEN 'message_sent' THEN ',"model":"' || model || '","agentId":"exec","message_length_b2":' || (1 << ((h // 11) %% 12)::INT)::VARCHAR ||
			',"runtimeType":"' || ['local','worktree','ssh','docker','devcontainer'][1 + (h // 13) %% 5] ||
			'","thinkingLevel":"' || ['off','low','medium','high','xhigh','max'][1 + (h // 17) %% 6] ||
			'","workspaceId":"6c764a3c-abc3-4074-ad49-a354ae485992","frontendPlatform":{"platform":"macOS","userAgent":"Electron 37 (macOS)"}'
		WHEN 'stream_completed' THEN ',"model":"' || model || '","wasInterrupted":' || CASE WHEN h %% 10 = 0 THEN 'true' ELSE 'false' END ||
			',"duration_b2":' || (1 << ((h // 11) %% 8)::INT)::VARCHAR || ',"output_tokens_b2":' || (1 << ((h // 19) %% 14)::INT)::VARCHAR
		WHEN 'app_started' THEN ',"isFirstLaunch":' || CASE WHEN d = install * %[3]d // %[2]d THEN 'true' ELSE 'false' END || ',"vimModeEnabled":false'
		WHEN 'command_used' THEN ',"command":"' || ['clear','compact','new','fork','model'][1 + (h // 13) %% 5] || '"'
		WHEN 'workspace_created' THEN ',"workspaceId":"6c764a3c-abc3-4074-ad49-a354ae485992","runtimeType":"' ||
			['local','worktree','ssh','docker','devcontainer'][1 + (h // 13) %% 5] || '","frontendPlatform":{"platform":"macOS","userAgent":"Electron 37 (macOS)"}'
		WHEN 'error_occurred' THEN ',"errorType":"' || ['TypeError','NetworkError','GitError','TimeoutError'][1 + (h // 13) %% 4] ||
			'","context":"' || ['message-send','message-stream','git-operation','workspace-creation'][1 + (h // 17) %% 4] || '"'
		WHEN 'stream_timing_computed' THEN ',"model":"' || model || '","duration_b2":' || (1 << ((h // 11) %% 16)::INT)::VARCHAR ||
			',"ttft_ms_b2":256,"tool_ms_b2":128,"streaming_ms_b2":1024,"tool_percent_bucket":' || (((h // 23) %% 11) * 10)::VARCHAR || ',"invalid":false'
		ELSE ',"model":"' || model || '","duration_b2":8,"input_tokens_b2":65536,"output_tokens_b2":2048,"compaction_source":"idle"'
	END, ',') || '}' AS JSON) AS %[4]s)
FROM described`

// openBenchStore opens the benchmark database. CANDOR_BENCH_DB names a
// file to keep between runs; it is filled once, which takes minutes for 20
// million events. CANDOR_BENCH_EVENTS sets the number of events, and
// CANDOR_BENCH_PROPERTIES=JSON creates a new database with JSON text
// properties instead of VARIANT.
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
	path := os.Getenv("CANDOR_BENCH_DB")
	if path == "" {
		path = filepath.Join(b.TempDir(), "bench.duckdb")
	}

	column := newPropertyColumn
	if os.Getenv("CANDOR_BENCH_PROPERTIES") == string(jsonProperties) {
		column = jsonProperties
	}
	s, err := open(path, column, DefaultMemoryLimitMiB, false)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	b.Logf("properties column of type %s", s.properties)

	var stored int
	if err := s.db.QueryRow(`SELECT count(*) FROM events`).Scan(&stored); err != nil {
		b.Fatal(err)
	}
	if stored == count {
		return s, count
	}
	if stored != 0 {
		b.Fatalf("benchmark database %s holds %d events, want 0 or %d: remove it or set CANDOR_BENCH_EVENTS", path, stored, count)
	}
	start := time.Now()
	if _, err := s.db.Exec(fmt.Sprintf(benchEventsSQL, count, benchInstalls, benchDays, s.properties)); err != nil {
		b.Fatalf("generate %d events: %v", count, err)
	}
	if _, err := s.db.Exec(`CHECKPOINT`); err != nil {
		b.Fatal(err)
	}
	b.Logf("generated %d events in %v", count, time.Since(start).Round(time.Second))
	return s, count
}

// benchQuery is one dashboard query, through the store and written by
// hand. naive, if set, is the plain form of the hand query that DuckDB
// plans badly; it runs once, for the record.
type benchQuery struct {
	name  string
	store func(ctx context.Context, s *Store) error
	hand  string
	naive string
}

// The hand-written queries take these arguments: the project, the start
// of the 30 days and the end, exclusive. The driver binds times as
// TIMESTAMPTZ, so the queries cast them like the store does.
const benchWhere = `project = $1 AND ts >= CAST($2 AS TIMESTAMP) AND ts < CAST($3 AS TIMESTAMP)`

// benchQueries returns the dashboard's queries over f. The hand-written
// ones read properties of the column type as an analyst would.
func benchQueries(f store.Filter, column propertyColumn) []benchQuery {
	p := func(key string) string {
		if column == jsonProperties {
			return "json_extract_string(properties, '$." + key + "')"
		}
		return "CAST(variant_extract(properties, '" + key + "') AS VARCHAR)"
	}
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

	return []benchQuery{
		{
			name:  "overview",
			store: func(ctx context.Context, s *Store) error { _, err := s.Summary(ctx, f); return err },
			hand: `SELECT count(*), count(DISTINCT install) FROM events WHERE ` + benchWhere + `;
				SELECT event, count(*), count(DISTINCT install) FROM events WHERE ` + benchWhere + ` GROUP BY event ORDER BY 2 DESC;
				SELECT version, count(*), count(DISTINCT install) FROM events WHERE ` + benchWhere + ` AND version IS NOT NULL GROUP BY version ORDER BY 2 DESC;
				SELECT platform, count(*), count(DISTINCT install) FROM events WHERE ` + benchWhere + ` AND platform IS NOT NULL GROUP BY platform ORDER BY 2 DESC`,
		},
		{
			name: "trends_per_day",
			store: func(ctx context.Context, s *Store) error {
				_, err := s.Trend(ctx, store.TrendQuery{Filter: f, Interval: store.Day})
				return err
			},
			hand: `SELECT date_trunc('day', ts) AS day, event, count(*), count(DISTINCT install)
				FROM events WHERE ` + benchWhere + ` GROUP BY ALL ORDER BY day, event`,
		},
		{
			name: "trends_by_model",
			store: func(ctx context.Context, s *Store) error {
				_, err := s.Trend(ctx, store.TrendQuery{Filter: messages, Interval: store.Day, Breakdown: []string{"model"}, Limit: 9})
				return err
			},
			hand: `WITH selected AS (
					SELECT date_trunc('day', ts) AS day, install, ` + p("model") + ` AS model
					FROM events WHERE ` + benchWhere + ` AND event = 'message_sent'),
				top AS (SELECT model FROM selected WHERE model IS NOT NULL GROUP BY model ORDER BY count(*) DESC LIMIT 9),
				per_install AS (
					SELECT day, CASE WHEN model IS NULL THEN '(none)' WHEN model IN (SELECT model FROM top) THEN model ELSE '(other)' END AS value,
						install, count(*) AS n
					FROM selected GROUP BY ALL)
				SELECT day, value, sum(n), count(*) FROM per_install GROUP BY ALL ORDER BY day, value`,
			naive: `SELECT date_trunc('day', ts) AS day, ` + p("model") + ` AS model, count(*), count(DISTINCT install)
				FROM events WHERE ` + benchWhere + ` AND event = 'message_sent' GROUP BY ALL ORDER BY ALL`,
		},
		{
			name: "errors_by_type_and_context",
			store: func(ctx context.Context, s *Store) error {
				_, err := s.Trend(ctx, store.TrendQuery{Filter: errorsOnly, Interval: store.All, Breakdown: []string{"errorType", "context"}})
				return err
			},
			hand: `SELECT error_type, context, sum(n), count(*) FROM (
					SELECT coalesce(` + p("errorType") + `, '(none)') AS error_type,
						coalesce(` + p("context") + `, '(none)') AS context, install, count(*) AS n
					FROM events WHERE ` + benchWhere + ` AND event = 'error_occurred' GROUP BY ALL)
				GROUP BY ALL ORDER BY ALL`,
			naive: `SELECT ` + p("errorType") + `, ` + p("context") + `,
					count(*), count(DISTINCT install)
				FROM events WHERE ` + benchWhere + ` AND event = 'error_occurred' GROUP BY ALL ORDER BY ALL`,
		},
		{
			name: "active_installs_1_7_30",
			store: func(ctx context.Context, s *Store) error {
				_, err := s.ActiveInstalls(ctx, store.ActiveQuery{Filter: f, Windows: []int{1, 7, 30}})
				return err
			},
			hand: `WITH pairs AS (
					SELECT DISTINCT install, CAST(ts AS DATE) AS day FROM events
					WHERE project = $1 AND ts >= CAST($2 AS TIMESTAMP) - INTERVAL 29 DAY AND ts < CAST($3 AS TIMESTAMP)),
				days AS (SELECT CAST(unnest(generate_series(CAST($2 AS DATE), CAST($3 AS DATE) - 1, INTERVAL 1 DAY)) AS DATE) AS day),
				windows(w) AS (VALUES (1), (7), (30))
				SELECT w, d.day, count(DISTINCT p.install)
				FROM days AS d CROSS JOIN windows JOIN pairs AS p ON p.day BETWEEN d.day - (w - 1) AND d.day
				GROUP BY ALL ORDER BY w, d.day`,
		},
		{
			name: "new_installs_per_day",
			store: func(ctx context.Context, s *Store) error {
				_, err := s.Trend(ctx, store.TrendQuery{Filter: starts, Interval: store.Day,
					Where: []store.Condition{{Property: "isFirstLaunch", Value: "true"}}})
				return err
			},
			hand: `SELECT day, count(DISTINCT install) FROM (
					SELECT date_trunc('day', ts) AS day, install FROM events
					WHERE ` + benchWhere + ` AND event = 'app_started'
						AND ` + p("isFirstLaunch") + ` = 'true')
				GROUP BY day ORDER BY day`,
		},
		{
			name: "histogram_message_length",
			store: func(ctx context.Context, s *Store) error {
				_, err := s.Histogram(ctx, store.HistogramQuery{Filter: messages, Property: "message_length_b2"})
				return err
			},
			hand: `SELECT value, sum(n), count(*) FROM (
					SELECT TRY_CAST(` + p("message_length_b2") + ` AS DOUBLE) AS value, install, count(*) AS n
					FROM events WHERE ` + benchWhere + ` AND event = 'message_sent' GROUP BY ALL)
				WHERE value IS NOT NULL GROUP BY value ORDER BY value`,
			naive: `SELECT TRY_CAST(` + p("message_length_b2") + ` AS DOUBLE) AS value, count(*), count(DISTINCT install)
				FROM events WHERE ` + benchWhere + ` AND event = 'message_sent' GROUP BY value ORDER BY value`,
		},
		{
			name: "funnel_first_day",
			store: func(ctx context.Context, s *Store) error {
				_, err := s.Funnel(ctx, store.FunnelQuery{Filter: f, Steps: steps, Window: 24 * time.Hour})
				return err
			},
			hand: `WITH launched AS (
					SELECT install, min(ts) AS t0 FROM events
					WHERE ` + benchWhere + ` AND event = 'app_started' AND ` + p("isFirstLaunch") + ` = 'true'
					GROUP BY install),
				created AS (
					SELECT l.install, l.t0, min(e.ts) AS t1 FROM launched AS l JOIN events AS e ON e.install = l.install
					WHERE e.project = $1 AND e.event = 'workspace_created' AND e.ts >= l.t0 AND e.ts <= l.t0 + INTERVAL 1 DAY
					GROUP BY l.install, l.t0),
				messaged AS (
					SELECT c.install FROM created AS c JOIN events AS e ON e.install = c.install
					WHERE e.project = $1 AND e.event = 'message_sent' AND e.ts >= c.t1 AND e.ts <= c.t0 + INTERVAL 1 DAY
					GROUP BY c.install)
				SELECT (SELECT count(*) FROM launched), (SELECT count(*) FROM created), (SELECT count(*) FROM messaged)`,
		},
		{
			name: "retention_8_weeks",
			store: func(ctx context.Context, s *Store) error {
				_, err := s.Retention(ctx, store.RetentionQuery{Filter: f, Weeks: 8})
				return err
			},
			hand: `WITH active AS (
					SELECT DISTINCT install, date_trunc('week', ts) AS week FROM events WHERE project = $1 AND ts < CAST($3 AS TIMESTAMP)),
				first_seen AS (SELECT install, min(week) AS cohort FROM active GROUP BY install)
				SELECT cohort, date_diff('day', cohort, week) // 7 AS n, count(*)
				FROM active JOIN first_seen USING (install)
				WHERE cohort >= date_trunc('week', CAST($2 AS TIMESTAMP)) AND date_diff('day', cohort, week) // 7 <= 8
				GROUP BY ALL ORDER BY ALL`,
		},
		{
			name: "export_aggregate",
			store: func(ctx context.Context, s *Store) error {
				_, err := s.Trend(ctx, store.TrendQuery{Filter: f, Interval: store.Day, Breakdown: []string{"version", "backend_platform"}})
				return err
			},
			hand: `SELECT date_trunc('day', ts) AS day, event, coalesce(version, '(none)'), coalesce(platform, '(none)'), count(*), count(DISTINCT install)
				FROM events WHERE ` + benchWhere + ` GROUP BY ALL ORDER BY ALL`,
		},
	}
}

// BenchmarkDashboardQueries runs each query of the dashboard through the
// store and as hand-written SQL, alternately, and reports both times and
// their ratio. With CANDOR_BENCH_EVENTS unset it needs about 3 GB of disk
// and 10 minutes, most of them to generate 20 million events; run it with
// -benchtime=3x.
func BenchmarkDashboardQueries(b *testing.B) {
	s, count := openBenchStore(b)
	ctx := context.Background()
	f := store.Filter{Project: "mux", From: benchStart, To: benchStart.AddDate(0, 0, benchDays)}
	b.Logf("%d events, %d installs, filter %s to %s", count, benchInstalls, f.From.Format(time.DateOnly), f.To.Format(time.DateOnly))

	for _, q := range benchQueries(f, s.properties) {
		b.Run(q.name, func(b *testing.B) {
			hand := func() error { return runHandSQL(ctx, s.db, q.hand, f) }
			// One untimed run of each warms the caches.
			if err := q.store(ctx, s); err != nil {
				b.Fatalf("store: %v", err)
			}
			if err := hand(); err != nil {
				b.Fatalf("hand-written SQL: %v", err)
			}

			var storeTime, handTime time.Duration
			runs := 0
			for b.Loop() {
				start := time.Now()
				if err := q.store(ctx, s); err != nil {
					b.Fatal(err)
				}
				storeTime += time.Since(start)
				start = time.Now()
				if err := hand(); err != nil {
					b.Fatal(err)
				}
				handTime += time.Since(start)
				runs++
			}
			b.ReportMetric(storeTime.Seconds()*1000/float64(runs), "store-ms")
			b.ReportMetric(handTime.Seconds()*1000/float64(runs), "sql-ms")
			b.ReportMetric(storeTime.Seconds()/handTime.Seconds(), "ratio")

			if q.naive != "" {
				start := time.Now()
				if err := runHandSQL(ctx, s.db, q.naive, f); err != nil {
					b.Fatalf("naive SQL: %v", err)
				}
				b.ReportMetric(time.Since(start).Seconds()*1000, "naive-sql-ms")
			}
		})
	}
}

// runHandSQL runs the statements of query, separated by semicolons, and
// reads every row, like the store does.
func runHandSQL(ctx context.Context, db *sql.DB, query string, f store.Filter) error {
	for _, statement := range splitStatements(query) {
		rows, err := db.QueryContext(ctx, statement, f.Project, f.From, f.To)
		if err != nil {
			return fmt.Errorf("%s: %w", statement, err)
		}
		columns, _ := rows.Columns()
		values := make([]any, len(columns))
		targets := make([]any, len(columns))
		for i := range values {
			targets[i] = &values[i]
		}
		for rows.Next() {
			if err := rows.Scan(targets...); err != nil {
				rows.Close()
				return err
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	return nil
}

func splitStatements(query string) []string {
	var statements []string
	start := 0
	for i := 0; i < len(query); i++ {
		if query[i] == ';' {
			statements = append(statements, query[start:i])
			start = i + 1
		}
	}
	return append(statements, query[start:])
}

// BenchmarkDashboardHTTP measures the dashboard's API over the benchmark
// database: the 30-day overview alone, and every request the dashboard page
// sends when it opens, six at a time like a browser.
func BenchmarkDashboardHTTP(b *testing.B) {
	s, count := openBenchStore(b)
	const token = "bench-token-0123456789"
	handler, err := dashboard.New(dashboard.Config{Store: s, AdminToken: token, Project: "mux"})
	if err != nil {
		b.Fatal(err)
	}
	server := httptest.NewServer(handler)
	defer server.Close()
	b.Logf("%d events", count)

	dates := "from=2025-01-01&to=2025-01-30"
	page := []string{
		"/api/v1/catalog",
		"/api/v1/overview?" + dates,
		"/api/v1/trends?interval=day&" + dates,
		"/api/v1/active_installs?" + dates,
		"/api/v1/new_installs?interval=day&" + dates,
		"/api/v1/new_installs?interval=all&" + dates,
		"/api/v1/histogram?event=message_sent&property=message_length_b2&" + dates,
		"/api/v1/funnel?window=1d&" + dates,
		"/api/v1/errors?interval=day&breakdown=errorType&limit=9&" + dates,
		"/api/v1/errors?interval=all&" + dates,
		"/api/v1/retention?weeks=8&" + dates,
	}
	get := func(path string) error {
		request, _ := http.NewRequest(http.MethodGet, server.URL+path, nil)
		request.Header.Set("Authorization", "Bearer "+token)
		response, err := server.Client().Do(request)
		if err != nil {
			return err
		}
		defer response.Body.Close()
		io.Copy(io.Discard, response.Body)
		if response.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: status %d", path, response.StatusCode)
		}
		return nil
	}

	// The first request after Open reads the columns from disk into
	// DuckDB's buffer pool. It is reported apart, and the loops measure
	// the state after it.
	start := time.Now()
	if err := get(page[1]); err != nil {
		b.Fatal(err)
	}
	first := time.Since(start)

	b.Run("overview", func(b *testing.B) {
		for b.Loop() {
			if err := get(page[1]); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(first.Seconds()*1000, "first-after-open-ms")
	})
	b.Run("page", func(b *testing.B) {
		for _, path := range page {
			if err := get(path); err != nil {
				b.Fatal(err)
			}
		}
		for b.Loop() {
			var wg sync.WaitGroup
			errs := make(chan error, len(page))
			slots := make(chan struct{}, 6)
			for _, path := range page {
				wg.Go(func() {
					slots <- struct{}{}
					defer func() { <-slots }()
					if err := get(path); err != nil {
						errs <- err
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				b.Fatal(err)
			}
		}
	})
}
