package main

// setns(2) on linux/amd64; the syscall package has no SYS_SETNS for this architecture.
const sysSetns = 308
