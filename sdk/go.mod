module github.com/candor-dev/candor/sdk

go 1.26

require github.com/klauspost/compress v1.18.3
