package graphdb

import kuzu "github.com/kuzudb/go-kuzu"

// On Windows, Kuzu's message is not read again (kuzumsg.go finds Kuzu's C
// API with dlsym, which Windows lacks): a message holding a '%' keeps the
// "%!(MISSING)" marks go-kuzu v0.11.3's fmt.Errorf gives it there.

func preparedError(err error, _ *kuzu.PreparedStatement) error { return err }

func resultError(err error, _ *kuzu.QueryResult) error { return err }
