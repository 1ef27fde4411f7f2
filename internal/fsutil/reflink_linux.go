//go:build linux

package fsutil

import "os"

import "golang.org/x/sys/unix"

// clone is ioctl FICLONE; CloneFile takes EOPNOTSUPP, EXDEV, EINVAL and
// ENOTTY for "no reflink here".
func clone(out, in *os.File) error { return unix.IoctlFileClone(int(out.Fd()), int(in.Fd())) }
