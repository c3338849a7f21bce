module github.com/candor-dev/candor/sdk

go 1.26
