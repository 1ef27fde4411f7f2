// Package oneline folds a message onto the one line memsnap shows for an
// error: the line the CLI prints on standard error and the text of an MCP
// tool's error.
package oneline

import "strings"

// Fold puts s on one line: each line break becomes "; " and each run of
// white space a single space, with none at either end.
func Fold(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", "; ")), " ")
}
