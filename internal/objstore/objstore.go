// Package objstore is memsnap's client of S3-compatible object storage
// (AWS S3, versitygw, Ceph RGW, R2, ...), through aws-sdk-go-v2. It knows
// nothing of snapshots: it gets, puts, lists and deletes objects under one
// bucket and key prefix, the place an s3://BUCKET/PREFIX URL names.
//
// Endpoint, region and credentials come from the standard AWS sources
// (AWS_* environment variables, ~/.aws/config and ~/.aws/credentials,
// AWS_PROFILE), each overridden by Options when set. With a custom
// endpoint the client uses path-style addressing (bucket in the path, as
// most S3-compatible servers need) and computes and checks request and
// response checksums only where the operation requires them: many
// S3-compatible servers refuse or mangle the CRC checksums aws-sdk-go-v2
// sends by default since 2025.
package objstore

import "bytes"
import "context"
import "errors"
import "fmt"
import "io"
import "log/slog"
import "net"
import "net/http"
import "net/url"
import "strings"
import "time"

import "github.com/aws/aws-sdk-go-v2/aws"
import "github.com/aws/aws-sdk-go-v2/aws/ratelimit"
import "github.com/aws/aws-sdk-go-v2/aws/retry"
import awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
import awsconfig "github.com/aws/aws-sdk-go-v2/config"
import "github.com/aws/aws-sdk-go-v2/credentials"
import "github.com/aws/aws-sdk-go-v2/service/s3"
import s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
import "github.com/aws/smithy-go/logging"

// ErrNotFound is returned by Get for a key that holds no object.
var ErrNotFound = errors.New("objstore: no such object")

// ErrBadURL is wrapped by ParseURL's errors.
var ErrBadURL = errors.New("objstore: not an s3://BUCKET/PREFIX URL")

// Location is a bucket and a key prefix inside it ("" or ending in "/").
type Location struct {
	Bucket string
	Prefix string
}

// String is the location as an s3:// URL.
func (l Location) String() string { return "s3://" + l.Bucket + "/" + l.Prefix }

// ParseURL parses s3://BUCKET/PREFIX. The prefix gets a trailing slash
// when it has none; an error wraps ErrBadURL. A URL without a prefix
// (s3://BUCKET) is refused: a location's objects (CURRENT, snapshots/,
// history/, queue/) would lie among whatever else is at the bucket's top,
// where retention deletes what it does not know as its own.
func ParseURL(raw string) (Location, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "s3" || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return Location{}, fmt.Errorf("%w: %q (want s3://BUCKET/PREFIX)", ErrBadURL, raw)
	}
	prefix := strings.Trim(u.Path, "/")
	if prefix == "" {
		return Location{}, fmt.Errorf("%w: %q has no prefix (want s3://BUCKET/PREFIX, such as s3://%s/memory)", ErrBadURL, raw, u.Host)
	}
	return Location{Bucket: u.Host, Prefix: prefix + "/"}, nil
}

// Options are the settings that override the standard AWS sources; the
// zero value uses those sources alone.
type Options struct {
	// Endpoint is the server's URL ("http://127.0.0.1:7070"); empty: AWS
	// S3 itself (or AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL). Set, it turns
	// on path-style addressing.
	Endpoint string
	// Region is the signing region; empty: AWS_REGION, the profile's, or
	// us-east-1 when none is set anywhere.
	Region string
	// AccessKeyID and SecretAccessKey are static credentials; empty: the
	// standard credential chain.
	AccessKeyID     string
	SecretAccessKey string
	// MaxAttempts is how many times a failed request is tried in all
	// (the SDK's retryer, with backoff). 0: 3.
	MaxAttempts int
	// StallTimeout fails a request whose connection delivers nothing for
	// this long (connecting, waiting for the answer, or between two reads
	// of it; a slow answer that keeps arriving goes on), so that a server
	// that accepts and never answers is an error, not a hang, and the
	// retryer tries again. 0: DefaultStallTimeout.
	StallTimeout time.Duration
}

// DefaultStallTimeout is Options.StallTimeout's default.
const DefaultStallTimeout = 30 * time.Second

// Client reads and writes objects under one Location. It is safe for
// concurrent use.
type Client struct {
	api      *s3.Client
	loc      Location
	endpoint string // Options.Endpoint, for errors; "" for AWS S3
	log      *slog.Logger
}

// New builds a client for loc. It does not contact the server.
func New(ctx context.Context, loc Location, opts Options, log *slog.Logger) (*Client, error) {
	var load []func(*awsconfig.LoadOptions) error
	if opts.Region != "" {
		load = append(load, awsconfig.WithRegion(opts.Region))
	}
	if opts.AccessKeyID != "" || opts.SecretAccessKey != "" {
		load = append(load, awsconfig.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(opts.AccessKeyID, opts.SecretAccessKey, "")))
	}
	attempts := opts.MaxAttempts
	if attempts <= 0 {
		attempts = 3
	}
	// No client-side retry quota: after a server outage the SDK's token
	// bucket would leave requests unretried for a while.
	retryer := func() aws.Retryer {
		return retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = attempts
			o.RateLimiter = ratelimit.None
		})
	}
	stall := opts.StallTimeout
	if stall <= 0 {
		stall = DefaultStallTimeout
	}
	httpClient := awshttp.NewBuildableClient().WithReadTimeout(stall).
		WithDialerOptions(func(d *net.Dialer) { d.Timeout = stall }).
		WithTransportOptions(func(tr *http.Transport) {
			tr.ResponseHeaderTimeout, tr.TLSHandshakeTimeout = stall, stall
		})
	load = append(load, awsconfig.WithRetryer(retryer), awsconfig.WithHTTPClient(httpClient),
		awsconfig.WithRequestChecksumCalculation(aws.RequestChecksumCalculationWhenRequired),
		awsconfig.WithResponseChecksumValidation(aws.ResponseChecksumValidationWhenRequired))
	// The SDK's own log lines (such as the instance metadata service's
	// "falling back to IMDSv1") go to log at debug level, not raw to
	// standard error.
	load = append(load, awsconfig.WithLogger(sdkLogger(log)))
	cfg, err := awsconfig.LoadDefaultConfig(ctx, load...)
	if err != nil {
		return nil, fmt.Errorf("s3 client for %s: %w", loc, err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	api := s3.NewFromConfig(cfg, func(o *s3.Options) {
		if opts.Endpoint != "" {
			o.BaseEndpoint = aws.String(opts.Endpoint)
			o.UsePathStyle = true
		}
	})
	return &Client{api: api, loc: loc, endpoint: opts.Endpoint, log: log}, nil
}

// Location is where the client reads and writes.
func (c *Client) Location() Location { return c.loc }

func (c *Client) key(k string) *string { return aws.String(c.loc.Prefix + k) }

// Get returns the object at key (relative to the prefix), or an error
// wrapping ErrNotFound.
func (c *Client) Get(ctx context.Context, key string) ([]byte, error) {
	out, err := c.api.GetObject(ctx, &s3.GetObjectInput{Bucket: &c.loc.Bucket, Key: c.key(key)})
	if err != nil {
		return nil, c.wrap("get", key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		return nil, c.wrap("get", key, err)
	}
	return b, nil
}

// Put stores data at key, replacing what is there.
func (c *Client) Put(ctx context.Context, key string, data []byte) error {
	_, err := c.api.PutObject(ctx, &s3.PutObjectInput{Bucket: &c.loc.Bucket, Key: c.key(key),
		Body: bytes.NewReader(data), ContentLength: aws.Int64(int64(len(data)))})
	return c.wrap("put", key, err)
}

// PutIfAbsent stores data at key unless an object is already there, with
// a conditional put (If-None-Match: *), so that two writers never
// overwrite each other. created is false when the key was taken.
func (c *Client) PutIfAbsent(ctx context.Context, key string, data []byte) (created bool, err error) {
	_, err = c.api.PutObject(ctx, &s3.PutObjectInput{Bucket: &c.loc.Bucket, Key: c.key(key),
		Body: bytes.NewReader(data), ContentLength: aws.Int64(int64(len(data))), IfNoneMatch: aws.String("*")})
	if err == nil {
		return true, nil
	}
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) && (re.HTTPStatusCode() == http.StatusPreconditionFailed || re.HTTPStatusCode() == http.StatusConflict) {
		return false, nil
	}
	return false, c.wrap("conditional put", key, err)
}

// Exists reports whether an object is at key (a HEAD request).
func (c *Client) Exists(ctx context.Context, key string) (bool, error) {
	_, ok, err := c.Head(ctx, key)
	return ok, err
}

// Head returns what the server says of the object at key (a HEAD
// request): ok is false, with no error, when there is none.
func (c *Client) Head(ctx context.Context, key string) (info ObjectInfo, ok bool, err error) {
	out, err := c.api.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &c.loc.Bucket, Key: c.key(key)})
	if err != nil {
		if err := c.wrap("head", key, err); !errors.Is(err, ErrNotFound) {
			return info, false, err
		}
		return info, false, nil
	}
	return ObjectInfo{Key: key, Size: aws.ToInt64(out.ContentLength), LastModified: aws.ToTime(out.LastModified),
		ETag: aws.ToString(out.ETag)}, true, nil
}

// ObjectInfo is one object List or Head found.
type ObjectInfo struct {
	Key          string // relative to the client's prefix
	Size         int64
	LastModified time.Time
	// ETag is the server's entity tag, quotes included ("" from List).
	// For an object put in one request without server-side encryption
	// S3 and most compatible servers make it the hex MD5 of the content
	// (see PlainMD5); a multipart upload's has a "-N" suffix.
	ETag string
}

// PlainMD5 returns the MD5 an ETag holds when it is the plain hex MD5 of a
// single-part upload ("\"<32 hex>\""), and false for any other form
// (multipart, encrypted, or none): then the ETag says nothing of the
// content.
func PlainMD5(etag string) (string, bool) {
	etag = strings.Trim(etag, "\"")
	if len(etag) != 32 {
		return "", false
	}
	for _, r := range etag {
		if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
			return "", false
		}
	}
	return strings.ToLower(etag), true
}

// List returns the objects whose keys (relative to the prefix) start with
// sub, in the server's order (ascending by key).
func (c *Client) List(ctx context.Context, sub string) ([]ObjectInfo, error) {
	var out []ObjectInfo
	p := s3.NewListObjectsV2Paginator(c.api, &s3.ListObjectsV2Input{Bucket: &c.loc.Bucket, Prefix: c.key(sub)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, c.wrap("list", sub, err)
		}
		for _, o := range page.Contents {
			out = append(out, ObjectInfo{Key: strings.TrimPrefix(aws.ToString(o.Key), c.loc.Prefix),
				Size: aws.ToInt64(o.Size), LastModified: aws.ToTime(o.LastModified)})
		}
	}
	return out, nil
}

// Delete removes the objects at keys; a missing one is no error.
func (c *Client) Delete(ctx context.Context, keys ...string) error {
	for len(keys) > 0 {
		n := min(len(keys), 1000) // DeleteObjects' limit
		ids := make([]s3types.ObjectIdentifier, n)
		for i, k := range keys[:n] {
			ids[i] = s3types.ObjectIdentifier{Key: c.key(k)}
		}
		out, err := c.api.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: &c.loc.Bucket,
			Delete: &s3types.Delete{Objects: ids, Quiet: aws.Bool(true)}})
		if err != nil {
			return c.wrap("delete", keys[0], err)
		}
		if len(out.Errors) > 0 {
			e := out.Errors[0]
			return &Error{Op: "delete", URL: "s3://" + c.loc.Bucket + "/" + aws.ToString(e.Key), Code: aws.ToString(e.Code),
				Hint: hintFor(aws.ToString(e.Code), 0, c.endpoint), Err: errors.New(aws.ToString(e.Message))}
		}
		keys = keys[n:]
	}
	return nil
}

// wrap names the operation and the object in err as an *Error, which
// marks a missing object with ErrNotFound. nil stays nil.
func (c *Client) wrap(op, key string, err error) error {
	if err == nil {
		return nil
	}
	return newError(op, "s3://"+c.loc.Bucket+"/"+c.loc.Prefix+key, c.endpoint, err)
}

// sdkLogger is the SDK's logger writing to log at debug level (nowhere
// when log is nil).
func sdkLogger(log *slog.Logger) logging.Logger {
	if log == nil {
		return logging.Nop{}
	}
	return logging.LoggerFunc(func(c logging.Classification, format string, v ...any) {
		log.Debug("s3 sdk", "class", string(c), "msg", fmt.Sprintf(format, v...))
	})
}
