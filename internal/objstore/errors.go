package objstore

import "context"
import "errors"
import "fmt"
import "net"
import "net/http"
import "syscall"

import "github.com/aws/smithy-go"

// Error is every error a Client returns for a request: one line that says
// what was asked (Op, URL), what the server answered (Code, Status) or
// why it could not be asked, and what to do about the common failures
// (Hint). The SDK's own error, with its request ids, is Err: kept for
// errors.As / errors.Is, never printed.
type Error struct {
	Op     string // "get", "put", "conditional put", "head", "list", "delete"
	URL    string // s3://BUCKET/KEY of the object or prefix
	Code   string // the S3 error code ("NoSuchBucket", "AccessDenied", ...); "" when there is none
	Status int    // the HTTP status; 0 when no answer came
	Hint   string // what to do; "" when there is no common remedy
	Err    error  // the cause
}

// Error renders e as one line, without the SDK's request ids.
func (e *Error) Error() string {
	var what string
	switch {
	case e.Code != "" && e.Status != 0:
		what = fmt.Sprintf("%s (HTTP %d)", e.Code, e.Status)
	case e.Code != "":
		what = e.Code
	case e.Status != 0:
		what = fmt.Sprintf("HTTP %d %s", e.Status, http.StatusText(e.Status))
	default:
		what = rootCause(e.Err)
	}
	if e.Hint != "" {
		return fmt.Sprintf("%s %s: %s: %s", e.Op, e.URL, what, e.Hint)
	}
	if msg := apiMessage(e.Err); msg != "" && e.Code != "" {
		return fmt.Sprintf("%s %s: %s: %s", e.Op, e.URL, what, truncate(msg, 160))
	}
	return fmt.Sprintf("%s %s: %s", e.Op, e.URL, what)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrNotFound) hold for a missing object.
func (e *Error) Is(target error) bool {
	return target == ErrNotFound && (e.Code == "NoSuchKey" || e.Code == "NotFound" || (e.Code == "" && e.Status == http.StatusNotFound))
}

// newError classifies err, the SDK's answer to op on url (endpoint is the
// configured server, "" for AWS S3).
func newError(op, url, endpoint string, err error) *Error {
	e := &Error{Op: op, URL: url, Err: err}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		e.Code = ae.ErrorCode()
	}
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) {
		e.Status = re.HTTPStatusCode()
	}
	if e.Code == "" && e.Status == 0 {
		e.Hint = connectHint(err, endpoint)
	} else {
		e.Hint = hintFor(e.Code, e.Status, endpoint)
	}
	return e
}

// hintFor is the remedy for an S3 error code (or, without one, an HTTP
// status); "" when there is no common one.
func hintFor(code string, status int, endpoint string) string {
	switch {
	case code == "NoSuchBucket":
		return "the bucket does not exist: create it, or fix the bucket in the s3:// URL"
	case code == "InvalidAccessKeyId":
		return "the server does not know this access key: check replica.access_key_id (or AWS_ACCESS_KEY_ID, AWS_PROFILE)"
	case code == "SignatureDoesNotMatch":
		return "the secret key does not match the access key: check replica.secret_access_key (or AWS_SECRET_ACCESS_KEY, AWS_PROFILE)"
	case code == "AccessDenied" || code == "Forbidden" || (code == "" && status == http.StatusForbidden):
		return "these credentials may not do this here: check replica.access_key_id and replica.secret_access_key (or the AWS environment) and the bucket's permissions"
	case code == "PermanentRedirect" || code == "AuthorizationHeaderMalformed":
		return "the bucket is in another region: set replica.region (or AWS_REGION)"
	}
	return ""
}

// connectHint is the remedy when no answer came: the endpoint refused the
// connection, was not found, or did not answer in time. "" for other
// causes (a cancelled context, for one).
func connectHint(err error, endpoint string) string {
	if errors.Is(err, context.Canceled) {
		return ""
	}
	where := endpoint
	if where == "" {
		where = "the S3 endpoint"
	}
	var dns *net.DNSError
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Sprintf("nothing answers at %s: start the S3 server, or set replica.endpoint to where it listens", where)
	case errors.As(err, &dns):
		return fmt.Sprintf("host %s not found: check replica.endpoint (or AWS_ENDPOINT_URL) and the network", dns.Name)
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		return fmt.Sprintf("%s did not answer in time: check replica.endpoint and the network", where)
	}
	return ""
}

// rootCause is the text of the innermost error of err's chain (the first
// branch of a joined error), shortened: the SDK's outer layers repeat the
// operation and add request ids.
func rootCause(err error) string {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			if j, ok := err.(interface{ Unwrap() []error }); ok && len(j.Unwrap()) > 0 {
				next = j.Unwrap()[0]
			}
		}
		if next == nil {
			break
		}
		err = next
	}
	if err == nil {
		return "unknown error"
	}
	return truncate(err.Error(), 160)
}

// apiMessage is the server's message in err, "" when there is none.
func apiMessage(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorMessage()
	}
	return ""
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
