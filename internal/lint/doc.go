// Package lint holds tests that guard the shape of the code base, as
// pebble's internal/lint does: the import graph shows the architecture and a
// test fails when a change breaks it. It has no code of its own.
package lint
