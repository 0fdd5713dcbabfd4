package badger

// SetDeleteChunk sets how many records one deletion transaction of
// TruncateAfter or PurgeBefore removes at most (0: the default).
func SetDeleteChunk(e *Engine, n int) { e.deleteChunk = n }

// SetAfterDeleteStep makes e call f after each deletion transaction of
// TruncateAfter or PurgeBefore is committed and synced, with the 1-based
// count of them so far; an error from f stops the deletion there, as a
// crash at that moment would, and is returned. Set it before the call.
func SetAfterDeleteStep(e *Engine, f func(step int) error) { e.afterDeleteStep = f }
