package collector

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// Prometheus metric descriptions. Every counter comes from Stats at the time
// of the scrape; only the commit latency is a histogram of its own.
var (
	descRequests = prometheus.NewDesc("candor_capture_requests_total",
		"Capture responses by HTTP status code, OPTIONS preflights included.", []string{"code"}, nil)
	descErrors = prometheus.NewDesc("candor_capture_errors_total",
		"Capture requests rejected with an error status, by error code.", []string{"code"}, nil)
	descRateLimited = prometheus.NewDesc("candor_rate_limited_requests_total",
		"Capture requests rejected with 429 because their write key was over its rate limit.", []string{"project"}, nil)
	descOverloaded = prometheus.NewDesc("candor_overloaded_requests_total",
		"Capture requests rejected with 503 because a limit of the collector was reached, by limit.", []string{"limit"}, nil)
	descReceived = prometheus.NewDesc("candor_events_received_total",
		"Events of requests that passed decoding, authentication and the limits and whose commit, if any, succeeded; a retry counts again.", []string{"project"}, nil)
	descAccepted = prometheus.NewDesc("candor_events_accepted_total",
		"Events committed by the store, duplicates included.", []string{"project"}, nil)
	descStored = prometheus.NewDesc("candor_events_stored_total",
		"Accepted events the store newly stored.", []string{"project"}, nil)
	descDuplicates = prometheus.NewDesc("candor_events_duplicates_total",
		"Accepted events the store already held, by (project, uuid).", []string{"project"}, nil)
	descDropped = prometheus.NewDesc("candor_events_dropped_total",
		"Events not stored, by reason.", []string{"project", "reason"}, nil)
	descDroppedProperties = prometheus.NewDesc("candor_properties_dropped_total",
		"Properties left out of accepted events, by reason.", []string{"project", "reason"}, nil)
	descCommits = prometheus.NewDesc("candor_commits_total",
		"Successful Store.Insert calls.", nil, nil)
	descCommitErrors = prometheus.NewDesc("candor_commit_errors_total",
		"Failed Store.Insert calls.", nil, nil)
	descPending = prometheus.NewDesc("candor_commit_queue_events",
		"Events handed to the committer and not yet committed.", nil, nil)
	descDecoding = prometheus.NewDesc("candor_decoding_requests",
		"Capture requests holding a decoding slot.", nil, nil)
	descBuffered = prometheus.NewDesc("candor_buffered_bytes",
		"Memory reserved by capture requests for bodies and decoded payloads.", nil, nil)
)

// newCommitLatency returns the histogram of Store.Insert durations: from
// 1 ms to about 16 s in powers of two.
func newCommitLatency() prometheus.Histogram {
	return prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "candor_commit_duration_seconds",
		Help:    "Duration of Store.Insert calls, failed ones included.",
		Buckets: prometheus.ExponentialBuckets(0.001, 2, 15),
	})
}

// Describe implements prometheus.Collector, so a Collector can be
// registered with a prometheus.Registry.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		descRequests, descErrors, descRateLimited, descOverloaded, descReceived, descAccepted,
		descStored, descDuplicates, descDropped, descDroppedProperties, descCommits,
		descCommitErrors, descPending, descDecoding, descBuffered,
	} {
		ch <- d
	}
	c.commitLatency.Describe(ch)
}

// Collect implements prometheus.Collector. It reads one Stats snapshot, so
// the values of one scrape are consistent with each other.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	s := c.Stats()
	counter := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v int64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v))
	}

	for status, n := range s.Responses {
		counter(descRequests, n, strconv.Itoa(status))
	}
	for code, n := range s.Rejected {
		counter(descErrors, n, code)
	}
	for limit, n := range s.Overloaded {
		counter(descOverloaded, n, limit)
	}
	for name, p := range s.Projects {
		counter(descRateLimited, p.RateLimited, name)
		counter(descReceived, p.Received, name)
		counter(descAccepted, p.Accepted, name)
		counter(descStored, p.Stored, name)
		counter(descDuplicates, p.Duplicates, name)
		for reason, n := range p.Dropped {
			counter(descDropped, n, name, reason)
		}
		for reason, n := range p.DroppedProperties {
			counter(descDroppedProperties, n, name, reason)
		}
	}
	counter(descCommits, s.Commits)
	counter(descCommitErrors, s.CommitErrors)
	gauge(descPending, s.PendingEvents)
	gauge(descDecoding, s.DecodingRequests)
	gauge(descBuffered, s.BufferedBytes)
	c.commitLatency.Collect(ch)
}
