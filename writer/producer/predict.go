package producer

import "github.com/memsnap/memsnap/internal/fsm"
import "github.com/memsnap/memsnap/internal/model"

// Predict returns what job will do when the writer applies it after the
// pending jobs, in order, on a graph whose part the jobs read is st (see
// fsm.Reads and model.State): its per-op results, or the *model.Rejection
// the writer will reject it with. It is fsm.Apply on st's rows: a pending
// job that would fail is skipped, as the writer skips it. The answer
// holds as long as no other job changes the entities the jobs name before
// they apply.
func Predict(st *model.State, pending []*model.Job, job *model.Job) ([]model.OpResult, error) {
	m := fsm.NewMemState(st)
	for _, p := range pending {
		_, _ = fsm.Apply(m, p) // a failing job leaves the state as it was
	}
	res, err := fsm.Apply(m, job)
	return res.Ops, err
}
