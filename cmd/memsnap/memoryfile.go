package main

// memoryLine is one line of the reference memory server's JSONL file.
type memoryLine struct {
	Type         string    `json:"type"`
	Name         string    `json:"name,omitempty"`
	EntityType   *string   `json:"entityType,omitempty"` // present, if empty, on every entity
	Observations *[]string `json:"observations,omitempty"`
	From         string    `json:"from,omitempty"`
	To           string    `json:"to,omitempty"`
	RelationType string    `json:"relationType,omitempty"`
}
