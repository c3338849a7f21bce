// Package hostile holds tests that attack a whole collector process the way
// real deployments fail: malformed and oversized requests, missing or wrong
// tokens, and clients that try to make it store network data. The package
// has no code of its own; its tests start an in-process server over a
// temporary DuckDB data folder and talk to it over loopback only.
package hostile
