package testutil

import "sync"
import "syscall"

// onWine looks up ntdll.dll!wine_get_version once: Wine's ntdll exports it,
// Windows' does not.
var onWine = sync.OnceValue(func() bool {
	return syscall.NewLazyDLL("ntdll.dll").NewProc("wine_get_version").Find() == nil
})
