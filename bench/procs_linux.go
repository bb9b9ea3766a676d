package main

import "syscall"

// sysProcAttr kills a server when the harness dies, however it dies.
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} }
