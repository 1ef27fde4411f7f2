package writer

import "github.com/memsnap/memsnap/internal/model"
import "github.com/memsnap/memsnap/internal/queue"
import "github.com/memsnap/memsnap/snapshot"

// enqueue queues the job in data as producer.Enqueue does: decoded with lim
// (model.DecodeJob), then made durable in queue/new under a new id. The
// writer's own tests cannot import the producer, which imports the writer.
func enqueue(s *snapshot.Store, data []byte, lim model.Limits) (string, error) {
	if _, err := model.DecodeJob(data, lim); err != nil {
		return "", err
	}
	id := queue.NewID()
	return id, s.Queue().Enqueue(id, data)
}
