// Package model is memsnap's memory model, shared by the write path and the
// read path: entities, relations, observation edits, the job format (ops,
// decoding, limits), the rows a snapshot stores and the State a job reads,
// rejections (Rejection, with its code) and job outcomes with their status.
//
// It imports nothing of memsnap: reader/ and writer/ both import it and
// never each other.
package model
