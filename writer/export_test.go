package writer

// SetReplayHooks sets the replay's test hooks until the returned restore is
// called: mergedTxFails makes the transaction of the replay and the batch
// fail before it writes; checked is called for each replayed job whose
// outcome is checked against CURRENT's, and a true return is a difference.
func SetReplayHooks(mergedTxFails func() bool, checked func() (differs bool)) (restore func()) {
	hookMergedTxFails, hookReplayChecked = mergedTxFails, checked
	return func() { hookMergedTxFails, hookReplayChecked = nil, nil }
}
