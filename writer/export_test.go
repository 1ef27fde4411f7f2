package writer

// SetReplayHooks sets the replay's test hooks until the returned restore is
// called: mergedTxFails makes the transaction of the replay and the batch
// fail before it writes, aloneFails the replay on its own after that;
// checked is called for each replayed job whose outcome is checked against
// CURRENT's, and a true return is a difference.
func SetReplayHooks(mergedTxFails, aloneFails func() bool, checked func() (differs bool)) (restore func()) {
	hookMergedTxFails, hookReplayAloneFails, hookReplayChecked = mergedTxFails, aloneFails, checked
	return func() { hookMergedTxFails, hookReplayAloneFails, hookReplayChecked = nil, nil, nil }
}

// SetBatchWriteHook makes a transaction of several jobs fail after the
// overlay ran them, before it writes, while fails returns true, until the
// returned restore is called.
func SetBatchWriteHook(fails func() bool) (restore func()) {
	hookBatchWriteFails = fails
	return func() { hookBatchWriteFails = nil }
}

// SetFreeSpaceHook makes the writer's space check see free bytes free on
// the store's filesystem instead of asking statfs, until the returned
// restore is called.
func SetFreeSpaceHook(free func() int64) (restore func()) {
	hookFreeSpace = free
	return func() { hookFreeSpace = nil }
}

// LockedByContent is how Locked answers on macOS and Windows.
var LockedByContent = lockedByContent
