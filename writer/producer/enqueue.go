package producer

import "fmt"

import "github.com/memsnap/memsnap/internal/model"
import "github.com/memsnap/memsnap/internal/queue"
import "github.com/memsnap/memsnap/snapshot"

// Enqueue validates a job and makes it durable in the store's queue. It takes
// no lock: any number of producer processes may enqueue at once. The job is
// acknowledged (and its id returned) only after its rename into queue/new and
// the directory fsync have returned; an error means it was not queued, or
// says plainly when a writer had already taken it. A job that fails
// validation returns an error wrapping model.ErrInvalidJob.
func Enqueue(s *snapshot.Store, data []byte, lim model.Limits) (id string, err error) {
	if _, err := model.DecodeJob(data, lim); err != nil {
		return "", err
	}
	id = queue.NewID()
	if err := s.Queue().Enqueue(id, data); err != nil {
		return "", fmt.Errorf("enqueue: %w", err)
	}
	return id, nil
}
