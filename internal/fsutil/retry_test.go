package fsutil

import "errors"
import "testing"
import "time"

// TestRetryBusy: a busy failure is retried until it clears; another
// failure returns at once; a failure that stays busy returns after the
// bound (counted in the sleeps asked for, not in wall-clock time).
func TestRetryBusy(t *testing.T) {
	errBusy, errOther := errors.New("sharing violation"), errors.New("not found")
	isBusy := func(err error) bool { return err == errBusy }
	var slept time.Duration
	sleep := func(d time.Duration) { slept += d }

	calls := 0
	err := retryBusy(func() error {
		if calls++; calls < 4 {
			return errBusy
		}
		return nil
	}, isBusy, time.Second, sleep)
	if err != nil || calls != 4 || slept != 7*time.Millisecond {
		t.Fatalf("busy three times: err %v after %d calls and %v of sleep; want nil, 4, 7ms", err, calls, slept)
	}

	calls, slept = 0, 0
	if err := retryBusy(func() error { calls++; return errOther }, isBusy, time.Second, sleep); err != errOther || calls != 1 || slept != 0 {
		t.Fatalf("other failure: %v after %d calls", err, calls)
	}

	calls, slept = 0, 0
	if err := retryBusy(func() error { calls++; return errBusy }, isBusy, time.Second, sleep); err != errBusy || slept < time.Second || slept > time.Second+50*time.Millisecond {
		t.Fatalf("always busy: %v after %d calls and %v of sleep; want the busy error after 1s", err, calls, slept)
	}
}
