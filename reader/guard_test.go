package reader

import "errors"
import "strings"
import "testing"

func TestCheckReadOnly(t *testing.T) {
	refused := map[string]string{
		"COPY (MATCH (e) RETURN e) TO '/tmp/x.csv'": "COPY",
		"copy Entity from '/tmp/x.csv'":             "COPY",
		"CoPy (RETURN 1) TO 'x'":                    "COPY",
		"EXPORT DATABASE '/tmp/db'":                 "EXPORT",
		"IMPORT DATABASE '/tmp/db'":                 "IMPORT",
		"ATTACH '/tmp/o.kuzu' AS o (dbtype kuzu)":   "ATTACH",
		"DETACH o":                         "DETACH",
		"USE o":                            "USE",
		"INSTALL httpfs":                   "INSTALL",
		"LOAD EXTENSION json":              "LOAD",
		"LOAD FROM '/etc/passwd' RETURN *": "LOAD",
		"load\tfrom 'x' return *":          "LOAD",
		"MATCH (e) RETURN e; COPY (RETURN 1) TO 'x'":     "one statement",
		"RETURN 1; RETURN 2":                             "one statement",
		"/* c */ COPY (RETURN 1) TO 'x'":                 "COPY",
		"// c\nCOPY (RETURN 1) TO 'x'":                   "COPY",
		"CREATE (:Entity {name: 'x'})":                   "CREATE",
		"MERGE (:Entity {name: 'x'})":                    "MERGE",
		"MATCH (e) SET e.x = 1":                          "SET",
		"MATCH (e) DELETE e":                             "DELETE",
		"MATCH (e) DETACH DELETE e":                      "DETACH",
		"DROP TABLE Entity":                              "DROP",
		"ALTER TABLE Entity ADD x INT":                   "ALTER",
		"CHECKPOINT":                                     "CHECKPOINT",
		"BEGIN TRANSACTION":                              "BEGIN",
		"CALL create_fts_index('Entity', 'i', ['name'])": "CALL is limited",
		"CALL threads=4":                                 "CALL is limited",
		"RETURN read_csv('/etc/passwd')":                 "read_csv reads files",
		"UNWIND glob('/etc/*') AS f RETURN f":            "glob reads files",
		"MATCH (e) RETURN e.name AS 'unterminated":       "unterminated string",
		"MATCH (e) /* never closed":                      "unterminated comment",
		"":                                               "empty query",
		"   ":                                            "empty query",
		"MATCH (e) WITH e CALL drop_fts_index('Entity','i') RETURN 1": "CALL is limited",
		// Kuzu reads "--" as two minus signs, not a comment: the second
		// statement would run.
		"RETURN 1 --1; COPY (RETURN 1) TO 'x'": "one statement",
		// Unicode spaces, a BOM and the ASCII separators are white space to
		// Kuzu, so the keyword before or after them is a keyword.
		"COPY\u00a0(RETURN 1) TO 'x'":            "COPY",
		"COPY\u3000(RETURN 1) TO 'x'":            "COPY",
		"COPY\u2028(RETURN 1) TO 'x'":            "COPY",
		"COPY\u180e(RETURN 1) TO 'x'":            "COPY",
		"COPY\u1680(RETURN 1) TO 'x'":            "COPY",
		"\ufeffCOPY (RETURN 1) TO 'x'":           "COPY",
		"COPY\x1c(RETURN 1) TO 'x'":              "COPY",
		"RETURN 1\x00; COPY (RETURN 1) TO 'x'":   "NUL byte",
		"RETURN 'a\\\\'; COPY (RETURN 1) TO 'x'": "one statement",
	}
	for q, want := range refused {
		err := CheckReadOnly(q)
		if err == nil || !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want a refusal naming %q", q, err, want)
		}
	}
	allowed := []string{
		"MATCH (e:Entity) RETURN e.name",
		"MATCH (e:Entity) WHERE e.name = 'COPY TO /tmp' RETURN e",
		"MATCH (e:Entity) WHERE e.name = \"LOAD FROM x\" RETURN e",
		"MATCH (e:Entity) RETURN e.name AS `create`",
		"MATCH (e:Entity {name: $copy}) RETURN e.set",
		"MATCH (a)-[r:Relation]->(b) RETURN a, r, b LIMIT 5;",
		"CALL show_tables() RETURN *",
		"CALL QUERY_FTS_INDEX('Entity', 'entity_fts', 'kuzu') RETURN node.name, score",
		"// a comment mentioning COPY\nMATCH (e) RETURN count(e)",
		"UNWIND [1,2,3] AS x RETURN x",
		"MATCH (e:Entity) WHERE e.name = 'it\\'s' RETURN e",
		"MATCH (e:Entity) WHERE e.name = 'ＣＯＰＹ' RETURN e",
		"RETURN 'Zürich', 'ŝ', '東京'",
		"MATCH (e:Entity) RETURN e.名前",
	}
	for _, q := range allowed {
		if err := CheckReadOnly(q); err != nil {
			t.Errorf("%q refused: %v", q, err)
		}
	}
}

// nested is "RETURN " then n of open, 1, and n of close.
func nested(n int, open, close string) string {
	return "RETURN " + strings.Repeat(open, n) + "1" + strings.Repeat(close, n)
}

// nestedCase is "RETURN " then n CASE expressions, each inside the last.
func nestedCase(n int, when string) string {
	return "RETURN " + strings.Repeat(when+" ", n) + "1" + strings.Repeat(" END", n)
}

func TestCheckReadOnlyRefusesWhatHurtsTheParser(t *testing.T) {
	refused := map[string]string{
		nested(MaxNesting+1, "(", ")"): "nest deeper than 32 levels",
		nested(3000, "(", ")"):         "nest deeper than 32 levels",
		nested(MaxNesting+1, "[", "]"): "nest deeper than 32 levels",
		nested(20, "([", "])"):         "nest deeper than 32 levels",
		"RETURN {a: " + strings.Repeat("{a: ", MaxNesting) + "1" + strings.Repeat("}", MaxNesting+1): "nest deeper",
		// Closing brackets first must not buy room for more opens.
		"RETURN " + strings.Repeat(")", 100) + nested(MaxNesting+1, "(", ")"): "nest deeper",
		"RETURN '" + strings.Repeat("x", MaxQueryBytes) + "'":                 "more than the limit of 16384",
		nestedCase(MaxCaseNesting+1, "CASE WHEN true THEN"):                   "CASE expressions nest deeper than 10 levels",
		nestedCase(50, "case when true then"):                                 "CASE expressions nest deeper than 10 levels",
		nestedCase(MaxCaseNesting+1, "CaSe 1 WHEN 1 THEN"):                    "CASE expressions nest deeper than 10 levels",
		// CASE in a WHEN nests too; an END closes one.
		"RETURN " + strings.Repeat("CASE WHEN CASE WHEN true THEN true END THEN ", MaxCaseNesting) + "CASE WHEN CASE WHEN": "nest deeper than 10",
		// CASE counts towards the bracket depth.
		"RETURN " + strings.Repeat("(", MaxNesting-MaxCaseNesting+1) + nestedCase(MaxCaseNesting, "CASE WHEN true THEN")[7:]: "(, [, { and CASE nest deeper than 32 levels",
		nestedCase(MaxCaseNesting, "CASE WHEN true THEN "+strings.Repeat("[", 3)):                                            "(, [, { and CASE nest deeper than 32 levels",
		// Ends first must not buy room for more CASEs.
		"RETURN " + strings.Repeat("END ", 100) + nestedCase(MaxCaseNesting+1, "CASE WHEN true THEN")[7:]: "nest deeper than 10",
	}
	for q, want := range refused {
		err := CheckReadOnly(q)
		if err == nil || !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), want) {
			t.Errorf("%.60q...: got %v, want a refusal naming %q", q, err, want)
		}
	}
	for _, q := range []string{
		nested(MaxNesting, "(", ")"),
		nested(MaxNesting, "[", "]"),
		nested(MaxNesting/2, "([", "])"),
		// Brackets inside strings, comments and `names` are not nesting.
		"RETURN '" + strings.Repeat("(", 1000) + "'",
		"RETURN 1 // " + strings.Repeat("[", 1000),
		"RETURN 1 /* " + strings.Repeat("{", 1000) + " */",
		"RETURN 1 AS `" + strings.Repeat("(", 1000) + "`",
		"RETURN '" + strings.Repeat("x", MaxQueryBytes-20) + "'",
		nestedCase(MaxCaseNesting, "CASE WHEN true THEN"),
		"RETURN " + strings.Repeat("(", MaxNesting-MaxCaseNesting) + nestedCase(MaxCaseNesting, "CASE WHEN true THEN")[7:],
		// Side by side is not nested.
		"RETURN " + strings.Repeat("CASE WHEN true THEN 1 END + ", 50) + "1",
		// CASE inside strings, comments and `names`, or as a property,
		// parameter or label name, is not nesting.
		"RETURN '" + strings.Repeat("CASE ", 100) + "'",
		"RETURN 1 // " + strings.Repeat("CASE ", 100),
		"RETURN 1 /* " + strings.Repeat("CASE ", 100) + " */",
		"RETURN 1 AS `" + strings.Repeat("CASE ", 100) + "`",
		"MATCH (e) RETURN " + strings.Repeat("e.case + ", 20) + strings.Repeat("$case + ", 20) + "1",
	} {
		if err := CheckReadOnly(q); err != nil {
			t.Errorf("%.60q... refused: %v", q, err)
		}
	}
}
