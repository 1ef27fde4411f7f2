// Package oneline folds a message onto the one line memsnap shows for an
// error: the line the CLI prints on standard error and the text of an MCP
// tool's error.
package oneline

import "strings"

import "github.com/memsnap/memsnap/snapshot"

// Fold puts s on one line: each line break becomes "; " and each run of
// white space a single space, with none at either end.
func Fold(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", "; ")), " ")
}

// Message is err's one line (Fold): its message, then, in parentheses, the
// hint of the first error of its chain that carries one as a field (an
// ErrorHint method, as snapshot.LostPointError), unless the message says it
// already. Errors keep their hints as fields; this is where they are
// rendered, once.
func Message(err error) string {
	msg := err.Error()
	if hint := snapshot.HintOf(err); hint != "" && !strings.Contains(msg, hint) {
		msg += " (" + hint + ")"
	}
	return Fold(msg)
}
