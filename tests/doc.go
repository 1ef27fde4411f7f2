// Package tests holds memsnap's black-box tests: they build the memsnap
// binary (with crash failpoints compiled in) and run many real OS processes
// against one store — producers, writers, long-lived readers — killing some
// with SIGKILL, then check the store's invariants.
package tests
