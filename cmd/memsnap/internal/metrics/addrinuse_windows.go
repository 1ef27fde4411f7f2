//go:build windows

package metrics

import "errors"

import "golang.org/x/sys/windows"

// addrInUse reports whether a listen failed because the address is taken
// (Winsock's WSAEADDRINUSE; Go's syscall.EADDRINUSE is an invented number
// there that no listen returns).
func addrInUse(err error) bool { return errors.Is(err, windows.WSAEADDRINUSE) }
