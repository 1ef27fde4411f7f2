package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/memsnap/memsnap/internal/queue"
	"github.com/memsnap/memsnap/writer"
)

// status is the answer of 'memsnap status'.
type status struct {
	Store      string         `json:"store"`
	Current    uint64         `json:"current"`
	AgeSeconds float64        `json:"current_age_seconds"`
	Watermark  uint64         `json:"watermark"`
	Queue      queue.Counts   `json:"queue"`
	Locked     bool           `json:"locked"`
	Holder     *writer.Holder `json:"lock_holder,omitempty"`
}

func (a *app) newStatusCommand() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "status [--json]",
		Short: "Queue depth, dead jobs, CURRENT seq and age, lock holder",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := a.store()
			if err != nil {
				return err
			}
			st := status{Store: s.Dir()}
			if st.Queue, err = s.Queue().Counts(); err != nil {
				return err
			}
			if st.Current, err = s.Current(); err != nil {
				return err
			}
			if st.Current > 0 {
				m, err := s.Manifest(st.Current)
				if err != nil {
					return err
				}
				st.AgeSeconds = time.Since(m.CreatedAt).Seconds()
				st.Watermark = m.Watermark
			}
			h, locked, err := writer.Locked(s)
			if err != nil {
				return err
			}
			st.Locked = locked
			if locked {
				st.Holder = &h
			}
			if asJSON {
				return a.printJSON(st)
			}
			fmt.Fprintf(a.stdout, "store:     %s\n", st.Store)
			if st.Current == 0 {
				fmt.Fprintf(a.stdout, "current:   none published yet\n")
			} else {
				fmt.Fprintf(a.stdout, "current:   snapshot %d, %s old\n", st.Current, time.Duration(st.AgeSeconds*float64(time.Second)).Round(time.Millisecond))
			}
			fmt.Fprintf(a.stdout, "queue:     %d queued, %d claimed, %d dead\n", st.Queue.New, st.Queue.Cur, st.Queue.Dead)
			if locked {
				fmt.Fprintf(a.stdout, "writer:    running (pid %d on %s since %s)\n", h.PID, h.Host, h.Since.Format(time.RFC3339))
			} else {
				fmt.Fprintf(a.stdout, "writer:    idle\n")
			}
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}
