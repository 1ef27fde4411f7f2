package mcpserver

// Input schemas of the tools the reference MCP memory server defines, written
// out so that they match it property for property (names, types, required
// fields, descriptions). Unknown properties are ignored, as the reference's
// validator ignores them.

import (
	"fmt"

	"github.com/memsnap/memsnap/reader"
)

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
	})

	// searchNodesSchema is the reference's plus an optional time window.
	searchNodesSchema = object(schema{
		"query": schema{"type": "string", "maxLength": maxSearchQuery,
			"description": "The search query to match against entity names, types, and observation content"},
		"since": sinceArg,
		"until": untilArg,
	}, "query")

	sinceArg = str("Optional: only entities created or changed at or after this time (RFC 3339, or a date: 2026-11-30)")
	untilArg = str("Optional: only entities created or changed before this time (RFC 3339, or a date)")

	recentChangesSchema = object(schema{
		"since":  str("Optional: start at this time (RFC 3339, or a date); without it, the most recent changes"),
		"limit":  integer(fmt.Sprintf("Optional: at most this many entities and relations (default %d)", reader.DefaultRecent), 1, maxRecent),
		"cursor": str("Optional: the nextCursor of an earlier answer: what changed after it"),
	})
	openNodesSchema = oneArg("names", strArray("An array of entity names to retrieve"))

	neighborsSchema = object(schema{
		"name":         str("The entity to start from"),
		"depth":        integer("How many hops to follow (default 1)", 1, maxDepth),
		"relationType": str("Optional: follow only relations of this type"),
		"limit":        integer("Optional: return at most this many entities", 1, 0),
	}, "name")

	querySchema = object(schema{
		"cypher": schema{"type": "string", "maxLength": maxCypher,
			"description": "A read-only Cypher query over Entity(name, entityType, observations) and Relation(relationType)"},
		"params": schema{"type": "object", "description": "Optional query parameters, used as $name in the query"},
	}, "cypher")

	kvGetSchema = oneArg("key", str("The key to read"))

	kvPutSchema = object(schema{
		"key":   str("The key to write"),
		"value": str("The value to store"),
	}, "key", "value")

	kvScanSchema = object(schema{
		"prefix": str("Return keys starting with this prefix (empty for all)"),
		"limit":  integer("Optional: at most this many keys (default 1000)", 1, 0),
	}, "prefix")

	statusSchema = object(schema{})
)
