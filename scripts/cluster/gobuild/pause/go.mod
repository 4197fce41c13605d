module pfdev/pause

go 1.24.0
