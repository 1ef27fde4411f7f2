package mcpserver

// Input schemas of the tools the reference MCP memory server defines, written
// out so that they match it property for property (names, types, required
// fields, descriptions). Unknown properties are ignored, as the reference's
// validator ignores them; memsnap's own tools (recent_changes, neighbors,
// query, kv_*, memory_status) refuse them (additionalProperties false), so
// that a misspelt argument ("at", "limit") is an error, not ignored.

import "fmt"

import "github.com/memsnap/memsnap/reader"

type schema = map[string]any

func str(desc string) schema { return schema{"type": "string", "description": desc} }

func strArray(desc string) schema {
	return schema{"type": "array", "items": schema{"type": "string"}, "description": desc}
}

func array(items schema) schema { return schema{"type": "array", "items": items} }

// oneArg is the schema of a tool's arguments when they are one required
// property.
func oneArg(name string, prop schema) schema { return object(schema{name: prop}, name) }

func object(props schema, required ...string) schema {
	if required == nil {
		required = []string{}
	}
	return schema{"type": "object", "properties": props, "required": required}
}

func integer(desc string, minimum, maximum int) schema {
	s := schema{"type": "integer", "description": desc, "minimum": minimum}
	if maximum > 0 {
		s["maximum"] = maximum
	}
	return s
}

var (
	entitySchema = object(schema{
		"name":         str("The name of the entity"),
		"entityType":   str("The type of the entity"),
		"observations": strArray("An array of observation contents associated with the entity"),
	}, "name", "entityType", "observations")

	relationSchema = object(schema{
		"from":         str("The name of the entity where the relation starts"),
		"to":           str("The name of the entity where the relation ends"),
		"relationType": str("The type of the relation"),
	}, "from", "to", "relationType")

	createEntitiesSchema  = oneArg("entities", array(entitySchema))
	createRelationsSchema = oneArg("relations", array(relationSchema))
	addObservationsSchema = oneArg("observations", array(object(schema{
		"entityName": str("The name of the entity to add the observations to"),
		"contents":   strArray("An array of observation contents to add"),
	}, "entityName", "contents")))
	deleteEntitiesSchema     = oneArg("entityNames", strArray("An array of entity names to delete"))
	deleteObservationsSchema = oneArg("deletions", array(object(schema{
		"entityName":   str("The name of the entity containing the observations"),
		"observations": strArray("An array of observations to delete"),
	}, "entityName", "observations")))
	deleteRelationsSchema = oneArg("relations",
		schema{"type": "array", "items": relationSchema, "description": "An array of relations to delete"})

	// readGraphSchema is the reference's (no required arguments) plus
	// optional paging and a type filter.
	readGraphSchema = object(schema{
		"limit":      integer("Optional: return at most this many entities, with a nextCursor for the rest", 1, 0),
		"cursor":     str("Optional: the nextCursor of the previous page"),
		"entityType": str("Optional: only entities of this type, and the relations between them"),
		"since":      sinceArg,
		"until":      untilArg,
		"at":         atArg,
	})

	// searchNodesSchema is the reference's plus an optional time window,
	// limit and cursor.
	searchNodesSchema = object(schema{
		"query": schema{"type": "string", "maxLength": maxSearchQuery,
			"description": "The search query to match against entity names, types, and observation content"},
		"since":  sinceArg,
		"until":  untilArg,
		"limit":  limitArg,
		"cursor": cursorArg,
		"at":     atArg,
	}, "query")

	limitArg  = integer("Optional: return at most this many entities (best-ranked first), with a nextCursor for the rest", 1, 0)
	cursorArg = str("Optional: the nextCursor of an earlier answer to the same call: its next part")

	atArg = str("Optional: read the memory as it was at this snapshot number or time (RFC 3339, or a duration ago such as -10m), " +
		"within the store's history (history.keep_for); read-only, without queued writes")

	sinceArg = str("Optional: only entities created or changed at or after this time (RFC 3339, or a date: 2026-11-30)")
	untilArg = str("Optional: only entities created or changed before this time (RFC 3339, or a date)")

	recentChangesSchema = closed(object(schema{
		"since":  str("Optional: start at this time (RFC 3339, or a date), oldest first; without it, the newest changes first"),
		"limit":  integer(fmt.Sprintf("Optional: at most this many entities and relations (default %d)", reader.DefaultRecent), 1, maxRecent),
		"cursor": str("Optional: the nextCursor of an earlier answer: the next page in that answer's order"),
		"at":     atArg,
	}))
	openNodesSchema = object(schema{
		"names":  strArray("An array of entity names to retrieve"),
		"limit":  limitArg,
		"cursor": cursorArg,
		"at":     atArg,
	}, "names")

	neighborsSchema = closed(object(schema{
		"name":         str("The entity to start from"),
		"depth":        integer("How many hops to follow (default 1)", 1, maxDepth),
		"relationType": str("Optional: follow only relations of this type"),
		"limit":        integer("Optional: return at most this many entities", 1, 0),
		"cursor":       cursorArg,
		"at":           atArg,
	}, "name"))

	querySchema = closed(object(schema{
		"cypher": schema{"type": "string", "maxLength": maxCypher,
			"description": "A read-only Cypher query over Entity(name, entityType, observations) and Relation(relationType)"},
		"params": schema{"type": "object", "description": "Optional query parameters, used as $name in the query"},
		"at":     atArg,
	}, "cypher"))

	kvGetSchema = closed(object(schema{
		"key": str("The key to read"),
		"at":  atArg,
	}, "key"))

	kvPutSchema = closed(object(schema{
		"key":   str("The key to write"),
		"value": str("The value to store"),
	}, "key", "value"))

	kvScanSchema = closed(object(schema{
		"prefix": str("Return keys starting with this prefix (empty for all)"),
		"limit":  integer("Optional: at most this many keys (default 1000)", 1, 0),
		"cursor": cursorArg,
		"at":     atArg,
	}, "prefix"))

	statusSchema = closed(object(schema{}))
)

// Output schemas of the reference server's tools, written out as it
// declares them (its zod schemas as JSON Schema: types, required fields,
// descriptions, additionalProperties false), with memsnap's additions as
// optional properties. memsnap's own tools' output schemas are inferred
// from their Go types (outputSchema).
var (
	entityOut   = closed(entitySchema)
	relationOut = closed(relationSchema)

	// echoNote is a write's answer's note when the echo of what it wrote
	// was cut to mcp.max_answer_bytes (writeEcho).
	echoNote = str("Present when the answer was cut: how many of the items written are shown; every one was written")

	entitiesOut  = closed(object(schema{"entities": array(entityOut), "note": echoNote}, "entities"))
	relationsOut = closed(object(schema{"relations": array(relationOut), "note": echoNote}, "relations"))

	addObservationsOutSchema = closed(object(schema{"results": array(closed(object(schema{
		"entityName":        schema{"type": "string"},
		"addedObservations": array(schema{"type": "string"}),
	}, "entityName", "addedObservations"))), "note": echoNote}, "results"))

	messageOutSchema = closed(object(schema{
		"success": schema{"type": "boolean"},
		"message": schema{"type": "string"},
	}, "success", "message"))

	// graphOutSchema is read_graph's and open_nodes' answer (and
	// neighbors'): the reference's {entities, relations}, plus the optional
	// nextCursor and note of an answer cut to mcp.max_answer_bytes or to a
	// limit.
	graphOutSchema = closed(object(schema{
		"entities":  array(entityOut),
		"relations": array(relationOut),
		"nextCursor": str("Present when more entities follow: pass it back as cursor, " +
			"with the same other arguments, for the next part"),
		"note": str("Present when the answer was cut, or the memory changed between its pages: " +
			"how many entities are shown and how many more there are"),
	}, "entities", "relations"))

	// searchOutSchema is search_nodes' answer: graphOutSchema and the
	// suggestions of a search that matched nothing.
	searchOutSchema = withProperty(graphOutSchema, "suggestions", schema{"type": "array",
		"description": "Present when nothing matched: entities whose names are close to the query (likely typos), best first; not matches",
		"items": closed(object(schema{
			"name":       schema{"type": "string"},
			"entityType": schema{"type": "string"},
			"similarity": schema{"type": "number", "description": "trigram similarity of the name to the query, 0.3 to 1"},
		}, "name", "entityType", "similarity"))})
)

// withProperty is the object schema s with one more, optional, property.
func withProperty(s schema, name string, p schema) schema {
	out := schema{}
	for k, v := range s {
		out[k] = v
	}
	props := schema{}
	for k, v := range s["properties"].(schema) {
		props[k] = v
	}
	props[name] = p
	out["properties"] = props
	return out
}

// closed is an object schema that allows no other properties, as the
// reference's are.
func closed(s schema) schema {
	out := schema{"additionalProperties": false}
	for k, v := range s {
		out[k] = v
	}
	return out
}
