// Package fsutil is the seam through which memsnap does every piece of I/O
// that durability depends on: creating, writing and fsyncing job files and
// snapshot files, renames, hard links, directory fsyncs and removals. Test
// builds (tag memsnap_failpoints) can make any of these calls fail with a
// chosen errno (see MEMSNAP_FSFAULT in fault_on.go); production builds call
// the operating system directly.
package fsutil

import "bytes"
import "errors"
import "fmt"
import "io"
import "os"
import "path/filepath"
import "syscall"
import "time"

// RenameRetryFor bounds how long Rename retries on Windows while another
// handle holds one of its files (see Rename); unused elsewhere.
var RenameRetryFor = 5 * time.Second

// DirPerm and FilePerm are the permissions of everything memsnap creates.
const (
	DirPerm  os.FileMode = 0o700
	FilePerm os.FileMode = 0o600
)

// CreateExcl creates path for writing with FilePerm; it fails if path exists.
func CreateExcl(path string) (*os.File, error) {
	if err := fault("create", path); err != nil {
		return nil, &os.PathError{Op: "create", Path: path, Err: err}
	}
	return os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, FilePerm)
}

// Write writes all of data to f. An injected ENOSPC or EDQUOT writes half of
// data first, as a filling disk does.
func Write(f *os.File, data []byte) error {
	if err := fault("write", f.Name()); err != nil {
		if IsNoSpace(err) {
			_, _ = f.Write(data[:len(data)/2])
		}
		return &os.PathError{Op: "write", Path: f.Name(), Err: err}
	}
	_, err := f.Write(data)
	return err
}

// Sync fsyncs an open file.
func Sync(f *os.File) error {
	if err := fault("sync", f.Name()); err != nil {
		return &os.PathError{Op: "fsync", Path: f.Name(), Err: err}
	}
	return f.Sync()
}

// SyncDir fsyncs a directory so that renames and creations inside it are
// durable. On Windows it does nothing (see syncDir in fsutil_windows.go).
func SyncDir(dir string) error {
	if err := fault("syncdir", dir); err != nil {
		return fmt.Errorf("sync dir %s: %w", dir, err)
	}
	return syncDir(dir)
}

// SyncFile fsyncs one file by path. It opens the file read-only on Unix and
// read-write on Windows, where FlushFileBuffers needs a handle with write
// access ("Access denied" on a read-only one): there the file must be
// writable and not held open by another handle that refuses sharing writes.
func SyncFile(path string) error {
	f, err := os.OpenFile(path, syncOpenFlag, 0)
	if err != nil {
		return fmt.Errorf("open for sync: %w", err)
	}
	defer f.Close()
	return Sync(f)
}

// Rename renames oldpath to newpath (rename(2): atomic on one filesystem).
// On Windows it is MoveFileEx(MOVEFILE_REPLACE_EXISTING), which fails
// while another process holds either file open without FILE_SHARE_DELETE
// (a reader reading CURRENT, an antivirus scan): it retries those sharing
// and access-denied failures for up to RenameRetryFor before it returns
// the error.
func Rename(oldpath, newpath string) error {
	if err := fault("rename", oldpath+" -> "+newpath); err != nil {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: err}
	}
	return rename(oldpath, newpath)
}

// ErrBusy marks a RenameOnce or RemoveAll that failed because another
// handle holds one of its files open (Windows only: sharing violation or
// access denied).
var ErrBusy = errors.New("fsutil: file is open in another process")

// RenameOnce is Rename without the Windows retries: a failure because
// another handle holds a file open matches ErrBusy at once, for a caller
// that can come back later (GC).
func RenameOnce(oldpath, newpath string) error {
	if err := fault("rename", oldpath+" -> "+newpath); err != nil {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: err}
	}
	err := os.Rename(oldpath, newpath)
	if err != nil && busy(err) {
		return fmt.Errorf("%w: %w", ErrBusy, err)
	}
	return err
}

// IsNoSpace reports whether err says the disk or the user's quota is full
// (ENOSPC, EDQUOT; on Windows also ERROR_DISK_FULL and
// ERROR_HANDLE_DISK_FULL).
func IsNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) || isNoSpaceOS(err)
}

// Link hard-links newpath to oldpath.
func Link(oldpath, newpath string) error {
	if err := fault("link", newpath); err != nil {
		return &os.LinkError{Op: "link", Old: oldpath, New: newpath, Err: err}
	}
	return os.Link(oldpath, newpath)
}

// Mkdir creates one directory with DirPerm.
func Mkdir(path string) error {
	if err := fault("mkdir", path); err != nil {
		return &os.PathError{Op: "mkdir", Path: path, Err: err}
	}
	return os.Mkdir(path, DirPerm)
}

// ReadFile is os.ReadFile that, on Windows, retries for up to RenameRetryFor
// while the open fails because another process holds the file in a way that
// refuses it ("Sharing violation" or "Access denied"): a writer's
// MoveFileEx replacing CURRENT does, for a moment. Elsewhere it is
// os.ReadFile.
func ReadFile(path string) ([]byte, error) { return readFile(path, time.Sleep) }

func readFile(path string, sleep func(time.Duration)) (b []byte, err error) {
	err = retryBusy(func() error {
		b, err = os.ReadFile(path)
		return err
	}, busy, RenameRetryFor, sleep)
	return b, err
}

// Remove removes one file or empty directory.
func Remove(path string) error {
	if err := fault("remove", path); err != nil {
		return &os.PathError{Op: "remove", Path: path, Err: err}
	}
	return os.Remove(path)
}

// RemoveAll removes path and everything under it. On Windows a file that
// another handle holds open cannot be deleted, through any of its names (a
// hard link to an sstable a reader has open included): that failure matches
// ErrBusy, for a caller that can leave the rest for later (see
// snapshot's trash).
func RemoveAll(path string) error {
	if err := fault("remove", path); err != nil {
		return &os.PathError{Op: "remove", Path: path, Err: err}
	}
	err := os.RemoveAll(path)
	if err != nil && busy(err) {
		return fmt.Errorf("%w: %w", ErrBusy, err)
	}
	return err
}

// WriteFileAtomic writes data to path.tmp, fsyncs it, renames it over path and
// fsyncs the parent directory. Readers see either the old or the new content,
// never a mix; after it returns the new content survives a crash. On error
// before the rename, path is untouched and path.tmp is removed.
func WriteFileAtomic(path string, data []byte) (err error) {
	tmp := path + ".tmp"
	_ = os.Remove(tmp) // a crashed earlier attempt
	f, err := CreateExcl(tmp)
	if err != nil {
		return fmt.Errorf("create %s: %w", filepath.Base(tmp), err)
	}
	defer func() {
		if err != nil {
			_ = os.Remove(tmp)
		}
	}()
	if err = Write(f, data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", filepath.Base(tmp), err)
	}
	if err = Sync(f); err != nil {
		f.Close()
		return fmt.Errorf("fsync %s: %w", filepath.Base(tmp), err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", filepath.Base(tmp), err)
	}
	if err = Rename(tmp, path); err != nil {
		return fmt.Errorf("rename %s over %s: %w", filepath.Base(tmp), filepath.Base(path), err)
	}
	if err := SyncDir(filepath.Dir(path)); err != nil {
		return fmt.Errorf("%s renamed but not yet durable: %w", filepath.Base(path), err)
	}
	return nil
}

// ErrNoReflink is returned by CloneFile when the filesystem cannot share
// extents between files (ext4, tmpfs, or src and dst on two filesystems).
var ErrNoReflink = errors.New("fsutil: filesystem has no reflink")

// CloneFile makes dst (which must not exist) a reflink of src (ioctl
// FICLONE): the two share their blocks until either is written, so it costs
// no data write whatever src's size. It returns ErrNoReflink, with dst
// removed, when the filesystem has no reflink (EOPNOTSUPP, EXDEV, EINVAL,
// ENOTTY); other errors are wrapped with context. dst is not fsynced.
func CloneFile(dst, src string) error {
	return fillNew(dst, src, func(out, in *os.File) error {
		err := fault("clone", dst)
		if err == nil {
			err = clone(out, in)
		}
		switch {
		case err == nil:
			return nil
		case errors.Is(err, ErrNoReflink), errors.Is(err, syscall.EOPNOTSUPP), errors.Is(err, syscall.EXDEV),
			errors.Is(err, syscall.EINVAL), errors.Is(err, syscall.ENOTTY):
			return ErrNoReflink
		default:
			return fmt.Errorf("reflink %s: %w", src, &os.PathError{Op: "ficlone", Path: dst, Err: err})
		}
	})
}

// CopyFile copies src to a new file dst (which must not exist) with
// copy_file_range through io.Copy, writing every byte (see CloneFile for the
// reflink). dst is not fsynced; the caller syncs what it publishes. On
// error dst is removed.
func CopyFile(dst, src string) error {
	return fillNew(dst, src, func(out, in *os.File) error {
		if err := fault("copy", dst); err != nil {
			if IsNoSpace(err) {
				_, _ = io.CopyN(out, in, 4096)
			}
			return fmt.Errorf("copy %s: %w", src, &os.PathError{Op: "write", Path: dst, Err: err})
		}
		if _, err := io.Copy(out, in); err != nil {
			return fmt.Errorf("copy %s: %w", src, err) // err names dst
		}
		return nil
	})
}

// sparseBlock is the unit CopyFileSparse leaves as a hole when all its
// bytes are zero: the block size of ext4 and XFS, and Kuzu's page size.
const sparseBlock = 4096

// CopyFileSparse is CopyFile that leaves every all-zero, sparseBlock-aligned
// block of src as a hole in dst (it writes only the blocks holding data,
// then sets dst's size), so that dst takes on disk only the blocks that
// hold data; dst reads back as src byte for byte. A Kuzu graph holds many
// zero pages (11-15% of a memsnap graph of 1k-100k entities, measured with
// go-kuzu v0.11.3: column chunks reserved for a whole node group). Where
// the filesystem has no holes, or on Windows, where a file not marked
// sparse gets its gaps filled with zeros, the copy takes what CopyFile's
// does. dst is not fsynced; on error it is removed.
func CopyFileSparse(dst, src string) error {
	return fillNew(dst, src, func(out, in *os.File) error {
		if err := fault("copy", dst); err != nil {
			if IsNoSpace(err) {
				_, _ = io.CopyN(out, in, sparseBlock)
			}
			return fmt.Errorf("copy %s: %w", src, &os.PathError{Op: "write", Path: dst, Err: err})
		}
		buf := make([]byte, 1<<20)
		var off int64
		for {
			n, rerr := io.ReadFull(in, buf)
			for _, r := range dataRuns(buf[:n]) {
				if _, err := out.WriteAt(buf[r[0]:r[1]], off+int64(r[0])); err != nil {
					return fmt.Errorf("copy %s: %w", src, err) // err names dst
				}
			}
			off += int64(n)
			if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
				break
			}
			if rerr != nil {
				return fmt.Errorf("copy %s: %w", src, rerr)
			}
		}
		if err := out.Truncate(off); err != nil {
			return fmt.Errorf("copy %s: %w", src, err)
		}
		return nil
	})
}

// zeroBlock is a sparseBlock of zeros, to compare blocks with.
var zeroBlock [sparseBlock]byte

// dataRuns returns the runs [start, end) of b's sparseBlock-aligned blocks
// (the last one may be short) that are not all zeros, adjacent blocks
// merged into one run: CopyFileSparse writes each run with one call. Writing
// each 4 KiB block on its own took about 1,000 pwrite calls for a 5 MB graph,
// where copy_file_range had taken a dozen (docs/BENCHMARKS.md, "How we got
// here", 2026-12-07).
func dataRuns(b []byte) [][2]int {
	var runs [][2]int
	for i := 0; i < len(b); i += sparseBlock {
		end := min(i+sparseBlock, len(b))
		if bytes.Equal(b[i:end], zeroBlock[:end-i]) {
			continue
		}
		if k := len(runs) - 1; k >= 0 && runs[k][1] == i {
			runs[k][1] = end
		} else {
			runs = append(runs, [2]int{i, end})
		}
	}
	return runs
}

// fillNew opens src, creates dst (which must not exist) and lets fill write
// dst from src; it closes both and removes dst if anything failed.
func fillNew(dst, src string, fill func(out, in *os.File) error) (err error) {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("open %s: %w", src, err)
	}
	defer in.Close()
	out, err := CreateExcl(dst)
	if err != nil {
		return fmt.Errorf("create %s: %w", dst, err)
	}
	defer func() {
		if cerr := out.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("close %s: %w", dst, cerr)
		}
		if err != nil {
			_ = os.Remove(dst)
		}
	}()
	return fill(out, in)
}

// Exists reports whether path exists. Errors other than "not exist" count as
// existing so that callers do not silently recreate what they cannot see.
func Exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil || !errors.Is(err, os.ErrNotExist)
}

// TreeSize is the total size in bytes of the regular files under dir (their
// apparent sizes, links not followed); what cannot be read counts 0.
func TreeSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}
