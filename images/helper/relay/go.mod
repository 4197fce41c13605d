module pfdev/relay

go 1.24
