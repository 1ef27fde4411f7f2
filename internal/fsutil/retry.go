package fsutil

import "time"

// retryBusy calls op until it succeeds, fails with an error that isBusy
// does not match, or has been retried for maxWait, sleeping 1 ms, then
// twice as long each time up to 50 ms, between calls. It returns op's last
// error. Windows' Rename uses it (an open handle refuses a rename until it
// is closed); it is portable so that it is tested everywhere.
func retryBusy(op func() error, isBusy func(error) bool, maxWait time.Duration, sleep func(time.Duration)) error {
	var waited time.Duration
	wait := time.Millisecond
	for {
		err := op()
		if err == nil || !isBusy(err) || waited >= maxWait {
			return err
		}
		sleep(wait)
		waited += wait
		wait = min(2*wait, 50*time.Millisecond)
	}
}
