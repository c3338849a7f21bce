module github.com/candor-dev/candor

go 1.26

require github.com/candor-dev/candor/sdk v0.0.0

replace github.com/candor-dev/candor/sdk => ./sdk
