package web

import "fmt"
import "net/http"
import "sync"
import "time"

// hub passes the seq of each snapshot the server starts serving to the
// dashboards listening on /events (server-sent events).
type hub struct {
	mu     sync.Mutex // guards subs
	subs   map[chan uint64]struct{}
	closed chan struct{} // closed when the server shuts down
	once   sync.Once
}

func newHub() *hub { return &hub{subs: map[chan uint64]struct{}{}, closed: make(chan struct{})} }

// publish tells every listener about seq without blocking: a listener that
// has not taken the last seq yet gets the newer one instead.
func (h *hub) publish(seq uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs {
		select {
		case <-ch: // drop the older seq not yet sent
		default:
		}
		ch <- seq
	}
}

func (h *hub) subscribe() chan uint64 {
	ch := make(chan uint64, 1)
	h.mu.Lock()
	h.subs[ch] = struct{}{}
	h.mu.Unlock()
	return ch
}

func (h *hub) unsubscribe(ch chan uint64) {
	h.mu.Lock()
	delete(h.subs, ch)
	h.mu.Unlock()
}

// close ends every /events stream, so that the server can shut down.
func (h *hub) close() { h.once.Do(func() { close(h.closed) }) }

// keepAlive is how often an idle /events stream sends a comment, so that
// proxies and browsers keep it open.
const keepAlive = 15 * time.Second

// events serves /events: an event "snapshot" with {"seq":N} at once (the
// snapshot being served, 0 for none) and after each swap to a newer one,
// until the client leaves or the server shuts down.
func (h *hub) events(current func() uint64) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-store")
		ch := h.subscribe()
		defer h.unsubscribe(ch)
		send := func(seq uint64) bool {
			_, err := fmt.Fprintf(w, "event: snapshot\ndata: {\"seq\":%d}\n\n", seq)
			return err == nil && rc.Flush() == nil
		}
		if !send(current()) {
			return
		}
		tick := time.NewTicker(keepAlive)
		defer tick.Stop()
		for {
			select {
			case <-r.Context().Done():
				return
			case <-h.closed:
				return
			case seq := <-ch:
				if !send(seq) {
					return
				}
			case <-tick.C:
				if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil || rc.Flush() != nil {
					return
				}
			}
		}
	}
}
