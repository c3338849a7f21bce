package server

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// DefaultMinFreeBytes is the default of Config.MinFreeBytes: 64 MiB. The
// journal's active file may grow to 16 MiB (four times
// journal.DefaultSegmentBytes) when no new file can be created, and the
// rest leaves DuckDB room for its write-ahead log and a checkpoint.
const DefaultMinFreeBytes = 64 << 20

// lowDiskError is the error of checkDiskSpace when the data folder's file
// system has less room than Config.MinFreeBytes.
type lowDiskError struct {
	dir       string
	free, min uint64
}

func (e lowDiskError) Error() string {
	return fmt.Sprintf("low disk space: the file system of the data folder %s has %d bytes free, less than the minimum of %d bytes; "+
		"free space there, move --data to a larger disk, or lower --min-free-mib",
		e.dir, e.free, e.min)
}

// checksDiskSpace reports whether /readyz checks the free space of the
// data folder: with the DuckDB store, which keeps its database and
// journal there, unless Config.MinFreeBytes turns the check off.
func (s *Server) checksDiskSpace() bool {
	return s.cfg.MinFreeBytes >= 0 && (s.cfg.Store == "" || s.cfg.Store == StoreDuckDB)
}

// checkDiskSpace returns a lowDiskError when the file system of the data
// folder has less free space than Config.MinFreeBytes, and the error of
// the measurement when that fails.
func (s *Server) checkDiskSpace() error {
	free, err := s.freeBytes(s.cfg.DataDir)
	if err != nil {
		return fmt.Errorf("measure the free space of the data folder %s: %w", s.cfg.DataDir, err)
	}
	minimum := uint64(s.cfg.MinFreeBytes)
	if minimum == 0 {
		minimum = DefaultMinFreeBytes
	}
	if free < minimum {
		return lowDiskError{dir: s.cfg.DataDir, free: free, min: minimum}
	}
	return nil
}

// diskSpaceCollector exports the free space of the data folder's file
// system as the gauge candor_data_free_bytes, measured at each scrape.
type diskSpaceCollector struct {
	server *Server
	desc   *prometheus.Desc
}

func newDiskSpaceCollector(s *Server) diskSpaceCollector {
	return diskSpaceCollector{server: s, desc: prometheus.NewDesc("candor_data_free_bytes",
		"Bytes that candor serve may still write on the file system of the data folder.", nil, nil)}
}

func (c diskSpaceCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c diskSpaceCollector) Collect(ch chan<- prometheus.Metric) {
	free, err := c.server.freeBytes(c.server.cfg.DataDir)
	if err != nil {
		// The scrape reports the error and serves the other metrics.
		ch <- prometheus.NewInvalidMetric(c.desc, fmt.Errorf("measure the free space of %s: %w", c.server.cfg.DataDir, err))
		return
	}
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(free))
}
