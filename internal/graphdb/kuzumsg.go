//go:build !windows

package graphdb

// go-kuzu v0.11.3 hands Kuzu's error message to fmt.Errorf as the format
// (connection.go: fmt.Errorf(C.GoString(cErrMsg))), so a message holding a
// '%' comes out mangled: "Value -9223372036854775808 % -1 is not within
// INT64 range." reads "Value -9223372036854775808 %! (MISSING)is not ...".
// When the message it gave holds a '%', it is read again here from Kuzu's
// C API, found by name in the process (libkuzu is loaded by go-kuzu), so
// this package needs no link flags of its own.

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stddef.h>
#include <stdlib.h>

typedef char *(*memsnap_kuzu_msg_fn)(void *);
typedef void (*memsnap_kuzu_free_fn)(char *);

// memsnap_kuzu_message calls Kuzu's C function fn (one of the
// kuzu_*_get_error_message functions) on obj; NULL if it is not found.
static char *memsnap_kuzu_message(const char *fn, void *obj) {
	memsnap_kuzu_msg_fn get = (memsnap_kuzu_msg_fn)dlsym(RTLD_DEFAULT, fn);
	return get == NULL ? NULL : get(obj);
}

static void memsnap_kuzu_free(char *s) {
	memsnap_kuzu_free_fn f = (memsnap_kuzu_free_fn)dlsym(RTLD_DEFAULT, "kuzu_destroy_string");
	if (f != NULL) {
		f(s);
	}
}
*/
import "C"

import "errors"
import "strings"
import "unsafe"

import kuzu "github.com/kuzudb/go-kuzu"

// cHandle mirrors the first field of go-kuzu's PreparedStatement and
// QueryResult, the C structs kuzu_prepared_statement and kuzu_query_result
// (kuzu.h, 16 bytes): the pointer to Kuzu's C++ object, then a C pointer
// or a flag, which the error-message functions do not read.
type cHandle struct {
	obj  unsafe.Pointer
	rest uintptr
}

// preparedError is err, a failed Prepare of st, with Kuzu's own message.
func preparedError(err error, st *kuzu.PreparedStatement) error {
	if st == nil {
		return err
	}
	return kuzuMessage(err, unsafe.Pointer(st), "kuzu_prepared_statement_get_error_message")
}

// resultError is err, a failed Query or Execute that gave qr, with
// Kuzu's own message.
func resultError(err error, qr *kuzu.QueryResult) error {
	if qr == nil {
		return err
	}
	return kuzuMessage(err, unsafe.Pointer(qr), "kuzu_query_result_get_error_message")
}

// kuzuMessage reads the error message of the Kuzu object whose C handle
// starts h again with fn, when err's text holds a '%' (so may be mangled)
// and the handle is set; otherwise, or if that fails, it returns err.
func kuzuMessage(err error, h unsafe.Pointer, fn string) error {
	if err == nil || !strings.Contains(err.Error(), "%") || (*cHandle)(h).obj == nil {
		return err
	}
	hc := *(*cHandle)(h) // a copy: go-kuzu's struct holds Go pointers after it
	name := C.CString(fn)
	defer C.free(unsafe.Pointer(name))
	msg := C.memsnap_kuzu_message(name, unsafe.Pointer(&hc))
	if msg == nil {
		return err
	}
	defer C.memsnap_kuzu_free(msg)
	return errors.New(C.GoString(msg))
}
