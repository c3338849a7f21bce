package server

import (
	"context"
	"time"

	"github.com/candor-dev/candor/internal/collector"
	"github.com/candor-dev/candor/internal/store"
)

// runJobs runs the start-up work, marks the server ready, then repeats the
// retention pass every retentionInterval until ctx ends. A pass that fails
// is retried after retentionRetry, so that a store that is unavailable for
// a moment does not keep expired events for another day.
func (s *Server) runJobs(ctx context.Context) {
	if s.cfg.Retention <= 0 {
		s.ready.Store(true)
		return
	}
	ok := s.applyRetention(ctx)
	s.ready.Store(true)

	timer := time.NewTimer(s.nextRetentionPass(ok))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
			ok = s.applyRetention(ctx)
			timer.Reset(s.nextRetentionPass(ok))
		}
	}
}

// nextRetentionPass returns the time until the next retention pass, after
// a pass that succeeded or failed.
func (s *Server) nextRetentionPass(succeeded bool) time.Duration {
	if succeeded {
		return s.retentionInterval
	}
	return min(s.retentionRetry, s.retentionInterval)
}

// Deletion key hashes expire with retention. While the collector receives
// an install's events, it renews the install's registration every
// secretRenewal, so the stored time is at most two renewal periods older
// than the arrival of the install's newest event. That event's timestamp
// may lie up to collector.MaxFutureSkew after its arrival, and retention
// keeps it for the retention period after its timestamp. secretExpiry
// exceeds the sum of the three, so an install with events left keeps its
// hash.
//
// Each renewal can add a row to ClickHouse's table of hashes until the
// next daily pass, so renewals are at least minSecretRenewal apart, also
// under a retention period of minutes.
func secretRenewal(retention time.Duration) time.Duration {
	return max(retention/16, minSecretRenewal)
}

const minSecretRenewal = time.Hour

func secretExpiry(retention time.Duration) time.Duration {
	return retention + max(retention/4, 3*secretRenewal(retention)) + collector.MaxFutureSkew
}

// applyRetention deletes the events older than Config.Retention, then the
// deletion key hashes of installs that sent nothing for secretExpiry. It
// logs a failure and reports whether both deletions succeeded.
func (s *Server) applyRetention(ctx context.Context) bool {
	cutoff := time.Now().Add(-s.cfg.Retention).UTC()
	start := time.Now()
	deleted, err := s.store.DeleteBefore(ctx, cutoff)
	if err != nil {
		if ctx.Err() == nil {
			s.logger.Error("retention pass failed; the next pass retries", "before", cutoff, "err", err)
		}
		return false
	}
	attrs := []any{"before", cutoff, "deleted", deleted}
	if secrets, ok := s.store.(store.InstallSecrets); ok {
		keysBefore := time.Now().Add(-s.secretExpiry).UTC()
		keys, err := secrets.DeleteInstallSecretsBefore(ctx, keysBefore)
		if err != nil {
			if ctx.Err() == nil {
				s.logger.Error("retention pass failed to delete deletion keys; the next pass retries",
					"registered_before", keysBefore, "err", err)
			}
			return false
		}
		attrs = append(attrs, "deletion_keys_deleted", keys)
	}
	s.logger.Info("retention pass", append(attrs, "elapsed", time.Since(start))...)
	return true
}
