package objstore_test

import "context"
import "errors"
import "io"
import "log/slog"
import "net"
import "slices"
import "strings"
import "sync"
import "syscall"
import "testing"
import "time"

import "github.com/aws/smithy-go"

import "github.com/memsnap/memsnap/internal/objstore"
import "github.com/memsnap/memsnap/internal/testutil"

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		in     string
		bucket string
		prefix string
		bad    bool
	}{
		{"s3://b", "", "", true}, // no prefix: refused
		{"s3://b/", "", "", true},
		{"s3://b/p", "b", "p/", false},
		{"s3://b/p/q/", "b", "p/q/", false},
		{"http://b/p", "", "", true},
		{"s3:///p", "", "", true},
		{"s3://b/p?x=1", "", "", true},
	} {
		loc, err := objstore.ParseURL(tc.in)
		if tc.bad {
			if !errors.Is(err, objstore.ErrBadURL) {
				t.Errorf("ParseURL(%q) = %v, %v; want ErrBadURL", tc.in, loc, err)
			}
			continue
		}
		if err != nil || loc.Bucket != tc.bucket || loc.Prefix != tc.prefix {
			t.Errorf("ParseURL(%q) = %+v, %v; want %s %q", tc.in, loc, err, tc.bucket, tc.prefix)
		}
	}
}

// TestClientAgainstVersitygw runs every call of the client against a real
// S3-compatible server: the conditional put never overwrites, a missing
// key is ErrNotFound, list and delete see what put wrote.
func TestClientAgainstVersitygw(t *testing.T) {
	srv := testutil.StartS3(t)
	ctx := context.Background()
	loc, err := objstore.ParseURL(srv.URL("pre"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := objstore.New(ctx, loc, objstore.Options{Endpoint: srv.Endpoint, AccessKeyID: testutil.S3AccessKey,
		SecretAccessKey: testutil.S3SecretKey}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx, "a/x"); !errors.Is(err, objstore.ErrNotFound) {
		t.Fatalf("get of a missing key: %v, want ErrNotFound", err)
	}
	if ok, err := c.Exists(ctx, "a/x"); ok || err != nil {
		t.Fatalf("exists of a missing key: %v %v", ok, err)
	}
	if err := c.Put(ctx, "a/x", []byte("one")); err != nil {
		t.Fatal(err)
	}
	created, err := c.PutIfAbsent(ctx, "a/x", []byte("two"))
	if err != nil || created {
		t.Fatalf("conditional put over an object: created %v, %v; want false, nil", created, err)
	}
	if b, err := c.Get(ctx, "a/x"); err != nil || string(b) != "one" {
		t.Fatalf("after the refused conditional put: %q %v, want \"one\"", b, err)
	}
	if created, err := c.PutIfAbsent(ctx, "a/y", []byte("y")); err != nil || !created {
		t.Fatalf("conditional put of a new key: %v %v", created, err)
	}
	list, err := c.List(ctx, "a/")
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range list {
		keys = append(keys, o.Key)
	}
	if !slices.Equal(keys, []string{"a/x", "a/y"}) {
		t.Fatalf("list: %v", keys)
	}
	if err := c.Delete(ctx, "a/x", "a/y", "a/none"); err != nil {
		t.Fatal(err)
	}
	if list, err := c.List(ctx, "a/"); err != nil || len(list) != 0 {
		t.Fatalf("list after delete: %v %v", list, err)
	}
}

// A server that accepts connections and never answers is an error after
// Options.StallTimeout (each attempt), not a hang.
func TestServerThatNeverAnswers(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var mu sync.Mutex
	var held []net.Conn // guarded by mu
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Close()
		}
	}()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c) // read nothing, answer nothing
			mu.Unlock()
		}
	}()
	loc, err := objstore.ParseURL("s3://bkt/p")
	if err != nil {
		t.Fatal(err)
	}
	c, err := objstore.New(context.Background(), loc, objstore.Options{Endpoint: "http://" + ln.Addr().String(),
		Region: "us-east-1", AccessKeyID: "k", SecretAccessKey: "s", MaxAttempts: 2, StallTimeout: 300 * time.Millisecond},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	// The test's own deadline is far past two stalled attempts: a hang
	// fails it here rather than at the test binary's timeout.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := c.Get(ctx, "CURRENT"); err == nil || ctx.Err() != nil {
		t.Fatalf("Get from a server that never answers: %v (context: %v), want an error before the context ends", err, ctx.Err())
	}
}

// TestErrorsAreOneLine: the failures users meet first (a bucket that does
// not exist, wrong credentials, a server that is not running) come back
// as an *objstore.Error with the S3 code, the HTTP status and a hint, in
// one short line without the SDK's request ids, and the SDK's error stays
// reachable with errors.As.
func TestErrorsAreOneLine(t *testing.T) {
	srv := testutil.StartS3(t)
	ctx := context.Background()
	client := func(url, secret string) *objstore.Client {
		t.Helper()
		loc, err := objstore.ParseURL(url)
		if err != nil {
			t.Fatal(err)
		}
		c, err := objstore.New(ctx, loc, objstore.Options{Endpoint: srv.Endpoint, Region: "us-east-1",
			AccessKeyID: testutil.S3AccessKey, SecretAccessKey: secret, MaxAttempts: 1},
			slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	check := func(name string, err error, code string, status int, hint string) {
		t.Helper()
		var oe *objstore.Error
		if !errors.As(err, &oe) {
			t.Fatalf("%s: %T %v, want an *objstore.Error", name, err, err)
		}
		if oe.Code != code || oe.Status != status {
			t.Errorf("%s: code %q status %d, want %q %d", name, oe.Code, oe.Status, code, status)
		}
		var api smithy.APIError
		if code != "" && !errors.As(err, &api) {
			t.Errorf("%s: the SDK's error is not reachable with errors.As", name)
		}
		msg := err.Error()
		if strings.ContainsAny(msg, "\n") || len(msg) > 300 || strings.Contains(msg, "RequestID") ||
			!strings.Contains(msg, hint) || !strings.Contains(msg, oe.URL) {
			t.Errorf("%s: %q: want one line under 300 characters naming %s and saying %q, without request ids", name, msg, oe.URL, hint)
		}
	}
	_, err := client("s3://nosuchbucket/p", testutil.S3SecretKey).Get(ctx, "CURRENT")
	check("missing bucket", err, "NoSuchBucket", 404, "the bucket does not exist")
	err = client(srv.URL("p"), "wrong-secret").Put(ctx, "x", []byte("x"))
	check("wrong secret", err, "SignatureDoesNotMatch", 403, "replica.secret_access_key")
	_, _, err = client(srv.URL("p"), "wrong-secret").Head(ctx, "x")
	check("wrong secret, head", err, "Forbidden", 403, "replica.access_key_id")
	srv.Stop()
	_, err = client(srv.URL("p"), testutil.S3SecretKey).Get(ctx, "CURRENT")
	check("server stopped", err, "", 0, "nothing answers at "+srv.Endpoint)
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("server stopped: %v does not unwrap to ECONNREFUSED", err)
	}
}
