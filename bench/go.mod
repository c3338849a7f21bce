module github.com/candor-dev/candor/bench

go 1.26

require (
	github.com/candor-dev/candor/sdk v0.0.0
	github.com/posthog/posthog-go v1.23.1
)

require (
	github.com/andybalholm/brotli v1.1.1 // indirect
	github.com/goccy/go-json v0.10.6 // indirect
	github.com/google/uuid v1.6.0 // indirect
	github.com/hashicorp/golang-lru/v2 v2.0.7 // indirect
	github.com/klauspost/compress v1.18.3 // indirect
	golang.org/x/sys v0.21.0 // indirect
)

replace github.com/candor-dev/candor/sdk => ../sdk
