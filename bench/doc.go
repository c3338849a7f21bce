// Package bench compares the candor SDK's capture path with posthog-go's.
// It is its own module, so posthog-go never appears in the SDK's go.mod.
//
// Run from this folder:
//
//	go test -run '^$' -bench . -benchmem
package bench
