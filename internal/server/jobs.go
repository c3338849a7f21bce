package server

import (
	"context"
	"time"
)

// runJobs runs the start-up work, marks the server ready, then repeats the
// retention pass every retentionInterval until ctx ends.
func (s *Server) runJobs(ctx context.Context) {
	if s.cfg.Retention <= 0 {
		s.ready.Store(true)
		return
	}
	s.applyRetention(ctx)
	s.ready.Store(true)

	ticker := time.NewTicker(s.retentionInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			s.applyRetention(ctx)
		}
	}
}

// applyRetention deletes the events older than Config.Retention. A failure
// is logged and the next pass tries again.
//
// NOTE: retention keeps every deletion key hash, also that of an install
// with no events left. "No events stored" does not tell a gone install
// from a new one, because the collector registers a batch's hash before
// it stores the batch's events. Deleting such a hash would make
// self-service deletion respond 404, which the SDK takes as "nothing
// stored".
func (s *Server) applyRetention(ctx context.Context) {
	cutoff := time.Now().Add(-s.cfg.Retention).UTC()
	start := time.Now()
	deleted, err := s.store.DeleteBefore(ctx, cutoff)
	if err != nil {
		if ctx.Err() == nil {
			s.logger.Error("retention pass failed; the next pass retries", "before", cutoff, "err", err)
		}
		return
	}
	s.logger.Info("retention pass", "before", cutoff, "deleted", deleted, "elapsed", time.Since(start))
}
